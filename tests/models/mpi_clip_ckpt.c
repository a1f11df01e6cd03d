/* mpi_clip_ckpt.c — a CLIP model from its checkpoint alone (models/clip_ckpt.h) at 1, 2, 3
 * ranks, without PyTorch (tests/models/cli_ckpt_torch.sh covers the PyTorch side): for a
 * BERT+ViT and a BERT+ResNet description, build from the description (which must rebuild
 * as itself), seeded init, hp_ckpt_write, hp_clip_load -> the same description, bit-identical
 * parameters and bit-identical eval embeddings (5 rows in chunks of Bmax = 2) from the loaded
 * model, which is built for inference (no gradients, in-place activations); malformed
 * descriptions are input errors naming the description. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <mpi.h>

#include "base/error.h"
#include "io/checkpoint.h"
#include "models/clip_ckpt.h"

static const char *PATH = "mpi_clip_ckpt_test.h5";

static const char *DESCS[] = {
    "clip(text=bert(V=40,T=8,L=2,H=2,D=16,F=24,pool=mean),image=vit(S=32,P=16,L=2,H=2,D=16,F=64),E=12,"
    "logit_scale=learned)",
    "clip(text=bert(V=40,T=8,L=1,H=4,D=16,F=64,pool=cls),image=resnet(S=64,blocks=2-1-1-2,width=4),E=12,"
    "logit_scale=fixed)",
    /* a tokenizer padding with id 3 (a vocab.txt whose [PAD] is not first) */
    "clip(text=bert(V=40,T=8,L=1,H=2,D=16,F=24,pool=mean,pad=3),image=vit(S=32,P=16,L=1,H=2,D=16,F=64),E=12,"
    "logit_scale=fixed)",
};

static void test_round_trip(void **state) {
  (void)state;
  const int N = 5, T = 8;
  for (int k = 0; k < 3; k++) {
    hp_clip_config cfg;
    hp_clip a, b;
    assert_int_equal(hp_clip_config_from_desc(DESCS[k], &cfg), 0);
    assert_int_equal(cfg.text.pad_id, k == 2 ? 3 : 0);
    assert_int_equal(hp_clip_build(&a, &cfg), 0);
    assert_string_equal(a.desc, DESCS[k]);
    hp_clip_init(&a, 11 + k);
    assert_int_equal(hp_clip_alloc_acts(&a, 2, NULL), 0);
    hp_ckpt_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.model = a.desc;
    meta.optimizer = "none";
    meta.step = 5;
    /* a checkpoint carries its tokenizer: a word vocabulary of the model's V ids */
    int V = cfg.text.vocab;
    char **words = calloc((size_t)V, sizeof *words);
    assert_non_null(words);
    for (int i = 0; i < V; i++) {
      words[i] = calloc(16, 1);
      if (i == 1) strcpy(words[i], "[UNK]");
      else if (i > 1) snprintf(words[i], 16, "w%d", i);
    }
    meta.n_vocab = V;
    meta.vocab = (const char *const *)words;
    assert_int_equal(hp_ckpt_write(MPI_COMM_WORLD, PATH, &a.p, &meta), 0);
    for (int i = 0; i < V; i++) free(words[i]);
    free(words);
    hp_ckpt_info info;
    assert_int_equal(hp_clip_load(MPI_COMM_WORLD, PATH, 2, &b, &info), 0);
    assert_string_equal(b.desc, a.desc);
    assert_int_equal(info.step, 5);
    hp_ckpt_info_free(&info);
    assert_true(b.p.total == a.p.total);
    assert_memory_equal(b.p.data, a.p.data, a.p.total * sizeof(float));
    /* b is built for inference: no gradients, no backward, no training forward */
    assert_true(b.infer && !a.infer);
    assert_null(b.p.grad);

    int S = cfg.image_kind == HP_CLIP_IMAGE_VIT ? cfg.vit.image : cfg.resnet.image_size, E = cfg.embed_dim;
    int32_t ids[5 * 8];
    uint8_t *img = malloc((size_t)N * S * S * 3);
    float *ea = malloc(sizeof(float) * N * E), *eb = malloc(sizeof(float) * N * E);
    assert_true(img && ea && eb);
    for (int i = 0; i < N * T; i++) ids[i] = (i % T) < 1 + (i / T) % T ? 1 + (i * 7) % 39 : 0;
    for (int i = 0; i < N * S * S * 3; i++) img[i] = (uint8_t)(i * 37 + k);
    assert_int_equal(hp_clip_embed_text(&a, ids, N, T, ea), 0);
    assert_int_equal(hp_clip_embed_text(&b, ids, N, T, eb), 0);
    assert_memory_equal(ea, eb, sizeof(float) * N * E);
    assert_int_equal(hp_clip_embed_images(&a, img, N, ea), 0);
    assert_int_equal(hp_clip_embed_images(&b, img, N, eb), 0);
    assert_memory_equal(ea, eb, sizeof(float) * N * E);
    const float *emb;
    assert_int_equal(hp_clip_encode_image(&b, img, 2, 1, NULL, &emb), HP_ERR_INTERNAL);
    assert_int_equal(hp_clip_backward(&b, ea, eb, 0.0, NULL, NULL), HP_ERR_INTERNAL);
    hp_error_clear();
    free(img);
    free(ea);
    free(eb);
    hp_clip_free(&a);
    hp_clip_free(&b);
    MPI_Barrier(MPI_COMM_WORLD);
  }
}

static void test_bad_descriptions(void **state) {
  (void)state;
  const char *bad[] = {
      "",
      "bert(V=40)",
      "clip(text=bert(V=40,T=8,L=2,H=2,D=16,F=24,pool=max),image=vit(S=32,P=16,L=2,H=2,D=16,F=64),E=12,"
      "logit_scale=learned)",
      "clip(text=bert(V=40,T=8,L=2,H=2,D=16,F=24,pool=mean),image=swin(S=32),E=12,logit_scale=learned)",
      "clip(text=bert(V=40,T=8,L=2,H=2,D=16,F=24,pool=mean),image=vit(S=32,P=16,L=1,H=2,D=16),E=12,"
      "logit_scale=learned)",
      "clip(text=bert(V=40,T=8,L=2,H=2,D=16,F=24,pool=mean),image=resnet(S=64,blocks=1-1-1,width=4),E=12,"
      "logit_scale=learned)",
      "clip(text=bert(V=40,T=8,L=2,H=2,D=16,F=24,pool=mean),image=vit(S=32,P=16,L=2,H=2,D=16,F=64),E=12,"
      "logit_scale=sometimes)",
      "clip(text=bert(V=40,T=8,L=2,H=2,D=16,F=24,pool=mean),image=vit(S=32,P=16,L=2,H=2,D=16,F=64),E=12,"
      "logit_scale=learned)x",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    hp_clip_config cfg;
    hp_error_clear();
    int e = hp_clip_config_from_desc(bad[i], &cfg);
    if (e != HP_ERR_INPUT) fail_msg("'%s' accepted (%d)", bad[i], e);
    if (!strstr(hp_error_message(), bad[i])) fail_msg("message '%s' does not name '%s'", hp_error_message(), bad[i]);
    hp_error_clear();
  }
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_round_trip), cmocka_unit_test(test_bad_descriptions)};
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) remove(PATH);
  MPI_Finalize();
  return rc;
}
