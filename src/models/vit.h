/* vit.h — Vision Transformer image encoder (timm VisionTransformer structure, class-token
 * pooling, no classifier head), NHWC images [B,S,S,3] -> pooled [B,D].
 *
 *   patches = the (S/P)^2 non-overlapping PxP patches of each image, each flattened in
 *             (row, column, channel) order -> [B*Np, P*P*3]
 *   x0 = [cls_token ; patches . Wpe^T + bpe] + pos_embed, dropout     [B,T,D], T = Np + 1
 *   xL = L pre-LN blocks (transformer_block.h): LN, MHSA (fused qkv), proj, residual;
 *        LN, fc1 (F = 4D), GELU (erf), fc2, residual
 *   pooled = norm(xL[:,0,:])  (final LayerNorm; computed on the class tokens only, since
 *            the pooled output reads nothing else)
 * The patch embedding (timm: Conv2d(3, D, P, stride P)) is one GEMM over all B*Np patches.
 *
 * Input normalisation: float images are used as given (already normalised); uint8 images
 * are mapped per channel to (x/255 - mean[c]) / std[c], default mean = std = 0.5 (i.e. to
 * [-1,1]); set cfg.mean/std to CLIP's (0.4815,0.4578,0.4082)/(0.2686,0.2613,0.2758) or
 * ImageNet's if wanted.
 *
 * Dropout p (default 0, as timm's drop_rate) applies in training to x0 (timm pos_drop) and
 * to attn.proj / mlp.fc2 outputs (timm proj_drop); no drop-path. Sites 0x200, 0x201 + 2l,
 * 0x202 + 2l.
 *
 * Parameters (timm names under "visual."; DECAY on patch/qkv/proj/fc weights):
 *   visual.cls_token [1,1,D], visual.pos_embed [1,T,D],
 *   visual.patch_embed.proj.weight [D,P,P,3]  (NOTE: timm's [D,3,P,P] permuted (0,2,3,1),
 *     the conv.h layout used for every conv in hpclip), visual.patch_embed.proj.bias [D],
 *   visual.blocks.<l>.norm1.{weight,bias}, .attn.qkv.{weight [3D,D],bias [3D]},
 *   .attn.proj.{weight,bias}, .norm2.{weight,bias}, .mlp.fc1.{weight [F,D],bias},
 *   .mlp.fc2.{weight [D,F],bias}, visual.norm.{weight,bias}   (LN eps 1e-6)
 */
#ifndef HP_MODELS_VIT_H
#define HP_MODELS_VIT_H

#include <stddef.h>
#include <stdint.h>

#include "nn/params.h"
#include "models/transformer_block.h"

typedef struct {
  int image;      /* S (square images) */
  int patch;      /* P, S % P == 0 */
  int layers;     /* L */
  int heads;      /* H */
  int width;      /* D */
  int mlp;        /* F; 0 -> 4D */
  float dropout;  /* p, training only */
  float ln_eps;   /* 1e-6 (timm), 1e-5 (OpenAI) */
  int openai;     /* OpenAI CLIP's VisionTransformer (ln_pre, no patch bias, OpenAI names) */
  int quick_gelu; /* MLP activation QuickGELU instead of GELU (erf) */
  float mean[3], std[3]; /* uint8 input normalisation */
} hp_vit_config;

/* ViT-B/16 at 128x128: S=128, P=16, L=12, H=12, D=768, F=3072, p=0, eps 1e-6, mean=std=0.5 */
void hp_vit_config_default(hp_vit_config *c);
/* The same sizes in OpenAI CLIP's convention: openai, LN eps 1e-5, QuickGELU (the mean/std stay
 * as they are: OpenAI's are given with model.image_mean/std or by the converter). */
void hp_vit_config_openai(hp_vit_config *c);

typedef struct {
  hp_vit_config cfg;
  hp_tblock_cfg blk;
  int Np, T, K;                /* patches per image, tokens, P*P*3 */
  size_t cls, pos, pe_w, pe_b, norm_w, norm_b; /* pe_b: timm only */
  size_t pre_w, pre_b;         /* OpenAI's ln_pre */
  int first_tensor, last_tensor;
  hp_tblock_params *layer;     /* [L] */
  int Bmax, infer;             /* infer: hp_vit_alloc_infer's views (forward only) */
  float *act;
  size_t act_floats;
  float *patches;              /* [B*Np, K] */
  float *x0;                   /* [B,T,D] */
  float *xin, *pre_mean, *pre_rstd; /* [B,T,D] block-0 input (OpenAI: ln_pre(x0); x0 itself when
                                       infer or timm), [B*T], [B*T] */
  hp_tblock_acts *la;          /* [L] ([1] shared by every block when infer) */
  hp_tblock_scratch scr;
  float *clsin, *cls_mean, *cls_rstd; /* [B,D], [B], [B] final-LN input rows */
  float *pooled;               /* [B,D] */
  float *dx;                   /* [B,T,D] (NULL when infer) */
  int B;
  hp_drop drop;
  hp_grad_hook hook;           /* optional per-block gradient hand-off in backward */
} hp_vit;

int hp_vit_build(hp_vit *m, const hp_vit_config *cfg, hp_params *p);
/* timm-like init: Linear weights normal(0,0.02) (timm: truncated normal), biases 0, LN 1/0,
 * pos_embed normal(0,0.02), cls_token normal(0,1e-6), patch_embed uniform(+-1/sqrt(P*P*3))
 * (torch's Conv2d default). */
void hp_vit_init(const hp_vit *m, hp_params *p, uint64_t seed);
int hp_vit_alloc_acts(hp_vit *m, int B, size_t *bytes);
size_t hp_vit_acts_bytes(const hp_vit_config *cfg, int B);
/* Activations for inference only (the evaluation stages): the blocks run in place on x0 with
 * one block's temporaries (transformer_block.h, hp_tblock_infer_carve), no backward buffers;
 * the forward's output is bitwise the same. hp_vit_backward must not follow. */
int hp_vit_alloc_infer(hp_vit *m, int B, size_t *bytes);
size_t hp_vit_infer_bytes(const hp_vit_config *cfg, int B);
void hp_vit_free(hp_vit *m);

/* images: exactly one of img_f32 [B,S,S,3] (normalised) or img_u8 [B,S,S,3] (normalised
 * here) -> *pooled [B,D]. drop NULL or p == 0 for eval. */
int hp_vit_forward(hp_vit *m, const hp_params *p, const float *img_f32, const uint8_t *img_u8,
                   int B, const hp_drop *drop, const float **pooled);
/* dpooled [B,D] -> parameter gradients accumulated into grad (no image gradient). */
void hp_vit_backward(hp_vit *m, const hp_params *p, float *grad, const float *dpooled);

#endif
