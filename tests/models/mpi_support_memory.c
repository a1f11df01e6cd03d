/* mpi_support_memory.c — the support-memory projection (hp_support_project) at 1, 2, 3 ranks:
 * against a direct single-process double computation of its definition, bitwise equality
 * across shardings (the all-rows result on MPI_COMM_SELF is computed on every rank), the
 * fallback (no positive similarity), renormalisation, a memory beyond 2^18 rows (smaller bit
 * budget) and the error cases.
 *
 * Tolerance: the projection's error bound (docs/captioning.md) is
 *   Amax 2^-b + 2 Amax n_pos (Wmax 2^-a + d 2^-24 Wmax) / sum_i r_i
 * with a, b >= 21 here; the test data (unit rows, about half the similarities positive) keep it
 * below 1e-5, the tolerance used. */
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

#include "base/error.h"
#include "base/rng.h"
#include "comm/shard.h"
#include "models/support_memory.h"

#define TOL 1e-5

static void make_rows(float *x, int64_t n, int d, uint64_t seed, int positive) {
  for (int64_t i = 0; i < n; i++) {
    hp_rng r = hp_rng_make(seed, 77, (uint64_t)i);
    double nrm = 0;
    for (int e = 0; e < d; e++) {
      double u = hp_rng_uniform(&r) * 2 - 1;
      if (positive) u = fabs(u);
      x[i * d + e] = (float)u;
      nrm += u * u;
    }
    for (int e = 0; e < d; e++) x[i * d + e] = (float)(x[i * d + e] / sqrt(nrm));
  }
}

/* the definition, in double, one process */
static void reference(const float *mem, int64_t N, int d, const float *v, int64_t nq, int renorm,
                      double *out, int *fallback) {
  for (int64_t q = 0; q < nq; q++) {
    double den = 0, *o = out + q * d;
    for (int j = 0; j < d; j++) o[j] = 0;
    for (int64_t i = 0; i < N; i++) {
      double s = 0;
      for (int j = 0; j < d; j++) s += (double)mem[i * d + j] * v[q * d + j];
      if (s <= 0) continue;
      den += s;
      for (int j = 0; j < d; j++) o[j] += s * mem[i * d + j];
    }
    fallback[q] = den == 0;
    double nrm = 0;
    for (int j = 0; j < d; j++) {
      o[j] = den > 0 ? o[j] / den : v[q * d + j];
      nrm += o[j] * o[j];
    }
    if (renorm && nrm > 0)
      for (int j = 0; j < d; j++) o[j] /= sqrt(nrm);
  }
}

static int world_rank(void) {
  int r;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
static int world_size(void) {
  int s;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

/* this rank's rows [*r0, *r0 + *cnt) under sharding `kind` (0 balanced, 1 uneven, rank 0 none) */
static void shard(int kind, int64_t N, int64_t *r0, int64_t *cnt) {
  int size = world_size(), rank = world_rank();
  if (kind == 0 || size == 1) {
    hp_shard_range(N, size, rank, r0, cnt);
    return;
  }
  /* rank 0 nothing; rank 1 a third plus 37; the rest to the others */
  int64_t b[4] = {0, 0, N / 3 + 37, N};
  if (b[2] > N) b[2] = N;
  if (size == 2) b[2] = N;
  *r0 = rank == 0 ? 0 : b[rank];
  *cnt = rank == 0 ? 0 : b[rank + 1] - b[rank];
}

static void run_case(int64_t N, int d, int64_t nq, uint64_t seed) {
  float *mem = malloc((size_t)(N * d) * sizeof *mem), *v = malloc((size_t)(nq * d) * sizeof *v);
  make_rows(mem, N, d, seed, 0);
  make_rows(v, nq, d, seed + 1, 0);
  double *ref = malloc((size_t)(nq * d) * sizeof *ref);
  int *fb = malloc((size_t)nq * sizeof *fb);
  float *o_self = malloc((size_t)(nq * d) * sizeof(float)), *o_w = malloc((size_t)(nq * d) * sizeof(float));
  for (int renorm = 0; renorm <= 1; renorm++) {
    reference(mem, N, d, v, nq, renorm, ref, fb);
    int64_t nf = -1;
    assert_int_equal(hp_support_project(MPI_COMM_SELF, mem, N, d, v, nq, renorm, o_self, &nf), 0);
    int64_t nfr = 0;
    for (int64_t q = 0; q < nq; q++) nfr += fb[q];
    assert_int_equal(nf, nfr);
    double err = 0;
    for (int64_t k = 0; k < nq * d; k++)
      if (fabs(o_self[k] - ref[k]) > err) err = fabs(o_self[k] - ref[k]);
    if (world_rank() == 0) print_message("N=%lld d=%d nq=%lld renorm=%d: max |out - double reference| = %.3g\n", (long long)N, d, (long long)nq, renorm, err);
    assert_true(err < TOL);
    for (int kind = 0; kind <= 1; kind++) {
      int64_t r0, cnt;
      shard(kind, N, &r0, &cnt);
      memset(o_w, 0xff, (size_t)(nq * d) * sizeof(float));
      int64_t nfw = -1;
      assert_int_equal(hp_support_project(MPI_COMM_WORLD, mem + r0 * d, cnt, d, v, nq, renorm, o_w, &nfw), 0);
      assert_int_equal(nfw, nf);
      if (memcmp(o_w, o_self, (size_t)(nq * d) * sizeof(float)) != 0)
        fail_msg("sharding %d on %d ranks differs from the one-process result (N=%lld)", kind, world_size(), (long long)N);
    }
  }
  free(mem);
  free(v);
  free(ref);
  free(fb);
  free(o_self);
  free(o_w);
}

static void test_reference_and_shardings(void **state) {
  (void)state;
  run_case(1000, 24, 300, 11); /* 4 tiles, 3 query blocks */
  run_case(7, 5, 3, 12);       /* less than one tile */
}

/* 270000 rows > 2^18: the bit budget drops to 43 */
static void test_large_memory(void **state) {
  (void)state;
  run_case(270000, 6, 4, 13);
}

static void test_fallback(void **state) {
  (void)state;
  enum { N = 50, D = 8, NQ = 3 };
  float mem[N * D], v[NQ * D], out[NQ * D];
  make_rows(mem, N, D, 21, 1); /* every row in the positive orthant */
  make_rows(v, NQ, D, 22, 1);
  for (int j = 0; j < D; j++) {
    v[0 * D + j] = -2.0f * v[0 * D + j]; /* every similarity negative */
    v[2 * D + j] = 0;                    /* every similarity zero */
  }
  int64_t r0, cnt;
  shard(1, N, &r0, &cnt);
  for (int renorm = 0; renorm <= 1; renorm++) {
    int64_t nf = -1;
    assert_int_equal(hp_support_project(MPI_COMM_WORLD, mem + r0 * D, cnt, D, v, NQ, renorm, out, &nf), 0);
    assert_int_equal(nf, 2);
    double nrm = 0;
    for (int j = 0; j < D; j++) nrm += (double)v[j] * v[j];
    for (int j = 0; j < D; j++) {
      if (renorm)
        assert_true(fabs(out[j] - v[j] / sqrt(nrm)) < 1e-6);
      else
        assert_true(out[j] == v[j]);
      assert_true(out[2 * D + j] == 0);
    }
    /* query 1 is a proper weighted mean of positive rows: all coordinates positive */
    for (int j = 0; j < D; j++) assert_true(out[1 * D + j] > 0);
  }
  /* n_fallback may be NULL */
  assert_int_equal(hp_support_project(MPI_COMM_WORLD, mem + r0 * D, cnt, D, v, NQ, 0, out, NULL), 0);
}

static void expect_err(int got, int want, const char *needle) {
  assert_int_equal(got, want);
  if (!strstr(hp_error_message(), needle)) fail_msg("message '%s' lacks '%s'", hp_error_message(), needle);
  hp_error_clear();
}

static void test_errors(void **state) {
  (void)state;
  enum { N = 20, D = 4 };
  float mem[N * D], v[2 * D], out[2 * D];
  make_rows(mem, N, D, 31, 0);
  make_rows(v, 2, D, 32, 0);
  int64_t r0, cnt;
  shard(0, N, &r0, &cnt);
  const float *m = mem + r0 * D;
  hp_error_clear();
  expect_err(hp_support_project(MPI_COMM_WORLD, m, cnt, 0, v, 2, 0, out, NULL), HP_ERR_INTERNAL, "d = 0");
  expect_err(hp_support_project(MPI_COMM_WORLD, m, cnt, D, v, -1, 0, out, NULL), HP_ERR_INTERNAL, "-1 queries");
  expect_err(hp_support_project(MPI_COMM_WORLD, m, -2, D, v, 2, 0, out, NULL), HP_ERR_INTERNAL, "-2 local");
  expect_err(hp_support_project(MPI_COMM_WORLD, NULL, 3, D, v, 2, 0, out, NULL), HP_ERR_INTERNAL, "NULL memory");
  expect_err(hp_support_project(MPI_COMM_WORLD, m, cnt, D, NULL, 2, 0, out, NULL), HP_ERR_INTERNAL, "NULL queries");
  expect_err(hp_support_project(MPI_COMM_WORLD, m, cnt, D, v, 2, 0, NULL, NULL), HP_ERR_INTERNAL, "NULL output");
  /* collective input errors: every rank gets them */
  expect_err(hp_support_project(MPI_COMM_WORLD, m, 0, D, v, 2, 0, out, NULL), HP_ERR_INPUT, "support memory is empty");
  float bad[N * D];
  memcpy(bad, mem, sizeof bad);
  bad[(N - 1) * D + 1] = NAN; /* the last row: on the last rank only */
  expect_err(hp_support_project(MPI_COMM_WORLD, bad + r0 * D, cnt, D, v, 2, 0, out, NULL), HP_ERR_INPUT, "NaN or Inf");
  float vb[2 * D];
  memcpy(vb, v, sizeof vb);
  vb[D + 2] = INFINITY;
  expect_err(hp_support_project(MPI_COMM_WORLD, m, cnt, D, vb, 2, 0, out, NULL), HP_ERR_INPUT, "query 1");
  /* no queries: fine, nothing written */
  assert_int_equal(hp_support_project(MPI_COMM_WORLD, m, cnt, D, v, 0, 0, out, NULL), 0);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_reference_and_shardings), cmocka_unit_test(test_large_memory),
                                     cmocka_unit_test(test_fallback), cmocka_unit_test(test_errors)};
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  MPI_Finalize();
  return rc;
}
