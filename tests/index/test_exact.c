/* test_exact.c — exact index top-k against a brute-force reference: integer-valued vectors make
 * every dot product exact in float, so scores are compared bitwise and ties (many, by design)
 * must be broken by the smaller global id; tile sizes, several shards, k > n, n = 0, bad input. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <mpi.h>

#include "base/error.h"
#include "base/rng.h"
#include "index/index.h"

typedef struct {
  double s;
  int64_t id;
} ref_hit;

static int ref_cmp(const void *a, const void *b) {
  const ref_hit *x = a, *y = b;
  if (x->s != y->s) return x->s > y->s ? -1 : 1;
  return x->id < y->id ? -1 : (x->id > y->id);
}

/* Integer entries in [-2, 2]: dot products are small integers, exact in float. */
static void fill_int(float *v, int64_t n, uint64_t key) {
  hp_rng r = hp_rng_make(42, 100, key);
  for (int64_t i = 0; i < n; i++) v[i] = (float)((int)hp_rng_below(&r, 5) - 2);
}

static void brute(const float *x, const int64_t *ids, int64_t n, int64_t d, const float *q,
                  int64_t nq, int k, int64_t *oid, float *os) {
  ref_hit *all = malloc((size_t)(n ? n : 1) * sizeof *all);
  for (int64_t i = 0; i < nq; i++) {
    for (int64_t j = 0; j < n; j++) {
      double s = 0;
      for (int64_t e = 0; e < d; e++) s += (double)q[i * d + e] * x[j * d + e];
      all[j].s = s;
      all[j].id = ids[j];
    }
    qsort(all, (size_t)n, sizeof *all, ref_cmp);
    for (int j = 0; j < k; j++) {
      oid[i * k + j] = j < n ? all[j].id : -1;
      os[i * k + j] = j < n ? (float)all[j].s : -INFINITY;
    }
  }
  free(all);
}

static void run_case(int64_t n, int64_t d, int64_t nq, int k, int64_t tq, int64_t tn, int nshards) {
  float *x = malloc((size_t)(n * d + 1) * sizeof *x), *q = malloc((size_t)(nq * d + 1) * sizeof *q);
  int64_t *ids = malloc((size_t)(n + 1) * sizeof *ids);
  fill_int(x, n * d, 1);
  fill_int(q, nq * d, 2);
  for (int64_t i = 0; i < n; i++) ids[i] = 3 * (n - i) + 7; /* ids decrease with the row */
  /* duplicated rows: exact ties on every query */
  for (int64_t i = 1; i < n; i += 5) memcpy(x + i * d, x + (i - 1) * d, (size_t)d * sizeof *x);
  int64_t *rid = malloc((size_t)(nq * k) * sizeof *rid), *gid = malloc((size_t)(nq * k) * sizeof *gid);
  float *rs = malloc((size_t)(nq * k) * sizeof *rs), *gs = malloc((size_t)(nq * k) * sizeof *gs);
  brute(x, ids, n, d, q, nq, k, rid, rs);

  hp_index_params p;
  hp_index_params_default(&p, HP_INDEX_EXACT, d);
  p.tile_q = tq;
  p.tile_n = tn;
  hp_index *ix = NULL;
  assert_int_equal(hp_index_create(&p, MPI_COMM_SELF, &ix), 0);
  for (int s = 0; s < nshards; s++) { /* rows added as several shards */
    int64_t a = n * s / nshards, b = n * (s + 1) / nshards;
    assert_int_equal(hp_index_add(ix, b - a, x + a * d, ids + a), 0);
  }
  assert_int_equal(hp_index_build(ix), 0);
  assert_int_equal(hp_index_search(ix, nq, q, k, gid, gs), 0);
  for (int64_t i = 0; i < nq * k; i++) {
    if (gid[i] != rid[i] || memcmp(&gs[i], &rs[i], sizeof(float)) != 0)
      fail_msg("n=%lld d=%lld k=%d tiles %lldx%lld: query %lld rank %lld: got (%lld, %g) want (%lld, %g)",
               (long long)n, (long long)d, k, (long long)tq, (long long)tn, (long long)(i / k),
               (long long)(i % k), (long long)gid[i], gs[i], (long long)rid[i], rs[i]);
  }
  double rec = 0;
  assert_int_equal(hp_index_recall(ix, nq, q, k, &rec), 0);
  assert_true(rec == 1.0);
  hp_index_free(ix);
  free(x);
  free(q);
  free(ids);
  free(rid);
  free(gid);
  free(rs);
  free(gs);
}

static void test_vs_brute(void **st) {
  (void)st;
  run_case(1000, 37, 23, 7, 0, 0, 1);     /* default tiles (larger than the data) */
  run_case(1000, 37, 23, 7, 4, 33, 1);    /* ragged tiles */
  run_case(1000, 37, 23, 7, 1, 1, 3);     /* 1x1 tiles, three shards */
  run_case(3001, 64, 50, 10, 16, 256, 2);
  run_case(500, 8, 9, 1, 0, 0, 1);        /* k = 1 */
  run_case(200, 16, 5, 200, 0, 0, 1);     /* k = n: a full sort */
}

static void test_k_larger_than_n(void **st) {
  (void)st;
  run_case(5, 16, 4, 8, 0, 0, 1);
  run_case(1, 3, 2, 3, 0, 0, 1);
}

static void test_empty(void **st) {
  (void)st;
  run_case(0, 16, 3, 4, 0, 0, 1);
  hp_index_params p;
  hp_index_params_default(&p, HP_INDEX_EXACT, 4);
  hp_index *ix = NULL;
  assert_int_equal(hp_index_create(&p, MPI_COMM_SELF, &ix), 0);
  int64_t id[2];
  float sc[2], q[4] = {1, 0, 0, 0};
  assert_int_equal(hp_index_search(ix, 1, q, 2, id, sc), 0);
  assert_true(id[0] == -1 && id[1] == -1 && isinf(sc[0]) && sc[0] < 0);
  assert_int_equal(hp_index_search(ix, 0, q, 2, id, sc), 0); /* no queries */
  hp_index_mem m;
  hp_index_memory(ix, &m);
  assert_true(m.n_local == 0 && m.vectors == 0);
  hp_index_free(ix);
}

static void test_errors(void **st) {
  (void)st;
  hp_index_params p;
  hp_index_params_default(&p, HP_INDEX_EXACT, 0);
  hp_index *ix = NULL;
  assert_int_equal(hp_index_create(&p, MPI_COMM_SELF, &ix), HP_ERR_CONFIG);
  hp_error_clear();
  hp_index_params_default(&p, HP_INDEX_EXACT, 2);
  assert_int_equal(hp_index_create(&p, MPI_COMM_SELF, &ix), 0);
  float x[4] = {1, 0, NAN, 1};
  int64_t ids[2] = {0, 1}, bad[2] = {0, -5};
  assert_int_equal(hp_index_add(ix, 2, x, ids), HP_ERR_NUMERIC);
  hp_error_clear();
  x[2] = 0;
  assert_int_equal(hp_index_add(ix, 2, x, bad), HP_ERR_USAGE);
  hp_error_clear();
  assert_int_equal(hp_index_add(ix, 2, x, ids), 0);
  int64_t oid[2];
  float os[2], q[2] = {1, 0};
  assert_true(hp_index_search(ix, 1, q, 0, oid, os) != 0);
  hp_error_clear();
  q[1] = INFINITY;
  assert_true(hp_index_search(ix, 1, q, 1, oid, os) != 0);
  hp_error_clear();
  hp_index_free(ix);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vs_brute), cmocka_unit_test(test_k_larger_than_n),
      cmocka_unit_test(test_empty), cmocka_unit_test(test_errors)};
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  MPI_Finalize();
  return rc;
}
