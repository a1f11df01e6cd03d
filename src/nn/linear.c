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
    HP_OMP("omp parallel for if((size_t)N * OC > HP_OMP_MIN_ELEMS)")
    for (int oc = 0; oc < OC; oc++) {
      double s = 0.0;
      for (int n = 0; n < N; n++) s += dout[(size_t)n * OC + oc];
      dbias[oc] += (float)s;
    }
  }
}
