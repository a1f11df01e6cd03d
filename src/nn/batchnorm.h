/* batchnorm.h — 2-D batch norm over NHWC activations (torch.nn.BatchNorm2d semantics).
 * inp [N,H,W,C] is viewed as [M,C] with M = N*H*W; statistics are per channel over M.
 * (Statistics are over this rank's batch only — no cross-rank sync here.) */
#ifndef HP_NN_BATCHNORM_H
#define HP_NN_BATCHNORM_H

#include "nn/nn_common.h"

/* inp [M,C], weight [C], bias [C] -> out [M,C] (out may alias inp); saves mean [C],
 * rstd [C] for backward.
 * training != 0: normalise with the batch mean and BIASED variance, rstd = 1/sqrt(var+eps),
 *   and update running_mean = (1-momentum) running_mean + momentum mean,
 *   running_var = (1-momentum) running_var + momentum var * M/(M-1) (unbiased), as PyTorch
 *   (momentum 0.1 there). M must be > 1.
 * training == 0: normalise with running_mean / running_var (not updated); mean/rstd get the
 *   values used, so backward works in eval mode too. */
void hp_batchnorm_forward(float *out, float *mean, float *rstd, float *running_mean,
                          float *running_var, const float *inp, const float *weight,
                          const float *bias, int M, int C, float eps, float momentum,
                          int training);

/* dout [M,C] -> dinp [M,C] +=, dweight [C] +=, dbias [C] += (each may be NULL). Needs inp,
 * weight and the saved mean/rstd; training must match the forward's (training mode includes
 * the gradient through the batch statistics; eval mode is the affine map only). */
void hp_batchnorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, const float *mean,
                           const float *rstd, int M, int C, int training);

#endif
