/* test_embedding.c — token + positional embedding against PyTorch and finite differences. */
#include "nn_test.h"
#include "base/error.h"
#include "nn/embedding.h"

static void test_embedding_fixture(void **state) {
  (void)state;
  hp_fix *fx = fix_load("embedding");
  int V = fix_int(fx, "V"), C = fix_int(fx, "C"), B = fix_int(fx, "B"), T = fix_int(fx, "T");
  int N = B * T;
  const int32_t *ids = fix_i(fx, "ids", N);
  const float *table = fix_f(fx, "table", (size_t)V * C), *pos = fix_f(fx, "pos", (size_t)T * C);
  const float *dy = fix_f(fx, "dout", (size_t)N * C);
  assert_int_equal(hp_embedding_check_ids(ids, N, V), 0);
  float *y = fbuf((size_t)N * C), *dt = fbuf((size_t)V * C), *dp = fbuf((size_t)T * C);
  hp_embedding_forward(y, ids, table, N, C);
  hp_posembed_forward(y, pos, B, T, C);
  expect_close("embedding out", y, fix_f(fx, "out", 0), (size_t)N * C, HP_TOL_REF);
  hp_embedding_backward(dt, dy, ids, N, C);
  hp_posembed_backward(dp, dy, B, T, C);
  expect_close("embedding dtable", dt, fix_f(fx, "dtable", 0), (size_t)V * C, HP_TOL_REF);
  expect_close("embedding dpos", dp, fix_f(fx, "dpos", 0), (size_t)T * C, HP_TOL_REF);
  free(y); free(dt); free(dp);
  fix_free(fx);
}

static void test_embedding_bad_ids(void **state) {
  (void)state;
  int32_t ids[4] = {0, 3, 5, 1};
  assert_int_equal(hp_embedding_check_ids(ids, 4, 5), HP_ERR_INPUT);
  ids[2] = -1;
  assert_int_equal(hp_embedding_check_ids(ids, 4, 5), HP_ERR_INPUT);
  ids[2] = 4;
  assert_int_equal(hp_embedding_check_ids(ids, 4, 5), HP_OK);
  hp_error_clear();
}

typedef struct {
  int B, T, C;
  const int32_t *ids;
  float *table, *pos, *y, *g;
} emb_ctx;

static double emb_loss(void *p) {
  emb_ctx *c = p;
  hp_embedding_forward(c->y, c->ids, c->table, c->B * c->T, c->C);
  hp_posembed_forward(c->y, c->pos, c->B, c->T, c->C);
  return dot_d(c->y, c->g, (size_t)c->B * c->T * c->C);
}

static void test_embedding_fd(void **state) {
  (void)state;
  static const int32_t ids[6] = {2, 0, 2, 1, 2, 3};
  emb_ctx c = {.B = 2, .T = 3, .C = 4, .ids = ids};
  int V = 4;
  size_t ny = 6 * 4;
  c.table = fbuf(V * 4); c.pos = fbuf(3 * 4); c.y = fbuf(ny); c.g = fbuf(ny);
  fill_uniform(c.table, V * 4, 1, -1, 1);
  fill_uniform(c.pos, 12, 2, -1, 1);
  fill_uniform(c.g, ny, 3, -1, 1);
  float *dt = fbuf(V * 4), *dp = fbuf(12);
  hp_embedding_backward(dt, c.g, ids, 6, 4);
  hp_posembed_backward(dp, c.g, 2, 3, 4);
  fd_check("embedding dtable", c.table, V * 4, dt, emb_loss, &c, HP_FD_H, HP_TOL_FD);
  fd_check("embedding dpos", c.pos, 12, dp, emb_loss, &c, HP_FD_H, HP_TOL_FD);
  free(c.table); free(c.pos); free(c.y); free(c.g); free(dt); free(dp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_embedding_fixture),
      cmocka_unit_test(test_embedding_bad_ids),
      cmocka_unit_test(test_embedding_fd),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
