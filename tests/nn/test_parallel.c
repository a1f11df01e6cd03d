/* test_parallel.c — every kernel at sizes above its OpenMP threshold, run with 1 and with 2
 * threads: results of our own loops must be BITWISE identical (all parallel loops partition
 * the work so that no result depends on the thread count, reductions included). Groups that
 * go through sgemm are compared within 1e-5 of their largest magnitude instead: the OpenMP
 * build of OpenBLAS follows the OpenMP thread count and may sum in another order. Exercises the parallel code
 * paths that the small fixture tests never reach; without OpenMP it still runs (twice the
 * same serial path). */
#include "nn_test.h"
#include "nn/activation.h"
#include "nn/attention.h"
#include "nn/batchnorm.h"
#include "nn/conv.h"
#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/l2norm.h"
#include "nn/layernorm.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/pool.h"
#include "nn/softmax.h"

#ifdef _OPENMP
#include <omp.h>
#define SET_THREADS(n) omp_set_num_threads(n)
#else
#define SET_THREADS(n) ((void)0)
#endif

enum { MAXOUT = 1 << 22 };

/* a runner writes all its results into out (appending) and returns how many floats */
typedef size_t (*runner)(float *out);

static float *rnd(size_t n, uint64_t seed) {
  float *p = fbuf(n);
  fill_uniform(p, n, seed, -2, 2);
  return p;
}

static size_t r_rowwise(float *out) { /* layernorm, softmax, l2norm, gelu, relu, residual */
  int N = 64, C = 768;
  size_t n = (size_t)N * C, k = 0;
  float *x = rnd(n, 1), *w = rnd(C, 2), *b = rnd(C, 3), *dy = rnd(n, 4), *m = fbuf(N),
        *r = fbuf(N), *dw = fbuf(C), *db = fbuf(C);
  hp_layernorm_forward(out + k, m, r, x, w, b, N, C, 1e-5f);
  k += n;
  hp_layernorm_backward(out + k, dw, db, dy, x, w, m, r, N, C);
  k += n;
  memcpy(out + k, dw, C * sizeof(float)); k += C;
  memcpy(out + k, db, C * sizeof(float)); k += C;
  hp_softmax_forward(out + k, x, N, C);
  hp_softmax_backward(out + k + n, dy, out + k, N, C);
  k += 2 * n;
  hp_l2norm_forward(out + k, m, x, N, C, 1e-6f);
  hp_l2norm_backward(out + k + n, dy, out + k, m, N, C, 1e-6f);
  k += 2 * n;
  hp_gelu_forward(out + k, x, n);
  hp_gelu_backward(out + k + n, dy, x, n);
  k += 2 * n;
  hp_relu_forward(out + k, x, n);
  hp_relu_backward(out + k + n, dy, x, n);
  k += 2 * n;
  hp_residual_forward(out + k, x, dy, n);
  hp_residual_backward(out + k + n, NULL, dy, n);
  k += 2 * n;
  free(x); free(w); free(b); free(dy); free(m); free(r); free(dw); free(db);
  return k;
}

static size_t r_linear_embed_loss(float *out) {
  int N = 128, IC = 256, OC = 384, V = 100;
  size_t k = 0;
  float *x = rnd((size_t)N * IC, 1), *w = rnd((size_t)OC * IC, 2), *b = rnd(OC, 3),
        *dy = rnd((size_t)N * OC, 4);
  hp_linear_forward(out + k, x, w, b, N, IC, OC);
  k += (size_t)N * OC;
  hp_linear_backward(out + k, out + k + (size_t)N * IC, out + k + (size_t)N * IC + (size_t)OC * IC,
                     dy, x, w, N, IC, OC);
  k += (size_t)N * IC + (size_t)OC * IC + OC;
  int32_t *ids = malloc(N * sizeof(int32_t));
  for (int i = 0; i < N; i++) ids[i] = (i * 37) % V;
  hp_embedding_forward(out + k, ids, w, N, IC); /* w as a [V..,IC] table */
  k += (size_t)N * IC;
  hp_embedding_backward(out + k, x, ids, N, IC);
  k += (size_t)V * IC;
  hp_posembed_forward(out + k - (size_t)N * IC, x, 2, N / 2, IC);
  hp_posembed_backward(out + k, x, 2, N / 2, IC);
  k += (size_t)N / 2 * IC;
  /* cross-entropy over [N,OC] logits with some ignored rows */
  for (int i = 0; i < N; i++) ids[i] = i % 5 == 0 ? -100 : (i * 11) % OC;
  int cnt;
  double loss = hp_crossentropy_forward(out + k, NULL, &cnt, dy, ids, N, OC, -100);
  hp_crossentropy_backward(out + k + (size_t)N * OC, out + k, ids, N, OC, -100, cnt, 1.0f);
  k += 2 * (size_t)N * OC;
  memcpy(out + k, &loss, sizeof loss); /* the double's bytes, bitwise */
  k += 2;
  free(x); free(w); free(b); free(dy); free(ids);
  return k;
}

static size_t r_attention(float *out) {
  int B = 4, T = 16, C = 64, NH = 4;
  size_t nqkv = (size_t)B * T * 3 * C, ny = (size_t)B * T * C, na = (size_t)B * NH * T * T;
  float *qkv = rnd(nqkv, 1), *dy = rnd(ny, 2), *scr = fbuf(na);
  uint8_t kv[64];
  for (int i = 0; i < 64; i++) kv[i] = (uint8_t)(i % 16 < 12);
  hp_attention_forward(out, out + ny, qkv, kv, 1, B, T, C, NH);
  hp_attention_backward(out + ny + na, scr, dy, qkv, out + ny, B, T, C, NH);
  free(qkv); free(dy); free(scr);
  return ny + na + nqkv;
}

static size_t r_dropout(float *out) {
  size_t n = 200000;
  float *x = rnd(n, 1);
  hp_dropout_forward(out, x, n, 0.1f, 5, 6, 7);
  hp_dropout_backward(out + n, x, n, 0.1f, 5, 6, 7);
  free(x);
  return 2 * n;
}

static size_t r_conv_bn_pool(float *out) {
  int N = 4, H = 16, W = 16, C = 8, OC = 16, K = 3;
  size_t nx = (size_t)N * H * W * C, nw = (size_t)OC * K * K * C, ny = (size_t)N * H * W * OC;
  size_t cap = hp_conv2d_col_floats(H, W, C, K, K, 1, 1) * N, k = 0;
  float *x = rnd(nx, 1), *w = rnd(nw, 2), *b = rnd(OC, 3), *dy = rnd(ny, 4), *col = fbuf(cap);
  hp_conv2d_forward(out + k, x, w, b, col, cap, N, H, W, C, OC, K, K, 1, 1);
  k += ny;
  hp_conv2d_backward(out + k, out + k + nx, out + k + nx + nw, dy, x, w, col, cap, N, H, W, C,
                     OC, K, K, 1, 1);
  k += nx + nw + OC;
  /* batch norm on the conv-output shape */
  float *bw = rnd(OC, 5), *bb = rnd(OC, 6), *m = fbuf(OC), *r = fbuf(OC), *rm = fbuf(OC),
        *rv = fbuf(OC);
  hp_batchnorm_forward(out + k, m, r, rm, rv, dy, bw, bb, N * H * W, OC, 1e-5f, 0.1f, 1);
  k += ny;
  hp_batchnorm_backward(out + k, out + k + ny, out + k + ny + OC, x, dy, bw, m, r, N * H * W / 2,
                        OC, 1);
  k += ny + 2 * OC;
  /* pooling on the conv-output shape */
  int OH = hp_conv2d_out_size(H, 3, 2, 1), OW = hp_conv2d_out_size(W, 3, 2, 1);
  size_t np = (size_t)N * OH * OW * OC;
  int32_t *am = calloc(np, sizeof(int32_t));
  hp_maxpool2d_forward(out + k, am, dy, N, H, W, OC, 3, 3, 2, 1);
  hp_maxpool2d_backward(out + k + np, out + k, am, N, H, W, OC, OH, OW);
  k += np + ny;
  hp_avgpool2d_forward(out + k, dy, N, H, W, OC, 3, 3, 2, 1, 0);
  hp_avgpool2d_backward(out + k + np, out + k, N, H, W, OC, 3, 3, 2, 1, 0);
  k += np + ny;
  hp_global_avgpool_forward(out + k, dy, N, H, W, OC);
  hp_global_avgpool_backward(out + k + (size_t)N * OC, out + k, N, H, W, OC);
  k += (size_t)N * OC + ny;
  free(x); free(w); free(b); free(dy); free(col); free(bw); free(bb); free(m); free(r);
  free(rm); free(rv); free(am);
  return k;
}

static void compare(const char *name, runner run, double tol) {
  float *a = fbuf(MAXOUT), *b = fbuf(MAXOUT);
  SET_THREADS(1);
  size_t na = run(a);
  SET_THREADS(2);
  size_t nb = run(b);
  SET_THREADS(1);
  assert_true(na == nb && na <= MAXOUT);
  printf("  %-28s %zu values, 1 vs 2 threads\n", name, na);
  if (tol == 0.0) {
    if (memcmp(a, b, na * sizeof(float)) != 0) fail_msg("%s differs between thread counts", name);
  } else {
    double amax = 0.0, dmax = 0.0;
    for (size_t i = 0; i < na; i++) {
      amax = fmax(amax, fabs(a[i]));
      dmax = fmax(dmax, fabs((double)a[i] - b[i]));
    }
    if (dmax > tol * amax) fail_msg("%s differs between thread counts: %g (max |x| %g)", name, dmax, amax);
  }
  for (size_t i = 0; i < na; i++)
    if (isnan(a[i])) fail_msg("%s: NaN at %zu", name, i);
  free(a); free(b);
}

static void test_parallel_rowwise(void **s) { (void)s; compare("row-wise kernels", r_rowwise, 0.0); }
static void test_parallel_linear(void **s) {
  (void)s;
  compare("linear/embedding/loss", r_linear_embed_loss, 1e-5);
}
static void test_parallel_attention(void **s) { (void)s; compare("attention", r_attention, 0.0); }
static void test_parallel_dropout(void **s) { (void)s; compare("dropout", r_dropout, 0.0); }
static void test_parallel_conv(void **s) { (void)s; compare("conv/batchnorm/pool", r_conv_bn_pool, 1e-5); }

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parallel_rowwise),   cmocka_unit_test(test_parallel_linear),
      cmocka_unit_test(test_parallel_attention), cmocka_unit_test(test_parallel_dropout),
      cmocka_unit_test(test_parallel_conv),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
