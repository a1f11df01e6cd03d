/* nn_test.h — helpers shared by the tests/nn/test_*.c cmocka tests (header-only; not a test).
 *
 * Fixtures: tests/data/nn/<kernel>.bin written by tests/fixtures/make_nn_fixtures.py (format
 * in tests/fixtures/hpfix.py: "hpfix1 <count>" line, one "<name> <f32|i32> <ndim> <dims..>"
 * line per tensor, then the raw little-endian data in order). Found through $HP_TEST_DATA/nn/.
 *
 * Error measure used everywhere:  err(a, ref) = max_i |a_i - ref_i| / max(max_i |ref_i|, 1e-12)
 * i.e. the worst absolute error relative to the reference's scale (robust to reference
 * entries near 0). Fixture comparisons require err <= HP_TOL_REF = 1e-4.
 *
 * Finite differences: for a scalar L(x) = sum(out(x) * g) with fixed random g, accumulated in
 * double, each input/parameter element is perturbed by +-h (h = 1e-2 unless stated; the
 * step actually realised in float is used as the denominator) and the central difference is
 * compared with the analytic backward (run with dout = g) by the same err measure, with
 * tolerance HP_TOL_FD = 1e-2: the forward runs in float32, so L carries ~1e-6 relative
 * rounding that the 2h division magnifies to ~1e-4, plus an O(h^2) truncation term; 1e-2
 * is comfortably above both and far below any real gradient bug (wrong terms give O(1)).
 * Non-smooth kernels (ReLU, max pooling) use inputs kept further than h from their kinks.
 */
#ifndef HP_TESTS_NN_TEST_H
#define HP_TESTS_NN_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "fixture.h"

#define HP_TOL_REF 1e-4
#define HP_TOL_FD 1e-2
#define HP_FD_H 1e-2f

typedef hp_fixture hp_fix;

static inline hp_fix *fix_load(const char *kernel) { return hp_fixture_load("nn", kernel); }
static inline void fix_free(hp_fix *fx) { hp_fixture_free(fx); }

static inline int fix_find(const hp_fix *fx, const char *name, size_t expect_numel) {
  for (int i = 0; i < fx->count; i++)
    if (strcmp(fx->name[i], name) == 0) {
      if (expect_numel && fx->numel[i] != expect_numel)
        fail_msg("fixture tensor %s has %zu elements, expected %zu", name, fx->numel[i],
                 expect_numel);
      return i;
    }
  fail_msg("fixture tensor %s missing", name);
  return -1;
}

/* float tensor (a pointer into the fixture; copy it if the kernel writes to it) */
static inline float *fix_f(const hp_fix *fx, const char *name, size_t expect_numel) {
  int i = fix_find(fx, name, expect_numel);
  if (fx->is_int[i]) fail_msg("fixture tensor %s is not f32", name);
  return (float *)fx->data[i];
}
static inline int32_t *fix_i(const hp_fix *fx, const char *name, size_t expect_numel) {
  int i = fix_find(fx, name, expect_numel);
  if (!fx->is_int[i]) fail_msg("fixture tensor %s is not i32", name);
  return (int32_t *)fx->data[i];
}
static inline int fix_int(const hp_fix *fx, const char *name) { return fix_i(fx, name, 1)[0]; }
static inline float fix_real(const hp_fix *fx, const char *name) {
  return fix_f(fx, name, 1)[0];
}

/* zeroed float buffer / copy */
static inline float *fbuf(size_t n) {
  float *p = calloc(n ? n : 1, sizeof(float));
  assert_non_null(p);
  return p;
}
static inline float *fcopy(const float *src, size_t n) {
  float *p = fbuf(n);
  memcpy(p, src, n * sizeof(float));
  return p;
}

static inline double max_rel_err(const float *a, const float *ref, size_t n) {
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - (double)ref[i]);
    if (!(d <= num)) num = d; /* NaN propagates */
    if (fabs((double)ref[i]) > den) den = fabs((double)ref[i]);
  }
  return num / (den > 1e-12 ? den : 1e-12);
}

/* print and assert err(a, ref) <= tol */
static inline void expect_close(const char *what, const float *a, const float *ref, size_t n,
                                double tol) {
  double e = max_rel_err(a, ref, n);
  printf("  %-28s err %.3e (tol %.0e)\n", what, e, tol);
  if (!(e <= tol)) fail_msg("%s: max relative error %.3e > %.1e", what, e, tol);
}

/* uniform in [lo, hi) from the project RNG, deterministic per seed */
static inline void fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi) {
  hp_rng r = hp_rng_make(seed, 0xF1C7, 0);
  for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * (float)hp_rng_uniform(&r);
}

static inline double dot_d(const float *a, const float *b, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
  return s;
}

/* Central-difference check of d loss / d x against analytic (see top of file). */
typedef double (*fd_loss_fn)(void *ctx);
static inline void fd_check(const char *what, float *x, size_t n, const float *analytic,
                            fd_loss_fn loss, void *ctx, float h, double tol) {
  float *num = fbuf(n);
  for (size_t i = 0; i < n; i++) {
    float x0 = x[i], xp = x0 + h, xm = x0 - h;
    x[i] = xp;
    double lp = loss(ctx);
    x[i] = xm;
    double lm = loss(ctx);
    x[i] = x0;
    num[i] = (float)((lp - lm) / ((double)xp - (double)xm));
  }
  char label[96];
  snprintf(label, sizeof label, "fd %s", what);
  expect_close(label, analytic, num, n, tol);
  free(num);
}

#endif
