/* conv.c — see conv.h. */
#include "nn/conv.h"

#include <cblas.h>
#include <string.h>

static int is_pointwise(int KH, int KW, int stride, int pad) {
  return KH == 1 && KW == 1 && stride == 1 && pad == 0;
}

size_t hp_conv2d_col_floats(int H, int W, int C, int KH, int KW, int stride, int pad) {
  if (is_pointwise(KH, KW, stride, pad)) return 0;
  int OH = hp_conv2d_out_size(H, KH, stride, pad), OW = hp_conv2d_out_size(W, KW, stride, pad);
  return (size_t)OH * OW * KH * KW * C;
}

/* images [nb of them] inp [nb,H,W,C] -> col [nb*OH*OW, KH*KW*C] */
static void im2col(float *col, const float *inp, int nb, int H, int W, int C, int KH, int KW,
                   int stride, int pad, int OH, int OW) {
  size_t K = (size_t)KH * KW * C;
  int M = nb * OH * OW;
  HP_OMP("omp parallel for if((size_t)M * K > HP_OMP_MIN_ELEMS)")
  for (int m = 0; m < M; m++) {
    int img = m / (OH * OW), r = m % (OH * OW), oh = r / OW, ow = r % OW;
    const float *x = inp + (size_t)img * H * W * C;
    float *dst = col + (size_t)m * K;
    for (int kh = 0; kh < KH; kh++) {
      int ih = oh * stride - pad + kh;
      for (int kw = 0; kw < KW; kw++, dst += C) {
        int iw = ow * stride - pad + kw;
        if (ih < 0 || ih >= H || iw < 0 || iw >= W)
          memset(dst, 0, (size_t)C * sizeof(float));
        else
          memcpy(dst, x + ((size_t)ih * W + iw) * C, (size_t)C * sizeof(float));
      }
    }
  }
}

/* col [nb*OH*OW, KH*KW*C] -> dinp [nb,H,W,C] += (scatter-add back). Parallel over images:
 * each image's gradient is written by one thread only. */
static void col2im_add(float *dinp, const float *col, int nb, int H, int W, int C, int KH,
                       int KW, int stride, int pad, int OH, int OW) {
  size_t K = (size_t)KH * KW * C;
  HP_OMP("omp parallel for if((size_t)nb * OH * OW * K > HP_OMP_MIN_ELEMS)")
  for (int img = 0; img < nb; img++) {
    float *dx = dinp + (size_t)img * H * W * C;
    for (int oh = 0; oh < OH; oh++)
      for (int ow = 0; ow < OW; ow++) {
        const float *src = col + ((size_t)img * OH * OW + (size_t)oh * OW + ow) * K;
        for (int kh = 0; kh < KH; kh++) {
          int ih = oh * stride - pad + kh;
          for (int kw = 0; kw < KW; kw++, src += C) {
            int iw = ow * stride - pad + kw;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            float *d = dx + ((size_t)ih * W + iw) * C;
            for (int c = 0; c < C; c++) d[c] += src[c];
          }
        }
      }
  }
}

static int chunk_images(size_t per_img, size_t col_cap, int N) {
  if (per_img == 0) return N;
  size_t nb = col_cap / per_img;
  if (nb < 1) nb = 1; /* caller broke the contract; still do one image at a time */
  return nb > (size_t)N ? N : (int)nb;
}

void hp_conv2d_forward(float *out, const float *inp, const float *weight, const float *bias,
                       float *col, size_t col_cap, int N, int H, int W, int C, int OC, int KH,
                       int KW, int stride, int pad) {
  int OH = hp_conv2d_out_size(H, KH, stride, pad), OW = hp_conv2d_out_size(W, KW, stride, pad);
  int K = KH * KW * C;
  size_t per_img = hp_conv2d_col_floats(H, W, C, KH, KW, stride, pad);
  int nbmax = chunk_images(per_img, col_cap, N);
  for (int n0 = 0; n0 < N; n0 += nbmax) {
    int nb = N - n0 < nbmax ? N - n0 : nbmax;
    int M = nb * OH * OW;
    float *o = out + (size_t)n0 * OH * OW * OC;
    const float *a = inp + (size_t)n0 * H * W * C;
    if (per_img) {
      im2col(col, a, nb, H, W, C, KH, KW, stride, pad, OH, OW);
      a = col;
    }
    float beta = 0.0f;
    if (bias) {
      HP_OMP("omp parallel for if((size_t)M * OC > HP_OMP_MIN_ELEMS)")
      for (int m = 0; m < M; m++)
        memcpy(o + (size_t)m * OC, bias, (size_t)OC * sizeof(float));
      beta = 1.0f;
    }
    /* out[M,OC] = col[M,K] . W[OC,K]^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, OC, K, 1.0f, a, K, weight, K, beta,
                o, OC);
  }
}

void hp_conv2d_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, float *col, size_t col_cap,
                        int N, int H, int W, int C, int OC, int KH, int KW, int stride, int pad) {
  int OH = hp_conv2d_out_size(H, KH, stride, pad), OW = hp_conv2d_out_size(W, KW, stride, pad);
  int K = KH * KW * C;
  if (dbias) {
    size_t M = (size_t)N * OH * OW;
    HP_OMP("omp parallel for if(M * OC > HP_OMP_MIN_ELEMS)")
    for (int oc = 0; oc < OC; oc++) {
      double s = 0.0;
      for (size_t m = 0; m < M; m++) s += dout[m * OC + oc];
      dbias[oc] += (float)s;
    }
  }
  size_t per_img = hp_conv2d_col_floats(H, W, C, KH, KW, stride, pad);
  int nbmax = chunk_images(per_img, col_cap, N);
  for (int n0 = 0; n0 < N; n0 += nbmax) {
    int nb = N - n0 < nbmax ? N - n0 : nbmax;
    int M = nb * OH * OW;
    const float *dy = dout + (size_t)n0 * OH * OW * OC;
    const float *x = inp + (size_t)n0 * H * W * C;
    float *dx = dinp ? dinp + (size_t)n0 * H * W * C : NULL;
    if (!per_img) { /* pointwise: col is the input itself */
      if (dweight)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, K, M, 1.0f, dy, OC, x, K, 1.0f,
                    dweight, K);
      if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, K, OC, 1.0f, dy, OC, weight,
                    K, 1.0f, dx, K);
      continue;
    }
    if (dweight) {
      im2col(col, x, nb, H, W, C, KH, KW, stride, pad, OH, OW);
      /* dW[OC,K] += dout[M,OC]^T . col[M,K] */
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, K, M, 1.0f, dy, OC, col, K, 1.0f,
                  dweight, K);
    }
    if (dx) {
      /* dcol[M,K] = dout[M,OC] . W[OC,K], then scatter-add into dinp */
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, K, OC, 1.0f, dy, OC, weight, K,
                  0.0f, col, K);
      col2im_add(dx, col, nb, H, W, C, KH, KW, stride, pad, OH, OW);
    }
  }
}
