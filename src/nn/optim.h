/* optim.h — optimisers over a slice [lo,hi) of the parameter buffer (nn/params.h):
 * AdamW and SGD with momentum (torch.optim semantics), the L2 kernel penalty, global-norm
 * gradient clipping, and learning-rate schedules.
 *
 * Slices: an hp_optim owns the elements [lo,hi) of the buffer (the whole buffer, or one
 * ZeRO-1 rank's part) and state (Adam m, v / SGD momentum) for exactly those elements.
 * Per-element behaviour comes from the tensor table: at init the tensors are intersected
 * with [lo,hi) into a list of ranges with their flags; alignment gaps between tensors and
 * HP_PARAM_BUFFER tensors (batch-norm statistics) are never touched. Updating slices
 * [0,k) and [k,total) with two optimisers gives bit-identical results to one optimiser
 * over [0,total) (element-wise updates; only the global norm needs a reduction).
 *
 * Pointers w and g passed to the functions below point at element lo of their buffers
 * (w = params->data + lo; g = params->grad + lo, or a reduce-scattered slice buffer).
 *
 * One step, in this order (Keras semantics: the regulariser is part of the loss, so its
 * gradient is in the norm that clipping sees):
 *   hp_optim_add_l2(o, w, g);                         g += 2*lambda*w on HP_PARAM_L2 tensors
 *   double sq = hp_optim_sqnorm(o, g);                (MPI_Allreduce(SUM) it across slices)
 *   float s = hp_clip_scale(sqrt(sq), max_norm);      1 when max_norm <= 0 (no clipping)
 *   hp_optim_step(o, w, g, lr, s);                    lr from hp_lr_at(); uses s*g
 *
 * L2 kernel penalty: Keras kernel_regularizer=l2(lambda) adds  lambda * sum(w^2)  to the
 * loss, whose gradient is  2*lambda*w; lambda = 1e-3 in the study. hp_optim_l2_loss gives the
 * loss term (for logging). It applies to HP_PARAM_L2 tensors (the projection kernels).
 *
 * AdamW (torch.optim.AdamW): t += 1; if HP_PARAM_DECAY: w *= 1 - lr*wd;  m = b1 m + (1-b1) g;
 *   v = b2 v + (1-b2) g^2;  w -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
 *   Weight decay only on HP_PARAM_DECAY tensors (matrices), i.e. torch with two param
 *   groups (decay wd / 0).
 * SGD (torch.optim.SGD): d = g (+ wd*w on HP_PARAM_DECAY tensors — coupled, as torch);
 *   momentum > 0: buf = d at t = 1, else buf = momentum*buf + (1-dampening)*d;
 *   d = nesterov ? d + momentum*buf : buf;  w -= lr*d.
 * RMSprop (torch.optim.RMSprop, momentum 0, not centered): d = g (+ wd*w on HP_PARAM_DECAY
 *   tensors — coupled, as torch);  sq = alpha*sq + (1-alpha)*d^2;  w -= lr * d / (sqrt(sq) + eps).
 *   Defaults alpha 0.9, eps 1e-7 (Keras' RMSprop, which the study used: rho 0.9, epsilon 1e-7),
 *   wd 0. The state sq lives in m.
 */
#ifndef HP_NN_OPTIM_H
#define HP_NN_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "nn/params.h"

enum { HP_OPT_ADAMW = 0, HP_OPT_SGD = 1, HP_OPT_RMSPROP = 2 };

typedef struct {
  int kind;             /* HP_OPT_* */
  float beta1, beta2;   /* AdamW: 0.9, 0.999 */
  float eps;            /* AdamW: 1e-8 */
  float weight_decay;   /* AdamW 0.01 (torch default), SGD 0 */
  float momentum;       /* SGD */
  float dampening;      /* SGD */
  int nesterov;         /* SGD */
  float l2;             /* lambda of the L2 kernel penalty (1e-3) */
  float alpha;          /* RMSprop smoothing constant (0.9) */
} hp_optim_config;

/* AdamW defaults: b1 .9, b2 .999, eps 1e-8, wd .01, l2 1e-3 */
void hp_optim_config_adamw(hp_optim_config *c);
/* SGD defaults: momentum .9, dampening 0, nesterov 0, wd 0, l2 1e-3 */
void hp_optim_config_sgd(hp_optim_config *c);
/* RMSprop defaults: alpha .9, eps 1e-7, wd 0, l2 0 */
void hp_optim_config_rmsprop(hp_optim_config *c);

typedef struct {
  size_t lo, hi; /* relative to the slice start (element lo of the buffer = 0) */
  int flags;
} hp_optim_range;

typedef struct {
  hp_optim_config cfg;
  size_t lo, hi;          /* the slice in the buffer */
  hp_optim_range *r;      /* ranges of trainable tensors inside the slice */
  int nr;
  float *m, *v;           /* [hi-lo] state (v NULL for SGD; m is SGD's momentum buffer) */
  int64_t t;              /* steps taken */
} hp_optim;

/* Slice [lo,hi) of p's buffer (0 <= lo <= hi <= p->total). */
int hp_optim_init(hp_optim *o, const hp_optim_config *cfg, const hp_params *p, size_t lo, size_t hi);
void hp_optim_free(hp_optim *o);

/* g [hi-lo] += 2*lambda*w on HP_PARAM_L2 ranges. */
void hp_optim_add_l2(const hp_optim *o, const float *w, float *g);
/* lambda * sum(w^2) over this slice's HP_PARAM_L2 ranges (double accumulation) */
double hp_optim_l2_loss(const hp_optim *o, const float *w);
/* sum of g^2 over the trainable ranges of the slice (double accumulation) */
double hp_optim_sqnorm(const hp_optim *o, const float *g);
/* torch clip_grad_norm_: max_norm / (norm + 1e-6) if that is < 1, else 1; 1 if max_norm <= 0 */
float hp_clip_scale(double norm, float max_norm);
/* One update of w [hi-lo] with gradient scale*g at learning rate lr. */
void hp_optim_step(hp_optim *o, float *w, const float *g, float lr, float scale);

/* Learning-rate schedules. step counts from 0 (the first update uses hp_lr_at(s, 0)). */
enum { HP_LR_CONSTANT = 0, HP_LR_WARMUP_COSINE = 1 };
typedef struct {
  int kind;
  float base;          /* peak / constant lr */
  int64_t warmup;      /* linear warm-up steps: lr = base * (step+1) / warmup for step < warmup */
  int64_t total;       /* steps of the whole run */
  float floor;         /* cosine ends here: lr = floor + (base-floor) * (1+cos(pi*q))/2,
                          q = (step-warmup) / max(1, total-warmup) clamped to [0,1] */
} hp_lr_schedule;

float hp_lr_at(const hp_lr_schedule *s, int64_t step);

#endif
