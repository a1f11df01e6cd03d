/* test_loss.c — cross-entropy with ignore_index against PyTorch, all-ignored, and FD. */
#include "nn_test.h"
#include "nn/loss.h"

static void test_loss_fixture(void **state) {
  (void)state;
  hp_fix *fx = fix_load("loss");
  int N = fix_int(fx, "N"), V = fix_int(fx, "V"), ign = fix_int(fx, "ignore_index");
  size_t n = (size_t)N * V;
  const float *x = fix_f(fx, "logits", n);
  const int32_t *t = fix_i(fx, "targets", N);
  float *probs = fbuf(n), *dx = fbuf(n), *losses = fbuf(N);
  int count = 0;
  float loss = (float)hp_crossentropy_forward(probs, losses, &count, x, t, N, V, ign);
  assert_int_equal(count, 5);
  expect_close("crossentropy loss", &loss, fix_f(fx, "loss", 1), 1, HP_TOL_REF);
  expect_close("crossentropy probs", probs, fix_f(fx, "probs", 0), n, HP_TOL_REF);
  hp_crossentropy_backward(dx, probs, t, N, V, ign, count, fix_real(fx, "dloss"));
  expect_close("crossentropy dlogits", dx, fix_f(fx, "dlogits", 0), n, HP_TOL_REF);
  /* probs aliasing logits gives the same loss */
  float *xa = fcopy(x, n);
  float loss2 = (float)hp_crossentropy_forward(xa, NULL, &count, xa, t, N, V, ign);
  expect_close("crossentropy loss (in place)", &loss2, &loss, 1, 1e-7);
  /* all rows ignored: loss 0, no gradient, no NaN */
  int32_t allign[7];
  for (int i = 0; i < N; i++) allign[i] = ign;
  float *dz = fbuf(n);
  assert_true(hp_crossentropy_forward(probs, NULL, &count, x, allign, N, V, ign) == 0.0);
  assert_int_equal(count, 0);
  hp_crossentropy_backward(dz, probs, allign, N, V, ign, count, 1.0f);
  for (size_t i = 0; i < n; i++) assert_true(dz[i] == 0.0f);
  free(probs); free(dx); free(losses); free(xa); free(dz);
  fix_free(fx);
}

typedef struct {
  int N, V;
  float *x, *probs;
  const int32_t *t;
} ce_ctx;

static double ce_loss(void *p) {
  ce_ctx *c = p;
  int count;
  return hp_crossentropy_forward(c->probs, NULL, &count, c->x, c->t, c->N, c->V, -1);
}

static void test_loss_fd(void **state) {
  (void)state;
  static const int32_t t[4] = {2, -1, 0, 4};
  ce_ctx c = {.N = 4, .V = 5, .t = t};
  size_t n = 20;
  c.x = fbuf(n); c.probs = fbuf(n);
  fill_uniform(c.x, n, 1, -3, 3);
  float *dx = fbuf(n);
  int count;
  hp_crossentropy_forward(c.probs, NULL, &count, c.x, t, c.N, c.V, -1);
  hp_crossentropy_backward(dx, c.probs, t, c.N, c.V, -1, count, 1.0f);
  fd_check("crossentropy dlogits", c.x, n, dx, ce_loss, &c, HP_FD_H, HP_TOL_FD);
  free(c.x); free(c.probs); free(dx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_loss_fixture),
      cmocka_unit_test(test_loss_fd),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
