/* test_softmax.c — stable softmax against PyTorch (incl. |logits| ~ 80) and finite differences. */
#include "nn_test.h"
#include "nn/softmax.h"

static void test_softmax_fixture(void **state) {
  (void)state;
  hp_fix *fx = fix_load("softmax");
  int N = fix_int(fx, "N"), C = fix_int(fx, "C");
  size_t n = (size_t)N * C;
  const float *x = fix_f(fx, "inp", n), *dy = fix_f(fx, "dout", n);
  float *y = fbuf(n), *dx = fbuf(n);
  hp_softmax_forward(y, x, N, C);
  expect_close("softmax out", y, fix_f(fx, "out", 0), n, HP_TOL_REF);
  hp_softmax_backward(dx, dy, y, N, C);
  expect_close("softmax dinp", dx, fix_f(fx, "dinp", 0), n, HP_TOL_REF);
  free(y); free(dx);
  fix_free(fx);
}

typedef struct {
  int N, C;
  float *x, *y, *g;
} sm_ctx;

static double sm_loss(void *p) {
  sm_ctx *c = p;
  hp_softmax_forward(c->y, c->x, c->N, c->C);
  return dot_d(c->y, c->g, (size_t)c->N * c->C);
}

static void test_softmax_fd(void **state) {
  (void)state;
  sm_ctx c = {.N = 3, .C = 5};
  size_t n = 15;
  c.x = fbuf(n); c.y = fbuf(n); c.g = fbuf(n);
  fill_uniform(c.x, n, 1, -2, 2);
  fill_uniform(c.g, n, 2, -1, 1);
  float *dx = fbuf(n);
  sm_loss(&c);
  hp_softmax_backward(dx, c.g, c.y, c.N, c.C);
  fd_check("softmax dinp", c.x, n, dx, sm_loss, &c, HP_FD_H, HP_TOL_FD);
  free(c.x); free(c.y); free(c.g); free(dx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_softmax_fixture),
      cmocka_unit_test(test_softmax_fd),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
