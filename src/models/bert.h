/* bert.h — the text tower, pooled to [B,D], in one of two conventions (cfg.arch):
 *   HP_TEXT_BERT: a BERT encoder (Hugging Face BertModel structure), below;
 *   HP_TEXT_CLIP: OpenAI CLIP's text transformer (see the end of this comment).
 *
 * HP_TEXT_BERT:
 *
 *   e  = word[ids] + pos[0..T) + type[0]          embeddings            [B,T,D]
 *   x0 = dropout(LN(e))                           embeddings.LayerNorm  (eps 1e-12)
 *   xL = L post-LN blocks (transformer_block.h): self-attention with the padding mask,
 *        dense, dropout, residual, LN; intermediate dense F (default 4D), GELU (erf),
 *        output dense, dropout, residual, LN
 *   pooled = xL[:,0,:] (HP_BERT_POOL_CLS) or the mean of xL over valid tokens (MEAN)
 * HF's pooler (dense + tanh over [CLS]) is NOT part of the model: the projection head
 * follows directly; a HF state dict's text.pooler.* tensors are simply not loaded.
 * Note: hpclip's tokenizer emits no [CLS] token, so CLS pooling takes the first word's
 * state; the default is MEAN (a fully padded row pools to 0).
 *
 * Dropout p (default 0.1, HF hidden_dropout_prob) is applied, in training only, to the
 * embedding LN output and, in every block, to the attention-output dense and the output
 * dense before their residual adds. No attention-probability dropout (see
 * transformer_block.h). Dropout site numbers: 0x100 (embeddings), 0x101 + 2l, 0x102 + 2l.
 *
 * Parameters (HF names under "text.", torch layouts [out,in]; flags: DECAY on dense
 * weights only):
 *   text.embeddings.word_embeddings.weight [V,D], position_embeddings.weight [T,D],
 *   token_type_embeddings.weight [2,D], embeddings.LayerNorm.{weight,bias} [D]
 *   text.encoder.layer.<l>.attention.self.{query,key,value}.{weight [D,D],bias [D]}
 *     — registered PACKED: query|key|value weights form one contiguous [3D,D] matrix and
 *       the three biases one [3D] vector (the fused qkv projection), names per HF.
 *   ....attention.output.dense.{weight,bias}, ....attention.output.LayerNorm.{weight,bias}
 *   ....intermediate.dense.{weight [F,D],bias}, ....output.dense.{weight [D,F],bias},
 *   ....output.LayerNorm.{weight,bias}
 *
 * HP_TEXT_CLIP (Radford et al. 2021; OpenAI's clip/model.py Transformer, the same in OpenCLIP):
 *   x0 = token_embedding[ids] + positional_embedding[0..T), dropout   (no token types, no LN)
 *   xL = L pre-LN blocks, CAUSAL self-attention (key j > query i masked), QuickGELU or GELU
 *        (cfg.quick_gelu), LN eps 1e-5
 *   pooled = ln_final(xL[b, e_b]),  e_b = the last position whose id is not pad_id: the
 *            end-of-text token of CLIP's frame [SOT, tokens, EOT, pad...] (OpenAI takes
 *            argmax(ids), the same position since EOT is the largest id). No padding mask is
 *            needed: with causal attention the rows up to e_b never see a later key, so the
 *            `valid` argument only locates e_b (CLIP's padding id 0 is also the token "!").
 *   Parameters (OpenAI names under "text."): token_embedding.weight [V,D], positional_embedding
 *   [P,D], transformer.resblocks.<l>.{ln_1.{weight,bias}, attn.in_proj_weight [3D,D],
 *   attn.in_proj_bias [3D], attn.out_proj.{weight,bias}, ln_2.{weight,bias},
 *   mlp.c_fc.{weight [F,D],bias}, mlp.c_proj.{weight [D,F],bias}}, ln_final.{weight,bias}.
 *   OpenAI's text_projection [D,E] (no bias) is the text head, see head.h.
 */
#ifndef HP_MODELS_BERT_H
#define HP_MODELS_BERT_H

#include <stddef.h>
#include <stdint.h>

#include "nn/params.h"
#include "models/transformer_block.h"

enum { HP_BERT_POOL_MEAN = 0, HP_BERT_POOL_CLS = 1, HP_BERT_POOL_EOT = 2 /* HP_TEXT_CLIP's */ };
enum { HP_TEXT_BERT = 0, HP_TEXT_CLIP = 1 };

typedef struct {
  int arch;       /* HP_TEXT_BERT or HP_TEXT_CLIP */
  int quick_gelu; /* MLP activation QuickGELU (OpenAI CLIP) instead of GELU (erf) */
  int vocab;      /* V */
  int max_len;    /* T (position table size and activation capacity) */
  int layers;     /* L */
  int heads;      /* H, width % heads == 0 */
  int width;      /* D */
  int ffn;        /* F; 0 -> 4D */
  float dropout;  /* hidden dropout p (training only) */
  int pooling;    /* HP_BERT_POOL_MEAN / CLS (BERT); HP_BERT_POOL_EOT (CLIP, the only one) */
  float ln_eps;   /* 1e-12 as HF; CLIP 1e-5 */
  int pad_id;     /* row of word_embeddings zeroed at init (HF padding_idx); -1 none */
  int positions;  /* rows of the position table, >= max_len (a pretrained BERT's 512); 0 = max_len.
                   * Texts use the first max_len; the activations are sized by max_len. */
} hp_bert_config;

/* V=15000, T=20, L=12, H=12, D=768, F=3072, p=0.1, MEAN, eps 1e-12, pad_id 0 */
void hp_bert_config_default(hp_bert_config *c);
/* The same sizes in OpenAI CLIP's convention: arch CLIP, EOT pooling, LN eps 1e-5, pad id 0,
 * QuickGELU (OpenCLIP's own models: quick_gelu = 0 afterwards). */
void hp_bert_config_clip(hp_bert_config *c);

typedef struct {
  hp_bert_config cfg;
  hp_tblock_cfg blk;
  const char *prefix;          /* "text" */
  size_t word, pos, type, eln_w, eln_b; /* type / eln_*: BERT only */
  size_t lnf_w, lnf_b;         /* CLIP's ln_final */
  int first_tensor, last_tensor; /* index range in the params table (init) */
  hp_tblock_params *layer;     /* [L] */
  /* activations (hp_bert_alloc_acts) */
  int Bmax, infer;             /* infer: hp_bert_alloc_infer's views (forward only) */
  float *act;                  /* one allocation */
  size_t act_floats;
  float *emb, *emb_mean, *emb_rstd; /* [N,D] LN input, [N], [N] */
  float *x0;                   /* [N,D] embedding output (after dropout) */
  hp_tblock_acts *la;          /* [L] ([1] shared by every block when infer) */
  hp_tblock_scratch scr;
  float *pooled;               /* [B,D] */
  float *eot_in, *eot_mean, *eot_rstd; /* CLIP: [B,D] ln_final input rows, [B], [B] */
  int *eot;                    /* CLIP: [B] pooled position of each row */
  float *dx;                   /* [N,D] backward stream (NULL when infer) */
  /* the last forward's call state, for backward */
  int B, T;
  const int32_t *ids;
  const uint8_t *valid;
  hp_drop drop;
  hp_grad_hook hook;           /* optional per-block gradient hand-off in backward */
} hp_bert;

/* Register every tensor (names above) in p. Config errors are HP_ERR_CONFIG. */
int hp_bert_build(hp_bert *m, const hp_bert_config *cfg, hp_params *p);
/* Seeded init after hp_params_alloc: normal(0, 0.02) for dense and embedding weights (HF
 * initializer_range), biases 0, LayerNorm weight 1 bias 0; pad_id row zeroed. */
void hp_bert_init(const hp_bert *m, hp_params *p, uint64_t seed);
/* Allocate activations for up to B sequences of max_len; *bytes (may be NULL) = size. */
int hp_bert_alloc_acts(hp_bert *m, int B, size_t *bytes);
/* bytes hp_bert_alloc_acts(B) would allocate, without allocating */
size_t hp_bert_acts_bytes(const hp_bert_config *cfg, int B);
/* Activations for inference only (the evaluation stages): the blocks run in place on x0 with
 * one block's temporaries (transformer_block.h, hp_tblock_infer_carve), no backward buffers;
 * the forward's output is bitwise the same. hp_bert_backward must not follow. */
int hp_bert_alloc_infer(hp_bert *m, int B, size_t *bytes);
size_t hp_bert_infer_bytes(const hp_bert_config *cfg, int B);
void hp_bert_free(hp_bert *m);

/* valid[i] = ids[i] != pad_id  [n] */
void hp_bert_mask_from_ids(uint8_t *valid, const int32_t *ids, size_t n, int pad_id);

/* ids [B,T] (checked in [0,V)), valid [B,T] (nonzero = real token) -> *pooled [B,D].
 * T <= max_len, B <= allocated. drop: NULL or p == 0 for eval; training uses drop->p
 * (normally cfg.dropout). ids/valid must stay alive until backward. */
int hp_bert_forward(hp_bert *m, const hp_params *p, const int32_t *ids, const uint8_t *valid,
                    int B, int T, const hp_drop *drop, const float **pooled);
/* dpooled [B,D] -> parameter gradients accumulated into grad (layout of p). */
void hp_bert_backward(hp_bert *m, const hp_params *p, float *grad, const float *dpooled);

#endif
