/* l2norm.h — row L2 normalisation, torch.nn.functional.normalize(x, dim=-1, eps):
 * y = x / max(||x||_2, eps). */
#ifndef HP_NN_L2NORM_H
#define HP_NN_L2NORM_H

#include "nn/nn_common.h"

/* inp [N,C] -> out [N,C]; saves norm [N] = max(||x||, eps) for backward. out may alias inp. */
void hp_l2norm_forward(float *out, float *norm, const float *inp, int N, int C, float eps);
/* dout [N,C] -> dinp [N,C] +=. Needs the forward's out and norm; inp is not needed.
 * ||x|| > eps: dinp += (dout - y (y.dout)) / norm;  ||x|| <= eps: dinp += dout / eps. */
void hp_l2norm_backward(float *dinp, const float *dout, const float *out, const float *norm,
                        int N, int C, float eps);

#endif
