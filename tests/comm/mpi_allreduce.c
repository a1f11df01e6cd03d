/* mpi_allreduce.c — bucketed allreduce at 1, 2, 3 ranks: integer-valued floats make every sum
 * exact, so the result must equal the closed form bitwise, whatever the bucket size, the order
 * in which ranges are declared ready, or a buffer not a multiple of the bucket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include <mpi.h>

#include "base/error.h"
#include "comm/allreduce.h"

static void run(size_t n, size_t bucket, size_t step) {
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  float *g = malloc(n * sizeof *g);
  hp_bucket_allreduce bar;
  assert_int_equal(hp_bar_init(&bar, MPI_COMM_WORLD, g, n, bucket), 0);
  for (int it = 0; it < 3; it++) { /* the same object serves several steps */
    for (size_t i = 0; i < n; i++) g[i] = (float)((i % 97) + 1000 * rank + it);
    hp_bar_begin(&bar);
    for (size_t lo = n; lo > step; lo -= step) assert_int_equal(hp_bar_ready(&bar, lo - step), 0);
    double wait = -1;
    assert_int_equal(hp_bar_finish(&bar, &wait), 0);
    assert_true(wait >= 0);
    for (size_t i = 0; i < n; i++) {
      float want = (float)(size * ((i % 97) + it) + 1000 * (size * (size - 1) / 2));
      if (g[i] != want) fail_msg("n=%zu bucket=%zu: g[%zu] = %g, want %g", n, bucket, i, g[i], want);
    }
  }
  hp_bar_free(&bar);
  free(g);
}

static void test_buckets(void **s) {
  (void)s;
  run(1000, 64, 7);       /* many buckets, ragged readiness */
  run(1000, 1000, 1000);  /* one bucket */
  run(1001, 100, 333);    /* short last bucket */
  run(10, 4096, 3);       /* bucket larger than the buffer */
  run(1 << 20, 1 << 16, 50000);
}

static void test_bad_bucket(void **s) {
  (void)s;
  float g[4];
  hp_bucket_allreduce bar;
  assert_int_equal(hp_bar_init(&bar, MPI_COMM_WORLD, g, 4, 0), HP_ERR_CONFIG);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_buckets), cmocka_unit_test(test_bad_bucket)};
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  MPI_Finalize();
  return rc;
}
