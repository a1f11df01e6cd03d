/* vit.c — see vit.h. */
#include "models/vit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "nn/dropout.h"
#include "nn/layernorm.h"
#include "nn/linear.h"

enum { VIT_SITE = 0x200 };

void hp_vit_config_default(hp_vit_config *c) {
  c->image = 128;
  c->patch = 16;
  c->layers = 12;
  c->heads = 12;
  c->width = 768;
  c->mlp = 0;
  c->dropout = 0.0f;
  c->ln_eps = 1e-6f;
  c->openai = 0;
  c->quick_gelu = 0;
  for (int i = 0; i < 3; i++) {
    c->mean[i] = 0.5f;
    c->std[i] = 0.5f;
  }
}

void hp_vit_config_openai(hp_vit_config *c) {
  c->openai = 1;
  c->ln_eps = 1e-5f;
  c->quick_gelu = 1;
}

static int add(hp_params *p, const char *name, int ndim, const int *shape, int flags, size_t *off) {
  char full[HP_PARAM_NAME_MAX];
  int n = snprintf(full, sizeof full, "visual.%s", name);
  if (n < 0 || n >= (int)sizeof full) HP_ERROR(HP_ERR_INTERNAL, "visual.%s: name too long", name);
  HP_CALL(hp_params_add(p, full, ndim, shape, flags, off));
  return HP_OK;
}
#define ADD1(name, d0, fl, off) HP_CALL(add(p, name, 1, (int[]){d0}, fl, off))
#define ADD2(name, d0, d1, fl, off) HP_CALL(add(p, name, 2, (int[]){d0, d1}, fl, off))

int hp_vit_build(hp_vit *m, const hp_vit_config *cfg, hp_params *p) {
  memset(m, 0, sizeof *m);
  m->cfg = *cfg;
  hp_vit_config *c = &m->cfg;
  if (c->mlp <= 0) c->mlp = 4 * c->width;
  if (c->image < 1 || c->patch < 1 || c->layers < 1 || c->heads < 1 || c->width < 1)
    HP_ERROR(HP_ERR_CONFIG, "ViT: image %d, patch %d, layers %d, heads %d, width %d must be positive",
             c->image, c->patch, c->layers, c->heads, c->width);
  if (c->image % c->patch)
    HP_ERROR(HP_ERR_CONFIG, "ViT: image size %d is not a multiple of the patch size %d", c->image, c->patch);
  if (c->width % c->heads)
    HP_ERROR(HP_ERR_CONFIG, "ViT: width %d is not a multiple of heads %d", c->width, c->heads);
  if (c->mlp < c->width) HP_ERROR(HP_ERR_CONFIG, "ViT: mlp width %d is smaller than width %d", c->mlp, c->width);
  if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
    HP_ERROR(HP_ERR_CONFIG, "ViT: dropout %g outside [0,1)", (double)c->dropout);
  for (int i = 0; i < 3; i++)
    if (!(c->std[i] > 0.0f)) HP_ERROR(HP_ERR_CONFIG, "ViT: normalisation std[%d] = %g", i, (double)c->std[i]);
  int D = c->width, F = c->mlp, L = c->layers, P = c->patch, g = c->image / c->patch;
  m->Np = g * g;
  m->T = m->Np + 1;
  m->K = P * P * 3;
  m->blk = (hp_tblock_cfg){.D = D, .H = c->heads, .F = F, .pre_ln = 1, .ln_eps = c->ln_eps, .quick_gelu = c->quick_gelu};
  m->layer = calloc((size_t)L, sizeof *m->layer);
  if (!m->layer) HP_ERROR(HP_ERR_MEM, "ViT: layer table");
  m->first_tensor = p->n;
  if (c->openai) {
    ADD1("class_embedding", D, 0, &m->cls);
    ADD2("positional_embedding", m->T, D, 0, &m->pos);
    HP_CALL(add(p, "conv1.weight", 4, (int[]){D, P, P, 3}, HP_PARAM_DECAY, &m->pe_w));
    ADD1("ln_pre.weight", D, 0, &m->pre_w);
    ADD1("ln_pre.bias", D, 0, &m->pre_b);
  } else {
    HP_CALL(add(p, "cls_token", 3, (int[]){1, 1, D}, 0, &m->cls));
    HP_CALL(add(p, "pos_embed", 3, (int[]){1, m->T, D}, 0, &m->pos));
    HP_CALL(add(p, "patch_embed.proj.weight", 4, (int[]){D, P, P, 3}, HP_PARAM_DECAY, &m->pe_w));
    ADD1("patch_embed.proj.bias", D, 0, &m->pe_b);
  }
  for (int l = 0; l < L; l++) {
    hp_tblock_params *o = &m->layer[l];
    char n[HP_PARAM_NAME_MAX];
    /* the block's twelve tensors in timm's or OpenAI's names */
    static const char *const timm[12] = {"norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias",
                                         "attn.proj.weight", "attn.proj.bias", "norm2.weight", "norm2.bias",
                                         "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias"};
    static const char *const openai[12] = {"ln_1.weight", "ln_1.bias", "attn.in_proj_weight", "attn.in_proj_bias",
                                           "attn.out_proj.weight", "attn.out_proj.bias", "ln_2.weight", "ln_2.bias",
                                           "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"};
    const char *const *nm = c->openai ? openai : timm;
#define NM(k) (snprintf(n, sizeof n, c->openai ? "transformer.resblocks.%d.%s" : "blocks.%d.%s", l, nm[k]), n)
    ADD1(NM(0), D, 0, &o->ln1_w);
    ADD1(NM(1), D, 0, &o->ln1_b);
    ADD2(NM(2), 3 * D, D, HP_PARAM_DECAY, &o->qkv_w);
    ADD1(NM(3), 3 * D, 0, &o->qkv_b);
    ADD2(NM(4), D, D, HP_PARAM_DECAY, &o->proj_w);
    ADD1(NM(5), D, 0, &o->proj_b);
    ADD1(NM(6), D, 0, &o->ln2_w);
    ADD1(NM(7), D, 0, &o->ln2_b);
    ADD2(NM(8), F, D, HP_PARAM_DECAY, &o->fc1_w);
    ADD1(NM(9), F, 0, &o->fc1_b);
    ADD2(NM(10), D, F, HP_PARAM_DECAY, &o->fc2_w);
    ADD1(NM(11), D, 0, &o->fc2_b);
#undef NM
  }
  ADD1(c->openai ? "ln_post.weight" : "norm.weight", D, 0, &m->norm_w);
  ADD1(c->openai ? "ln_post.bias" : "norm.bias", D, 0, &m->norm_b);
  m->last_tensor = p->n;
  return HP_OK;
}

void hp_vit_init(const hp_vit *m, hp_params *p, uint64_t seed) {
  hp_tb_init_by_name(p, m->first_tensor, m->last_tensor, 0.02f, seed);
  int D = m->cfg.width;
  /* the first tensors are cls_token, pos_embed, patch weight, [patch bias] */
  hp_params_fill_normal(p, m->cls, (size_t)D, 1e-6f, seed, m->first_tensor);
  float bound = 1.0f / sqrtf((float)m->K);
  hp_params_fill_uniform(p, m->pe_w, (size_t)D * m->K, bound, seed, m->first_tensor + 2);
  if (!m->cfg.openai) hp_params_fill_uniform(p, m->pe_b, (size_t)D, bound, seed, m->first_tensor + 3);
}

static void recarve(hp_vit *m, int B) {
  size_t Nmax = (size_t)m->Bmax * m->T;
  float *q = m->x0 + Nmax * m->cfg.width;
  if (m->cfg.openai) q += (m->infer ? 0 : Nmax * m->cfg.width) + 2 * Nmax;
  if (m->infer) {
    hp_tblock_infer_carve(&m->la[0], &m->scr, q, m->x0, &m->blk, B, m->T);
    return;
  }
  size_t per = hp_tblock_acts_floats(&m->blk, m->Bmax, m->T);
  for (int l = 0; l < m->cfg.layers; l++) hp_tblock_acts_carve(&m->la[l], q + (size_t)l * per, &m->blk, B, m->T);
  hp_tblock_scratch_carve(&m->scr, q + (size_t)m->cfg.layers * per, &m->blk, B, m->T);
}

static size_t vit_act_floats(const hp_vit *m, int B, int infer) {
  size_t D = (size_t)m->cfg.width, N = (size_t)B * m->T;
  size_t fixed = (size_t)B * m->Np * m->K + N * D + (size_t)B * (2 * D + 2);
  if (m->cfg.openai) fixed += (infer ? 0 : N * D) + 2 * N; /* ln_pre output and statistics */
  if (infer) return fixed + hp_tblock_infer_floats(&m->blk, B, m->T);
  return fixed + (size_t)m->cfg.layers * hp_tblock_acts_floats(&m->blk, B, m->T) +
         hp_tblock_scratch_floats(&m->blk, B, m->T) + N * D;
}

static size_t acts_bytes(const hp_vit_config *cfg, int B, int infer) {
  hp_vit m;
  memset(&m, 0, sizeof m);
  m.cfg = *cfg;
  if (m.cfg.mlp <= 0) m.cfg.mlp = 4 * m.cfg.width;
  int g = cfg->image / cfg->patch;
  m.Np = g * g;
  m.T = m.Np + 1;
  m.K = cfg->patch * cfg->patch * 3;
  m.blk = (hp_tblock_cfg){.D = cfg->width, .H = cfg->heads, .F = m.cfg.mlp, .pre_ln = 1, .quick_gelu = cfg->quick_gelu};
  return vit_act_floats(&m, B, infer) * sizeof(float);
}

size_t hp_vit_acts_bytes(const hp_vit_config *cfg, int B) { return acts_bytes(cfg, B, 0); }
size_t hp_vit_infer_bytes(const hp_vit_config *cfg, int B) { return acts_bytes(cfg, B, 1); }

/* layout: patches, x0, [L per-block saved activations, scratch | inference views], the class
 * rows and pooled output, [dx] */
static int alloc_acts(hp_vit *m, int B, int infer, size_t *bytes) {
  if (B < 1) HP_ERROR(HP_ERR_CONFIG, "ViT: batch %d", B);
  free(m->act);
  free(m->la);
  m->act = NULL;
  m->la = NULL;
  size_t nf = vit_act_floats(m, B, infer);
  HP_CALLOC(m->act, nf, "ViT activations");
  HP_CALLOC(m->la, infer ? 1 : m->cfg.layers, "ViT layer activations");
  m->act_floats = nf;
  m->Bmax = B;
  m->infer = infer;
  size_t D = (size_t)m->cfg.width, N = (size_t)B * m->T;
  float *q = m->act;
  m->patches = q; q += (size_t)B * m->Np * m->K;
  m->x0 = q; q += N * D;
  m->xin = m->x0;
  if (m->cfg.openai) {
    if (!infer) {
      m->xin = q;
      q += N * D;
    }
    m->pre_mean = q; q += N;
    m->pre_rstd = q; q += N;
  }
  recarve(m, B);
  q += infer ? hp_tblock_infer_floats(&m->blk, B, m->T)
             : (size_t)m->cfg.layers * hp_tblock_acts_floats(&m->blk, B, m->T) +
                   hp_tblock_scratch_floats(&m->blk, B, m->T);
  m->clsin = q; q += (size_t)B * D;
  m->pooled = q; q += (size_t)B * D;
  m->cls_mean = q; q += B;
  m->cls_rstd = q; q += B;
  m->dx = infer ? NULL : q;
  if (bytes) *bytes = nf * sizeof(float);
  return HP_OK;
}

int hp_vit_alloc_acts(hp_vit *m, int B, size_t *bytes) { return alloc_acts(m, B, 0, bytes); }
int hp_vit_alloc_infer(hp_vit *m, int B, size_t *bytes) { return alloc_acts(m, B, 1, bytes); }

void hp_vit_free(hp_vit *m) {
  free(m->layer);
  free(m->act);
  free(m->la);
  memset(m, 0, sizeof *m);
}

int hp_vit_forward(hp_vit *m, const hp_params *p, const float *img_f32, const uint8_t *img_u8,
                   int B, const hp_drop *drop, const float **pooled) {
  const hp_vit_config *c = &m->cfg;
  if (!m->act) HP_ERROR(HP_ERR_INTERNAL, "ViT: forward before hp_vit_alloc_acts");
  if (B < 1 || B > m->Bmax) HP_ERROR(HP_ERR_INTERNAL, "ViT: batch %d exceeds the allocated %d", B, m->Bmax);
  if (!img_f32 == !img_u8) HP_ERROR(HP_ERR_INTERNAL, "ViT: pass exactly one of float or uint8 images");
  recarve(m, B);
  m->B = B;
  m->drop = drop ? *drop : (hp_drop){0};
  const hp_drop *dr = &m->drop;
  const float *w = p->data;
  int S = c->image, P = c->patch, g = S / P, D = c->width, T = m->T, Np = m->Np, K = m->K;
  size_t ND = (size_t)B * T * D;
  /* patchify [B*Np, K]: row (b, py, px) = P runs of P*3 contiguous pixels */
  float sc[3], sh[3];
  for (int i = 0; i < 3; i++) {
    sc[i] = 1.0f / (255.0f * c->std[i]);
    sh[i] = -c->mean[i] / c->std[i];
  }
  HP_OMP("omp parallel for if((size_t)B * Np * K > HP_OMP_MIN_ELEMS)")
  for (int r = 0; r < B * Np; r++) {
    int b = r / Np, py = (r % Np) / g, px = r % g;
    float *dst = m->patches + (size_t)r * K;
    for (int kh = 0; kh < P; kh++) {
      size_t src = (((size_t)b * S + (size_t)py * P + kh) * S + (size_t)px * P) * 3;
      float *d = dst + (size_t)kh * P * 3;
      if (img_f32) {
        memcpy(d, img_f32 + src, (size_t)P * 3 * sizeof *d);
      } else {
        for (int j = 0; j < P * 3; j++) d[j] = (float)img_u8[src + j] * sc[j % 3] + sh[j % 3];
      }
    }
  }
  /* patch embedding, one GEMM: pe [B*Np, D] (scratch t1, free until the blocks run) */
  float *pe = m->scr.t1;
  hp_linear_forward(pe, m->patches, w + m->pe_w, c->openai ? NULL : w + m->pe_b, B * Np, K, D);
  const float *cls = w + m->cls, *pos = w + m->pos;
  HP_OMP("omp parallel for if(ND > HP_OMP_MIN_ELEMS)")
  for (int r = 0; r < B * T; r++) {
    int b = r / T, t = r % T;
    float *x = m->x0 + (size_t)r * D;
    const float *src = t ? pe + ((size_t)b * Np + t - 1) * D : cls; /* [1,1,D] or OpenAI's [D] */
    const float *pr = pos + (size_t)t * D;
    for (int d = 0; d < D; d++) x[d] = src[d] + pr[d];
  }
  if (dr->p > 0.0f)
    hp_dropout_forward(m->x0, m->x0, ND, dr->p, dr->seed, dr->step, hp_drop_index0(dr, VIT_SITE, T, D));
  if (c->openai) /* in place on x0 when infer (row by row: each row's statistics come first) */
    hp_layernorm_forward(m->xin, m->pre_mean, m->pre_rstd, m->x0, w + m->pre_w, w + m->pre_b, B * T, D, c->ln_eps);
  const float *x = m->xin;
  for (int l = 0; l < c->layers; l++) {
    hp_tblock_acts *la = &m->la[m->infer ? 0 : l];
    hp_tblock_forward(&m->blk, &m->layer[l], w, la, &m->scr, x, NULL, B, T, dr, VIT_SITE + 1 + 2 * (uint64_t)l);
    x = hp_tblock_out(&m->blk, la);
  }
  /* final LN on the class tokens only -> pooled [B,D] */
  for (int b = 0; b < B; b++) memcpy(m->clsin + (size_t)b * D, x + (size_t)b * T * D, (size_t)D * sizeof(float));
  hp_layernorm_forward(m->pooled, m->cls_mean, m->cls_rstd, m->clsin, w + m->norm_w, w + m->norm_b, B, D, c->ln_eps);
  *pooled = m->pooled;
  return HP_OK;
}

void hp_vit_backward(hp_vit *m, const hp_params *p, float *grad, const float *dpooled) {
  const hp_vit_config *c = &m->cfg;
  int B = m->B, T = m->T, D = c->width, Np = m->Np;
  size_t ND = (size_t)B * T * D;
  const hp_drop *dr = &m->drop;
  const float *w = p->data;
  float *dx = m->dx;
  hp_tb_zero(dx, ND);
  /* final LN backward into the class-token rows: use t1 [B,D] as a dense staging area */
  float *dcls = m->scr.t1;
  hp_tb_zero(dcls, (size_t)B * D);
  hp_layernorm_backward(dcls, grad + m->norm_w, grad + m->norm_b, dpooled, m->clsin, w + m->norm_w,
                        m->cls_mean, m->cls_rstd, B, D);
  for (int b = 0; b < B; b++) memcpy(dx + (size_t)b * T * D, dcls + (size_t)b * D, (size_t)D * sizeof(float));
  for (int l = c->layers - 1; l >= 0; l--) {
    const float *x = l ? hp_tblock_out(&m->blk, &m->la[l - 1]) : m->xin;
    hp_tblock_backward(&m->blk, &m->layer[l], w, grad, &m->la[l], &m->scr, x, dx, B, T, dr,
                       VIT_SITE + 1 + 2 * (uint64_t)l);
    hp_grad_hook_call(&m->hook, hp_tblock_params_lo(&m->layer[l]));
  }
  if (c->openai) { /* ln_pre: d xin -> d x0, back into dx */
    float *dpre = m->scr.t2;
    hp_tb_zero(dpre, ND);
    hp_layernorm_backward(dpre, grad + m->pre_w, grad + m->pre_b, dx, m->x0, w + m->pre_w, m->pre_mean, m->pre_rstd,
                          B * T, D);
    memcpy(dx, dpre, ND * sizeof(float));
  }
  const float *d0 = dx;
  if (dr->p > 0.0f) {
    hp_tb_zero(m->scr.t2, ND);
    hp_dropout_backward(m->scr.t2, dx, ND, dr->p, dr->seed, dr->step, hp_drop_index0(dr, VIT_SITE, T, D));
    d0 = m->scr.t2;
  }
  /* pos_embed: sum over the batch; cls_token: sum of row 0 */
  float *dpos = grad + m->pos, *dc = grad + m->cls;
  HP_OMP("omp parallel for if(ND > HP_OMP_MIN_ELEMS)")
  for (size_t i = 0; i < (size_t)T * D; i++) {
    double s = 0.0;
    for (int b = 0; b < B; b++) s += d0[(size_t)b * T * D + i];
    dpos[i] += (float)s;
    if (i < (size_t)D) dc[i] += (float)s;
  }
  /* patch embedding: gather the patch rows' gradients, one GEMM for the weight */
  float *dpe = m->scr.t1;
  HP_OMP("omp parallel for if(ND > HP_OMP_MIN_ELEMS)")
  for (int r = 0; r < B * Np; r++) {
    int b = r / Np, t = r % Np + 1;
    memcpy(dpe + (size_t)r * D, d0 + ((size_t)b * T + t) * D, (size_t)D * sizeof(float));
  }
  hp_linear_backward(NULL, grad + m->pe_w, c->openai ? NULL : grad + m->pe_b, dpe, m->patches, w + m->pe_w, B * Np,
                     m->K, D);
}
