/* clip_eval.c — see clip_eval.h. */
#include "stages/clip_eval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/memory.h"
#include "data/ckpt_tokenizer.h"
#include "io/check.h"
#include "io/checkpoint.h"
#include "io/dataset.h"
#include "io/h5.h"
#include "io/strtab.h"
#include "models/clip_ckpt.h"

int hp_clip_eval_load(MPI_Comm comm, const hp_config *cfg, const char *ckpt, int64_t image_size, int batch,
                      hp_clip_eval *e) {
  memset(e, 0, sizeof *e);
  e->T = hp_cfg_int(cfg, "data.caption_len");
  e->batch = batch;
  e->S = image_size;
  HP_CALL(hp_check_file_as(comm, ckpt, "hpclip.checkpoint")); /* validated before anything is read from it */
  HP_CALL(hp_agree(comm, hp_tokenizer_from_ckpt(comm, ckpt, &e->tok)));
  hp_clip_config mc;
  int err = hp_cfg_bool(cfg, "model.from_checkpoint")
                ? hp_clip_config_from_ckpt(comm, ckpt, cfg, image_size, hp_tokenizer_vocab_size(e->tok), &mc)
                : hp_clip_config_from_cfg(cfg, image_size, hp_tokenizer_vocab_size(e->tok), e->T, &mc);
  if (!err) e->T = mc.text.max_len; /* the model's context (data.caption_len unless from the checkpoint) */
  mc.text.pad_id = hp_tokenizer_pad_id(e->tok);
  if (!err && hp_tokenizer_get_spec(e->tok)->kind == HP_TOKENIZER_BPE && mc.text.arch != HP_TEXT_CLIP)
    /* its padding id 0 is the token "!": the BERT tower would mask it */
    err = HP_ERROR_SET(HP_ERR_INPUT, "%s: tokenizer \"bpe\" (CLIP's) is for CLIP's causal text transformer "
                       "(model.text = \"clip\"), not for the BERT tower (model.text = \"%s\")", ckpt,
                       hp_cfg_str(cfg, "model.text"));
  if (!err) err = hp_clip_build_infer(&e->m, &mc); /* no gradients, inference activations */
  HP_CALL(hp_agree(comm, err));
  hp_ckpt_info info;
  HP_CALL(hp_ckpt_read(comm, ckpt, e->m.desc, &e->m.p, NULL, NULL, &info));
  e->fingerprint = info.fingerprint;
  info.fingerprint = NULL;
  hp_ckpt_info_free(&info);
  /* peak memory before the batch's activations (base/memory.h) */
  size_t act = 0;
  HP_CALL(hp_clip_acts_estimate(&e->m, batch, &act));
  size_t pb = e->m.p.total * sizeof(float); /* parameters only: the model is built for inference */
  size_t imgs = (size_t)batch * (size_t)image_size * (size_t)image_size * 3;
  char detail[256];
  snprintf(detail, sizeof detail, "model %.1f MiB, activations for a batch of %d %.1f MiB, image batch %.1f MiB",
           pb / 1048576.0, batch, act / 1048576.0, imgs / 1048576.0);
  HP_CALL(hp_mem_require(comm, "CLIP model (embed/search/zeroshot)", hp_cfg_float(cfg, "run.memory_limit"),
                         pb + act + imgs, pb, detail, "embed.batch, the model.* sizes"));
  HP_CALL(hp_clip_alloc_acts(&e->m, batch, NULL));
  HP_CALLOC(e->ids, (size_t)batch * (size_t)e->T, "text batch ids");
  HP_CALLOC(e->valid, (size_t)batch * (size_t)e->T, "text batch mask");
  return 0;
}

void hp_clip_eval_free(hp_clip_eval *e) {
  hp_clip_free(&e->m);
  hp_tokenizer_free(e->tok);
  free(e->fingerprint);
  free(e->ids);
  free(e->valid);
  memset(e, 0, sizeof *e);
}

int hp_clip_eval_texts(hp_clip_eval *e, const char *const *texts, int64_t n, float *out) {
  const int64_t E = e->m.cfg.embed_dim, T = e->T;
  for (int64_t a = 0; a < n; a += e->batch) {
    int64_t b = n - a < e->batch ? n - a : e->batch;
    for (int64_t i = 0; i < b; i++) HP_CALL(hp_tokenizer_encode(e->tok, texts[a + i], T, e->ids + i * T, NULL));
    hp_bert_mask_from_ids(e->valid, e->ids, (size_t)(b * T), e->m.cfg.text.pad_id);
    const float *emb;
    HP_CALL(hp_clip_encode_text(&e->m, e->ids, e->valid, (int)b, (int)T, NULL, &emb));
    memcpy(out + a * E, emb, (size_t)(b * E) * sizeof(float));
  }
  return 0;
}

int hp_clip_eval_images(hp_clip_eval *e, const uint8_t *images, int64_t n, float *out) {
  const int64_t E = e->m.cfg.embed_dim;
  const size_t side = (size_t)e->S * (size_t)e->S * 3;
  for (int64_t a = 0; a < n; a += e->batch) {
    int64_t b = n - a < e->batch ? n - a : e->batch;
    const float *emb;
    HP_CALL(hp_clip_encode_image(&e->m, images + (size_t)a * side, (int)b, 0, NULL, &emb));
    memcpy(out + a * E, emb, (size_t)(b * E) * sizeof(float));
  }
  return 0;
}

int hp_clip_prompt(const char *prompt, const char *label, char **out) {
  size_t lp = strlen(prompt), ll = strlen(label), n = 0;
  for (const char *p = strstr(prompt, "{}"); p; p = strstr(p + 2, "{}")) n++;
  size_t len = n ? lp - 2 * n + n * ll : lp + 1 + ll;
  char *s = NULL;
  HP_CALLOC(s, len + 1, "prompt text");
  if (!n) {
    snprintf(s, len + 1, "%s%s%s", prompt, lp ? " " : "", label);
  } else {
    char *w = s;
    for (const char *p = prompt; *p;) {
      if (p[0] == '{' && p[1] == '}') {
        memcpy(w, label, ll);
        w += ll;
        p += 2;
      } else {
        *w++ = *p++;
      }
    }
    *w = 0;
  }
  *out = s;
  return 0;
}
