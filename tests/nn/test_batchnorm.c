/* test_batchnorm.c — NHWC batch norm against PyTorch BatchNorm2d: training forward, running
 * statistics update (momentum 0.1, unbiased var), training backward, eval forward/backward;
 * finite differences in training mode. */
#include "nn_test.h"
#include "nn/batchnorm.h"

static void test_batchnorm_fixture(void **state) {
  (void)state;
  hp_fix *fx = fix_load("batchnorm");
  const int32_t *cfg = fix_i(fx, "cfg", 4);
  int M = cfg[0] * cfg[1] * cfg[2], C = cfg[3];
  float eps = fix_real(fx, "eps"), mom = fix_real(fx, "momentum");
  size_t n = (size_t)M * C;
  const float *x = fix_f(fx, "inp", n), *w = fix_f(fx, "weight", C), *b = fix_f(fx, "bias", C);
  const float *dy = fix_f(fx, "dout", n);
  float *rm = fcopy(fix_f(fx, "running_mean0", C), C), *rv = fcopy(fix_f(fx, "running_var0", C), C);
  float *y = fbuf(n), *mean = fbuf(C), *rstd = fbuf(C), *dx = fbuf(n), *dw = fbuf(C),
        *db = fbuf(C);
  hp_batchnorm_forward(y, mean, rstd, rm, rv, x, w, b, M, C, eps, mom, 1);
  expect_close("batchnorm train out", y, fix_f(fx, "out", 0), n, HP_TOL_REF);
  expect_close("batchnorm running_mean", rm, fix_f(fx, "running_mean", 0), C, HP_TOL_REF);
  expect_close("batchnorm running_var", rv, fix_f(fx, "running_var", 0), C, HP_TOL_REF);
  hp_batchnorm_backward(dx, dw, db, dy, x, w, mean, rstd, M, C, 1);
  expect_close("batchnorm train dinp", dx, fix_f(fx, "dinp", 0), n, HP_TOL_REF);
  expect_close("batchnorm dweight", dw, fix_f(fx, "dweight", 0), C, HP_TOL_REF);
  expect_close("batchnorm dbias", db, fix_f(fx, "dbias", 0), C, HP_TOL_REF);
  /* eval mode with the updated running statistics (which must not change) */
  float *rm2 = fcopy(rm, C), *rv2 = fcopy(rv, C);
  memset(dx, 0, n * sizeof(float));
  hp_batchnorm_forward(y, mean, rstd, rm, rv, x, w, b, M, C, eps, mom, 0);
  expect_close("batchnorm eval out", y, fix_f(fx, "eval_out", 0), n, HP_TOL_REF);
  assert_memory_equal(rm, rm2, C * sizeof(float));
  assert_memory_equal(rv, rv2, C * sizeof(float));
  hp_batchnorm_backward(dx, NULL, NULL, dy, x, w, mean, rstd, M, C, 0);
  expect_close("batchnorm eval dinp", dx, fix_f(fx, "eval_dinp", 0), n, HP_TOL_REF);
  free(rm); free(rv); free(rm2); free(rv2); free(y); free(mean); free(rstd); free(dx);
  free(dw); free(db);
  fix_free(fx);
}

typedef struct {
  int M, C;
  float *x, *w, *b, *y, *mean, *rstd, *rm, *rv, *g;
} bn_ctx;

static double bn_loss(void *p) {
  bn_ctx *c = p;
  hp_batchnorm_forward(c->y, c->mean, c->rstd, c->rm, c->rv, c->x, c->w, c->b, c->M, c->C, 1e-5f,
                       0.1f, 1);
  return dot_d(c->y, c->g, (size_t)c->M * c->C);
}

static void test_batchnorm_fd(void **state) {
  (void)state;
  bn_ctx c = {.M = 6, .C = 3}; /* e.g. N=2, H=1, W=3 */
  size_t n = 18;
  c.x = fbuf(n); c.w = fbuf(3); c.b = fbuf(3); c.y = fbuf(n); c.g = fbuf(n);
  c.mean = fbuf(3); c.rstd = fbuf(3); c.rm = fbuf(3); c.rv = fbuf(3);
  fill_uniform(c.x, n, 1, -2, 2);
  fill_uniform(c.w, 3, 2, 0.5f, 1.5f);
  fill_uniform(c.b, 3, 3, -1, 1);
  fill_uniform(c.g, n, 4, -1, 1);
  float *dx = fbuf(n), *dw = fbuf(3), *db = fbuf(3);
  bn_loss(&c);
  hp_batchnorm_backward(dx, dw, db, c.g, c.x, c.w, c.mean, c.rstd, c.M, c.C, 1);
  fd_check("batchnorm dinp", c.x, n, dx, bn_loss, &c, 1e-3f, HP_TOL_FD);
  fd_check("batchnorm dweight", c.w, 3, dw, bn_loss, &c, HP_FD_H, HP_TOL_FD);
  fd_check("batchnorm dbias", c.b, 3, db, bn_loss, &c, HP_FD_H, HP_TOL_FD);
  free(c.x); free(c.w); free(c.b); free(c.y); free(c.g); free(c.mean); free(c.rstd);
  free(c.rm); free(c.rv); free(dx); free(dw); free(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_batchnorm_fixture),
      cmocka_unit_test(test_batchnorm_fd),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
