/* head.h — projection head: Dense Din -> E (with bias) then L2 normalisation, the study's
 * "Dense to 768 + L2 normalise" at the end of both towers.
 *
 *   y = x . W^T + b       [B,E]
 *   z = y / max(||y||, 1e-12)   (torch F.normalize)
 *
 * Parameters "<prefix>.weight" [E,Din] (flags DECAY | L2: the optimiser adds the Keras
 * kernel_regularizer=l2(lambda) gradient, see nn/optim.h; the bias is not penalised, as in
 * Keras) and "<prefix>.bias" [E] (none when built without a bias: OpenAI CLIP's projections,
 * y = x . W^T); prefix "text_projection" or "visual_projection".
 */
#ifndef HP_MODELS_HEAD_H
#define HP_MODELS_HEAD_H

#include <stddef.h>

#include "nn/params.h"

typedef struct {
  int in, out;        /* Din, E */
  size_t w, b;        /* offsets (b only with bias) */
  int bias;
  int first_tensor;
  int Bmax, B;
  float *act;         /* one allocation */
  float *y, *z, *norm, *dy; /* [B,E], [B,E], [B], [B,E] */
  const float *x;     /* the last forward's input [B,Din] (owned by the caller) */
} hp_head;

/* prefix: "text_projection" / "visual_projection"; E = 768 in the study */
int hp_head_build(hp_head *h, const char *prefix, int in, int out, int bias, hp_params *p);
/* weight normal(0, 0.02), bias 0 */
void hp_head_init(const hp_head *h, hp_params *p, uint64_t seed);
int hp_head_alloc_acts(hp_head *h, int B, size_t *bytes);
void hp_head_free(hp_head *h);
/* x [B,Din] -> *emb [B,E] (unit rows). x must stay alive until backward. */
int hp_head_forward(hp_head *h, const hp_params *p, const float *x, int B, const float **emb);
/* demb [B,E] -> dx [B,Din] += (may be NULL), parameter gradients += into grad */
void hp_head_backward(hp_head *h, const hp_params *p, float *grad, const float *demb, float *dx);

#endif
