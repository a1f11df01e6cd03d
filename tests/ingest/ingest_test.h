/* ingest_test.h — helpers for the ingest unit tests (header only). */
#ifndef HP_TESTS_INGEST_TEST_H
#define HP_TESTS_INGEST_TEST_H

#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "base/error.h"
#include "ingest/report.h"

/* tests/data/ingest/<rel> (HP_TEST_DATA is set by ctest). Static buffer: copy if kept. */
static inline const char *fixture(const char *rel) {
  static char buf[4][4096];
  static int k = 0;
  const char *d = getenv("HP_TEST_DATA");
  if (!d) d = "tests/data";
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/ingest/%s", d, rel);
  return buf[k];
}

/* The real samples (shared/data), or NULL when they are not on this machine:
 * $HPCLIP_SHARED_DATA, else $SRC_DIR/../shared/data. */
static inline const char *shared_data(const char *sub) {
  static char buf[8400];
  const char *d = getenv("HPCLIP_SHARED_DATA");
  char tmp[4096];
  if (!d) {
    const char *src = getenv("SRC_DIR");
    if (!src) return NULL;
    snprintf(tmp, sizeof tmp, "%s/../shared/data", src);
    d = tmp;
  }
  if (strlen(d) + strlen(sub) + 2 > sizeof buf) return NULL;
  snprintf(buf, sizeof buf, "%s/%s", d, sub);
  struct stat st;
  if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) return NULL;
  return buf;
}

/* The report has an entry whose `where` equals where and whose reason contains why. */
static inline int report_has(const hp_ingest_report *r, const char *where, const char *why) {
  for (int64_t i = 0; i < r->n; i++)
    if (strcmp(r->items[i].where, where) == 0 && strstr(r->items[i].why, why)) return 1;
  return 0;
}

static inline void print_report(const hp_ingest_report *r) {
  for (int64_t i = 0; i < r->n; i++)
    print_message("  report: %s | %s\n", r->items[i].where, r->items[i].why);
}

#define assert_report_has(r, where, why)                                        \
  do {                                                                          \
    if (!report_has((r), (where), (why))) {                                     \
      print_report(r);                                                          \
      fail_msg("report lacks \"%s\" with \"%s\"", (where), (why));              \
    }                                                                           \
  } while (0)

/* The last error message contains every one of the given strings. */
#define assert_msg_has(s)                                                        \
  do {                                                                           \
    if (!strstr(hp_error_message(), (s)))                                        \
      fail_msg("error message \"%s\" lacks \"%s\"", hp_error_message(), (s));    \
  } while (0)

#endif
