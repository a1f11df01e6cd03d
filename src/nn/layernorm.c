/* layernorm.c — see layernorm.h. */
#include "nn/layernorm.h"

#include <math.h>

void hp_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                          const float *weight, const float *bias, int N, int C, float eps) {
  HP_OMP("omp parallel for if((size_t)N * C > HP_OMP_MIN_ELEMS)")
  for (int n = 0; n < N; n++) {
    const float *x = inp + (size_t)n * C;
    float *y = out + (size_t)n * C;
    double s = 0.0;
    for (int c = 0; c < C; c++) s += x[c];
    double m = s / C;
    double v = 0.0;
    for (int c = 0; c < C; c++) {
      double d = x[c] - m;
      v += d * d;
    }
    double r = 1.0 / sqrt(v / C + (double)eps);
    float mf = (float)m, rf = (float)r;
    for (int c = 0; c < C; c++) y[c] = (x[c] - mf) * rf * weight[c] + bias[c];
    mean[n] = mf;
    rstd[n] = rf;
  }
}

void hp_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, const float *mean,
                           const float *rstd, int N, int C) {
  /* dinp = rstd * (g - mean(g) - xhat * mean(g * xhat)),  g = dout * weight */
  if (dinp) {
    HP_OMP("omp parallel for if((size_t)N * C > HP_OMP_MIN_ELEMS)")
    for (int n = 0; n < N; n++) {
      const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
      float *dx = dinp + (size_t)n * C;
      float m = mean[n], r = rstd[n];
      double sg = 0.0, sgx = 0.0;
      for (int c = 0; c < C; c++) {
        float g = dy[c] * weight[c];
        sg += g;
        sgx += (double)g * ((x[c] - m) * r);
      }
      float mg = (float)(sg / C), mgx = (float)(sgx / C);
      for (int c = 0; c < C; c++) {
        float xhat = (x[c] - m) * r;
        dx[c] += r * (dy[c] * weight[c] - mg - xhat * mgx);
      }
    }
  }
  /* Parameter gradients: reduce over rows, parallel over channels (no races). */
  if (dweight || dbias) {
    HP_OMP("omp parallel for if((size_t)N * C > HP_OMP_MIN_ELEMS)")
    for (int c = 0; c < C; c++) {
      double sw = 0.0, sb = 0.0;
      for (int n = 0; n < N; n++) {
        float dy = dout[(size_t)n * C + c];
        sw += (double)dy * ((inp[(size_t)n * C + c] - mean[n]) * rstd[n]);
        sb += dy;
      }
      if (dweight) dweight[c] += (float)sw;
      if (dbias) dbias[c] += (float)sb;
    }
  }
}
