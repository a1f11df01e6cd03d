/* caption_decoder.h — the study's text decoder for captioning from CLIP embeddings (section 3.4):
 * a transformer decoder conditioned on one CLIP embedding given as a PREFIX token.
 *
 * Sequence of S <= T positions (T = max_len, 20 in the study), for a caption c[0..T):
 *   position 0:      x[b,0,:] = prefix(e_b) + pos[0]           prefix = Linear(E -> D) of the
 *                                                               CLIP embedding e_b [E]
 *   position t >= 1: x[b,t,:] = tok[c[b,t-1]] + pos[t]          learned token + position tables
 *   h  = L post-LN transformer blocks (models/transformer_block.h) with CAUSAL self-attention
 *        (position t sees positions 0..t only), GELU MLP of width F
 *   logits[b,t,:] = out(dropout(h[b,t,:]))                     [V], dropout p (0.5 in the
 *                                                               study) before the vocabulary
 *                                                               projection
 * Position t predicts caption word c[t]: teacher forcing feeds the caption shifted right by
 * the prefix. The end of a caption is the first padding id (0): the loss counts targets up to
 * and including the first padding position (so the model learns to stop: padding acts as the
 * end-of-sequence token) and ignores every later one (hp_capdec_targets).
 * No cross-attention: with one conditioning vector a prefix token is equivalent and reuses the
 * encoder block unchanged (docs/captioning.md).
 *
 * Parameters (one contiguous buffer, names under "capdec."; torch layouts [out,in]):
 *   capdec.prefix.{weight [D,E], bias [D]}
 *   capdec.tok_embed.weight [V,D], capdec.pos_embed.weight [T,D]
 *   capdec.blocks.<l>.attn.qkv.{weight [3D,D], bias [3D]}  (rows [q|k|v], torch MHA in_proj)
 *   capdec.blocks.<l>.attn.proj.{weight [D,D], bias [D]}
 *   capdec.blocks.<l>.norm1.{weight,bias} [D]
 *   capdec.blocks.<l>.mlp.fc1.{weight [F,D], bias [F]}, ...mlp.fc2.{weight [D,F], bias [D]}
 *   capdec.blocks.<l>.norm2.{weight,bias} [D]
 *   capdec.out.{weight [V,D], bias [V]}
 * Flags: DECAY on the matrices (prefix, qkv, proj, fc1, fc2, out), none on the rest.
 *
 * Dropout sites (nn/dropout.h, keyed by the GLOBAL sample index hp_drop.sample0 so a sample's
 * mask does not depend on the rank holding it): 0x300 before the output projection (p =
 * cfg.dropout), 0x301 + 2l, 0x302 + 2l inside block l (p = cfg.block_dropout, 0 by default).
 */
#ifndef HP_MODELS_CAPTION_DECODER_H
#define HP_MODELS_CAPTION_DECODER_H

#include <stddef.h>
#include <stdint.h>

#include "nn/params.h"
#include "models/transformer_block.h"

typedef struct {
  int vocab;           /* V, the dataset's text vocabulary (15000 in the study) */
  int max_len;         /* T, positions (20) */
  int embed_dim;       /* E, CLIP embedding width of the conditioning vector */
  int width;           /* D (768) */
  int ffn;             /* F (2048) */
  int heads;           /* H (8), width % heads == 0 */
  int layers;          /* L (1) */
  float dropout;       /* before the vocabulary projection (0.5) */
  float block_dropout; /* inside the blocks (0) */
  float ln_eps;        /* 1e-5 (torch LayerNorm) */
} hp_capdec_config;

/* V=15000, T=20, E=768, D=768, F=2048, H=8, L=1, dropout .5, block_dropout 0, eps 1e-5 */
void hp_capdec_config_default(hp_capdec_config *c);
/* "capdec(V=..,T=..,E=..,D=..,F=..,H=..,L=..)" into buf */
void hp_capdec_describe(const hp_capdec_config *c, char *buf, size_t n);

typedef struct {
  hp_capdec_config cfg;
  hp_tblock_cfg blk;
  size_t pre_w, pre_b, tok, pos, out_w, out_b;
  int first_tensor, last_tensor;
  hp_tblock_params *layer; /* [L] */
  /* activations for up to Bmax sequences of T positions (hp_capdec_alloc_acts) */
  int Bmax, decode_only;
  float *act;
  size_t act_floats;
  float *x0;           /* [N,D] block input */
  hp_tblock_acts *la;  /* [L] */
  hp_tblock_scratch scr;
  float *hd;           /* [N,D] dropout(h) (input of the output projection) */
  float *logits;       /* [N,V] (the loss overwrites it with probabilities) */
  float *dx;           /* [N,D] backward stream */
  /* the last forward's call state, for backward */
  int B, S, ld, last_only;
  const float *cond;
  const int32_t *tokens;
  hp_drop drop, bdrop; /* output dropout; block dropout (p = block_dropout when drop.p > 0) */
  hp_grad_hook hook;
} hp_capdec;

/* Register every tensor in p. Config errors are HP_ERR_CONFIG naming the bad size. */
int hp_capdec_build(hp_capdec *m, const hp_capdec_config *cfg, hp_params *p);
/* Seeded init after hp_params_alloc: normal(0, 0.02) for matrices and tables, biases 0,
 * LayerNorm weight 1. */
void hp_capdec_init(const hp_capdec *m, hp_params *p, uint64_t seed);
/* Activations for up to B sequences; *bytes (may be NULL) = size. */
int hp_capdec_alloc_acts(hp_capdec *m, int B, size_t *bytes);
/* Activations for decoding only (forward with last_only = 1, no backward): the logits buffer
 * holds one row per sequence instead of T (B*V floats instead of B*T*V). */
int hp_capdec_alloc_decode(hp_capdec *m, int B, size_t *bytes);
size_t hp_capdec_acts_bytes(const hp_capdec_config *cfg, int B);
void hp_capdec_free(hp_capdec *m);

/* cond [B,E]; tokens: row b at tokens + b*ld, entries [0, S-1) are read (the words at
 * positions 1..S-1), checked in [0,V); 1 <= S <= T, B <= allocated.
 * Training = drop->p > 0: then the blocks use p = cfg.block_dropout with the same key.
 * last_only = 0: *logits [B*S, V] for every position; last_only = 1: *logits [B, V] for
 * position S-1 only (decoding; no backward after it). drop NULL or p = 0: eval.
 * cond and tokens must stay alive until backward. */
int hp_capdec_forward(hp_capdec *m, const hp_params *p, const float *cond, const int32_t *tokens, int ld,
                      int B, int S, int last_only, const hp_drop *drop, const float **logits);

/* targets [B,T] from captions [B,T]: caption[t] up to and including the first padding id
 * (the end token), -1 (ignored) after it. Returns the number of counted targets. */
int64_t hp_capdec_targets(const int32_t *captions, int B, int T, int32_t *targets);

/* Token cross-entropy of the last full forward (last_only = 0, S = T) against targets [B,S]
 * (-1 = ignored); turns m->logits into probabilities. *count = counted targets, *correct =
 * argmax hits among them (ties: lowest id), both may be NULL. Returns the SUM of the per-
 * token losses (double) so callers can average over a global count. */
double hp_capdec_loss(hp_capdec *m, const int32_t *targets, int64_t *count, int64_t *correct);

/* After hp_capdec_loss: gradient of (sum of token losses) * scale (scale = 1/global count for
 * the mean) accumulated into grad (layout of p). Calls m->hook with lo = 0 at the end. */
void hp_capdec_backward(hp_capdec *m, const hp_params *p, float *grad, const int32_t *targets, float scale);

#endif
