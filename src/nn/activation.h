/* activation.h — element-wise activations and the residual add, over flat arrays of n
 * elements (any shape). Forward may run in place (out == inp). */
#ifndef HP_NN_ACTIVATION_H
#define HP_NN_ACTIVATION_H

#include "nn/nn_common.h"

/* GELU, exact erf form (torch.nn.functional.gelu default, approximate='none'):
 * gelu(x) = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)).
 * inp [n] -> out [n] */
void hp_gelu_forward(float *out, const float *inp, size_t n);
/* dout [n] -> dinp [n] += dout * (Phi(x) + x phi(x)); needs the forward's inp. */
void hp_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n);

/* QuickGELU (OpenAI CLIP's MLP activation): x * sigmoid(1.702 x). inp [n] -> out [n] */
void hp_quickgelu_forward(float *out, const float *inp, size_t n);
/* dout [n] -> dinp [n] += dout * (s + 1.702 x s (1 - s)), s = sigmoid(1.702 x) */
void hp_quickgelu_backward(float *dinp, const float *dout, const float *inp, size_t n);

/* ReLU: inp [n] -> out [n] = max(x, 0). */
void hp_relu_forward(float *out, const float *inp, size_t n);
/* dout [n] -> dinp [n] += dout * (x > 0). Pass the forward's inp OR its out (the sign test
 * gives the same mask, so an in-place ReLU can pass its out). Gradient at exactly 0 is 0,
 * as in PyTorch. */
void hp_relu_backward(float *dinp, const float *dout, const float *inp_or_out, size_t n);

/* Residual: a [n], b [n] -> out [n] = a + b (out may alias a or b). */
void hp_residual_forward(float *out, const float *a, const float *b, size_t n);
/* dout [n] -> da [n] += dout, db [n] += dout (either may be NULL). */
void hp_residual_backward(float *da, float *db, const float *dout, size_t n);

#endif
