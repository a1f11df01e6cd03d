/* attention.h — multi-head scaled dot-product self-attention (no projections: the fused
 * qkv projection before and the output projection after are hp_linear calls).
 *
 * Layout: qkv [B,T,3C] is the output of ONE linear with OC = 3C, each row laid out
 * [q(C) | k(C) | v(C)], and within each of q/k/v head h owns channels [h*hs, (h+1)*hs),
 * hs = C/NH — the same split as torch.nn.MultiheadAttention's in_proj. The per-(b,h)
 * matrices are read in place through sgemm's leading dimension (lda = 3C), so nothing is
 * gathered or transposed. Output out [B,T,C] has heads concatenated in the same order.
 *
 * Masks: key_valid [B,T] (nonzero = key may be attended to, 0 = padding) or NULL for none;
 * causal != 0 additionally forbids key j > query i (CLIP's text tower). Masked keys get
 * probability exactly 0 (as with -inf before softmax). A row whose keys are ALL masked
 * (e.g. an all-padding sequence) produces probability 0 everywhere, output 0 and gradient
 * 0 — never NaN (PyTorch would give NaN there).
 *
 * Work: per (b,h) three sgemms forward ([T,hs]x[hs,T], [T,T]x[T,hs]) and four backward;
 * the (b,h) loop is OpenMP-parallel (each iteration touches disjoint memory) when BLAS can
 * be nested (hp_nn_blas_nestable: OpenMP OpenBLAS, or OPENBLAS_NUM_THREADS=1), otherwise
 * serial with BLAS threading each sgemm. Results are identical either way. */
#ifndef HP_NN_ATTENTION_H
#define HP_NN_ATTENTION_H

#include <stdint.h>

#include "nn/nn_common.h"

/* qkv [B,T,3C], key_valid [B,T] or NULL -> out [B,T,C]; saves att [B,NH,T,T] (the
 * post-softmax probabilities) for backward. C % NH == 0. Scale 1/sqrt(hs). */
void hp_attention_forward(float *out, float *att, const float *qkv, const uint8_t *key_valid,
                          int causal, int B, int T, int C, int NH);

/* dout [B,T,C] -> dqkv [B,T,3C] +=. Needs the forward's qkv and att.
 * scratch: B*NH*T*T floats (dP / dS per (b,h); contents on return unspecified). */
void hp_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
                           const float *att, int B, int T, int C, int NH);

#endif
