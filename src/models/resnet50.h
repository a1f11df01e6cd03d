/* resnet50.h — torchvision-style ResNet with bottleneck blocks (ResNet50 = layers {3,4,6,3},
 * width 64) as the image tower of a CLIP model: the classifier is dropped, the tower ends in a
 * global average pool giving features [B, 32*width] (= [B,2048]); the projection to the
 * joint embedding and the L2 normalisation are the CLIP head's job.
 *
 * Architecture (torchvision ResNet "v1.5"), activations NHWC:
 *   stem:  conv1 7x7/2 pad 3 (3 -> width) + bn1 + ReLU + maxpool 3x3/2 pad 1
 *   stage s = 1..4 (planes P = width << (s-1), output 4P, first block of stages 2..4 has
 *   stride 2), each block:
 *     conv1 1x1 (-> P) + bn1 + ReLU, conv2 3x3/stride pad 1 (P -> P) + bn2 + ReLU (the stride
 *     sits on this 3x3 conv, v1.5), conv3 1x1 (P -> 4P) + bn3, shortcut = identity or
 *     downsample (1x1/stride conv + bn) when the shape changes, out = ReLU(bn3 + shortcut)
 *   head:  global average pool -> features [B, 4 * (width << 3)]
 *   Input S x S: final map is S/32 x S/32 (4x4 for 128x128; S a multiple of 32 is not
 *   required, sizes follow PyTorch's floor rule).
 *
 * Parameters live in an hp_params table, named as torchvision's resnet50 state dict under
 * the prefix (default "visual."): visual.conv1.weight, visual.bn1.{weight,bias,running_mean,
 * running_var}, visual.layer1.0.conv1.weight, visual.layer1.0.bn1.*, ...,
 * visual.layer1.0.downsample.0.weight (conv), visual.layer1.0.downsample.1.* (bn).
 *   - conv weights are stored [OC,KH,KW,IC]: torchvision's [OC,IC,KH,KW] tensor permuted
 *     (0,2,3,1) (w.permute(0,2,3,1) when importing, (0,3,1,2) when exporting). Flag
 *     HP_PARAM_DECAY. Convs have no bias (as torchvision).
 *   - bn weight/bias [C]: flags 0 (no weight decay). bn running_mean/running_var [C]:
 *     HP_PARAM_BUFFER (not trained; their slots in the gradient buffer stay zero).
 *   - num_batches_tracked is NOT stored: it only matters for momentum=None (cumulative
 *     averaging); with momentum 0.1 it is a counter PyTorch never reads. An importer skips it,
 *     an exporter may write 0 or a step count.
 *   Parameter count of ResNet50: 23,508,032 trainable (torchvision resnet50 25,557,032 minus
 *   the 2048x1000+1000 fc) + 53,120 running-statistic floats.
 *
 * Batch norm: training != 0 in hp_resnet_forward normalises with batch statistics and updates
 * the running statistics with momentum cfg.bn_momentum (0.1) and the unbiased batch variance;
 * training == 0 uses the running statistics (inference / eval mode; no communication).
 *   - bn_reduce.fn == NULL (hp_resnet_build's default): statistics of THIS CALL ON THIS RANK
 *     (PyTorch's plain BatchNorm2d under DDP). With several ranks each normalises over its
 *     local batch, so results depend on the rank count and ranks' running statistics drift
 *     apart (train.c broadcasts rank 0's after every forward, as DDP's broadcast_buffers).
 *   - bn_reduce set (train.c does so for model.batch_norm = "sync" on more than one rank: an
 *     MPI_Allreduce in double over a duplicate of the training communicator): synchronised
 *     batch norm, the maths of PyTorch's SyncBatchNorm. Every BN layer makes one reducer call
 *     in forward (count, sum, sum of squares per channel) and one in backward (sum dy, sum
 *     dy*(x-mean)), so all ranks normalise with the GLOBAL batch statistics and compute the
 *     exact gradient of the global batch; running statistics are updated from the global
 *     statistics (unbiased with the global count) and agree on every rank; the trained
 *     parameters agree with a 1-rank run at the same global batch within float rounding
 *     (tests/train/cli_train_syncbn.sh). Per forward+backward: 2 x 53 small reductions for
 *     ResNet50 (2C+1 doubles each, C <= 2048). Every rank must make the same sequence of
 *     forward/backward calls (they do: same model, same step); the check that BN sees more
 *     than one value per channel becomes a global one (every rank gets the same
 *     HP_ERR_CONFIG), so a local batch of one 1x1-final-map image is fine.
 *   See nn/bn_relu.h for the numerics (double sums re-centred on the running mean).
 *
 * Threading: GEMMs go to OpenBLAS (its own threads); element-wise passes and reductions use
 * OpenMP. Results do not depend on the OpenMP thread count except through BLAS.
 */
#ifndef HP_MODELS_RESNET50_H
#define HP_MODELS_RESNET50_H

#include <stddef.h>
#include <stdint.h>

#include "nn/params.h"
#include "nn/bn_relu.h"

typedef struct {
  int layers[4];          /* bottleneck blocks per stage: {3,4,6,3} = ResNet50 */
  int width;              /* stem channels and planes of stage 1: 64 = ResNet50 */
  int image_size;         /* S: images are [B,S,S,3] */
  float bn_eps;           /* 1e-5 (torchvision) */
  float bn_momentum;      /* 0.1 (torchvision) */
  int zero_init_residual; /* hp_resnet_init sets every block's bn3.weight to 0 (torchvision's
                             zero_init_residual=True; default 0 = torchvision's default) */
  float mean[3], std[3];  /* uint8 input normalisation (see hp_resnet_forward_u8) */
  char prefix[32];        /* parameter name prefix, "visual." */
} hp_resnet_config;

/* ResNet50 at image size S (layers {3,4,6,3}, width 64, eps 1e-5, momentum 0.1, ImageNet
 * mean/std, prefix "visual."). Tests change layers/width afterwards for a tiny variant. */
void hp_resnet_config_resnet50(hp_resnet_config *cfg, int image_size);

/* One convolution + its batch norm. Shapes: input [B,ih,iw,ic] -> [B,oh,ow,oc]. */
typedef struct {
  int ic, oc, k, stride, pad, ih, iw, oh, ow;
  int tidx;                           /* table index of the conv weight (seeded init) */
  size_t w, bn_w, bn_b, bn_rm, bn_rv; /* offsets into params data/grad */
  float *c;    /* [B,oh,ow,oc] conv output = BN input (saved for backward) */
  float *a;    /* [B,oh,ow,oc] ReLU(BN(c)) (saved) — NULL for bn3/downsample (fused) */
  float *mean; /* [oc] statistics used by the last forward */
  float *rstd; /* [oc] */
} hp_resnet_conv;

typedef struct {
  int conv[4]; /* indices into convs: conv1, conv2, conv3, downsample (-1: identity) */
  float *in;   /* [B,H,W,Cin]  block input (previous block's out or the pooled stem) */
  float *out;  /* [B,H',W',4P] ReLU(bn3 + shortcut) */
} hp_resnet_block;

typedef struct {
  hp_resnet_config cfg;
  int nconv, nblock;
  hp_resnet_conv *convs; /* convs[0] = stem, then conv1, conv2, conv3, [downsample] per block */
  hp_resnet_block *blocks;
  int feat_dim;          /* 32 * width (2048) */
  int pool_h, pool_w;    /* after the stem maxpool */
  int final_h, final_w;  /* last stage map (4x4 at 128) */
  /* activations (hp_resnet_alloc_acts) */
  int Bcap, infer;       /* infer: hp_resnet_alloc_infer's views (eval forward only) */
  float *arena;          /* all saved activations (infer: statistics, xbuf and pool only) */
  int32_t *argmax;       /* [B,pool_h,pool_w,width] maxpool argmax */
  float *pool;           /* [B,pool_h,pool_w,width] */
  float *xbuf;           /* [B,S,S,3] normalised images for hp_resnet_forward_u8 */
  float *col;            /* im2col scratch */
  size_t col_cap;        /* floats */
  float *g[3];           /* backward workspace, each max activation tensor (infer: every
                            activation, see hp_resnet_alloc_infer) */
  double *bnscr;         /* batch-norm reduction scratch (nn/bn_relu.h) */
  size_t g_floats;
  size_t act_bytes_per_sample; /* saved activations + workspace, per image */
  size_t scratch_bytes;        /* col scratch (shared by the batch) */
  /* state of the last forward */
  const float *x;        /* images of the last forward (caller's memory or xbuf) */
  int B, training;
  hp_grad_hook hook;           /* optional per-block gradient hand-off in backward */
  hp_bn_reducer bn_reduce;     /* synchronised batch norm in training (fn NULL = local BN);
                                  set by the caller after hp_resnet_build */
} hp_resnet;

/* Register every tensor in p (before hp_params_alloc) and set up the model's shapes. */
int hp_resnet_build(hp_resnet *m, const hp_resnet_config *cfg, hp_params *p);
/* torchvision's init, seeded through hp_params_fill_normal (same values for any rank count):
 * conv weights kaiming normal, fan_out mode, ReLU gain: N(0, 2 / (OC*KH*KW)); bn weight 1,
 * bias 0 (bn3.weight 0 if cfg.zero_init_residual); running_mean 0, running_var 1. */
void hp_resnet_init(const hp_resnet *m, hp_params *p, uint64_t seed);
/* Allocate saved activations and scratch for batches of up to B images; sets
 * act_bytes_per_sample / scratch_bytes. May be called again to resize. */
int hp_resnet_alloc_acts(hp_resnet *m, int B);
/* Activations for inference only (training = 0 forwards, no backward; the evaluation stages):
 * nothing is kept for backward, every activation lives in the three workspace buffers, BN and
 * ReLU apply in place, so the forward's output is bitwise that of hp_resnet_alloc_acts'
 * layout. A training forward or a backward after it is HP_ERR_INTERNAL. */
int hp_resnet_alloc_infer(hp_resnet *m, int B);
void hp_resnet_free(hp_resnet *m);

/* images [B,S,S,3] float, already normalised (NHWC, RGB) -> feat [B,feat_dim].
 * The images must stay valid and unchanged until hp_resnet_backward (the stem's weight
 * gradient reads them). training: 1 = batch statistics + running-stat update, 0 = running
 * statistics. Training with B*final_h*final_w == 1 is rejected (BN needs > 1 value). */
int hp_resnet_forward(hp_resnet *m, hp_params *p, const float *images, int B, int training,
                      float *feat);
/* images [B,S,S,3] uint8 RGB -> normalised x = (u/255 - cfg.mean[c]) / cfg.std[c] into the
 * model's own buffer, then hp_resnet_forward. Default mean/std are torchvision's ImageNet
 * constants (0.485,0.456,0.406)/(0.229,0.224,0.225); OpenAI CLIP uses
 * (0.48145466,0.4578275,0.40821073)/(0.26862954,0.26130258,0.27577711) — set cfg to match
 * the run's preprocessing. */
int hp_resnet_forward_u8(hp_resnet *m, hp_params *p, const uint8_t *images, int B,
                         int training, float *feat);
/* dfeat [B,feat_dim] -> grad (+=, layout of p: usually p->grad) for every trainable tensor,
 * through the last forward (its B and mode). Running-stat slots are not touched. No image
 * gradient. */
int hp_resnet_backward(hp_resnet *m, const hp_params *p, float *grad, const float *dfeat);

#endif
