/* softmax.h — numerically stable softmax over the last dim. */
#ifndef HP_NN_SOFTMAX_H
#define HP_NN_SOFTMAX_H

#include "nn/nn_common.h"

/* inp [N,C] -> out [N,C] (rows sum to 1; max subtracted first). out may alias inp. */
void hp_softmax_forward(float *out, const float *inp, int N, int C);
/* dout [N,C] -> dinp [N,C] += out * (dout - sum_c dout*out); needs the forward's out. */
void hp_softmax_backward(float *dinp, const float *dout, const float *out, int N, int C);

/* One row, used by softmax, attention and cross-entropy: y[c] = exp(x[c]-max)/sum.
 * Returns log(sum exp(x - max)) + max (the log-sum-exp), computed in double. */
double hp_softmax_row(float *y, const float *x, int C);

#endif
