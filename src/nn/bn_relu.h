/* bn_relu.h — batch norm split into "statistics" and "apply" passes, fused with ReLU and with
 * the residual add of a ResNet bottleneck (torch.nn.BatchNorm2d semantics, NHWC viewed as
 * [M,C], M = N*H*W). Same semantics as nn/batchnorm.h (double accumulation, results
 * independent of the thread count). The split lets a model normalise straight into the tensor
 * the next layer reads and fold ReLU / the residual add into the same memory pass; the
 * reductions sweep rows contiguously (ResNet50 training step, 1 thread: batch-norm backward
 * went from 14% to 3.5% of the time compared with per-channel-block reductions).
 *
 * Statistics are over this call's rows by default; with a reducer (hp_bn_reducer below) they
 * are over the rows of every participant of the reducer (synchronised batch norm, the maths of
 * PyTorch's SyncBatchNorm): the layer itself knows nothing about MPI.
 *
 * Differences from the nn_common.h conventions, on purpose: the backward here OVERWRITES
 * dinp (it may alias dout, and in-place use is the point: no extra buffer, no zeroing);
 * dweight / dbias still accumulate. */
#ifndef HP_NN_BN_RELU_H
#define HP_NN_BN_RELU_H

#include "nn/nn_common.h"

/* Reductions run over HP_BN_CHUNKS fixed row ranges (whatever the thread count, so results
 * are bitwise independent of it), each summed in double into the caller's scratch:
 * hp_bn_scratch_doubles(C) doubles, shared by hp_bn_stats and hp_bn_backward. Rows are swept
 * contiguously (all C channels of a row at once), which streams memory instead of striding. */
#define HP_BN_CHUNKS 8
static inline size_t hp_bn_scratch_doubles(int C) { return (size_t)HP_BN_CHUNKS * 3 * (size_t)C; }

/* Optional cross-participant reduction for synchronised batch norm: fn(arg, buf, n) must
 * replace buf [n] by its element-wise SUM over all participants (e.g. an MPI_Allreduce in double
 * over the training communicator), every participant calling it in the same order with the
 * same n. Returns 0 or an error code (base/error.h), which the BN calls pass on. A NULL reducer
 * (or fn == NULL) means local statistics. One call per hp_bn_stats (n = 2C+1: count, sums)
 * and one per hp_bn_backward (n = 2C+1: count, sum dy, sum dy*(x-mean)). */
typedef int (*hp_bn_reduce_fn)(void *arg, double *buf, int n);
typedef struct {
  hp_bn_reduce_fn fn;
  void *arg;
} hp_bn_reducer;

/* inp [M,C] -> mean [C], rstd [C]. scratch [hp_bn_scratch_doubles(C)].
 * training != 0: batch mean and biased variance (rstd = 1/sqrt(var+eps)); running_mean /
 *   running_var [C] are updated with momentum, the variance unbiased by M/(M-1) (M > 1).
 *   Variance in one pass, in double, of values shifted by the first row (no cancellation
 *   unless |mean| / std exceeds ~1e7).
 * training == 0: mean/rstd come from running_mean/running_var (not updated); red unused.
 * red (training only; may be NULL): synchronised statistics over N = sum of M of all
 *   participants (M may be 0 on some). Each participant sums in double the values shifted by
 *   its first row (exact local mean and sum of squared deviations), re-centres them on the
 *   running mean (the same on every participant: it is initialised identically and updated
 *   from the global statistics only) and the reducer adds (count, sum, sum of squares) of all
 *   participants in ONE call; mean/var then come from these double sums, so they differ
 *   between participant counts by double rounding only (cancellation only if
 *   |batch mean - running mean| / std exceeds ~1e6). Running statistics are updated from the
 *   global mean and the variance unbiased by N/(N-1), identically on every participant.
 *   Returns HP_ERR_CONFIG when N < 2 (the same on every participant) or the reducer's error.
 * Returns 0 on success (always when red is NULL). */
int hp_bn_stats(float *mean, float *rstd, float *running_mean, float *running_var,
                const float *inp, int M, int C, float eps, float momentum, int training,
                double *scratch, const hp_bn_reducer *red);

/* inp [M,C] -> out [M,C] = act((inp - mean) * rstd * weight + bias); act = ReLU if relu,
 * identity otherwise. out may alias inp. */
void hp_bn_apply(float *out, const float *inp, const float *mean, const float *rstd,
                 const float *weight, const float *bias, int M, int C, int relu);

/* Bottleneck tail: out [M,C] = ReLU(bn_a(xa) + r) where r = bn_b(xb) when xb != NULL
 * (projection shortcut) else r = res [M,C] (identity shortcut). */
void hp_bn_add_relu(float *out, const float *xa, const float *mean_a, const float *rstd_a,
                    const float *weight_a, const float *bias_a, const float *xb,
                    const float *mean_b, const float *rstd_b, const float *weight_b,
                    const float *bias_b, const float *res, int M, int C);

/* dout [M,C] -> dinp [M,C] (OVERWRITTEN; may alias dout), dweight [C] +=, dbias [C] +=
 * (either may be NULL). relu_out [M,C], if not NULL, is the forward's output after ReLU: dout
 * is first masked by relu_out > 0 (the ReLU backward, fused). Needs the BN input inp, weight
 * and the mean/rstd from hp_bn_stats; training must match the forward's.
 * scratch [hp_bn_scratch_doubles(C)].
 * red (training only; NULL = local): the per-channel sums of dy and dy*(x-mean) are summed
 *   over all participants (one reducer call) and divided by the global count, as
 *   SyncBatchNorm's backward; dweight/dbias receive THIS participant's share only (the
 *   parameter-gradient allreduce adds the shares). dout must be the gradient of the global
 *   loss (hpclip's convention: parameter gradients are summed across ranks).
 * Returns 0 or the reducer's error. */
int hp_bn_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                   const float *relu_out, const float *inp, const float *weight,
                   const float *mean, const float *rstd, int M, int C, int training,
                   double *scratch, const hp_bn_reducer *red);

/* g [n] *= (out > 0): ReLU backward in place, given the ReLU's output. */
void hp_relu_mask_inplace(float *g, const float *out, size_t n);

#endif
