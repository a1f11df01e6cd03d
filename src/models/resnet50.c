/* resnet50.c — see resnet50.h.
 *
 * Memory plan. Forward saves, per conv unit, its output c (the BN input) and, for units
 * followed by ReLU, a = ReLU(BN(c)) (the next conv's input); bn3 and the downsample BN are
 * applied together with the residual add and the ReLU straight into the block output
 * (hp_bn_add_relu), so BN(c3) is never stored. Backward uses three rotating workspace
 * buffers P, Q, R of the largest activation size:
 *   P = dL/d(block out), masked by out > 0 (in place for identity blocks; folded into the
 *       BN backwards for projection blocks)
 *   bn3 backward P -> Q; conv3 backward Q -> R (overwrite); bn2+ReLU backward in place in R;
 *   conv2 backward R -> Q (zeroed, accumulated); bn1+ReLU backward in place in Q;
 *   identity shortcut: conv1 backward Q -> P += (P now dL/d(block in));
 *   downsample: bnd backward in place in P; convd backward P -> R (overwrite);
 *               conv1 backward Q -> R +=; then rotate so that R becomes P.
 * 1x1 stride-1 convolutions (every conv1 and conv3, layer1's downsample) are one sgemm on
 * the NHWC activation itself, with beta chosen so nothing is zeroed or copied; the others go
 * through nn/conv.c (im2col + one sgemm per chunk of images). */
#include "models/resnet50.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "nn/bn_relu.h"
#include "nn/conv.h"
#include "nn/pool.h"

/* upper bound of the im2col scratch (the batch is processed in chunks of images below it) */
#define HP_RESNET_COL_MAX_BYTES ((size_t)64 << 20)

void hp_resnet_config_resnet50(hp_resnet_config *cfg, int image_size) {
  memset(cfg, 0, sizeof *cfg);
  cfg->layers[0] = 3;
  cfg->layers[1] = 4;
  cfg->layers[2] = 6;
  cfg->layers[3] = 3;
  cfg->width = 64;
  cfg->image_size = image_size;
  cfg->bn_eps = 1e-5f;
  cfg->bn_momentum = 0.1f;
  cfg->zero_init_residual = 0;
  const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
  memcpy(cfg->mean, mean, sizeof mean);
  memcpy(cfg->std, std, sizeof std);
  snprintf(cfg->prefix, sizeof cfg->prefix, "visual.");
}

/* register conv weight [OC,K,K,IC] and its BN under names "<prefix><conv>" / "<prefix><bn>" */
static int add_unit(hp_resnet *m, hp_params *p, const char *conv_name, const char *bn_name,
                    int ic, int oc, int k, int stride, int pad, int ih, int iw) {
  hp_resnet_conv *u = &m->convs[m->nconv++];
  memset(u, 0, sizeof *u);
  u->ic = ic;
  u->oc = oc;
  u->k = k;
  u->stride = stride;
  u->pad = pad;
  u->ih = ih;
  u->iw = iw;
  u->oh = hp_conv2d_out_size(ih, k, stride, pad);
  u->ow = hp_conv2d_out_size(iw, k, stride, pad);
  if (u->oh < 1 || u->ow < 1)
    HP_ERROR(HP_ERR_CONFIG, "resnet: image size %d too small (%s gets %dx%d input)",
             m->cfg.image_size, conv_name, ih, iw);
  const char *pre = m->cfg.prefix;
  char nm[HP_PARAM_NAME_MAX];
  int wshape[4] = {oc, k, k, ic}, cshape[1] = {oc};
  snprintf(nm, sizeof nm, "%s%s.weight", pre, conv_name);
  HP_CALL(hp_params_add(p, nm, 4, wshape, HP_PARAM_DECAY, &u->w));
  u->tidx = p->n - 1;
  snprintf(nm, sizeof nm, "%s%s.weight", pre, bn_name);
  HP_CALL(hp_params_add(p, nm, 1, cshape, 0, &u->bn_w));
  snprintf(nm, sizeof nm, "%s%s.bias", pre, bn_name);
  HP_CALL(hp_params_add(p, nm, 1, cshape, 0, &u->bn_b));
  snprintf(nm, sizeof nm, "%s%s.running_mean", pre, bn_name);
  HP_CALL(hp_params_add(p, nm, 1, cshape, HP_PARAM_BUFFER, &u->bn_rm));
  snprintf(nm, sizeof nm, "%s%s.running_var", pre, bn_name);
  HP_CALL(hp_params_add(p, nm, 1, cshape, HP_PARAM_BUFFER, &u->bn_rv));
  return 0;
}

int hp_resnet_build(hp_resnet *m, const hp_resnet_config *cfg, hp_params *p) {
  memset(m, 0, sizeof *m);
  m->cfg = *cfg;
  if (cfg->width < 1 || cfg->width > 4096) HP_ERROR(HP_ERR_CONFIG, "resnet: width %d", cfg->width);
  if (cfg->image_size < 1) HP_ERROR(HP_ERR_CONFIG, "resnet: image size %d", cfg->image_size);
  int nblk = 0;
  for (int s = 0; s < 4; s++) {
    if (cfg->layers[s] < 1 || cfg->layers[s] > 1000)
      HP_ERROR(HP_ERR_CONFIG, "resnet: layers[%d] = %d", s, cfg->layers[s]);
    nblk += cfg->layers[s];
  }
  m->nblock = nblk;
  HP_CALLOC(m->convs, 1 + 4 * nblk, "resnet conv table");
  HP_CALLOC(m->blocks, nblk, "resnet block table");
  int S = cfg->image_size, w = cfg->width;
  HP_CALL(add_unit(m, p, "conv1", "bn1", 3, w, 7, 2, 3, S, S));
  int H = hp_conv2d_out_size(m->convs[0].oh, 3, 2, 1);
  int W = hp_conv2d_out_size(m->convs[0].ow, 3, 2, 1);
  if (H < 1 || W < 1) HP_ERROR(HP_ERR_CONFIG, "resnet: image size %d too small", S);
  m->pool_h = H;
  m->pool_w = W;
  int C = w, b = 0;
  char cn[96], bn[96];
  for (int s = 0; s < 4; s++) {
    int planes = w << s, out = 4 * planes;
    for (int i = 0; i < cfg->layers[s]; i++, b++) {
      hp_resnet_block *blk = &m->blocks[b];
      int stride = (i == 0 && s > 0) ? 2 : 1;
      const char *cname[3] = {"conv1", "conv2", "conv3"}, *bname[3] = {"bn1", "bn2", "bn3"};
      int ics[3] = {C, planes, planes}, ocs[3] = {planes, planes, out}, ks[3] = {1, 3, 1};
      int ih = H, iw = W;
      for (int j = 0; j < 3; j++) {
        snprintf(cn, sizeof cn, "layer%d.%d.%s", s + 1, i, cname[j]);
        snprintf(bn, sizeof bn, "layer%d.%d.%s", s + 1, i, bname[j]);
        blk->conv[j] = m->nconv;
        HP_CALL(add_unit(m, p, cn, bn, ics[j], ocs[j], ks[j], j == 1 ? stride : 1, j == 1 ? 1 : 0,
                         ih, iw));
        ih = m->convs[blk->conv[j]].oh;
        iw = m->convs[blk->conv[j]].ow;
      }
      blk->conv[3] = -1;
      if (stride != 1 || C != out) {
        snprintf(cn, sizeof cn, "layer%d.%d.downsample.0", s + 1, i);
        snprintf(bn, sizeof bn, "layer%d.%d.downsample.1", s + 1, i);
        blk->conv[3] = m->nconv;
        HP_CALL(add_unit(m, p, cn, bn, C, out, 1, stride, 0, H, W));
      }
      H = ih;
      W = iw;
      C = out;
    }
  }
  m->final_h = H;
  m->final_w = W;
  m->feat_dim = C;
  return 0;
}

void hp_resnet_init(const hp_resnet *m, hp_params *p, uint64_t seed) {
  for (int i = 0; i < m->nconv; i++) {
    const hp_resnet_conv *u = &m->convs[i];
    size_t nw = (size_t)u->oc * u->k * u->k * u->ic;
    float std = sqrtf(2.0f / (float)(u->oc * u->k * u->k));
    hp_params_fill_normal(p, u->w, nw, std, seed, u->tidx);
    hp_params_fill_const(p, u->bn_w, (size_t)u->oc, 1.0f);
    hp_params_fill_const(p, u->bn_b, (size_t)u->oc, 0.0f);
    hp_params_fill_const(p, u->bn_rm, (size_t)u->oc, 0.0f);
    hp_params_fill_const(p, u->bn_rv, (size_t)u->oc, 1.0f);
  }
  if (m->cfg.zero_init_residual)
    for (int b = 0; b < m->nblock; b++) {
      const hp_resnet_conv *u = &m->convs[m->blocks[b].conv[2]];
      hp_params_fill_const(p, u->bn_w, (size_t)u->oc, 0.0f);
    }
}

void hp_resnet_free(hp_resnet *m) {
  free(m->convs);
  free(m->blocks);
  free(m->arena);
  free(m->argmax);
  free(m->col);
  free(m->g[0]);
  free(m->bnscr);
  memset(m, 0, sizeof *m);
}

static int is_pointwise(const hp_resnet_conv *u) {
  return u->k == 1 && u->stride == 1 && u->pad == 0;
}
static size_t unit_out(const hp_resnet_conv *u) { return (size_t)u->oh * u->ow * u->oc; }
static size_t unit_in(const hp_resnet_conv *u) { return (size_t)u->ih * u->iw * u->ic; }

#define R16(x) (((x) + 15) & ~(size_t)15)

/* per-image floats of the largest activation (in or out of any unit), of the largest im2col
 * buffer, and the floats of every unit's statistics (batch-independent) */
static void unit_sizes(const hp_resnet *m, size_t *gmax, size_t *colmax, size_t *stats) {
  *gmax = *colmax = *stats = 0;
  for (int i = 0; i < m->nconv; i++) {
    const hp_resnet_conv *u = &m->convs[i];
    size_t o = unit_out(u);
    if (o > *gmax) *gmax = o;
    if (unit_in(u) > *gmax) *gmax = unit_in(u);
    size_t cf = hp_conv2d_col_floats(u->ih, u->iw, u->ic, u->k, u->k, u->stride, u->pad);
    if (cf > *colmax) *colmax = cf;
    *stats += 2 * R16((size_t)u->oc);
  }
}

/* free the previous activations; the arena of `total` floats; the statistics at its start;
 * then xbuf and pool. Returns the first free float of the arena in *q. */
static int arena_begin(hp_resnet *m, size_t Bs, size_t total, float **q) {
  free(m->arena);
  free(m->argmax);
  free(m->col);
  free(m->g[0]);
  free(m->bnscr);
  m->bnscr = NULL;
  m->arena = m->col = m->g[0] = m->g[1] = m->g[2] = NULL;
  m->argmax = NULL;
  size_t bytes;
  if (hp_mul_size(total, sizeof(float), &bytes)) HP_ERROR(HP_ERR_MEM, "resnet activations overflow");
  m->arena = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
  if (!m->arena)
    HP_ERROR(HP_ERR_MEM, "resnet: cannot allocate %.1f MiB of activations", (double)bytes / 1048576.0);
  float *p = m->arena;
  for (int i = 0; i < m->nconv; i++) {
    hp_resnet_conv *u = &m->convs[i];
    size_t oc16 = R16((size_t)u->oc);
    u->mean = p;
    u->rstd = p + oc16;
    p += 2 * oc16;
  }
  m->xbuf = p;
  p += R16(Bs * (size_t)m->cfg.image_size * m->cfg.image_size * 3);
  m->pool = p;
  p += R16(Bs * (size_t)m->pool_h * m->pool_w * m->cfg.width);
  *q = p;
  return 0;
}

/* the maxpool argmax, the im2col scratch, the batch-norm scratch and the three workspace
 * buffers g[] of Bs * gmax floats each (backward's P, Q, R; inference's rotating activations) */
static int alloc_work(hp_resnet *m, size_t Bs, size_t gmax, size_t colmax) {
  size_t pool = (size_t)m->pool_h * m->pool_w * m->cfg.width;
  HP_CALL(hp_calloc_((void **)&m->argmax, Bs * pool, sizeof(int32_t), "resnet maxpool argmax",
                     __FILE__, __LINE__, __func__));
  /* im2col scratch: whole batch if it fits under the cap, else chunks of images */
  size_t nimg = colmax ? HP_RESNET_COL_MAX_BYTES / (colmax * sizeof(float)) : 1;
  if (nimg < 1) nimg = 1;
  if (nimg > Bs) nimg = Bs;
  m->col_cap = colmax * nimg;
  if (m->col_cap) {
    m->col = aligned_alloc(64, R16(m->col_cap) * sizeof(float));
    if (!m->col) HP_ERROR(HP_ERR_MEM, "resnet: cannot allocate im2col scratch");
  }
  int cmax = 0;
  for (int i = 0; i < m->nconv; i++)
    if (m->convs[i].oc > cmax) cmax = m->convs[i].oc;
  m->bnscr = aligned_alloc(64, ((hp_bn_scratch_doubles(cmax) + 7) & ~(size_t)7) * sizeof(double));
  if (!m->bnscr) HP_ERROR(HP_ERR_MEM, "resnet: cannot allocate batch-norm scratch");
  m->g_floats = R16(Bs * gmax);
  m->g[0] = aligned_alloc(64, 3 * m->g_floats * sizeof(float));
  if (!m->g[0]) HP_ERROR(HP_ERR_MEM, "resnet: cannot allocate the workspace");
  m->g[1] = m->g[0] + m->g_floats;
  m->g[2] = m->g[1] + m->g_floats;
  m->scratch_bytes = m->col_cap * sizeof(float);
  return 0;
}

int hp_resnet_alloc_acts(hp_resnet *m, int B) {
  if (B < 1) HP_ERROR(HP_ERR_INTERNAL, "resnet: batch %d", B);
  size_t gmax, colmax, stats;
  unit_sizes(m, &gmax, &colmax, &stats);
  size_t pool = (size_t)m->pool_h * m->pool_w * m->cfg.width;
  size_t xin = (size_t)m->cfg.image_size * m->cfg.image_size * 3;
  /* arena layout (every tensor rounded to 16 floats): [stats][xbuf][pool][per unit c, a]
   * [per block out] */
  size_t Bs = (size_t)B;
  size_t total = stats + R16(Bs * xin) + R16(Bs * pool);
  for (int i = 0; i < m->nconv; i++) total += R16(Bs * unit_out(&m->convs[i])); /* c */
  total += R16(Bs * unit_out(&m->convs[0]));                                     /* stem a */
  for (int b = 0; b < m->nblock; b++) {
    const hp_resnet_block *blk = &m->blocks[b];
    total += R16(Bs * unit_out(&m->convs[blk->conv[0]]));                        /* a1 */
    total += R16(Bs * unit_out(&m->convs[blk->conv[1]]));                        /* a2 */
    total += R16(Bs * unit_out(&m->convs[blk->conv[2]]));                        /* out */
  }
  float *q;
  HP_CALL(arena_begin(m, Bs, total, &q));
  /* units whose BN output is fused into the block output get no 'a' tensor */
  for (int i = 0; i < m->nconv; i++) {
    hp_resnet_conv *u = &m->convs[i];
    u->c = q;
    q += R16(Bs * unit_out(u));
    u->a = NULL;
  }
  float *hp_in = m->pool;
  for (int b = 0; b < m->nblock; b++) {
    hp_resnet_block *blk = &m->blocks[b];
    for (int j = 0; j < 2; j++) {
      hp_resnet_conv *u = &m->convs[blk->conv[j]];
      u->a = q;
      q += R16(Bs * unit_out(u));
    }
    blk->in = hp_in;
    blk->out = q;
    q += R16(Bs * unit_out(&m->convs[blk->conv[2]]));
    hp_in = blk->out;
  }
  m->convs[0].a = q; /* stem ReLU output */
  q += R16(Bs * unit_out(&m->convs[0]));
  size_t used = (size_t)(q - m->arena);
  if (used != total) HP_ERROR(HP_ERR_INTERNAL, "resnet arena overrun %zu > %zu", used, total);
  HP_CALL(alloc_work(m, Bs, gmax, colmax));
  m->act_bytes_per_sample = (used - stats) * sizeof(float) / Bs + pool * sizeof(int32_t) + 3 * gmax * sizeof(float);
  m->Bcap = B;
  m->infer = 0;
  return 0;
}

/* Inference views: the three workspace buffers X, Y, Z hold every activation. Stem: c = a (BN +
 * ReLU in place) in g[0], maxpool into pool. Block with input X: conv1 -> Y (BN + ReLU in
 * place), conv2 -> Z (in place), conv3 -> Y (a1 is dead), downsample -> Z (a2 is dead),
 * out = BN3 + shortcut + ReLU in place over Y (elementwise), the next block's input. */
int hp_resnet_alloc_infer(hp_resnet *m, int B) {
  if (B < 1) HP_ERROR(HP_ERR_INTERNAL, "resnet: batch %d", B);
  size_t gmax, colmax, stats;
  unit_sizes(m, &gmax, &colmax, &stats);
  size_t Bs = (size_t)B, pool = (size_t)m->pool_h * m->pool_w * m->cfg.width;
  size_t xin = (size_t)m->cfg.image_size * m->cfg.image_size * 3;
  size_t total = stats + R16(Bs * xin) + R16(Bs * pool);
  float *q;
  HP_CALL(arena_begin(m, Bs, total, &q));
  HP_CALL(alloc_work(m, Bs, gmax, colmax));
  m->convs[0].c = m->convs[0].a = m->g[0];
  float *x = m->pool;
  for (int b = 0; b < m->nblock; b++) {
    hp_resnet_block *blk = &m->blocks[b];
    /* the two workspace buffers that are not the block input */
    float *yz[2] = {x == m->g[0] ? m->g[1] : m->g[0], x == m->g[2] ? m->g[1] : m->g[2]};
    hp_resnet_conv *u1 = &m->convs[blk->conv[0]], *u2 = &m->convs[blk->conv[1]], *u3 = &m->convs[blk->conv[2]];
    u1->c = u1->a = yz[0];
    u2->c = u2->a = yz[1];
    u3->c = yz[0];
    u3->a = NULL;
    if (blk->conv[3] >= 0) {
      m->convs[blk->conv[3]].c = yz[1];
      m->convs[blk->conv[3]].a = NULL;
    }
    blk->in = x;
    blk->out = yz[0];
    x = yz[0];
  }
  m->act_bytes_per_sample = (R16(Bs * xin) + R16(Bs * pool)) * sizeof(float) / Bs + pool * sizeof(int32_t) +
                            3 * gmax * sizeof(float);
  m->Bcap = B;
  m->infer = 1;
  return 0;
}
#undef R16

/* ---- convolution wrappers ------------------------------------------------------------------ */

/* inp [B,ih,iw,ic] -> u->c [B,oh,ow,oc] */
static void conv_fwd(hp_resnet *m, const hp_resnet_conv *u, const float *w, const float *inp,
                     int B) {
  if (is_pointwise(u)) {
    int M = B * u->oh * u->ow;
    /* c[M,OC] = x[M,IC] . W[OC,IC]^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, u->oc, u->ic, 1.0f, inp, u->ic, w,
                u->ic, 0.0f, u->c, u->oc);
  } else {
    hp_conv2d_forward(u->c, inp, w, NULL, m->col, m->col_cap, B, u->ih, u->iw, u->ic, u->oc,
                      u->k, u->k, u->stride, u->pad);
  }
}

/* dc [B,oh,ow,oc] -> dw +=, dinp (accumulate != 0: +=, else overwritten; NULL: skipped) */
static void conv_bwd(hp_resnet *m, const hp_resnet_conv *u, const float *w, float *dw,
                     const float *inp, const float *dc, float *dinp, int accumulate, int B) {
  if (is_pointwise(u)) {
    int M = B * u->oh * u->ow;
    /* dW[OC,IC] += dc[M,OC]^T . x[M,IC];  dx[M,IC] (+)= dc[M,OC] . W[OC,IC] */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, u->oc, u->ic, M, 1.0f, dc, u->oc, inp,
                u->ic, 1.0f, dw, u->ic);
    if (dinp)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, u->ic, u->oc, 1.0f, dc, u->oc, w,
                  u->ic, accumulate ? 1.0f : 0.0f, dinp, u->ic);
  } else {
    if (dinp && !accumulate) memset(dinp, 0, (size_t)B * unit_in(u) * sizeof(float));
    hp_conv2d_backward(dinp, dw, NULL, dc, inp, w, m->col, m->col_cap, B, u->ih, u->iw, u->ic,
                       u->oc, u->k, u->k, u->stride, u->pad);
  }
}

/* ---- forward ------------------------------------------------------------------------------- */

/* u->c [M,oc] -> u->mean, u->rstd (and the running statistics when training) */
static int unit_stats(hp_resnet *m, hp_resnet_conv *u, float *d, int M, int training) {
  HP_CALL(hp_bn_stats(u->mean, u->rstd, d + u->bn_rm, d + u->bn_rv, u->c, M, u->oc, m->cfg.bn_eps,
                      m->cfg.bn_momentum, training, m->bnscr, m->bn_reduce.fn ? &m->bn_reduce : NULL));
  return 0;
}

int hp_resnet_forward(hp_resnet *m, hp_params *p, const float *images, int B, int training,
                      float *feat) {
  if (!m->arena) HP_ERROR(HP_ERR_INTERNAL, "resnet: hp_resnet_alloc_acts not called");
  if (B < 1 || B > m->Bcap) HP_ERROR(HP_ERR_INTERNAL, "resnet: batch %d outside 1..%d", B, m->Bcap);
  if (training && m->infer) HP_ERROR(HP_ERR_INTERNAL, "resnet: training forward on inference activations");
  if (training && !m->bn_reduce.fn && B * m->final_h * m->final_w < 2)
    HP_ERROR(HP_ERR_CONFIG, "resnet: batch-norm training needs more than one value per channel "
             "(batch %d, final map %dx%d)", B, m->final_h, m->final_w);
  float *d = p->data;
  m->x = images;
  m->B = B;
  m->training = training;
  /* stem */
  hp_resnet_conv *u = &m->convs[0];
  int M = B * u->oh * u->ow;
  conv_fwd(m, u, d + u->w, images, B);
  HP_CALL(unit_stats(m, u, d, M, training));
  hp_bn_apply(u->a, u->c, u->mean, u->rstd, d + u->bn_w, d + u->bn_b, M, u->oc, 1);
  hp_maxpool2d_forward(m->pool, m->argmax, u->a, B, u->oh, u->ow, u->oc, 3, 3, 2, 1);
  /* blocks */
  for (int b = 0; b < m->nblock; b++) {
    hp_resnet_block *blk = &m->blocks[b];
    const float *x = blk->in;
    for (int j = 0; j < 2; j++) {
      u = &m->convs[blk->conv[j]];
      M = B * u->oh * u->ow;
      conv_fwd(m, u, d + u->w, x, B);
      HP_CALL(unit_stats(m, u, d, M, training));
      hp_bn_apply(u->a, u->c, u->mean, u->rstd, d + u->bn_w, d + u->bn_b, M, u->oc, 1);
      x = u->a;
    }
    hp_resnet_conv *u3 = &m->convs[blk->conv[2]];
    M = B * u3->oh * u3->ow;
    conv_fwd(m, u3, d + u3->w, x, B);
    HP_CALL(unit_stats(m, u3, d, M, training));
    if (blk->conv[3] >= 0) {
      hp_resnet_conv *ud = &m->convs[blk->conv[3]];
      conv_fwd(m, ud, d + ud->w, blk->in, B);
      HP_CALL(unit_stats(m, ud, d, M, training));
      hp_bn_add_relu(blk->out, u3->c, u3->mean, u3->rstd, d + u3->bn_w, d + u3->bn_b, ud->c,
                     ud->mean, ud->rstd, d + ud->bn_w, d + ud->bn_b, NULL, M, u3->oc);
    } else {
      hp_bn_add_relu(blk->out, u3->c, u3->mean, u3->rstd, d + u3->bn_w, d + u3->bn_b, NULL, NULL,
                     NULL, NULL, NULL, blk->in, M, u3->oc);
    }
  }
  hp_global_avgpool_forward(feat, m->blocks[m->nblock - 1].out, B, m->final_h, m->final_w,
                            m->feat_dim);
  return 0;
}

int hp_resnet_forward_u8(hp_resnet *m, hp_params *p, const uint8_t *images, int B,
                         int training, float *feat) {
  if (!m->arena) HP_ERROR(HP_ERR_INTERNAL, "resnet: hp_resnet_alloc_acts not called");
  if (B < 1 || B > m->Bcap) HP_ERROR(HP_ERR_INTERNAL, "resnet: batch %d outside 1..%d", B, m->Bcap);
  size_t npix = (size_t)B * m->cfg.image_size * m->cfg.image_size;
  float sc[3], sh[3];
  for (int c = 0; c < 3; c++) {
    sc[c] = 1.0f / (255.0f * m->cfg.std[c]);
    sh[c] = -m->cfg.mean[c] / m->cfg.std[c];
  }
  float *x = m->xbuf;
  HP_OMP("omp parallel for schedule(static) if(3 * npix > HP_OMP_MIN_ELEMS)")
  for (size_t i = 0; i < npix; i++)
    for (int c = 0; c < 3; c++) x[3 * i + c] = (float)images[3 * i + c] * sc[c] + sh[c];
  HP_CALL(hp_resnet_forward(m, p, x, B, training, feat));
  return 0;
}

/* ---- backward ------------------------------------------------------------------------------ */

int hp_resnet_backward(hp_resnet *m, const hp_params *p, float *grad, const float *dfeat) {
  if (!m->x) HP_ERROR(HP_ERR_INTERNAL, "resnet: backward without a forward");
  if (m->infer) HP_ERROR(HP_ERR_INTERNAL, "resnet: backward on inference activations");
  const float *d = p->data;
  const int B = m->B, tr = m->training;
  const hp_bn_reducer *red = m->bn_reduce.fn ? &m->bn_reduce : NULL;
  float *P = m->g[0], *Q = m->g[1], *R = m->g[2];
  /* global average pool: P[b,h,w,c] = dfeat[b,c] / (H W) (overwrite) */
  {
    size_t HW = (size_t)m->final_h * m->final_w;
    int C = m->feat_dim;
    float inv = 1.0f / (float)HW;
    HP_OMP("omp parallel for schedule(static) if((size_t)B * HW * C > HP_OMP_MIN_ELEMS)")
    for (int b = 0; b < B; b++)
      for (size_t q = 0; q < HW; q++) {
        float *dst = P + ((size_t)b * HW + q) * C;
        const float *src = dfeat + (size_t)b * C;
        for (int c = 0; c < C; c++) dst[c] = src[c] * inv;
      }
  }
  for (int b = m->nblock - 1; b >= 0; b--) {
    hp_resnet_block *blk = &m->blocks[b];
    hp_resnet_conv *u1 = &m->convs[blk->conv[0]], *u2 = &m->convs[blk->conv[1]],
                   *u3 = &m->convs[blk->conv[2]];
    int M3 = B * u3->oh * u3->ow, M2 = B * u2->oh * u2->ow, M1 = B * u1->oh * u1->ow;
    /* the output ReLU's mask: applied to P in place when P itself is needed (identity
     * shortcut), else folded into the two BN backwards that read P */
    const int ident = blk->conv[3] < 0;
    if (ident) hp_relu_mask_inplace(P, blk->out, (size_t)M3 * u3->oc);
    const float *omask = ident ? NULL : blk->out;
    /* bn3: P -> Q;  conv3: Q -> R (overwrite) */
    HP_CALL(hp_bn_backward(Q, grad + u3->bn_w, grad + u3->bn_b, P, omask, u3->c, d + u3->bn_w, u3->mean,
                   u3->rstd, M3, u3->oc, tr, m->bnscr, red));
    conv_bwd(m, u3, d + u3->w, grad + u3->w, u2->a, Q, R, 0, B);
    /* bn2 + ReLU in place in R;  conv2: R -> Q (overwrite) */
    HP_CALL(hp_bn_backward(R, grad + u2->bn_w, grad + u2->bn_b, R, u2->a, u2->c, d + u2->bn_w, u2->mean,
                   u2->rstd, M2, u2->oc, tr, m->bnscr, red));
    conv_bwd(m, u2, d + u2->w, grad + u2->w, u1->a, R, Q, 0, B);
    /* bn1 + ReLU in place in Q */
    HP_CALL(hp_bn_backward(Q, grad + u1->bn_w, grad + u1->bn_b, Q, u1->a, u1->c, d + u1->bn_w, u1->mean,
                   u1->rstd, M1, u1->oc, tr, m->bnscr, red));
    if (ident) {
      /* identity: P already holds the shortcut's share; conv1 adds its own */
      conv_bwd(m, u1, d + u1->w, grad + u1->w, blk->in, Q, P, 1, B);
    } else {
      hp_resnet_conv *ud = &m->convs[blk->conv[3]];
      HP_CALL(hp_bn_backward(P, grad + ud->bn_w, grad + ud->bn_b, P, omask, ud->c, d + ud->bn_w, ud->mean,
                     ud->rstd, M3, ud->oc, tr, m->bnscr, red));
      conv_bwd(m, ud, d + ud->w, grad + ud->w, blk->in, P, R, 0, B);
      conv_bwd(m, u1, d + u1->w, grad + u1->w, blk->in, Q, R, 1, B);
      float *t = P;
      P = R;
      R = t;
    }
    /* the block's parameters (and everything after them) are final */
    size_t lo = SIZE_MAX;
    for (int k = 0; k < 4; k++) {
      if (blk->conv[k] < 0) continue;
      const hp_resnet_conv *u = &m->convs[blk->conv[k]];
      const size_t v[3] = {u->w, u->bn_w, u->bn_b};
      for (int j = 0; j < 3; j++) lo = v[j] < lo ? v[j] : lo;
    }
    hp_grad_hook_call(&m->hook, lo);
  }
  /* stem: maxpool backward P -> Q (zeroed), bn1 + ReLU in place, conv1 weight gradient only */
  hp_resnet_conv *u = &m->convs[0];
  int M = B * u->oh * u->ow;
  memset(Q, 0, (size_t)M * u->oc * sizeof(float));
  hp_maxpool2d_backward(Q, P, m->argmax, B, u->oh, u->ow, u->oc, m->pool_h, m->pool_w);
  HP_CALL(hp_bn_backward(Q, grad + u->bn_w, grad + u->bn_b, Q, u->a, u->c, d + u->bn_w, u->mean, u->rstd,
                 M, u->oc, tr, m->bnscr, red));
  conv_bwd(m, u, d + u->w, grad + u->w, m->x, Q, NULL, 0, B);
  return 0;
}
