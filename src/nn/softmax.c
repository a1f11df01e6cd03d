/* softmax.c — see softmax.h. */
#include "nn/softmax.h"

#include <math.h>

double hp_softmax_row(float *y, const float *x, int C) {
  float mx = -INFINITY;
  for (int c = 0; c < C; c++) mx = x[c] > mx ? x[c] : mx;
  double s = 0.0;
  for (int c = 0; c < C; c++) {
    float e = expf(x[c] - mx);
    y[c] = e;
    s += e;
  }
  float inv = (float)(1.0 / s);
  for (int c = 0; c < C; c++) y[c] *= inv;
  return log(s) + mx;
}

void hp_softmax_forward(float *out, const float *inp, int N, int C) {
  HP_OMP("omp parallel for if((size_t)N * C > HP_OMP_MIN_ELEMS)")
  for (int n = 0; n < N; n++) hp_softmax_row(out + (size_t)n * C, inp + (size_t)n * C, C);
}

void hp_softmax_backward(float *dinp, const float *dout, const float *out, int N, int C) {
  HP_OMP("omp parallel for if((size_t)N * C > HP_OMP_MIN_ELEMS)")
  for (int n = 0; n < N; n++) {
    const float *y = out + (size_t)n * C, *dy = dout + (size_t)n * C;
    float *dx = dinp + (size_t)n * C;
    double s = 0.0;
    for (int c = 0; c < C; c++) s += (double)dy[c] * y[c];
    float sf = (float)s;
    for (int c = 0; c < C; c++) dx[c] += y[c] * (dy[c] - sf);
  }
}
