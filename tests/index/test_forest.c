/* test_forest.c — the random-projection forest: recall@10 against exact on clustered data,
 * reproducible builds (same seed, any thread count), HDF5 save/load round trip with identical
 * results, degenerate data (all rows equal), search effort monotone in search_k; shards declared
 * by hp_index_reserve and filled in pieces give the same forest as one add per shard. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <hdf5.h>
#include <mpi.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "base/error.h"
#include "index/index_impl.h"

#define N 20000
#define D 64
#define NQ 200
#define K 10

static float *g_x, *g_q;
static int64_t *g_ids;

static int setup(void **st) {
  (void)st;
  g_x = malloc((size_t)N * D * sizeof *g_x);
  g_q = malloc((size_t)NQ * D * sizeof *g_q);
  g_ids = malloc((size_t)N * sizeof *g_ids);
  hp_index_synth(7, 200, 1.0f, 0, N, D, g_x);
  hp_index_synth(7, 200, 1.0f, N, NQ, D, g_q); /* queries: further rows of the same mixture */
  for (int64_t i = 0; i < N; i++) g_ids[i] = 1000000 + 2 * i;
  return 0;
}

static int teardown(void **st) {
  (void)st;
  free(g_x);
  free(g_q);
  free(g_ids);
  return 0;
}

static hp_index *make(int trees, int leaf, int64_t search_k, uint64_t seed) {
  hp_index_params p;
  hp_index_params_default(&p, HP_INDEX_FOREST, D);
  p.n_trees = trees;
  p.leaf_size = leaf;
  p.search_k = search_k;
  p.seed = seed;
  hp_index *ix = NULL;
  assert_int_equal(hp_index_create(&p, MPI_COMM_SELF, &ix), 0);
  assert_int_equal(hp_index_add(ix, N / 2, g_x, g_ids), 0); /* two shards */
  assert_int_equal(hp_index_add(ix, N - N / 2, g_x + (size_t)(N / 2) * D, g_ids + N / 2), 0);
  assert_int_equal(hp_index_build(ix), 0);
  return ix;
}

static void search(hp_index *ix, int64_t *ids, float *sc) {
  assert_int_equal(hp_index_search(ix, NQ, g_q, K, ids, sc), 0);
  for (int i = 0; i < NQ * K; i++) {
    assert_true(ids[i] >= 1000000 && ids[i] < 1000000 + 2 * N && ids[i] % 2 == 0);
    if (i % K) assert_true(sc[i] <= sc[i - 1]);
  }
}

static void test_recall(void **st) {
  (void)st;
  hp_index *ix = make(20, 32, 1500, 1);
  double r = 0;
  assert_int_equal(hp_index_recall(ix, NQ, g_q, K, &r), 0);
  printf("forest recall@10 (20 trees, leaf 32, search_k 1500 per shard) = %.4f\n", r);
  assert_true(r >= 0.9);
  /* more effort never hurts on these queries: recall grows with search_k */
  double prev = 0;
  int64_t sks[3] = {100, 500, 4000};
  for (int i = 0; i < 3; i++) {
    hp_index_set_search_k(ix, sks[i]);
    assert_int_equal(hp_index_recall(ix, NQ, g_q, K, &r), 0);
    printf("  search_k %lld: recall %.4f\n", (long long)sks[i], r);
    assert_true(r >= prev - 1e-12);
    prev = r;
  }
  hp_index_set_search_k(ix, N); /* every row a candidate: exact */
  assert_int_equal(hp_index_recall(ix, NQ, g_q, K, &r), 0);
  assert_true(r == 1.0);
  hp_index_mem m;
  hp_index_memory(ix, &m);
  assert_true(m.trees > 0 && m.n_local == N && m.n_shards == 2);
  hp_index_free(ix);
}

static void test_reproducible(void **st) {
  (void)st;
  int64_t *i1 = malloc(NQ * K * sizeof *i1), *i2 = malloc(NQ * K * sizeof *i2);
  float *s1 = malloc(NQ * K * sizeof *s1), *s2 = malloc(NQ * K * sizeof *s2);
#ifdef _OPENMP
  int saved = omp_get_max_threads();
  omp_set_num_threads(1);
#endif
  hp_index *a = make(8, 24, 300, 99);
  search(a, i1, s1);
#ifdef _OPENMP
  omp_set_num_threads(3); /* more threads than trees per... any count: same forest */
#endif
  hp_index *b = make(8, 24, 300, 99);
  search(b, i2, s2);
  assert_memory_equal(i1, i2, NQ * K * sizeof *i1);
  assert_memory_equal(s1, s2, NQ * K * sizeof *s1);
  /* another seed gives another forest: at this small effort some result differs */
  hp_index *c = make(8, 24, 300, 100);
  search(c, i2, s2);
  assert_true(memcmp(i1, i2, NQ * K * sizeof *i1) != 0);
#ifdef _OPENMP
  omp_set_num_threads(saved);
#endif
  hp_index_free(a);
  hp_index_free(b);
  hp_index_free(c);
  free(i1);
  free(i2);
  free(s1);
  free(s2);
}

static void test_save_load(void **st) {
  (void)st;
  const char *path = "test_forest_index.h5";
  int64_t *i1 = malloc(NQ * K * sizeof *i1), *i2 = malloc(NQ * K * sizeof *i2);
  float *s1 = malloc(NQ * K * sizeof *s1), *s2 = malloc(NQ * K * sizeof *s2);
  hp_index *a = make(6, 40, 400, 5);
  search(a, i1, s1);
  assert_int_equal(hp_index_save(a, path), 0);
  hp_index *b = NULL;
  assert_int_equal(hp_index_load(MPI_COMM_SELF, path, &b), 0);
  const hp_index_params *pb = hp_index_get_params(b);
  assert_int_equal(pb->kind, HP_INDEX_FOREST);
  assert_int_equal(pb->n_trees, 6);
  assert_int_equal(pb->leaf_size, 40);
  assert_int_equal(pb->search_k, 400);
  search(b, i2, s2);
  assert_memory_equal(i1, i2, NQ * K * sizeof *i1);
  assert_memory_equal(s1, s2, NQ * K * sizeof *s1);
  hp_index_mem ma, mb;
  hp_index_memory(a, &ma);
  hp_index_memory(b, &mb);
  assert_true(ma.trees == mb.trees && mb.n_shards == 2);
  /* saving the loaded index again gives the same results once more */
  assert_int_equal(hp_index_save(b, path), 0);
  hp_index *c = NULL;
  assert_int_equal(hp_index_load(MPI_COMM_SELF, path, &c), 0);
  search(c, i2, s2);
  assert_memory_equal(i1, i2, NQ * K * sizeof *i1);
  hp_index_free(a);
  hp_index_free(b);
  hp_index_free(c);
  /* an exact index round trip */
  hp_index_params p;
  hp_index_params_default(&p, HP_INDEX_EXACT, D);
  assert_int_equal(hp_index_create(&p, MPI_COMM_SELF, &a), 0);
  assert_int_equal(hp_index_add(a, N, g_x, g_ids), 0);
  assert_int_equal(hp_index_build(a), 0);
  assert_int_equal(hp_index_search(a, NQ, g_q, K, i1, s1), 0);
  assert_int_equal(hp_index_save(a, path), 0);
  assert_int_equal(hp_index_load(MPI_COMM_SELF, path, &b), 0);
  assert_int_equal(hp_index_search(b, NQ, g_q, K, i2, s2), 0);
  assert_memory_equal(i1, i2, NQ * K * sizeof *i1);
  assert_memory_equal(s1, s2, NQ * K * sizeof *s1);
  hp_index_free(a);
  hp_index_free(b);
  /* not an index file */
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("not hdf5", f);
  fclose(f);
  assert_true(hp_index_load(MPI_COMM_SELF, path, &b) != 0);
  hp_error_clear();
  unlink(path);
  free(i1);
  free(i2);
  free(s1);
  free(s2);
}

static void test_degenerate(void **st) {
  (void)st;
  /* every row equal: no hyperplane separates them; random halvings keep the depth bounded */
  int64_t n = 3000;
  float *x = malloc((size_t)n * D * sizeof *x);
  int64_t *ids = malloc((size_t)n * sizeof *ids);
  for (int64_t i = 0; i < n; i++) {
    memcpy(x + i * D, g_x, D * sizeof *x);
    ids[i] = i;
  }
  hp_index_params p;
  hp_index_params_default(&p, HP_INDEX_FOREST, D);
  p.n_trees = 3;
  p.leaf_size = 8;
  p.search_k = 50;
  hp_index *ix = NULL;
  assert_int_equal(hp_index_create(&p, MPI_COMM_SELF, &ix), 0);
  assert_int_equal(hp_index_add(ix, n, x, ids), 0);
  assert_int_equal(hp_index_build(ix), 0);
  int64_t oid[K];
  float os[K];
  assert_int_equal(hp_index_search(ix, 1, g_q, K, oid, os), 0);
  for (int j = 0; j < K; j++) assert_true(oid[j] >= 0 && oid[j] < n);
  for (int j = 1; j < K; j++) assert_true(oid[j] > oid[j - 1]); /* equal scores: by id */
  /* a forest searched before build is a usage error */
  hp_index *y = NULL;
  assert_int_equal(hp_index_create(&p, MPI_COMM_SELF, &y), 0);
  assert_int_equal(hp_index_add(y, 10, x, ids), 0);
  assert_true(hp_index_search(y, 1, g_q, K, oid, os) != 0);
  hp_error_clear();
  /* an empty forest answers with padding */
  hp_index *z = NULL;
  assert_int_equal(hp_index_create(&p, MPI_COMM_SELF, &z), 0);
  assert_int_equal(hp_index_build(z), 0);
  assert_int_equal(hp_index_search(z, 1, g_q, K, oid, os), 0);
  assert_true(oid[0] == -1 && isinf(os[0]));
  hp_index_free(ix);
  hp_index_free(y);
  hp_index_free(z);
  free(x);
  free(ids);
}

/* hp_index_reserve: the two shards of make(), filled in pieces of 777 rows (one crosses the
 * shards' boundary): the same memory, forest and results as one hp_index_add per shard. */
static void test_reserve_pieces(void **st) {
  (void)st;
  hp_index *a = make(8, 24, 300, 5), *b = NULL;
  hp_index_params p = *hp_index_get_params(a);
  int64_t rows[3] = {N / 2, 0, N - N / 2}; /* an empty shard is skipped */
  assert_int_equal(hp_index_create(&p, MPI_COMM_SELF, &b), 0);
  assert_int_equal(hp_index_reserve(b, 3, rows), 0);
  assert_int_equal(hp_index_build(b), HP_ERR_USAGE); /* nothing added yet */
  hp_error_clear();
  for (int64_t at = 0; at < N; at += 777) {
    int64_t m = N - at < 777 ? N - at : 777;
    assert_int_equal(hp_index_add(b, m, g_x + (size_t)at * D, g_ids + at), 0);
  }
  assert_int_equal(hp_index_add(b, 1, g_x, g_ids), HP_ERR_USAGE); /* beyond the reservation */
  hp_error_clear();
  assert_int_equal(hp_index_build(b), 0);
  hp_index_mem ma, mb;
  hp_index_memory(a, &ma);
  hp_index_memory(b, &mb);
  assert_true(ma.vectors == mb.vectors && ma.trees == mb.trees && mb.n_shards == 2 && mb.n_local == N);
  int64_t *i1 = malloc(NQ * K * sizeof *i1), *i2 = malloc(NQ * K * sizeof *i2);
  float *s1 = malloc(NQ * K * sizeof *s1), *s2 = malloc(NQ * K * sizeof *s2);
  search(a, i1, s1);
  search(b, i2, s2);
  assert_memory_equal(i1, i2, NQ * K * sizeof *i1);
  assert_memory_equal(s1, s2, NQ * K * sizeof *s1);
  hp_index *c = NULL;
  assert_int_equal(hp_index_create(&p, MPI_COMM_SELF, &c), 0);
  assert_int_equal(hp_index_add(c, 10, g_x, g_ids), 0);
  assert_int_equal(hp_index_reserve(c, 1, rows), HP_ERR_USAGE); /* only before the first add */
  hp_error_clear();
  hp_index_free(a);
  hp_index_free(b);
  hp_index_free(c);
  free(i1);
  free(i2);
  free(s1);
  free(s2);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_recall), cmocka_unit_test(test_reproducible),
      cmocka_unit_test(test_save_load), cmocka_unit_test(test_degenerate),
      cmocka_unit_test(test_reserve_pieces)};
  int rc = cmocka_run_group_tests(tests, setup, teardown);
  MPI_Finalize();
  return rc;
}
