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

/* QuickGELU against its closed form in double (OpenAI CLIP: x * torch.sigmoid(1.702 * x)),
 * including the tails where expf over/underflows, and in place */
static void test_quickgelu(void **state) {
  (void)state;
  const float xs[] = {-100.0f, -60.0f, -8.0f, -1.0f, -0.25f, 0.0f, 0.25f, 1.0f, 3.0f, 60.0f, 100.0f};
  size_t n = sizeof xs / sizeof *xs;
  float *y = fbuf(n), *dx = fbuf(n), *dy = fbuf(n), *yi = fcopy(xs, n);
  for (size_t i = 0; i < n; i++) dy[i] = 1.0f;
  hp_quickgelu_forward(y, xs, n);
  hp_quickgelu_backward(dx, dy, xs, n);
  hp_quickgelu_forward(yi, yi, n);
  for (size_t i = 0; i < n; i++) {
    double x = xs[i], s = 1.0 / (1.0 + exp(-1.702 * x));
    double want = x * s, dwant = s + 1.702 * x * s * (1.0 - s);
    assert_true(isfinite(y[i]) && isfinite(dx[i]));
    assert_true(fabs(y[i] - want) <= 1e-6 * (1.0 + fabs(want)));
    assert_true(fabs(dx[i] - dwant) <= 1e-6 * (1.0 + fabs(dwant)));
    assert_true(yi[i] == y[i]);
  }
  free(y); free(dx); free(dy); free(yi);
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
  int relu, quick;
  float *x, *y, *g;
} act_ctx;

static double act_loss(void *p) {
  act_ctx *c = p;
  if (c->relu)
    hp_relu_forward(c->y, c->x, c->n);
  else if (c->quick)
    hp_quickgelu_forward(c->y, c->x, c->n);
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
  memset(dx, 0, c.n * sizeof(float));
  c.relu = 0;
  c.quick = 1;
  hp_quickgelu_backward(dx, c.g, c.x, c.n);
  fd_check("quickgelu dinp", c.x, c.n, dx, act_loss, &c, HP_FD_H, HP_TOL_FD);
  free(c.x); free(c.y); free(c.g); free(dx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_activation_fixture),
      cmocka_unit_test(test_quickgelu),
      cmocka_unit_test(test_residual),
      cmocka_unit_test(test_activation_fd),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
