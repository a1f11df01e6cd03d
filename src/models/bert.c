/* bert.c — see bert.h. */
#include "models/bert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/layernorm.h"

enum { BERT_SITE = 0x100 };

void hp_bert_config_default(hp_bert_config *c) {
  c->arch = HP_TEXT_BERT;
  c->quick_gelu = 0;
  c->vocab = 15000;
  c->max_len = 20;
  c->positions = 0;
  c->layers = 12;
  c->heads = 12;
  c->width = 768;
  c->ffn = 0;
  c->dropout = 0.1f;
  c->pooling = HP_BERT_POOL_MEAN;
  c->ln_eps = 1e-12f;
  c->pad_id = 0;
}

static int add(hp_params *p, const char *prefix, const char *name, int d0, int d1, int flags,
               int packed, size_t *off) {
  char full[HP_PARAM_NAME_MAX];
  int n = snprintf(full, sizeof full, "%s.%s", prefix, name);
  if (n < 0 || n >= (int)sizeof full) HP_ERROR(HP_ERR_INTERNAL, "%s.%s: name too long", prefix, name);
  int shape[2] = {d0, d1};
  if (packed) HP_CALL(hp_params_add_packed(p, full, d1 ? 2 : 1, shape, flags, off));
  else HP_CALL(hp_params_add(p, full, d1 ? 2 : 1, shape, flags, off));
  return HP_OK;
}

void hp_bert_config_clip(hp_bert_config *c) {
  c->arch = HP_TEXT_CLIP;
  c->pooling = HP_BERT_POOL_EOT;
  c->ln_eps = 1e-5f;
  c->pad_id = 0;
  c->quick_gelu = 1;
}

/* BERT's names: fused qkv as three packed weights, then three packed biases */
static int add_bert_layer(hp_params *p, const char *P, int l, int D, int F, hp_tblock_params *o) {
  char n[HP_PARAM_NAME_MAX];
  size_t kq, vq;
#define NM(s) (snprintf(n, sizeof n, "encoder.layer.%d.%s", l, s), n)
  HP_CALL(add(p, P, NM("attention.self.query.weight"), D, D, HP_PARAM_DECAY, 0, &o->qkv_w));
  HP_CALL(add(p, P, NM("attention.self.key.weight"), D, D, HP_PARAM_DECAY, 1, &kq));
  HP_CALL(add(p, P, NM("attention.self.value.weight"), D, D, HP_PARAM_DECAY, 1, &vq));
  if (kq != o->qkv_w + (size_t)D * D || vq != kq + (size_t)D * D)
    HP_ERROR(HP_ERR_INTERNAL, "BERT: q/k/v weights are not contiguous");
  HP_CALL(add(p, P, NM("attention.self.query.bias"), D, 0, 0, 0, &o->qkv_b));
  HP_CALL(add(p, P, NM("attention.self.key.bias"), D, 0, 0, 1, &kq));
  HP_CALL(add(p, P, NM("attention.self.value.bias"), D, 0, 0, 1, &vq));
  if (kq != o->qkv_b + (size_t)D || vq != kq + (size_t)D)
    HP_ERROR(HP_ERR_INTERNAL, "BERT: q/k/v biases are not contiguous");
  HP_CALL(add(p, P, NM("attention.output.dense.weight"), D, D, HP_PARAM_DECAY, 0, &o->proj_w));
  HP_CALL(add(p, P, NM("attention.output.dense.bias"), D, 0, 0, 0, &o->proj_b));
  HP_CALL(add(p, P, NM("attention.output.LayerNorm.weight"), D, 0, 0, 0, &o->ln1_w));
  HP_CALL(add(p, P, NM("attention.output.LayerNorm.bias"), D, 0, 0, 0, &o->ln1_b));
  HP_CALL(add(p, P, NM("intermediate.dense.weight"), F, D, HP_PARAM_DECAY, 0, &o->fc1_w));
  HP_CALL(add(p, P, NM("intermediate.dense.bias"), F, 0, 0, 0, &o->fc1_b));
  HP_CALL(add(p, P, NM("output.dense.weight"), D, F, HP_PARAM_DECAY, 0, &o->fc2_w));
  HP_CALL(add(p, P, NM("output.dense.bias"), D, 0, 0, 0, &o->fc2_b));
  HP_CALL(add(p, P, NM("output.LayerNorm.weight"), D, 0, 0, 0, &o->ln2_w));
  HP_CALL(add(p, P, NM("output.LayerNorm.bias"), D, 0, 0, 0, &o->ln2_b));
#undef NM
  return HP_OK;
}

/* OpenAI CLIP's names (ResidualAttentionBlock with nn.MultiheadAttention) */
static int add_clip_layer(hp_params *p, const char *P, int l, int D, int F, hp_tblock_params *o) {
  char n[HP_PARAM_NAME_MAX];
#define NM(s) (snprintf(n, sizeof n, "transformer.resblocks.%d.%s", l, s), n)
  HP_CALL(add(p, P, NM("ln_1.weight"), D, 0, 0, 0, &o->ln1_w));
  HP_CALL(add(p, P, NM("ln_1.bias"), D, 0, 0, 0, &o->ln1_b));
  HP_CALL(add(p, P, NM("attn.in_proj_weight"), 3 * D, D, HP_PARAM_DECAY, 0, &o->qkv_w));
  HP_CALL(add(p, P, NM("attn.in_proj_bias"), 3 * D, 0, 0, 0, &o->qkv_b));
  HP_CALL(add(p, P, NM("attn.out_proj.weight"), D, D, HP_PARAM_DECAY, 0, &o->proj_w));
  HP_CALL(add(p, P, NM("attn.out_proj.bias"), D, 0, 0, 0, &o->proj_b));
  HP_CALL(add(p, P, NM("ln_2.weight"), D, 0, 0, 0, &o->ln2_w));
  HP_CALL(add(p, P, NM("ln_2.bias"), D, 0, 0, 0, &o->ln2_b));
  HP_CALL(add(p, P, NM("mlp.c_fc.weight"), F, D, HP_PARAM_DECAY, 0, &o->fc1_w));
  HP_CALL(add(p, P, NM("mlp.c_fc.bias"), F, 0, 0, 0, &o->fc1_b));
  HP_CALL(add(p, P, NM("mlp.c_proj.weight"), D, F, HP_PARAM_DECAY, 0, &o->fc2_w));
  HP_CALL(add(p, P, NM("mlp.c_proj.bias"), D, 0, 0, 0, &o->fc2_b));
#undef NM
  return HP_OK;
}

static hp_tblock_cfg block_cfg(const hp_bert_config *c) {
  int clip = c->arch == HP_TEXT_CLIP;
  return (hp_tblock_cfg){.D = c->width, .H = c->heads, .F = c->ffn > 0 ? c->ffn : 4 * c->width, .pre_ln = clip,
                         .ln_eps = c->ln_eps, .quick_gelu = c->quick_gelu, .causal = clip};
}

int hp_bert_build(hp_bert *m, const hp_bert_config *cfg, hp_params *p) {
  memset(m, 0, sizeof *m);
  m->cfg = *cfg;
  hp_bert_config *c = &m->cfg;
  if (c->ffn <= 0) c->ffn = 4 * c->width;
  if (c->arch != HP_TEXT_BERT && c->arch != HP_TEXT_CLIP) HP_ERROR(HP_ERR_CONFIG, "text tower: unknown arch %d", c->arch);
  int clip = c->arch == HP_TEXT_CLIP;
  const char *what = clip ? "CLIP text transformer" : "BERT";
  if (c->positions != 0 && c->positions < c->max_len)
    HP_ERROR(HP_ERR_CONFIG, "%s: a position table of %d rows cannot hold texts of %d tokens", what, c->positions,
             c->max_len);
  if (c->vocab < 1 || c->max_len < 1 || c->layers < 1 || c->heads < 1 || c->width < 1)
    HP_ERROR(HP_ERR_CONFIG, "%s: vocab %d, max_len %d, layers %d, heads %d, width %d must be positive", what,
             c->vocab, c->max_len, c->layers, c->heads, c->width);
  if (c->width % c->heads)
    HP_ERROR(HP_ERR_CONFIG, "%s: width %d is not a multiple of heads %d", what, c->width, c->heads);
  if (c->ffn < c->width)
    HP_ERROR(HP_ERR_CONFIG, "%s: ffn width %d is smaller than width %d", what, c->ffn, c->width);
  if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
    HP_ERROR(HP_ERR_CONFIG, "%s: dropout %g outside [0,1)", what, (double)c->dropout);
  if (clip ? c->pooling != HP_BERT_POOL_EOT : c->pooling != HP_BERT_POOL_MEAN && c->pooling != HP_BERT_POOL_CLS)
    HP_ERROR(HP_ERR_CONFIG, "%s: pooling %d (BERT pools by mean or [CLS], CLIP's text at the end-of-text token)", what,
             c->pooling);
  int D = c->width, F = c->ffn, L = c->layers, rows = c->positions > 0 ? c->positions : c->max_len;
  m->blk = block_cfg(c);
  m->prefix = "text";
  const char *P = m->prefix;
  m->layer = calloc((size_t)L, sizeof *m->layer);
  if (!m->layer) HP_ERROR(HP_ERR_MEM, "%s: layer table", what);
  m->first_tensor = p->n;
  if (clip) {
    HP_CALL(add(p, P, "token_embedding.weight", c->vocab, D, 0, 0, &m->word));
    HP_CALL(add(p, P, "positional_embedding", rows, D, 0, 0, &m->pos));
    for (int l = 0; l < L; l++) HP_CALL(add_clip_layer(p, P, l, D, F, &m->layer[l]));
    HP_CALL(add(p, P, "ln_final.weight", D, 0, 0, 0, &m->lnf_w));
    HP_CALL(add(p, P, "ln_final.bias", D, 0, 0, 0, &m->lnf_b));
  } else {
    HP_CALL(add(p, P, "embeddings.word_embeddings.weight", c->vocab, D, 0, 0, &m->word));
    HP_CALL(add(p, P, "embeddings.position_embeddings.weight", rows, D, 0, 0, &m->pos));
    HP_CALL(add(p, P, "embeddings.token_type_embeddings.weight", 2, D, 0, 0, &m->type));
    HP_CALL(add(p, P, "embeddings.LayerNorm.weight", D, 0, 0, 0, &m->eln_w));
    HP_CALL(add(p, P, "embeddings.LayerNorm.bias", D, 0, 0, 0, &m->eln_b));
    for (int l = 0; l < L; l++) HP_CALL(add_bert_layer(p, P, l, D, F, &m->layer[l]));
  }
  m->last_tensor = p->n;
  return HP_OK;
}

void hp_bert_init(const hp_bert *m, hp_params *p, uint64_t seed) {
  hp_tb_init_by_name(p, m->first_tensor, m->last_tensor, 0.02f, seed);
  if (m->cfg.arch == HP_TEXT_BERT && m->cfg.pad_id >= 0 && m->cfg.pad_id < m->cfg.vocab)
    hp_params_fill_const(p, m->word + (size_t)m->cfg.pad_id * m->cfg.width, (size_t)m->cfg.width, 0.0f);
}

static size_t bert_act_floats(const hp_bert_config *c, const hp_tblock_cfg *blk, int B, int infer) {
  size_t N = (size_t)B * c->max_len, D = (size_t)c->width;
  size_t fixed = N * (2 * D + 2) + (size_t)B * D + (size_t)B * (D + 2);
  if (infer) return fixed + hp_tblock_infer_floats(blk, B, c->max_len);
  return fixed + (size_t)c->layers * hp_tblock_acts_floats(blk, B, c->max_len) +
         hp_tblock_scratch_floats(blk, B, c->max_len) + N * D;
}

static size_t acts_bytes(const hp_bert_config *cfg, int B, int infer) {
  hp_bert_config c = *cfg;
  if (c.ffn <= 0) c.ffn = 4 * c.width;
  hp_tblock_cfg blk = block_cfg(&c);
  return bert_act_floats(&c, &blk, B, infer) * sizeof(float);
}

size_t hp_bert_acts_bytes(const hp_bert_config *cfg, int B) { return acts_bytes(cfg, B, 0); }
size_t hp_bert_infer_bytes(const hp_bert_config *cfg, int B) { return acts_bytes(cfg, B, 1); }

/* Activations are carved for (Bmax, max_len); a call with (B, T) uses the leading B*T rows
 * of each buffer, and the per-layer views must be re-carved for that (B, T) so the blocks
 * see densely packed [B,T,...] arrays. Carving is pointer arithmetic only. */
static void recarve(hp_bert *m, int B, int T) {
  const hp_bert_config *c = &m->cfg;
  size_t Nmax = (size_t)m->Bmax * c->max_len, D = (size_t)c->width;
  float *q = m->act + Nmax * (2 * D + 2);
  if (m->infer) {
    hp_tblock_infer_carve(&m->la[0], &m->scr, q, m->x0, &m->blk, B, T);
    return;
  }
  size_t per = hp_tblock_acts_floats(&m->blk, m->Bmax, c->max_len);
  for (int l = 0; l < c->layers; l++) hp_tblock_acts_carve(&m->la[l], q + (size_t)l * per, &m->blk, B, T);
  q += (size_t)c->layers * per;
  hp_tblock_scratch_carve(&m->scr, q, &m->blk, B, T);
}

/* layout: emb, emb_mean, emb_rstd, x0, [L per-block saved activations, scratch | inference
 * views], pooled, [dx] */
static int alloc_acts(hp_bert *m, int B, int infer, size_t *bytes) {
  const hp_bert_config *c = &m->cfg;
  if (B < 1) HP_ERROR(HP_ERR_CONFIG, "BERT: batch %d", B);
  free(m->act);
  free(m->la);
  free(m->eot);
  m->act = NULL;
  m->la = NULL;
  m->eot = NULL;
  size_t nf = bert_act_floats(c, &m->blk, B, infer);
  HP_CALLOC(m->eot, (size_t)B, "text pooling positions");
  HP_CALLOC(m->act, nf, "BERT activations");
  HP_CALLOC(m->la, infer ? 1 : c->layers, "BERT layer activations");
  m->act_floats = nf;
  m->Bmax = B;
  m->infer = infer;
  int T = c->max_len;
  size_t N = (size_t)B * T, D = (size_t)c->width;
  float *q = m->act;
  m->emb = q; q += N * D;
  m->emb_mean = q; q += N;
  m->emb_rstd = q; q += N;
  m->x0 = q; q += N * D;
  recarve(m, B, T);
  q += infer ? hp_tblock_infer_floats(&m->blk, B, T)
             : (size_t)c->layers * hp_tblock_acts_floats(&m->blk, B, T) + hp_tblock_scratch_floats(&m->blk, B, T);
  m->pooled = q; q += (size_t)B * D;
  m->eot_in = q; q += (size_t)B * D;
  m->eot_mean = q; q += B;
  m->eot_rstd = q; q += B;
  m->dx = infer ? NULL : q;
  if (bytes) *bytes = nf * sizeof(float);
  return HP_OK;
}

int hp_bert_alloc_acts(hp_bert *m, int B, size_t *bytes) { return alloc_acts(m, B, 0, bytes); }
int hp_bert_alloc_infer(hp_bert *m, int B, size_t *bytes) { return alloc_acts(m, B, 1, bytes); }

void hp_bert_free(hp_bert *m) {
  free(m->layer);
  free(m->act);
  free(m->la);
  free(m->eot);
  memset(m, 0, sizeof *m);
}

void hp_bert_mask_from_ids(uint8_t *valid, const int32_t *ids, size_t n, int pad_id) {
  for (size_t i = 0; i < n; i++) valid[i] = ids[i] != pad_id;
}

/* HP_TEXT_CLIP forward (see bert.h): embeddings straight into x0, causal pre-LN blocks without a
 * padding mask, ln_final on the end-of-text rows only */
static int clip_forward(hp_bert *m, const float *w, const int32_t *ids, const uint8_t *valid, int B, int T,
                        const float **pooled) {
  const hp_bert_config *c = &m->cfg;
  const hp_drop *dr = &m->drop;
  int N = B * T, D = c->width;
  size_t ND = (size_t)N * D;
  hp_embedding_forward(m->x0, ids, w + m->word, N, D);
  hp_posembed_forward(m->x0, w + m->pos, B, T, D);
  if (dr->p > 0.0f)
    hp_dropout_forward(m->x0, m->x0, ND, dr->p, dr->seed, dr->step, hp_drop_index0(dr, BERT_SITE, T, D));
  const float *x = m->x0;
  for (int l = 0; l < c->layers; l++) {
    hp_tblock_acts *la = &m->la[m->infer ? 0 : l];
    hp_tblock_forward(&m->blk, &m->layer[l], w, la, &m->scr, x, NULL, B, T, dr, BERT_SITE + 1 + 2 * (uint64_t)l);
    x = hp_tblock_out(&m->blk, la);
  }
  for (int b = 0; b < B; b++) {
    int e = 0;
    for (int t = 0; t < T; t++)
      if (valid[(size_t)b * T + t]) e = t;
    m->eot[b] = e;
    memcpy(m->eot_in + (size_t)b * D, x + ((size_t)b * T + e) * D, (size_t)D * sizeof(float));
  }
  hp_layernorm_forward(m->pooled, m->eot_mean, m->eot_rstd, m->eot_in, w + m->lnf_w, w + m->lnf_b, B, D, c->ln_eps);
  *pooled = m->pooled;
  return HP_OK;
}

/* HP_TEXT_CLIP backward: ln_final into the end-of-text rows, the blocks, the two tables */
static void clip_backward(hp_bert *m, const hp_params *p, float *grad, const float *dpooled) {
  const hp_bert_config *c = &m->cfg;
  int B = m->B, T = m->T, N = B * T, D = c->width;
  size_t ND = (size_t)N * D;
  const hp_drop *dr = &m->drop;
  const float *w = p->data;
  float *dx = m->dx, *drow = m->scr.t1;
  hp_tb_zero(dx, ND);
  hp_tb_zero(drow, (size_t)B * D);
  hp_layernorm_backward(drow, grad + m->lnf_w, grad + m->lnf_b, dpooled, m->eot_in, w + m->lnf_w, m->eot_mean,
                        m->eot_rstd, B, D);
  for (int b = 0; b < B; b++)
    memcpy(dx + ((size_t)b * T + m->eot[b]) * D, drow + (size_t)b * D, (size_t)D * sizeof(float));
  for (int l = c->layers - 1; l >= 0; l--) {
    const float *x = l ? hp_tblock_out(&m->blk, &m->la[l - 1]) : m->x0;
    hp_tblock_backward(&m->blk, &m->layer[l], w, grad, &m->la[l], &m->scr, x, dx, B, T, dr,
                       BERT_SITE + 1 + 2 * (uint64_t)l);
    hp_grad_hook_call(&m->hook, hp_tblock_params_lo(&m->layer[l]));
  }
  const float *d0 = dx;
  if (dr->p > 0.0f) {
    hp_tb_zero(m->scr.t2, ND);
    hp_dropout_backward(m->scr.t2, dx, ND, dr->p, dr->seed, dr->step, hp_drop_index0(dr, BERT_SITE, T, D));
    d0 = m->scr.t2;
  }
  hp_embedding_backward(grad + m->word, d0, m->ids, N, D);
  hp_posembed_backward(grad + m->pos, d0, B, T, D);
}

int hp_bert_forward(hp_bert *m, const hp_params *p, const int32_t *ids, const uint8_t *valid,
                    int B, int T, const hp_drop *drop, const float **pooled) {
  const hp_bert_config *c = &m->cfg;
  if (!m->act) HP_ERROR(HP_ERR_INTERNAL, "BERT: forward before hp_bert_alloc_acts");
  if (B < 1 || B > m->Bmax || T < 1 || T > c->max_len)
    HP_ERROR(HP_ERR_INTERNAL, "BERT: batch %dx%d exceeds the allocated %dx%d", B, T, m->Bmax, c->max_len);
  HP_CALL(hp_embedding_check_ids(ids, (size_t)B * T, c->vocab));
  recarve(m, B, T);
  m->B = B;
  m->T = T;
  m->ids = ids;
  m->valid = valid;
  m->drop = drop ? *drop : (hp_drop){0};
  const hp_drop *dr = &m->drop;
  const float *w = p->data;
  int N = B * T, D = c->width;
  size_t ND = (size_t)N * D;
  if (c->arch == HP_TEXT_CLIP) return clip_forward(m, w, ids, valid, B, T, pooled);
  /* embeddings [N,D] */
  hp_embedding_forward(m->emb, ids, w + m->word, N, D);
  hp_posembed_forward(m->emb, w + m->pos, B, T, D);
  const float *ty = w + m->type; /* token type 0 for every token */
  HP_OMP("omp parallel for if(ND > HP_OMP_MIN_ELEMS)")
  for (int n = 0; n < N; n++) {
    float *e = m->emb + (size_t)n * D;
    for (int d = 0; d < D; d++) e[d] += ty[d];
  }
  hp_layernorm_forward(m->x0, m->emb_mean, m->emb_rstd, m->emb, w + m->eln_w, w + m->eln_b, N, D, c->ln_eps);
  if (dr->p > 0.0f)
    hp_dropout_forward(m->x0, m->x0, ND, dr->p, dr->seed, dr->step, hp_drop_index0(dr, BERT_SITE, T, D));
  /* blocks */
  const float *x = m->x0;
  for (int l = 0; l < c->layers; l++) {
    hp_tblock_acts *la = &m->la[m->infer ? 0 : l];
    hp_tblock_forward(&m->blk, &m->layer[l], w, la, &m->scr, x, valid, B, T, dr, BERT_SITE + 1 + 2 * (uint64_t)l);
    x = hp_tblock_out(&m->blk, la);
  }
  /* pooling [B,D] */
  HP_OMP("omp parallel for if(ND > HP_OMP_MIN_ELEMS)")
  for (int b = 0; b < B; b++) {
    float *o = m->pooled + (size_t)b * D;
    const float *xb = x + (size_t)b * T * D;
    if (c->pooling == HP_BERT_POOL_CLS) {
      memcpy(o, xb, (size_t)D * sizeof *o);
      continue;
    }
    int cnt = 0;
    for (int t = 0; t < T; t++) cnt += valid[(size_t)b * T + t] != 0;
    for (int d = 0; d < D; d++) {
      double s = 0.0;
      for (int t = 0; t < T; t++)
        if (valid[(size_t)b * T + t]) s += xb[(size_t)t * D + d];
      o[d] = cnt ? (float)(s / cnt) : 0.0f;
    }
  }
  *pooled = m->pooled;
  return HP_OK;
}

void hp_bert_backward(hp_bert *m, const hp_params *p, float *grad, const float *dpooled) {
  const hp_bert_config *c = &m->cfg;
  if (c->arch == HP_TEXT_CLIP) {
    clip_backward(m, p, grad, dpooled);
    return;
  }
  int B = m->B, T = m->T, N = B * T, D = c->width;
  size_t ND = (size_t)N * D;
  const hp_drop *dr = &m->drop;
  const float *w = p->data;
  float *dx = m->dx;
  /* pooling backward -> d xL [N,D] */
  HP_OMP("omp parallel for if(ND > HP_OMP_MIN_ELEMS)")
  for (int b = 0; b < B; b++) {
    float *db = dx + (size_t)b * T * D;
    const float *g = dpooled + (size_t)b * D;
    memset(db, 0, (size_t)T * D * sizeof *db);
    if (c->pooling == HP_BERT_POOL_CLS) {
      memcpy(db, g, (size_t)D * sizeof *db);
      continue;
    }
    const uint8_t *v = m->valid + (size_t)b * T;
    int cnt = 0;
    for (int t = 0; t < T; t++) cnt += v[t] != 0;
    if (!cnt) continue;
    float inv = 1.0f / (float)cnt;
    for (int t = 0; t < T; t++)
      if (v[t])
        for (int d = 0; d < D; d++) db[(size_t)t * D + d] = g[d] * inv;
  }
  for (int l = c->layers - 1; l >= 0; l--) {
    const float *x = l ? hp_tblock_out(&m->blk, &m->la[l - 1]) : m->x0;
    hp_tblock_backward(&m->blk, &m->layer[l], w, grad, &m->la[l], &m->scr, x, dx, B, T, dr,
                       BERT_SITE + 1 + 2 * (uint64_t)l);
    hp_grad_hook_call(&m->hook, hp_tblock_params_lo(&m->layer[l]));
  }
  /* embeddings: dropout, LN, then the three tables */
  const float *dln = dx;
  if (dr->p > 0.0f) {
    hp_tb_zero(m->scr.t1, ND);
    hp_dropout_backward(m->scr.t1, dx, ND, dr->p, dr->seed, dr->step, hp_drop_index0(dr, BERT_SITE, T, D));
    dln = m->scr.t1;
  }
  float *demb = m->scr.t2;
  hp_tb_zero(demb, ND);
  hp_layernorm_backward(demb, grad + m->eln_w, grad + m->eln_b, dln, m->emb, w + m->eln_w,
                        m->emb_mean, m->emb_rstd, N, D);
  hp_embedding_backward(grad + m->word, demb, m->ids, N, D);
  hp_posembed_backward(grad + m->pos, demb, B, T, D);
  float *dty = grad + m->type;
  HP_OMP("omp parallel for if(ND > HP_OMP_MIN_ELEMS)")
  for (int d = 0; d < D; d++) {
    double s = 0.0;
    for (int n = 0; n < N; n++) s += demb[(size_t)n * D + d];
    dty[d] += (float)s;
  }
}
