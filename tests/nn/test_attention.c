/* test_attention.c — masked multi-head attention against PyTorch (padding mask, padding +
 * causal), the all-masked row (no NaN), and finite differences. */
#include "nn_test.h"
#include "nn/attention.h"

static void run_case(const hp_fix *fx, const char *tag, int causal) {
  int B = fix_int(fx, "B"), T = fix_int(fx, "T"), C = fix_int(fx, "C"), NH = fix_int(fx, "NH");
  const int32_t *kv32 = fix_i(fx, "key_valid", (size_t)B * T);
  uint8_t *kv = malloc((size_t)B * T);
  for (int i = 0; i < B * T; i++) kv[i] = (uint8_t)kv32[i];
  char nm[64], lbl[64];
  size_t nqkv = (size_t)B * T * 3 * C, ny = (size_t)B * T * C, na = (size_t)B * NH * T * T;
#define F(name, n) (snprintf(nm, sizeof nm, "%s" name, tag), fix_f(fx, nm, n))
#define L(name) (snprintf(lbl, sizeof lbl, "attention %s" name, tag), lbl)
  const float *qkv = F("qkv", nqkv), *dy = F("dout", ny);
  float *y = fbuf(ny), *att = fbuf(na), *dqkv = fbuf(nqkv), *scratch = fbuf(na);
  hp_attention_forward(y, att, qkv, kv, causal, B, T, C, NH);
  expect_close(L("out"), y, F("out", ny), ny, HP_TOL_REF);
  expect_close(L("att"), att, F("att", na), na, HP_TOL_REF);
  hp_attention_backward(dqkv, scratch, dy, qkv, att, B, T, C, NH);
  expect_close(L("dqkv"), dqkv, F("dqkv", nqkv), nqkv, HP_TOL_REF);
#undef F
#undef L
  free(kv); free(y); free(att); free(dqkv); free(scratch);
}

static void test_attention_fixture(void **state) {
  (void)state;
  hp_fix *fx = fix_load("attention");
  run_case(fx, "m_", 0);
  run_case(fx, "c_", 1);
  fix_free(fx);
}

/* A sequence whose keys are all padding: outputs and gradients exactly 0, no NaN. */
static void test_attention_all_masked(void **state) {
  (void)state;
  int B = 2, T = 4, C = 6, NH = 2;
  size_t nqkv = (size_t)B * T * 3 * C, ny = (size_t)B * T * C, na = (size_t)B * NH * T * T;
  uint8_t kv[8] = {1, 1, 0, 1, 0, 0, 0, 0};
  float *qkv = fbuf(nqkv), *y = fbuf(ny), *att = fbuf(na), *dy = fbuf(ny), *dqkv = fbuf(nqkv),
        *scr = fbuf(na);
  fill_uniform(qkv, nqkv, 1, -2, 2);
  fill_uniform(dy, ny, 2, -1, 1);
  hp_attention_forward(y, att, qkv, kv, 0, B, T, C, NH);
  hp_attention_backward(dqkv, scr, dy, qkv, att, B, T, C, NH);
  for (size_t i = 0; i < ny; i++) assert_false(isnan(y[i]));
  for (size_t i = ny / 2; i < ny; i++) assert_true(y[i] == 0.0f);      /* batch 1 */
  for (size_t i = nqkv / 2; i < nqkv; i++) assert_true(dqkv[i] == 0.0f);
  for (size_t i = 0; i < nqkv / 2; i++) assert_false(isnan(dqkv[i]));
  /* batch 0: masked key 2 gets probability 0 and its k, v no gradient */
  for (int h = 0; h < NH; h++)
    for (int i = 0; i < T; i++) assert_true(att[((size_t)h * T + i) * T + 2] == 0.0f);
  for (int c = C; c < 3 * C; c++) assert_true(dqkv[(size_t)2 * 3 * C + c] == 0.0f);
  free(qkv); free(y); free(att); free(dy); free(dqkv); free(scr);
}

typedef struct {
  int B, T, C, NH, causal;
  const uint8_t *kv;
  float *qkv, *y, *att, *g;
} at_ctx;

static double at_loss(void *p) {
  at_ctx *c = p;
  hp_attention_forward(c->y, c->att, c->qkv, c->kv, c->causal, c->B, c->T, c->C, c->NH);
  return dot_d(c->y, c->g, (size_t)c->B * c->T * c->C);
}

static void test_attention_fd(void **state) {
  (void)state;
  static const uint8_t kv[6] = {1, 1, 1, 1, 0, 1};
  for (int causal = 0; causal <= 1; causal++) {
    at_ctx c = {.B = 2, .T = 3, .C = 4, .NH = 2, .causal = causal, .kv = kv};
    size_t nqkv = 2 * 3 * 12, ny = 2 * 3 * 4, na = 2 * 2 * 9;
    c.qkv = fbuf(nqkv); c.y = fbuf(ny); c.att = fbuf(na); c.g = fbuf(ny);
    fill_uniform(c.qkv, nqkv, 10 + causal, -1.5f, 1.5f);
    fill_uniform(c.g, ny, 20 + causal, -1, 1);
    float *dqkv = fbuf(nqkv), *scr = fbuf(na);
    at_loss(&c);
    hp_attention_backward(dqkv, scr, c.g, c.qkv, c.att, c.B, c.T, c.C, c.NH);
    fd_check(causal ? "attention dqkv (causal)" : "attention dqkv", c.qkv, nqkv, dqkv, at_loss,
             &c, HP_FD_H, HP_TOL_FD);
    free(c.qkv); free(c.y); free(c.att); free(c.g); free(dqkv); free(scr);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_attention_fixture),
      cmocka_unit_test(test_attention_all_masked),
      cmocka_unit_test(test_attention_fd),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
