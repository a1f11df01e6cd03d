/* caption_train.c — the `caption-train` stage: the study's text decoder trained on FROZEN caption
 * embeddings (embeddings.h5) to reproduce the caption itself (teacher forcing) -> caption_ckpt.h5.
 *
 * Samples: every caption of every training image (dataset.h5 /split = 0) is one sample: input
 * its CLIP caption embedding (embeddings.h5 /captions/embedding), target its own token ids
 * (data.caption_len ids, tokenised from dataset.h5 /captions/text with the dataset's /vocab),
 * loss = token cross-entropy up to and including the end token (the first padding id; see
 * models/caption_decoder.h), averaged over the counted tokens of the global batch.
 *
 * Data parallel: every rank holds the whole decoder; epoch e visits the training captions in
 * the order of the key hp_hash4(seed', SHUFFLE, caption, e) (the same permutation for any rank
 * count); global batch g is perm[g*B, (g+1)*B) and rank r takes its hp_shard_range block of
 * it (B need not divide by the rank count). Each rank's gradient is d(sum of its token
 * losses), summed across ranks by the bucketed allreduce (comm/allreduce.h) as the
 * backward pass finishes each layer, and the optimiser step scales it by 1/(global count of
 * counted tokens) (three collectives per step: error agreement, gradients, loss statistics);
 * dropout masks are keyed by the sample's global position
 * (seed, step, index), so the mathematics is the same for any rank count (only the float
 * summation order of the gradient differs).
 *
 * Optimiser: RMSprop (the study, lr 1e-3) or AdamW (caption.train_optimizer). After every
 * epoch: validation token loss and accuracy (argmax = target over counted tokens) on every
 * caption of the validation images (sharded, integer counts summed: rank-count independent);
 * the epoch with the best validation token ACCURACY is kept; early stopping after
 * caption.train_patience epochs without improvement; at most caption.train_epochs.
 *
 * Files in the run directory:
 *   caption_ckpt.h5            the output (best epoch's decoder; caption_common.h). ckpt.h5 is
 *                              never touched: training the decoder does not invalidate the CLIP
 *                              stages (embed, search, ...).
 *   caption-train-state.h5     restart state after each epoch (parameters, optimiser state,
 *                              `state` = "epoch= step= best_acc= ..."); removed at the end
 *   caption-train-best.h5      the best parameters so far (for a restart); removed at the end
 * Restart: a state file with this run's fingerprint is resumed from at its epoch boundary; the
 * resumed run ends bitwise equal to an uninterrupted one with the same rank count. A SIGUSR1 /
 * SIGTERM (base/preempt.h) ends the stage at once: the last epoch's state file is complete, so
 * the requeued job resumes from it.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "base/rng.h"
#include "base/watchdog.h"
#include "comm/allreduce.h"
#include "comm/shard.h"
#include "io/checkpoint.h"
#include "nn/optim.h"
#include "stages/caption_common.h"
#include "train/restart_state.h"
#include "data/train_data.h"

typedef struct {
  hp_stage_ctx *ctx;
  int64_t B, epochs, patience, max_steps, T, E, V;
  double lr, wd;
  int adamw;
  uint64_t seed;
  hp_train_data d;
  float *emb;                 /* [M,E] every caption embedding */
  int64_t *caps[2], ncaps[2]; /* caption indices of the training / validation images */
  hp_params p;
  hp_capdec m;
  char desc[256];
  hp_optim opt;
  hp_bucket_allreduce bar;
  int64_t Bmax, spe;
  int64_t *perm;
  float *cond;
  int32_t *tok, *tg;
  float *best;
  char efp[64];
  char path_out[4096];
  hp_restart rs;              /* caption-train-state.h5, caption-train-best.h5, the loss curves */
  /* training state */
  int64_t epoch, step, best_epoch, bad;
  double best_acc;
} ctrainer;

static int bar_ready(void *arg, size_t lo) { return hp_bar_ready((hp_bucket_allreduce *)arg, lo); }

static int cmp_pair(const void *a, const void *b) {
  const int64_t *x = a, *y = b;
  if (x[0] != y[0]) return (x[0] > y[0]) - (x[0] < y[0]);
  return (x[1] > y[1]) - (x[1] < y[1]);
}

/* perm = the training captions in epoch e's order */
static int epoch_perm(ctrainer *t, int64_t e) {
  int64_t n = t->ncaps[0];
  int64_t *kv = NULL;
  HP_CALLOC(kv, (size_t)n * 2, "caption permutation keys");
  for (int64_t i = 0; i < n; i++) {
    kv[2 * i] = (int64_t)(hp_hash4(t->seed ^ 0xCA9710DEC0DEULL, HP_STREAM_SHUFFLE, (uint64_t)t->caps[0][i],
                                   (uint64_t)e) >> 1);
    kv[2 * i + 1] = t->caps[0][i];
  }
  qsort(kv, (size_t)n, 2 * sizeof(int64_t), cmp_pair);
  for (int64_t i = 0; i < n; i++) t->perm[i] = kv[2 * i + 1];
  free(kv);
  return 0;
}

/* rows caps[0..n) into cond/tok/tg; returns the counted targets */
static int64_t fill(ctrainer *t, const int64_t *caps, int64_t n) {
  int64_t T = t->T, E = t->E;
  for (int64_t i = 0; i < n; i++) {
    memcpy(t->cond + i * E, t->emb + caps[i] * E, (size_t)E * sizeof(float));
    memcpy(t->tok + i * T, t->d.ids + caps[i] * T, (size_t)T * sizeof(int32_t));
  }
  return hp_capdec_targets(t->tok, (int)n, (int)T, t->tg);
}

static void state_text(const ctrainer *t, char *buf, size_t n, int done, const char *extra) {
  snprintf(buf, n,
           "epoch=%" PRId64 " step=%" PRId64 " best_acc=%a best_epoch=%" PRId64 " bad_epochs=%" PRId64
           " done=%d embeddings_fingerprint=%s%s%s",
           t->epoch, t->step, t->best_acc, t->best_epoch, t->bad, done, t->efp, extra ? " " : "", extra ? extra : "");
}

static int write_file(ctrainer *t, const char *path, int with_optim, int done, const char *extra) {
  char state[1024];
  state_text(t, state, sizeof state, done, extra);
  HP_CALL(hp_restart_write(&t->rs, path, &t->p, t->step, t->epoch, state, with_optim ? t->opt.m : NULL,
                           with_optim ? t->opt.v : NULL, 1));
  return 0;
}

static int try_resume(ctrainer *t, int *resumed) {
  hp_restart *rs = &t->rs;
  *resumed = 0;
  int found;
  HP_CALL(hp_restart_find(rs, &found));
  if (!found) return 0;
  hp_ckpt_info info;
  HP_CALL(hp_ckpt_read(t->ctx->comm, rs->path_state, t->desc, &t->p, t->opt.m, t->opt.v, &info));
  int64_t done = 0;
  HP_CALL(hp_restart_get(rs, info.state, "epoch", 0, &t->epoch));
  HP_CALL(hp_restart_get(rs, info.state, "step", 0, &t->step));
  HP_CALL(hp_restart_get(rs, info.state, "best_acc", 1, &t->best_acc));
  HP_CALL(hp_restart_get(rs, info.state, "best_epoch", 0, &t->best_epoch));
  HP_CALL(hp_restart_get(rs, info.state, "bad_epochs", 0, &t->bad));
  HP_CALL(hp_restart_get(rs, info.state, "done", 0, &done));
  if (!info.has_m || (t->adamw && !info.has_v))
    HP_ERROR(HP_ERR_INPUT, "%s: /optim: optimiser state missing; cannot resume (delete the file to start afresh)",
             rs->path_state);
  HP_CALL(hp_restart_history(rs, &info, t->epoch));
  t->opt.t = t->step;
  hp_ckpt_info_free(&info);
  if (t->best_epoch > 0) HP_CALL(hp_restart_read_best(rs, &t->p, t->best));
  *resumed = 1;
  hp_log_info("caption-train: resuming from %s after epoch %" PRId64 " (step %" PRId64
              ", best validation token accuracy %.4f after epoch %" PRId64 ")",
              rs->path_state, t->epoch, t->step, t->best_acc, t->best_epoch);
  return 0;
}

static int setup(ctrainer *t) {
  hp_stage_ctx *ctx = t->ctx;
  hp_config *cfg = ctx->cfg;
  HP_CALL(hp_run_path(ctx, HP_CAPTION_CKPT, t->path_out, sizeof t->path_out));
  char dpath[4096], epath[4096];
  HP_CALL(hp_run_path(ctx, "dataset.h5", dpath, sizeof dpath));
  HP_CALL(hp_run_path(ctx, "embeddings.h5", epath, sizeof epath));
  t->B = hp_cfg_int(cfg, "caption.train_batch");
  t->epochs = hp_cfg_int(cfg, "caption.train_epochs");
  t->patience = hp_cfg_int(cfg, "caption.train_patience");
  t->max_steps = hp_cfg_int(cfg, "caption.train_max_steps");
  t->lr = hp_cfg_float(cfg, "caption.train_lr");
  t->wd = hp_cfg_float(cfg, "caption.train_weight_decay");
  t->adamw = strcmp(hp_cfg_str(cfg, "caption.train_optimizer"), "adamw") == 0;
  t->seed = (uint64_t)hp_cfg_int(cfg, "run.seed");
  t->T = hp_cfg_int(cfg, "data.caption_len");
  HP_CALL(hp_train_data_open(ctx->comm, dpath, t->T, 1, &t->d));
  hp_embeddings em;
  HP_CALL(hp_embeddings_open(ctx->comm, epath, &em));
  HP_CALL(hp_caption_check_inputs(ctx, &em, epath, t->d.M));
  snprintf(t->efp, sizeof t->efp, "%s", em.fingerprint);
  t->E = em.embed_dim;
  t->V = hp_vocab_size(t->d.vocab);
  /* every caption embedding on every rank (M x E floats) */
  HP_CALLOC(t->emb, (size_t)t->d.M * (size_t)t->E, "caption embeddings");
  HP_CALL(hp_embeddings_read_captions(&em, 0, t->d.M, t->emb));
  hp_embeddings_close(&em);
  /* the training / validation captions */
  const char *sname[2] = {"training", "validation"};
  for (int s = 0; s < 2; s++) {
    int64_t n = 0;
    for (int64_t i = 0; i < t->d.nrows[s]; i++) n += t->d.cap_count[t->d.rows[s][i]];
    HP_CALLOC(t->caps[s], n > 0 ? n : 1, "caption lists");
    int64_t k = 0;
    for (int64_t i = 0; i < t->d.nrows[s]; i++) {
      int64_t img = t->d.rows[s][i];
      for (int64_t c = 0; c < t->d.cap_count[img]; c++) t->caps[s][k++] = t->d.cap_first[img] + c;
    }
    t->ncaps[s] = n;
    if (n == 0)
      HP_ERROR(HP_ERR_INPUT, "%s: the %s split has no captions: caption-train needs %s captions", dpath, sname[s],
               sname[s]);
  }
  if (t->ncaps[0] < t->B)
    HP_ERROR(HP_ERR_INPUT, "%s: %" PRId64 " training captions, fewer than one global batch (caption.train_batch = %"
             PRId64 ")", dpath, t->ncaps[0], t->B);
  t->spe = t->ncaps[0] / t->B;
  t->Bmax = (t->B + ctx->size - 1) / ctx->size;
  /* the decoder */
  hp_capdec_config dc;
  hp_caption_decoder_config(cfg, (int)t->V, (int)t->E, (int)t->T, &dc);
  hp_params_init(&t->p);
  HP_CALL(hp_capdec_build(&t->m, &dc, &t->p));
  HP_CALL(hp_params_alloc(&t->p));
  hp_capdec_describe(&dc, t->desc, sizeof t->desc);
  hp_capdec_init(&t->m, &t->p, t->seed ^ 0xCA9710DEC0DEULL);
  size_t act = 0;
  HP_CALL(hp_capdec_alloc_acts(&t->m, (int)t->Bmax, &act));
  hp_optim_config oc;
  if (t->adamw)
    hp_optim_config_adamw(&oc);
  else
    hp_optim_config_rmsprop(&oc);
  oc.weight_decay = (float)t->wd;
  oc.l2 = 0.0f;
  HP_CALL(hp_optim_init(&t->opt, &oc, &t->p, 0, t->p.total));
  HP_CALL(hp_bar_init(&t->bar, ctx->comm, t->p.grad, t->p.total, (size_t)(25.0 * 1048576.0 / sizeof(float))));
  t->m.hook = (hp_grad_hook){.fn = bar_ready, .arg = &t->bar};
  HP_CALLOC(t->perm, t->ncaps[0], "epoch permutation");
  HP_CALLOC(t->cond, (size_t)t->Bmax * t->E, "conditioning batch");
  HP_CALLOC(t->tok, (size_t)t->Bmax * t->T, "token batch");
  HP_CALLOC(t->tg, (size_t)t->Bmax * t->T, "target batch");
  HP_CALLOC(t->best, t->p.total, "best parameters");
  t->rs = (hp_restart){.stage = "caption-train", .inputs = "input", .state_file = "caption-train-state.h5",
                       .best_file = "caption-train-best.h5", .model = t->desc,
                       .optimizer = t->adamw ? "adamw" : "rmsprop", .vocab = t->d.vocab, .max_epochs = t->epochs};
  HP_CALL(hp_restart_init(&t->rs, ctx));
  t->best_acc = -1.0;
  memcpy(t->best, t->p.data, t->p.total * sizeof(float));
  int resumed;
  HP_CALL(try_resume(t, &resumed));
  double MiB = 1.0 / 1048576.0;
  hp_log_info("caption-train: decoder %s: %zu parameters; %" PRId64 " training / %" PRId64
              " validation captions, %" PRId64 " steps per epoch (global batch %" PRId64 " over %d ranks), %s lr %g",
              t->desc, t->p.total, t->ncaps[0], t->ncaps[1], t->spe, t->B, ctx->size, t->adamw ? "AdamW" : "RMSprop",
              t->lr);
  hp_log_info("caption-train: memory per rank: parameters + gradients + best %.1f MiB, optimiser %.1f MiB, "
              "activations %.1f MiB, caption embeddings %.1f MiB", 3.0 * t->p.total * sizeof(float) * MiB,
              (t->adamw ? 2.0 : 1.0) * t->p.total * sizeof(float) * MiB, act * MiB,
              (double)t->d.M * t->E * sizeof(float) * MiB);
  return 0;
}

/* One optimiser step on global batch g of the current epoch; *loss = global mean token loss. */
static int train_step(ctrainer *t, int64_t g, double *loss, double *acc) {
  hp_stage_ctx *ctx = t->ctx;
  int64_t r0, n;
  hp_watch_doing("a caption-train step");
  hp_shard_range(t->B, ctx->size, ctx->rank, &r0, &n);
  fill(t, t->perm + g * t->B + r0, n);
  hp_params_zero_grad(&t->p);
  hp_bar_begin(&t->bar);
  double st[3] = {0.0, 0.0, 0.0}; /* loss sum, count, correct */
  int err = 0;
  if (n > 0) {
    hp_drop drop = {.p = t->m.cfg.dropout, .seed = t->seed, .step = (uint64_t)t->step,
                    .sample0 = (uint64_t)(g * t->B + r0)};
    const float *lg;
    err = hp_capdec_forward(&t->m, &t->p, t->cond, t->tok, (int)t->T, (int)n, (int)t->T, 0, &drop, &lg);
    if (!err) {
      int64_t c, k;
      st[0] = hp_capdec_loss(&t->m, t->tg, &c, &k);
      st[1] = (double)c;
      st[2] = (double)k;
      /* gradient of the SUM of this rank's token losses; the optimiser step scales the summed
       * gradient by 1/(global count), known after the statistics allreduce below */
      hp_capdec_backward(&t->m, &t->p, t->p.grad, t->tg, 1.0f);
      err = t->m.hook.err;
    }
  }
  HP_CALL(hp_agree(ctx->comm, err));
  double wait;
  HP_CALL(hp_bar_finish(&t->bar, &wait));
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, st, 3, MPI_DOUBLE, MPI_SUM, ctx->comm));
  *loss = st[1] > 0 ? st[0] / st[1] : 0.0;
  *acc = st[1] > 0 ? st[2] / st[1] : 0.0;
  if (!isfinite(*loss))
    HP_ERROR(HP_ERR_NUMERIC, "caption-train: step %" PRId64 " (epoch %" PRId64 "): the loss is %g (lower caption.train_lr)",
             t->step + 1, t->epoch + 1, *loss);
  hp_optim_step(&t->opt, t->p.data, t->p.grad, (float)t->lr, st[1] > 0 ? (float)(1.0 / st[1]) : 0.0f);
  t->step++;
  return 0;
}

/* validation token loss and accuracy over every validation caption (eval mode) */
static int validate(ctrainer *t, double *loss, double *acc) {
  hp_stage_ctx *ctx = t->ctx;
  int64_t r0, n;
  hp_shard_range(t->ncaps[1], ctx->size, ctx->rank, &r0, &n);
  double st[3] = {0.0, 0.0, 0.0};
  int err = 0;
  for (int64_t i = 0; i < n && !err; i += t->Bmax) {
    int64_t k = n - i < t->Bmax ? n - i : t->Bmax;
    fill(t, t->caps[1] + r0 + i, k);
    const float *lg;
    err = hp_capdec_forward(&t->m, &t->p, t->cond, t->tok, (int)t->T, (int)k, (int)t->T, 0, NULL, &lg);
    if (err) break;
    int64_t c, h;
    st[0] += hp_capdec_loss(&t->m, t->tg, &c, &h);
    st[1] += (double)c;
    st[2] += (double)h;
  }
  HP_CALL(hp_agree(ctx->comm, err));
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, st, 3, MPI_DOUBLE, MPI_SUM, ctx->comm));
  *loss = st[1] > 0 ? st[0] / st[1] : 0.0;
  *acc = st[1] > 0 ? st[2] / st[1] : 0.0;
  return 0;
}

static int train_loop(ctrainer *t) {
  hp_stage_ctx *ctx = t->ctx;
  int stop = t->patience > 0 && t->bad >= t->patience;
  const char *env = getenv("HPCLIP_TEST_CAPTION_FAIL_AFTER_EPOCH"); /* tests: simulate a crash */
  int64_t fail_after = env ? strtoll(env, NULL, 10) : -1;
  double t0 = hp_now();
  while (!stop && t->epoch < t->epochs) {
    if (t->max_steps > 0 && t->step >= t->max_steps) break;
    HP_CALL(epoch_perm(t, t->epoch));
    double lsum = 0.0, asum = 0.0;
    int64_t nb = 0;
    for (int64_t g = 0; g < t->spe; g++) {
      if (t->max_steps > 0 && t->step >= t->max_steps) break;
      double l, a;
      HP_CALL(train_step(t, g, &l, &a));
      lsum += l;
      asum += a;
      nb++;
    }
    double vl, va;
    HP_CALL(validate(t, &vl, &va));
    int64_t e = t->epoch;
    hp_restart_record(&t->rs, e, nb ? lsum / (double)nb : NAN, vl);
    t->epoch = e + 1;
    int better = va > t->best_acc;
    if (better) {
      t->best_acc = va;
      t->best_epoch = e + 1;
      t->bad = 0;
      memcpy(t->best, t->p.data, t->p.total * sizeof(float));
      HP_CALL(write_file(t, t->rs.path_best, 0, 0, NULL));
    } else {
      t->bad++;
    }
    stop = t->patience > 0 && t->bad >= t->patience;
    hp_log_info("caption-train: epoch %" PRId64 ": train loss %.4f (token accuracy %.4f), validation loss %.4f, "
                "validation token accuracy %.4f%s [%.1f s]%s", e + 1, t->rs.hist_train[e], nb ? asum / (double)nb : 0.0,
                vl, va, better ? " (best so far)" : "", hp_now() - t0,
                stop ? "; early stopping: no improvement for caption.train_patience epochs" : "");
    HP_CALL(write_file(t, t->rs.path_state, 1, 0, NULL));
    if (fail_after == t->epoch) {
      int e2 = ctx->rank == ctx->size - 1
                   ? hp_error_set(HP_ERR_INTERNAL, __FILE__, __LINE__, __func__,
                                  "caption-train: HPCLIP_TEST_CAPTION_FAIL_AFTER_EPOCH=%" PRId64 " (test hook)",
                                  fail_after)
                   : 0;
      HP_CALL(hp_agree(ctx->comm, e2));
    }
  }
  return 0;
}

static int finish(ctrainer *t) {
  hp_stage_ctx *ctx = t->ctx;
  memcpy(t->p.data, t->best, t->p.total * sizeof(float));
  char extra[256];
  snprintf(extra, sizeof extra, "val_accuracy=%.6f train_captions=%" PRId64 " val_captions=%" PRId64, t->best_acc,
           t->ncaps[0], t->ncaps[1]);
  HP_CALL(write_file(t, t->path_out, 0, 1, extra));
  hp_restart_remove(&t->rs, 1);
  hp_log_info("caption-train: best validation token accuracy %.4f after epoch %" PRId64 " -> %s", t->best_acc,
              t->best_epoch, t->path_out);
  if (ctx->rank == 0) {
    printf("caption decoder: validation token accuracy %.3f (epoch %" PRId64 ")\n", t->best_acc, t->best_epoch);
    fflush(stdout);
  }
  return 0;
}

static void teardown(ctrainer *t) {
  hp_train_data_close(&t->d);
  free(t->emb);
  free(t->caps[0]);
  free(t->caps[1]);
  hp_capdec_free(&t->m);
  hp_params_free(&t->p);
  hp_optim_free(&t->opt);
  hp_bar_free(&t->bar);
  free(t->perm);
  free(t->cond);
  free(t->tok);
  free(t->tg);
  free(t->best);
  hp_restart_free(&t->rs);
}

int hp_stage_caption_train(hp_stage_ctx *ctx) {
  ctrainer *t = NULL;
  HP_CALLOC(t, 1, "caption trainer");
  t->ctx = ctx;
  HP_CALL(setup(t));
  double t0 = hp_now();
  int64_t s0 = t->step;
  HP_CALL(train_loop(t));
  HP_CALL(finish(t));
  hp_log_info("caption-train: %" PRId64 " steps in %.1f s", t->step - s0, hp_now() - t0);
  teardown(t);
  free(t);
  return 0;
}
