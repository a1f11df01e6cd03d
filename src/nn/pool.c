/* pool.c — see pool.h. All loops are parallel over images (disjoint outputs and gradients);
 * the innermost loop runs over contiguous channels. */
#include "nn/pool.h"

#include <math.h>

#include "nn/conv.h"

void hp_maxpool2d_forward(float *out, int32_t *argmax, const float *inp, int N, int H, int W,
                          int C, int KH, int KW, int stride, int pad) {
  int OH = hp_conv2d_out_size(H, KH, stride, pad), OW = hp_conv2d_out_size(W, KW, stride, pad);
  HP_OMP("omp parallel for if((size_t)N * OH * OW * C * KH * KW > HP_OMP_MIN_ELEMS)")
  for (int n = 0; n < N; n++) {
    const float *x = inp + (size_t)n * H * W * C;
    for (int oh = 0; oh < OH; oh++)
      for (int ow = 0; ow < OW; ow++) {
        size_t o = (((size_t)n * OH + oh) * OW + ow) * C;
        float *y = out + o;
        int32_t *am = argmax + o;
        for (int c = 0; c < C; c++) {
          y[c] = -INFINITY;
          am[c] = -1;
        }
        for (int kh = 0; kh < KH; kh++) {
          int ih = oh * stride - pad + kh;
          if (ih < 0 || ih >= H) continue;
          for (int kw = 0; kw < KW; kw++) {
            int iw = ow * stride - pad + kw;
            if (iw < 0 || iw >= W) continue;
            const float *xp = x + ((size_t)ih * W + iw) * C;
            int32_t idx = ih * W + iw;
            for (int c = 0; c < C; c++)
              if (xp[c] > y[c] || am[c] < 0) {
                y[c] = xp[c];
                am[c] = idx;
              }
          }
        }
      }
  }
}

void hp_maxpool2d_backward(float *dinp, const float *dout, const int32_t *argmax, int N, int H,
                           int W, int C, int OH, int OW) {
  HP_OMP("omp parallel for if((size_t)N * OH * OW * C > HP_OMP_MIN_ELEMS)")
  for (int n = 0; n < N; n++) {
    float *dx = dinp + (size_t)n * H * W * C;
    size_t o0 = (size_t)n * OH * OW * C;
    for (size_t p = 0; p < (size_t)OH * OW; p++) {
      const float *dy = dout + o0 + p * C;
      const int32_t *am = argmax + o0 + p * C;
      for (int c = 0; c < C; c++)
        if (am[c] >= 0) dx[(size_t)am[c] * C + c] += dy[c];
    }
  }
}

static int window_count(int oh, int ow, int H, int W, int KH, int KW, int stride, int pad,
                        int count_include_pad) {
  if (count_include_pad) return KH * KW;
  int h0 = oh * stride - pad, w0 = ow * stride - pad;
  int h1 = h0 + KH < H ? h0 + KH : H, w1 = w0 + KW < W ? w0 + KW : W;
  if (h0 < 0) h0 = 0;
  if (w0 < 0) w0 = 0;
  int cnt = (h1 - h0) * (w1 - w0);
  return cnt > 0 ? cnt : 1;
}

void hp_avgpool2d_forward(float *out, const float *inp, int N, int H, int W, int C, int KH,
                          int KW, int stride, int pad, int count_include_pad) {
  int OH = hp_conv2d_out_size(H, KH, stride, pad), OW = hp_conv2d_out_size(W, KW, stride, pad);
  HP_OMP("omp parallel for if((size_t)N * OH * OW * C * KH * KW > HP_OMP_MIN_ELEMS)")
  for (int n = 0; n < N; n++) {
    const float *x = inp + (size_t)n * H * W * C;
    for (int oh = 0; oh < OH; oh++)
      for (int ow = 0; ow < OW; ow++) {
        float *y = out + (((size_t)n * OH + oh) * OW + ow) * C;
        for (int c = 0; c < C; c++) y[c] = 0.0f;
        for (int kh = 0; kh < KH; kh++) {
          int ih = oh * stride - pad + kh;
          if (ih < 0 || ih >= H) continue;
          for (int kw = 0; kw < KW; kw++) {
            int iw = ow * stride - pad + kw;
            if (iw < 0 || iw >= W) continue;
            const float *xp = x + ((size_t)ih * W + iw) * C;
            for (int c = 0; c < C; c++) y[c] += xp[c];
          }
        }
        float inv =
            1.0f / (float)window_count(oh, ow, H, W, KH, KW, stride, pad, count_include_pad);
        for (int c = 0; c < C; c++) y[c] *= inv;
      }
  }
}

void hp_avgpool2d_backward(float *dinp, const float *dout, int N, int H, int W, int C, int KH,
                           int KW, int stride, int pad, int count_include_pad) {
  int OH = hp_conv2d_out_size(H, KH, stride, pad), OW = hp_conv2d_out_size(W, KW, stride, pad);
  HP_OMP("omp parallel for if((size_t)N * OH * OW * C * KH * KW > HP_OMP_MIN_ELEMS)")
  for (int n = 0; n < N; n++) {
    float *dx = dinp + (size_t)n * H * W * C;
    for (int oh = 0; oh < OH; oh++)
      for (int ow = 0; ow < OW; ow++) {
        const float *dy = dout + (((size_t)n * OH + oh) * OW + ow) * C;
        float inv =
            1.0f / (float)window_count(oh, ow, H, W, KH, KW, stride, pad, count_include_pad);
        for (int kh = 0; kh < KH; kh++) {
          int ih = oh * stride - pad + kh;
          if (ih < 0 || ih >= H) continue;
          for (int kw = 0; kw < KW; kw++) {
            int iw = ow * stride - pad + kw;
            if (iw < 0 || iw >= W) continue;
            float *d = dx + ((size_t)ih * W + iw) * C;
            for (int c = 0; c < C; c++) d[c] += dy[c] * inv;
          }
        }
      }
  }
}

void hp_global_avgpool_forward(float *out, const float *inp, int N, int H, int W, int C) {
  size_t P = (size_t)H * W;
  HP_OMP("omp parallel for if((size_t)N * P * C > HP_OMP_MIN_ELEMS)")
  for (int n = 0; n < N; n++) {
    const float *x = inp + (size_t)n * P * C;
    float *y = out + (size_t)n * C;
    for (int c = 0; c < C; c++) y[c] = 0.0f;
    /* float accumulation over pixels (H*W is small after the conv stack), then scale */
    for (size_t p = 0; p < P; p++)
      for (int c = 0; c < C; c++) y[c] += x[p * C + c];
    float inv = 1.0f / (float)P;
    for (int c = 0; c < C; c++) y[c] *= inv;
  }
}

void hp_global_avgpool_backward(float *dinp, const float *dout, int N, int H, int W, int C) {
  size_t P = (size_t)H * W;
  float inv = 1.0f / (float)P;
  HP_OMP("omp parallel for if((size_t)N * P * C > HP_OMP_MIN_ELEMS)")
  for (int n = 0; n < N; n++) {
    float *dx = dinp + (size_t)n * P * C;
    const float *dy = dout + (size_t)n * C;
    for (size_t p = 0; p < P; p++)
      for (int c = 0; c < C; c++) dx[p * C + c] += dy[c] * inv;
  }
}
