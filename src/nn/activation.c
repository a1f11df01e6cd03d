/* activation.c — see activation.h. */
#include "nn/activation.h"

#include <math.h>

#define HP_INV_SQRT2 0.70710678118654752440f
#define HP_INV_SQRT_2PI 0.39894228040143267794f

void hp_gelu_forward(float *out, const float *inp, size_t n) {
  HP_OMP("omp parallel for if(n > HP_OMP_MIN_ELEMS)")
  for (size_t i = 0; i < n; i++) {
    float x = inp[i];
    out[i] = 0.5f * x * (1.0f + erff(x * HP_INV_SQRT2));
  }
}

void hp_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n) {
  HP_OMP("omp parallel for if(n > HP_OMP_MIN_ELEMS)")
  for (size_t i = 0; i < n; i++) {
    float x = inp[i];
    float cdf = 0.5f * (1.0f + erff(x * HP_INV_SQRT2));
    float pdf = HP_INV_SQRT_2PI * expf(-0.5f * x * x);
    dinp[i] += dout[i] * (cdf + x * pdf);
  }
}

void hp_relu_forward(float *out, const float *inp, size_t n) {
  HP_OMP("omp parallel for if(n > HP_OMP_MIN_ELEMS)")
  for (size_t i = 0; i < n; i++) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void hp_relu_backward(float *dinp, const float *dout, const float *inp_or_out, size_t n) {
  HP_OMP("omp parallel for if(n > HP_OMP_MIN_ELEMS)")
  for (size_t i = 0; i < n; i++) dinp[i] += inp_or_out[i] > 0.0f ? dout[i] : 0.0f;
}

void hp_residual_forward(float *out, const float *a, const float *b, size_t n) {
  HP_OMP("omp parallel for if(n > HP_OMP_MIN_ELEMS)")
  for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void hp_residual_backward(float *da, float *db, const float *dout, size_t n) {
  if (da) {
    HP_OMP("omp parallel for if(n > HP_OMP_MIN_ELEMS)")
    for (size_t i = 0; i < n; i++) da[i] += dout[i];
  }
  if (db) {
    HP_OMP("omp parallel for if(n > HP_OMP_MIN_ELEMS)")
    for (size_t i = 0; i < n; i++) db[i] += dout[i];
  }
}
