/* bn_relu.c — see bn_relu.h. Reductions: HP_BN_CHUNKS fixed row ranges summed in double
 * into the caller's scratch, then combined in a fixed order (deterministic for any thread
 * count); element-wise passes are parallel over rows. */
#include "nn/bn_relu.h"

#include <math.h>
#include <stdint.h>

#include "base/error.h"

enum { RB = 32 }; /* rows per float partial sum in the backward reduction */

static void chunk_rows(int M, int ch, int *m0, int *m1) {
  *m0 = (int)((int64_t)M * ch / HP_BN_CHUNKS);
  *m1 = (int)((int64_t)M * (ch + 1) / HP_BN_CHUNKS);
}

static int sync_stats(float *mean, float *rstd, float *running_mean, float *running_var,
                      const float *k, int M, int C, float eps, float momentum, double *scratch,
                      const hp_bn_reducer *red);

int hp_bn_stats(float *mean, float *rstd, float *running_mean, float *running_var,
                const float *inp, int M, int C, float eps, float momentum, int training,
                double *scratch, const hp_bn_reducer *red) {
  if (!training) {
    for (int c = 0; c < C; c++) {
      mean[c] = running_mean[c];
      rstd[c] = (float)(1.0 / sqrt((double)running_var[c] + (double)eps));
    }
    return 0;
  }
  if (red && !red->fn) red = NULL;
  if (M < (red ? 0 : 1)) HP_ERROR(HP_ERR_INTERNAL, "batch norm over %d rows", M);
  const float *restrict k = inp; /* shift: the first row */
  HP_OMP("omp parallel for schedule(static) if((size_t)M * C > HP_OMP_MIN_ELEMS)")
  for (int ch = 0; ch < HP_BN_CHUNKS; ch++) {
    int m0, m1;
    chunk_rows(M, ch, &m0, &m1);
    double *restrict s = scratch + (size_t)ch * 3 * C, *restrict ss = s + C;
    for (int c = 0; c < C; c++) s[c] = ss[c] = 0.0;
    for (int m = m0; m < m1; m++) {
      const float *restrict x = inp + (size_t)m * C;
      for (int c = 0; c < C; c++) {
        double d = (double)(x[c] - k[c]);
        s[c] += d;
        ss[c] += d * d;
      }
    }
  }
  if (red) return sync_stats(mean, rstd, running_mean, running_var, k, M, C, eps, momentum, scratch, red);
  for (int c = 0; c < C; c++) {
    double S = 0.0, SS = 0.0;
    for (int ch = 0; ch < HP_BN_CHUNKS; ch++) {
      S += scratch[(size_t)ch * 3 * C + c];
      SS += scratch[(size_t)ch * 3 * C + C + c];
    }
    double mu = S / M, var = SS / M - mu * mu;
    if (var < 0.0) var = 0.0;
    mu += k[c];
    mean[c] = (float)mu;
    rstd[c] = (float)(1.0 / sqrt(var + (double)eps));
    double unb = M > 1 ? var * M / (M - 1) : var;
    running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mu);
    running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * unb);
  }
  return 0;
}

/* Synchronised statistics from the chunk sums of values shifted by k (this participant's first
 * row): exact local mean / squared deviations, re-centred on the common running mean K, summed
 * over the participants in one reducer call. buf = chunk 0's slots: [0,C) sum (x - K),
 * [C,2C) sum (x - K)^2, [2C] count (each channel's chunk slots are read before written). */
static int sync_stats(float *mean, float *rstd, float *running_mean, float *running_var,
                      const float *k, int M, int C, float eps, float momentum, double *scratch,
                      const hp_bn_reducer *red) {
  double *buf = scratch;
  for (int c = 0; c < C; c++) {
    double S = 0.0, SS = 0.0;
    for (int ch = 0; ch < HP_BN_CHUNKS; ch++) {
      S += scratch[(size_t)ch * 3 * C + c];
      SS += scratch[(size_t)ch * 3 * C + C + c];
    }
    double s = 0.0, q = 0.0;
    if (M > 0) {
      double m2 = SS - S * S / M; /* local sum of squared deviations */
      if (m2 < 0.0) m2 = 0.0;
      double d = ((double)k[c] + S / M) - (double)running_mean[c]; /* local mean - K */
      s = M * d;
      q = m2 + M * d * d;
    }
    buf[c] = s;
    buf[C + c] = q;
  }
  buf[2 * (size_t)C] = (double)M;
  HP_CALL(red->fn(red->arg, buf, 2 * C + 1));
  double N = buf[2 * (size_t)C];
  if (!(N >= 2.0))
    HP_ERROR(HP_ERR_CONFIG, "synchronised batch norm over %.0f value(s) per channel in the global batch: "
             "training needs more than one (a larger global batch or image size)", N);
  for (int c = 0; c < C; c++) {
    double dm = buf[c] / N, var = buf[C + c] / N - dm * dm;
    if (var < 0.0) var = 0.0;
    double mu = (double)running_mean[c] + dm;
    mean[c] = (float)mu;
    rstd[c] = (float)(1.0 / sqrt(var + (double)eps));
    double unb = var * N / (N - 1.0);
    running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mu);
    running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * unb);
  }
  return 0;
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

int hp_bn_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                   const float *relu_out, const float *inp, const float *weight,
                   const float *mean, const float *rstd, int M, int C, int training,
                   double *scratch, const hp_bn_reducer *red) {
  if (red && !red->fn) red = NULL;
  /* pass 1: per chunk, sdy = sum g, sdxm = sum g (x - mean)   (g = masked dout); float
   * partial sums over blocks of RB rows (vectorise 8-wide) flushed into double */
  HP_OMP("omp parallel for schedule(static) if((size_t)M * C > HP_OMP_MIN_ELEMS)")
  for (int ch = 0; ch < HP_BN_CHUNKS; ch++) {
    int m0, m1;
    chunk_rows(M, ch, &m0, &m1);
    double *sdy = scratch + (size_t)ch * 3 * C, *sdxm = sdy + C;
    float *restrict fa = (float *)(sdxm + C), *restrict fb = fa + C;
    for (int c = 0; c < C; c++) sdy[c] = sdxm[c] = 0.0;
    for (int mb = m0; mb < m1; mb += RB) {
      int me = mb + RB < m1 ? mb + RB : m1;
      for (int c = 0; c < C; c++) fa[c] = fb[c] = 0.0f;
      for (int m = mb; m < me; m++) {
        size_t o = (size_t)m * C;
        const float *restrict x = inp + o, *restrict dy = dout + o;
        if (relu_out) {
          const float *restrict r = relu_out + o;
          for (int c = 0; c < C; c++) {
            float g = r[c] > 0.0f ? dy[c] : 0.0f; /* a select: vectorises */
            fa[c] += g;
            fb[c] += g * (x[c] - mean[c]);
          }
        } else {
          for (int c = 0; c < C; c++) {
            fa[c] += dy[c];
            fb[c] += dy[c] * (x[c] - mean[c]);
          }
        }
      }
      for (int c = 0; c < C; c++) {
        sdy[c] += fa[c];
        sdxm[c] += fb[c];
      }
    }
  }
  /* combine in fixed order; reuse chunk 0's slots for the per-channel coefficients */
  float *coef_a = NULL, *coef_b = NULL, *coef_d = NULL;
  for (int c = 0; c < C; c++) {
    double Sdy = 0.0, Sdxm = 0.0;
    for (int ch = 0; ch < HP_BN_CHUNKS; ch++) {
      Sdy += scratch[(size_t)ch * 3 * C + c];
      Sdxm += scratch[(size_t)ch * 3 * C + C + c];
    }
    double sdyx = Sdxm * rstd[c]; /* sum g xhat */
    if (dweight) dweight[c] += (float)sdyx;
    if (dbias) dbias[c] += (float)Sdy;
    scratch[c] = Sdy;
    scratch[C + c] = sdyx;
  }
  if (!dinp) return 0; /* (a reducer is then skipped: every participant must pass dinp alike) */
  /* synchronised: global sums and count (one reducer call); the coefficients below divide by
   * the global count. scratch[2C] is free until the coefficients are written. */
  double N = (double)M;
  if (red && training) {
    scratch[2 * (size_t)C] = (double)M;
    HP_CALL(red->fn(red->arg, scratch, 2 * C + 1));
    N = scratch[2 * (size_t)C];
  }
  /* dx = a (g - mdy - xhat mdyx), a = w rstd: as dx = a g - (b + d (x - mean)) with
   * b = a mdy, d = a rstd mdyx, coefficients in float in the scratch (after chunk 0's) */
  coef_a = (float *)(scratch + 2 * (size_t)C);
  coef_b = coef_a + C;
  coef_d = coef_b + C;
  for (int c = 0; c < C; c++) {
    float a = weight[c] * rstd[c];
    coef_a[c] = a;
    coef_b[c] = training ? (float)(a * (scratch[c] / N)) : 0.0f;
    coef_d[c] = training ? (float)(a * rstd[c] * (scratch[C + c] / N)) : 0.0f;
  }
  HP_OMP("omp parallel for schedule(static) if((size_t)M * C > HP_OMP_MIN_ELEMS)")
  for (int m = 0; m < M; m++) {
    size_t o = (size_t)m * C;
    const float *x = inp + o, *dy = dout + o; /* dy may alias dx: no restrict on these */
    float *dx = dinp + o;
    const float *restrict ca = coef_a, *restrict cb = coef_b, *restrict cd = coef_d;
    if (relu_out) {
      const float *r = relu_out + o;
      for (int c = 0; c < C; c++) {
        float g = r[c] > 0.0f ? dy[c] : 0.0f;
        dx[c] = ca[c] * g - (cb[c] + cd[c] * (x[c] - mean[c]));
      }
    } else {
      for (int c = 0; c < C; c++)
        dx[c] = ca[c] * dy[c] - (cb[c] + cd[c] * (x[c] - mean[c]));
    }
  }
  return 0;
}

void hp_relu_mask_inplace(float *g, const float *out, size_t n) {
  HP_OMP("omp parallel for schedule(static) if(n > HP_OMP_MIN_ELEMS)")
  for (size_t i = 0; i < n; i++)
    if (!(out[i] > 0.0f)) g[i] = 0.0f;
}
