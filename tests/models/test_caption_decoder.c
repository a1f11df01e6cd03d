/* test_caption_decoder.c — the caption decoder against a plain-torch reference
 * (tests/fixtures/make_caption_fixtures.py): weights loaded BY NAME, logits, summed token
 * loss, every parameter gradient (1 and 2 blocks, captions with and without an end token);
 * targets; finite differences with dropout active; last-position logits equal the full forward's;
 * causality (a later token never changes an earlier position); config and id errors. */
#include "models_test.h"
#include "models/caption_decoder.h"
#include "base/error.h"

typedef struct {
  hp_params p;
  hp_capdec m;
  int B, T, V, E;
  float *cond;
  int32_t *caps, *tg;
  hp_drop drop;
} cd_case;

static void setup(cd_case *c, const mfix *fx) {
  memset(c, 0, sizeof *c);
  hp_capdec_config cfg;
  hp_capdec_config_default(&cfg);
  c->B = mfix_int(fx, "B");
  c->T = mfix_int(fx, "T");
  c->V = mfix_int(fx, "V");
  c->E = mfix_int(fx, "E");
  cfg.vocab = c->V;
  cfg.max_len = c->T;
  cfg.embed_dim = c->E;
  cfg.width = mfix_int(fx, "D");
  cfg.ffn = mfix_int(fx, "F");
  cfg.heads = mfix_int(fx, "H");
  cfg.layers = mfix_int(fx, "L");
  hp_params_init(&c->p);
  assert_int_equal(hp_capdec_build(&c->m, &cfg, &c->p), 0);
  assert_int_equal(hp_params_alloc(&c->p), 0);
  mfix_load_params(fx, &c->p);
  mfix_expect_all_registered(fx, &c->p, "capdec.");
  size_t bytes = 0;
  assert_int_equal(hp_capdec_alloc_acts(&c->m, c->B, &bytes), 0);
  assert_true(bytes == hp_capdec_acts_bytes(&cfg, c->B));
  size_t BT = (size_t)c->B * c->T;
  c->cond = fcopy(mfix_f(fx, "cond", (size_t)c->B * c->E), (size_t)c->B * c->E);
  c->caps = malloc(BT * sizeof *c->caps);
  c->tg = malloc(BT * sizeof *c->tg);
  memcpy(c->caps, mfix_i(fx, "captions", BT), BT * sizeof *c->caps);
  assert_int_equal(hp_capdec_targets(c->caps, c->B, c->T, c->tg), mfix_int(fx, "count"));
  assert_memory_equal(c->tg, mfix_i(fx, "targets", BT), BT * sizeof *c->tg);
}

static void teardown(cd_case *c) {
  hp_capdec_free(&c->m);
  hp_params_free(&c->p);
  free(c->cond);
  free(c->caps);
  free(c->tg);
}

static double run_forward(cd_case *c, const float **logits) {
  const float *lg;
  assert_int_equal(hp_capdec_forward(&c->m, &c->p, c->cond, c->caps, c->T, c->B, c->T, 0, &c->drop, &lg), 0);
  if (logits) {
    size_t n = (size_t)c->B * c->T * c->V;
    float *cp = fcopy(lg, n);
    *logits = cp;
  }
  return hp_capdec_loss(&c->m, c->tg, NULL, NULL);
}

static void check_fixture(const char *name) {
  mfix *fx = mfix_load(name);
  cd_case c;
  setup(&c, fx);
  const float *lg;
  double loss = run_forward(&c, &lg);
  printf("%s: %d tensors, %zu floats\n", name, c.p.n, c.p.total);
  size_t n = (size_t)c.B * c.T * c.V;
  expect_close("logits", lg, mfix_f(fx, "logits", n), n, HP_TOL_REF);
  double ref = mfix_f(fx, "loss", 1)[0];
  printf("  loss %.6f ref %.6f\n", loss, ref);
  assert_true(fabs(loss - ref) <= 1e-5 * fabs(ref));
  hp_params_zero_grad(&c.p);
  hp_capdec_backward(&c.m, &c.p, c.p.grad, c.tg, 1.0f);
  double worst = mfix_check_grads(fx, &c.p, c.p.grad, HP_TOL_REF);
  printf("  %-28s err %.3e (tol %.0e) over %d tensors\n", "all parameter gradients", worst, HP_TOL_REF, c.p.n);
  free((void *)lg);
  teardown(&c);
  mfix_free(fx);
}

static void test_capdec_torch(void **state) {
  (void)state;
  check_fixture("capdec");
}
static void test_capdec_torch_l2(void **state) {
  (void)state;
  check_fixture("capdec_l2");
}

static cd_case *fd_case;
static double fd_loss(void *ctx) {
  (void)ctx;
  return run_forward(fd_case, NULL);
}

/* finite differences of the summed loss with output and block dropout ON */
static void test_capdec_fd_dropout(void **state) {
  (void)state;
  mfix *fx = mfix_load("capdec");
  cd_case c;
  setup(&c, fx);
  c.m.cfg.block_dropout = 0.1f;
  c.drop = (hp_drop){.p = 0.5f, .seed = 17, .step = 3, .sample0 = 21};
  fd_case = &c;
  run_forward(&c, NULL);
  hp_params_zero_grad(&c.p);
  hp_capdec_backward(&c.m, &c.p, c.p.grad, c.tg, 1.0f);
  static const char *names[] = {"capdec.prefix.weight", "capdec.tok_embed.weight", "capdec.pos_embed.weight",
                                "capdec.blocks.0.attn.qkv.weight", "capdec.blocks.0.norm1.bias",
                                "capdec.blocks.0.mlp.fc1.weight", "capdec.out.weight", "capdec.out.bias"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    const hp_tensor_info *t = hp_params_find(&c.p, names[i]);
    assert_non_null(t);
    size_t off = t->offset, k = t->numel < 20 ? t->numel : 20;
    if (i == 1) off += (size_t)c.caps[0] * c.m.cfg.width; /* a used token row */
    fd_check(names[i], c.p.data + off, k, c.p.grad + off, fd_loss, NULL, HP_FD_H, HP_TOL_FD);
  }
  /* the dropout mask is keyed by the global sample index: sample0 changes the loss */
  double l1 = run_forward(&c, NULL);
  c.drop.sample0 = 22;
  double l2 = run_forward(&c, NULL);
  assert_true(fabs(l1 - l2) > 1e-6);
  teardown(&c);
  mfix_free(fx);
}

/* decoding path: logits of the last position of a shorter sequence = the full forward's row;
 * causality: changing a later token does not change earlier positions */
static void test_capdec_last_and_causal(void **state) {
  (void)state;
  mfix *fx = mfix_load("capdec");
  cd_case c;
  setup(&c, fx);
  int V = c.V, T = c.T, B = c.B;
  const float *full;
  run_forward(&c, &full); /* copy of the [B,T,V] logits */
  const float *lg;
  for (int S = 1; S <= T; S++) {
    assert_int_equal(hp_capdec_forward(&c.m, &c.p, c.cond, c.caps, T, B, S, 1, NULL, &lg), 0);
    for (int b = 0; b < B; b++)
      expect_close("last-position logits", lg + (size_t)b * V, full + ((size_t)b * T + S - 1) * V, (size_t)V, 1e-5);
  }
  /* decode-only activations: same last-position logits, full forward refused */
  size_t full_bytes = 0, dec_bytes = 0;
  assert_int_equal(hp_capdec_alloc_decode(&c.m, B, &dec_bytes), 0);
  for (int S = 1; S <= T; S += T - 1) {
    assert_int_equal(hp_capdec_forward(&c.m, &c.p, c.cond, c.caps, T, B, S, 1, NULL, &lg), 0);
    for (int b = 0; b < B; b++)
      expect_close("decode-only logits", lg + (size_t)b * V, full + ((size_t)b * T + S - 1) * V, (size_t)V, 1e-5);
  }
  assert_int_equal(hp_capdec_forward(&c.m, &c.p, c.cond, c.caps, T, B, T, 0, NULL, &lg), HP_ERR_INTERNAL);
  hp_error_clear();
  assert_int_equal(hp_capdec_alloc_acts(&c.m, B, &full_bytes), 0);
  assert_true(dec_bytes < full_bytes);
  int32_t keep = c.caps[3];
  c.caps[3] = (keep + 1) % V;
  assert_int_equal(hp_capdec_forward(&c.m, &c.p, c.cond, c.caps, T, B, T, 0, NULL, &lg), 0);
  expect_close("positions 0..3 unchanged", lg, full, (size_t)4 * V, 1e-6);
  assert_true(max_rel_err(lg + (size_t)4 * V, full + (size_t)4 * V, (size_t)V) > 1e-4);
  c.caps[3] = keep;
  /* a bad token id is an input error naming it */
  c.caps[0] = V;
  assert_int_equal(hp_capdec_forward(&c.m, &c.p, c.cond, c.caps, T, B, T, 0, NULL, &lg), HP_ERR_INPUT);
  assert_non_null(strstr(hp_error_message(), "outside the vocabulary"));
  hp_error_clear();
  free((void *)full);
  teardown(&c);
  mfix_free(fx);
}

static void test_capdec_config_errors(void **state) {
  (void)state;
  hp_capdec_config cfg;
  hp_capdec_config_default(&cfg);
  assert_int_equal(cfg.width, 768);
  assert_int_equal(cfg.ffn, 2048);
  assert_int_equal(cfg.heads, 8);
  assert_int_equal(cfg.layers, 1);
  assert_int_equal(cfg.max_len, 20);
  assert_int_equal(cfg.vocab, 15000);
  assert_true(cfg.dropout == 0.5f);
  hp_params p;
  hp_capdec m;
  cfg.width = 20;
  cfg.heads = 8;
  hp_params_init(&p);
  assert_int_equal(hp_capdec_build(&m, &cfg, &p), HP_ERR_CONFIG);
  assert_non_null(strstr(hp_error_message(), "caption.heads"));
  hp_error_clear();
  hp_capdec_free(&m);
  hp_params_free(&p);
  hp_capdec_config_default(&cfg);
  cfg.dropout = 1.0f;
  hp_params_init(&p);
  assert_int_equal(hp_capdec_build(&m, &cfg, &p), HP_ERR_CONFIG);
  hp_error_clear();
  hp_capdec_free(&m);
  hp_params_free(&p);
  /* seeded init: LayerNorm weights 1, biases 0, the rest small */
  hp_capdec_config_default(&cfg);
  cfg.vocab = 30;
  cfg.max_len = 5;
  cfg.embed_dim = 6;
  cfg.width = 8;
  cfg.ffn = 16;
  cfg.heads = 2;
  hp_params_init(&p);
  assert_int_equal(hp_capdec_build(&m, &cfg, &p), 0);
  assert_int_equal(hp_params_alloc(&p), 0);
  hp_capdec_init(&m, &p, 7);
  assert_true(p.data[hp_params_find(&p, "capdec.blocks.0.norm1.weight")->offset] == 1.0f);
  assert_true(p.data[hp_params_find(&p, "capdec.out.bias")->offset] == 0.0f);
  assert_true(p.data[hp_params_find(&p, "capdec.out.weight")->offset] != 0.0f);
  hp_capdec_free(&m);
  hp_params_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_capdec_torch),          cmocka_unit_test(test_capdec_torch_l2),
      cmocka_unit_test(test_capdec_fd_dropout),     cmocka_unit_test(test_capdec_last_and_causal),
      cmocka_unit_test(test_capdec_config_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
