/* test_dropout.c — dropout has no PyTorch reference (its mask comes from hp_rng), so check
 * its contract: keep rate ~ 1-p, exact inverted scaling, backward uses the same mask, the
 * mask depends only on (seed, global index, step) — splitting a tensor across "ranks" at any
 * boundary gives the same result — and changes with step and seed; p = 0 is the identity. */
#include "nn_test.h"
#include "nn/dropout.h"

enum { NEL = 100000 };

static void test_dropout_contract(void **state) {
  (void)state;
  float p = 0.25f, sc = 1.0f / (1.0f - p);
  float *x = fbuf(NEL), *y = fbuf(NEL), *dy = fbuf(NEL), *dx = fbuf(NEL);
  fill_uniform(x, NEL, 1, 0.5f, 1.5f); /* never 0: a zero output means dropped */
  fill_uniform(dy, NEL, 2, -1, 1);
  uint64_t seed = 42, step = 7, base = hp_dropout_site(3) + 1000;
  hp_dropout_forward(y, x, NEL, p, seed, step, base);
  hp_dropout_backward(dx, dy, NEL, p, seed, step, base);
  size_t kept = 0;
  for (size_t i = 0; i < NEL; i++) {
    if (y[i] != 0.0f) {
      kept++;
      assert_true(y[i] == x[i] * sc);
      assert_true(dx[i] == dy[i] * sc);
    } else {
      assert_true(dx[i] == 0.0f);
    }
  }
  double rate = (double)kept / NEL; /* binomial sd ~ 0.0014 */
  printf("  dropout keep rate %.4f (expect %.4f)\n", rate, 1.0 - p);
  assert_true(fabs(rate - (1.0 - p)) < 0.01);

  /* rank-count independence: two "ranks" holding [0,k) and [k,NEL) with global offsets */
  float *y2 = fbuf(NEL);
  size_t k = 33333;
  hp_dropout_forward(y2, x, k, p, seed, step, base);
  hp_dropout_forward(y2 + k, x + k, NEL - k, p, seed, step, base + k);
  assert_memory_equal(y, y2, NEL * sizeof(float));

  /* a different step or seed gives a different mask */
  hp_dropout_forward(y2, x, NEL, p, seed, step + 1, base);
  size_t diff = 0;
  for (size_t i = 0; i < NEL; i++) diff += (y[i] == 0.0f) != (y2[i] == 0.0f);
  assert_true(diff > NEL / 10);
  hp_dropout_forward(y2, x, NEL, p, seed + 1, step, base);
  diff = 0;
  for (size_t i = 0; i < NEL; i++) diff += (y[i] == 0.0f) != (y2[i] == 0.0f);
  assert_true(diff > NEL / 10);

  /* p = 0: identity forward, pass-through (accumulating) backward */
  hp_dropout_forward(y2, x, NEL, 0.0f, seed, step, base);
  assert_memory_equal(y2, x, NEL * sizeof(float));
  memset(dx, 0, NEL * sizeof(float));
  hp_dropout_backward(dx, dy, NEL, 0.0f, seed, step, base);
  assert_memory_equal(dx, dy, NEL * sizeof(float));
  free(x); free(y); free(dy); free(dx); free(y2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dropout_contract),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
