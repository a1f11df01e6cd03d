/* loss.h — softmax cross-entropy over logits with integer targets (torch F.cross_entropy,
 * reduction='mean', ignore_index), fused with the softmax for backward. */
#ifndef HP_NN_LOSS_H
#define HP_NN_LOSS_H

#include <stdint.h>

#include "nn/nn_common.h"

/* logits [N,V], targets [N] (in [0,V) or == ignore_index) -> returns the mean loss over the
 * non-ignored rows (double accumulation); saves probs [N,V] (softmax of logits; may alias
 * logits) and *count = number of non-ignored rows. All rows ignored: returns 0 (PyTorch
 * gives NaN) and backward adds nothing. losses [N] (per-row loss, 0 for ignored) or NULL. */
double hp_crossentropy_forward(float *probs, float *losses, int *count, const float *logits,
                               const int32_t *targets, int N, int V, int ignore_index);

/* dloss = d(objective)/d(mean loss), usually 1 -> dlogits [N,V] +=
 * dloss * (probs - onehot(target)) / count for non-ignored rows, nothing for ignored ones.
 * count is the forward's *count (pass a global count to average over ranks instead). */
void hp_crossentropy_backward(float *dlogits, const float *probs, const int32_t *targets,
                              int N, int V, int ignore_index, int count, float dloss);

#endif
