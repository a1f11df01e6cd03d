/* test_conv.c — NHWC conv2d (im2col + sgemm) against PyTorch: 3x3/stride 2/pad 1, the 1x1
 * fast path, a non-square kernel; chunked vs whole-batch scratch; finite differences. */
#include "nn_test.h"
#include "nn/conv.h"

static void run_case(const hp_fix *fx, const char *tag, int chunk1) {
  char nm[64], lbl[80];
#define F(name, n) (snprintf(nm, sizeof nm, "%s" name, tag), fix_f(fx, nm, n))
#define L(name) \
  (snprintf(lbl, sizeof lbl, "conv %s%s " name, tag, chunk1 ? "(1 img/gemm)" : ""), lbl)
  snprintf(nm, sizeof nm, "%scfg", tag);
  const int32_t *cfg = fix_i(fx, nm, 9);
  int N = cfg[0], C = cfg[1], H = cfg[2], W = cfg[3], OC = cfg[4], KH = cfg[5], KW = cfg[6],
      s = cfg[7], p = cfg[8];
  int OH = hp_conv2d_out_size(H, KH, s, p), OW = hp_conv2d_out_size(W, KW, s, p);
  size_t nx = (size_t)N * H * W * C, nw = (size_t)OC * KH * KW * C, ny = (size_t)N * OH * OW * OC;
  const float *x = F("inp", nx), *w = F("weight", nw), *b = F("bias", OC), *dy = F("dout", ny);
  size_t per = hp_conv2d_col_floats(H, W, C, KH, KW, s, p);
  size_t cap = chunk1 ? per : per * N;
  float *col = fbuf(cap), *y = fbuf(ny), *dx = fbuf(nx), *dw = fbuf(nw), *db = fbuf(OC);
  hp_conv2d_forward(y, x, w, b, col, cap, N, H, W, C, OC, KH, KW, s, p);
  expect_close(L("out"), y, F("out", ny), ny, HP_TOL_REF);
  hp_conv2d_backward(dx, dw, db, dy, x, w, col, cap, N, H, W, C, OC, KH, KW, s, p);
  expect_close(L("dinp"), dx, F("dinp", nx), nx, HP_TOL_REF);
  expect_close(L("dweight"), dw, F("dweight", nw), nw, HP_TOL_REF);
  expect_close(L("dbias"), db, F("dbias", OC), OC, HP_TOL_REF);
#undef F
#undef L
  free(col); free(y); free(dx); free(dw); free(db);
}

static void test_conv_fixture(void **state) {
  (void)state;
  hp_fix *fx = fix_load("conv");
  for (int chunk1 = 0; chunk1 <= 1; chunk1++) {
    run_case(fx, "a_", chunk1);
    run_case(fx, "b_", chunk1);
    run_case(fx, "c_", chunk1);
  }
  fix_free(fx);
}

typedef struct {
  int N, H, W, C, OC, K, s, p;
  float *x, *w, *b, *y, *g, *col;
  size_t cap;
} cv_ctx;

static size_t cv_ny(const cv_ctx *c) {
  return (size_t)c->N * hp_conv2d_out_size(c->H, c->K, c->s, c->p) *
         hp_conv2d_out_size(c->W, c->K, c->s, c->p) * c->OC;
}

static double cv_loss(void *p) {
  cv_ctx *c = p;
  hp_conv2d_forward(c->y, c->x, c->w, c->b, c->col, c->cap, c->N, c->H, c->W, c->C, c->OC, c->K,
                    c->K, c->s, c->p);
  return dot_d(c->y, c->g, cv_ny(c));
}

static void test_conv_fd(void **state) {
  (void)state;
  cv_ctx c = {.N = 2, .H = 4, .W = 3, .C = 2, .OC = 3, .K = 3, .s = 2, .p = 1};
  size_t nx = (size_t)c.N * c.H * c.W * c.C, nw = (size_t)c.OC * c.K * c.K * c.C, ny = cv_ny(&c);
  c.cap = hp_conv2d_col_floats(c.H, c.W, c.C, c.K, c.K, c.s, c.p) * c.N;
  c.x = fbuf(nx); c.w = fbuf(nw); c.b = fbuf(c.OC); c.y = fbuf(ny); c.g = fbuf(ny);
  c.col = fbuf(c.cap);
  fill_uniform(c.x, nx, 1, -1, 1);
  fill_uniform(c.w, nw, 2, -1, 1);
  fill_uniform(c.b, c.OC, 3, -1, 1);
  fill_uniform(c.g, ny, 4, -1, 1);
  float *dx = fbuf(nx), *dw = fbuf(nw), *db = fbuf(c.OC);
  hp_conv2d_backward(dx, dw, db, c.g, c.x, c.w, c.col, c.cap, c.N, c.H, c.W, c.C, c.OC, c.K, c.K,
                     c.s, c.p);
  fd_check("conv dinp", c.x, nx, dx, cv_loss, &c, HP_FD_H, HP_TOL_FD);
  fd_check("conv dweight", c.w, nw, dw, cv_loss, &c, HP_FD_H, HP_TOL_FD);
  fd_check("conv dbias", c.b, c.OC, db, cv_loss, &c, HP_FD_H, HP_TOL_FD);
  free(c.x); free(c.w); free(c.b); free(c.y); free(c.g); free(c.col); free(dx); free(dw);
  free(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conv_fixture),
      cmocka_unit_test(test_conv_fd),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
