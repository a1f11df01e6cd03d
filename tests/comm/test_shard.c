/* test_shard.c — the row partitions every stage uses (comm/shard.h), over the whole grid
 * n = 0..70 rows, 1..8 ranks, batches of 1..9 rows: the ranks' ranges are contiguous, in rank
 * order, cover [0, n) exactly, start at or before n (a reader may be called with them even when
 * empty: a rank without a batch once read rows [32, 32) of 30 and failed), and batch ranges
 * start on batch boundaries so that every row meets the encoders in the same batch for any rank
 * count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "comm/shard.h"

static void test_shard_range_grid(void **s) {
  (void)s;
  for (int64_t n = 0; n <= 70; n++)
    for (int size = 1; size <= 8; size++) {
      int64_t next = 0, lo = n, hi = 0;
      for (int r = 0; r < size; r++) {
        int64_t r0 = -1, cnt = -1;
        hp_shard_range(n, size, r, &r0, &cnt);
        assert_int_equal(r0, next);
        assert_true(cnt >= 0 && r0 + cnt <= n);
        lo = cnt < lo ? cnt : lo;
        hi = cnt > hi ? cnt : hi;
        next = r0 + cnt;
      }
      assert_int_equal(next, n);
      assert_true(hi - lo <= 1); /* balanced */
    }
}

static void test_shard_batches_grid(void **s) {
  (void)s;
  for (int64_t n = 0; n <= 70; n++)
    for (int size = 1; size <= 8; size++)
      for (int64_t B = 1; B <= 9; B++) {
        int64_t next = 0, most = 0, rounds0 = -1;
        for (int r = 0; r < size; r++) {
          int64_t r0 = -1, cnt = -1, rounds = -1;
          hp_shard_batches(n, B, size, r, &r0, &cnt, &rounds);
          if (r == 0) rounds0 = rounds;
          assert_int_equal(rounds, rounds0); /* the same loop count on every rank */
          assert_int_equal(r0, next);
          assert_true(r0 <= n && cnt >= 0 && r0 + cnt <= n);
          if (cnt > 0) assert_int_equal(r0 % B, 0);
          if (r0 + cnt < n) assert_int_equal(cnt % B, 0); /* only the last range ends short */
          int64_t batches = cnt / B + (cnt % B != 0);
          most = batches > most ? batches : most;
          next = r0 + cnt;
        }
        assert_int_equal(next, n);
        assert_int_equal(rounds0, most);
      }
}

static void test_shard_bad_arguments(void **s) {
  (void)s;
  int64_t r0 = 5, cnt = 5, rounds = 5;
  hp_shard_range(10, 2, 2, &r0, &cnt); /* rank outside the communicator */
  assert_int_equal(r0, 0);
  assert_int_equal(cnt, 0);
  hp_shard_batches(10, 0, 2, 0, &r0, &cnt, &rounds); /* no batch size */
  assert_int_equal(cnt, 0);
  assert_int_equal(rounds, 0);
  hp_shard_batches(30, 32, 2, 1, &r0, &cnt, NULL); /* the case that failed: one batch, two ranks */
  assert_int_equal(r0, 30);
  assert_int_equal(cnt, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shard_range_grid),
      cmocka_unit_test(test_shard_batches_grid),
      cmocka_unit_test(test_shard_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
