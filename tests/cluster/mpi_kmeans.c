/* mpi_kmeans.c — k-means, elbow and cluster quality at 1, 2, 3 ranks.
 *  - against scikit-learn (tests/data/cluster/fixture.txt from
 *    tests/fixtures/make_cluster_fixtures.py):
 *    Lloyd from the same initial centres gives the same labels and inertia; WCSS, BCSS,
 *    Calinski-Harabasz and the exact silhouette of two labelings match within 1e-4 (relative);
 *  - rank-count independence: k-means++ + Lloyd, WCSS/BCSS and exact and sampled silhouettes
 *    over MPI_COMM_WORLD equal, bitwise, the same computed by each rank alone on all rows
 *    (MPI_COMM_SELF); uneven shards (one rank with no rows) too;
 *  - the exact sum is exact where doubles would round; the elbow of known curves. */
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
#include "cluster/kmeans.h"
#include "comm/shard.h"

typedef struct {
  int64_t N, E, K, K2;
  float *x;
  double *init, inertia, q[2][4];
  int64_t *lab1, *lab2;
} fixture;

static fixture fx;

static void load(void) {
  const char *dir = getenv("HP_TEST_DATA");
  char path[4096];
  snprintf(path, sizeof path, "%s/cluster/fixture.txt", dir ? dir : "tests/data");
  FILE *f = fopen(path, "r");
  if (!f) fail_msg("cannot open %s", path);
  assert_int_equal(fscanf(f, "%ld %ld %ld", &fx.N, &fx.E, &fx.K), 3);
  fx.x = malloc((size_t)(fx.N * fx.E) * sizeof(float));
  fx.init = malloc((size_t)(fx.K * fx.E) * sizeof(double));
  fx.lab1 = malloc((size_t)fx.N * sizeof(int64_t));
  fx.lab2 = malloc((size_t)fx.N * sizeof(int64_t));
  for (int64_t i = 0; i < fx.N * fx.E; i++) assert_int_equal(fscanf(f, "%f", &fx.x[i]), 1);
  for (int64_t i = 0; i < fx.K * fx.E; i++) assert_int_equal(fscanf(f, "%lf", &fx.init[i]), 1);
  for (int64_t i = 0; i < fx.N; i++) assert_int_equal(fscanf(f, "%ld", &fx.lab1[i]), 1);
  assert_int_equal(fscanf(f, "%lf %ld", &fx.inertia, &fx.K2), 2);
  for (int64_t i = 0; i < fx.N; i++) assert_int_equal(fscanf(f, "%ld", &fx.lab2[i]), 1);
  for (int c = 0; c < 2; c++)
    for (int j = 0; j < 4; j++) assert_int_equal(fscanf(f, "%lf", &fx.q[c][j]), 1);
  fclose(f);
}

static void near(double got, double want, const char *what) {
  double rel = fabs(got - want) / (fabs(want) > 1 ? fabs(want) : 1);
  if (rel > 1e-4) fail_msg("%s: %.10g, scikit-learn %.10g", what, got, want);
}

/* this rank's shard of the fixture (uneven = rank 0 gets nothing when size > 1) */
static void shard(MPI_Comm comm, int uneven, int64_t *r0, int64_t *n) {
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  if (uneven && size > 1) {
    if (rank == 0) *r0 = 0, *n = 0;
    else hp_shard_range(fx.N, size - 1, rank - 1, r0, n);
  } else
    hp_shard_range(fx.N, size, rank, r0, n);
}

static void test_against_sklearn(void **state) {
  (void)state;
  int64_t r0, n;
  shard(MPI_COMM_WORLD, 0, &r0, &n);
  hp_km_data d;
  assert_int_equal(hp_km_data_init(MPI_COMM_WORLD, fx.x + r0 * fx.E, n, fx.E, &d), 0);
  assert_int_equal(d.N, fx.N);
  hp_km_opts o = {.k = (int)fx.K, .max_iter = 300, .tol = 0, .seed = 1};
  hp_km_result r;
  assert_int_equal(hp_kmeans(&d, &o, fx.init, &r), 0);
  assert_true(r.converged);
  for (int64_t i = 0; i < n; i++) assert_int_equal(r.label[i], fx.lab1[r0 + i]);
  near(r.wcss, fx.inertia, "inertia");
  for (int c = 0; c < 2; c++) {
    const int64_t *lab = c == 0 ? fx.lab1 : fx.lab2;
    int k = c == 0 ? (int)fx.K : (int)fx.K2;
    hp_km_quality q;
    assert_int_equal(hp_km_sums_of_squares(&d, k, lab + r0, &q), 0);
    near(q.wcss, fx.q[c][0], "WCSS");
    near(q.bcss, fx.q[c][1], "BCSS");
    near(q.ch, fx.q[c][2], "Calinski-Harabasz");
    near(q.wcss + q.bcss, q.tss, "WCSS + BCSS = TSS");
    double s;
    int64_t used;
    assert_int_equal(hp_km_silhouette(&d, k, lab + r0, 0, 1, &s, &used), 0);
    assert_int_equal(used, fx.N);
    near(s, fx.q[c][3], "silhouette");
  }
  hp_km_result_free(&r);
  hp_km_data_free(&d);
}

typedef struct {
  double wcss, sw, sb, sil, sil_s;
  int iters;
  int64_t labels_hash;
  double centers_sum;
} summary;

static void run_all(MPI_Comm comm, int uneven, int k, summary *s) {
  int64_t r0, n;
  shard(comm, uneven, &r0, &n);
  hp_km_data d;
  assert_int_equal(hp_km_data_init(comm, fx.x + r0 * fx.E, n, fx.E, &d), 0);
  hp_km_opts o = {.k = k, .max_iter = 100, .tol = 1e-6, .seed = 42};
  hp_km_result r;
  assert_int_equal(hp_kmeans(&d, &o, NULL, &r), 0);
  s->wcss = r.wcss;
  s->iters = r.iters;
  int64_t h = 0;
  for (int64_t i = 0; i < n; i++) h += (r0 + i + 1) * (r.label[i] + 1);
  MPI_Allreduce(&h, &s->labels_hash, 1, MPI_INT64_T, MPI_SUM, comm);
  s->centers_sum = 0;
  for (int64_t t = 0; t < k * fx.E; t++) s->centers_sum += r.centers[t] * (double)(t + 1);
  hp_km_quality q;
  assert_int_equal(hp_km_sums_of_squares(&d, k, r.label, &q), 0);
  s->sw = q.wcss;
  s->sb = q.bcss;
  int64_t used;
  assert_int_equal(hp_km_silhouette(&d, k, r.label, 0, 9, &s->sil, &used), 0);
  assert_int_equal(hp_km_silhouette(&d, k, r.label, 97, 9, &s->sil_s, &used), 0);
  assert_int_equal(used, 97);
  hp_km_result_free(&r);
  hp_km_data_free(&d);
}

static void test_rank_independent(void **state) {
  (void)state;
  for (int uneven = 0; uneven < 2; uneven++)
    for (int k = 2; k <= 11; k += 9) {
      summary a, b;
      memset(&a, 0, sizeof a);
      memset(&b, 0, sizeof b);
      run_all(MPI_COMM_WORLD, uneven, k, &a);
      run_all(MPI_COMM_SELF, 0, k, &b);
      assert_int_equal(a.labels_hash, b.labels_hash);
      assert_int_equal(a.iters, b.iters);
      assert_memory_equal(&a, &b, sizeof a);
    }
}

static void test_xsum(void **state) {
  (void)state;
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  /* 1e16 + 1 - 1e16 on some rank: a double sum gives 0 or 2, the exact sum 1 per rank */
  double v[3] = {1e16, 1.0, -1e16};
  double s;
  assert_int_equal(hp_xsum(MPI_COMM_WORLD, v, 3, &s), 0);
  assert_true(s == (double)size);
  double z = 0;
  assert_int_equal(hp_xsum(MPI_COMM_WORLD, &z, rank == 0 ? 1 : 0, &s), 0);
  assert_true(s == 0);
}

static void test_elbow(void **state) {
  (void)state;
  int64_t K[6] = {2, 4, 6, 8, 10, 12};
  double w[6] = {100, 40, 20, 17, 15, 14}; /* bends at K = 6 */
  assert_int_equal(hp_km_elbow(K, w, 6), 2);
  double lin[6] = {60, 50, 40, 30, 20, 10}; /* straight: every distance 0 -> first */
  assert_int_equal(hp_km_elbow(K, lin, 6), 0);
  assert_int_equal(hp_km_elbow(K, w, 2), 0);
}

static void test_bad_k(void **state) {
  (void)state;
  int64_t r0, n;
  shard(MPI_COMM_WORLD, 0, &r0, &n);
  hp_km_data d;
  assert_int_equal(hp_km_data_init(MPI_COMM_WORLD, fx.x + r0 * fx.E, n, fx.E, &d), 0);
  hp_km_opts o = {.k = (int)fx.N + 1, .max_iter = 10, .tol = 0, .seed = 1};
  hp_km_result r;
  assert_int_equal(hp_kmeans(&d, &o, NULL, &r), HP_ERR_CONFIG);
  assert_non_null(strstr(hp_error_message(), "k = 301"));
  hp_error_clear();
  hp_km_data_free(&d);
}

static void test_empty_cluster_repair(void **state) {
  (void)state;
  int64_t r0, n;
  shard(MPI_COMM_WORLD, 0, &r0, &n);
  hp_km_data d;
  assert_int_equal(hp_km_data_init(MPI_COMM_WORLD, fx.x + r0 * fx.E, n, fx.E, &d), 0);
  /* two identical initial centres far away from everything: both empty at first */
  double *init = calloc((size_t)(5 * fx.E), sizeof(double));
  memcpy(init, fx.init, (size_t)(4 * fx.E) * sizeof(double));
  for (int64_t j = 0; j < fx.E; j++) init[3 * fx.E + j] = init[4 * fx.E + j] = 1e3;
  hp_km_opts o = {.k = 5, .max_iter = 100, .tol = 0, .seed = 1};
  hp_km_result r;
  assert_int_equal(hp_kmeans(&d, &o, init, &r), 0);
  assert_true(r.repaired >= 2);
  for (int c = 0; c < 5; c++) assert_true(r.counts[c] > 0);
  free(init);
  hp_km_result_free(&r);
  hp_km_data_free(&d);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  load();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_against_sklearn), cmocka_unit_test(test_rank_independent),
      cmocka_unit_test(test_xsum),            cmocka_unit_test(test_elbow),
      cmocka_unit_test(test_bad_k),           cmocka_unit_test(test_empty_cluster_repair),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  free(fx.x);
  free(fx.init);
  free(fx.lab1);
  free(fx.lab2);
  MPI_Finalize();
  return rc;
}
