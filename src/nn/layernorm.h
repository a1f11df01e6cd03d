/* layernorm.h — layer norm over the last dim (torch.nn.LayerNorm(C, eps)). */
#ifndef HP_NN_LAYERNORM_H
#define HP_NN_LAYERNORM_H

#include "nn/nn_common.h"

/* inp [N,C], weight [C], bias [C] -> out [N,C]; saves mean [N], rstd [N] for backward.
 * Biased variance (divide by C), rstd = 1/sqrt(var + eps). out may alias inp. */
void hp_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                          const float *weight, const float *bias, int N, int C, float eps);

/* dout [N,C] -> dinp [N,C] +=, dweight [C] +=, dbias [C] += (each may be NULL).
 * Needs the forward's inp (not out), mean, rstd. */
void hp_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, const float *mean,
                           const float *rstd, int N, int C);

#endif
