/* bn_relu.c — see bn_relu.h. Reductions: one thread per block of CB channels, double
 * accumulators on the stack (deterministic for any thread count); element-wise passes are
 * parallel over rows. */
#include "nn/bn_relu.h"

#include <math.h>

enum { CB = 16 };

void hp_bn_stats(float *mean, float *rstd, float *running_mean, float *running_var,
                 const float *inp, int M, int C, float eps, float momentum, int training) {
  if (!training) {
    for (int c = 0; c < C; c++) {
      mean[c] = running_mean[c];
      rstd[c] = (float)(1.0 / sqrt((double)running_var[c] + (double)eps));
    }
    return;
  }
  int nblk = (C + CB - 1) / CB;
  HP_OMP("omp parallel for schedule(static) if((size_t)M * C > HP_OMP_MIN_ELEMS)")
  for (int blk = 0; blk < nblk; blk++) {
    int c0 = blk * CB, nc = C - c0 < CB ? C - c0 : CB;
    double s[CB] = {0}, ss[CB] = {0}, mu[CB] = {0};
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
}

/* y = x * scale + shift with scale = rstd*w, shift = b - mean*rstd*w. scale/shift are
 * recomputed per row from [C] arrays (cheap, L1-resident) to avoid a scratch allocation. */
void hp_bn_apply(float *out, const float *inp, const float *mean, const float *rstd,
                 const float *weight, const float *bias, int M, int C, int relu) {
  HP_OMP("omp parallel for schedule(static) if((size_t)M * C > HP_OMP_MIN_ELEMS)")
  for (int m = 0; m < M; m++) {
    const float *x = inp + (size_t)m * C;
    float *y = out + (size_t)m * C;
    if (relu) {
      for (int c = 0; c < C; c++) {
        float v = (x[c] - mean[c]) * (rstd[c] * weight[c]) + bias[c];
        y[c] = v > 0.0f ? v : 0.0f;
      }
    } else {
      for (int c = 0; c < C; c++) y[c] = (x[c] - mean[c]) * (rstd[c] * weight[c]) + bias[c];
    }
  }
}

void hp_bn_add_relu(float *out, const float *xa, const float *mean_a, const float *rstd_a,
                    const float *weight_a, const float *bias_a, const float *xb,
                    const float *mean_b, const float *rstd_b, const float *weight_b,
                    const float *bias_b, const float *res, int M, int C) {
  HP_OMP("omp parallel for schedule(static) if((size_t)M * C > HP_OMP_MIN_ELEMS)")
  for (int m = 0; m < M; m++) {
    const float *a = xa + (size_t)m * C;
    float *y = out + (size_t)m * C;
    if (xb) {
      const float *b = xb + (size_t)m * C;
      for (int c = 0; c < C; c++) {
        float v = (a[c] - mean_a[c]) * (rstd_a[c] * weight_a[c]) + bias_a[c] +
                  ((b[c] - mean_b[c]) * (rstd_b[c] * weight_b[c]) + bias_b[c]);
        y[c] = v > 0.0f ? v : 0.0f;
      }
    } else {
      const float *r = res + (size_t)m * C;
      for (int c = 0; c < C; c++) {
        float v = (a[c] - mean_a[c]) * (rstd_a[c] * weight_a[c]) + bias_a[c] + r[c];
        y[c] = v > 0.0f ? v : 0.0f;
      }
    }
  }
}

void hp_bn_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                    const float *relu_out, const float *inp, const float *weight,
                    const float *mean, const float *rstd, int M, int C, int training) {
  int nblk = (C + CB - 1) / CB;
  HP_OMP("omp parallel for schedule(static) if((size_t)M * C > HP_OMP_MIN_ELEMS)")
  for (int blk = 0; blk < nblk; blk++) {
    int c0 = blk * CB, nc = C - c0 < CB ? C - c0 : CB;
    double sdy[CB] = {0}, sdyx[CB] = {0};
    float mu[CB] = {0}, rs[CB] = {0};
    for (int j = 0; j < nc; j++) {
      mu[j] = mean[c0 + j];
      rs[j] = rstd[c0 + j];
    }
    for (int m = 0; m < M; m++) {
      size_t o = (size_t)m * C + c0;
      const float *x = inp + o, *dy = dout + o;
      if (relu_out) {
        const float *r = relu_out + o;
        for (int j = 0; j < nc; j++) {
          float g = r[j] > 0.0f ? dy[j] : 0.0f;
          sdy[j] += g;
          sdyx[j] += (double)g * ((x[j] - mu[j]) * rs[j]);
        }
      } else {
        for (int j = 0; j < nc; j++) {
          sdy[j] += dy[j];
          sdyx[j] += (double)dy[j] * ((x[j] - mu[j]) * rs[j]);
        }
      }
    }
    for (int j = 0; j < nc; j++) {
      if (dweight) dweight[c0 + j] += (float)sdyx[j];
      if (dbias) dbias[c0 + j] += (float)sdy[j];
    }
    if (!dinp) continue;
    /* training: dx = w rstd (dy - mean(dy) - xhat mean(dy xhat));  eval: dx = w rstd dy */
    float a[CB] = {0}, mdy[CB] = {0}, mdyx[CB] = {0};
    for (int j = 0; j < nc; j++) {
      a[j] = weight[c0 + j] * rs[j];
      mdy[j] = training ? (float)(sdy[j] / M) : 0.0f;
      mdyx[j] = training ? (float)(sdyx[j] / M) : 0.0f;
    }
    for (int m = 0; m < M; m++) {
      size_t o = (size_t)m * C + c0;
      const float *x = inp + o, *dy = dout + o;
      float *dx = dinp + o;
      if (relu_out) {
        const float *r = relu_out + o;
        for (int j = 0; j < nc; j++) {
          float g = r[j] > 0.0f ? dy[j] : 0.0f;
          float xhat = (x[j] - mu[j]) * rs[j];
          dx[j] = a[j] * (g - mdy[j] - xhat * mdyx[j]);
        }
      } else {
        for (int j = 0; j < nc; j++) {
          float xhat = (x[j] - mu[j]) * rs[j];
          dx[j] = a[j] * (dy[j] - mdy[j] - xhat * mdyx[j]);
        }
      }
    }
  }
}

void hp_relu_mask_inplace(float *g, const float *out, size_t n) {
  HP_OMP("omp parallel for schedule(static) if(n > HP_OMP_MIN_ELEMS)")
  for (size_t i = 0; i < n; i++)
    if (!(out[i] > 0.0f)) g[i] = 0.0f;
}
