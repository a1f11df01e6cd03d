/* test_head.c — projection head (Dense + L2 normalisation) against PyTorch, flags, and
 * finite differences. */
#include "models_test.h"
#include "models/head.h"

static void test_head_fixture(void **state) {
  (void)state;
  mfix *fx = mfix_load("head");
  int B = mfix_int(fx, "B"), Din = mfix_int(fx, "Din"), E = mfix_int(fx, "E");
  hp_params p;
  hp_head h;
  hp_params_init(&p);
  assert_int_equal(hp_head_build(&h, "visual_projection", Din, E, 1, &p), 0);
  assert_int_equal(hp_params_alloc(&p), 0);
  const hp_tensor_info *tw = hp_params_find(&p, "visual_projection.weight");
  const hp_tensor_info *tb = hp_params_find(&p, "visual_projection.bias");
  assert_non_null(tw);
  assert_non_null(tb);
  assert_true(tw->flags & HP_PARAM_L2);
  assert_false(tb->flags & HP_PARAM_L2);
  memcpy(p.data + tw->offset, mfix_f(fx, "weight", tw->numel), tw->numel * sizeof(float));
  memcpy(p.data + tb->offset, mfix_f(fx, "bias", tb->numel), tb->numel * sizeof(float));
  assert_int_equal(hp_head_alloc_acts(&h, B, NULL), 0);
  const float *x = mfix_f(fx, "x", (size_t)B * Din), *G = mfix_f(fx, "G", (size_t)B * E);
  const float *emb;
  assert_int_equal(hp_head_forward(&h, &p, x, B, &emb), 0);
  expect_close("head emb", emb, mfix_f(fx, "emb", (size_t)B * E), (size_t)B * E, HP_TOL_REF);
  for (int b = 0; b < B; b++) assert_true(fabs(dot_d(emb + b * E, emb + b * E, E) - 1.0) < 1e-5);
  float *dx = fbuf((size_t)B * Din);
  hp_head_backward(&h, &p, p.grad, G, dx);
  expect_close("head dx", dx, mfix_f(fx, "dx", (size_t)B * Din), (size_t)B * Din, HP_TOL_REF);
  expect_close("head dweight", p.grad + tw->offset, mfix_f(fx, "grad.weight", tw->numel), tw->numel, HP_TOL_REF);
  expect_close("head dbias", p.grad + tb->offset, mfix_f(fx, "grad.bias", tb->numel), tb->numel, HP_TOL_REF);
  free(dx);
  hp_head_free(&h);
  hp_params_free(&p);
  mfix_free(fx);
}

typedef struct {
  hp_head *h;
  hp_params *p;
  float *x;
  const float *G;
  int B;
} hctx;

static double h_loss(void *v) {
  hctx *c = v;
  const float *emb;
  assert_int_equal(hp_head_forward(c->h, c->p, c->x, c->B, &emb), 0);
  return dot_d(emb, c->G, (size_t)c->B * c->h->out);
}

static void test_head_fd(void **state) {
  (void)state;
  int B = 3, Din = 5, E = 4;
  hp_params p;
  hp_head h;
  hp_params_init(&p);
  assert_int_equal(hp_head_build(&h, "text_projection", Din, E, 1, &p), 0);
  assert_int_equal(hp_params_alloc(&p), 0);
  fill_uniform(p.data + h.w, (size_t)E * Din, 1, -1, 1);
  fill_uniform(p.data + h.b, (size_t)E, 2, -1, 1);
  assert_int_equal(hp_head_alloc_acts(&h, B, NULL), 0);
  float *x = fbuf((size_t)B * Din), *G = fbuf((size_t)B * E), *dx = fbuf((size_t)B * Din);
  fill_uniform(x, (size_t)B * Din, 3, -1, 1);
  fill_uniform(G, (size_t)B * E, 4, -1, 1);
  hctx c = {&h, &p, x, G, B};
  h_loss(&c);
  hp_head_backward(&h, &p, p.grad, G, dx);
  fd_check("head x", x, (size_t)B * Din, dx, h_loss, &c, HP_FD_H, HP_TOL_FD);
  fd_check("head weight", p.data + h.w, (size_t)E * Din, p.grad + h.w, h_loss, &c, HP_FD_H, HP_TOL_FD);
  fd_check("head bias", p.data + h.b, (size_t)E, p.grad + h.b, h_loss, &c, HP_FD_H, HP_TOL_FD);
  free(x); free(G); free(dx);
  hp_head_free(&h);
  hp_params_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_head_fixture),
      cmocka_unit_test(test_head_fd),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
