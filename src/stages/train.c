/* train.c — the `train` stage: data-parallel CLIP training -> ckpt.h5.
 *
 * Every rank holds the whole model (one hp_params: text tower, image tower, heads, logit
 * scale). Each step the global batch of train.batch pairs is split evenly over the ranks
 * (train_data.h: seeded permutation per epoch, one seeded caption per image); each rank reads
 * its rows, runs both towers, and the contrastive loss uses global negatives
 * (models/clip_loss.h: each rank's loss is its share of the global mean, so gradients are
 * SUMMED across ranks). Backward runs heads -> image tower -> text tower and hands the
 * finished gradient ranges to the bucketed non-blocking allreduce as they complete
 * (comm/allreduce.h), overlapping communication with the rest of backward. With train.zero1
 * the gradients are reduce-scattered instead, each rank updates its slice of the AdamW moments
 * and parameters, and the parameters are all-gathered.
 *
 * Files in the run directory:
 *   ckpt.h5         the stage output: the parameters of the epoch with the lowest validation
 *                   loss, the per-epoch curves (/history), the vocabulary, the test-split
 *                   retrieval figures in the `state` attribute. Written once, at the end.
 *   train-state.h5  the latest restart state (same schema: parameters, optimiser moments,
 *                   `state` = "epoch= batch= best_val= ..." with doubles in hex), written every
 *                   train.checkpoint_every steps and at each epoch end; left at the end with
 *                   done=1 (the last parameters).
 *   train-best.h5   the best parameters so far (for a restart); removed at the end.
 * Restart: a train-state.h5 with this run's fingerprint and done=0 is resumed from; a resumed
 * run ends bitwise equal to an uninterrupted one with the same rank count (the sampler, the
 * caption choice and dropout are functions of (seed, epoch, step, sample), never of the
 * history of the process).
 */
#define _POSIX_C_SOURCE 200809L /* SIGKILL (test hook) */
#include <cblas.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/memory.h"
#include "base/preempt.h"
#include "base/watchdog.h"
#include "base/log.h"
#include "comm/allreduce.h"
#include "comm/shard.h"
#include "config/config.h"
#include "io/checkpoint.h"
#include "io/dataset.h"
#include "models/clip.h"
#include "models/clip_loss.h"
#include "nn/optim.h"
#include "stages/clip_eval.h"
#include "train/restart_state.h"
#include "stages/stage.h"
#include "data/train_data.h"

/* ---- settings ------------------------------------------------------------------------------ */

typedef struct {
  int64_t batch, epochs, patience, ckpt_every, max_steps, eval_batch, T;
  double lr, min_lr, grad_clip, bucket_mb, momentum, weight_decay, l2;
  int64_t warmup;
  int zero1, cosine, sgd, soft;
  float text_dropout, image_dropout;
  uint64_t seed;
  const char *init_ckpt;
  int sync_bn;                   /* model.batch_norm = "sync" (ResNet, > 1 rank) */
  hp_clip_config mc;
} train_cfg;

static int read_cfg(const hp_config *cfg, int64_t image_size, int64_t vocab, train_cfg *t) {
  memset(t, 0, sizeof *t);
  t->batch = hp_cfg_int(cfg, "train.batch");
  t->epochs = hp_cfg_int(cfg, "train.epochs");
  t->patience = hp_cfg_int(cfg, "train.patience");
  t->ckpt_every = hp_cfg_int(cfg, "train.checkpoint_every");
  t->max_steps = hp_cfg_int(cfg, "train.max_steps");
  t->eval_batch = hp_cfg_int(cfg, "train.eval_batch");
  if (t->eval_batch == 0) t->eval_batch = t->batch;
  t->T = hp_cfg_int(cfg, "data.caption_len");
  t->lr = hp_cfg_float(cfg, "train.lr");
  t->min_lr = hp_cfg_float(cfg, "train.min_lr");
  t->grad_clip = hp_cfg_float(cfg, "train.grad_clip");
  t->bucket_mb = hp_cfg_float(cfg, "train.bucket_mb");
  t->momentum = hp_cfg_float(cfg, "train.momentum");
  t->weight_decay = hp_cfg_float(cfg, "train.weight_decay");
  t->l2 = hp_cfg_float(cfg, "train.l2_penalty");
  t->warmup = hp_cfg_int(cfg, "train.warmup_steps");
  t->zero1 = hp_cfg_bool(cfg, "train.zero1");
  t->soft = hp_cfg_bool(cfg, "train.soft_targets");
  t->cosine = strcmp(hp_cfg_str(cfg, "train.schedule"), "cosine") == 0;
  t->sgd = strcmp(hp_cfg_str(cfg, "train.optimizer"), "sgd") == 0;
  t->seed = (uint64_t)hp_cfg_int(cfg, "run.seed");
  t->init_ckpt = hp_cfg_str(cfg, "train.init_checkpoint");
  t->text_dropout = (float)hp_cfg_float(cfg, "model.text_dropout");
  t->image_dropout = (float)hp_cfg_float(cfg, "model.image_dropout");

  /* the model: one mapping from the model.* keys, shared with the evaluation stages */
  HP_CALL(hp_clip_config_from_cfg(cfg, image_size, vocab, t->T, &t->mc));
  t->sync_bn = t->mc.image_kind == HP_CLIP_IMAGE_RESNET && strcmp(hp_cfg_str(cfg, "model.batch_norm"), "sync") == 0;
  return 0;
}

/* ---- the training state --------------------------------------------------------------------- */

typedef struct {
  int64_t epoch, batch, step;  /* next batch to run: (epoch, batch); optimiser steps taken */
  double best_val;             /* INFINITY before the first epoch */
  int64_t best_epoch, bad;     /* epochs completed at the best; epochs without improvement */
  double loss_sum;             /* sum of this epoch's step losses so far */
  int64_t loss_n;
  int done;
} train_state;

static void state_text(const train_state *s, char *buf, size_t n, const char *extra) {
  snprintf(buf, n,
           "epoch=%" PRId64 " batch=%" PRId64 " step=%" PRId64 " best_val=%a best_epoch=%" PRId64
           " bad_epochs=%" PRId64 " loss_sum=%a loss_n=%" PRId64 " done=%d%s%s",
           s->epoch, s->batch, s->step, s->best_val, s->best_epoch, s->bad, s->loss_sum, s->loss_n, s->done,
           extra ? " " : "", extra ? extra : "");
}

static int parse_state(const hp_restart *rs, const char *text, train_state *s) {
  int64_t done;
  HP_CALL(hp_restart_get(rs, text, "epoch", 0, &s->epoch));
  HP_CALL(hp_restart_get(rs, text, "batch", 0, &s->batch));
  HP_CALL(hp_restart_get(rs, text, "step", 0, &s->step));
  HP_CALL(hp_restart_get(rs, text, "best_val", 1, &s->best_val));
  HP_CALL(hp_restart_get(rs, text, "best_epoch", 0, &s->best_epoch));
  HP_CALL(hp_restart_get(rs, text, "bad_epochs", 0, &s->bad));
  HP_CALL(hp_restart_get(rs, text, "loss_sum", 1, &s->loss_sum));
  HP_CALL(hp_restart_get(rs, text, "loss_n", 0, &s->loss_n));
  HP_CALL(hp_restart_get(rs, text, "done", 0, &done));
  s->done = (int)done;
  return 0;
}

/* ---- the trainer ------------------------------------------------------------------------------ */

typedef struct {
  hp_stage_ctx *ctx;
  train_cfg c;
  hp_train_data d;
  hp_clip m;
  hp_optim opt;
  hp_lr_schedule sched;
  hp_bucket_allreduce bar;
  MPI_Comm bn_comm;              /* synchronised batch norm (a duplicate of ctx->comm), or NULL */
  double bn_time;                /* seconds in the batch-norm reductions (training steps) */
  int64_t bn_calls;
  size_t lo, hi;                 /* this rank's optimiser slice */
  int *zcounts, *zdispls;        /* ZeRO-1 slices of every rank (floats) */
  float *gslice;                 /* ZeRO-1 reduce-scattered gradient slice */
  int64_t Bl, Bmax;              /* local train batch, activation capacity */
  int64_t ntrain, spe, total_steps;
  int64_t *perm;
  uint8_t *img, *valid;
  int32_t *ids;
  float *dimg, *dtxt;
  hp_clip_loss_ws ws;
  uint8_t *labels, *blab;        /* train.soft_targets: [N,L] every image's labels, [batch,L] one batch's */
  int64_t L;
  float *best, *buffers;         /* best parameters; packed buffer tensors (BN statistics) */
  size_t nbuffers;
  char path_ckpt[4096];
  hp_restart rs;                 /* train-state.h5, train-best.h5, the loss curves */
  train_state s;
  double t_start;
  int64_t step0;
  double comm_total, step_total;
  int nan_step;                  /* test hook: poison a gradient at this step (-1 = off) */
  int64_t crash_step;            /* test hook: the last rank SIGKILLs itself after this step */
  char nan_tensor[HP_PARAM_NAME_MAX];
} trainer;

static int bar_ready(void *arg, size_t lo) { return hp_bar_ready((hp_bucket_allreduce *)arg, lo); }

/* Synchronised batch norm's reducer (nn/bn_relu.h): sum over the ranks, in double, on a
 * duplicate communicator so these blocking reductions never interleave with the gradient
 * buckets' non-blocking allreduces on ctx->comm. */
static int bn_allreduce(void *arg, double *buf, int n) {
  trainer *tr = arg;
  double t0 = hp_now();
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_DOUBLE, MPI_SUM, tr->bn_comm));
  tr->bn_time += hp_now() - t0;
  tr->bn_calls++;
  return 0;
}

/* Name of the tensor holding element `i` of the buffer. */
static const char *tensor_at(const hp_params *p, size_t i) {
  for (int k = 0; k < p->n; k++)
    if (i >= p->t[k].offset && i < p->t[k].offset + p->t[k].numel) return p->t[k].name;
  return "(alignment gap)";
}

static int64_t first_nonfinite(const float *x, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(x[i])) return (int64_t)i;
  return -1;
}

/* Collective: the NaN/Inf guard. Every rank reaches it with the same verdict. */
static int numeric_error(trainer *tr, const char *what, double value, int64_t bad_elem) {
  const hp_params *p = &tr->m.p;
  char where[256] = "";
  if (bad_elem >= 0) {
    const hp_tensor_info *t = hp_params_find(p, tensor_at(p, (size_t)bad_elem));
    snprintf(where, sizeof where, "; first bad tensor: gradient of %s (element %" PRId64 ")",
             tensor_at(p, (size_t)bad_elem), t ? bad_elem - (int64_t)t->offset : bad_elem);
  } else {
    int64_t w = first_nonfinite(p->data, p->total);
    if (w >= 0)
      snprintf(where, sizeof where, "; first bad tensor: parameter %s", tensor_at(p, (size_t)w));
    else
      snprintf(where, sizeof where, "; the parameters are finite (activations overflowed: lower train.lr)");
  }
  int err = hp_error_set(HP_ERR_NUMERIC, __FILE__, __LINE__, __func__,
                         "train: step %" PRId64 " (epoch %" PRId64 ", batch %" PRId64 "): %s is %g%s",
                         tr->s.step + 1, tr->s.epoch + 1, tr->s.batch + 1, what, value, where);
  return hp_agree(tr->ctx->comm, err);
}

static int write_ckpt(trainer *tr, const char *path, const float *m, const float *v, const char *extra,
                      int with_history) {
  char state[1024];
  state_text(&tr->s, state, sizeof state, extra);
  HP_CALL(hp_restart_write(&tr->rs, path, &tr->m.p, tr->s.step, tr->s.epoch, state, m, v, with_history));
  return 0;
}

/* Optimiser moments of the whole buffer on rank 0 (gathered from the ZeRO-1 slices). */
static int gather_moments(trainer *tr, float **m, float **v) {
  size_t n = tr->m.p.total;
  *m = *v = NULL;
  HP_CALLOC(*m, n, "optimiser moments (checkpoint)");
  if (!tr->c.sgd) HP_CALLOC(*v, n, "optimiser moments (checkpoint)");
  if (!tr->c.zero1) {
    memcpy(*m, tr->opt.m, n * sizeof(float));
    if (*v) memcpy(*v, tr->opt.v, n * sizeof(float));
    return 0;
  }
  int cnt = (int)(tr->hi - tr->lo);
  HP_MPI(MPI_Gatherv(tr->opt.m, cnt, MPI_FLOAT, *m, tr->zcounts, tr->zdispls, MPI_FLOAT, 0, tr->ctx->comm));
  if (*v) HP_MPI(MPI_Gatherv(tr->opt.v, cnt, MPI_FLOAT, *v, tr->zcounts, tr->zdispls, MPI_FLOAT, 0, tr->ctx->comm));
  return 0;
}

static int save_state(trainer *tr) {
  double t0 = hp_now();
  float *m, *v;
  HP_CALL(gather_moments(tr, &m, &v));
  HP_CALL(write_ckpt(tr, tr->rs.path_state, m, v, NULL, 1));
  free(m);
  free(v);
  hp_log_debug("train: restart state (epoch %" PRId64 ", batch %" PRId64 ", step %" PRId64 ") -> %s in %.2f s",
               tr->s.epoch, tr->s.batch, tr->s.step, tr->rs.path_state, hp_now() - t0);
  return 0;
}

/* Resume from train-state.h5 when it belongs to this run. Returns *resumed. */
static int try_resume(trainer *tr, int *resumed) {
  *resumed = 0;
  hp_stage_ctx *ctx = tr->ctx;
  hp_restart *rs = &tr->rs;
  int found;
  HP_CALL(hp_restart_find(rs, &found));
  if (!found) return 0;
  size_t n = tr->m.p.total;
  float *m = NULL, *v = NULL;
  HP_CALLOC(m, n, "restart moments");
  HP_CALLOC(v, n, "restart moments");
  hp_ckpt_info info;
  HP_CALL(hp_ckpt_read(ctx->comm, rs->path_state, tr->m.desc, &tr->m.p, m, v, &info));
  train_state s = tr->s;
  int fresh = 0;
  HP_CALL(parse_state(rs, info.state, &s));
  if (s.done) {
    hp_log_info("train: %s is a finished run: training again from the start", rs->path_state);
    fresh = 1;
  }
  if (!fresh) {
    if (!info.has_m || (!tr->c.sgd && !info.has_v))
      HP_ERROR(HP_ERR_INPUT, "%s: /optim: optimiser moments missing; cannot resume (delete the file to start afresh)",
               rs->path_state);
    HP_CALL(hp_restart_history(rs, &info, s.epoch));
    size_t cnt = tr->hi - tr->lo;
    memcpy(tr->opt.m, m + tr->lo, cnt * sizeof(float));
    if (!tr->c.sgd) memcpy(tr->opt.v, v + tr->lo, cnt * sizeof(float));
    tr->opt.t = s.step;
    tr->s = s;
    *resumed = 1;
  }
  hp_ckpt_info_free(&info);
  free(m);
  free(v);
  if (fresh) {
    hp_clip_init(&tr->m, tr->c.seed); /* the read overwrote the parameters */
    return 0;
  }
  if (tr->s.best_epoch > 0) HP_CALL(hp_restart_read_best(rs, &tr->m.p, tr->best));
  hp_log_info("train: resuming from %s: epoch %" PRId64 ", batch %" PRId64 ", step %" PRId64
              " (best validation loss %.5f after epoch %" PRId64 ")",
              rs->path_state, tr->s.epoch + 1, tr->s.batch + 1, tr->s.step, tr->s.best_val, tr->s.best_epoch);
  return 0;
}

/* Pack / broadcast the non-trained buffers (batch-norm running statistics) from rank 0, as
 * PyTorch DDP's broadcast_buffers: every rank then holds the same model. With synchronised
 * batch norm the ranks already compute identical running statistics from the allreduced sums;
 * the broadcast stays as a guarantee (MPI does not promise bitwise-identical allreduce results
 * on every rank) and costs one small broadcast (53,120 floats for ResNet50) per step. */
static int sync_buffers(trainer *tr) {
  if (tr->nbuffers == 0 || tr->ctx->size == 1) return 0;
  const hp_params *p = &tr->m.p;
  size_t k = 0;
  for (int i = 0; i < p->n; i++)
    if (p->t[i].flags & HP_PARAM_BUFFER) {
      memcpy(tr->buffers + k, p->data + p->t[i].offset, p->t[i].numel * sizeof(float));
      k += p->t[i].numel;
    }
  HP_MPI(MPI_Bcast(tr->buffers, (int)k, MPI_FLOAT, 0, tr->ctx->comm));
  k = 0;
  for (int i = 0; i < p->n; i++)
    if (p->t[i].flags & HP_PARAM_BUFFER) {
      memcpy(p->data + p->t[i].offset, tr->buffers + k, p->t[i].numel * sizeof(float));
      k += p->t[i].numel;
    }
  return 0;
}

/* Fill ids/valid for local rows with the given captions. */
static void fill_text(trainer *tr, const int64_t *caps, int64_t n) {
  int64_t T = tr->c.T;
  for (int64_t i = 0; i < n; i++) memcpy(tr->ids + i * T, tr->d.ids + caps[i] * T, (size_t)T * sizeof(int32_t));
  hp_bert_mask_from_ids(tr->valid, tr->ids, (size_t)(n * T), 0);
}

static void fmt_time(double s, char *buf, size_t n) {
  if (!(s >= 0) || s > 1e8) {
    snprintf(buf, n, "?");
    return;
  }
  long t = (long)(s + 0.5);
  if (t >= 3600)
    snprintf(buf, n, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60)
    snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
  else
    snprintf(buf, n, "%lds", t);
}

/* One optimiser step on global batch tr->s.batch of epoch tr->s.epoch. */
static int train_step(trainer *tr, double *loss) {
  hp_stage_ctx *ctx = tr->ctx;
  hp_clip *m = &tr->m;
  hp_params *p = &m->p;
  const int64_t Bl = tr->Bl, B = tr->c.batch;
  double t0 = hp_now(), comm = 0.0;
  const int64_t *rows = tr->perm + tr->s.batch * B + (int64_t)ctx->rank * Bl;
  int64_t caps[4096];
  int64_t *cp = Bl <= 4096 ? caps : NULL;
  if (!cp) HP_CALLOC(cp, Bl, "caption choice");
  for (int64_t i = 0; i < Bl; i++) cp[i] = hp_train_pick_caption(&tr->d, tr->c.seed, rows[i], tr->s.epoch);
  fill_text(tr, cp, Bl);
  if (cp != caps) free(cp);
  HP_CALL(hp_train_read_images(&tr->d, rows, Bl, tr->img));

  hp_drop tdrop = {.p = tr->c.text_dropout, .seed = tr->c.seed, .step = (uint64_t)tr->s.step,
                   .sample0 = (uint64_t)(ctx->rank * Bl)};
  hp_drop idrop = tdrop;
  idrop.p = tr->c.image_dropout;
  const float *temb, *iemb;
  HP_CALL(hp_clip_encode_text(m, tr->ids, tr->valid, (int)Bl, (int)tr->c.T, &tdrop, &temb));
  HP_CALL(hp_clip_encode_image(m, tr->img, (int)Bl, 1, &idrop, &iemb));
  double tc = hp_now();
  HP_CALL(sync_buffers(tr));
  hp_clip_loss_out out;
  if (tr->labels) {
    const int64_t *grows = tr->perm + tr->s.batch * B;
    for (int64_t i = 0; i < B; i++) memcpy(tr->blab + i * tr->L, tr->labels + grows[i] * tr->L, (size_t)tr->L);
    HP_CALL(hp_clip_loss_set_targets(&tr->ws, tr->blab, (int)tr->L));
  }
  HP_CALL(hp_clip_loss(&tr->ws, ctx->comm, iemb, temb, hp_clip_logit_scale(m), tr->dimg, tr->dtxt, &out));
  comm += hp_now() - tc;
  if (!isfinite(out.loss)) return numeric_error(tr, "the contrastive loss", out.loss, -1);
  *loss = out.loss;

  hp_params_zero_grad(p);
  if (tr->nan_step == tr->s.step + 1 && ctx->rank == 0) { /* test hook (HPCLIP_TEST_NAN_GRAD) */
    const hp_tensor_info *t = hp_params_find(p, tr->nan_tensor);
    if (t) p->grad[t->offset] = NAN;
  }
  double wait = 0.0;
  if (!tr->c.zero1) {
    hp_bar_begin(&tr->bar);
    HP_CALL(hp_clip_backward(m, tr->dimg, tr->dtxt, out.dlogit_scale, bar_ready, &tr->bar));
    HP_CALL(hp_bar_finish(&tr->bar, &wait));
  } else {
    HP_CALL(hp_clip_backward(m, tr->dimg, tr->dtxt, out.dlogit_scale, NULL, NULL));
    double tw = hp_now();
    HP_MPI(MPI_Reduce_scatter(p->grad, tr->gslice, tr->zcounts, MPI_FLOAT, MPI_SUM, ctx->comm));
    wait = hp_now() - tw;
  }
  comm += wait;

  /* update (Keras order: L2 gradient, global norm, clip, step) */
  float *w = p->data + tr->lo, *g = tr->c.zero1 ? tr->gslice : p->grad + tr->lo;
  hp_optim_add_l2(&tr->opt, w, g);
  double sq = hp_optim_sqnorm(&tr->opt, g);
  if (tr->c.zero1) {
    double tw = hp_now();
    HP_MPI(MPI_Allreduce(MPI_IN_PLACE, &sq, 1, MPI_DOUBLE, MPI_SUM, ctx->comm));
    comm += hp_now() - tw;
  }
  if (!isfinite(sq)) {
    int64_t bad = first_nonfinite(g, tr->hi - tr->lo);
    int64_t gbad = bad >= 0 ? bad + (int64_t)tr->lo : INT64_MAX;
    HP_MPI(MPI_Allreduce(MPI_IN_PLACE, &gbad, 1, MPI_INT64_T, MPI_MIN, ctx->comm));
    return numeric_error(tr, "the squared gradient norm", sq, gbad == INT64_MAX ? -1 : gbad);
  }
  float scale = hp_clip_scale(sqrt(sq), (float)tr->c.grad_clip);
  float lr = hp_lr_at(&tr->sched, tr->s.step);
  hp_optim_step(&tr->opt, w, g, lr, scale);
  if (tr->c.zero1) {
    double tw = hp_now();
    HP_MPI(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, p->data, tr->zcounts, tr->zdispls, MPI_FLOAT, ctx->comm));
    comm += hp_now() - tw;
  }
  hp_clip_clamp(m);
  tr->s.step++;

  double dt = hp_now() - t0;
  tr->comm_total += comm;
  tr->step_total += dt;
  int64_t done = tr->s.step - tr->step0;
  double eta = (double)(tr->total_steps - tr->s.step) * (tr->step_total / (double)done);
  char etas[32];
  fmt_time(eta, etas, sizeof etas);
  hp_log_info("train: epoch %" PRId64 "/%" PRId64 " step %" PRId64 "/%" PRId64 " loss %.4f acc %.2f lr %.2e | "
              "%.1f pairs/s, comm %.0f%% | ETA %s",
              tr->s.epoch + 1, tr->c.epochs, tr->s.step, tr->total_steps, out.loss, 0.5 * (out.acc_i2t + out.acc_t2i),
              (double)lr, (double)B / dt, 100.0 * comm / dt, etas);
  return 0;
}

/* Validation loss over a split: global eval batches (negatives within each), first caption of
 * every image, eval mode. Mean over all pairs. */
static int eval_loss(trainer *tr, int split, double *loss) {
  hp_stage_ctx *ctx = tr->ctx;
  int64_t n = tr->d.nrows[split], Be = tr->c.eval_batch < n ? tr->c.eval_batch : n;
  const int64_t *list = tr->d.rows[split];
  double sum = 0.0;
  int64_t caps[4096];
  for (int64_t a = 0; a < n; a += Be) {
    int64_t Bg = n - a < Be ? n - a : Be, r0, bl;
    hp_shard_range(Bg, ctx->size, ctx->rank, &r0, &bl);
    const int64_t *rows = list + a + r0;
    int64_t *cp = bl <= 4096 ? caps : NULL;
    if (!cp) HP_CALLOC(cp, bl, "validation captions");
    for (int64_t i = 0; i < bl; i++) cp[i] = tr->d.cap_first[rows[i]];
    fill_text(tr, cp, bl);
    if (cp != caps) free(cp);
    HP_CALL(hp_train_read_images(&tr->d, rows, bl, tr->img));
    const float *temb = tr->dtxt, *iemb = tr->dimg; /* any valid pointer when bl = 0 */
    if (bl > 0) {
      HP_CALL(hp_clip_encode_text(&tr->m, tr->ids, tr->valid, (int)bl, (int)tr->c.T, NULL, &temb));
      HP_CALL(hp_clip_encode_image(&tr->m, tr->img, (int)bl, 0, NULL, &iemb));
    }
    hp_clip_loss_ws ws;
    hp_clip_loss_out out;
    HP_CALL(hp_clip_loss_ws_init(&ws, ctx->comm, (int)bl, tr->m.cfg.embed_dim));
    if (tr->labels) { /* the same objective as training: soft targets within the eval batch */
      for (int64_t i = 0; i < Bg; i++) memcpy(tr->blab + i * tr->L, tr->labels + list[a + i] * tr->L, (size_t)tr->L);
      HP_CALL(hp_clip_loss_set_targets(&ws, tr->blab, (int)tr->L));
    }
    HP_CALL(hp_clip_loss(&ws, ctx->comm, iemb, temb, hp_clip_logit_scale(&tr->m), NULL, NULL, &out));
    hp_clip_loss_ws_free(&ws);
    sum += out.loss * (double)Bg;
  }
  *loss = n > 0 ? sum / (double)n : NAN;
  return 0;
}

/* ---- test-split retrieval ------------------------------------------------------------------- */

typedef struct {
  int64_t n_images, n_captions;
  double i2t[3], t2i[3]; /* recall at 1, 5, 10 */
} recall_out;

/* Embed `n` items [i0, i0+n) of this rank (images when caps == NULL, else the caption ids caps)
 * into out [n,E], in chunks of the activation capacity. */
static int embed_items(trainer *tr, const int64_t *items, int64_t n, int captions, float *out) {
  int64_t E = tr->m.cfg.embed_dim;
  for (int64_t a = 0; a < n; a += tr->Bmax) {
    int64_t b = n - a < tr->Bmax ? n - a : tr->Bmax;
    const float *emb;
    if (captions) {
      fill_text(tr, items + a, b);
      HP_CALL(hp_clip_encode_text(&tr->m, tr->ids, tr->valid, (int)b, (int)tr->c.T, NULL, &emb));
    } else {
      HP_CALL(hp_train_read_images(&tr->d, items + a, b, tr->img));
      HP_CALL(hp_clip_encode_image(&tr->m, tr->img, (int)b, 0, NULL, &emb));
    }
    memcpy(out + a * E, emb, (size_t)(b * E) * sizeof(float));
  }
  return 0;
}

static int gather_rows(MPI_Comm comm, int size, int64_t n, int64_t E, float *all) {
  int *cnt = NULL, *dsp = NULL;
  HP_CALLOC(cnt, size, "gather counts");
  HP_CALLOC(dsp, size, "gather displacements");
  for (int r = 0; r < size; r++) {
    int64_t a, c;
    hp_shard_range(n, size, r, &a, &c);
    if ((a + c) * E > INT32_MAX) HP_ERROR(HP_ERR_MEM, "test embeddings: %lld rows too many to gather", (long long)n);
    cnt[r] = (int)(c * E);
    dsp[r] = (int)(a * E);
  }
  HP_MPI(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, all, cnt, dsp, MPI_FLOAT, comm));
  free(cnt);
  free(dsp);
  return 0;
}

/* Image -> caption: every test image ranks all captions of test images; a hit at k when one of
 * its own captions is among the k best (ties count against it). Caption -> image: every test
 * caption ranks all test images. */
static int test_recall(trainer *tr, recall_out *res) {
  hp_stage_ctx *ctx = tr->ctx;
  const hp_train_data *d = &tr->d;
  int64_t ni = d->nrows[2], E = tr->m.cfg.embed_dim;
  memset(res, 0, sizeof *res);
  if (ni == 0) return 0;
  int64_t nc = 0;
  for (int64_t i = 0; i < ni; i++) nc += d->cap_count[d->rows[2][i]];
  int64_t *cap = NULL, *cap_img = NULL, *img_c0 = NULL;
  HP_CALLOC(cap, nc, "test captions");
  HP_CALLOC(cap_img, nc, "test caption images");
  HP_CALLOC(img_c0, ni + 1, "test caption ranges");
  for (int64_t i = 0, k = 0; i < ni; i++) {
    img_c0[i] = k;
    int64_t im = d->rows[2][i];
    for (int64_t j = 0; j < d->cap_count[im]; j++, k++) {
      cap[k] = d->cap_first[im] + j;
      cap_img[k] = i;
    }
    img_c0[i + 1] = k;
  }
  res->n_images = ni;
  res->n_captions = nc;
  float *ie = NULL, *ce = NULL, *sc = NULL;
  HP_CALLOC(ie, ni * E, "test image embeddings");
  HP_CALLOC(ce, (nc > 0 ? nc : 1) * E, "test caption embeddings");
  int64_t a, n;
  hp_shard_range(ni, ctx->size, ctx->rank, &a, &n);
  HP_CALL(embed_items(tr, d->rows[2] + a, n, 0, ie + a * E));
  HP_CALL(gather_rows(ctx->comm, ctx->size, ni, E, ie));
  int64_t ca, cn;
  hp_shard_range(nc, ctx->size, ctx->rank, &ca, &cn);
  HP_CALL(embed_items(tr, cap + ca, cn, 1, ce + ca * E));
  HP_CALL(gather_rows(ctx->comm, ctx->size, nc, E, ce));
  const int64_t QB = 256, ks[3] = {1, 5, 10};
  int64_t maxk = ni > nc ? ni : nc;
  HP_CALLOC(sc, QB * maxk, "similarity block");
  double hits[6] = {0};
  /* image queries [a, a+n) */
  for (int64_t q0 = a; q0 < a + n; q0 += QB) {
    int64_t qb = a + n - q0 < QB ? a + n - q0 : QB;
    if (nc > 0)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)qb, (int)nc, (int)E, 1.0f, ie + q0 * E, (int)E, ce,
                  (int)E, 0.0f, sc, (int)nc);
    for (int64_t q = 0; q < qb; q++) {
      const float *s = sc + q * nc;
      int64_t i = q0 + q, c0 = img_c0[i], c1 = img_c0[i + 1];
      if (c0 == c1) continue; /* an image without captions: never a hit */
      float best = -INFINITY;
      for (int64_t c = c0; c < c1; c++) best = s[c] > best ? s[c] : best;
      int64_t rank = 0;
      for (int64_t c = 0; c < nc; c++)
        if ((c < c0 || c >= c1) && s[c] >= best) rank++;
      for (int k = 0; k < 3; k++) hits[k] += rank < ks[k];
    }
  }
  /* caption queries [ca, ca+cn) */
  for (int64_t q0 = ca; q0 < ca + cn; q0 += QB) {
    int64_t qb = ca + cn - q0 < QB ? ca + cn - q0 : QB;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)qb, (int)ni, (int)E, 1.0f, ce + q0 * E, (int)E, ie,
                (int)E, 0.0f, sc, (int)ni);
    for (int64_t q = 0; q < qb; q++) {
      const float *s = sc + q * ni;
      int64_t t = cap_img[q0 + q], rank = 0;
      for (int64_t i = 0; i < ni; i++)
        if (i != t && s[i] >= s[t]) rank++;
      for (int k = 0; k < 3; k++) hits[3 + k] += rank < ks[k];
    }
  }
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, hits, 6, MPI_DOUBLE, MPI_SUM, ctx->comm));
  for (int k = 0; k < 3; k++) {
    res->i2t[k] = hits[k] / (double)ni;
    res->t2i[k] = nc > 0 ? hits[3 + k] / (double)nc : 0.0;
  }
  free(cap);
  free(cap_img);
  free(img_c0);
  free(ie);
  free(ce);
  free(sc);
  return 0;
}

/* ---- set-up ----------------------------------------------------------------------------------- */

/* Checks every rank decides identically, before any training work: agreed collectively. */
static int check_setup(trainer *tr) {
  hp_stage_ctx *ctx = tr->ctx;
  const char *job = hp_config_path(ctx->cfg);
  if (tr->c.batch % ctx->size)
    HP_ERROR(HP_ERR_CONFIG, "%s: train.batch = %" PRId64 " is not divisible by the %d ranks of this job (every rank "
             "takes an equal share of the global batch); choose a multiple of %d or another rank count",
             job, tr->c.batch, ctx->size, ctx->size);
  if (tr->d.nrows[0] < tr->c.batch)
    HP_ERROR(HP_ERR_INPUT, "%s: %" PRId64 " training images, fewer than one global batch (train.batch = %" PRId64
             "); lower train.batch or use a larger dataset", tr->d.path, tr->d.nrows[0], tr->c.batch);
  if (tr->d.nrows[1] < 1)
    HP_ERROR(HP_ERR_INPUT, "%s: no validation images (/split has no 1): early stopping and the best checkpoint "
             "need the validation split", tr->d.path);
  /* ResNet batch norm needs more than one value per channel: per rank with local BN, over the
   * global batch with synchronised BN (images below 32x32 aside, whose last map is still
   * 1x1: hp_bn_stats then reports it, identically on every rank) */
  if (tr->c.mc.image_kind == HP_CLIP_IMAGE_RESNET && (tr->c.sync_bn ? tr->c.batch : tr->c.batch / ctx->size) < 2)
    HP_ERROR(HP_ERR_CONFIG, "%s: train.batch = %" PRId64 " on %d rank(s) leaves one image per %s: ResNet batch norm "
             "needs at least 2%s", job, tr->c.batch, ctx->size, tr->c.sync_bn ? "batch" : "rank",
             tr->c.sync_bn || ctx->size == 1 ? "" : " (model.batch_norm = \"sync\" normalises over the global batch)");
  return 0;
}

/* train.soft_targets: every image's labels on every rank (N x L bytes). */
static int load_labels(trainer *tr, const char *dpath) {
  hp_dataset *ds = NULL;
  HP_CALL(hp_dataset_open(tr->ctx->comm, dpath, &ds));
  hp_dataset_dims dims = hp_dataset_get_dims(ds);
  int err = 0;
  if (dims.n_labels == 0)
    err = hp_error_set(HP_ERR_CONFIG, __FILE__, __LINE__, __func__,
                       "%s: train.soft_targets = true needs labels, but %s has none (no /labels)",
                       hp_config_path(tr->ctx->cfg), dpath);
  if (!err && dims.n_labels > INT32_MAX)
    err = hp_error_set(HP_ERR_CONFIG, __FILE__, __LINE__, __func__, "%s: too many labels", dpath);
  if (err) {
    hp_dataset_close(ds);
    HP_CALL(err);
  }
  tr->L = dims.n_labels;
  int64_t eb = tr->c.eval_batch > tr->c.batch ? tr->c.eval_batch : tr->c.batch;
  HP_CALLOC(tr->labels, (size_t)(dims.n_images > 0 ? dims.n_images : 1) * (size_t)tr->L, "soft-target labels");
  HP_CALLOC(tr->blab, (size_t)eb * (size_t)tr->L, "soft-target batch labels");
  err = hp_dataset_read_labels(ds, 0, dims.n_images, tr->labels);
  hp_dataset_close(ds);
  HP_CALL(err);
  hp_log_info("train: label-aware soft targets over %" PRId64 " labels (train.soft_targets)", tr->L);
  return 0;
}

/* Peak memory per rank before the big allocations (base/memory.h). */
static int check_memory(trainer *tr) {
  hp_params *p = &tr->m.p;
  size_t act = 0;
  HP_CALL(hp_clip_acts_estimate(&tr->m, (int)tr->Bmax, &act));
  size_t pb = p->total * sizeof(float);
  size_t opt = p->total * sizeof(float) * (tr->c.sgd ? 1 : 2); /* upper bound: ZeRO-1 keeps a slice */
  size_t px = (size_t)tr->d.S * tr->d.S * 3;
  size_t data = (size_t)tr->d.M * tr->c.T * sizeof(int32_t) + (size_t)tr->Bmax * px * 2;
  size_t need = 2 * pb + opt + act + 2 * pb + data;
  char detail[512];
  snprintf(detail, sizeof detail,
           "parameters + gradients %.1f MiB, optimiser state %.1f MiB, activations for %" PRId64
           " images %.1f MiB, best copy + checkpoint staging %.1f MiB, data %.1f MiB",
           2 * pb / 1048576.0, opt / 1048576.0, tr->Bmax, act / 1048576.0, 2 * pb / 1048576.0, data / 1048576.0);
  return hp_mem_require(tr->ctx->comm, "train", hp_cfg_float(tr->ctx->cfg, "run.memory_limit"), need, 2 * pb, detail,
                        "train.batch (or more ranks), train.eval_batch, the model.* sizes");
}

static int setup(trainer *tr) {
  hp_stage_ctx *ctx = tr->ctx;
  hp_config *cfg = ctx->cfg;
  HP_CALL(hp_run_path(ctx, "ckpt.h5", tr->path_ckpt, sizeof tr->path_ckpt));
  char dpath[4096];
  HP_CALL(hp_run_path(ctx, "dataset.h5", dpath, sizeof dpath));
  int64_t batch = hp_cfg_int(cfg, "train.batch"), eb = hp_cfg_int(cfg, "train.eval_batch");
  if (eb == 0) eb = batch;
  int64_t bl = batch / ctx->size > 0 ? batch / ctx->size : 1, el = (eb + ctx->size - 1) / ctx->size;
  tr->Bmax = bl > el ? bl : el;
  HP_CALL(hp_train_data_open(ctx->comm, dpath, hp_cfg_int(cfg, "data.caption_len"), tr->Bmax, &tr->d));
  int err = read_cfg(cfg, tr->d.S, hp_vocab_size(tr->d.vocab), &tr->c);
  if (!err) err = check_setup(tr);
  if (!err) err = hp_clip_build(&tr->m, &tr->c.mc);
  HP_CALL(hp_agree(ctx->comm, err));
  tr->Bl = tr->c.batch / ctx->size;
  tr->ntrain = tr->d.nrows[0];
  tr->spe = tr->ntrain / tr->c.batch;
  tr->total_steps = tr->spe * tr->c.epochs;
  if (tr->c.max_steps > 0 && tr->c.max_steps < tr->total_steps) tr->total_steps = tr->c.max_steps;

  hp_params *p = &tr->m.p;
  size_t act = 0;
  HP_CALL(check_memory(tr));
  HP_CALL(hp_clip_alloc_acts(&tr->m, (int)tr->Bmax, &act));
  if (tr->c.mc.image_kind == HP_CLIP_IMAGE_RESNET && tr->c.sync_bn && ctx->size > 1) {
    HP_MPI(MPI_Comm_dup(ctx->comm, &tr->bn_comm));
    tr->m.resnet.bn_reduce = (hp_bn_reducer){.fn = bn_allreduce, .arg = tr};
  }
  if (tr->c.mc.image_kind == HP_CLIP_IMAGE_RESNET)
    hp_log_info("train: ResNet batch norm: %s", tr->bn_comm != MPI_COMM_NULL ? "synchronised over the ranks (global batch statistics)"
                : ctx->size > 1 ? "local to each rank (model.batch_norm = \"local\")" : "over the batch (1 rank)");
  hp_clip_init(&tr->m, tr->c.seed);
  /* optimiser slice */
  tr->lo = 0;
  tr->hi = p->total;
  if (tr->c.zero1) {
    HP_CALLOC(tr->zcounts, ctx->size, "ZeRO-1 counts");
    HP_CALLOC(tr->zdispls, ctx->size, "ZeRO-1 displacements");
    int64_t chunks = (int64_t)((p->total + 15) / 16);
    for (int r = 0; r < ctx->size; r++) {
      int64_t a, c;
      hp_shard_range(chunks, ctx->size, r, &a, &c);
      size_t lo = (size_t)a * 16, hi = (size_t)(a + c) * 16;
      if (hi > p->total) hi = p->total;
      if (lo > p->total) lo = p->total;
      if (hi - lo > (size_t)INT32_MAX) HP_ERROR(HP_ERR_MEM, "ZeRO-1 slice above 2^31 floats");
      tr->zcounts[r] = (int)(hi - lo);
      tr->zdispls[r] = (int)lo;
      if (r == ctx->rank) {
        tr->lo = lo;
        tr->hi = hi;
      }
    }
    HP_CALLOC(tr->gslice, tr->hi - tr->lo + 1, "ZeRO-1 gradient slice");
  }
  hp_optim_config oc;
  if (tr->c.sgd) {
    hp_optim_config_sgd(&oc);
    oc.momentum = (float)tr->c.momentum;
  } else {
    hp_optim_config_adamw(&oc);
  }
  oc.weight_decay = (float)tr->c.weight_decay;
  oc.l2 = (float)tr->c.l2;
  HP_CALL(hp_optim_init(&tr->opt, &oc, p, tr->lo, tr->hi));
  tr->sched = (hp_lr_schedule){.kind = tr->c.cosine ? HP_LR_WARMUP_COSINE : HP_LR_CONSTANT, .base = (float)tr->c.lr,
                               .warmup = tr->c.warmup, .total = tr->spe * tr->c.epochs, .floor = (float)tr->c.min_lr};
  if (tr->c.max_steps > 0 && tr->c.max_steps < tr->sched.total) tr->sched.total = tr->c.max_steps;
  size_t bucket = (size_t)(tr->c.bucket_mb * 1048576.0 / sizeof(float));
  HP_CALL(hp_bar_init(&tr->bar, ctx->comm, p->grad, p->total, bucket > 0 ? bucket : 1));
  /* batch buffers */
  size_t px = (size_t)tr->d.S * tr->d.S * 3;
  HP_CALLOC(tr->perm, tr->ntrain, "epoch permutation");
  HP_CALLOC(tr->img, (size_t)tr->Bmax * px, "image batch");
  HP_CALLOC(tr->ids, (size_t)tr->Bmax * tr->c.T, "caption ids batch");
  HP_CALLOC(tr->valid, (size_t)tr->Bmax * tr->c.T, "caption mask batch");
  HP_CALLOC(tr->dimg, (size_t)tr->Bmax * tr->m.cfg.embed_dim, "image embedding gradient");
  HP_CALLOC(tr->dtxt, (size_t)tr->Bmax * tr->m.cfg.embed_dim, "text embedding gradient");
  HP_CALL(hp_clip_loss_ws_init(&tr->ws, ctx->comm, (int)tr->Bl, tr->m.cfg.embed_dim));
  if (tr->c.soft) HP_CALL(load_labels(tr, dpath));
  HP_CALLOC(tr->best, p->total, "best parameters");
  for (int i = 0; i < p->n; i++)
    if (p->t[i].flags & HP_PARAM_BUFFER) tr->nbuffers += p->t[i].numel;
  HP_CALLOC(tr->buffers, tr->nbuffers + 1, "buffer broadcast");
  tr->rs = (hp_restart){.stage = "train", .inputs = "dataset", .state_file = "train-state.h5",
                        .best_file = "train-best.h5", .model = tr->m.desc, .optimizer = tr->c.sgd ? "sgd" : "adamw",
                        .vocab = tr->d.vocab, .max_epochs = tr->c.epochs};
  HP_CALL(hp_restart_init(&tr->rs, ctx));
  tr->s.best_val = INFINITY;
  memcpy(tr->best, p->data, p->total * sizeof(float));

  /* start: resume, or initialise (optionally from another checkpoint) */
  int resumed;
  HP_CALL(try_resume(tr, &resumed));
  if (!resumed && tr->c.init_ckpt[0]) {
    hp_ckpt_info info;
    HP_CALL(hp_ckpt_read(ctx->comm, tr->c.init_ckpt, tr->m.desc, p, NULL, NULL, &info));
    hp_ckpt_info_free(&info);
    hp_log_info("train: parameters initialised from %s", tr->c.init_ckpt);
  }

  const char *env = getenv("HPCLIP_TEST_NAN_GRAD"); /* "STEP:TENSOR" (tests only) */
  tr->nan_step = -1;
  if (env && sscanf(env, "%d:%127s", &tr->nan_step, tr->nan_tensor) != 2) tr->nan_step = -1;
  env = getenv("HPCLIP_TEST_CRASH_AT_STEP"); /* simulate a rank dying (tests only) */
  tr->crash_step = env ? strtoll(env, NULL, 10) : -1;

  /* memory report */
  double MiB = 1.0 / 1048576.0;
  size_t pb = p->total * sizeof(float), ob = (tr->hi - tr->lo) * sizeof(float) * (tr->c.sgd ? 1 : 2);
  size_t extra = 2 * pb /* best + checkpoint staging */ + (tr->c.zero1 ? (tr->hi - tr->lo) * sizeof(float) : 0);
  size_t data = (size_t)tr->d.M * tr->c.T * sizeof(int32_t) + (size_t)tr->Bmax * px * 2;
  hp_log_info("train: model %s: %zu parameters (%zu trainable), %d tensors", tr->m.desc, p->total,
              hp_params_trainable(p), p->n);
  hp_log_info("train: %" PRId64 " training / %" PRId64 " validation / %" PRId64 " test images, %" PRId64
              " steps per epoch (global batch %" PRId64 " = %d x %" PRId64 "), %s%s, bucket %.2f MiB",
              tr->d.nrows[0], tr->d.nrows[1], tr->d.nrows[2], tr->spe, tr->c.batch, ctx->size, tr->Bl,
              tr->c.sgd ? "SGD" : "AdamW", tr->c.zero1 ? " with ZeRO-1 sharded state" : "", tr->c.bucket_mb);
  hp_log_info("train: memory per rank: parameters %.1f MiB, gradients %.1f MiB, optimiser state %.1f MiB%s, "
              "activations %.1f MiB, best copy + staging %.1f MiB, data %.1f MiB; total %.1f MiB",
              pb * MiB, pb * MiB, ob * MiB, tr->c.zero1 ? " (ZeRO-1 slice)" : "", act * MiB, extra * MiB,
              data * MiB, (2 * pb + ob + act + extra + data) * MiB);
  return 0;
}

static void teardown(trainer *tr) {
  hp_train_data_close(&tr->d);
  if (tr->bn_comm != MPI_COMM_NULL) MPI_Comm_free(&tr->bn_comm);
  hp_clip_free(&tr->m);
  hp_optim_free(&tr->opt);
  hp_bar_free(&tr->bar);
  hp_clip_loss_ws_free(&tr->ws);
  free(tr->labels);
  free(tr->blab);
  free(tr->zcounts);
  free(tr->zdispls);
  free(tr->gslice);
  free(tr->perm);
  free(tr->img);
  free(tr->ids);
  free(tr->valid);
  free(tr->dimg);
  free(tr->dtxt);
  free(tr->best);
  free(tr->buffers);
  hp_restart_free(&tr->rs);
}

/* Epoch end: validation, curves, best, patience, restart state. *stop = early stopping. */
static int end_epoch(trainer *tr, int *stop) {
  double val, t0 = hp_now();
  HP_CALL(eval_loss(tr, 1, &val));
  double tl = tr->s.loss_n ? tr->s.loss_sum / (double)tr->s.loss_n : NAN;
  int64_t e = tr->s.epoch;
  hp_restart_record(&tr->rs, e, tl, val);
  tr->s.epoch = e + 1;
  tr->s.batch = 0;
  tr->s.loss_sum = 0.0;
  tr->s.loss_n = 0;
  if (!isfinite(val)) return numeric_error(tr, "the validation loss", val, -1);
  int better = val < tr->s.best_val;
  if (better) {
    tr->s.best_val = val;
    tr->s.best_epoch = e + 1;
    tr->s.bad = 0;
    memcpy(tr->best, tr->m.p.data, tr->m.p.total * sizeof(float));
    HP_CALL(write_ckpt(tr, tr->rs.path_best, NULL, NULL, NULL, 0));
  } else {
    tr->s.bad++;
  }
  *stop = tr->c.patience > 0 && tr->s.bad >= tr->c.patience;
  hp_log_info("train: epoch %" PRId64 " done: train loss %.5f, validation loss %.5f%s (%.1f s validating)%s", e + 1,
              tl, val, better ? " (best so far)" : "", hp_now() - t0,
              *stop ? "; early stopping: no improvement for train.patience epochs" : "");
  HP_CALL(save_state(tr));
  return 0;
}

/* After a step or an epoch: did any rank get SIGUSR1/SIGTERM (base/preempt.h)? Then every rank
 * stops here together with the restart state on disk (written now unless just written). */
static int check_preempt(trainer *tr, int state_written) {
  int stop = 0, sig = 0;
  HP_CALL(hp_preempt_agree(tr->ctx->comm, &stop, &sig));
  if (!stop) return 0;
  if (!state_written) HP_CALL(save_state(tr));
  HP_CALL(hp_agree(tr->ctx->comm,
                   hp_error_set(HP_ERR_PREEMPTED, __FILE__, __LINE__, __func__,
                                "train: signal %d: stopped after step %" PRId64 " (next: epoch %" PRId64 ", batch %" PRId64
                                "); restart state saved to %s; rerun the same job (a requeue) to resume",
                                sig, tr->s.step, tr->s.epoch + 1, tr->s.batch + 1, tr->rs.path_state)));
  return 0;
}

static int train_loop(trainer *tr) {
  int stop = tr->c.patience > 0 && tr->s.bad >= tr->c.patience; /* a resumed run that had stopped */
  tr->step0 = tr->s.step;
  while (!stop && tr->s.epoch < tr->c.epochs) {
    if (tr->c.max_steps > 0 && tr->s.step >= tr->c.max_steps) break;
    HP_CALL(hp_train_perm(&tr->d, tr->c.seed, tr->s.epoch, tr->perm));
    while (tr->s.batch < tr->spe) {
      if (tr->c.max_steps > 0 && tr->s.step >= tr->c.max_steps) break;
      double loss;
      hp_watch_doing("a training step");
      HP_CALL(train_step(tr, &loss));
      tr->s.loss_sum += loss;
      tr->s.loss_n++;
      tr->s.batch++;
      int saved = 0;
      if (tr->c.ckpt_every > 0 && tr->s.step % tr->c.ckpt_every == 0 && tr->s.batch < tr->spe) {
        HP_CALL(save_state(tr));
        saved = 1;
      }
      if (tr->crash_step == tr->s.step && tr->ctx->rank == tr->ctx->size - 1) {
        hp_log_warn("train: HPCLIP_TEST_CRASH_AT_STEP=%" PRId64 ": killing this rank (test hook)", tr->s.step);
        raise(SIGKILL);
      }
      /* at an epoch's last batch the epoch end (validation, state) comes first */
      if (tr->s.batch < tr->spe) HP_CALL(check_preempt(tr, saved));
    }
    HP_CALL(end_epoch(tr, &stop)); /* also a partial epoch cut by train.max_steps; writes the state */
    HP_CALL(check_preempt(tr, 1));
  }
  return 0;
}

static int finish(trainer *tr) {
  hp_stage_ctx *ctx = tr->ctx;
  hp_params *p = &tr->m.p;
  float *last = NULL;
  HP_CALLOC(last, p->total, "last parameters");
  memcpy(last, p->data, p->total * sizeof(float));
  memcpy(p->data, tr->best, p->total * sizeof(float));
  double t0 = hp_now();
  recall_out r;
  HP_CALL(test_recall(tr, &r));
  char extra[512];
  snprintf(extra, sizeof extra,
           "test_images=%" PRId64 " test_captions=%" PRId64 " i2t_r1=%.4f i2t_r5=%.4f i2t_r10=%.4f t2i_r1=%.4f "
           "t2i_r5=%.4f t2i_r10=%.4f",
           r.n_images, r.n_captions, r.i2t[0], r.i2t[1], r.i2t[2], r.t2i[0], r.t2i[1], r.t2i[2]);
  int64_t ep = tr->s.epoch, st = tr->s.step;
  tr->s.done = 1;
  HP_CALL(write_ckpt(tr, tr->path_ckpt, NULL, NULL, extra, 1));
  memcpy(p->data, last, p->total * sizeof(float));
  free(last);
  tr->s.epoch = ep;
  tr->s.step = st;
  HP_CALL(save_state(tr));
  hp_restart_remove(&tr->rs, 0);
  hp_log_info("train: best validation loss %.5f after epoch %" PRId64 " -> %s", tr->s.best_val, tr->s.best_epoch,
              tr->path_ckpt);
  hp_log_info("train: test split retrieval (%" PRId64 " images, %" PRId64 " captions, best epoch's model, %.1f s): "
              "image->caption R@1 %.3f R@5 %.3f R@10 %.3f | caption->image R@1 %.3f R@5 %.3f R@10 %.3f",
              r.n_images, r.n_captions, hp_now() - t0, r.i2t[0], r.i2t[1], r.i2t[2], r.t2i[0], r.t2i[1], r.t2i[2]);
  if (ctx->rank == 0) {
    printf("image->caption recall@1 on the test split: %.3f\n", r.i2t[0]);
    fflush(stdout);
  }
  return 0;
}

int hp_stage_train(hp_stage_ctx *ctx) {
  trainer *tr = NULL;
  HP_CALLOC(tr, 1, "trainer");
  tr->ctx = ctx;
  tr->bn_comm = MPI_COMM_NULL;
  HP_CALL(setup(tr));
  tr->t_start = hp_now();
  hp_preempt_polling(1); /* SIGUSR1/SIGTERM now end the job at a step boundary, checkpointed */
  int err = train_loop(tr);
  hp_preempt_polling(0);
  HP_CALL(err);
  HP_CALL(finish(tr));
  /* Step time alone (data, forward, backward, allreduce, update), so that pairs/s measures training and
   * not the validation, checkpoint writes and test retrieval that the stage time also holds. */
  const int64_t steps = tr->s.step - tr->step0;
  hp_log_info("train: %" PRId64 " steps in %.1f s of step time (%.1f pairs/s; the stage took %.1f s with "
              "validation, checkpoints and test retrieval; %.0f%% of step time in gradient/feature communication)",
              steps, tr->step_total, tr->step_total > 0 ? (double)(steps * tr->c.batch) / tr->step_total : 0.0,
              hp_now() - tr->t_start, tr->step_total > 0 ? 100.0 * tr->comm_total / tr->step_total : 0.0);
  if (tr->bn_calls > 0)
    hp_log_info("train: synchronised batch norm: %" PRId64 " allreduces, %.2f s (%.1f%% of the step time, "
                "including waits for slower ranks; not in the communication share above)", tr->bn_calls, tr->bn_time,
                tr->step_total > 0 ? 100.0 * tr->bn_time / tr->step_total : 0.0);
  teardown(tr);
  free(tr);
  return 0;
}
