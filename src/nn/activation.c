/* activation.c — see activation.h. */
#include "nn/activation.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define HP_INV_SQRT_2PI 0.39894228040143267794f

/* GELU without libm's erff (scalar, ~half of a small model's GELU time): branch-free helpers
 * that the loops below vectorise. Accuracy vs double: Phi within 1.7e-7 absolute (erff-based
 * 0.5*(1+erff) is within ~1e-7, but loses all relative accuracy in the left tail; this form
 * keeps ~1e-5 there), exp(-x^2/2) within 4e-6 relative (float rounding of x^2 at |x| ~ 12).
 *
 * gelu_exp: e^x for x in [-87, 88] (callers keep it there), relative error < 1e-7:
 * x = n ln2 + r, |r| <= ln2/2, e^r by its degree-7 Taylor polynomial, 2^n from exponent bits. */
static inline float gelu_exp(float x) {
  float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest */
  float r = (x - n * 0.693145751953125f) - n * 1.42860682030941723e-6f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t bits = ((int32_t)n + 127) << 23;
  float s;
  memcpy(&s, &bits, sizeof s);
  return p * s;
}

/* Phi(x) = 0.5 erfc(-x/sqrt2): erfc(z) = t exp(-z^2 + P(t)), t = 1/(1 + z/2), z = |x|/sqrt2 — a
 * Chebyshev fit with relative error < 1.2e-7 for every z >= 0 (Press et al., Numerical Recipes,
 * erfcc); Phi = 1 - erfc/2 for x >= 0, erfc/2 for x < 0 (no cancellation in the left tail).
 * e2 receives exp(-x^2/2) for the derivative. |x| is clamped to 13 first (Phi is then 1 or
 * < 1e-37 and exp(-x^2/2) < 1e-36, both exact to float precision, and the exponents stay in
 * gelu_exp's range), as an integer select on the bits (non-negative floats order as their bit
 * patterns): a float compare would keep the loop from vectorising (trapping math). NaN inputs
 * still give NaN outputs through the factor x the callers multiply by. */
static inline float gelu_cdf(float x, float *e2) {
  float a = fabsf(x);
  uint32_t ab;
  memcpy(&ab, &a, sizeof ab);
  ab = ab > 0x41500000u ? 0x41500000u : ab; /* 13.0f */
  memcpy(&a, &ab, sizeof a);
  float z = a * 0.70710678118654752f;
  float t = 1.0f / (1.0f + 0.5f * z);
  float q = -0.82215223f + t * 0.17087277f;
  q = 1.48851587f + t * q;
  q = -1.13520398f + t * q;
  q = 0.27886807f + t * q;
  q = -0.18628806f + t * q;
  q = 0.09678418f + t * q;
  q = 0.37409196f + t * q;
  q = 1.00002368f + t * q;
  q = -1.26551223f + t * q;
  float erfc = t * gelu_exp(q - z * z);
  *e2 = gelu_exp(-0.5f * a * a);
  float h = 0.5f * erfc;
  float s = x >= 0.0f ? 1.0f : 0.0f; /* select of constants: the loops stay branch-free */
  return s - (2.0f * s - 1.0f) * h;
}

void hp_gelu_forward(float *out, const float *inp, size_t n) {
  HP_OMP("omp parallel for if(n > HP_OMP_MIN_ELEMS)")
  for (size_t i = 0; i < n; i++) {
    float x = inp[i], e2;
    out[i] = x * gelu_cdf(x, &e2);
  }
}

void hp_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n) {
  HP_OMP("omp parallel for if(n > HP_OMP_MIN_ELEMS)")
  for (size_t i = 0; i < n; i++) {
    float x = inp[i], e2;
    float cdf = gelu_cdf(x, &e2);
    dinp[i] += dout[i] * (cdf + x * HP_INV_SQRT_2PI * e2);
  }
}

/* sigma(1.702 x); expf overflows to inf for x << 0, giving sigma = 0 as it should */
static inline float quick_sigma(float x) { return 1.0f / (1.0f + expf(-1.702f * x)); }

void hp_quickgelu_forward(float *out, const float *inp, size_t n) {
  HP_OMP("omp parallel for if(n > HP_OMP_MIN_ELEMS)")
  for (size_t i = 0; i < n; i++) out[i] = inp[i] * quick_sigma(inp[i]);
}

void hp_quickgelu_backward(float *dinp, const float *dout, const float *inp, size_t n) {
  HP_OMP("omp parallel for if(n > HP_OMP_MIN_ELEMS)")
  for (size_t i = 0; i < n; i++) {
    float s = quick_sigma(inp[i]);
    dinp[i] += dout[i] * (s + 1.702f * inp[i] * s * (1.0f - s));
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
