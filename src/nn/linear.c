/* linear.c — see linear.h. */
#include "nn/linear.h"

#include <cblas.h>

void hp_linear_forward(float *out, const float *inp, const float *weight, const float *bias,
                       int N, int IC, int OC) {
  float beta = 0.0f;
  if (bias) {
    /* Pre-fill rows with the bias, then let sgemm accumulate onto it (beta = 1). */
    HP_OMP("omp parallel for if((size_t)N * OC > HP_OMP_MIN_ELEMS)")
    for (int n = 0; n < N; n++) {
      float *o = out + (size_t)n * OC;
      for (int oc = 0; oc < OC; oc++) o[oc] = bias[oc];
    }
    beta = 1.0f;
  }
  /* out[N,OC] = inp[N,IC] . weight[OC,IC]^T */
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, IC, 1.0f, inp, IC, weight, IC,
              beta, out, OC);
}

void hp_linear_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, int N, int IC, int OC) {
  /* dinp[N,IC] += dout[N,OC] . weight[OC,IC] */
  if (dinp)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IC, OC, 1.0f, dout, OC, weight,
                IC, 1.0f, dinp, IC);
  /* dweight[OC,IC] += dout[N,OC]^T . inp[N,IC] */
  if (dweight)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, IC, N, 1.0f, dout, OC, inp, IC,
                1.0f, dweight, IC);
  if (dbias) {
    /* Column sums as contiguous row sweeps over chunks of BIAS_CHUNK columns (a column-at-a-
       time loop strides by OC floats): each column is still summed in double over n = 0..N-1
       in order, so the result is bit-identical for any chunking and thread count. */
    enum { BIAS_CHUNK = 128 };
    int nchunk = (OC + BIAS_CHUNK - 1) / BIAS_CHUNK;
    HP_OMP("omp parallel for if((size_t)N * OC > HP_OMP_MIN_ELEMS)")
    for (int c = 0; c < nchunk; c++) {
      int lo = c * BIAS_CHUNK, w = OC - lo < BIAS_CHUNK ? OC - lo : BIAS_CHUNK;
      double s[BIAS_CHUNK];
      for (int j = 0; j < w; j++) s[j] = 0.0;
      for (int n = 0; n < N; n++) {
        const float *d = dout + (size_t)n * OC + lo;
        for (int j = 0; j < w; j++) s[j] += d[j];
      }
      for (int j = 0; j < w; j++) dbias[lo + j] += (float)s[j];
    }
  }
}
