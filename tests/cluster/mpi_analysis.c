/* mpi_analysis.c — the ScaLAPACK analytics at 1, 2, 3 ranks against a serial computation in the
 * test: PCA (eigen-equation C v = lambda v with C the covariance computed here, unit and
 * orthogonal components, descending eigenvalues summing to the trace, projections), the
 * modality gap (centroid distance, cosine, variance share), and the linear probe (the ridge
 * normal equations solved here by Gaussian elimination give the same test accuracy). Shards are
 * uneven (rank 0 holds more rows). The covariance is formed from values rounded to 2^-24 of
 * their bound (analysis.c), so it matches the unrounded double one here to ~1e-7 relative; with
 * solver_ranks = 1 every output is bitwise equal to a one-process run (MPI_COMM_SELF) over all
 * rows, and a grid over all ranks (solver_ranks = 0) still passes the same accuracy checks. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <mpi.h>

#include "base/rng.h"
#include "cluster/analysis.h"

#define N 203
#define E 6
#define L 3

static float X[N * E], C2[N * E];
static uint8_t Y[N * L];
static int rank_, size_;

static void part(int64_t n, int64_t *r0, int64_t *cnt) {
  /* rank 0 takes half, the others share the rest */
  int64_t h = size_ == 1 ? n : n / 2;
  if (rank_ == 0) {
    *r0 = 0;
    *cnt = h;
  } else {
    int64_t m = n - h, per = m / (size_ - 1), extra = m % (size_ - 1), k = rank_ - 1;
    *r0 = h + k * per + (k < extra ? k : extra);
    *cnt = per + (k < extra);
  }
}

static void setup_data(void) {
  hp_rng r = hp_rng_make(5, 99, 0);
  for (int i = 0; i < N; i++) {
    for (int j = 0; j < E; j++) {
      X[i * E + j] = (float)(hp_rng_uniform(&r) * (j + 1) - 0.5 * (j + 1));
      C2[i * E + j] = (float)(hp_rng_uniform(&r) + (j == 0 ? 1.0 : 0.0));
    }
    /* labels from the first coordinate (separable), plus some multi-label rows */
    int c = X[i * E] < -0.2f ? 0 : X[i * E] < 0.2f ? 1 : 2;
    Y[i * L + c] = 1;
    if (i % 17 == 0) Y[i * L + (c + 1) % L] = 1;
    if (i % 29 == 0) memset(Y + i * L, 0, L); /* unlabelled */
  }
}

static void check_pca(int solver_ranks) {
  int64_t r0, n;
  part(N, &r0, &n);
  hp_pca p;
  assert_int_equal(hp_pca_run(MPI_COMM_WORLD, X + r0 * E, n, E, solver_ranks, &p), 0);
  double mean[E] = {0}, C[E * E] = {0};
  for (int i = 0; i < N; i++)
    for (int j = 0; j < E; j++) mean[j] += X[i * E + j] / (double)N;
  for (int i = 0; i < N; i++)
    for (int a = 0; a < E; a++)
      for (int b = 0; b < E; b++) C[a * E + b] += (X[i * E + a] - mean[a]) * (X[i * E + b] - mean[b]) / N;
  double tr = 0, se = 0;
  for (int j = 0; j < E; j++) tr += C[j * E + j], se += p.eig[j];
  assert_true(fabs(tr - se) < 1e-6 * tr);
  assert_true(fabs(p.total - tr) < 1e-6 * tr);
  for (int j = 1; j < E; j++) assert_true(p.eig[j - 1] >= p.eig[j]);
  for (int c = 0; c < 3; c++) {
    const double *v = p.components + c * E;
    double nv = 0, res = 0;
    for (int a = 0; a < E; a++) {
      double cv = 0;
      for (int b = 0; b < E; b++) cv += C[a * E + b] * v[b];
      res += (cv - p.eig[c] * v[a]) * (cv - p.eig[c] * v[a]);
      nv += v[a] * v[a];
    }
    assert_true(fabs(nv - 1) < 1e-12);
    assert_true(sqrt(res) < 1e-6 * p.eig[0]);
    for (int d = 0; d < c; d++) {
      double dot = 0;
      for (int a = 0; a < E; a++) dot += v[a] * p.components[d * E + a];
      assert_true(fabs(dot) < 1e-10);
    }
    for (int64_t i = 0; i < n; i++) {
      double pr = 0;
      for (int a = 0; a < E; a++) pr += (X[(r0 + i) * E + a] - mean[a]) * v[a];
      assert_true(fabs(pr - p.proj[i * 3 + c]) < 1e-6);
    }
  }
  hp_pca_free(&p);
}

static void test_pca(void **state) {
  (void)state;
  check_pca(1);
  check_pca(0);
}

/* solver_ranks = 1: the same bits as one process holding every row */
static void test_pca_bitwise(void **state) {
  (void)state;
  int64_t r0, n;
  part(N, &r0, &n);
  hp_pca p, s;
  assert_int_equal(hp_pca_run(MPI_COMM_WORLD, X + r0 * E, n, E, 1, &p), 0);
  assert_int_equal(hp_pca_run(MPI_COMM_SELF, X, N, E, 1, &s), 0);
  assert_memory_equal(p.eig, s.eig, E * sizeof(double));
  assert_memory_equal(p.components, s.components, 3 * E * sizeof(double));
  assert_memory_equal(&p.total, &s.total, sizeof(double));
  assert_memory_equal(p.proj, s.proj + r0 * 3, (size_t)n * 3 * sizeof(double));
  hp_pca_free(&p);
  hp_pca_free(&s);
}

/* E = 2 < 3 ranks: a process row of the BLACS grid holds no rows of the covariance */
static void test_pca_tiny_dim(void **state) {
  (void)state;
  int64_t r0, n;
  part(N, &r0, &n);
  float *x2 = malloc((size_t)(n > 0 ? n : 1) * 2 * sizeof(float));
  double m0 = 0, m1 = 0, c00 = 0, c01 = 0, c11 = 0;
  for (int i = 0; i < N; i++) m0 += X[i * E] / (double)N, m1 += X[i * E + 1] / (double)N;
  for (int i = 0; i < N; i++) {
    double a = X[i * E] - m0, b = X[i * E + 1] - m1;
    c00 += a * a / N, c01 += a * b / N, c11 += b * b / N;
  }
  for (int64_t i = 0; i < n; i++) x2[2 * i] = X[(r0 + i) * E], x2[2 * i + 1] = X[(r0 + i) * E + 1];
  hp_pca p;
  double tr = c00 + c11, det = c00 * c11 - c01 * c01, disc = sqrt(tr * tr / 4 - det);
  for (int sr = 0; sr <= 1; sr++) { /* every rank in the grid (one holds no rows at 3 ranks), then one */
    assert_int_equal(hp_pca_run(MPI_COMM_WORLD, x2, n, 2, sr, &p), 0);
    assert_true(fabs(p.eig[0] - (tr / 2 + disc)) < 1e-7 * tr);
    assert_true(fabs(p.eig[1] - (tr / 2 - disc)) < 1e-7 * tr);
    const double *v = p.components;
    assert_true(fabs(c00 * v[0] + c01 * v[1] - p.eig[0] * v[0]) < 1e-7 * tr);
    assert_true(fabs(c01 * v[0] + c11 * v[1] - p.eig[0] * v[1]) < 1e-7 * tr);
    hp_pca_free(&p);
  }
  free(x2);
}

static void test_gap(void **state) {
  (void)state;
  int64_t r0, n, c0, m;
  part(N, &r0, &n);
  part(N - 50, &c0, &m); /* fewer captions than images */
  hp_gap g;
  assert_int_equal(hp_gap_run(MPI_COMM_WORLD, X + r0 * E, n, C2 + c0 * E, m, E, &g), 0);
  assert_int_equal(g.n_images, N);
  assert_int_equal(g.n_captions, N - 50);
  double mi[E] = {0}, mc[E] = {0}, mp[E], u[E], gg = 0, ii = 0, cc = 0, ic = 0;
  for (int i = 0; i < N; i++)
    for (int j = 0; j < E; j++) mi[j] += X[i * E + j] / (double)N;
  for (int i = 0; i < N - 50; i++)
    for (int j = 0; j < E; j++) mc[j] += C2[i * E + j] / (double)(N - 50);
  for (int j = 0; j < E; j++) {
    u[j] = mi[j] - mc[j];
    gg += u[j] * u[j];
    ii += mi[j] * mi[j];
    cc += mc[j] * mc[j];
    ic += mi[j] * mc[j];
    mp[j] = (N * mi[j] + (N - 50) * mc[j]) / (2 * N - 50);
  }
  double along = 0, tot = 0;
  for (int r = 0; r < 2 * N - 50; r++) {
    const float *x = r < N ? X + r * E : C2 + (r - N) * E;
    double pr = 0;
    for (int j = 0; j < E; j++) {
      pr += (x[j] - mp[j]) * u[j] / sqrt(gg);
      tot += (x[j] - mp[j]) * (x[j] - mp[j]);
    }
    along += pr * pr;
  }
  assert_true(fabs(g.gap - sqrt(gg)) < 1e-12);
  assert_true(fabs(g.cosine - ic / sqrt(ii * cc)) < 1e-12);
  assert_true(fabs(g.share - along / tot) < 1e-12);
}

static void test_probe(void **state) {
  (void)state;
  /* train rows [0, 150), test rows [150, N) */
  int64_t r0, n, t0, m;
  part(150, &r0, &n);
  part(N - 150, &t0, &m);
  hp_probe p, p0, ps;
  double ridge = 0.5;
  assert_int_equal(hp_probe_run(MPI_COMM_WORLD, X + r0 * E, Y + r0 * L, n, X + (150 + t0) * E, Y + (150 + t0) * L, m,
                                E, L, ridge, 1, &p),
                   0);
  assert_int_equal(hp_probe_run(MPI_COMM_WORLD, X + r0 * E, Y + r0 * L, n, X + (150 + t0) * E, Y + (150 + t0) * L, m,
                                E, L, ridge, 0, &p0),
                   0);
  assert_int_equal(hp_probe_run(MPI_COMM_SELF, X, Y, 150, X + 150 * E, Y + 150 * L, N - 150, E, L, ridge, 1, &ps), 0);
  assert_memory_equal(&p, &ps, sizeof p);
  assert_memory_equal(&p0, &ps, sizeof p);
  /* serial: A = X^T X + ridge I (bias column included), B = X^T Y; Gaussian elimination */
  enum { W = E + 1 };
  double A[W * W] = {0}, B[W * L] = {0};
  int ntr = 0;
  for (int i = 0; i < 150; i++) {
    if (!Y[i * L] && !Y[i * L + 1] && !Y[i * L + 2]) continue;
    ntr++;
    double z[W];
    for (int j = 0; j < E; j++) z[j] = X[i * E + j];
    z[E] = 1;
    for (int a = 0; a < W; a++) {
      for (int b = 0; b < W; b++) A[a * W + b] += z[a] * z[b];
      for (int c = 0; c < L; c++) B[a * L + c] += z[a] * Y[i * L + c];
    }
  }
  for (int a = 0; a < W; a++) A[a * W + a] += ridge;
  for (int k = 0; k < W; k++)
    for (int i = k + 1; i < W; i++) {
      double f = A[i * W + k] / A[k * W + k];
      for (int j = k; j < W; j++) A[i * W + j] -= f * A[k * W + j];
      for (int c = 0; c < L; c++) B[i * L + c] -= f * B[k * L + c];
    }
  for (int k = W - 1; k >= 0; k--)
    for (int c = 0; c < L; c++) {
      double s = B[k * L + c];
      for (int j = k + 1; j < W; j++) s -= A[k * W + j] * B[j * L + c];
      B[k * L + c] = s / A[k * W + k];
    }
  int nte = 0, hit = 0;
  for (int i = 150; i < N; i++) {
    if (!Y[i * L] && !Y[i * L + 1] && !Y[i * L + 2]) continue;
    nte++;
    int best = 0;
    double bs = -1e300;
    for (int c = 0; c < L; c++) {
      double s = B[E * L + c];
      for (int j = 0; j < E; j++) s += X[i * E + j] * B[j * L + c];
      if (s > bs) bs = s, best = c;
    }
    hit += Y[i * L + best];
  }
  assert_int_equal(p.n_train, ntr);
  assert_int_equal(p.n_test, nte);
  assert_true(fabs(p.accuracy - (double)hit / nte) < 1e-15);
  assert_true(p.accuracy > 0.6); /* separable by the first coordinate: well above chance */
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  setup_data();
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_pca), cmocka_unit_test(test_pca_bitwise), cmocka_unit_test(test_pca_tiny_dim), cmocka_unit_test(test_gap), cmocka_unit_test(test_probe)};
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  MPI_Finalize();
  return rc;
}
