/* dropout.h — inverted dropout whose mask depends only on (seed, index, step), never on the
 * rank count or thread schedule.
 *
 * Element i of a call keeps iff hp_hash4(seed, HP_STREAM_DROPOUT, index0 + i, step), top
 * 24 bits read as u in [0,1), satisfies u >= p; kept values are scaled by 1/(1-p).
 * index0 is the GLOBAL index of the call's first element: for a tensor [B,...] whose batch
 * rows are global samples g0..g0+B-1, pass index0 = site_base + g0 * elems_per_sample, so
 * the same sample gets the same mask whichever rank holds it. Different dropout sites in one
 * step must use disjoint index ranges: give each site its own site_base, e.g.
 * hp_dropout_site(site) = site << 44 (room for 2^44 elements per site).
 * Backward regenerates the mask from the same key (no mask storage). p = 0 is the identity;
 * p must be < 1. */
#ifndef HP_NN_DROPOUT_H
#define HP_NN_DROPOUT_H

#include <stdint.h>

#include "nn/nn_common.h"

static inline uint64_t hp_dropout_site(uint64_t site) { return site << 44; }

/* inp [n] -> out [n] (out may alias inp). */
void hp_dropout_forward(float *out, const float *inp, size_t n, float p, uint64_t seed,
                        uint64_t step, uint64_t index0);
/* dout [n] -> dinp [n] += dout * mask / (1-p), same (p, seed, step, index0) as forward. */
void hp_dropout_backward(float *dinp, const float *dout, size_t n, float p, uint64_t seed,
                         uint64_t step, uint64_t index0);

#endif
