/* test_linear.c — hp_linear_* against PyTorch (fixture linear.bin) and finite differences. */
#include "nn_test.h"
#include "nn/linear.h"

static void test_linear_fixture(void **state) {
  (void)state;
  hp_fix *fx = fix_load("linear");
  int N = fix_int(fx, "N"), IC = fix_int(fx, "IC"), OC = fix_int(fx, "OC");
  const float *x = fix_f(fx, "inp", (size_t)N * IC), *w = fix_f(fx, "weight", (size_t)OC * IC);
  const float *b = fix_f(fx, "bias", OC), *dy = fix_f(fx, "dout", (size_t)N * OC);
  float *y = fbuf((size_t)N * OC), *dx = fbuf((size_t)N * IC), *dw = fbuf((size_t)OC * IC),
        *db = fbuf(OC);
  hp_linear_forward(y, x, w, b, N, IC, OC);
  expect_close("linear out", y, fix_f(fx, "out", 0), (size_t)N * OC, HP_TOL_REF);
  hp_linear_backward(dx, dw, db, dy, x, w, N, IC, OC);
  expect_close("linear dinp", dx, fix_f(fx, "dinp", 0), (size_t)N * IC, HP_TOL_REF);
  expect_close("linear dweight", dw, fix_f(fx, "dweight", 0), (size_t)OC * IC, HP_TOL_REF);
  expect_close("linear dbias", db, fix_f(fx, "dbias", 0), OC, HP_TOL_REF);

  /* backward accumulates: a second call doubles every gradient */
  float *dx2 = fcopy(dx, (size_t)N * IC), *dw2 = fcopy(dw, (size_t)OC * IC), *db2 = fcopy(db, OC);
  hp_linear_backward(dx2, dw2, db2, dy, x, w, N, IC, OC);
  for (size_t i = 0; i < (size_t)N * IC; i++) dx[i] *= 2.0f;
  for (size_t i = 0; i < (size_t)OC * IC; i++) dw[i] *= 2.0f;
  for (int i = 0; i < OC; i++) db[i] *= 2.0f;
  expect_close("linear accumulate dinp", dx2, dx, (size_t)N * IC, 1e-6);
  expect_close("linear accumulate dweight", dw2, dw, (size_t)OC * IC, 1e-6);
  expect_close("linear accumulate dbias", db2, db, OC, 1e-6);

  /* no bias: out - bias */
  float *y0 = fbuf((size_t)N * OC);
  hp_linear_forward(y0, x, w, NULL, N, IC, OC);
  for (int n = 0; n < N; n++)
    for (int o = 0; o < OC; o++) y0[n * OC + o] += b[o];
  expect_close("linear out (no bias)+bias", y0, fix_f(fx, "out", 0), (size_t)N * OC, HP_TOL_REF);
  free(y); free(dx); free(dw); free(db); free(dx2); free(dw2); free(db2); free(y0);
  fix_free(fx);
}

typedef struct {
  int N, IC, OC;
  float *x, *w, *b, *y, *g;
} lin_ctx;

static double lin_loss(void *p) {
  lin_ctx *c = p;
  hp_linear_forward(c->y, c->x, c->w, c->b, c->N, c->IC, c->OC);
  return dot_d(c->y, c->g, (size_t)c->N * c->OC);
}

static void test_linear_fd(void **state) {
  (void)state;
  lin_ctx c = {.N = 3, .IC = 4, .OC = 5};
  size_t nx = (size_t)c.N * c.IC, nw = (size_t)c.OC * c.IC, ny = (size_t)c.N * c.OC;
  c.x = fbuf(nx); c.w = fbuf(nw); c.b = fbuf(c.OC); c.y = fbuf(ny); c.g = fbuf(ny);
  fill_uniform(c.x, nx, 1, -1, 1);
  fill_uniform(c.w, nw, 2, -1, 1);
  fill_uniform(c.b, c.OC, 3, -1, 1);
  fill_uniform(c.g, ny, 4, -1, 1);
  float *dx = fbuf(nx), *dw = fbuf(nw), *db = fbuf(c.OC);
  hp_linear_backward(dx, dw, db, c.g, c.x, c.w, c.N, c.IC, c.OC);
  fd_check("linear dinp", c.x, nx, dx, lin_loss, &c, HP_FD_H, HP_TOL_FD);
  fd_check("linear dweight", c.w, nw, dw, lin_loss, &c, HP_FD_H, HP_TOL_FD);
  fd_check("linear dbias", c.b, c.OC, db, lin_loss, &c, HP_FD_H, HP_TOL_FD);
  free(c.x); free(c.w); free(c.b); free(c.y); free(c.g); free(dx); free(dw); free(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_linear_fixture),
      cmocka_unit_test(test_linear_fd),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
