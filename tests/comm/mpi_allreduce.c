/* mpi_allreduce.c — bucketed allreduce at 1, 2, 3 ranks: integer-valued floats make every sum
 * exact, so the result must equal the closed form bitwise, whatever the bucket size, the order
 * in which ranges are declared ready, or a buffer not a multiple of the bucket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
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

/* bfloat16 conversion: nearest with ties to even, NaN and infinities kept. */
static void test_bf16_rounding(void **s) {
  (void)s;
  assert_int_equal(hp_bf16_from_float(1.0f), 0x3f80);
  assert_int_equal(hp_bf16_from_float(1.0f + 0x1p-8f), 0x3f80);        /* halfway: to even (1.0) */
  assert_int_equal(hp_bf16_from_float(1.0f + 3 * 0x1p-8f), 0x3f82);    /* halfway: to even (1 + 2^-6) */
  assert_int_equal(hp_bf16_from_float(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81); /* above half: up */
  assert_int_equal(hp_bf16_from_float(-2.0f), 0xc000);
  assert_true(isnan(hp_bf16_to_float(hp_bf16_from_float(NAN))));
  assert_true(isinf(hp_bf16_to_float(hp_bf16_from_float(INFINITY))));
  assert_true(isinf(hp_bf16_to_float(hp_bf16_from_float(3.4e38f)))); /* above bfloat16's largest: inf */
  for (int i = -300; i <= 300; i++) assert_true(hp_bf16_to_float(hp_bf16_from_float((float)i)) == (float)i || abs(i) > 256);
}

/* bfloat16 payload: integer sums below 256 are exact, so the result is the closed form; values
 * that bfloat16 cannot hold come back within its rounding; 1 rank leaves the buffer untouched. */
static void test_bf16_payload(void **s) {
  (void)s;
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  size_t n = 1001;
  float *g = malloc(n * sizeof *g);
  hp_bucket_allreduce bar;
  assert_int_equal(hp_bar_init(&bar, MPI_COMM_WORLD, g, n, 64), 0);
  assert_int_equal(hp_bar_set_payload(&bar, HP_BAR_BFLOAT16), 0);
  for (int it = 0; it < 2; it++) {
    for (size_t i = 0; i < n; i++) g[i] = (float)((i % 7) + (size_t)rank + (size_t)it);
    hp_bar_begin(&bar);
    for (size_t lo = n; lo > 100; lo -= 100) assert_int_equal(hp_bar_ready(&bar, lo - 100), 0);
    assert_int_equal(hp_bar_finish(&bar, NULL), 0);
    for (size_t i = 0; i < n; i++) {
      float want = (float)((size_t)size * (i % 7 + (size_t)it) + (size_t)(size * (size - 1) / 2));
      if (g[i] != want) fail_msg("bf16 it=%d: g[%zu] = %g, want %g", it, i, g[i], want);
    }
  }
  for (size_t i = 0; i < n; i++) g[i] = 0.1f * (float)(i + 1) + 0.01f * (float)rank;
  hp_bar_begin(&bar);
  assert_int_equal(hp_bar_finish(&bar, NULL), 0);
  for (size_t i = 0; i < n; i++) {
    double exact = 0;
    for (int r = 0; r < size; r++) exact += (double)(0.1f * (float)(i + 1) + 0.01f * (float)r);
    if (size == 1) {
      if (g[i] != 0.1f * (float)(i + 1)) fail_msg("1 rank: g[%zu] changed to %g", i, g[i]);
    } else if (fabs(g[i] - exact) > size * 0x1p-8 * fabs(exact)) {
      fail_msg("bf16: g[%zu] = %g, exact %g: beyond bfloat16 rounding", i, g[i], exact);
    }
  }
  hp_bar_free(&bar);
  free(g);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_buckets), cmocka_unit_test(test_bad_bucket),
                                     cmocka_unit_test(test_bf16_rounding), cmocka_unit_test(test_bf16_payload)};
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  MPI_Finalize();
  return rc;
}
