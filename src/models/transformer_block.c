/* transformer_block.c — see transformer_block.h. */
#include "models/transformer_block.h"

#include <string.h>

#include "nn/activation.h"
#include "nn/attention.h"
#include "nn/dropout.h"
#include "nn/layernorm.h"
#include "nn/linear.h"

void hp_tb_zero(float *x, size_t n) {
  if (n < (size_t)HP_OMP_MIN_ELEMS * 8) {
    memset(x, 0, n * sizeof *x);
    return;
  }
  HP_OMP("omp parallel for schedule(static)")
  for (size_t i = 0; i < n; i++) x[i] = 0.0f;
}

size_t hp_tblock_acts_floats(const hp_tblock_cfg *c, int B, int T) {
  size_t N = (size_t)B * T, D = (size_t)c->D, F = (size_t)c->F;
  return N * (8 * D + F + 4) + (size_t)B * c->H * T * T;
}

size_t hp_tblock_scratch_floats(const hp_tblock_cfg *c, int B, int T) {
  size_t N = (size_t)B * T, D = (size_t)c->D, F = (size_t)c->F;
  return N * (2 * F + 5 * D) + (size_t)B * c->H * T * T;
}

void hp_tblock_acts_carve(hp_tblock_acts *a, float *buf, const hp_tblock_cfg *c, int B, int T) {
  size_t N = (size_t)B * T, D = (size_t)c->D, F = (size_t)c->F;
  a->n1 = buf; buf += N * D;
  a->n1_mean = buf; buf += N;
  a->n1_rstd = buf; buf += N;
  a->qkv = buf; buf += 3 * N * D;
  a->att = buf; buf += (size_t)B * c->H * T * T;
  a->a = buf; buf += N * D;
  a->r1 = buf; buf += N * D;
  a->n2 = buf; buf += N * D;
  a->n2_mean = buf; buf += N;
  a->n2_rstd = buf; buf += N;
  a->u = buf; buf += N * F;
  a->r2 = buf;
}

void hp_tblock_scratch_carve(hp_tblock_scratch *s, float *buf, const hp_tblock_cfg *c, int B, int T) {
  size_t N = (size_t)B * T, D = (size_t)c->D, F = (size_t)c->F;
  s->g = buf; buf += N * F;
  s->dF = buf; buf += N * F;
  s->t1 = buf; buf += N * D;
  s->t2 = buf; buf += N * D;
  s->dqkv = buf; buf += 3 * N * D;
  s->datt = buf;
}

size_t hp_tblock_infer_floats(const hp_tblock_cfg *c, int B, int T) {
  size_t N = (size_t)B * T, D = (size_t)c->D, F = (size_t)c->F;
  return N * (4 * D + F + 2) + (size_t)B * c->H * T * T;
}

void hp_tblock_infer_carve(hp_tblock_acts *a, hp_tblock_scratch *s, float *buf, float *x,
                           const hp_tblock_cfg *c, int B, int T) {
  size_t N = (size_t)B * T, D = (size_t)c->D;
  memset(a, 0, sizeof *a);
  memset(s, 0, sizeof *s);
  /* order of use in hp_tblock_forward: n1 -> qkv -> a (n1 dead) -> r1 (qkv dead) -> n2 / post-LN
   * n1 (a dead) -> u -> g (in place) -> r2 -> post-LN n2 (x dead since r1) */
  float *one = buf; buf += N * D;
  a->n1 = a->a = one;
  a->n1_mean = a->n2_mean = buf; buf += N;
  a->n1_rstd = a->n2_rstd = buf; buf += N;
  a->qkv = buf; buf += 3 * N * D;
  a->r1 = a->qkv;
  a->att = buf; buf += (size_t)B * c->H * T * T;
  a->u = buf;
  if (c->pre_ln) {
    a->n2 = one;
    a->r2 = x;
  } else {
    a->r2 = a->qkv + N * D;
    a->n2 = x;
  }
  s->g = a->u;
  s->t1 = one;
}

/* the MLP activation: GELU (erf; BERT, timm) or QuickGELU (OpenAI CLIP) */
static void act_forward(const hp_tblock_cfg *c, float *out, const float *inp, size_t n) {
  if (c->quick_gelu) hp_quickgelu_forward(out, inp, n);
  else hp_gelu_forward(out, inp, n);
}

/* res = res_in + dropout(res) in place on res (res holds the branch output on entry) */
static void drop_add(float *res, const float *skip, size_t n, const hp_drop *d, uint64_t index0) {
  if (d && d->p > 0.0f) hp_dropout_forward(res, res, n, d->p, d->seed, d->step, index0);
  hp_residual_forward(res, res, skip, n);
}

void hp_tblock_forward(const hp_tblock_cfg *c, const hp_tblock_params *o, const float *w,
                       hp_tblock_acts *a, hp_tblock_scratch *s, const float *x,
                       const uint8_t *key_valid, int B, int T, const hp_drop *drop,
                       uint64_t site) {
  int N = B * T, D = c->D, F = c->F;
  size_t ND = (size_t)N * D;
  uint64_t i0 = hp_drop_index0(drop, site, T, D), i1 = hp_drop_index0(drop, site + 1, T, D);
  const float *ain; /* attention input */
  if (c->pre_ln) {
    hp_layernorm_forward(a->n1, a->n1_mean, a->n1_rstd, x, w + o->ln1_w, w + o->ln1_b, N, D, c->ln_eps);
    ain = a->n1;
  } else {
    ain = x;
  }
  hp_linear_forward(a->qkv, ain, w + o->qkv_w, w + o->qkv_b, N, D, 3 * D);      /* [N,3D] */
  hp_attention_forward(a->a, a->att, a->qkv, key_valid, c->causal, B, T, D, c->H);     /* [N,D] */
  hp_linear_forward(a->r1, a->a, w + o->proj_w, w + o->proj_b, N, D, D);       /* [N,D] */
  drop_add(a->r1, x, ND, drop, i0);
  const float *min; /* MLP input, MLP residual */
  if (c->pre_ln) {
    hp_layernorm_forward(a->n2, a->n2_mean, a->n2_rstd, a->r1, w + o->ln2_w, w + o->ln2_b, N, D, c->ln_eps);
    min = a->n2;
  } else {
    hp_layernorm_forward(a->n1, a->n1_mean, a->n1_rstd, a->r1, w + o->ln1_w, w + o->ln1_b, N, D, c->ln_eps);
    min = a->n1;
  }
  hp_linear_forward(a->u, min, w + o->fc1_w, w + o->fc1_b, N, D, F);           /* [N,F] */
  act_forward(c, s->g, a->u, (size_t)N * F);
  hp_linear_forward(a->r2, s->g, w + o->fc2_w, w + o->fc2_b, N, F, D);         /* [N,D] */
  drop_add(a->r2, c->pre_ln ? a->r1 : a->n1, ND, drop, i1);
  if (!c->pre_ln)
    hp_layernorm_forward(a->n2, a->n2_mean, a->n2_rstd, a->r2, w + o->ln2_w, w + o->ln2_b, N, D, c->ln_eps);
}

/* gradient through a dropout site: returns the buffer holding d(branch output) */
static const float *drop_back(float *tmp, const float *dres, size_t n, const hp_drop *d,
                              uint64_t index0) {
  if (!d || d->p <= 0.0f) return dres;
  hp_tb_zero(tmp, n);
  hp_dropout_backward(tmp, dres, n, d->p, d->seed, d->step, index0);
  return tmp;
}

/* MLP branch backward: dm = d(fc2 output branch, after dropout-grad); accumulates d(MLP
 * input) into dmin. */
static void mlp_back(const hp_tblock_cfg *c, const hp_tblock_params *o, const float *w,
                     float *grad, const hp_tblock_acts *a, hp_tblock_scratch *s,
                     const float *min, const float *dm, float *dmin, int N) {
  int D = c->D, F = c->F;
  size_t NF = (size_t)N * F;
  hp_tb_zero(s->dF, NF);
  act_forward(c, s->g, a->u, NF); /* recompute act(u) */
  hp_linear_backward(s->dF, grad + o->fc2_w, grad + o->fc2_b, dm, s->g, w + o->fc2_w, N, F, D);
  hp_tb_zero(s->g, NF); /* g becomes du */
  if (c->quick_gelu) hp_quickgelu_backward(s->g, s->dF, a->u, NF);
  else hp_gelu_backward(s->g, s->dF, a->u, NF);
  hp_linear_backward(dmin, grad + o->fc1_w, grad + o->fc1_b, s->g, min, w + o->fc1_w, N, D, F);
}

/* attention branch backward: dh = d(proj output); accumulates d(attention input) into dain.
 * Uses t1 as d(attention output). */
static void attn_back(const hp_tblock_cfg *c, const hp_tblock_params *o, const float *w,
                      float *grad, const hp_tblock_acts *a, hp_tblock_scratch *s,
                      const float *ain, const float *dh, float *dain, int B, int T) {
  int N = B * T, D = c->D;
  size_t ND = (size_t)N * D;
  hp_tb_zero(s->t1, ND);
  hp_linear_backward(s->t1, grad + o->proj_w, grad + o->proj_b, dh, a->a, w + o->proj_w, N, D, D);
  hp_tb_zero(s->dqkv, 3 * ND);
  hp_attention_backward(s->dqkv, s->datt, s->t1, a->qkv, a->att, B, T, D, c->H);
  hp_linear_backward(dain, grad + o->qkv_w, grad + o->qkv_b, s->dqkv, ain, w + o->qkv_w, N, D, 3 * D);
}

void hp_tblock_backward(const hp_tblock_cfg *c, const hp_tblock_params *o, const float *w,
                        float *grad, const hp_tblock_acts *a, hp_tblock_scratch *s,
                        const float *x, float *dx, int B, int T, const hp_drop *drop,
                        uint64_t site) {
  int N = B * T, D = c->D;
  size_t ND = (size_t)N * D;
  uint64_t i0 = hp_drop_index0(drop, site, T, D), i1 = hp_drop_index0(drop, site + 1, T, D);
  if (c->pre_ln) {
    /* dx holds d r2 = d r1 (residual) + MLP branch */
    const float *dm = drop_back(s->t2, dx, ND, drop, i1);
    float *dn2 = s->t1;
    hp_tb_zero(dn2, ND);
    mlp_back(c, o, w, grad, a, s, a->n2, dm, dn2, N);
    hp_layernorm_backward(dx, grad + o->ln2_w, grad + o->ln2_b, dn2, a->r1, w + o->ln2_w,
                          a->n2_mean, a->n2_rstd, N, D);
    /* dx holds d r1 = d x (residual) + attention branch through LN1 */
    const float *dh = drop_back(s->t2, dx, ND, drop, i0);
    float *dn1 = s->dF; /* free after mlp_back; F >= D (checked by the towers) */
    hp_tb_zero(dn1, ND);
    attn_back(c, o, w, grad, a, s, a->n1, dh, dn1, B, T);
    hp_layernorm_backward(dx, grad + o->ln1_w, grad + o->ln1_b, dn1, x, w + o->ln1_w,
                          a->n1_mean, a->n1_rstd, N, D);
  } else {
    /* dx holds d n2 */
    float *dr2 = s->t1;
    hp_tb_zero(dr2, ND);
    hp_layernorm_backward(dr2, grad + o->ln2_w, grad + o->ln2_b, dx, a->r2, w + o->ln2_w,
                          a->n2_mean, a->n2_rstd, N, D);
    const float *dm = drop_back(s->t2, dr2, ND, drop, i1);
    /* d n1 = d r2 (residual) + MLP branch, accumulated in place in t1 */
    mlp_back(c, o, w, grad, a, s, a->n1, dm, dr2, N);
    hp_tb_zero(dx, ND);
    hp_layernorm_backward(dx, grad + o->ln1_w, grad + o->ln1_b, dr2, a->r1, w + o->ln1_w,
                          a->n1_mean, a->n1_rstd, N, D);
    /* dx holds d r1 = d x (residual) + attention branch */
    const float *dh = drop_back(s->t2, dx, ND, drop, i0);
    attn_back(c, o, w, grad, a, s, x, dh, dx, B, T);
  }
}

/* by name: *LayerNorm.weight / *norm*.weight / *.ln_*.weight -> 1, *bias (OpenAI's in_proj_bias
 * too) -> 0, else normal(0, std) */
void hp_tb_init_by_name(hp_params *p, int first, int last, float std, uint64_t seed) {
  for (int k = first; k < last; k++) {
    const hp_tensor_info *t = &p->t[k];
    size_t len = strlen(t->name);
    int is_bias = len >= 4 && strcmp(t->name + len - 4, "bias") == 0;
    int is_norm = (strstr(t->name, "LayerNorm.") || strstr(t->name, "norm") || strstr(t->name, ".ln_")) && !is_bias;
    if (is_bias) hp_params_fill_const(p, t->offset, t->numel, 0.0f);
    else if (is_norm) hp_params_fill_const(p, t->offset, t->numel, 1.0f);
    else hp_params_fill_normal(p, t->offset, t->numel, std, seed, k);
  }
}

size_t hp_tblock_params_lo(const hp_tblock_params *o) {
  const size_t v[] = {o->ln1_w, o->ln1_b, o->qkv_w, o->qkv_b, o->proj_w, o->proj_b,
                      o->ln2_w, o->ln2_b, o->fc1_w, o->fc1_b, o->fc2_w, o->fc2_b};
  size_t lo = v[0];
  for (size_t i = 1; i < sizeof v / sizeof *v; i++) lo = v[i] < lo ? v[i] : lo;
  return lo;
}
