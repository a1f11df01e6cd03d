/* transformer_block.h — one transformer encoder block, shared by the BERT text tower
 * (post-LN, Hugging Face BertLayer), the ViT image tower (pre-LN, timm Block) and OpenAI CLIP's
 * towers (pre-LN ResidualAttentionBlock: the same maths, QuickGELU or GELU, causal in the text).
 *
 *   pre-LN  (ViT):  n1 = LN1(x); a = MHSA(n1); r1 = x + drop(proj(a));
 *                   n2 = LN2(r1); u = fc1(n2); r2 = r1 + drop(fc2(gelu(u)));      out = r2
 *   post-LN (BERT): a = MHSA(x); r1 = x + drop(proj(a)); n1 = LN1(r1);
 *                   u = fc1(n1); r2 = n1 + drop(fc2(gelu(u))); n2 = LN2(r2);      out = n2
 * MHSA = fused qkv linear [3D,D] (rows [q|k|v], heads split inside each) + hp_attention with
 * the key_valid padding mask. Every GEMM runs over all N = B*T rows at once.
 *
 * Dropout ("hidden dropout", HF hidden_dropout_prob / timm proj_drop) is applied to the
 * output of the attention projection and of fc2, before each residual add. Attention-
 * probability dropout is NOT applied (the attention kernel has none; HF would apply
 * attention_probs_dropout_prob there). Masks are keyed by the global element index
 * (see nn/dropout.h): site = tower site base + 2*layer + {0,1}, index0 = site_base +
 * sample0 * T * D, so a sample's masks do not depend on the rank holding it.
 *
 * Memory: the block keeps what its backward needs (acts below, ~ N*(8D+F+4) +
 * B*H*T*T floats); gelu(u) is NOT stored — forward writes it to a shared scratch and
 * backward recomputes it (saves N*F floats per layer for one cheap element-wise pass).
 */
#ifndef HP_MODELS_TRANSFORMER_BLOCK_H
#define HP_MODELS_TRANSFORMER_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "nn/params.h"

/* Dropout settings of one forward/backward pass. p = 0 (eval) disables every site. */
typedef struct {
  float p;
  uint64_t seed, step;
  uint64_t sample0; /* global index of the batch's first sample */
} hp_drop;

/* Parameter offsets (floats into the params/grad buffers) of one block. */
typedef struct {
  size_t qkv_w, qkv_b;   /* [3D,D], [3D] (may be three packed named tensors) */
  size_t proj_w, proj_b; /* [D,D], [D] */
  size_t ln1_w, ln1_b;   /* [D] */
  size_t fc1_w, fc1_b;   /* [F,D], [F] */
  size_t fc2_w, fc2_b;   /* [D,F], [D] */
  size_t ln2_w, ln2_b;   /* [D] */
} hp_tblock_params;

typedef struct {
  int D, H, F;  /* width, heads (D % H == 0), MLP width */
  int pre_ln;   /* 1 = ViT, 0 = BERT */
  float ln_eps; /* BERT 1e-12, timm ViT 1e-6 */
  int quick_gelu; /* MLP activation: 1 = QuickGELU x*sigmoid(1.702x) (OpenAI CLIP), 0 = GELU (erf) */
  int causal;   /* 1 = causal self-attention (key j > query i masked; the caption decoder),
                   0 = bidirectional (BERT, ViT) */
} hp_tblock_cfg;

/* Saved activations of one block for batch capacity Bmax, sequence capacity Tmax. Rows are
 * N = B*T of the current call (a prefix of each buffer). */
typedef struct {
  float *n1, *n1_mean, *n1_rstd; /* [N,D], [N], [N] */
  float *qkv;                    /* [N,3D] */
  float *att;                    /* [B,H,T,T] */
  float *a;                      /* [N,D] attention output (heads concatenated) */
  float *r1;                     /* [N,D] first residual sum */
  float *n2, *n2_mean, *n2_rstd; /* [N,D], [N], [N] */
  float *u;                      /* [N,F] fc1 output (pre-GELU) */
  float *r2;                     /* [N,D] second residual sum */
} hp_tblock_acts;

/* Scratch shared by all blocks of a tower (forward uses g only). */
typedef struct {
  float *g;        /* [N,F] gelu(u) (forward); recomputed in backward */
  float *dF;       /* [N,F] */
  float *t1, *t2;  /* [N,D] */
  float *dqkv;     /* [N,3D] */
  float *datt;     /* [B,H,T,T] */
} hp_tblock_scratch;

/* floats of saved activations / shared scratch for B rows of length T */
size_t hp_tblock_acts_floats(const hp_tblock_cfg *c, int B, int T);
size_t hp_tblock_scratch_floats(const hp_tblock_cfg *c, int B, int T);
/* carve acts / scratch out of buf (sizes above) */
void hp_tblock_acts_carve(hp_tblock_acts *a, float *buf, const hp_tblock_cfg *c, int B, int T);
void hp_tblock_scratch_carve(hp_tblock_scratch *s, float *buf, const hp_tblock_cfg *c, int B, int T);

/* Inference (forward only, never backward): ONE set of views serves every block of a tower,
 * and each block writes its output over its input x (hp_tblock_out(a) == x), so a tower keeps
 * one block's temporaries instead of L blocks' saved activations. Buffers that are dead by the
 * time a later one is written share memory: n1, the attention output a and n2 (pre-LN) share
 * one [N,D] slot, r1 (and post-LN r2) reuse the qkv slot once attention has read it, gelu(u)
 * is computed in place in u. The same hp_tblock_forward runs on these views, so the output is
 * bitwise that of the training layout. Scratch: s->g = a->u; s->t1 = the shared [N,D] slot
 * (free between blocks: ViT's patch embedding uses it); the backward buffers are NULL.
 * N*(4D+F+2) + B*H*T*T floats. */
size_t hp_tblock_infer_floats(const hp_tblock_cfg *c, int B, int T);
void hp_tblock_infer_carve(hp_tblock_acts *a, hp_tblock_scratch *s, float *buf, float *x,
                           const hp_tblock_cfg *c, int B, int T);

/* The block's output: pre-LN r2, post-LN n2. [N,D] */
static inline const float *hp_tblock_out(const hp_tblock_cfg *c, const hp_tblock_acts *a) {
  return c->pre_ln ? a->r2 : a->n2;
}

/* The lowest parameter offset of a block: after its backward, [lo, total) is final. */
size_t hp_tblock_params_lo(const hp_tblock_params *o);

/* x [B,T,D], key_valid [B,T] or NULL -> acts (output hp_tblock_out). w = params->data.
 * x must stay unchanged until backward (it is the previous block's output); with the
 * inference views the output overwrites x. */
void hp_tblock_forward(const hp_tblock_cfg *c, const hp_tblock_params *o, const float *w,
                       hp_tblock_acts *a, hp_tblock_scratch *s, const float *x,
                       const uint8_t *key_valid, int B, int T, const hp_drop *drop,
                       uint64_t site);

/* dx [B,T,D]: in = d(block output), out = d(block input x), in place. Parameter gradients
 * are accumulated into grad (same offsets as w). */
void hp_tblock_backward(const hp_tblock_cfg *c, const hp_tblock_params *o, const float *w,
                        float *grad, const hp_tblock_acts *a, hp_tblock_scratch *s,
                        const float *x, float *dx, int B, int T, const hp_drop *drop,
                        uint64_t site);

/* Helpers for towers. */
/* element offset of a dropout site for rows of T*D elements per sample */
static inline uint64_t hp_drop_index0(const hp_drop *d, uint64_t site, int T, int D) {
  return (site << 44) + d->sample0 * (uint64_t)T * (uint64_t)D;
}
/* Seeded init of table entries [first,last) by name: "*bias" -> 0; "*LayerNorm.weight",
 * "*norm*.weight", "*.ln_*.weight" -> 1; everything else normal(0, std) keyed by the table index. */
void hp_tb_init_by_name(hp_params *p, int first, int last, float std, uint64_t seed);
/* fill a [n] slice with zeros, OpenMP for large n */
void hp_tb_zero(float *x, size_t n);

#endif
