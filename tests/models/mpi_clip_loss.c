/* mpi_clip_loss.c — the data-parallel contrastive loss at 1, 2, 3 ranks against a serial
 * double-precision reference computed here from its definition (checked by central finite
 * differences): loss, accuracies, every embedding gradient and d logit_scale. Uneven local
 * batches are covered too, and the label-aware soft targets (hp_clip_loss_set_targets) against
 * a reference target matrix built here from the label cosines. */
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
#include "models/clip_loss.h"

enum { E = 16 };

static void make_unit_rows(float *x, int N, uint64_t seed) {
  for (int i = 0; i < N; i++) {
    hp_rng r = hp_rng_make(seed, 99, (uint64_t)i);
    double nrm = 0;
    for (int e = 0; e < E; e++) {
      x[i * E + e] = (float)(hp_rng_uniform(&r) * 2 - 1);
      nrm += (double)x[i * E + e] * x[i * E + e];
    }
    for (int e = 0; e < E; e++) x[i * E + e] = (float)(x[i * E + e] / sqrt(nrm));
  }
}

/* Soft targets (train.soft_targets) from their definition: t_ij = cos(l_i, l_j) normalised over
 * j, one-hot for unlabelled rows. */
static void ref_targets(const unsigned char *lab, int N, int L, double *tg) {
  for (int i = 0; i < N; i++) {
    double ni = 0, sum = 0;
    for (int k = 0; k < L; k++) ni += lab[i * L + k];
    for (int j = 0; j < N; j++) {
      double nj = 0, d = 0;
      for (int k = 0; k < L; k++) {
        nj += lab[j * L + k];
        d += lab[i * L + k] * lab[j * L + k];
      }
      tg[i * N + j] = ni > 0 && nj > 0 ? d / sqrt(ni * nj) : 0;
      sum += tg[i * N + j];
    }
    for (int j = 0; j < N; j++) tg[i * N + j] = ni > 0 ? tg[i * N + j] / sum : (i == j);
  }
}

/* L(I,T,ls) in double from the definition; tg [N,N] targets or NULL (one-hot). */
static double ref_loss(const double *I, const double *T, int N, double ls, const double *tg) {
  double s = exp(ls), L = 0;
  for (int dir = 0; dir < 2; dir++)
    for (int i = 0; i < N; i++) {
      const double *q = dir ? T + i * E : I + i * E, *K = dir ? I : T;
      double mx = -1e300, lg[64];
      for (int j = 0; j < N; j++) {
        double d = 0;
        for (int e = 0; e < E; e++) d += q[e] * K[j * E + e];
        lg[j] = s * d;
        if (lg[j] > mx) mx = lg[j];
      }
      double z = 0;
      for (int j = 0; j < N; j++) z += exp(lg[j] - mx);
      if (!tg) {
        L += log(z) + mx - lg[i];
      } else {
        for (int j = 0; j < N; j++) L += tg[i * N + j] * (log(z) + mx - lg[j]);
      }
    }
  return L / (2.0 * N);
}

/* Analytic gradients in double. */
static void ref_grad(const double *I, const double *T, int N, double ls, const double *tg, double *dI, double *dT,
                     double *dls) {
  double s = exp(ls);
  memset(dI, 0, sizeof(double) * N * E);
  memset(dT, 0, sizeof(double) * N * E);
  *dls = 0;
  for (int dir = 0; dir < 2; dir++)
    for (int i = 0; i < N; i++) {
      const double *q = dir ? T + i * E : I + i * E, *K = dir ? I : T;
      double *dq = dir ? dT + i * E : dI + i * E, *dK = dir ? dI : dT;
      double lg[64], mx = -1e300, z = 0;
      for (int j = 0; j < N; j++) {
        double d = 0;
        for (int e = 0; e < E; e++) d += q[e] * K[j * E + e];
        lg[j] = s * d;
        if (lg[j] > mx) mx = lg[j];
      }
      for (int j = 0; j < N; j++) z += exp(lg[j] - mx);
      for (int j = 0; j < N; j++) {
        double g = (exp(lg[j] - mx) / z - (tg ? tg[i * N + j] : (double)(i == j))) / (2.0 * N);
        *dls += g * lg[j];
        for (int e = 0; e < E; e++) {
          dq[e] += g * s * K[j * E + e];
          dK[j * E + e] += g * s * q[e];
        }
      }
    }
}

/* soft: labels for the N rows (L = 3, some rows unlabelled, some sharing labels) and targets */
static void check_case_soft(const int *local_rows, int nranks_max, int soft) {
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  assert_true(size <= nranks_max);
  int N = 0, row0 = 0;
  for (int r = 0; r < size; r++) {
    if (r == rank) row0 = N;
    N += local_rows[r];
  }
  int B = local_rows[rank];
  float *I = calloc((size_t)N * E, 4), *T = calloc((size_t)N * E, 4);
  make_unit_rows(I, N, 1);
  make_unit_rows(T, N, 2);
  /* make pairs correlated so accuracies are not trivial */
  for (int k = 0; k < N * E; k++) T[k] = 0.6f * T[k] + 0.8f * I[k];
  double *Id = calloc((size_t)N * E, 8), *Td = calloc((size_t)N * E, 8), *dI = calloc((size_t)N * E, 8),
         *dT = calloc((size_t)N * E, 8);
  for (int k = 0; k < N * E; k++) { Id[k] = I[k]; Td[k] = T[k]; }
  const double ls = log(1.0 / 0.07);
  enum { NL = 3 };
  unsigned char *lab = calloc((size_t)N * NL, 1);
  double *tg = NULL;
  if (soft) {
    for (int i = 0; i < N; i++) /* row i: labels from the bits of i mod 6 (0 = unlabelled) */
      for (int k = 0; k < NL; k++) lab[i * NL + k] = (unsigned char)(((i % 6) >> k) & 1);
    tg = calloc((size_t)N * N, 8);
    ref_targets(lab, N, NL, tg);
  }
  double Lref = ref_loss(Id, Td, N, ls, tg), dls_ref;
  ref_grad(Id, Td, N, ls, tg, dI, dT, &dls_ref);

  /* the reference itself against central differences */
  for (int k = 0; k < N * E; k += 37) {
    double h = 1e-6, keep = Id[k];
    Id[k] = keep + h; double lp = ref_loss(Id, Td, N, ls, tg);
    Id[k] = keep - h; double lm = ref_loss(Id, Td, N, ls, tg);
    Id[k] = keep;
    assert_true(fabs((lp - lm) / (2 * h) - dI[k]) < 1e-6);
  }
  for (int k = 5; k < N * E; k += 41) { /* and a text gradient */
    double h = 1e-6, keep = Td[k];
    Td[k] = keep + h; double lp = ref_loss(Id, Td, N, ls, tg);
    Td[k] = keep - h; double lm = ref_loss(Id, Td, N, ls, tg);
    Td[k] = keep;
    assert_true(fabs((lp - lm) / (2 * h) - dT[k]) < 1e-6);
  }
  double lp = ref_loss(Id, Td, N, ls + 1e-6, tg), lm = ref_loss(Id, Td, N, ls - 1e-6, tg);
  assert_true(fabs((lp - lm) / 2e-6 - dls_ref) < 1e-6);

  hp_clip_loss_ws ws;
  assert_int_equal(hp_clip_loss_ws_init(&ws, MPI_COMM_WORLD, B, E), 0);
  assert_int_equal(ws.N, N);
  if (soft) assert_int_equal(hp_clip_loss_set_targets(&ws, lab, NL), 0);
  float *gI = calloc((size_t)(B ? B : 1) * E, 4), *gT = calloc((size_t)(B ? B : 1) * E, 4);
  hp_clip_loss_out out;
  assert_int_equal(hp_clip_loss(&ws, MPI_COMM_WORLD, I + (size_t)row0 * E, T + (size_t)row0 * E, (float)ls, gI, gT, &out), 0);
  assert_true(fabs(out.loss - Lref) < 1e-5 * fmax(1.0, Lref));
  double gmax = 0, err = 0;
  for (int b = 0; b < B; b++)
    for (int e = 0; e < E; e++) {
      size_t g = (size_t)(row0 + b) * E + e;
      gmax = fmax(gmax, fmax(fabs(dI[g]), fabs(dT[g])));
      err = fmax(err, fmax(fabs(gI[b * E + e] - dI[g]), fabs(gT[b * E + e] - dT[g])));
    }
  double all_err;
  MPI_Allreduce(&err, &all_err, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  if (rank == 0) printf("  %sN=%d ranks=%d loss %.6f (ref %.6f) max grad err %.2e (max |g| %.2e)\n", soft ? "soft targets " : "", N, size, out.loss, Lref, all_err, gmax);
  assert_true(err <= 1e-4 * fmax(gmax, 1e-3));
  double dls = 0;
  MPI_Allreduce(&out.dlogit_scale, &dls, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  assert_true(fabs(dls - dls_ref) < 1e-4 * fmax(1.0, fabs(dls_ref)));
  assert_true(out.acc_i2t > 0.5 && out.acc_i2t <= 1.0);

  /* evaluation mode: no gradients, same loss */
  hp_clip_loss_out out2;
  assert_int_equal(hp_clip_loss(&ws, MPI_COMM_WORLD, I + (size_t)row0 * E, T + (size_t)row0 * E, (float)ls, NULL, NULL, &out2), 0);
  assert_true(out2.loss == out.loss);
  if (soft) { /* labels = NULL restores the one-hot targets */
    assert_int_equal(hp_clip_loss_set_targets(&ws, NULL, NL), 0);
    assert_int_equal(hp_clip_loss(&ws, MPI_COMM_WORLD, I + (size_t)row0 * E, T + (size_t)row0 * E, (float)ls, NULL, NULL, &out2), 0);
    double L1 = ref_loss(Id, Td, N, ls, NULL);
    assert_true(fabs(out2.loss - L1) < 1e-5 * fmax(1.0, L1));
    assert_true(out2.loss < out.loss); /* the correlated pairs: one-hot is the easier target here */
  }
  hp_clip_loss_ws_free(&ws);
  free(lab);
  free(tg);
  free(I); free(T); free(Id); free(Td); free(dI); free(dT); free(gI); free(gT);
}

static void check_case(const int *local_rows, int nranks_max) { check_case_soft(local_rows, nranks_max, 0); }

static void test_soft(void **state) {
  (void)state;
  int rows[3] = {5, 0, 7}, size;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size == 1) rows[0] = 12;
  if (size == 2) { rows[0] = 4; rows[1] = 8; }
  check_case_soft(rows, 3, 1);
}

static void test_even(void **state) {
  (void)state;
  int rows[3] = {12, 12, 12};
  int size;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int even[3];
  for (int r = 0; r < 3; r++) even[r] = 12 / size;
  (void)rows;
  check_case(even, 3);
}

static void test_uneven(void **state) {
  (void)state;
  int rows[3] = {5, 0, 7}; /* a rank with no rows at all */
  int size;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size == 1) rows[0] = 9;
  if (size == 2) { rows[0] = 3; rows[1] = 8; }
  check_case(rows, 3);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_even), cmocka_unit_test(test_uneven),
                                     cmocka_unit_test(test_soft)};
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  MPI_Finalize();
  return rc;
}
