/* conv.h — 2-D convolution, NHWC, via im2col + one big sgemm.
 *
 * Layout choice: activations are NHWC ([N,H,W,C], channels fastest) and weights are
 * [OC,KH,KW,C] (= PyTorch's [OC,C,KH,KW] weight permuted (0,2,3,1)). With NHWC, one im2col
 * row (one output pixel) is KH*KW contiguous runs of C floats (memcpy-friendly), and the
 * whole batch chunk is ONE sgemm  out[M,OC] = col[M,K] . W[OC,K]^T  with M = images*OH*OW,
 * K = KH*KW*C, whose result is already NHWC — no per-image GEMMs, no transposes. A 1x1,
 * stride-1, pad-0 convolution skips im2col entirely (it is a linear layer over pixels).
 * Square stride and zero padding (same on all sides); no dilation, no groups.
 *
 * Scratch: col holds the im2col matrix for a chunk of images; pass its capacity col_cap in
 * floats. Images are processed in chunks of max(1, col_cap / hp_conv2d_col_floats(...))
 * images, so col_cap >= hp_conv2d_col_floats(...) (one image) is required, and
 * N * hp_conv2d_col_floats(...) gives a single GEMM for the whole batch. For the 1x1 case
 * hp_conv2d_col_floats returns 0 and col may be NULL. Backward uses the same col buffer
 * (first for the weight gradient, then as dcol for col2im). */
#ifndef HP_NN_CONV_H
#define HP_NN_CONV_H

#include "nn/nn_common.h"

static inline int hp_conv2d_out_size(int in, int k, int stride, int pad) {
  return (in + 2 * pad - k) / stride + 1;
}

/* floats of im2col scratch per image; 0 when the 1x1/stride-1/pad-0 fast path applies */
size_t hp_conv2d_col_floats(int H, int W, int C, int KH, int KW, int stride, int pad);

/* inp [N,H,W,C], weight [OC,KH,KW,C], bias [OC] or NULL -> out [N,OH,OW,OC] */
void hp_conv2d_forward(float *out, const float *inp, const float *weight, const float *bias,
                       float *col, size_t col_cap, int N, int H, int W, int C, int OC, int KH,
                       int KW, int stride, int pad);

/* dout [N,OH,OW,OC] -> dinp [N,H,W,C] +=, dweight [OC,KH,KW,C] +=, dbias [OC] += (each may
 * be NULL). Needs the forward's inp (im2col is recomputed) and weight. */
void hp_conv2d_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, float *col, size_t col_cap,
                        int N, int H, int W, int C, int OC, int KH, int KW, int stride, int pad);

#endif
