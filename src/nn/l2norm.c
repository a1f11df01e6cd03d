/* l2norm.c — see l2norm.h. */
#include "nn/l2norm.h"

#include <math.h>

void hp_l2norm_forward(float *out, float *norm, const float *inp, int N, int C, float eps) {
  HP_OMP("omp parallel for if((size_t)N * C > HP_OMP_MIN_ELEMS)")
  for (int n = 0; n < N; n++) {
    const float *x = inp + (size_t)n * C;
    float *y = out + (size_t)n * C;
    double s = 0.0;
    for (int c = 0; c < C; c++) s += (double)x[c] * x[c];
    double nr = sqrt(s);
    if (nr < eps) nr = eps;
    float inv = (float)(1.0 / nr);
    for (int c = 0; c < C; c++) y[c] = x[c] * inv;
    norm[n] = (float)nr;
  }
}

void hp_l2norm_backward(float *dinp, const float *dout, const float *out, const float *norm,
                        int N, int C, float eps) {
  HP_OMP("omp parallel for if((size_t)N * C > HP_OMP_MIN_ELEMS)")
  for (int n = 0; n < N; n++) {
    const float *y = out + (size_t)n * C, *dy = dout + (size_t)n * C;
    float *dx = dinp + (size_t)n * C;
    float inv = 1.0f / norm[n];
    if (norm[n] <= eps) { /* clamped: y = x / eps is linear in x */
      for (int c = 0; c < C; c++) dx[c] += dy[c] * inv;
      continue;
    }
    double s = 0.0;
    for (int c = 0; c < C; c++) s += (double)y[c] * dy[c];
    float sf = (float)s;
    for (int c = 0; c < C; c++) dx[c] += (dy[c] - y[c] * sf) * inv;
  }
}
