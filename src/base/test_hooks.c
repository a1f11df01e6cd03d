/* test_hooks.c — see test_hooks.h. */
#define _POSIX_C_SOURCE 200809L
#include "base/test_hooks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *hp_test_hook(const char *name) {
  char var[128];
  if (snprintf(var, sizeof var, "HPCLIP_TEST_%s", name) >= (int)sizeof var) return NULL;
  const char *v = getenv(var);
  return v && v[0] ? v : NULL;
}

static int parse_i64(const char *s, const char *end, int64_t *out) {
  if (s == end) return 0;
  char *e = NULL;
  errno = 0;
  long long v = strtoll(s, &e, 10);
  if (errno || e != end) return 0;
  *out = (int64_t)v;
  return 1;
}

int64_t hp_test_hook_int(const char *name, int64_t off) {
  const char *v = hp_test_hook(name);
  int64_t x;
  return v && parse_i64(v, v + strlen(v), &x) ? x : off;
}

int hp_test_hook_pair(const char *name, int64_t *number, char *word, size_t n) {
  const char *v = hp_test_hook(name);
  const char *colon = v ? strchr(v, ':') : NULL;
  if (!colon || !colon[1] || strlen(colon + 1) >= n || !parse_i64(v, colon, number)) return 0;
  memcpy(word, colon + 1, strlen(colon + 1) + 1);
  return 1;
}
