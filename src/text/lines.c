/* lines.c — see lines.h. */
#include "text/lines.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/error.h"

void hp_text_free_lines(char **lines, int64_t n) {
  for (int64_t i = 0; i < n; i++) free(lines[i]);
  free(lines);
}

static int push_line(char ***v, int64_t *n, int64_t *cap, const char *s, size_t len) {
  if (*n == *cap) {
    int64_t c = *cap ? 2 * *cap : 1024;
    char **p = realloc(*v, (size_t)c * sizeof *p);
    if (!p) HP_ERROR(HP_ERR_MEM, "lines");
    *v = p;
    *cap = c;
  }
  char *l = malloc(len + 1);
  if (!l) HP_ERROR(HP_ERR_MEM, "line");
  memcpy(l, s, len);
  l[len] = 0;
  (*v)[(*n)++] = l;
  return 0;
}

int hp_text_read_lines(const char *path, int universal, int64_t max_lines, char ***lines, int64_t *n) {
  *lines = NULL;
  *n = 0;
  errno = 0;
  gzFile f = gzopen(path, "rb");
  if (!f) HP_ERROR(HP_ERR_INPUT, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
  char **v = NULL, *cur = NULL;
  int64_t cnt = 0, cap = 0;
  size_t clen = 0, ccap = 0;
  char buf[65536];
  int e = 0, done = 0, after_cr = 0; /* universal: the last byte was a '\r' that ended a line */
  while (!e && !done) {
    int k = gzread(f, buf, sizeof buf);
    if (k < 0) {
      int zerr;
      const char *msg = gzerror(f, &zerr);
      e = HP_ERROR_SET(HP_ERR_INPUT, "%s: cannot read: %s", path, zerr == Z_ERRNO ? strerror(errno) : msg);
      break;
    }
    if (k == 0) break;
    for (int i = 0; i < k && !e && !done; i++) {
      if (buf[i] == 0) {
        e = HP_ERROR_SET(HP_ERR_INPUT, "%s: line %lld holds a NUL byte (not a text file?)", path, (long long)(cnt + 1));
      } else if (buf[i] == '\n' && after_cr) {
        after_cr = 0; /* the '\n' of a "\r\n" whose '\r' ended the line */
      } else if (buf[i] == '\n' || (universal && buf[i] == '\r')) {
        e = push_line(&v, &cnt, &cap, cur ? cur : "", clen);
        clen = 0;
        done = max_lines > 0 && cnt >= max_lines;
        after_cr = buf[i] == '\r';
      } else {
        after_cr = 0;
        if (clen + 1 > ccap) {
          size_t c = ccap ? 2 * ccap : 256;
          char *p = realloc(cur, c);
          if (!p) {
            e = HP_ERROR_SET(HP_ERR_MEM, "%s: line buffer", path);
            break;
          }
          cur = p;
          ccap = c;
        }
        cur[clen++] = buf[i];
      }
    }
  }
  if (!e && !done && clen > 0) e = push_line(&v, &cnt, &cap, cur, clen);
  free(cur);
  gzclose(f);
  if (e) {
    hp_text_free_lines(v, cnt);
    return hp_error_trace(e, __FILE__, __LINE__, __func__);
  }
  *lines = v;
  *n = cnt;
  return 0;
}
