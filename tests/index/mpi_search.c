/* mpi_search.c — sharded search at 1, 2, 3 ranks.
 * Exact: the global top-k over shards equals, bitwise in ids and scores, a serial search of all
 * rows on one process (duplicated rows make exact ties across ranks; ids decrease with the row
 * so ties must resolve by id, not by position), also with k larger than a rank's shard.
 * Forest: sharded build and search return valid distinct ids and a recall report; the saved
 * file loaded on one process (holding every shard) answers exactly like the P-rank index. */
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

#include "base/error.h"
#include "comm/shard.h"
#include "index/index_impl.h"

static int g_rank, g_size;

/* all n rows; every 7th row repeats the previous one */
static float *make_rows(int64_t n, int64_t d, int64_t clusters) {
  float *x = malloc((size_t)(n * d + 1) * sizeof *x);
  hp_index_synth(11, clusters, 0.7f, 0, n, d, x);
  for (int64_t i = 1; i < n; i++)
    if (i % 7 == 3) memcpy(x + i * d, x + (i - 1) * d, (size_t)d * sizeof *x);
  return x;
}

static int64_t id_of(int64_t i, int64_t n) { return 5 * (n - 1 - i) + 3; }

static hp_index *sharded(const hp_index_params *p, MPI_Comm comm, const float *x, int64_t n) {
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  int64_t r0, cnt;
  hp_shard_range(n, size, rank, &r0, &cnt);
  int64_t *ids = malloc((size_t)(cnt + 1) * sizeof *ids);
  for (int64_t i = 0; i < cnt; i++) ids[i] = id_of(r0 + i, n);
  hp_index *ix = NULL;
  assert_int_equal(hp_index_create(p, comm, &ix), 0);
  assert_int_equal(hp_index_add(ix, cnt, x + r0 * p->dim, ids), 0);
  assert_int_equal(hp_index_build(ix), 0);
  free(ids);
  return ix;
}

static void exact_case(int64_t n, int64_t d, int64_t nq, int k, int64_t tq, int64_t tn) {
  float *x = make_rows(n, d, 0);
  float *q = malloc((size_t)(nq * d) * sizeof *q);
  hp_index_synth(12, 0, 0, 0, nq, d, q);
  memcpy(q, x + 3 * d, (size_t)d * sizeof *q); /* a query equal to a duplicated row */
  size_t m = (size_t)(nq * k);
  int64_t *ri = malloc(m * sizeof *ri), *gi = malloc(m * sizeof *gi);
  float *rs = malloc(m * sizeof *rs), *gs = malloc(m * sizeof *gs);
  hp_index_params p;
  hp_index_params_default(&p, HP_INDEX_EXACT, d);
  p.tile_q = tq;
  p.tile_n = tn;
  hp_index *ref = sharded(&p, MPI_COMM_SELF, x, n); /* serial: all rows on this process */
  assert_int_equal(hp_index_search(ref, nq, q, k, ri, rs), 0);
  hp_index *ix = sharded(&p, MPI_COMM_WORLD, x, n);
  assert_int_equal(hp_index_search(ix, nq, q, k, gi, gs), 0);
  /* every rank holds the same global result, so a failure is seen by all ranks alike */
  for (size_t i = 0; i < m; i++)
    if (ri[i] != gi[i] || memcmp(&rs[i], &gs[i], sizeof(float)) != 0)
      fail_msg("np=%d n=%lld k=%d: query %zu slot %zu: got (%lld, %.9g) want (%lld, %.9g)", g_size,
               (long long)n, k, i / (size_t)k, i % (size_t)k, (long long)gi[i], gs[i],
               (long long)ri[i], rs[i]);
  /* the tie: query 0 equals rows 2 and 3; both must come first, smaller id first */
  assert_true(gi[0] == id_of(3, n) && gi[1] == id_of(2, n) && gs[0] == gs[1]);
  hp_index_free(ref);
  hp_index_free(ix);
  free(x);
  free(q);
  free(ri);
  free(gi);
  free(rs);
  free(gs);
}

static void test_exact(void **st) {
  (void)st;
  exact_case(3000, 96, 40, 10, 0, 0);
  exact_case(3000, 96, 40, 10, 7, 100); /* other tiles, same bits */
  exact_case(10, 8, 3, 8, 0, 0);        /* k larger than every shard (and n = 3 or 4 per rank) */
  exact_case(5, 8, 2, 9, 0, 0);         /* k > n: padding */
}

static void test_forest(void **st) {
  (void)st;
  const int64_t n = 12000, d = 48, nq = 100;
  const int k = 10;
  float *x = make_rows(n, d, 120);
  float *q = malloc((size_t)(nq * d) * sizeof *q);
  hp_index_synth(11, 120, 0.7f, n, nq, d, q);
  size_t m = (size_t)(nq * k);
  int64_t *gi = malloc(m * sizeof *gi), *li = malloc(m * sizeof *li);
  float *gs = malloc(m * sizeof *gs), *ls = malloc(m * sizeof *ls);
  hp_index_params p;
  hp_index_params_default(&p, HP_INDEX_FOREST, d);
  p.n_trees = 12;
  p.leaf_size = 32;
  p.search_k = 800;
  hp_index *ix = sharded(&p, MPI_COMM_WORLD, x, n);
  assert_int_equal(hp_index_search(ix, nq, q, k, gi, gs), 0);
  for (int64_t i = 0; i < nq; i++)
    for (int j = 0; j < k; j++) {
      int64_t id = gi[i * k + j];
      assert_true(id >= 3 && id <= id_of(0, n) && (id - 3) % 5 == 0);
      for (int jj = 0; jj < j; jj++) assert_true(gi[i * k + jj] != id);
    }
  double rec = 0;
  assert_int_equal(hp_index_recall(ix, nq, q, k, &rec), 0);
  if (g_rank == 0) printf("np=%d forest recall@10 = %.4f (12 trees, search_k 800 per shard)\n", g_size, rec);
  assert_true(rec >= 0.8);
  hp_index_mem mem;
  hp_index_memory(ix, &mem);
  assert_true(mem.trees > 0 && mem.n_shards == 1);

  /* save on P ranks, load on one process: it holds every shard and answers identically */
  const char *path = "mpi_search_forest.h5";
  int ok = 1;
  assert_int_equal(hp_index_save(ix, path), 0);
  hp_index *one = NULL;
  if (g_rank == 0) { /* no assertion may skip the collective calls below: collect, then assert */
    int rc = hp_index_load(MPI_COMM_SELF, path, &one);
    if (rc) print_error("load on one process: %s\n", hp_error_message());
    if (!rc) {
      hp_index_memory(one, &mem);
      rc = mem.n_shards != g_size || mem.n_local != n || hp_index_search(one, nq, q, k, li, ls) ||
           memcmp(li, gi, m * sizeof *li) || memcmp(ls, gs, m * sizeof *ls);
      hp_index_free(one);
    }
    ok = !rc;
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
  assert_true(ok);
  /* and reloaded on all ranks */
  assert_int_equal(hp_index_load(MPI_COMM_WORLD, path, &one), 0);
  assert_int_equal(hp_index_search(one, nq, q, k, li, ls), 0);
  assert_memory_equal(li, gi, m * sizeof *li);
  hp_index_free(one);
  MPI_Barrier(MPI_COMM_WORLD);
  if (g_rank == 0) unlink(path);
  hp_index_free(ix);
  free(x);
  free(q);
  free(gi);
  free(li);
  free(gs);
  free(ls);
}

static void test_exact_load_other_count(void **st) {
  (void)st;
  /* an exact index saved on P ranks, loaded on one and on P: the rows rebalance, same answers */
  const int64_t n = 777, d = 16, nq = 9;
  const int k = 5;
  float *x = make_rows(n, d, 0), *q = malloc((size_t)(nq * d) * sizeof *q);
  hp_index_synth(13, 0, 0, 0, nq, d, q);
  size_t m = (size_t)(nq * k);
  int64_t *gi = malloc(m * sizeof *gi), *li = malloc(m * sizeof *li);
  float *gs = malloc(m * sizeof *gs), *ls = malloc(m * sizeof *ls);
  hp_index_params p;
  hp_index_params_default(&p, HP_INDEX_EXACT, d);
  hp_index *ix = sharded(&p, MPI_COMM_WORLD, x, n);
  assert_int_equal(hp_index_search(ix, nq, q, k, gi, gs), 0);
  const char *path = "mpi_search_exact.h5";
  assert_int_equal(hp_index_save(ix, path), 0);
  hp_index *one = NULL;
  int ok = 1;
  if (g_rank == 0) { /* collect, then assert on every rank (no skipped collectives) */
    int rc = hp_index_load(MPI_COMM_SELF, path, &one);
    if (!rc) {
      rc = hp_index_search(one, nq, q, k, li, ls) || memcmp(li, gi, m * sizeof *li) ||
           memcmp(ls, gs, m * sizeof *ls);
      hp_index_free(one);
    }
    ok = !rc;
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
  assert_true(ok);
  assert_int_equal(hp_index_load(MPI_COMM_WORLD, path, &one), 0);
  assert_int_equal(hp_index_search(one, nq, q, k, li, ls), 0);
  assert_memory_equal(li, gi, m * sizeof *li);
  assert_memory_equal(ls, gs, m * sizeof *ls);
  hp_index_free(one);
  MPI_Barrier(MPI_COMM_WORLD);
  if (g_rank == 0) unlink(path);
  hp_index_free(ix);
  free(x);
  free(q);
  free(gi);
  free(li);
  free(gs);
  free(ls);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_exact), cmocka_unit_test(test_forest),
                                     cmocka_unit_test(test_exact_load_other_count)};
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  MPI_Finalize();
  return rc;
}
