/* clip_ckpt.c — CLIP model from a checkpoint, batched eval embedding (see clip_ckpt.h). */
#include "models/clip_ckpt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "io/check.h"

#define DESC_MAX 512

/* After an image tower's fields at s + *k: an optional ",mean=a:b:c,std=d:e:f" (clip.c), then
 * "),"; *k moves past both. */
static int parse_norm(const char *desc, const char *s, int *k, float mean[3], float std[3]) {
  int n = 0;
  if (strncmp(s + *k, ",mean=", 6) == 0) {
    if (sscanf(s + *k, ",mean=%f:%f:%f,std=%f:%f:%f%n", &mean[0], &mean[1], &mean[2], &std[0], &std[1], &std[2], &n) != 6 ||
        n == 0)
      HP_ERROR(HP_ERR_INPUT, "model description '%s': bad mean=...,std=... normalisation", desc);
    for (int c = 0; c < 3; c++)
      if (!(std[c] > 0) || !(mean[c] == mean[c]))
        HP_ERROR(HP_ERR_INPUT, "model description '%s': normalisation std must be > 0 (channel %d)", desc, c);
    *k += n;
  }
  if (strncmp(s + *k, "),", 2) != 0) HP_ERROR(HP_ERR_INPUT, "model description '%s': bad image tower part", desc);
  *k += 2;
  return 0;
}

int hp_clip_config_from_desc(const char *desc, hp_clip_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  hp_bert_config *t = &cfg->text;
  hp_bert_config_default(t);
  char pool[8] = "", ls[16] = "";
  int n = 0, n2 = 0;
  if (strncmp(desc, "clip(text=clip_text(", 20) == 0) { /* OpenAI CLIP's text transformer */
    hp_bert_config_clip(t);
    if (sscanf(desc, "clip(text=clip_text(V=%d,T=%d,L=%d,H=%d,D=%d,F=%d%n", &t->vocab, &t->max_len, &t->layers,
               &t->heads, &t->width, &t->ffn, &n) != 6 || n == 0)
      HP_ERROR(HP_ERR_INPUT, "model description '%s': bad clip_text(V=..,T=..,L=..,H=..,D=..,F=..) part", desc);
    if (strncmp(desc + n, ",act=gelu", 9) == 0) {
      t->quick_gelu = 0;
      n += 9;
    }
  } else {
    if (sscanf(desc, "clip(text=bert(V=%d,T=%d,L=%d,H=%d,D=%d,F=%d,pool=%7[a-z]%n", &t->vocab, &t->max_len,
               &t->layers, &t->heads, &t->width, &t->ffn, pool, &n) != 7 || n == 0)
      HP_ERROR(HP_ERR_INPUT, "model description '%s': no clip(text=bert(...)|clip_text(...),image=...) prefix", desc);
    if (strcmp(pool, "mean") == 0)
      t->pooling = HP_BERT_POOL_MEAN;
    else if (strcmp(pool, "cls") == 0)
      t->pooling = HP_BERT_POOL_CLS;
    else
      HP_ERROR(HP_ERR_INPUT, "model description '%s': pool=%s (expected mean or cls)", desc, pool);
    if (strncmp(desc + n, ",pad=", 5) == 0) { /* a padding id other than 0 (clip.c) */
      if (sscanf(desc + n, ",pad=%d%n", &t->pad_id, &n2) != 1 || t->pad_id < 0 || t->pad_id >= t->vocab)
        HP_ERROR(HP_ERR_INPUT, "model description '%s': pad= must be a token id below V", desc);
      n += n2;
    }
    if (strncmp(desc + n, ",act=quickgelu", 14) == 0) {
      t->quick_gelu = 1;
      n += 14;
    }
  }
  t->dropout = 0.0f;
  if (strncmp(desc + n, ",P=", 3) == 0) { /* a position table larger than T */
    if (sscanf(desc + n, ",P=%d%n", &t->positions, &n2) != 1 || t->positions < t->max_len)
      HP_ERROR(HP_ERR_INPUT, "model description '%s': P= must be a position table of at least T rows", desc);
    n += n2;
  }
  if (strncmp(desc + n, "),image=", 8) != 0)
    HP_ERROR(HP_ERR_INPUT, "model description '%s': no clip(text=...(...),image=...) after the text tower", desc);
  n += 8;
  const char *s = desc + n;
  int k = 0;
  if (strncmp(s, "vit(", 4) == 0) {
    hp_vit_config *v = &cfg->vit;
    cfg->image_kind = HP_CLIP_IMAGE_VIT;
    hp_vit_config_default(v);
    if (sscanf(s, "vit(S=%d,P=%d,L=%d,H=%d,D=%d,F=%d%n", &v->image, &v->patch, &v->layers, &v->heads, &v->width,
               &v->mlp, &k) != 6 || k == 0)
      HP_ERROR(HP_ERR_INPUT, "model description '%s': bad vit(...) part", desc);
    if (strncmp(s + k, ",style=openai", 13) == 0) {
      hp_vit_config_openai(v);
      k += 13;
      if (strncmp(s + k, ",act=gelu", 9) == 0) {
        v->quick_gelu = 0;
        k += 9;
      }
    } else if (strncmp(s + k, ",act=quickgelu", 14) == 0) {
      v->quick_gelu = 1;
      k += 14;
    }
    HP_CALL(parse_norm(desc, s, &k, v->mean, v->std));
  } else if (strncmp(s, "resnet(", 7) == 0) {
    hp_resnet_config *r = &cfg->resnet;
    cfg->image_kind = HP_CLIP_IMAGE_RESNET;
    int S = 0;
    if (sscanf(s, "resnet(S=%d,%n", &S, &k) != 1 || k == 0)
      HP_ERROR(HP_ERR_INPUT, "model description '%s': bad resnet(...) part", desc);
    hp_resnet_config_resnet50(r, S);
    int k2 = 0;
    if (sscanf(s + k, "blocks=%d-%d-%d-%d,width=%d%n", &r->layers[0], &r->layers[1], &r->layers[2], &r->layers[3],
               &r->width, &k2) != 5 || k2 == 0)
      HP_ERROR(HP_ERR_INPUT, "model description '%s': bad resnet(...) part", desc);
    k += k2;
    HP_CALL(parse_norm(desc, s, &k, r->mean, r->std));
  } else {
    HP_ERROR(HP_ERR_INPUT, "model description '%s': unknown image tower (expected vit(...) or resnet(...))", desc);
  }
  s += k;
  int k3 = 0;
  if (sscanf(s, "E=%d%n", &cfg->embed_dim, &k3) != 1 || k3 == 0)
    HP_ERROR(HP_ERR_INPUT, "model description '%s': bad E=...,logit_scale=...) ending", desc);
  s += k3;
  if (strncmp(s, ",proj_bias=0", 12) == 0) {
    cfg->no_proj_bias = 1;
    s += 12;
  }
  k3 = 0;
  if (sscanf(s, ",logit_scale=%15[a-z])%n", ls, &k3) != 1 || k3 == 0 || s[k3] != '\0')
    HP_ERROR(HP_ERR_INPUT, "model description '%s': bad E=...,logit_scale=...) ending", desc);
  if (strcmp(ls, "learned") == 0)
    cfg->learn_temperature = 1;
  else if (strcmp(ls, "fixed") != 0)
    HP_ERROR(HP_ERR_INPUT, "model description '%s': logit_scale=%s (expected learned or fixed)", desc, ls);
  cfg->temperature = 0.07f;
  return HP_OK;
}

int hp_clip_config_from_ckpt(MPI_Comm comm, const char *path, const hp_config *job, int64_t image_size, int64_t vocab,
                             hp_clip_config *cfg) {
  char desc[DESC_MAX];
  HP_CALL(hp_h5_root_attr(comm, path, "model", desc, sizeof desc));
  int err = hp_clip_config_from_desc(desc, cfg);
  if (err) return hp_error_trace(err, __FILE__, __LINE__, __func__);
  int S = cfg->image_kind == HP_CLIP_IMAGE_VIT ? cfg->vit.image : cfg->resnet.image_size;
  if (S != image_size)
    HP_ERROR(HP_ERR_INPUT, "%s: the checkpoint's model takes %dx%d images, the dataset's are %lldx%lld: ingest with "
             "data.image_size = %d (model.from_checkpoint = true)", path, S, S, (long long)image_size,
             (long long)image_size, S);
  if (vocab >= 0 && vocab != cfg->text.vocab)
    HP_ERROR(HP_ERR_INPUT, "%s: the model's vocabulary has %d ids, its tokenizer %lld", path, cfg->text.vocab,
             (long long)vocab);
  cfg->text.dropout = (float)hp_cfg_float(job, "model.text_dropout");
  if (cfg->image_kind == HP_CLIP_IMAGE_VIT) cfg->vit.dropout = (float)hp_cfg_float(job, "model.image_dropout");
  cfg->temperature = (float)hp_cfg_float(job, "train.temperature");
  return HP_OK;
}

int hp_clip_load(MPI_Comm comm, const char *path, int Bmax, hp_clip *m, hp_ckpt_info *info) {
  char desc[DESC_MAX];
  hp_clip_config cfg;
  hp_ckpt_info own;
  memset(m, 0, sizeof *m);
  HP_CALL(hp_h5_root_attr(comm, path, "model", desc, sizeof desc));
  HP_CALL(hp_clip_config_from_desc(desc, &cfg));
  int err = hp_clip_build_infer(m, &cfg);
  /* the description must reproduce itself: anything else is a description this build cannot
     represent (e.g. from a newer hpclip) */
  if (!err && strcmp(m->desc, desc) != 0)
    err = HP_ERROR_SET(HP_ERR_INPUT,
                       "%s: model description '%s' rebuilds as '%s'", path, desc, m->desc);
  if (!err) err = hp_ckpt_read(comm, path, desc, &m->p, NULL, NULL, info ? info : &own);
  if (!err && !info) hp_ckpt_info_free(&own);
  if (!err) err = hp_clip_alloc_acts(m, Bmax, NULL);
  if (err) {
    hp_clip_free(m);
    return err;
  }
  return HP_OK;
}

int hp_clip_embed_text(hp_clip *m, const int32_t *ids, int64_t n, int T, float *out) {
  const int E = m->cfg.embed_dim;
  uint8_t *valid;
  HP_CALLOC(valid, (size_t)m->Bmax * (size_t)T, "token mask");
  int err = HP_OK;
  for (int64_t lo = 0; lo < n && !err; lo += m->Bmax) {
    int B = (int)(n - lo < m->Bmax ? n - lo : m->Bmax);
    const int32_t *x = ids + lo * T;
    const float *emb;
    hp_bert_mask_from_ids(valid, x, (size_t)B * T, m->cfg.text.pad_id);
    err = hp_clip_encode_text(m, x, valid, B, T, NULL, &emb);
    if (!err) memcpy(out + lo * E, emb, (size_t)B * E * sizeof *out);
  }
  free(valid);
  return err;
}

int hp_clip_embed_images(hp_clip *m, const uint8_t *images, int64_t n, float *out) {
  const int E = m->cfg.embed_dim;
  const int S = m->cfg.image_kind == HP_CLIP_IMAGE_VIT ? m->cfg.vit.image : m->cfg.resnet.image_size;
  const size_t per = (size_t)S * S * 3;
  for (int64_t lo = 0; lo < n; lo += m->Bmax) {
    int B = (int)(n - lo < m->Bmax ? n - lo : m->Bmax);
    const float *emb;
    HP_CALL(hp_clip_encode_image(m, images + (size_t)lo * per, B, 0, NULL, &emb));
    memcpy(out + lo * E, emb, (size_t)B * E * sizeof *out);
  }
  return HP_OK;
}
