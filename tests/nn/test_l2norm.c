/* test_l2norm.c — row L2 normalisation against PyTorch (incl. a row below eps) and FD. */
#include "nn_test.h"
#include "nn/l2norm.h"

static void test_l2norm_fixture(void **state) {
  (void)state;
  hp_fix *fx = fix_load("l2norm");
  int N = fix_int(fx, "N"), C = fix_int(fx, "C");
  float eps = fix_real(fx, "eps");
  size_t n = (size_t)N * C;
  const float *x = fix_f(fx, "inp", n), *dy = fix_f(fx, "dout", n);
  float *y = fbuf(n), *nrm = fbuf(N), *dx = fbuf(n);
  hp_l2norm_forward(y, nrm, x, N, C, eps);
  expect_close("l2norm out", y, fix_f(fx, "out", 0), n, HP_TOL_REF);
  hp_l2norm_backward(dx, dy, y, nrm, N, C, eps);
  /* row 3 is below eps (gradient dout/eps ~ 1e6): compare it on its own so its scale does
   * not swamp the error measure of the ordinary rows */
  const float *rdx = fix_f(fx, "dinp", 0);
  assert_int_equal(N, 5);
  expect_close("l2norm dinp rows 0-2", dx, rdx, 3 * (size_t)C, HP_TOL_REF);
  expect_close("l2norm dinp row 4", dx + 4 * C, rdx + 4 * C, C, HP_TOL_REF);
  expect_close("l2norm dinp row 3 (clamped)", dx + 3 * C, rdx + 3 * C, C, HP_TOL_REF);
  free(y); free(nrm); free(dx);
  fix_free(fx);
}

typedef struct {
  int N, C;
  float *x, *y, *nrm, *g;
} l2_ctx;

static double l2_loss(void *p) {
  l2_ctx *c = p;
  hp_l2norm_forward(c->y, c->nrm, c->x, c->N, c->C, 1e-6f);
  return dot_d(c->y, c->g, (size_t)c->N * c->C);
}

static void test_l2norm_fd(void **state) {
  (void)state;
  l2_ctx c = {.N = 3, .C = 5};
  size_t n = 15;
  c.x = fbuf(n); c.y = fbuf(n); c.nrm = fbuf(3); c.g = fbuf(n);
  fill_uniform(c.x, n, 1, -1, 1);
  fill_uniform(c.g, n, 2, -1, 1);
  float *dx = fbuf(n);
  l2_loss(&c);
  hp_l2norm_backward(dx, c.g, c.y, c.nrm, c.N, c.C, 1e-6f);
  fd_check("l2norm dinp", c.x, n, dx, l2_loss, &c, 1e-3f, HP_TOL_FD);
  free(c.x); free(c.y); free(c.nrm); free(c.g); free(dx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_l2norm_fixture),
      cmocka_unit_test(test_l2norm_fd),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
