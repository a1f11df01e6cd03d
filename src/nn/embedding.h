/* embedding.h — token embedding lookup (rows of a table) and learned positional embedding. */
#ifndef HP_NN_EMBEDDING_H
#define HP_NN_EMBEDDING_H

#include <stdint.h>

#include "nn/nn_common.h"

/* Validate ids once (outside hot loops): every id in [0,V). HP_ERR_INPUT naming the first bad
 * one otherwise. The kernels below assume valid ids. */
int hp_embedding_check_ids(const int32_t *ids, size_t N, int V);

/* ids [N] in [0,V), table [V,C] -> out [N,C]            (out[n,:] = table[ids[n],:]) */
void hp_embedding_forward(float *out, const int32_t *ids, const float *table, int N, int C);

/* dout [N,C] -> dtable [V,C] += scatter-add over ids (repeated ids sum). Deterministic:
 * parallel over channel blocks, never two threads on one row. */
void hp_embedding_backward(float *dtable, const float *dout, const int32_t *ids, int N, int C);

/* Positional: out [B,T,C] += pos [T,C] (in place on the token embeddings). */
void hp_posembed_forward(float *out, const float *pos, int B, int T, int C);
/* dout [B,T,C] -> dpos [T,C] += sum over B. */
void hp_posembed_backward(float *dpos, const float *dout, int B, int T, int C);

#endif
