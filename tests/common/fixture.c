/* fixture.c — the hpfix1 fixture loader (see fixture.h). */
#include "fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

hp_fixture *hp_fixture_load(const char *subdir, const char *file) {
  const char *dir = getenv("HP_TEST_DATA");
  size_t len = strlen(file);
  const char *suffix = len > 4 && strcmp(file + len - 4, ".bin") == 0 ? "" : ".bin";
  char path[1024];
  snprintf(path, sizeof path, "%s/%s/%s%s", dir ? dir : "../../tests/data", subdir, file, suffix);
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot open fixture %s (is HP_TEST_DATA set?)", path);
  hp_fixture *fx = calloc(1, sizeof *fx);
  assert_non_null(fx);
  char line[512];
  if (!fgets(line, sizeof line, f) || sscanf(line, "hpfix1 %d", &fx->count) != 1 || fx->count < 1 ||
      fx->count > 100000)
    fail_msg("%s: bad fixture header", path);
  size_t n = (size_t)fx->count;
  fx->name = calloc(n, sizeof *fx->name);
  fx->is_int = calloc(n, sizeof *fx->is_int);
  fx->numel = calloc(n, sizeof *fx->numel);
  fx->data = calloc(n, sizeof *fx->data);
  assert_true(fx->name && fx->is_int && fx->numel && fx->data);
  for (int i = 0; i < fx->count; i++) {
    char code[8];
    int ndim, off = 0, used = 0;
    if (!fgets(line, sizeof line, f) || sscanf(line, "%127s %7s %d%n", fx->name[i], code, &ndim, &off) != 3)
      fail_msg("%s: bad tensor line %d", path, i);
    fx->is_int[i] = strcmp(code, "i32") == 0;
    size_t ne = 1;
    for (int d = 0; d < ndim; d++) {
      long dim;
      if (sscanf(line + off, "%ld%n", &dim, &used) != 1 || dim < 0) fail_msg("%s: bad dims for %s", path, fx->name[i]);
      off += used;
      ne *= (size_t)dim;
    }
    fx->numel[i] = ne;
  }
  for (int i = 0; i < fx->count; i++) {
    fx->data[i] = malloc(fx->numel[i] * 4 + 4);
    assert_non_null(fx->data[i]);
    if (fread(fx->data[i], 4, fx->numel[i], f) != fx->numel[i])
      fail_msg("%s: truncated data for %s", path, fx->name[i]);
  }
  fclose(f);
  return fx;
}

void hp_fixture_free(hp_fixture *fx) {
  if (!fx) return;
  for (int i = 0; i < fx->count; i++) free(fx->data[i]);
  free(fx->name);
  free(fx->is_int);
  free(fx->numel);
  free(fx->data);
  free(fx);
}

int hp_fixture_index(const hp_fixture *fx, const char *name) {
  for (int i = 0; i < fx->count; i++)
    if (strcmp(fx->name[i], name) == 0) return i;
  return -1;
}

static int find_typed(const hp_fixture *fx, const char *name, size_t numel, int want_int) {
  int i = hp_fixture_index(fx, name);
  if (i < 0) fail_msg("fixture tensor %s missing", name);
  if (fx->is_int[i] != want_int) fail_msg("fixture tensor %s is not %s", name, want_int ? "i32" : "f32");
  if (numel && fx->numel[i] != numel)
    fail_msg("fixture tensor %s has %zu elements, expected %zu", name, fx->numel[i], numel);
  return i;
}

float *hp_fixture_f(const hp_fixture *fx, const char *name, size_t numel) {
  return (float *)fx->data[find_typed(fx, name, numel, 0)];
}

int32_t *hp_fixture_i(const hp_fixture *fx, const char *name, size_t numel) {
  return (int32_t *)fx->data[find_typed(fx, name, numel, 1)];
}
