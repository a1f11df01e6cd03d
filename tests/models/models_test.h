/* models_test.h — helpers for the model tests (header-only; not a test).
 *
 * Fixtures: tests/data/models/<name>.bin from tests/fixtures/make_model_fixtures.py, same "hpfix1"
 * format as the kernel fixtures, loaded by tests/common/fixture.c. Error measure and tolerances are nn_test.h's:
 *   err(a, ref) = max_i |a_i - ref_i| / max_i |ref_i|  <= 1e-4 against PyTorch (float64
 *   reference; float32 here), finite differences <= 1e-2.
 */
#ifndef HP_TESTS_MODELS_TEST_H
#define HP_TESTS_MODELS_TEST_H

#include "../nn/nn_test.h"
#include "nn/params.h"

typedef hp_fixture mfix;

static inline mfix *mfix_load(const char *base) { return hp_fixture_load("models", base); }
static inline void mfix_free(mfix *fx) { hp_fixture_free(fx); }
static inline int mfix_index(const mfix *fx, const char *name) { return hp_fixture_index(fx, name); }
static inline float *mfix_f(const mfix *fx, const char *name, size_t expect) { return hp_fixture_f(fx, name, expect); }
static inline int32_t *mfix_i(const mfix *fx, const char *name, size_t expect) { return hp_fixture_i(fx, name, expect); }
static inline int mfix_int(const mfix *fx, const char *name) { return mfix_i(fx, name, 1)[0]; }

/* Copy every registered tensor of p from the fixture BY NAME (all must be present, sizes
 * must match). Returns the number loaded. */
static inline int mfix_load_params(const mfix *fx, hp_params *p) {
  for (int k = 0; k < p->n; k++) {
    const hp_tensor_info *t = &p->t[k];
    memcpy(p->data + t->offset, mfix_f(fx, t->name, t->numel), t->numel * sizeof(float));
  }
  return p->n;
}

/* Compare every parameter gradient with the fixture's "grad.<name>"; returns the worst err.
 * Measure per tensor: max|a - ref| / max(max|ref|, floor), floor = 1e-3 * the largest
 * |ref| over ALL gradient tensors of the model. The floor only matters for tensors whose
 * exact gradient is (near) zero — BERT's key bias: softmax is invariant to the q.b_k shift
 * it adds, so PyTorch's value is rounding noise and a pure relative measure is undefined. */
static inline double mfix_check_grads(const mfix *fx, const hp_params *p, const float *grad, double tol) {
  double worst = 0.0, gmax = 0.0;
  char nm[160];
  for (int k = 0; k < p->n; k++) {
    const hp_tensor_info *t = &p->t[k];
    snprintf(nm, sizeof nm, "grad.%s", t->name);
    const float *ref = mfix_f(fx, nm, t->numel);
    for (size_t i = 0; i < t->numel; i++)
      if (fabs((double)ref[i]) > gmax) gmax = fabs((double)ref[i]);
  }
  double floor_ = 1e-3 * gmax;
  for (int k = 0; k < p->n; k++) {
    const hp_tensor_info *t = &p->t[k];
    snprintf(nm, sizeof nm, "grad.%s", t->name);
    const float *ref = mfix_f(fx, nm, t->numel);
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < t->numel; i++) {
      double d = fabs((double)grad[t->offset + i] - (double)ref[i]);
      if (!(d <= num)) num = d;
      if (fabs((double)ref[i]) > den) den = fabs((double)ref[i]);
    }
    if (den < floor_) {
      printf("  %-28s max|ref| %.1e < floor %.1e: measured against the floor\n", nm, den, floor_);
      den = floor_;
    }
    double e = num / (den > 1e-30 ? den : 1e-30);
    if (e > worst) worst = e;
    if (!(e <= tol)) fail_msg("%s: max relative error %.3e > %.1e", nm, e, tol);
  }
  return worst;
}

/* every "text." / "visual." ... tensor of the fixture (not grad.*) exists in p */
static inline void mfix_expect_all_registered(const mfix *fx, const hp_params *p, const char *prefix) {
  size_t n = strlen(prefix);
  for (int i = 0; i < fx->count; i++)
    if (strncmp(fx->name[i], prefix, n) == 0 && !hp_params_find(p, fx->name[i]))
      fail_msg("fixture tensor %s has no counterpart in the model", fx->name[i]);
}

#endif
