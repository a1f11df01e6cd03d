/* test_vit.c — ViT image tower + visual projection head against a plain-torch reference with
 * timm state-dict names (tests/fixtures/make_model_fixtures.py), patch 16 and patch 8 on 32x32
 * uint8 images: weights loaded BY NAME, pooled output, embedding and every parameter
 * gradient; float-image path; finite differences with dropout active. */
#include "models_test.h"
#include "models/head.h"
#include "models/vit.h"
#include "base/error.h"

typedef struct {
  hp_params p;
  hp_vit m;
  hp_head h;
  int B, E;
  uint8_t *img;
  const float *G;
  hp_drop drop;
} vit_case;

static void setup(vit_case *c, const mfix *fx) {
  memset(c, 0, sizeof *c);
  hp_vit_config cfg;
  hp_vit_config_default(&cfg);
  c->B = mfix_int(fx, "B");
  c->E = mfix_int(fx, "E");
  cfg.image = mfix_int(fx, "S");
  cfg.patch = mfix_int(fx, "P");
  cfg.layers = mfix_int(fx, "L");
  cfg.heads = mfix_int(fx, "H");
  cfg.width = mfix_int(fx, "D");
  int openai = mfix_index(fx, "openai") >= 0 && mfix_int(fx, "openai"); /* OpenAI CLIP's ViT, QuickGELU */
  if (openai) hp_vit_config_openai(&cfg);
  hp_params_init(&c->p);
  assert_int_equal(hp_vit_build(&c->m, &cfg, &c->p), 0);
  assert_int_equal(hp_head_build(&c->h, "visual_projection", cfg.width, c->E, !openai, &c->p), 0);
  assert_int_equal(hp_params_alloc(&c->p), 0);
  mfix_load_params(fx, &c->p);
  mfix_expect_all_registered(fx, &c->p, "visual.");
  size_t bytes = 0;
  assert_int_equal(hp_vit_alloc_acts(&c->m, c->B, &bytes), 0);
  assert_true(bytes == hp_vit_acts_bytes(&cfg, c->B));
  assert_int_equal(hp_head_alloc_acts(&c->h, c->B, NULL), 0);
  size_t n = (size_t)c->B * cfg.image * cfg.image * 3;
  const int32_t *im = mfix_i(fx, "image", n);
  c->img = malloc(n);
  for (size_t i = 0; i < n; i++) c->img[i] = (uint8_t)im[i];
  c->G = mfix_f(fx, "G", (size_t)c->B * c->E);
}

static void teardown(vit_case *c) {
  hp_vit_free(&c->m);
  hp_head_free(&c->h);
  hp_params_free(&c->p);
  free(c->img);
}

static double run_forward(vit_case *c, const float *imgf, const float **pooled, const float **emb) {
  const float *pl, *em;
  assert_int_equal(hp_vit_forward(&c->m, &c->p, imgf, imgf ? NULL : c->img, c->B, &c->drop, &pl), 0);
  assert_int_equal(hp_head_forward(&c->h, &c->p, pl, c->B, &em), 0);
  if (pooled) *pooled = pl;
  if (emb) *emb = em;
  return dot_d(em, c->G, (size_t)c->B * c->E);
}

static void run_backward(vit_case *c, float *dpooled) {
  hp_params_zero_grad(&c->p);
  memset(dpooled, 0, (size_t)c->B * c->m.cfg.width * sizeof(float));
  hp_head_backward(&c->h, &c->p, c->p.grad, c->G, dpooled);
  hp_vit_backward(&c->m, &c->p, c->p.grad, dpooled);
}

static void check_fixture(const char *name) {
  mfix *fx = mfix_load(name);
  vit_case c;
  setup(&c, fx);
  int D = c.m.cfg.width;
  const float *pooled, *emb;
  run_forward(&c, NULL, &pooled, &emb);
  printf("%s: %d tensors, %zu floats, T = %d\n", name, c.p.n, c.p.total, c.m.T);
  if (mfix_index(fx, "pooled") >= 0) expect_close("pooled", pooled, mfix_f(fx, "pooled", (size_t)c.B * D), (size_t)c.B * D, HP_TOL_REF);
  expect_close("emb", emb, mfix_f(fx, "emb", (size_t)c.B * c.E), (size_t)c.B * c.E, HP_TOL_REF);
  float *dpooled = fbuf((size_t)c.B * D);
  run_backward(&c, dpooled);
  if (mfix_index(fx, "dpooled") >= 0) /* not in the OpenAI fixtures: their pooled is inside encode_image */
    expect_close("dpooled", dpooled, mfix_f(fx, "dpooled", (size_t)c.B * D), (size_t)c.B * D, HP_TOL_REF);
  double worst = mfix_check_grads(fx, &c.p, c.p.grad, HP_TOL_REF);
  printf("  %-28s err %.3e (tol %.0e) over %d tensors\n", "all parameter gradients", worst, HP_TOL_REF, c.p.n);
  /* the float path with the same normalisation gives the same result */
  int S = c.m.cfg.image;
  size_t n = (size_t)c.B * S * S * 3;
  float *imf = fbuf(n);
  for (size_t i = 0; i < n; i++) imf[i] = ((float)c.img[i] / 255.0f - 0.5f) / 0.5f;
  float *ref = fcopy(emb, (size_t)c.B * c.E);
  run_forward(&c, imf, NULL, &emb);
  expect_close("emb (float images)", emb, ref, (size_t)c.B * c.E, 1e-5);
  free(imf);
  free(ref);
  free(dpooled);
  teardown(&c);
  mfix_free(fx);
}

/* hp_vit_alloc_infer's views (blocks in place, no saved activations) give bitwise the output of
 * the training layout, for the full and a partial batch; the size is what it announces */
static void check_infer(const char *name) {
  mfix *fx = mfix_load(name);
  vit_case c;
  setup(&c, fx);
  size_t n = (size_t)c.B * c.E, train_bytes = hp_vit_acts_bytes(&c.m.cfg, c.B);
  const float *emb;
  run_forward(&c, NULL, NULL, &emb);
  float *full = fcopy(emb, n);
  int Bp = c.B - 1;
  const float *pl;
  assert_int_equal(hp_vit_forward(&c.m, &c.p, NULL, c.img, Bp, NULL, &pl), 0);
  float *part = fcopy(pl, (size_t)Bp * c.m.cfg.width);
  size_t bytes = 0;
  assert_int_equal(hp_vit_alloc_infer(&c.m, c.B, &bytes), 0);
  assert_true(bytes == hp_vit_infer_bytes(&c.m.cfg, c.B) && bytes < train_bytes);
  assert_null(c.m.dx);
  printf("%s: inference activations %zu bytes (training layout %zu)\n", name, bytes, train_bytes);
  run_forward(&c, NULL, NULL, &emb);
  assert_memory_equal(emb, full, n * sizeof(float));
  assert_int_equal(hp_vit_forward(&c.m, &c.p, NULL, c.img, Bp, NULL, &pl), 0);
  assert_memory_equal(pl, part, (size_t)Bp * c.m.cfg.width * sizeof(float));
  free(full);
  free(part);
  teardown(&c);
  mfix_free(fx);
}

static void test_vit_p16(void **state) { (void)state; check_fixture("vit_p16"); }
static void test_vit_infer(void **state) {
  (void)state;
  check_infer("vit_p16");
  check_infer("vit_p8");
}
static void test_vit_p8(void **state) { (void)state; check_fixture("vit_p8"); }
/* OpenAI CLIP's ViT (ln_pre, no patch bias, QuickGELU, eps 1e-5, bias-free projection) against
 * the independent reference tests/fixtures/openai_clip_ref.py; its inference views too */
static void test_vit_openai(void **state) {
  (void)state;
  check_fixture("vit_openai");
  check_infer("vit_openai");
}
/* ViT/32, the study's second patch size: 64x64 images, a 2x2 patch grid (T = 5). */
static void test_vit_p32(void **state) { (void)state; check_fixture("vit_p32"); }

static vit_case *fd_case;
static double fd_loss(void *ctx) { (void)ctx; return run_forward(fd_case, NULL, NULL, NULL); }

/* Finite differences with dropout on (p 0.2) through fixture `name`'s tower + head: the first 24
 * elements of each named tensor against the backward's gradients; the second (the position
 * table) from a patch row (row 3). */
static void fd_fixture(const char *name, const char *const *names, size_t n) {
  mfix *fx = mfix_load(name);
  vit_case c;
  setup(&c, fx);
  c.drop = (hp_drop){.p = 0.2f, .seed = 3, .step = 11, .sample0 = 5};
  fd_case = &c;
  run_forward(&c, NULL, NULL, NULL);
  float *dpooled = fbuf((size_t)c.B * c.m.cfg.width);
  run_backward(&c, dpooled);
  for (size_t i = 0; i < n; i++) {
    const hp_tensor_info *t = hp_params_find(&c.p, names[i]);
    assert_non_null(t);
    size_t len = t->numel < 24 ? t->numel : 24, off = t->offset + (i == 1 ? (size_t)3 * c.m.cfg.width : 0);
    fd_check(names[i], c.p.data + off, len, c.p.grad + off, fd_loss, NULL, HP_FD_H, HP_TOL_FD);
  }
  if (strcmp(name, "vit_openai") == 0) assert_null(hp_params_find(&c.p, "visual_projection.bias"));
  free(dpooled);
  teardown(&c);
  mfix_free(fx);
}

static void test_vit_fd_dropout(void **state) {
  (void)state;
  static const char *names[] = {"visual.cls_token", "visual.pos_embed", "visual.patch_embed.proj.weight",
                                "visual.blocks.0.attn.qkv.weight", "visual.blocks.0.norm1.weight",
                                "visual.blocks.1.mlp.fc2.bias", "visual.norm.bias",
                                "visual_projection.bias"};
  fd_fixture("vit_p8", names, sizeof names / sizeof *names);
}

/* finite differences through OpenAI's ViT with dropout on: ln_pre, the bias-free patch embedding
 * and projection, QuickGELU */
static void test_vit_openai_fd(void **state) {
  (void)state;
  static const char *names[] = {"visual.class_embedding", "visual.positional_embedding", "visual.conv1.weight",
                                "visual.ln_pre.weight", "visual.ln_pre.bias",
                                "visual.transformer.resblocks.0.attn.in_proj_weight",
                                "visual.transformer.resblocks.1.mlp.c_fc.bias", "visual.ln_post.weight",
                                "visual_projection.weight"};
  fd_fixture("vit_openai", names, sizeof names / sizeof *names);
}

static void test_vit_init_and_errors(void **state) {
  (void)state;
  hp_vit_config cfg;
  hp_vit_config_default(&cfg);
  cfg.image = 30; /* not a multiple of 16 */
  hp_params p;
  hp_vit m;
  hp_params_init(&p);
  assert_int_equal(hp_vit_build(&m, &cfg, &p), HP_ERR_CONFIG);
  hp_vit_free(&m);
  hp_params_free(&p);
  cfg.image = 32;
  cfg.layers = 1;
  cfg.width = 32;
  cfg.heads = 4;
  hp_params_init(&p);
  assert_int_equal(hp_vit_build(&m, &cfg, &p), 0);
  assert_int_equal(m.T, 5);
  assert_int_equal(hp_params_alloc(&p), 0);
  hp_vit_init(&m, &p, 7);
  const hp_tensor_info *t = hp_params_find(&p, "visual.blocks.0.norm2.weight");
  assert_true(p.data[t->offset] == 1.0f);
  t = hp_params_find(&p, "visual.cls_token");
  assert_true(fabsf(p.data[t->offset]) < 1e-4f);
  t = hp_params_find(&p, "visual.patch_embed.proj.weight");
  assert_int_equal(t->ndim, 4);
  assert_int_equal(t->shape[3], 3);
  hp_vit_free(&m);
  hp_params_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vit_p16),
      cmocka_unit_test(test_vit_p8),
      cmocka_unit_test(test_vit_p32),
      cmocka_unit_test(test_vit_openai),
      cmocka_unit_test(test_vit_fd_dropout),
      cmocka_unit_test(test_vit_openai_fd),
      cmocka_unit_test(test_vit_infer),
      cmocka_unit_test(test_vit_init_and_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
