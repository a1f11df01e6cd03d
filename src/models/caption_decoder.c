/* caption_decoder.c — see caption_decoder.h. */
#include "models/caption_decoder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/loss.h"

enum { CAPDEC_SITE = 0x300 };

void hp_capdec_config_default(hp_capdec_config *c) {
  c->vocab = 15000;
  c->max_len = 20;
  c->embed_dim = 768;
  c->width = 768;
  c->ffn = 2048;
  c->heads = 8;
  c->layers = 1;
  c->dropout = 0.5f;
  c->block_dropout = 0.0f;
  c->ln_eps = 1e-5f;
}

void hp_capdec_describe(const hp_capdec_config *c, char *buf, size_t n) {
  snprintf(buf, n, "capdec(V=%d,T=%d,E=%d,D=%d,F=%d,H=%d,L=%d)", c->vocab, c->max_len, c->embed_dim, c->width,
           c->ffn, c->heads, c->layers);
}

static int add(hp_params *p, const char *name, int d0, int d1, int flags, size_t *off) {
  char full[HP_PARAM_NAME_MAX];
  int n = snprintf(full, sizeof full, "capdec.%s", name);
  if (n < 0 || n >= (int)sizeof full) HP_ERROR(HP_ERR_INTERNAL, "capdec.%s: name too long", name);
  int shape[2] = {d0, d1};
  HP_CALL(hp_params_add(p, full, d1 ? 2 : 1, shape, flags, off));
  return HP_OK;
}

int hp_capdec_build(hp_capdec *m, const hp_capdec_config *cfg, hp_params *p) {
  memset(m, 0, sizeof *m);
  m->cfg = *cfg;
  const hp_capdec_config *c = &m->cfg;
  if (c->vocab < 2 || c->max_len < 1 || c->embed_dim < 1 || c->width < 1 || c->ffn < 1 || c->heads < 1 ||
      c->layers < 1)
    HP_ERROR(HP_ERR_CONFIG,
             "caption decoder: vocab %d (>= 2), max_len %d, embed_dim %d, width %d, ffn %d, heads %d, layers %d "
             "must be positive",
             c->vocab, c->max_len, c->embed_dim, c->width, c->ffn, c->heads, c->layers);
  if (c->width % c->heads)
    HP_ERROR(HP_ERR_CONFIG, "caption decoder: width %d is not a multiple of heads %d (caption.width, caption.heads)",
             c->width, c->heads);
  if (c->ffn < c->width)
    HP_ERROR(HP_ERR_CONFIG, "caption decoder: ffn %d is smaller than width %d (caption.ffn)", c->ffn, c->width);
  if (!(c->dropout >= 0.0f && c->dropout < 1.0f) || !(c->block_dropout >= 0.0f && c->block_dropout < 1.0f))
    HP_ERROR(HP_ERR_CONFIG, "caption decoder: dropout %g / block dropout %g outside [0,1)", (double)c->dropout,
             (double)c->block_dropout);
  int D = c->width, F = c->ffn, V = c->vocab;
  m->blk = (hp_tblock_cfg){.D = D, .H = c->heads, .F = F, .pre_ln = 0, .ln_eps = c->ln_eps, .causal = 1};
  HP_CALLOC(m->layer, c->layers, "caption decoder layer table");
  m->first_tensor = p->n;
  HP_CALL(add(p, "prefix.weight", D, c->embed_dim, HP_PARAM_DECAY, &m->pre_w));
  HP_CALL(add(p, "prefix.bias", D, 0, 0, &m->pre_b));
  HP_CALL(add(p, "tok_embed.weight", V, D, 0, &m->tok));
  HP_CALL(add(p, "pos_embed.weight", c->max_len, D, 0, &m->pos));
  for (int l = 0; l < c->layers; l++) {
    hp_tblock_params *o = &m->layer[l];
    char n[HP_PARAM_NAME_MAX];
#define NM(s) (snprintf(n, sizeof n, "blocks.%d.%s", l, s), n)
    HP_CALL(add(p, NM("attn.qkv.weight"), 3 * D, D, HP_PARAM_DECAY, &o->qkv_w));
    HP_CALL(add(p, NM("attn.qkv.bias"), 3 * D, 0, 0, &o->qkv_b));
    HP_CALL(add(p, NM("attn.proj.weight"), D, D, HP_PARAM_DECAY, &o->proj_w));
    HP_CALL(add(p, NM("attn.proj.bias"), D, 0, 0, &o->proj_b));
    HP_CALL(add(p, NM("norm1.weight"), D, 0, 0, &o->ln1_w));
    HP_CALL(add(p, NM("norm1.bias"), D, 0, 0, &o->ln1_b));
    HP_CALL(add(p, NM("mlp.fc1.weight"), F, D, HP_PARAM_DECAY, &o->fc1_w));
    HP_CALL(add(p, NM("mlp.fc1.bias"), F, 0, 0, &o->fc1_b));
    HP_CALL(add(p, NM("mlp.fc2.weight"), D, F, HP_PARAM_DECAY, &o->fc2_w));
    HP_CALL(add(p, NM("mlp.fc2.bias"), D, 0, 0, &o->fc2_b));
    HP_CALL(add(p, NM("norm2.weight"), D, 0, 0, &o->ln2_w));
    HP_CALL(add(p, NM("norm2.bias"), D, 0, 0, &o->ln2_b));
#undef NM
  }
  HP_CALL(add(p, "out.weight", V, D, HP_PARAM_DECAY, &m->out_w));
  HP_CALL(add(p, "out.bias", V, 0, 0, &m->out_b));
  m->last_tensor = p->n;
  return HP_OK;
}

void hp_capdec_init(const hp_capdec *m, hp_params *p, uint64_t seed) {
  hp_tb_init_by_name(p, m->first_tensor, m->last_tensor, 0.02f, seed);
}

/* decode_only: logits for one position per sequence, no backward stream */
static size_t act_floats(const hp_capdec_config *c, const hp_tblock_cfg *blk, int B, int decode_only) {
  size_t N = (size_t)B * c->max_len, D = (size_t)c->width, V = (size_t)c->vocab;
  return N * D + (size_t)c->layers * hp_tblock_acts_floats(blk, B, c->max_len) +
         hp_tblock_scratch_floats(blk, B, c->max_len) + N * D + (decode_only ? (size_t)B : N) * V +
         (decode_only ? 0 : N * D);
}

size_t hp_capdec_acts_bytes(const hp_capdec_config *cfg, int B) {
  hp_tblock_cfg blk = {.D = cfg->width, .H = cfg->heads, .F = cfg->ffn, .ln_eps = cfg->ln_eps, .causal = 1};
  return act_floats(cfg, &blk, B, 0) * sizeof(float);
}

/* carve the per-call views for (B, S) out of the (Bmax, T) allocation */
static void carve(hp_capdec *m, int B, int S) {
  const hp_capdec_config *c = &m->cfg;
  size_t Nmax = (size_t)m->Bmax * c->max_len, D = (size_t)c->width, V = (size_t)c->vocab;
  float *q = m->act;
  m->x0 = q;
  q += Nmax * D;
  size_t per = hp_tblock_acts_floats(&m->blk, m->Bmax, c->max_len);
  for (int l = 0; l < c->layers; l++) hp_tblock_acts_carve(&m->la[l], q + (size_t)l * per, &m->blk, B, S);
  q += (size_t)c->layers * per;
  hp_tblock_scratch_carve(&m->scr, q, &m->blk, B, S);
  q += hp_tblock_scratch_floats(&m->blk, m->Bmax, c->max_len);
  m->hd = q;
  q += Nmax * D;
  m->logits = q;
  q += (m->decode_only ? (size_t)m->Bmax : Nmax) * V;
  m->dx = m->decode_only ? NULL : q;
}

static int alloc_acts(hp_capdec *m, int B, int decode_only, size_t *bytes) {
  if (B < 1) HP_ERROR(HP_ERR_CONFIG, "caption decoder: batch %d", B);
  m->decode_only = decode_only;
  free(m->act);
  free(m->la);
  m->act = NULL;
  m->la = NULL;
  size_t nf = act_floats(&m->cfg, &m->blk, B, decode_only);
  HP_CALLOC(m->act, nf, "caption decoder activations");
  HP_CALLOC(m->la, m->cfg.layers, "caption decoder layer activations");
  m->act_floats = nf;
  m->Bmax = B;
  carve(m, B, m->cfg.max_len);
  if (bytes) *bytes = nf * sizeof(float);
  return HP_OK;
}

int hp_capdec_alloc_acts(hp_capdec *m, int B, size_t *bytes) { return alloc_acts(m, B, 0, bytes); }
int hp_capdec_alloc_decode(hp_capdec *m, int B, size_t *bytes) { return alloc_acts(m, B, 1, bytes); }

void hp_capdec_free(hp_capdec *m) {
  free(m->layer);
  free(m->act);
  free(m->la);
  memset(m, 0, sizeof *m);
}

int hp_capdec_forward(hp_capdec *m, const hp_params *p, const float *cond, const int32_t *tokens, int ld,
                      int B, int S, int last_only, const hp_drop *drop, const float **logits) {
  const hp_capdec_config *c = &m->cfg;
  if (!m->act) HP_ERROR(HP_ERR_INTERNAL, "caption decoder: forward before hp_capdec_alloc_acts");
  if (B < 1 || B > m->Bmax || S < 1 || S > c->max_len || (S > 1 && ld < S - 1))
    HP_ERROR(HP_ERR_INTERNAL, "caption decoder: batch %dx%d (ld %d) exceeds the allocated %dx%d", B, S, ld, m->Bmax,
             c->max_len);
  int D = c->width, V = c->vocab, E = c->embed_dim, N = B * S;
  for (int b = 0; b < B; b++)
    for (int t = 0; t + 1 < S; t++) {
      int32_t id = tokens[(size_t)b * ld + t];
      if (id < 0 || id >= V)
        HP_ERROR(HP_ERR_INPUT, "caption decoder: token id %d (sequence %d, position %d) outside the vocabulary [0,%d)",
                 (int)id, b, t, V);
    }
  if (m->decode_only && !last_only)
    HP_ERROR(HP_ERR_INTERNAL, "caption decoder: activations allocated for decoding (last position only)");
  carve(m, B, S);
  m->B = B;
  m->S = S;
  m->ld = ld;
  m->last_only = last_only;
  m->cond = cond;
  m->tokens = tokens;
  m->drop = drop ? *drop : (hp_drop){0};
  m->bdrop = m->drop;
  m->bdrop.p = m->drop.p > 0.0f ? c->block_dropout : 0.0f; /* training = output dropout on */
  const hp_drop *bd = &m->bdrop;
  const float *w = p->data;
  /* x0 [B,S,D]: row (b,0) = prefix(cond_b), row (b,t) = tok[tokens[b,t-1]]; + pos[t] */
  float *pre = m->scr.t1; /* [B,D] scratch (t1 holds N*D >= B*D floats) */
  hp_linear_forward(pre, cond, w + m->pre_w, w + m->pre_b, B, E, D);
  for (int b = 0; b < B; b++) {
    float *xb = m->x0 + (size_t)b * S * D;
    memcpy(xb, pre + (size_t)b * D, (size_t)D * sizeof *xb);
    for (int t = 1; t < S; t++)
      memcpy(xb + (size_t)t * D, w + m->tok + (size_t)tokens[(size_t)b * ld + t - 1] * D, (size_t)D * sizeof *xb);
  }
  hp_posembed_forward(m->x0, w + m->pos, B, S, D);
  const float *x = m->x0;
  for (int l = 0; l < c->layers; l++) {
    hp_tblock_forward(&m->blk, &m->layer[l], w, &m->la[l], &m->scr, x, NULL, B, S, bd,
                      CAPDEC_SITE + 1 + 2 * (uint64_t)l);
    x = hp_tblock_out(&m->blk, &m->la[l]);
  }
  /* dropout before the vocabulary projection; [N,D] -> [N,V] (or the last position only) */
  if (last_only) {
    for (int b = 0; b < B; b++)
      memcpy(m->hd + (size_t)b * D, x + ((size_t)b * S + S - 1) * D, (size_t)D * sizeof *x);
    if (m->drop.p > 0.0f)
      HP_ERROR(HP_ERR_INTERNAL, "caption decoder: last_only forward is for decoding (no dropout)");
    hp_linear_forward(m->logits, m->hd, w + m->out_w, w + m->out_b, B, D, V);
  } else {
    if (m->drop.p > 0.0f)
      hp_dropout_forward(m->hd, x, (size_t)N * D, m->drop.p, m->drop.seed, m->drop.step,
                         hp_drop_index0(&m->drop, CAPDEC_SITE, S, D));
    else
      memcpy(m->hd, x, (size_t)N * D * sizeof *x);
    hp_linear_forward(m->logits, m->hd, w + m->out_w, w + m->out_b, N, D, V);
  }
  *logits = m->logits;
  return HP_OK;
}

int64_t hp_capdec_targets(const int32_t *captions, int B, int T, int32_t *targets) {
  int64_t n = 0;
  for (int b = 0; b < B; b++) {
    int ended = 0;
    for (int t = 0; t < T; t++) {
      int32_t id = captions[(size_t)b * T + t];
      targets[(size_t)b * T + t] = ended ? -1 : id;
      n += !ended;
      if (id == 0) ended = 1;
    }
  }
  return n;
}

double hp_capdec_loss(hp_capdec *m, const int32_t *targets, int64_t *count, int64_t *correct) {
  int N = m->B * m->S, V = m->cfg.vocab;
  int64_t hits = 0;
  for (int n = 0; n < N; n++) {
    if (targets[n] < 0) continue;
    const float *r = m->logits + (size_t)n * V;
    int best = 0;
    for (int v = 1; v < V; v++)
      if (r[v] > r[best]) best = v;
    hits += best == targets[n];
  }
  int cnt = 0;
  double mean = hp_crossentropy_forward(m->logits, NULL, &cnt, m->logits, targets, N, V, -1);
  if (count) *count = cnt;
  if (correct) *correct = hits;
  return mean * cnt;
}

void hp_capdec_backward(hp_capdec *m, const hp_params *p, float *grad, const int32_t *targets, float scale) {
  const hp_capdec_config *c = &m->cfg;
  int B = m->B, S = m->S, N = B * S, D = c->width, V = c->vocab, E = c->embed_dim;
  size_t ND = (size_t)N * D;
  const float *w = p->data;
  /* d(sum of losses)*scale / dlogits = scale * (probs - onehot), in place on the probs */
  float *dl = m->logits;
  HP_OMP("omp parallel for if((size_t)N * V > HP_OMP_MIN_ELEMS)")
  for (int n = 0; n < N; n++) {
    float *r = dl + (size_t)n * V;
    if (targets[n] < 0) {
      memset(r, 0, (size_t)V * sizeof *r);
      continue;
    }
    for (int v = 0; v < V; v++) r[v] *= scale;
    r[targets[n]] -= scale;
  }
  /* output projection [N,V] -> dh [N,D] */
  float *dh = m->dx;
  hp_tb_zero(dh, ND);
  hp_linear_backward(dh, grad + m->out_w, grad + m->out_b, dl, m->hd, w + m->out_w, N, D, V);
  hp_grad_hook_call(&m->hook, m->out_w < m->out_b ? m->out_w : m->out_b);
  if (m->drop.p > 0.0f) {
    float *t = m->scr.t2;
    hp_tb_zero(t, ND);
    hp_dropout_backward(t, dh, ND, m->drop.p, m->drop.seed, m->drop.step, hp_drop_index0(&m->drop, CAPDEC_SITE, S, D));
    memcpy(dh, t, ND * sizeof *dh);
  }
  for (int l = c->layers - 1; l >= 0; l--) {
    const float *x = l ? hp_tblock_out(&m->blk, &m->la[l - 1]) : m->x0;
    hp_tblock_backward(&m->blk, &m->layer[l], w, grad, &m->la[l], &m->scr, x, dh, B, S, &m->bdrop,
                       CAPDEC_SITE + 1 + 2 * (uint64_t)l);
    hp_grad_hook_call(&m->hook, hp_tblock_params_lo(&m->layer[l]));
  }
  /* dh = d x0: positions, tokens, prefix */
  hp_posembed_backward(grad + m->pos, dh, B, S, D);
  float *dtok = grad + m->tok;
  for (int b = 0; b < B; b++)
    for (int t = 1; t < S; t++) {
      const float *g = dh + ((size_t)b * S + t) * D;
      float *row = dtok + (size_t)m->tokens[(size_t)b * m->ld + t - 1] * D;
      for (int d = 0; d < D; d++) row[d] += g[d];
    }
  float *dpre = m->scr.t1; /* [B,D] the prefix rows */
  for (int b = 0; b < B; b++) memcpy(dpre + (size_t)b * D, dh + (size_t)b * S * D, (size_t)D * sizeof *dpre);
  hp_linear_backward(NULL, grad + m->pre_w, grad + m->pre_b, dpre, m->cond, w + m->pre_w, B, E, D);
  hp_grad_hook_call(&m->hook, 0);
}
