/* test_pool.c — NHWC max / average / global-average pooling against PyTorch, and FD. */
#include "nn_test.h"
#include "nn/conv.h"
#include "nn/pool.h"

static void test_pool_fixture(void **state) {
  (void)state;
  hp_fix *fx = fix_load("pool");
  const int32_t *cfg = fix_i(fx, "cfg", 4);
  int N = cfg[0], H = cfg[1], W = cfg[2], C = cfg[3];
  size_t nx = (size_t)N * H * W * C;
  const float *x = fix_f(fx, "inp", nx);
  const char *tags[4] = {"max_", "max2_", "avg_", "avgx_"};
  char nm[64], lbl[64];
  for (int t = 0; t < 4; t++) {
    const char *tag = tags[t];
    snprintf(nm, sizeof nm, "%scfg", tag);
    const int32_t *pc = fix_i(fx, nm, 4);
    int K = pc[0], s = pc[1], p = pc[2], cip = pc[3];
    int OH = hp_conv2d_out_size(H, K, s, p), OW = hp_conv2d_out_size(W, K, s, p);
    size_t ny = (size_t)N * OH * OW * C;
    float *y = fbuf(ny), *dx = fbuf(nx);
    int32_t *am = calloc(ny, sizeof(int32_t));
    snprintf(nm, sizeof nm, "%sdout", tag);
    const float *dy = fix_f(fx, nm, ny);
    if (tag[0] == 'm') {
      hp_maxpool2d_forward(y, am, x, N, H, W, C, K, K, s, p);
      hp_maxpool2d_backward(dx, dy, am, N, H, W, C, OH, OW);
    } else {
      hp_avgpool2d_forward(y, x, N, H, W, C, K, K, s, p, cip);
      hp_avgpool2d_backward(dx, dy, N, H, W, C, K, K, s, p, cip);
    }
    snprintf(nm, sizeof nm, "%sout", tag);
    snprintf(lbl, sizeof lbl, "pool %sout", tag);
    expect_close(lbl, y, fix_f(fx, nm, ny), ny, HP_TOL_REF);
    snprintf(nm, sizeof nm, "%sdinp", tag);
    snprintf(lbl, sizeof lbl, "pool %sdinp", tag);
    expect_close(lbl, dx, fix_f(fx, nm, nx), nx, HP_TOL_REF);
    free(y); free(dx); free(am);
  }
  float *g = fbuf((size_t)N * C), *dx = fbuf(nx);
  hp_global_avgpool_forward(g, x, N, H, W, C);
  expect_close("pool global out", g, fix_f(fx, "gap_out", (size_t)N * C), (size_t)N * C,
               HP_TOL_REF);
  hp_global_avgpool_backward(dx, fix_f(fx, "gap_dout", (size_t)N * C), N, H, W, C);
  expect_close("pool global dinp", dx, fix_f(fx, "gap_dinp", nx), nx, HP_TOL_REF);
  free(g); free(dx);
  fix_free(fx);
}

typedef struct {
  int kind; /* 0 max, 1 avg (count_include_pad 0), 2 global */
  int N, H, W, C, K, s, p, OH, OW;
  float *x, *y, *g;
  int32_t *am;
} pl_ctx;

static size_t pl_ny(const pl_ctx *c) {
  return c->kind == 2 ? (size_t)c->N * c->C : (size_t)c->N * c->OH * c->OW * c->C;
}

static double pl_loss(void *p) {
  pl_ctx *c = p;
  if (c->kind == 0)
    hp_maxpool2d_forward(c->y, c->am, c->x, c->N, c->H, c->W, c->C, c->K, c->K, c->s, c->p);
  else if (c->kind == 1)
    hp_avgpool2d_forward(c->y, c->x, c->N, c->H, c->W, c->C, c->K, c->K, c->s, c->p, 0);
  else
    hp_global_avgpool_forward(c->y, c->x, c->N, c->H, c->W, c->C);
  return dot_d(c->y, c->g, pl_ny(c));
}

static void test_pool_fd(void **state) {
  (void)state;
  static const char *names[3] = {"maxpool dinp", "avgpool dinp", "global avgpool dinp"};
  for (int kind = 0; kind < 3; kind++) {
    pl_ctx c = {.kind = kind, .N = 2, .H = 5, .W = 4, .C = 2, .K = 3, .s = 2, .p = 1};
    c.OH = hp_conv2d_out_size(c.H, c.K, c.s, c.p);
    c.OW = hp_conv2d_out_size(c.W, c.K, c.s, c.p);
    size_t nx = (size_t)c.N * c.H * c.W * c.C, ny = pl_ny(&c);
    c.x = fbuf(nx); c.y = fbuf(ny); c.g = fbuf(ny);
    c.am = calloc(ny, sizeof(int32_t));
    /* distinct values at least 0.1 apart (shuffled) so max pooling has no near-ties */
    hp_rng r = hp_rng_make(7, 1, 0);
    for (size_t i = 0; i < nx; i++) c.x[i] = 0.1f * (float)i - 2.0f;
    for (size_t i = nx - 1; i > 0; i--) {
      size_t j = hp_rng_below(&r, i + 1);
      float t = c.x[i]; c.x[i] = c.x[j]; c.x[j] = t;
    }
    fill_uniform(c.g, ny, 3, -1, 1);
    float *dx = fbuf(nx);
    pl_loss(&c);
    if (kind == 0)
      hp_maxpool2d_backward(dx, c.g, c.am, c.N, c.H, c.W, c.C, c.OH, c.OW);
    else if (kind == 1)
      hp_avgpool2d_backward(dx, c.g, c.N, c.H, c.W, c.C, c.K, c.K, c.s, c.p, 0);
    else
      hp_global_avgpool_backward(dx, c.g, c.N, c.H, c.W, c.C);
    fd_check(names[kind], c.x, nx, dx, pl_loss, &c, HP_FD_H, HP_TOL_FD);
    free(c.x); free(c.y); free(c.g); free(c.am); free(dx);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pool_fixture),
      cmocka_unit_test(test_pool_fd),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
