/* batchnorm.c — see batchnorm.h. Channel reductions go over rows in blocks of CB channels
 * (one cache line of each row per step), each thread owning whole channel blocks, with
 * double accumulators on the stack — no allocation, no races. */
#include "nn/batchnorm.h"

#include <math.h>

enum { CB = 16 };

void hp_batchnorm_forward(float *out, float *mean, float *rstd, float *running_mean,
                          float *running_var, const float *inp, const float *weight,
                          const float *bias, int M, int C, float eps, float momentum,
                          int training) {
  int nblk = (C + CB - 1) / CB;
  if (training) {
    HP_OMP("omp parallel for if((size_t)M * C > HP_OMP_MIN_ELEMS)")
    for (int blk = 0; blk < nblk; blk++) {
      int c0 = blk * CB, nc = C - c0 < CB ? C - c0 : CB;
      double s[CB] = {0}, ss[CB] = {0}, mu[CB];
      for (int m = 0; m < M; m++) {
        const float *x = inp + (size_t)m * C + c0;
        for (int j = 0; j < nc; j++) s[j] += x[j];
      }
      for (int j = 0; j < nc; j++) mu[j] = s[j] / M;
      for (int m = 0; m < M; m++) { /* two-pass variance: no cancellation */
        const float *x = inp + (size_t)m * C + c0;
        for (int j = 0; j < nc; j++) {
          double d = x[j] - mu[j];
          ss[j] += d * d;
        }
      }
      for (int j = 0; j < nc; j++) {
        int c = c0 + j;
        double var = ss[j] / M;
        mean[c] = (float)mu[j];
        rstd[c] = (float)(1.0 / sqrt(var + (double)eps));
        double unb = M > 1 ? var * M / (M - 1) : var;
        running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mu[j]);
        running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * unb);
      }
    }
  } else {
    for (int c = 0; c < C; c++) {
      mean[c] = running_mean[c];
      rstd[c] = (float)(1.0 / sqrt((double)running_var[c] + (double)eps));
    }
  }
  HP_OMP("omp parallel for if((size_t)M * C > HP_OMP_MIN_ELEMS)")
  for (int m = 0; m < M; m++) {
    const float *x = inp + (size_t)m * C;
    float *y = out + (size_t)m * C;
    for (int c = 0; c < C; c++) y[c] = (x[c] - mean[c]) * rstd[c] * weight[c] + bias[c];
  }
}

void hp_batchnorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, const float *mean,
                           const float *rstd, int M, int C, int training) {
  int nblk = (C + CB - 1) / CB;
  HP_OMP("omp parallel for if((size_t)M * C > HP_OMP_MIN_ELEMS)")
  for (int blk = 0; blk < nblk; blk++) {
    int c0 = blk * CB, nc = C - c0 < CB ? C - c0 : CB;
    double sdy[CB] = {0}, sdyx[CB] = {0};
    for (int m = 0; m < M; m++) {
      const float *x = inp + (size_t)m * C + c0, *dy = dout + (size_t)m * C + c0;
      for (int j = 0; j < nc; j++) {
        sdy[j] += dy[j];
        sdyx[j] += (double)dy[j] * ((x[j] - mean[c0 + j]) * rstd[c0 + j]);
      }
    }
    for (int j = 0; j < nc; j++) {
      if (dweight) dweight[c0 + j] += (float)sdyx[j];
      if (dbias) dbias[c0 + j] += (float)sdy[j];
    }
    if (!dinp) continue;
    /* training: dx = w rstd (dy - mean(dy) - xhat mean(dy xhat));  eval: dx = w rstd dy */
    float a[CB], mdy[CB], mdyx[CB];
    for (int j = 0; j < nc; j++) {
      a[j] = weight[c0 + j] * rstd[c0 + j];
      mdy[j] = training ? (float)(sdy[j] / M) : 0.0f;
      mdyx[j] = training ? (float)(sdyx[j] / M) : 0.0f;
    }
    for (int m = 0; m < M; m++) {
      const float *x = inp + (size_t)m * C + c0, *dy = dout + (size_t)m * C + c0;
      float *dx = dinp + (size_t)m * C + c0;
      for (int j = 0; j < nc; j++) {
        float xhat = (x[j] - mean[c0 + j]) * rstd[c0 + j];
        dx[j] += a[j] * (dy[j] - mdy[j] - xhat * mdyx[j]);
      }
    }
  }
}
