/* dropout.c — see dropout.h. */
#include "nn/dropout.h"

#include "base/rng.h"

/* keep iff (hash >> 40) >= thresh, thresh = round(p * 2^24) */
static uint64_t drop_threshold(float p) { return (uint64_t)((double)p * 16777216.0 + 0.5); }

void hp_dropout_forward(float *out, const float *inp, size_t n, float p, uint64_t seed,
                        uint64_t step, uint64_t index0) {
  if (p <= 0.0f) {
    if (out != inp)
      for (size_t i = 0; i < n; i++) out[i] = inp[i];
    return;
  }
  uint64_t th = drop_threshold(p);
  float sc = 1.0f / (1.0f - p);
  HP_OMP("omp parallel for if(n > HP_OMP_MIN_ELEMS / 4)")
  for (size_t i = 0; i < n; i++) {
    uint64_t u = hp_hash4(seed, HP_STREAM_DROPOUT, index0 + i, step) >> 40;
    out[i] = u >= th ? inp[i] * sc : 0.0f;
  }
}

void hp_dropout_backward(float *dinp, const float *dout, size_t n, float p, uint64_t seed,
                         uint64_t step, uint64_t index0) {
  if (p <= 0.0f) {
    for (size_t i = 0; i < n; i++) dinp[i] += dout[i];
    return;
  }
  uint64_t th = drop_threshold(p);
  float sc = 1.0f / (1.0f - p);
  HP_OMP("omp parallel for if(n > HP_OMP_MIN_ELEMS / 4)")
  for (size_t i = 0; i < n; i++) {
    uint64_t u = hp_hash4(seed, HP_STREAM_DROPOUT, index0 + i, step) >> 40;
    if (u >= th) dinp[i] += dout[i] * sc;
  }
}
