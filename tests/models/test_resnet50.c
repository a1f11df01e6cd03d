/* test_resnet50.c — the ResNet image tower against PyTorch/torchvision and finite differences.
 *
 * Fixture: tests/data/models/resnet_tiny.bin from tests/fixtures/make_resnet_fixtures.py — a tiny
 * torchvision-named ResNet (width 4, layers [2,2,1,1], 32x32, B=4) with random weights and
 * running statistics; forward + every parameter gradient of sum(feat * G) in train mode
 * (batch statistics) and eval mode (running statistics), and the running statistics after the
 * training step. Weights are loaded BY NAME into the hp_params table.
 *
 * Error measure (as tests/nn): err = max|a - ref| / max|ref| per tensor. Tolerance 1e-4
 * for the forward, the running statistics and every gradient.
 * Finite differences: central, h = 3e-3 on 6 elements of 8 tensors, double loss, tolerance
 * 1e-2 (float32 forward; see tests/nn/nn_test.h), train mode, with every BN bias shifted by
 * +3 so that the difference quotients do not cross ReLU kinks (see test_tiny_fd).
 * Env: HP_FD_H overrides h, HP_FD_VERBOSE prints the values, HP_FD_NOFAIL only reports.
 * bn_relu kernels: against nn/batchnorm (the reference kernel, itself checked against
 * PyTorch) at a size above the OpenMP threshold, and bitwise identical at 1 and 2 threads.
 * Smoke: the full ResNet50 at 128x128 (23,508,032 trainable parameters, names, flags), one
 * forward at B=1 and a timed training step at B=2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/error.h"
#include "base/rng.h"
#include "nn/params.h"
#include "fixture.h"
#include "models/resnet50.h"
#include "nn/batchnorm.h"
#include "nn/bn_relu.h"

#ifdef _OPENMP
#include <omp.h>
#define SET_THREADS(n) omp_set_num_threads(n)
#else
#define SET_THREADS(n) ((void)0)
#endif

#define TOL_REF 1e-4
#define TOL_FD 1e-2
#define TOL_TRAIN32 1e-3

/* ---- fixtures: tests/common/fixture.h ---------------------------------------------------- */
typedef hp_fixture fixture;
static fixture *fx_load(const char *file) { return hp_fixture_load("models", file); }
static void fx_free(fixture *fx) { hp_fixture_free(fx); }
static const float *fx_f(const fixture *fx, const char *name, size_t numel) { return hp_fixture_f(fx, name, numel); }
static int fx_index(const fixture *fx, const char *name) { return hp_fixture_index(fx, name); }

static int count_prefix(const fixture *fx, const char *prefix) {
  int n = 0;
  for (int i = 0; i < fx->count; i++) n += strncmp(fx->name[i], prefix, strlen(prefix)) == 0;
  return n;
}

static double max_rel_err(const float *a, const float *ref, size_t n) {
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - (double)ref[i]);
    if (!(d <= num)) num = d;
    if (fabs((double)ref[i]) > den) den = fabs((double)ref[i]);
  }
  return num / (den > 1e-12 ? den : 1e-12);
}

static double dot_d(const float *a, const float *b, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
  return s;
}

#define OK(expr)                                                                          \
  do {                                                                                    \
    int e_ = (expr);                                                                      \
    if (e_) fail_msg("%s failed (%d): %s", #expr, e_, hp_error_message());                \
  } while (0)

/* ---- the tiny model from the fixture ------------------------------------------------------- */
typedef struct {
  fixture *fx;
  hp_resnet m;
  hp_params p;
  const char *tag; /* fixture case: "s48" or "s32" */
  int B, F;
  const float *x, *G;
  float *feat;
} tiny;

static void tiny_setup(tiny *t, const char *tag) {
  memset(t, 0, sizeof *t);
  t->fx = fx_load("resnet_tiny.bin");
  t->tag = tag;
  int ci = fx_index(t->fx, "cfg");
  assert_true(ci >= 0 && t->fx->numel[ci] == 6);
  const int32_t *cfg = t->fx->data[ci];
  char nm[160];
  snprintf(nm, sizeof nm, "%s.S", tag);
  int si = fx_index(t->fx, nm);
  assert_true(si >= 0 && t->fx->is_int[si]);
  int S = *(const int32_t *)t->fx->data[si];
  hp_resnet_config rc;
  hp_resnet_config_resnet50(&rc, S);
  rc.width = cfg[1];
  for (int s = 0; s < 4; s++) rc.layers[s] = cfg[2 + s];
  rc.bn_eps = fx_f(t->fx, "eps", 1)[0];
  rc.bn_momentum = fx_f(t->fx, "momentum", 1)[0];
  t->B = cfg[0];
  hp_params_init(&t->p);
  OK(hp_resnet_build(&t->m, &rc, &t->p));
  OK(hp_params_alloc(&t->p));
  OK(hp_resnet_alloc_acts(&t->m, t->B));
  t->F = t->m.feat_dim;
  /* load every tensor by name; the fixture must hold exactly the model's tensors */
  for (int i = 0; i < t->p.n; i++) {
    const hp_tensor_info *ti = &t->p.t[i];
    snprintf(nm, sizeof nm, "w:%s", ti->name);
    memcpy(t->p.data + ti->offset, fx_f(t->fx, nm, ti->numel), ti->numel * sizeof(float));
  }
  assert_int_equal(count_prefix(t->fx, "w:"), t->p.n);
  snprintf(nm, sizeof nm, "%s.x", tag);
  t->x = fx_f(t->fx, nm, (size_t)t->B * S * S * 3);
  snprintf(nm, sizeof nm, "%s.G", tag);
  t->G = fx_f(t->fx, nm, (size_t)t->B * t->F);
  t->feat = calloc((size_t)t->B * t->F, sizeof(float));
  assert_non_null(t->feat);
}

static void tiny_teardown(tiny *t) {
  free(t->feat);
  hp_resnet_free(&t->m);
  hp_params_free(&t->p);
  fx_free(t->fx);
}

/* compare every trainable tensor's gradient with "<case>.<mode>.grad:<name>"; returns max err */
static double check_grads(const tiny *t, const char *mode, double tol) {
  char nm[160];
  double worst = 0.0;
  int n = 0, bad = 0;
  for (int i = 0; i < t->p.n; i++) {
    const hp_tensor_info *ti = &t->p.t[i];
    if (ti->flags & HP_PARAM_BUFFER) {
      for (size_t e = 0; e < ti->numel; e++) assert_true(t->p.grad[ti->offset + e] == 0.0f);
      continue;
    }
    snprintf(nm, sizeof nm, "%s.%s.grad:%s", t->tag, mode, ti->name);
    double e = max_rel_err(t->p.grad + ti->offset, fx_f(t->fx, nm, ti->numel), ti->numel);
    if (!(e <= tol)) {
      printf("  %s: gradient err %.3e > %.0e\n", nm, e, tol);
      bad++;
    }
    if (!(e <= worst)) worst = e;
    n++;
  }
  snprintf(nm, sizeof nm, "%s.%s.grad:", t->tag, mode);
  assert_int_equal(n, count_prefix(t->fx, nm));
  printf("  %s %-5s gradients: %d tensors, max err %.3e (tol %.0e)\n", t->tag, mode, n, worst, tol);
  if (bad) fail_msg("%d gradients above tolerance", bad);
  return worst;
}

/* train step (forward, gradients, running statistics), then eval forward + gradients with
 * the updated running statistics; tol_train_grad for the train-mode gradients */
static void run_fixture_case(const char *tag, double tol_train_grad) {
  tiny t;
  tiny_setup(&t, tag);
  size_t nf = (size_t)t.B * t.F;
  char nm[160];
  OK(hp_resnet_forward(&t.m, &t.p, t.x, t.B, 1, t.feat));
  snprintf(nm, sizeof nm, "%s.train.feat", tag);
  double e = max_rel_err(t.feat, fx_f(t.fx, nm, nf), nf);
  printf("  %s train forward err %.3e (tol %.0e)\n", tag, e, TOL_REF);
  assert_true(e <= TOL_REF);
  hp_params_zero_grad(&t.p);
  OK(hp_resnet_backward(&t.m, &t.p, t.p.grad, t.G));
  check_grads(&t, "train", tol_train_grad);
  double worst = 0.0;
  int nrs = 0;
  for (int i = 0; i < t.p.n; i++) {
    const hp_tensor_info *ti = &t.p.t[i];
    if (!(ti->flags & HP_PARAM_BUFFER)) continue;
    snprintf(nm, sizeof nm, "%s.train.rs:%s", tag, ti->name);
    double er = max_rel_err(t.p.data + ti->offset, fx_f(t.fx, nm, ti->numel), ti->numel);
    if (!(er <= TOL_REF)) fail_msg("%s: err %.3e", nm, er);
    if (er > worst) worst = er;
    nrs++;
  }
  snprintf(nm, sizeof nm, "%s.train.rs:", tag);
  assert_int_equal(nrs, count_prefix(t.fx, nm));
  printf("  %s running stats: %d tensors, max err %.3e\n", tag, nrs, worst);
  OK(hp_resnet_forward(&t.m, &t.p, t.x, t.B, 0, t.feat));
  snprintf(nm, sizeof nm, "%s.eval.feat", tag);
  e = max_rel_err(t.feat, fx_f(t.fx, nm, nf), nf);
  printf("  %s eval forward err %.3e\n", tag, e);
  assert_true(e <= TOL_REF);
  hp_params_zero_grad(&t.p);
  OK(hp_resnet_backward(&t.m, &t.p, t.p.grad, t.G));
  check_grads(&t, "eval", TOL_REF);
  /* gradients accumulate: a second backward doubles them */
  float *g1 = malloc(t.p.total * sizeof(float));
  assert_non_null(g1);
  memcpy(g1, t.p.grad, t.p.total * sizeof(float));
  OK(hp_resnet_backward(&t.m, &t.p, t.p.grad, t.G));
  for (size_t i = 0; i < t.p.total; i++)
    assert_true(fabsf(t.p.grad[i] - 2.0f * g1[i]) <= 1e-6f * (1.0f + fabsf(g1[i])));
  free(g1);
  tiny_teardown(&t);
}

/* 48x48: well conditioned, every comparison at 1e-4 */
static void test_fixture_48(void **state) {
  (void)state;
  run_fixture_case("s48", TOL_REF);
}

/* 32x32 (1x1 final map): train-mode BN over B = 4 values per channel in layer4 amplifies
 * float32 rounding — PyTorch's own float32 gradients differ from its float64 ones by up to
 * 6e-4 on this case (measured by the fixture script's author) — so the train-mode gradients
 * get 1e-3 (still 1000x below the O(1) error of any wrong term); everything else 1e-4. */
static void test_fixture_32(void **state) {
  (void)state;
  run_fixture_case("s32", TOL_TRAIN32);
}

/* the uint8 entry point normalises as documented */
static void test_u8_input(void **state) {
  (void)state;
  tiny t;
  tiny_setup(&t, "s48");
  int S = t.m.cfg.image_size;
  size_t n = (size_t)t.B * S * S * 3;
  uint8_t *u = malloc(n);
  float *x = malloc(n * sizeof(float)), *f2 = calloc((size_t)t.B * t.F, sizeof(float));
  assert_true(u && x && f2);
  for (size_t i = 0; i < n; i++) {
    u[i] = (uint8_t)((i * 2654435761u) >> 24);
    int c = (int)(i % 3);
    x[i] = ((float)u[i] / 255.0f - t.m.cfg.mean[c]) / t.m.cfg.std[c];
  }
  OK(hp_resnet_forward(&t.m, &t.p, x, t.B, 0, t.feat));
  OK(hp_resnet_forward_u8(&t.m, &t.p, u, t.B, 0, f2));
  double e = max_rel_err(f2, t.feat, (size_t)t.B * t.F);
  printf("  u8 vs float input err %.3e\n", e);
  assert_true(e <= 1e-5);
  free(u); free(x); free(f2);
  tiny_teardown(&t);
}

/* hp_resnet_alloc_infer's rotating buffers (identity and projection blocks, BN in place) give
 * bitwise the eval output of the training layout, full and partial batch; training forwards
 * and backward are refused on them */
static void test_infer(void **state) {
  (void)state;
  const char *tags[2] = {"s48", "s32"};
  for (int k = 0; k < 2; k++) {
    tiny t;
    tiny_setup(&t, tags[k]);
    size_t n = (size_t)t.B * t.F, train_per = t.m.act_bytes_per_sample;
    float *full = calloc(n, sizeof(float)), *part = calloc(n, sizeof(float));
    assert_true(full && part);
    OK(hp_resnet_forward(&t.m, &t.p, t.x, t.B, 0, full));
    OK(hp_resnet_forward(&t.m, &t.p, t.x, t.B - 1, 0, part));
    OK(hp_resnet_alloc_infer(&t.m, t.B));
    printf("  %s: inference activations %zu bytes/image (training layout %zu)\n", tags[k],
           t.m.act_bytes_per_sample, train_per);
    assert_true(t.m.act_bytes_per_sample < train_per);
    OK(hp_resnet_forward(&t.m, &t.p, t.x, t.B, 0, t.feat));
    assert_memory_equal(t.feat, full, n * sizeof(float));
    OK(hp_resnet_forward(&t.m, &t.p, t.x, t.B - 1, 0, t.feat));
    assert_memory_equal(t.feat, part, (size_t)(t.B - 1) * t.F * sizeof(float));
    assert_int_equal(hp_resnet_backward(&t.m, &t.p, t.p.grad, t.G), HP_ERR_INTERNAL);
    assert_int_equal(hp_resnet_forward(&t.m, &t.p, t.x, t.B, 1, t.feat), HP_ERR_INTERNAL);
    hp_error_clear();
    free(full);
    free(part);
    tiny_teardown(&t);
  }
}

/* ---- finite differences on a few elements of several tensors (train mode) ------------------ */
static double tiny_loss(tiny *t) {
  if (hp_resnet_forward(&t->m, &t->p, t->x, t->B, 1, t->feat)) fail_msg("%s", hp_error_message());
  return dot_d(t->feat, t->G, (size_t)t->B * t->F);
}

static void test_tiny_fd(void **state) {
  (void)state;
  tiny t;
  tiny_setup(&t, "s48");
  /* Move every pre-ReLU value far from its kink (BN bias + 3): this narrow net is otherwise so
   * dense in ReLU / max-pool kinks that even float64 PyTorch needs h ~ 1e-6 for a central
   * difference to agree (checked by hand: 36% error at h = 1e-3, 12% at 1e-4), which float32
   * cannot resolve. The kinked path is what the PyTorch fixture tests cover. */
  for (int i = 0; i < t.p.n; i++) {
    const hp_tensor_info *ti = &t.p.t[i];
    size_t L = strlen(ti->name);
    if (L > 5 && strcmp(ti->name + L - 5, ".bias") == 0)
      for (size_t e = 0; e < ti->numel; e++) t.p.data[ti->offset + e] += 3.0f;
  }
  tiny_loss(&t);
  hp_params_zero_grad(&t.p);
  OK(hp_resnet_backward(&t.m, &t.p, t.p.grad, t.G));
  /* Not in the list, on purpose: visual.conv1.weight (its difference quotient crosses max-pool
   * argmax switches, which no bias shift removes; its gradient matches PyTorch in the fixture
   * tests) and any bias whose channel shift reaches a train-mode BN only through 1x1 convs
   * (stem bn1.bias, bn3.bias of non-final blocks): their exact gradient is 0, so the check
   * would compare rounding noise with rounding noise. */
  const char *names[] = {"visual.bn1.weight", "visual.layer1.0.conv2.weight",
                         "visual.layer1.1.conv2.weight", "visual.layer2.0.downsample.0.weight",
                         "visual.layer3.0.conv1.weight", "visual.layer4.0.bn2.weight",
                         "visual.layer4.0.bn3.bias", "visual.layer4.0.conv3.weight"};
  const float h = getenv("HP_FD_H") ? (float)atof(getenv("HP_FD_H")) : 3e-3f;
  for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
    const hp_tensor_info *ti = hp_params_find(&t.p, names[k]);
    assert_non_null(ti);
    enum { NE = 6 };
    float num[NE], ana[NE];
    for (int j = 0; j < NE; j++) {
      size_t e = ti->offset + ((size_t)j * 7919u) % ti->numel;
      float *w = t.p.data + e, w0 = *w, wp = w0 + h, wm = w0 - h;
      *w = wp;
      double lp = tiny_loss(&t);
      *w = wm;
      double lm = tiny_loss(&t);
      *w = w0;
      num[j] = (float)((lp - lm) / ((double)wp - (double)wm));
      ana[j] = t.p.grad[e];
    }
    double err = max_rel_err(ana, num, NE);
    if (getenv("HP_FD_VERBOSE"))
      for (int j = 0; j < NE; j++)
        printf("    %d: analytic %.6e numeric %.6e\n", j, ana[j], num[j]);
    printf("  fd %-40s err %.3e (tol %.0e)\n", names[k], err, TOL_FD);
    if (!(err <= TOL_FD) && !getenv("HP_FD_NOFAIL")) fail_msg("fd %s: err %.3e", names[k], err);
  }
  tiny_teardown(&t);
}

/* ---- nn/bn_relu.h kernels ---------------------------------------------------------------- */
enum { BM = 3000, BC = 80 }; /* M*C above HP_OMP_MIN_ELEMS; C not a multiple of 16 */

static void fill(float *x, size_t n, uint64_t seed, float lo, float hi) {
  hp_rng r = hp_rng_make(seed, 0xB17, 0);
  for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * (float)hp_rng_uniform(&r);
}

/* out: [0] y, [1] ReLU(y), [2] ReLU(y + res), [3] dx (plain), [4] dx (ReLU-masked), [5] dw,
 * [6] db, [7] running mean/var, each BM*BC floats (smaller ones padded) */
static void bn_kernels(float *out, int training) {
  size_t n = (size_t)BM * BC;
  float *x = malloc(n * 4), *res = malloc(n * 4), *dy = malloc(n * 4), *w = malloc(BC * 4),
        *b = malloc(BC * 4), *mean = malloc(BC * 4), *rstd = malloc(BC * 4);
  double *scr = malloc(hp_bn_scratch_doubles(BC) * sizeof(double));
  assert_true(x && res && dy && w && b && mean && rstd && scr);
  fill(x, n, 1, -1.0f, 3.0f);
  fill(res, n, 2, -1.0f, 1.0f);
  fill(dy, n, 3, -1.0f, 1.0f);
  fill(w, BC, 4, 0.5f, 1.5f);
  fill(b, BC, 5, -0.5f, 0.5f);
  float *rm = out + 7 * n, *rv = rm + BC;
  fill(rm, BC, 6, -0.2f, 0.2f);
  fill(rv, BC, 7, 0.5f, 1.5f);
  memset(out, 0, 7 * n * sizeof(float));
  assert_int_equal(hp_bn_stats(mean, rstd, rm, rv, x, BM, BC, 1e-5f, 0.1f, training, scr, NULL), 0);
  hp_bn_apply(out, x, mean, rstd, w, b, BM, BC, 0);
  hp_bn_apply(out + n, x, mean, rstd, w, b, BM, BC, 1);
  hp_bn_add_relu(out + 2 * n, x, mean, rstd, w, b, NULL, NULL, NULL, NULL, NULL, res, BM, BC);
  hp_bn_backward(out + 3 * n, out + 5 * n, out + 6 * n, dy, NULL, x, w, mean, rstd, BM, BC,
                 training, scr, NULL);
  hp_bn_backward(out + 4 * n, NULL, NULL, dy, out + n, x, w, mean, rstd, BM, BC, training, scr, NULL);
  free(x); free(res); free(dy); free(w); free(b); free(mean); free(rstd); free(scr);
}

static void test_bn_relu_kernels(void **state) {
  (void)state;
  size_t n = (size_t)BM * BC, tot = 7 * n + 2 * BC;
  for (int training = 1; training >= 0; training--) {
    float *o = calloc(tot, sizeof(float)), *o2 = calloc(tot, sizeof(float));
    assert_true(o && o2);
    SET_THREADS(2);
    bn_kernels(o, training);
    SET_THREADS(1);
    bn_kernels(o2, training);
    assert_memory_equal(o, o2, tot * sizeof(float)); /* bitwise, any thread count */
    /* reference: nn/batchnorm.h, with ReLU / residual / mask applied separately */
    float *x = malloc(n * 4), *res = malloc(n * 4), *dy = malloc(n * 4), *w = malloc(BC * 4),
          *b = malloc(BC * 4), *mean = malloc(BC * 4), *rstd = malloc(BC * 4),
          *rm = malloc(BC * 4), *rv = malloc(BC * 4), *y = malloc(n * 4), *t = malloc(n * 4),
          *dx = calloc(n, 4), *dxm = calloc(n, 4), *dw = calloc(BC, 4), *db = calloc(BC, 4),
          *g = malloc(n * 4);
    assert_true(x && res && dy && w && b && mean && rstd && rm && rv && y && t && dx && dxm &&
                dw && db && g);
    fill(x, n, 1, -1.0f, 3.0f);
    fill(res, n, 2, -1.0f, 1.0f);
    fill(dy, n, 3, -1.0f, 1.0f);
    fill(w, BC, 4, 0.5f, 1.5f);
    fill(b, BC, 5, -0.5f, 0.5f);
    fill(rm, BC, 6, -0.2f, 0.2f);
    fill(rv, BC, 7, 0.5f, 1.5f);
    hp_batchnorm_forward(y, mean, rstd, rm, rv, x, w, b, BM, BC, 1e-5f, 0.1f, training);
    double e[8];
    e[0] = max_rel_err(o, y, n);
    for (size_t i = 0; i < n; i++) t[i] = y[i] > 0.0f ? y[i] : 0.0f;
    e[1] = max_rel_err(o + n, t, n);
    for (size_t i = 0; i < n; i++) t[i] = y[i] + res[i] > 0.0f ? y[i] + res[i] : 0.0f;
    e[2] = max_rel_err(o + 2 * n, t, n);
    hp_batchnorm_backward(dx, dw, db, dy, x, w, mean, rstd, BM, BC, training);
    e[3] = max_rel_err(o + 3 * n, dx, n);
    e[5] = max_rel_err(o + 5 * n, dw, BC);
    e[6] = max_rel_err(o + 6 * n, db, BC);
    for (size_t i = 0; i < n; i++) g[i] = o[n + i] > 0.0f ? dy[i] : 0.0f;
    hp_batchnorm_backward(dxm, NULL, NULL, g, x, w, mean, rstd, BM, BC, training);
    e[4] = max_rel_err(o + 4 * n, dxm, n);
    double er = max_rel_err(o + 7 * n, rm, BC), ev = max_rel_err(o + 7 * n + BC, rv, BC);
    e[7] = er > ev ? er : ev;
    const char *what[8] = {"apply", "apply+relu", "add+relu", "backward", "backward masked",
                           "dweight", "dbias", "running stats"};
    for (int k = 0; k < 8; k++) {
      printf("  bn_relu %s %-16s vs nn/batchnorm err %.3e\n", training ? "train" : "eval ",
             what[k], e[k]);
      if (!(e[k] <= 1e-5)) fail_msg("bn_relu %s: err %.3e", what[k], e[k]);
    }
    free(x); free(res); free(dy); free(w); free(b); free(mean); free(rstd); free(rm); free(rv);
    free(y); free(t); free(dx); free(dxm); free(dw); free(db); free(g); free(o); free(o2);
  }
}

/* ---- full ResNet50 at 128x128 ------------------------------------------------------------- */
static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void test_resnet50_smoke(void **state) {
  (void)state;
  hp_resnet_config cfg;
  hp_resnet_config_resnet50(&cfg, 128);
  hp_resnet m;
  hp_params p;
  hp_params_init(&p);
  OK(hp_resnet_build(&m, &cfg, &p));
  OK(hp_params_alloc(&p));
  size_t buffers = 0;
  for (int i = 0; i < p.n; i++) {
    const hp_tensor_info *ti = &p.t[i];
    if (ti->flags & HP_PARAM_BUFFER) {
      buffers += ti->numel;
      assert_non_null(strstr(ti->name, ".running_"));
    } else if (ti->ndim == 4) {
      assert_int_equal(ti->flags, HP_PARAM_DECAY);
    } else {
      assert_int_equal(ti->flags, 0);
    }
  }
  printf("  resnet50: %d tensors, %zu trainable, %zu running-stat floats\n", p.n,
         hp_params_trainable(&p), buffers);
  assert_int_equal(hp_params_trainable(&p), 23508032);
  assert_int_equal(buffers, 53120);
  assert_int_equal(m.feat_dim, 2048);
  assert_int_equal(m.final_h, 4);
  assert_int_equal(m.final_w, 4);
  const hp_tensor_info *ti = hp_params_find(&p, "visual.layer3.5.conv2.weight");
  assert_non_null(ti);
  assert_int_equal(ti->shape[0], 256);
  assert_int_equal(ti->shape[1], 3);
  assert_int_equal(ti->shape[3], 256);
  assert_non_null(hp_params_find(&p, "visual.layer4.0.downsample.1.running_var"));
  assert_null(hp_params_find(&p, "visual.layer4.1.downsample.0.weight"));
  assert_null(hp_params_find(&p, "visual.fc.weight"));
  hp_resnet_init(&m, &p, 7);
  /* kaiming fan_out: std of layer1.0.conv2 = sqrt(2 / (64*9)) */
  ti = hp_params_find(&p, "visual.layer1.0.conv2.weight");
  double ss = 0.0;
  const float *w1 = p.data + ti->offset;
  for (size_t e = 0; e < ti->numel; e++) ss += (double)w1[e] * w1[e];
  double sd = sqrt(ss / ti->numel), want = sqrt(2.0 / (64 * 9));
  printf("  init std %.4f (kaiming fan_out %.4f)\n", sd, want);
  assert_true(fabs(sd - want) < 0.05 * want);

  int B = 2;
  OK(hp_resnet_alloc_acts(&m, B));
  printf("  activations %.1f MiB/image, im2col scratch %.1f MiB\n",
         (double)m.act_bytes_per_sample / 1048576.0, (double)m.scratch_bytes / 1048576.0);
  size_t npx = (size_t)B * 128 * 128 * 3;
  uint8_t *img = malloc(npx);
  float *feat = calloc((size_t)B * 2048, sizeof(float));
  float *dfeat = calloc((size_t)B * 2048, sizeof(float));
  assert_true(img && feat && dfeat);
  for (size_t i = 0; i < npx; i++) img[i] = (uint8_t)((i * 2654435761u) >> 24);
  for (int i = 0; i < B * 2048; i++) dfeat[i] = (float)((i % 7) - 3) * 0.01f;
  double t0 = now_s();
  OK(hp_resnet_forward_u8(&m, &p, img, 1, 0, feat));
  double t1 = now_s();
  for (int i = 0; i < 2048; i++) assert_true(isfinite(feat[i]) && feat[i] >= 0.0f);
  printf("  eval forward B=1: %.1f ms\n", 1e3 * (t1 - t0));
  t0 = now_s();
  OK(hp_resnet_forward_u8(&m, &p, img, B, 1, feat));
  t1 = now_s();
  OK(hp_resnet_backward(&m, &p, p.grad, dfeat));
  double t2 = now_s();
  for (size_t i = 0; i < p.total; i++) assert_true(isfinite(p.grad[i]));
  printf("  train step B=%d: forward %.1f ms/image, backward %.1f ms/image\n", B,
         1e3 * (t1 - t0) / B, 1e3 * (t2 - t1) / B);
  free(img); free(feat); free(dfeat);
  hp_resnet_free(&m);
  hp_params_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixture_48),
      cmocka_unit_test(test_fixture_32),
      cmocka_unit_test(test_u8_input),
      cmocka_unit_test(test_infer),
      cmocka_unit_test(test_tiny_fd),
      cmocka_unit_test(test_bn_relu_kernels),
      cmocka_unit_test(test_resnet50_smoke),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
