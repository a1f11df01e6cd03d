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

int hp_bert_build(hp_bert *m, const hp_bert_config *cfg, hp_params *p) {
  memset(m, 0, sizeof *m);
  m->cfg = *cfg;
  hp_bert_config *c = &m->cfg;
  if (c->ffn <= 0) c->ffn = 4 * c->width;
  if (c->positions != 0 && c->positions < c->max_len)
    HP_ERROR(HP_ERR_CONFIG, "BERT: a position table of %d rows cannot hold texts of %d tokens", c->positions, c->max_len);
  if (c->vocab < 1 || c->max_len < 1 || c->layers < 1 || c->heads < 1 || c->width < 1)
    HP_ERROR(HP_ERR_CONFIG, "BERT: vocab %d, max_len %d, layers %d, heads %d, width %d must be positive",
             c->vocab, c->max_len, c->layers, c->heads, c->width);
  if (c->width % c->heads)
    HP_ERROR(HP_ERR_CONFIG, "BERT: width %d is not a multiple of heads %d", c->width, c->heads);
  if (c->ffn < c->width)
    HP_ERROR(HP_ERR_CONFIG, "BERT: ffn width %d is smaller than width %d", c->ffn, c->width);
  if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
    HP_ERROR(HP_ERR_CONFIG, "BERT: dropout %g outside [0,1)", (double)c->dropout);
  if (c->pooling != HP_BERT_POOL_MEAN && c->pooling != HP_BERT_POOL_CLS)
    HP_ERROR(HP_ERR_CONFIG, "BERT: unknown pooling %d", c->pooling);
  int D = c->width, F = c->ffn, L = c->layers;
  m->blk = (hp_tblock_cfg){.D = D, .H = c->heads, .F = F, .pre_ln = 0, .ln_eps = c->ln_eps};
  m->prefix = "text";
  const char *P = m->prefix;
  m->layer = calloc((size_t)L, sizeof *m->layer);
  if (!m->layer) HP_ERROR(HP_ERR_MEM, "BERT: layer table");
  m->first_tensor = p->n;
  HP_CALL(add(p, P, "embeddings.word_embeddings.weight", c->vocab, D, 0, 0, &m->word));
  HP_CALL(add(p, P, "embeddings.position_embeddings.weight", c->positions > 0 ? c->positions : c->max_len, D, 0, 0,
              &m->pos));
  HP_CALL(add(p, P, "embeddings.token_type_embeddings.weight", 2, D, 0, 0, &m->type));
  HP_CALL(add(p, P, "embeddings.LayerNorm.weight", D, 0, 0, 0, &m->eln_w));
  HP_CALL(add(p, P, "embeddings.LayerNorm.bias", D, 0, 0, 0, &m->eln_b));
  for (int l = 0; l < L; l++) {
    hp_tblock_params *o = &m->layer[l];
    char n[HP_PARAM_NAME_MAX];
    size_t kq, vq;
#define NM(s) (snprintf(n, sizeof n, "encoder.layer.%d.%s", l, s), n)
    /* fused qkv: three packed weights, then three packed biases */
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
  }
  m->last_tensor = p->n;
  return HP_OK;
}

void hp_bert_init(const hp_bert *m, hp_params *p, uint64_t seed) {
  hp_tb_init_by_name(p, m->first_tensor, m->last_tensor, 0.02f, seed);
  if (m->cfg.pad_id >= 0 && m->cfg.pad_id < m->cfg.vocab)
    hp_params_fill_const(p, m->word + (size_t)m->cfg.pad_id * m->cfg.width, (size_t)m->cfg.width, 0.0f);
}

static size_t bert_act_floats(const hp_bert_config *c, const hp_tblock_cfg *blk, int B, int infer) {
  size_t N = (size_t)B * c->max_len, D = (size_t)c->width;
  size_t fixed = N * (2 * D + 2) + (size_t)B * D;
  if (infer) return fixed + hp_tblock_infer_floats(blk, B, c->max_len);
  return fixed + (size_t)c->layers * hp_tblock_acts_floats(blk, B, c->max_len) +
         hp_tblock_scratch_floats(blk, B, c->max_len) + N * D;
}

static size_t acts_bytes(const hp_bert_config *cfg, int B, int infer) {
  hp_bert_config c = *cfg;
  if (c.ffn <= 0) c.ffn = 4 * c.width;
  hp_tblock_cfg blk = {.D = c.width, .H = c.heads, .F = c.ffn, .pre_ln = 0, .ln_eps = c.ln_eps};
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
  m->act = NULL;
  m->la = NULL;
  size_t nf = bert_act_floats(c, &m->blk, B, infer);
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
  memset(m, 0, sizeof *m);
}

void hp_bert_mask_from_ids(uint8_t *valid, const int32_t *ids, size_t n, int pad_id) {
  for (size_t i = 0; i < n; i++) valid[i] = ids[i] != pad_id;
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
