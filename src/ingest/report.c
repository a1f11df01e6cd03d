/* report.c — see report.h. */
#define _POSIX_C_SOURCE 200809L
#include "ingest/report.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "ingest/util.h"

void hp_report_init(hp_ingest_report *r) { memset(r, 0, sizeof *r); }

void hp_report_free(hp_ingest_report *r) {
  for (int64_t i = 0; i < r->n; i++) {
    free(r->items[i].where);
    free(r->items[i].why);
  }
  free(r->items);
  memset(r, 0, sizeof *r);
}

static int add_copy(hp_ingest_report *r, const char *where, const char *why) {
  HP_CALL(hp_ingest_grow((void **)&r->items, &r->cap, r->n + 1, sizeof *r->items,
                         "bad-record report"));
  hp_bad_record *b = &r->items[r->n];
  HP_CALL(hp_ingest_strndup(where, strlen(where), &b->where));
  HP_CALL(hp_ingest_strndup(why, strlen(why), &b->why));
  r->n++;
  return 0;
}

int hp_report_add(hp_ingest_report *r, const char *where, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) HP_ERROR(HP_ERR_INTERNAL, "report: bad format \"%s\"", fmt);
  char *why = NULL;
  HP_CALLOC(why, (size_t)n + 1, "bad-record reason");
  va_start(ap, fmt);
  vsnprintf(why, (size_t)n + 1, fmt, ap);
  va_end(ap);
  int e = add_copy(r, where, why);
  free(why);
  HP_CALL(e);
  return 0;
}

int hp_report_add_error(hp_ingest_report *r, const char *where) {
  /* Copy first: adding may itself record an error and overwrite the message. */
  const char *msg = hp_error_message();
  char *why = NULL;
  HP_CALL(hp_ingest_strndup(msg, strlen(msg), &why));
  hp_error_clear();
  int e = add_copy(r, where, why[0] ? why : "unknown error");
  free(why);
  HP_CALL(e);
  return 0;
}

int hp_report_append(hp_ingest_report *dst, const hp_ingest_report *src) {
  for (int64_t i = 0; i < src->n; i++)
    HP_CALL(add_copy(dst, src->items[i].where, src->items[i].why));
  return 0;
}

static int put_clean(FILE *f, const char *s) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (fputc((c < 0x20 || c == 0x7f) ? '?' : c, f) == EOF) return -1;
  }
  return 0;
}

int hp_report_write(const hp_ingest_report *r, FILE *f, const char *path_for_errors) {
  for (int64_t i = 0; i < r->n; i++) {
    if (put_clean(f, r->items[i].where) || fputc('\t', f) == EOF ||
        put_clean(f, r->items[i].why) || fputc('\n', f) == EOF)
      HP_ERROR(HP_ERR_IO, "%s: cannot write the bad-record report", path_for_errors);
  }
  if (fflush(f) != 0)
    HP_ERROR(HP_ERR_IO, "%s: cannot write the bad-record report", path_for_errors);
  return 0;
}

int hp_report_pack(const hp_ingest_report *r, char **buf, size_t *len) {
  size_t total = 0;
  for (int64_t i = 0; i < r->n; i++) {
    size_t a = strlen(r->items[i].where) + 1, b = strlen(r->items[i].why) + 1;
    if (total > SIZE_MAX - a - b) HP_ERROR(HP_ERR_MEM, "report: size overflow");
    total += a + b;
  }
  char *p = NULL;
  HP_CALLOC(p, total, "packed report");
  size_t o = 0;
  for (int64_t i = 0; i < r->n; i++) {
    size_t a = strlen(r->items[i].where) + 1, b = strlen(r->items[i].why) + 1;
    memcpy(p + o, r->items[i].where, a);
    o += a;
    memcpy(p + o, r->items[i].why, b);
    o += b;
  }
  *buf = p;
  *len = total;
  return 0;
}

int hp_report_unpack(hp_ingest_report *r, const char *buf, size_t len) {
  size_t o = 0;
  while (o < len) {
    const char *w = buf + o;
    const char *z = memchr(w, 0, len - o);
    if (!z) HP_ERROR(HP_ERR_INTERNAL, "report: packed buffer is not terminated");
    o = (size_t)(z - buf) + 1;
    const char *y = buf + o;
    const char *z2 = o < len ? memchr(y, 0, len - o) : NULL;
    if (!z2) HP_ERROR(HP_ERR_INTERNAL, "report: packed buffer is not terminated");
    o = (size_t)(z2 - buf) + 1;
    HP_CALL(add_copy(r, w, y));
  }
  return 0;
}
