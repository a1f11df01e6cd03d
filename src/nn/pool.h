/* pool.h — 2-D pooling over NHWC activations: max, average, global average.
 * Square stride, zero padding on all sides, floor output size (ceil_mode=False):
 * OH = (H + 2 pad - KH) / stride + 1 (hp_conv2d_out_size in conv.h). */
#ifndef HP_NN_POOL_H
#define HP_NN_POOL_H

#include <stdint.h>

#include "nn/nn_common.h"

/* inp [N,H,W,C] -> out [N,OH,OW,C]; saves argmax [N,OH,OW,C] = ih*W+iw of the chosen input
 * pixel within its image (first maximum on ties, scanning kh then kw). Padding never wins
 * (it acts as -inf, as in PyTorch); requires pad < KH, KW so no window is all padding. */
void hp_maxpool2d_forward(float *out, int32_t *argmax, const float *inp, int N, int H, int W,
                          int C, int KH, int KW, int stride, int pad);
/* dout [N,OH,OW,C] -> dinp [N,H,W,C] += routed through argmax. */
void hp_maxpool2d_backward(float *dinp, const float *dout, const int32_t *argmax, int N, int H,
                           int W, int C, int OH, int OW);

/* inp [N,H,W,C] -> out [N,OH,OW,C], window mean. count_include_pad != 0 divides by KH*KW
 * (PyTorch's default), else by the number of in-bounds pixels. */
void hp_avgpool2d_forward(float *out, const float *inp, int N, int H, int W, int C, int KH,
                          int KW, int stride, int pad, int count_include_pad);
/* dout [N,OH,OW,C] -> dinp [N,H,W,C] += */
void hp_avgpool2d_backward(float *dinp, const float *dout, int N, int H, int W, int C, int KH,
                           int KW, int stride, int pad, int count_include_pad);

/* inp [N,H,W,C] -> out [N,C] (mean over H*W) */
void hp_global_avgpool_forward(float *out, const float *inp, int N, int H, int W, int C);
/* dout [N,C] -> dinp [N,H,W,C] += dout / (H*W) */
void hp_global_avgpool_backward(float *dinp, const float *dout, int N, int H, int W, int C);

#endif
