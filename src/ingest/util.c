/* util.c — see util.h. */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700
#include "ingest/util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"

int hp_ingest_grow(void **arr, int64_t *cap, int64_t need, size_t elem_size, const char *what) {
  if (need < 0) HP_ERROR(HP_ERR_INTERNAL, "%s: negative size %lld", what, (long long)need);
  if (need <= *cap) return 0;
  int64_t ncap = *cap > 0 ? *cap : 8;
  while (ncap < need) {
    if (ncap > INT64_MAX / 2) HP_ERROR(HP_ERR_MEM, "%s: size overflow (%lld elements)", what,
                                       (long long)need);
    ncap *= 2;
  }
  size_t bytes;
  if ((uint64_t)ncap > SIZE_MAX || hp_mul_size((size_t)ncap, elem_size, &bytes))
    HP_ERROR(HP_ERR_MEM, "%s: size overflow (%lld x %zu bytes)", what, (long long)ncap, elem_size);
  void *p = realloc(*arr, bytes);
  if (!p) HP_ERROR(HP_ERR_MEM, "%s: cannot allocate %.1f MiB", what, (double)bytes / 1048576.0);
  memset((char *)p + (size_t)*cap * elem_size, 0, bytes - (size_t)*cap * elem_size);
  *arr = p;
  *cap = ncap;
  return 0;
}

int hp_ingest_strndup(const char *s, size_t n, char **out) {
  char *p = NULL;
  if (n == SIZE_MAX) HP_ERROR(HP_ERR_MEM, "string copy: size overflow");
  HP_CALLOC(p, n + 1, "string copy");
  if (n) memcpy(p, s, n);
  p[n] = 0;
  *out = p;
  return 0;
}

int hp_ingest_read_file(const char *path, size_t max_bytes, int missing_is_input, char **data,
                        size_t *len) {
  *data = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) {
    int e = errno;
    HP_ERROR((missing_is_input && e == ENOENT) ? HP_ERR_INPUT : HP_ERR_IO, "%s: cannot open: %s",
             path, strerror(e));
  }
  struct stat st;
  if (fstat(fileno(f), &st) != 0) {
    int e = errno;
    fclose(f);
    HP_ERROR(HP_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    fclose(f);
    HP_ERROR(HP_ERR_INPUT, "%s: not a regular file", path);
  }
  if (st.st_size < 0 || (uint64_t)st.st_size > (uint64_t)max_bytes) {
    fclose(f);
    HP_ERROR(HP_ERR_INPUT, "%s: %lld bytes exceeds the limit of %zu bytes", path,
             (long long)st.st_size, max_bytes);
  }
  size_t n = (size_t)st.st_size;
  char *buf = malloc(n + 1);
  if (!buf) {
    fclose(f);
    HP_ERROR(HP_ERR_MEM, "%s: cannot allocate %.1f MiB to read it", path, (double)n / 1048576.0);
  }
  size_t got = n ? fread(buf, 1, n, f) : 0;
  int rerr = ferror(f);
  /* The file may have changed size since fstat: one more byte means it grew. */
  int grew = (got == n && fgetc(f) != EOF);
  fclose(f);
  if (rerr || got != n || grew) {
    free(buf);
    HP_ERROR(HP_ERR_IO, "%s: read failed (%zu of %zu bytes%s)", path, got, n,
             grew ? ", file grew while reading" : "");
  }
  buf[n] = 0;
  *data = buf;
  *len = n;
  return 0;
}

int hp_ingest_join(const char *dir, const char *rel, char **out) {
  size_t a = strlen(dir), b = strlen(rel);
  int sep = (a > 0 && b > 0 && dir[a - 1] != '/');
  if (a > SIZE_MAX - b - 2) HP_ERROR(HP_ERR_MEM, "path join: size overflow");
  char *p = NULL;
  HP_CALLOC(p, a + b + 2, "path");
  memcpy(p, dir, a);
  if (sep) p[a++] = '/';
  memcpy(p + a, rel, b);
  p[a + b] = 0;
  *out = p;
  return 0;
}

int hp_ingest_relpath_ok(const char *rel, const char **why) {
  *why = "";
  if (!rel[0]) { *why = "empty file name"; return 0; }
  if (rel[0] == '/') { *why = "absolute path (must be relative to the root)"; return 0; }
  for (const char *p = rel; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c < 0x20 || c == 0x7f) { *why = "control character in file name"; return 0; }
    if (c == '\\') { *why = "backslash in file name"; return 0; }
  }
  const char *s = rel;
  for (;;) {
    const char *e = strchr(s, '/');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    if (n == 0) { *why = "empty path component"; return 0; }
    if (n == 1 && s[0] == '.') { *why = "'.' path component"; return 0; }
    if (n == 2 && s[0] == '.' && s[1] == '.') { *why = "'..' escapes the root"; return 0; }
    if (!e) break;
    s = e + 1;
  }
  return 1;
}

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

const char *hp_ingest_trim(const char *s, size_t *n) {
  size_t a = 0, b = *n;
  while (a < b && is_space(s[a])) a++;
  while (b > a && is_space(s[b - 1])) b--;
  *n = b - a;
  return s + a;
}

int hp_ingest_file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int hp_ingest_path_inside(const char *root, const char *path, const char **why) {
  /* the root's real path, kept for the next call with the same root (one parser at a time) */
  static char last_root[PATH_MAX], real_root[PATH_MAX];
  char real[PATH_MAX];
  *why = "";
  if (strcmp(root, last_root) != 0 || !real_root[0]) {
    if (strlen(root) >= sizeof last_root || !realpath(root[0] ? root : ".", real_root)) {
      real_root[0] = 0;
      last_root[0] = 0;
      *why = "the dataset root cannot be resolved";
      return 0;
    }
    snprintf(last_root, sizeof last_root, "%s", root);
  }
  if (!realpath(path, real)) return 1; /* missing (or unreadable): reported by the caller */
  size_t n = strlen(real_root);
  if (n == 1 && real_root[0] == '/') return 1; /* root "/" contains everything */
  if (strncmp(real, real_root, n) == 0 && real[n] == '/') return 1;
  *why = "resolves outside the dataset root (a symbolic link out of it)";
  return 0;
}

int hp_ingest_cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int64_t hp_ingest_find_sorted(char *const *v, int64_t n, const char *s) {
  int64_t lo = 0, hi = n - 1;
  while (lo <= hi) {
    int64_t m = lo + (hi - lo) / 2;
    int c = strcmp(v[m], s);
    if (c == 0) return m;
    if (c < 0) lo = m + 1;
    else hi = m - 1;
  }
  return -1;
}
