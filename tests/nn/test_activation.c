/* test_activation.c — GELU (erf), ReLU, residual add against PyTorch and finite differences. */
#include "nn_test.h"
#include "nn/activation.h"

static void test_activation_fixture(void **state) {
  (void)state;
  hp_fix *fx = fix_load("activation");
  size_t n = (size_t)fix_int(fx, "n");
  const float *x = fix_f(fx, "inp", n), *dy = fix_f(fx, "dout", n);
  const float *xr = fix_f(fx, "relu_inp", n);
  float *y = fbuf(n), *dx = fbuf(n);
  hp_gelu_forward(y, x, n);
  expect_close("gelu out", y, fix_f(fx, "gelu_out", 0), n, HP_TOL_REF);
  hp_gelu_backward(dx, dy, x, n);
  expect_close("gelu dinp", dx, fix_f(fx, "gelu_dinp", 0), n, HP_TOL_REF);
  memset(dx, 0, n * sizeof(float));
  hp_relu_forward(y, xr, n);
  expect_close("relu out", y, fix_f(fx, "relu_out", 0), n, HP_TOL_REF);
  hp_relu_backward(dx, dy, y, n); /* passing out, as an in-place ReLU would */
  expect_close("relu dinp", dx, fix_f(fx, "relu_dinp", 0), n, HP_TOL_REF);
  /* in place */
  float *yi = fcopy(x, n);
  hp_gelu_forward(yi, yi, n);
  expect_close("gelu in place", yi, fix_f(fx, "gelu_out", 0), n, HP_TOL_REF);
  free(y); free(dx); free(yi);
  fix_free(fx);
}

static void test_residual(void **state) {
  (void)state;
  size_t n = 37;
  float *a = fbuf(n), *b = fbuf(n), *y = fbuf(n), *dy = fbuf(n), *da = fbuf(n), *db = fbuf(n);
  fill_uniform(a, n, 1, -1, 1);
  fill_uniform(b, n, 2, -1, 1);
  fill_uniform(dy, n, 3, -1, 1);
  fill_uniform(db, n, 4, -1, 1); /* pre-existing gradient: must be accumulated onto */
  float *db0 = fcopy(db, n);
  hp_residual_forward(y, a, b, n);
  hp_residual_backward(da, db, dy, n);
  for (size_t i = 0; i < n; i++) {
    assert_true(y[i] == a[i] + b[i]);
    assert_true(da[i] == dy[i]);
    assert_true(db[i] == db0[i] + dy[i]);
  }
  free(a); free(b); free(y); free(dy); free(da); free(db); free(db0);
}

typedef struct {
  size_t n;
  int relu;
  float *x, *y, *g;
} act_ctx;

static double act_loss(void *p) {
  act_ctx *c = p;
  if (c->relu)
    hp_relu_forward(c->y, c->x, c->n);
  else
    hp_gelu_forward(c->y, c->x, c->n);
  return dot_d(c->y, c->g, c->n);
}

static void test_activation_fd(void **state) {
  (void)state;
  act_ctx c = {.n = 24};
  c.x = fbuf(c.n); c.y = fbuf(c.n); c.g = fbuf(c.n);
  fill_uniform(c.x, c.n, 1, -3, 3);
  fill_uniform(c.g, c.n, 2, -1, 1);
  for (size_t i = 0; i < c.n; i++) /* keep ReLU inputs > 2h away from its kink */
    if (fabsf(c.x[i]) < 0.05f) c.x[i] = 0.3f;
  float *dx = fbuf(c.n);
  hp_gelu_backward(dx, c.g, c.x, c.n);
  fd_check("gelu dinp", c.x, c.n, dx, act_loss, &c, HP_FD_H, HP_TOL_FD);
  memset(dx, 0, c.n * sizeof(float));
  c.relu = 1;
  hp_relu_backward(dx, c.g, c.x, c.n);
  fd_check("relu dinp", c.x, c.n, dx, act_loss, &c, HP_FD_H, HP_TOL_FD);
  free(c.x); free(c.y); free(c.g); free(dx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_activation_fixture),
      cmocka_unit_test(test_residual),
      cmocka_unit_test(test_activation_fd),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
