/* test_layernorm.c — hp_layernorm_* against PyTorch and finite differences. */
#include "nn_test.h"
#include "nn/layernorm.h"

static void test_layernorm_fixture(void **state) {
  (void)state;
  hp_fix *fx = fix_load("layernorm");
  int N = fix_int(fx, "N"), C = fix_int(fx, "C");
  float eps = fix_real(fx, "eps");
  size_t n = (size_t)N * C;
  const float *x = fix_f(fx, "inp", n), *w = fix_f(fx, "weight", C), *b = fix_f(fx, "bias", C);
  const float *dy = fix_f(fx, "dout", n);
  float *y = fbuf(n), *mean = fbuf(N), *rstd = fbuf(N), *dx = fbuf(n), *dw = fbuf(C),
        *db = fbuf(C);
  hp_layernorm_forward(y, mean, rstd, x, w, b, N, C, eps);
  expect_close("layernorm out", y, fix_f(fx, "out", 0), n, HP_TOL_REF);
  expect_close("layernorm mean", mean, fix_f(fx, "mean", 0), N, HP_TOL_REF);
  expect_close("layernorm rstd", rstd, fix_f(fx, "rstd", 0), N, HP_TOL_REF);
  hp_layernorm_backward(dx, dw, db, dy, x, w, mean, rstd, N, C);
  expect_close("layernorm dinp", dx, fix_f(fx, "dinp", 0), n, HP_TOL_REF);
  expect_close("layernorm dweight", dw, fix_f(fx, "dweight", 0), C, HP_TOL_REF);
  expect_close("layernorm dbias", db, fix_f(fx, "dbias", 0), C, HP_TOL_REF);
  free(y); free(mean); free(rstd); free(dx); free(dw); free(db);
  fix_free(fx);
}

typedef struct {
  int N, C;
  float *x, *w, *b, *y, *mean, *rstd, *g;
} ln_ctx;

static double ln_loss(void *p) {
  ln_ctx *c = p;
  hp_layernorm_forward(c->y, c->mean, c->rstd, c->x, c->w, c->b, c->N, c->C, 1e-5f);
  return dot_d(c->y, c->g, (size_t)c->N * c->C);
}

static void test_layernorm_fd(void **state) {
  (void)state;
  ln_ctx c = {.N = 3, .C = 6};
  size_t n = 18;
  c.x = fbuf(n); c.w = fbuf(6); c.b = fbuf(6); c.y = fbuf(n); c.g = fbuf(n);
  c.mean = fbuf(3); c.rstd = fbuf(3);
  fill_uniform(c.x, n, 1, -2, 2);
  fill_uniform(c.w, 6, 2, 0.5f, 1.5f);
  fill_uniform(c.b, 6, 3, -1, 1);
  fill_uniform(c.g, n, 4, -1, 1);
  float *dx = fbuf(n), *dw = fbuf(6), *db = fbuf(6);
  ln_loss(&c);
  hp_layernorm_backward(dx, dw, db, c.g, c.x, c.w, c.mean, c.rstd, 3, 6);
  /* smaller step: the normalisation is curved on the scale of the row's std (~1) */
  fd_check("layernorm dinp", c.x, n, dx, ln_loss, &c, 1e-3f, HP_TOL_FD);
  fd_check("layernorm dweight", c.w, 6, dw, ln_loss, &c, HP_FD_H, HP_TOL_FD);
  fd_check("layernorm dbias", c.b, 6, db, ln_loss, &c, HP_FD_H, HP_TOL_FD);
  free(c.x); free(c.w); free(c.b); free(c.y); free(c.g); free(c.mean); free(c.rstd);
  free(dx); free(dw); free(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_layernorm_fixture),
      cmocka_unit_test(test_layernorm_fd),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
