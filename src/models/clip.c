/* clip.c — the CLIP two-tower model (see clip.h). */
#include "models/clip.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

#define LOGIT_SCALE_MAX 4.605170185988091 /* log(100), CLIP's clamp */

static int build(hp_clip *m, const hp_clip_config *cfg, int infer) {
  memset(m, 0, sizeof *m);
  m->infer = infer;
  m->cfg = *cfg;
  hp_clip_config *c = &m->cfg;
  if (c->embed_dim < 1) HP_ERROR(HP_ERR_CONFIG, "model.embed_dim = %d: must be positive", c->embed_dim);
  if (!(c->temperature > 0.0f))
    HP_ERROR(HP_ERR_CONFIG, "train.temperature = %g: must be positive", (double)c->temperature);
  if (c->image_kind != HP_CLIP_IMAGE_VIT && c->image_kind != HP_CLIP_IMAGE_RESNET)
    HP_ERROR(HP_ERR_INTERNAL, "CLIP: unknown image tower %d", c->image_kind);
  hp_params_init(&m->p);
  HP_CALL(hp_bert_build(&m->text, &c->text, &m->p));
  c->text = m->text.cfg; /* ffn 0 resolved */
  m->image_lo = m->p.total;
  if (c->image_kind == HP_CLIP_IMAGE_VIT) {
    HP_CALL(hp_vit_build(&m->vit, &c->vit, &m->p));
    c->vit = m->vit.cfg;
    m->image_feat = c->vit.width;
  } else {
    HP_CALL(hp_resnet_build(&m->resnet, &c->resnet, &m->p));
    m->image_feat = m->resnet.feat_dim;
  }
  m->head_lo = m->p.total;
  HP_CALL(hp_head_build(&m->thead, "text_projection", c->text.width, c->embed_dim, !c->no_proj_bias, &m->p));
  HP_CALL(hp_head_build(&m->ihead, "visual_projection", m->image_feat, c->embed_dim, !c->no_proj_bias, &m->p));
  int one = 1;
  HP_CALL(hp_params_add(&m->p, "logit_scale", 1, &one, c->learn_temperature ? 0 : HP_PARAM_BUFFER,
                        &m->logit_scale));
  HP_CALL(infer ? hp_params_alloc_data(&m->p) : hp_params_alloc(&m->p));

  const hp_bert_config *t = &c->text;
  int n;
  if (t->arch == HP_TEXT_CLIP) {
    n = snprintf(m->desc, sizeof m->desc, "clip(text=clip_text(V=%d,T=%d,L=%d,H=%d,D=%d,F=%d", t->vocab, t->max_len,
                 t->layers, t->heads, t->width, t->ffn);
    if (!t->quick_gelu) n += snprintf(m->desc + n, sizeof m->desc - (size_t)n, ",act=gelu");
  } else {
    n = snprintf(m->desc, sizeof m->desc, "clip(text=bert(V=%d,T=%d,L=%d,H=%d,D=%d,F=%d,pool=%s", t->vocab,
                 t->max_len, t->layers, t->heads, t->width, t->ffn, t->pooling == HP_BERT_POOL_CLS ? "cls" : "mean");
    /* the padding id, when it is not 0 (a vocab.txt with [PAD] elsewhere): descriptions of the
     * usual models are unchanged */
    if (t->pad_id != 0) n += snprintf(m->desc + n, sizeof m->desc - (size_t)n, ",pad=%d", t->pad_id);
    if (t->quick_gelu) n += snprintf(m->desc + n, sizeof m->desc - (size_t)n, ",act=quickgelu");
  }
  /* a position table larger than the context (a pretrained BERT's 512 rows) */
  if (t->positions > 0 && t->positions != t->max_len)
    n += snprintf(m->desc + n, sizeof m->desc - (size_t)n, ",P=%d", t->positions);
  n += snprintf(m->desc + n, sizeof m->desc - (size_t)n, "),");
  const float *mean, *std;
  if (c->image_kind == HP_CLIP_IMAGE_VIT) {
    const hp_vit_config *v = &c->vit;
    n += snprintf(m->desc + n, sizeof m->desc - (size_t)n, "image=vit(S=%d,P=%d,L=%d,H=%d,D=%d,F=%d", v->image,
                  v->patch, v->layers, v->heads, v->width, v->mlp);
    /* the activation, when it is not the style's (timm: GELU, OpenAI: QuickGELU) */
    if (v->openai) n += snprintf(m->desc + n, sizeof m->desc - (size_t)n, ",style=openai%s", v->quick_gelu ? "" : ",act=gelu");
    else if (v->quick_gelu) n += snprintf(m->desc + n, sizeof m->desc - (size_t)n, ",act=quickgelu");
    mean = v->mean, std = v->std;
  } else {
    const hp_resnet_config *r = &c->resnet;
    n += snprintf(m->desc + n, sizeof m->desc - (size_t)n, "image=resnet(S=%d,blocks=%d-%d-%d-%d,width=%d",
                  r->image_size, r->layers[0], r->layers[1], r->layers[2], r->layers[3], r->width);
    mean = r->mean, std = r->std;
  }
  /* the pixel normalisation, when it is not the tower's default (model.image_mean/std): the
   * checkpoint carries it, and the descriptions of the usual models are unchanged; %.9g prints a
   * float so that it reads back to the same float */
  float dm[3], ds[3];
  hp_clip_default_norm(c->image_kind, dm, ds);
  if (memcmp(mean, dm, sizeof dm) != 0 || memcmp(std, ds, sizeof ds) != 0)
    n += snprintf(m->desc + n, sizeof m->desc - (size_t)n, ",mean=%.9g:%.9g:%.9g,std=%.9g:%.9g:%.9g", (double)mean[0],
                  (double)mean[1], (double)mean[2], (double)std[0], (double)std[1], (double)std[2]);
  n += snprintf(m->desc + n, sizeof m->desc - (size_t)n, "),");
  n += snprintf(m->desc + n, sizeof m->desc - (size_t)n, "E=%d%s,logit_scale=%s)", c->embed_dim,
                c->no_proj_bias ? ",proj_bias=0" : "", c->learn_temperature ? "learned" : "fixed");
  if (n >= (int)sizeof m->desc) HP_ERROR(HP_ERR_INTERNAL, "CLIP: model description longer than %zu bytes", sizeof m->desc);
  return HP_OK;
}

void hp_clip_default_norm(int image_kind, float mean[3], float std[3]) {
  if (image_kind == HP_CLIP_IMAGE_VIT) {
    hp_vit_config v;
    hp_vit_config_default(&v);
    memcpy(mean, v.mean, sizeof v.mean);
    memcpy(std, v.std, sizeof v.std);
  } else {
    hp_resnet_config r;
    hp_resnet_config_resnet50(&r, 64);
    memcpy(mean, r.mean, sizeof r.mean);
    memcpy(std, r.std, sizeof r.std);
  }
}

int hp_clip_build(hp_clip *m, const hp_clip_config *cfg) { return build(m, cfg, 0); }
int hp_clip_build_infer(hp_clip *m, const hp_clip_config *cfg) { return build(m, cfg, 1); }

void hp_clip_init(hp_clip *m, uint64_t seed) {
  hp_bert_init(&m->text, &m->p, seed);
  if (m->cfg.image_kind == HP_CLIP_IMAGE_VIT)
    hp_vit_init(&m->vit, &m->p, seed);
  else
    hp_resnet_init(&m->resnet, &m->p, seed);
  hp_head_init(&m->thead, &m->p, seed);
  hp_head_init(&m->ihead, &m->p, seed);
  m->p.data[m->logit_scale] = (float)log(1.0 / (double)m->cfg.temperature);
}

int hp_clip_acts_estimate(hp_clip *m, int B, size_t *bytes) {
  size_t a1 = 0, a2 = 0;
  HP_CALL(hp_clip_alloc_acts(m, 1, &a1));
  HP_CALL(hp_clip_alloc_acts(m, 2, &a2));
  *bytes = (2 * a1 > a2 ? 2 * a1 - a2 : 0) + (a2 > a1 ? a2 - a1 : 0) * (size_t)(B > 0 ? B : 1);
  return 0;
}

int hp_clip_alloc_acts(hp_clip *m, int B, size_t *bytes) {
  size_t b = 0, x = 0;
  if (B < 1) HP_ERROR(HP_ERR_INTERNAL, "CLIP: activation batch %d", B);
  HP_CALL(m->infer ? hp_bert_alloc_infer(&m->text, B, &x) : hp_bert_alloc_acts(&m->text, B, &x));
  b += x;
  if (m->cfg.image_kind == HP_CLIP_IMAGE_VIT) {
    HP_CALL(m->infer ? hp_vit_alloc_infer(&m->vit, B, &x) : hp_vit_alloc_acts(&m->vit, B, &x));
    b += x;
  } else {
    HP_CALL(m->infer ? hp_resnet_alloc_infer(&m->resnet, B) : hp_resnet_alloc_acts(&m->resnet, B));
    b += m->resnet.act_bytes_per_sample * (size_t)B + m->resnet.scratch_bytes;
    free(m->rfeat);
    m->rfeat = NULL;
    HP_CALLOC(m->rfeat, (size_t)B * m->image_feat, "ResNet features");
    b += (size_t)B * m->image_feat * sizeof(float);
  }
  HP_CALL(hp_head_alloc_acts(&m->thead, B, &x));
  b += x;
  HP_CALL(hp_head_alloc_acts(&m->ihead, B, &x));
  b += x;
  free(m->dtfeat);
  free(m->difeat);
  m->dtfeat = m->difeat = NULL;
  if (!m->infer) {
    HP_CALLOC(m->dtfeat, (size_t)B * m->cfg.text.width, "text head input gradient");
    HP_CALLOC(m->difeat, (size_t)B * m->image_feat, "image head input gradient");
    b += (size_t)B * (m->cfg.text.width + m->image_feat) * sizeof(float);
  }
  m->Bmax = B;
  if (bytes) *bytes = b;
  return HP_OK;
}

void hp_clip_free(hp_clip *m) {
  hp_bert_free(&m->text);
  if (m->cfg.image_kind == HP_CLIP_IMAGE_VIT)
    hp_vit_free(&m->vit);
  else
    hp_resnet_free(&m->resnet);
  hp_head_free(&m->thead);
  hp_head_free(&m->ihead);
  free(m->rfeat);
  free(m->dtfeat);
  free(m->difeat);
  hp_params_free(&m->p);
  memset(m, 0, sizeof *m);
}

int hp_clip_encode_text(hp_clip *m, const int32_t *ids, const uint8_t *valid, int B, int T,
                        const hp_drop *drop, const float **emb) {
  const float *pooled;
  HP_CALL(hp_bert_forward(&m->text, &m->p, ids, valid, B, T, drop, &pooled));
  HP_CALL(hp_head_forward(&m->thead, &m->p, pooled, B, emb));
  return HP_OK;
}

int hp_clip_encode_image(hp_clip *m, const uint8_t *images, int B, int training, const hp_drop *drop,
                         const float **emb) {
  const float *feat;
  if (training && m->infer) HP_ERROR(HP_ERR_INTERNAL, "CLIP: training forward through a model built for inference");
  if (m->cfg.image_kind == HP_CLIP_IMAGE_VIT) {
    HP_CALL(hp_vit_forward(&m->vit, &m->p, NULL, images, B, training ? drop : NULL, &feat));
  } else {
    HP_CALL(hp_resnet_forward_u8(&m->resnet, &m->p, images, B, training, m->rfeat));
    feat = m->rfeat;
  }
  HP_CALL(hp_head_forward(&m->ihead, &m->p, feat, B, emb));
  return HP_OK;
}

float hp_clip_logit_scale(const hp_clip *m) { return m->p.data[m->logit_scale]; }

int hp_clip_backward(hp_clip *m, const float *dimg, const float *dtxt, double dlogit_scale,
                     hp_clip_ready_fn ready, void *arg) {
  if (m->infer) HP_ERROR(HP_ERR_INTERNAL, "CLIP: backward through a model built for inference");
  float *g = m->p.grad;
  if (m->cfg.learn_temperature) g[m->logit_scale] += (float)dlogit_scale;
  int Bt = m->thead.B, Bi = m->ihead.B;
  memset(m->dtfeat, 0, (size_t)Bt * m->cfg.text.width * sizeof(float));
  memset(m->difeat, 0, (size_t)Bi * m->image_feat * sizeof(float));
  if (!m->locked_image) hp_head_backward(&m->ihead, &m->p, g, dimg, m->difeat);
  if (!m->locked_text) hp_head_backward(&m->thead, &m->p, g, dtxt, m->dtfeat);
  if (ready) HP_CALL(ready(arg, m->head_lo));
  /* per-block hand-off inside the towers, so buckets start while later blocks still run */
  const hp_grad_hook hook = {.fn = ready, .arg = arg, .err = 0};
  if (m->locked_image) {
    /* nothing to compute: the locked tower's gradients are never used */
  } else if (m->cfg.image_kind == HP_CLIP_IMAGE_VIT) {
    m->vit.hook = hook;
    hp_vit_backward(&m->vit, &m->p, g, m->difeat);
    HP_CALL(m->vit.hook.err);
  } else {
    m->resnet.hook = hook;
    HP_CALL(hp_resnet_backward(&m->resnet, &m->p, g, m->difeat));
    HP_CALL(m->resnet.hook.err);
  }
  if (ready) HP_CALL(ready(arg, m->image_lo));
  if (!m->locked_text) {
    m->text.hook = hook;
    hp_bert_backward(&m->text, &m->p, g, m->dtfeat);
    HP_CALL(m->text.hook.err);
  }
  if (ready) HP_CALL(ready(arg, 0));
  return HP_OK;
}

void hp_clip_clamp(hp_clip *m) {
  if (!m->cfg.learn_temperature) return;
  float *s = &m->p.data[m->logit_scale];
  if (*s < 0.0f) *s = 0.0f;
  if (*s > (float)LOGIT_SCALE_MAX) *s = (float)LOGIT_SCALE_MAX;
}
