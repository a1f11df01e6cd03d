/* linear.h — fully connected layer, weight [OC,IC] like torch.nn.Linear. One sgemm each. */
#ifndef HP_NN_LINEAR_H
#define HP_NN_LINEAR_H

#include "nn/nn_common.h"

/* inp [N,IC], weight [OC,IC], bias [OC] or NULL -> out [N,OC]     (N = B*T, any batch dims) */
void hp_linear_forward(float *out, const float *inp, const float *weight, const float *bias,
                       int N, int IC, int OC);

/* dout [N,OC] -> dinp [N,IC] +=, dweight [OC,IC] +=, dbias [OC] +=   (each may be NULL) */
void hp_linear_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, int N, int IC, int OC);

#endif
