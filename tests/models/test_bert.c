/* test_bert.c — BERT text tower + text projection head against a plain-torch reference with
 * Hugging Face state-dict names (tests/fixtures/make_model_fixtures.py): weights loaded BY NAME,
 * pooled output, embedding, and every parameter gradient (CLS and mean pooling, padding
 * mask); finite differences with dropout active; dropout determinism; shorter T. */
#include "models_test.h"
#include "models/bert.h"
#include "models/head.h"
#include "base/error.h"

typedef struct {
  hp_params p;
  hp_bert m;
  hp_head h;
  int B, T, E;
  int32_t *ids;
  uint8_t *valid;
  const float *G;
  hp_drop drop;
} bert_case;

static void setup(bert_case *c, const mfix *fx) {
  memset(c, 0, sizeof *c);
  hp_bert_config cfg;
  hp_bert_config_default(&cfg);
  c->B = mfix_int(fx, "B");
  c->T = mfix_int(fx, "T");
  c->E = mfix_int(fx, "E");
  cfg.vocab = mfix_int(fx, "V");
  cfg.max_len = c->T;
  cfg.layers = mfix_int(fx, "L");
  cfg.heads = mfix_int(fx, "H");
  cfg.width = mfix_int(fx, "D");
  cfg.pooling = mfix_int(fx, "pooling") ? HP_BERT_POOL_CLS : HP_BERT_POOL_MEAN;
  int clip = mfix_index(fx, "arch") >= 0 && mfix_int(fx, "arch") == 1; /* OpenAI CLIP's text transformer */
  if (clip) hp_bert_config_clip(&cfg);
  hp_params_init(&c->p);
  assert_int_equal(hp_bert_build(&c->m, &cfg, &c->p), 0);
  assert_int_equal(hp_head_build(&c->h, "text_projection", cfg.width, c->E, !clip, &c->p), 0);
  assert_int_equal(hp_params_alloc(&c->p), 0);
  mfix_load_params(fx, &c->p);
  mfix_expect_all_registered(fx, &c->p, "text.");
  size_t bytes = 0;
  assert_int_equal(hp_bert_alloc_acts(&c->m, c->B, &bytes), 0);
  assert_int_equal(hp_head_alloc_acts(&c->h, c->B, NULL), 0);
  assert_true(bytes == hp_bert_acts_bytes(&cfg, c->B));
  size_t BT = (size_t)c->B * c->T;
  c->ids = malloc(BT * sizeof *c->ids);
  c->valid = malloc(BT);
  memcpy(c->ids, mfix_i(fx, "ids", BT), BT * sizeof *c->ids);
  const int32_t *v = mfix_i(fx, "valid", BT);
  for (size_t i = 0; i < BT; i++) c->valid[i] = (uint8_t)v[i];
  c->G = mfix_f(fx, "G", (size_t)c->B * c->E);
}

static void teardown(bert_case *c) {
  hp_bert_free(&c->m);
  hp_head_free(&c->h);
  hp_params_free(&c->p);
  free(c->ids);
  free(c->valid);
}

/* loss = sum(emb * G); fills pooled/emb pointers */
static double run_forward(bert_case *c, const float **pooled, const float **emb) {
  const float *pl, *em;
  assert_int_equal(hp_bert_forward(&c->m, &c->p, c->ids, c->valid, c->B, c->T, &c->drop, &pl), 0);
  assert_int_equal(hp_head_forward(&c->h, &c->p, pl, c->B, &em), 0);
  if (pooled) *pooled = pl;
  if (emb) *emb = em;
  return dot_d(em, c->G, (size_t)c->B * c->E);
}

static void run_backward(bert_case *c, float *dpooled) {
  hp_params_zero_grad(&c->p);
  memset(dpooled, 0, (size_t)c->B * c->m.cfg.width * sizeof(float));
  hp_head_backward(&c->h, &c->p, c->p.grad, c->G, dpooled);
  hp_bert_backward(&c->m, &c->p, c->p.grad, dpooled);
}

static void check_fixture(const char *name) {
  mfix *fx = mfix_load(name);
  bert_case c;
  setup(&c, fx);
  int D = c.m.cfg.width;
  const float *pooled, *emb;
  run_forward(&c, &pooled, &emb);
  printf("%s: %d tensors, %zu floats\n", name, c.p.n, c.p.total);
  if (mfix_index(fx, "pooled") >= 0) expect_close("pooled", pooled, mfix_f(fx, "pooled", (size_t)c.B * D), (size_t)c.B * D, HP_TOL_REF);
  expect_close("emb", emb, mfix_f(fx, "emb", (size_t)c.B * c.E), (size_t)c.B * c.E, HP_TOL_REF);
  float *dpooled = fbuf((size_t)c.B * D);
  run_backward(&c, dpooled);
  if (mfix_index(fx, "dpooled") >= 0) /* not in the OpenAI fixture: its pooled is inside encode_text */
    expect_close("dpooled", dpooled, mfix_f(fx, "dpooled", (size_t)c.B * D), (size_t)c.B * D, HP_TOL_REF);
  double worst = mfix_check_grads(fx, &c.p, c.p.grad, HP_TOL_REF);
  printf("  %-28s err %.3e (tol %.0e) over %d tensors\n", "all parameter gradients", worst, HP_TOL_REF, c.p.n);
  free(dpooled);
  teardown(&c);
  mfix_free(fx);
}

/* hp_bert_alloc_infer's views (blocks in place, no saved activations) give bitwise the output
 * of the training layout, for the full batch and a partial one with fewer positions */
static void check_infer(const char *name) {
  mfix *fx = mfix_load(name);
  bert_case c;
  setup(&c, fx);
  int D = c.m.cfg.width, Ts = c.T - 2;
  size_t n = (size_t)c.B * c.E, train_bytes = hp_bert_acts_bytes(&c.m.cfg, c.B);
  const float *emb, *pl;
  run_forward(&c, NULL, &emb);
  float *full = fcopy(emb, n);
  assert_int_equal(hp_bert_forward(&c.m, &c.p, c.ids, c.valid, c.B - 1, Ts, NULL, &pl), 0);
  float *part = fcopy(pl, (size_t)(c.B - 1) * D);
  size_t bytes = 0;
  assert_int_equal(hp_bert_alloc_infer(&c.m, c.B, &bytes), 0);
  assert_true(bytes == hp_bert_infer_bytes(&c.m.cfg, c.B) && bytes < train_bytes);
  assert_null(c.m.dx);
  printf("%s: inference activations %zu bytes (training layout %zu)\n", name, bytes, train_bytes);
  run_forward(&c, NULL, &emb);
  assert_memory_equal(emb, full, n * sizeof(float));
  assert_int_equal(hp_bert_forward(&c.m, &c.p, c.ids, c.valid, c.B - 1, Ts, NULL, &pl), 0);
  assert_memory_equal(pl, part, (size_t)(c.B - 1) * D * sizeof(float));
  free(full);
  free(part);
  teardown(&c);
  mfix_free(fx);
}

static void test_bert_infer(void **state) {
  (void)state;
  check_infer("bert_cls");
  check_infer("bert_mean");
}

static void test_bert_cls(void **state) { (void)state; check_fixture("bert_cls"); }
/* OpenAI CLIP's causal text transformer pooled at the end-of-text token, against the independent
 * reference tests/fixtures/openai_clip_ref.py (rows of 6 tokens + SOT/EOT, 3 tokens, none); its
 * inference views too */
static void test_clip_text(void **state) {
  (void)state;
  check_fixture("clip_text");
  check_infer("clip_text");
}

static bert_case *fd_case;
static double fd_loss(void *ctx);
/* Finite differences with dropout on (p 0.2) through fixture `name`'s tower + head: the first 24
 * elements of each named tensor against the backward's gradients; the first tensor (the word
 * table) from the row of the token at ids[token_at], one the batch uses. */
static void fd_fixture(const char *name, const char *const *names, size_t n, int token_at) {
  mfix *fx = mfix_load(name);
  bert_case c;
  setup(&c, fx);
  c.drop = (hp_drop){.p = 0.2f, .seed = 99, .step = 7, .sample0 = 40};
  fd_case = &c;
  run_forward(&c, NULL, NULL);
  float *dpooled = fbuf((size_t)c.B * c.m.cfg.width);
  run_backward(&c, dpooled);
  for (size_t i = 0; i < n; i++) {
    const hp_tensor_info *t = hp_params_find(&c.p, names[i]);
    assert_non_null(t);
    size_t len = t->numel < 24 ? t->numel : 24;
    size_t off = t->offset + (i == 0 ? (size_t)c.ids[token_at] * c.m.cfg.width : 0);
    fd_check(names[i], c.p.data + off, len, c.p.grad + off, fd_loss, NULL, HP_FD_H, HP_TOL_FD);
  }
  free(dpooled);
  teardown(&c);
  mfix_free(fx);
}

/* finite differences through the CLIP text transformer with dropout on */
static void test_clip_text_fd(void **state) {
  (void)state;
  static const char *names[] = {"text.token_embedding.weight", "text.positional_embedding",
                                "text.transformer.resblocks.0.attn.in_proj_weight",
                                "text.transformer.resblocks.0.attn.in_proj_bias",
                                "text.transformer.resblocks.1.mlp.c_proj.weight", "text.ln_final.weight",
                                "text.ln_final.bias", "text_projection.weight"};
  fd_fixture("clip_text", names, sizeof names / sizeof *names, 1);
}
static void test_bert_mean(void **state) { (void)state; check_fixture("bert_mean"); }

/* Finite differences through the whole tower + head with dropout ON (the mask is a pure
 * function of (seed, step, index), so the loss is a smooth function of the weights). */
static double fd_loss(void *ctx) { (void)ctx; return run_forward(fd_case, NULL, NULL); }

static void test_bert_fd_dropout(void **state) {
  (void)state;
  static const char *names[] = {
      "text.embeddings.word_embeddings.weight", "text.embeddings.LayerNorm.weight",
      "text.encoder.layer.0.attention.self.key.weight", "text.encoder.layer.0.attention.self.value.bias",
      "text.encoder.layer.1.intermediate.dense.weight", "text.encoder.layer.1.output.LayerNorm.bias",
      "text_projection.weight"};
  fd_fixture("bert_mean", names, sizeof names / sizeof *names, 0);
}

/* Dropout: training with p = 0 equals eval; p > 0 changes the output, deterministically; a
 * sample's mask depends on its global index (sample0), not on its batch position. */
static void test_bert_dropout_keys(void **state) {
  (void)state;
  mfix *fx = mfix_load("bert_mean");
  bert_case c;
  setup(&c, fx);
  size_t BD = (size_t)c.B * c.m.cfg.width;
  const float *pl;
  run_forward(&c, &pl, NULL);
  float *eval = fcopy(pl, BD);
  c.drop = (hp_drop){.p = 0.1f, .seed = 5, .step = 3, .sample0 = 10};
  run_forward(&c, &pl, NULL);
  float *tr1 = fcopy(pl, BD);
  assert_true(max_rel_err(tr1, eval, BD) > 1e-3);
  run_forward(&c, &pl, NULL);
  assert_memory_equal(pl, tr1, BD * sizeof(float));
  /* batch of the last sample alone with sample0 = 12 reproduces row 2 */
  int D = c.m.cfg.width, T = c.T;
  c.drop.sample0 = 12;
  assert_int_equal(hp_bert_forward(&c.m, &c.p, c.ids + 2 * T, c.valid + 2 * T, 1, T, &c.drop, &pl), 0);
  /* equal up to GEMM rounding (BLAS blocking differs with the row count; a wrong mask
   * would differ at O(1)) */
  expect_close("sample alone, same key", pl, tr1 + 2 * D, (size_t)D, 1e-5);
  c.drop.sample0 = 11;
  assert_int_equal(hp_bert_forward(&c.m, &c.p, c.ids + 2 * T, c.valid + 2 * T, 1, T, &c.drop, &pl), 0);
  assert_true(max_rel_err(pl, tr1 + 2 * D, (size_t)D) > 1e-3);
  free(eval);
  free(tr1);
  teardown(&c);
  mfix_free(fx);
}

/* A call with T smaller than max_len and B smaller than allocated equals a model built for
 * that T (the first T position rows). */
static void test_bert_short_T(void **state) {
  (void)state;
  mfix *fx = mfix_load("bert_cls");
  bert_case c;
  setup(&c, fx);
  int D = c.m.cfg.width, T = c.T, Ts = 5;
  int32_t ids[5];
  uint8_t val[5];
  for (int t = 0; t < Ts; t++) {
    ids[t] = c.ids[T + t];
    val[t] = c.valid[T + t];
  }
  const float *pl;
  assert_int_equal(hp_bert_forward(&c.m, &c.p, ids, val, 1, Ts, NULL, &pl), 0);
  /* row 1 of the fixture has 5 valid tokens then padding: masked keys do not influence
   * the CLS token, and positions beyond 5 are not used by it */
  expect_close("short T pooled", pl, mfix_f(fx, "pooled", (size_t)c.B * D) + D, (size_t)D, HP_TOL_REF);
  teardown(&c);
  mfix_free(fx);
}

static void test_bert_init_and_errors(void **state) {
  (void)state;
  hp_bert_config cfg;
  hp_bert_config_default(&cfg);
  cfg.vocab = 30;
  cfg.max_len = 6;
  cfg.layers = 1;
  cfg.heads = 3;
  cfg.width = 16; /* not divisible by 3 */
  hp_params p;
  hp_bert m;
  hp_params_init(&p);
  assert_int_equal(hp_bert_build(&m, &cfg, &p), HP_ERR_CONFIG);
  hp_bert_free(&m);
  hp_params_free(&p);
  cfg.heads = 2;
  cfg.width = 12; /* not a multiple of 16: q/k/v still packed */
  hp_params_init(&p);
  assert_int_equal(hp_bert_build(&m, &cfg, &p), 0);
  assert_int_equal(hp_params_alloc(&p), 0);
  hp_bert_init(&m, &p, 1);
  const hp_tensor_info *q = hp_params_find(&p, "text.encoder.layer.0.attention.self.query.bias");
  const hp_tensor_info *v = hp_params_find(&p, "text.encoder.layer.0.attention.self.value.bias");
  assert_true(v->offset == q->offset + 24);
  const hp_tensor_info *ln = hp_params_find(&p, "text.embeddings.LayerNorm.weight");
  assert_true(p.data[ln->offset] == 1.0f);
  const hp_tensor_info *we = hp_params_find(&p, "text.embeddings.word_embeddings.weight");
  assert_true(p.data[we->offset] == 0.0f);                /* pad row 0 */
  double s = 0;
  for (size_t i = 12; i < we->numel; i++) s += (double)p.data[we->offset + i] * p.data[we->offset + i];
  double sd = sqrt(s / (double)(we->numel - 12));
  assert_true(sd > 0.015 && sd < 0.025);
  assert_int_equal(hp_bert_alloc_acts(&m, 2, NULL), 0);
  int32_t ids[12] = {1, 2, 3, 0, 0, 0, 4, 31, 0, 0, 0, 0};
  uint8_t val[12];
  hp_bert_mask_from_ids(val, ids, 12, 0);
  const float *pl;
  assert_int_equal(hp_bert_forward(&m, &p, ids, val, 2, 6, NULL, &pl), HP_ERR_INPUT);
  assert_int_equal(hp_bert_forward(&m, &p, ids, val, 3, 6, NULL, &pl), HP_ERR_INTERNAL);
  hp_error_clear();
  hp_bert_free(&m);
  hp_params_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bert_cls),          cmocka_unit_test(test_bert_mean),
      cmocka_unit_test(test_bert_fd_dropout),   cmocka_unit_test(test_bert_dropout_keys),
      cmocka_unit_test(test_bert_short_T),      cmocka_unit_test(test_bert_init_and_errors),
      cmocka_unit_test(test_bert_infer),        cmocka_unit_test(test_clip_text),
      cmocka_unit_test(test_clip_text_fd),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
