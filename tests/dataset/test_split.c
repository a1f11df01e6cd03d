/* test_split.c — block shards and seeded exact-proportion splits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/error.h"
#include "base/rng.h"
#include "comm/shard.h"
#include "io/dataset.h"
#include "data/split.h"

static void test_shard(void **state) {
  (void)state;
  int64_t ns[] = {0, 1, 2, 7, 10, 1000003};
  for (int t = 0; t < 6; t++)
    for (int size = 1; size <= 7; size++) {
      int64_t next = 0;
      for (int r = 0; r < size; r++) {
        int64_t row0, c;
        hp_shard_range(ns[t], size, r, &row0, &c);
        assert_int_equal(row0, next);
        int64_t want = ns[t] / size + (r < ns[t] % size);
        assert_int_equal(c, want);
        next += c;
      }
      assert_int_equal(next, ns[t]);
    }
}

static void test_counts(void **state) {
  (void)state;
  int64_t tr, va, te;
  hp_split_counts(57, 0.7, 0.15, &tr, &va, &te);
  assert_int_equal(tr, 40); /* 39.9 -> 40 */
  assert_int_equal(va, 9);  /* 8.55 -> 9 */
  assert_int_equal(te, 8);
  hp_split_counts(10, 0.55, 0.45, &tr, &va, &te);
  assert_int_equal(tr + va + te, 10);
  assert_true(te >= 0);
  hp_split_counts(0, 0.7, 0.15, &tr, &va, &te);
  assert_int_equal(tr + va + te, 0);
}

static void split_all(uint64_t seed, int64_t n, double tr, double va, uint8_t *out) {
  assert_int_equal(hp_split_assign(seed, n, tr, va, 0, n, out), 0);
}

static void test_exact_and_slice_independent(void **state) {
  (void)state;
  int64_t sizes[] = {1, 2, 3, 10, 57, 1000, 12345};
  for (int t = 0; t < 7; t++) {
    int64_t n = sizes[t], tr, va, te, cnt[3] = {0, 0, 0};
    uint8_t *all = calloc((size_t)n, 1), *part = calloc((size_t)n, 1);
    assert_non_null(all);
    assert_non_null(part);
    split_all(5, n, 0.7, 0.15, all);
    hp_split_counts(n, 0.7, 0.15, &tr, &va, &te);
    for (int64_t i = 0; i < n; i++) {
      assert_true(all[i] <= HP_SPLIT_TEST);
      cnt[all[i]]++;
    }
    assert_int_equal(cnt[0], tr);
    assert_int_equal(cnt[1], va);
    assert_int_equal(cnt[2], te);
    /* Any slicing gives the same assignment. */
    for (int size = 2; size <= 5; size++) {
      memset(part, 0xff, (size_t)n);
      for (int r = 0; r < size; r++) {
        int64_t row0, c;
        hp_shard_range(n, size, r, &row0, &c);
        assert_int_equal(hp_split_assign(5, n, 0.7, 0.15, row0, c, part + row0), 0);
      }
      assert_memory_equal(all, part, (size_t)n);
    }
    free(all);
    free(part);
  }
}

/* Reference: a full sort of (hash, index); position < n_train is train, and so on. */
typedef struct {
  uint64_t h;
  int64_t i;
} ref_key;

static int ref_cmp(const void *pa, const void *pb) {
  const ref_key *a = pa, *b = pb;
  if (a->h != b->h) return a->h < b->h ? -1 : 1;
  return a->i < b->i ? -1 : a->i > b->i;
}

static void test_against_full_sort(void **state) {
  (void)state;
  int64_t sizes[] = {5, 999, 100000};
  for (int t = 0; t < 3; t++) {
    int64_t n = sizes[t], tr, va, te;
    ref_key *k = calloc((size_t)n, sizeof *k);
    uint8_t *got = calloc((size_t)n, 1);
    assert_non_null(k);
    assert_non_null(got);
    for (int64_t i = 0; i < n; i++) k[i] = (ref_key){hp_hash4(42, HP_STREAM_SPLIT, (uint64_t)i, 0), i};
    qsort(k, (size_t)n, sizeof *k, ref_cmp);
    hp_split_counts(n, 0.6, 0.25, &tr, &va, &te);
    split_all(42, n, 0.6, 0.25, got);
    for (int64_t p = 0; p < n; p++) {
      uint8_t want = p < tr ? HP_SPLIT_TRAIN : p < tr + va ? HP_SPLIT_VAL : HP_SPLIT_TEST;
      assert_int_equal(got[k[p].i], want);
    }
    free(k);
    free(got);
  }
}

static void test_seed_and_edges(void **state) {
  (void)state;
  enum { N = 2000 };
  uint8_t a[N], b[N];
  split_all(1, N, 0.7, 0.15, a);
  split_all(2, N, 0.7, 0.15, b);
  int differ = 0;
  for (int i = 0; i < N; i++) differ += a[i] != b[i];
  assert_true(differ > N / 5); /* a different seed reshuffles */
  /* Not a block pattern: train images spread over the whole index range. */
  int first_half_train = 0;
  for (int i = 0; i < N / 2; i++) first_half_train += a[i] == HP_SPLIT_TRAIN;
  assert_true(first_half_train > 600 && first_half_train < 800);
  split_all(1, N, 1.0, 0.0, a);
  for (int i = 0; i < N; i++) assert_int_equal(a[i], HP_SPLIT_TRAIN);
  split_all(1, N, 0.0, 1.0, a);
  for (int i = 0; i < N; i++) assert_int_equal(a[i], HP_SPLIT_VAL);
  split_all(1, N, 0.0, 0.0, a);
  for (int i = 0; i < N; i++) assert_int_equal(a[i], HP_SPLIT_TEST);
  assert_int_equal(hp_split_assign(1, N, 0.8, 0.3, 0, N, a), HP_ERR_CONFIG);
  assert_int_equal(hp_split_assign(1, N, -0.1, 0.3, 0, N, a), HP_ERR_CONFIG);
  assert_int_equal(hp_split_assign(1, N, 0.5, 0.3, 10, N, a), HP_ERR_INTERNAL);
  hp_error_clear();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shard),
      cmocka_unit_test(test_counts),
      cmocka_unit_test(test_exact_and_slice_independent),
      cmocka_unit_test(test_against_full_sort),
      cmocka_unit_test(test_seed_and_edges),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
