/* test_clip_handoff.c — the per-block gradient hand-off of hp_clip_backward: every time the
 * backward pass reports "[lo, total) is final", those gradients must indeed never change again
 * (a bucket started there would otherwise sum stale values), lo must never increase, and the
 * towers must report once per block (ViT/BERT layer, ResNet bottleneck) besides the tower ends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/error.h"
#include "models/clip.h"
#include "models/clip_ckpt.h"

typedef struct {
  const hp_params *p;
  int n;
  size_t lo[64];
  float *snap[64]; /* grad[lo, total) at the call */
  int fail_at;     /* return an error at this call (-1: never) */
} recorder;

static int record(void *arg, size_t lo) {
  recorder *r = arg;
  assert_true(r->n < 64);
  if (r->n == r->fail_at) return HP_ERR_MPI;
  size_t k = r->p->total - lo;
  r->snap[r->n] = malloc(k * sizeof(float) + 1);
  memcpy(r->snap[r->n], r->p->grad + lo, k * sizeof(float));
  r->lo[r->n++] = lo;
  return HP_OK;
}

static void run(const char *desc, int blocks_image, int blocks_text) {
  hp_clip_config cfg;
  hp_clip m;
  assert_int_equal(hp_clip_config_from_desc(desc, &cfg), 0);
  assert_int_equal(hp_clip_build(&m, &cfg), 0);
  hp_clip_init(&m, 5);
  const int B = 3, T = cfg.text.max_len, S = cfg.image_kind == HP_CLIP_IMAGE_VIT ? cfg.vit.image : cfg.resnet.image_size;
  assert_int_equal(hp_clip_alloc_acts(&m, B, NULL), 0);
  int32_t *ids = calloc((size_t)B * T, sizeof *ids);
  uint8_t *valid = calloc((size_t)B * T, 1), *img = malloc((size_t)B * S * S * 3);
  for (int i = 0; i < B * T; i++) {
    ids[i] = 1 + (i * 7) % (cfg.text.vocab - 1);
    valid[i] = (i % T) < T - (i / T);
  }
  for (size_t i = 0; i < (size_t)B * S * S * 3; i++) img[i] = (uint8_t)(i * 31 + 7);
  const float *temb, *iemb;
  assert_int_equal(hp_clip_encode_text(&m, ids, valid, B, T, NULL, &temb), 0);
  assert_int_equal(hp_clip_encode_image(&m, img, B, 1, NULL, &iemb), 0);
  const int E = cfg.embed_dim;
  float *dimg = malloc((size_t)B * E * sizeof(float)), *dtxt = malloc((size_t)B * E * sizeof(float));
  for (int i = 0; i < B * E; i++) {
    dimg[i] = 0.01f * (float)((i * 13) % 17 - 8);
    dtxt[i] = 0.01f * (float)((i * 5) % 11 - 5);
  }
  recorder r = {.p = &m.p, .fail_at = -1};
  hp_params_zero_grad(&m.p);
  assert_int_equal(hp_clip_backward(&m, dimg, dtxt, 0.25, record, &r), 0);
  /* head_lo, one per image block, image_lo, one per text block, 0 */
  printf("%s: %d hand-offs\n", desc, r.n);
  assert_int_equal(r.n, 3 + blocks_image + blocks_text);
  assert_true(r.lo[0] == m.head_lo);
  assert_true(r.lo[1 + blocks_image] == m.image_lo);
  assert_true(r.lo[r.n - 1] == 0);
  for (int k = 0; k < r.n; k++) {
    if (k) assert_true(r.lo[k] <= r.lo[k - 1]);
    size_t cnt = m.p.total - r.lo[k];
    assert_memory_equal(r.snap[k], m.p.grad + r.lo[k], cnt * sizeof(float));
    free(r.snap[k]);
  }
  /* a failing hook ends backward with its error */
  recorder f = {.p = &m.p, .fail_at = 2};
  hp_params_zero_grad(&m.p);
  assert_int_equal(hp_clip_encode_text(&m, ids, valid, B, T, NULL, &temb), 0);
  assert_int_equal(hp_clip_encode_image(&m, img, B, 1, NULL, &iemb), 0);
  assert_int_equal(hp_clip_backward(&m, dimg, dtxt, 0.25, record, &f), HP_ERR_MPI);
  for (int k = 0; k < f.n; k++) free(f.snap[k]);
  free(ids), free(valid), free(img), free(dimg), free(dtxt);
  hp_clip_free(&m);
}

static void test_vit(void **state) {
  (void)state;
  run("clip(text=bert(V=40,T=8,L=2,H=2,D=16,F=24,pool=mean),image=vit(S=32,P=16,L=3,H=2,D=16,F=64),E=12,"
      "logit_scale=learned)",
      3, 2);
}

static void test_resnet(void **state) {
  (void)state;
  run("clip(text=bert(V=40,T=8,L=1,H=4,D=16,F=64,pool=cls),image=resnet(S=64,blocks=1-2-1-1,width=4),E=12,"
      "logit_scale=fixed)",
      5, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vit),
      cmocka_unit_test(test_resnet),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
