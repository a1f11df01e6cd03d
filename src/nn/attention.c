/* attention.c — see attention.h. */
#include "nn/attention.h"

#include <cblas.h>
#include <math.h>

void hp_attention_forward(float *out, float *att, const float *qkv, const uint8_t *key_valid,
                          int causal, int B, int T, int C, int NH) {
  int hs = C / NH, C3 = 3 * C;
  float scale = 1.0f / sqrtf((float)hs);
  size_t TT = (size_t)T * T;
  int par = B * NH > 1 && hp_nn_blas_nestable();
  (void)par; /* only read by the OpenMP if-clause */
  HP_OMP("omp parallel for schedule(static) if(par)")
  for (int bh = 0; bh < B * NH; bh++) {
    int b = bh / NH, h = bh % NH;
    const float *q = qkv + (size_t)b * T * C3 + (size_t)h * hs;
    const float *k = q + C, *v = q + 2 * C;
    float *p = att + (size_t)bh * TT;
    const uint8_t *kv = key_valid ? key_valid + (size_t)b * T : NULL;
    /* S[T,T] = scale * Q[T,hs] . K[T,hs]^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, scale, q, C3, k, C3, 0.0f,
                p, T);
    /* masked, stable softmax per query row, in place */
    for (int i = 0; i < T; i++) {
      float *row = p + (size_t)i * T;
      int jend = causal ? i + 1 : T;
      float mx = -INFINITY;
      for (int j = 0; j < jend; j++)
        if ((!kv || kv[j]) && row[j] > mx) mx = row[j];
      if (mx == -INFINITY) { /* all keys masked: zero row */
        for (int j = 0; j < T; j++) row[j] = 0.0f;
        continue;
      }
      double s = 0.0;
      for (int j = 0; j < T; j++) {
        float e = (j < jend && (!kv || kv[j])) ? expf(row[j] - mx) : 0.0f;
        row[j] = e;
        s += e;
      }
      float inv = (float)(1.0 / s);
      for (int j = 0; j < jend; j++) row[j] *= inv;
    }
    /* out[T,hs] (row stride C) = P[T,T] . V[T,hs] */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f, p, T, v, C3, 0.0f,
                out + (size_t)b * T * C + (size_t)h * hs, C);
  }
}

void hp_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
                           const float *att, int B, int T, int C, int NH) {
  int hs = C / NH, C3 = 3 * C;
  float scale = 1.0f / sqrtf((float)hs);
  size_t TT = (size_t)T * T;
  int par = B * NH > 1 && hp_nn_blas_nestable();
  (void)par; /* only read by the OpenMP if-clause */
  HP_OMP("omp parallel for schedule(static) if(par)")
  for (int bh = 0; bh < B * NH; bh++) {
    int b = bh / NH, h = bh % NH;
    size_t qoff = (size_t)b * T * C3 + (size_t)h * hs;
    const float *q = qkv + qoff, *k = q + C, *v = q + 2 * C;
    float *dq = dqkv + qoff, *dk = dq + C, *dv = dq + 2 * C;
    const float *p = att + (size_t)bh * TT;
    const float *dy = dout + (size_t)b * T * C + (size_t)h * hs;
    float *ds = scratch + (size_t)bh * TT;
    /* dV[T,hs] += P^T . dY */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, p, T, dy, C, 1.0f, dv,
                C3);
    /* dP[T,T] = dY . V^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, 1.0f, dy, C, v, C3, 0.0f, ds,
                T);
    /* dS = P * (dP - rowsum(dP * P)); masked entries have P = 0 so get 0 */
    for (int i = 0; i < T; i++) {
      const float *pr = p + (size_t)i * T;
      float *dr = ds + (size_t)i * T;
      double s = 0.0;
      for (int j = 0; j < T; j++) s += (double)pr[j] * dr[j];
      float sf = (float)s;
      for (int j = 0; j < T; j++) dr[j] = pr[j] * (dr[j] - sf);
    }
    /* dQ[T,hs] += scale * dS . K ;  dK[T,hs] += scale * dS^T . Q */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, scale, ds, T, k, C3, 1.0f,
                dq, C3);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, scale, ds, T, q, C3, 1.0f, dk,
                C3);
  }
}
