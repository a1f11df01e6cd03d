/* trainer.c — the training loop every trained model shares (see trainer.h).
 *
 * Restart state words (the `state` attribute of the state file, doubles in %a hex so that they
 * read back bitwise): epoch, batch (the next batch to run), step, the best validation figure
 * under the model's best_key, best_epoch, bad_epochs, loss_sum / loss_n (this epoch's step
 * losses so far), done, metric_sum (the step metrics so far), then the caller's extra words.
 */
#define _POSIX_C_SOURCE 200809L /* SIGKILL (test hook) */
#include "train/trainer.h"

#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "base/preempt.h"
#include "base/test_hooks.h"
#include "base/watchdog.h"
#include "comm/allreduce.h"
#include "comm/shard.h"
#include "io/checkpoint.h"
#include "train/restart_state.h"

typedef struct {
  int64_t epoch, batch, step;  /* next batch to run: (epoch, batch); optimiser steps taken */
  double best;                 /* the best validation figure; +-INFINITY before the first epoch */
  int64_t best_epoch, bad;     /* epochs completed at the best; epochs without improvement */
  double loss_sum, metric_sum; /* sums of this epoch's step losses (metrics) so far */
  int64_t loss_n;
  int done;
} train_state;

typedef struct {
  const hp_trainer_config *c;
  hp_train_model *md;
  hp_params *p;
  hp_optim opt;
  hp_lr_schedule sched;
  hp_bucket_allreduce bar;
  size_t lo, hi;                 /* this rank's optimiser slice */
  int *zcounts, *zdispls;        /* ZeRO-1 slices of every rank (floats) */
  float *gslice;                 /* ZeRO-1 reduce-scattered gradient slice */
  int64_t spe, total_steps;      /* steps per epoch; steps this training will have run at its end */
  float *best;                   /* the best epoch's parameters */
  hp_restart rs;                 /* the state and best files, the loss curves */
  train_state s;
  int64_t step0;                 /* s.step when this process started */
  double step_total, comm_total;
  double val_total;              /* seconds in validation so far, over val_n epoch ends */
  int64_t val_n;
  double last_log;               /* when the last progress line was printed */
  int64_t since_steps;           /* steps since it, and their time and communication time */
  double since_time, since_comm;
  /* test hooks (base/test_hooks.h) */
  int64_t nan_step, crash_step, signal_step, fail_epoch;
  char nan_tensor[HP_PARAM_NAME_MAX];
} trainer;

/* ---- state words --------------------------------------------------------------------------- */

static void state_text(const trainer *tr, char *buf, size_t n, const char *extra) {
  const train_state *s = &tr->s;
  int k = snprintf(buf, n,
                   "epoch=%" PRId64 " batch=%" PRId64 " step=%" PRId64 " %s=%a best_epoch=%" PRId64
                   " bad_epochs=%" PRId64 " loss_sum=%a loss_n=%" PRId64 " done=%d",
                   s->epoch, s->batch, s->step, tr->md->best_key, s->best, s->best_epoch, s->bad, s->loss_sum,
                   s->loss_n, s->done);
  /* every model: the /history/train_metric curve of a resumed epoch needs it too */
  if (k > 0 && (size_t)k < n) k += snprintf(buf + k, n - (size_t)k, " metric_sum=%a", s->metric_sum);
  if (k > 0 && (size_t)k < n && tr->c->extra_state) k += snprintf(buf + k, n - (size_t)k, " %s", tr->c->extra_state);
  if (k > 0 && (size_t)k < n && extra) snprintf(buf + k, n - (size_t)k, " %s", extra);
}

static int parse_state(const trainer *tr, const char *text, train_state *s) {
  const hp_restart *rs = &tr->rs;
  int64_t done;
  HP_CALL(hp_restart_get(rs, text, "epoch", 0, &s->epoch));
  HP_CALL(hp_restart_get(rs, text, "batch", 0, &s->batch));
  HP_CALL(hp_restart_get(rs, text, "step", 0, &s->step));
  HP_CALL(hp_restart_get(rs, text, tr->md->best_key, 1, &s->best));
  HP_CALL(hp_restart_get(rs, text, "best_epoch", 0, &s->best_epoch));
  HP_CALL(hp_restart_get(rs, text, "bad_epochs", 0, &s->bad));
  HP_CALL(hp_restart_get(rs, text, "loss_sum", 1, &s->loss_sum));
  HP_CALL(hp_restart_get(rs, text, "loss_n", 0, &s->loss_n));
  HP_CALL(hp_restart_get(rs, text, "done", 0, &done));
  /* states of models without a metric written before it was saved for all lack it */
  if (tr->md->metric_name || strstr(text, " metric_sum=")) HP_CALL(hp_restart_get(rs, text, "metric_sum", 1, &s->metric_sum));
  s->done = (int)done;
  return 0;
}

/* ---- the NaN/Inf guard ---------------------------------------------------------------------- */

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

/* Collective: every rank reaches it with the same verdict. bad_elem = the first non-finite
 * gradient element, or -1 (then the parameters are searched). */
static int numeric_error(trainer *tr, const char *what, double value, int64_t bad_elem) {
  const hp_params *p = tr->p;
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
      snprintf(where, sizeof where, "; the parameters are finite (activations overflowed: lower the learning rate)");
  }
  int err = HP_ERROR_SET(HP_ERR_NUMERIC, "%s: step %" PRId64 " (epoch %" PRId64 ", batch %" PRId64 "): %s is %g%s", tr->c->stage,
                         tr->s.step + 1, tr->s.epoch + 1, tr->s.batch + 1, what, value, where);
  return hp_agree(tr->c->comm, err);
}

/* ---- files ----------------------------------------------------------------------------------- */

static int write_file(trainer *tr, const char *path, const float *m, const float *v, const char *extra,
                      int with_history) {
  char state[2048];
  state_text(tr, state, sizeof state, extra);
  HP_CALL(hp_restart_write(&tr->rs, path, tr->p, tr->s.step, tr->s.epoch, state, m, v, with_history));
  return 0;
}

/* Optimiser moments of the whole buffer on rank 0 (gathered from the ZeRO-1 slices). */
static int gather_moments(trainer *tr, float **m, float **v) {
  size_t n = tr->p->total;
  *m = *v = NULL;
  HP_CALLOC(*m, n, "optimiser moments (checkpoint)");
  if (tr->opt.v) HP_CALLOC(*v, n, "optimiser moments (checkpoint)");
  if (!tr->c->zero1) {
    memcpy(*m, tr->opt.m, n * sizeof(float));
    if (*v) memcpy(*v, tr->opt.v, n * sizeof(float));
    return 0;
  }
  int cnt = (int)(tr->hi - tr->lo);
  HP_MPI(MPI_Gatherv(tr->opt.m, cnt, MPI_FLOAT, *m, tr->zcounts, tr->zdispls, MPI_FLOAT, 0, tr->c->comm));
  if (*v) HP_MPI(MPI_Gatherv(tr->opt.v, cnt, MPI_FLOAT, *v, tr->zcounts, tr->zdispls, MPI_FLOAT, 0, tr->c->comm));
  return 0;
}

static int save_state(trainer *tr) {
  double t0 = hp_now();
  float *m, *v;
  HP_CALL(gather_moments(tr, &m, &v));
  HP_CALL(write_file(tr, tr->c->path_state, m, v, NULL, 1));
  free(m);
  free(v);
  hp_log_debug("%s: restart state (epoch %" PRId64 ", batch %" PRId64 ", step %" PRId64 ") -> %s in %.2f s",
               tr->c->stage, tr->s.epoch, tr->s.batch, tr->s.step, tr->c->path_state, hp_now() - t0);
  return 0;
}

static const char *best_what(const trainer *tr) {
  return tr->md->select_by_metric ? tr->md->metric_name : "loss";
}

/* The parameters of an initial checkpoint only mean something with the tokenizer they were
 * trained with: the job's must be the same (kind, options, every entry). Collective. */
static int same_tokenizer(const hp_trainer_config *c, const char *path) {
  if (!c->tokenizer) return 0;
  char *spec = NULL, **entries = NULL;
  int64_t n = 0, mine_n = 0;
  HP_CALL(hp_ckpt_read_tokenizer(c->comm, path, &spec, &entries, &n));
  char mine[128];
  hp_tokenizer_spec_format(hp_tokenizer_get_spec(c->tokenizer), mine, sizeof mine);
  const char *const *me = hp_tokenizer_entries(c->tokenizer, &mine_n);
  int64_t diff = -1;
  for (int64_t i = 0; diff < 0 && i < n && i < mine_n; i++)
    if (strcmp(entries[i], me[i]) != 0) diff = i;
  int e = 0;
  if (strcmp(spec, mine) != 0)
    e = HP_ERROR_SET(HP_ERR_INPUT, "%s: its tokenizer is \"%s\", this job's \"%s\" (model.tokenizer*): the "
                     "parameters would read other token ids", path, spec, mine);
  else if (diff >= 0)
    e = HP_ERROR_SET(HP_ERR_INPUT, "%s: its tokenizer's vocabulary differs from this job's at id %lld (\"%.40s\" and "
                     "\"%.40s\")", path, (long long)diff, entries[diff], me[diff]);
  else if (n != mine_n)
    e = HP_ERROR_SET(HP_ERR_INPUT, "%s: its tokenizer has %lld entries, this job's %lld", path, (long long)n,
                     (long long)mine_n);
  free(spec);
  for (int64_t i = 0; i < n; i++) free(entries[i]);
  free(entries);
  HP_CALL(e);
  return 0;
}

/* Resume from the state file when it belongs to this run. Returns *resumed. */
static int try_resume(trainer *tr, int *resumed) {
  *resumed = 0;
  hp_restart *rs = &tr->rs;
  int found;
  HP_CALL(hp_restart_find(rs, &found));
  if (!found) return 0;
  size_t n = tr->p->total;
  float *m = NULL, *v = NULL;
  HP_CALLOC(m, n, "restart moments");
  HP_CALLOC(v, n, "restart moments");
  hp_ckpt_info info;
  HP_CALL(hp_ckpt_read(tr->c->comm, rs->path_state, tr->md->desc, tr->p, m, v, &info));
  train_state s = tr->s;
  int fresh = 0;
  HP_CALL(parse_state(tr, info.state, &s));
  if (s.done) {
    hp_log_info("%s: %s is a finished run: training again from the start", tr->c->stage, rs->path_state);
    fresh = 1;
  }
  if (!fresh) {
    if (!info.has_m || (tr->opt.v && !info.has_v))
      HP_ERROR(HP_ERR_INPUT, "%s: /optim: optimiser moments missing; cannot resume (delete the file to start afresh)",
               rs->path_state);
    HP_CALL(hp_restart_history(rs, &info, s.epoch));
    size_t cnt = tr->hi - tr->lo;
    memcpy(tr->opt.m, m + tr->lo, cnt * sizeof(float));
    if (tr->opt.v) memcpy(tr->opt.v, v + tr->lo, cnt * sizeof(float));
    tr->opt.t = s.step;
    tr->s = s;
    *resumed = 1;
  }
  hp_ckpt_info_free(&info);
  free(m);
  free(v);
  if (fresh) {
    tr->md->init_params(tr->md->self); /* the read overwrote the parameters */
    return 0;
  }
  if (tr->s.best_epoch > 0) HP_CALL(hp_restart_read_best(rs, tr->p, tr->best));
  hp_log_info("%s: resuming from %s: epoch %" PRId64 ", batch %" PRId64 ", step %" PRId64
              " (best validation %s %.5f after epoch %" PRId64 ")",
              tr->c->stage, rs->path_state, tr->s.epoch + 1, tr->s.batch + 1, tr->s.step, best_what(tr), tr->s.best,
              tr->s.best_epoch);
  return 0;
}

/* ---- one step ------------------------------------------------------------------------------ */

/* Seconds left: the remaining steps at the mean step time so far, plus the validations still to
 * come (one per epoch end) at the mean validation time so far. */
static double eta_seconds(const trainer *tr) {
  int64_t done = tr->s.step - tr->step0;
  double t = done > 0 ? (double)(tr->total_steps - tr->s.step) * (tr->step_total / (double)done) : 0.0;
  if (tr->val_n > 0 && tr->spe > 0 && tr->total_steps > 0) {
    int64_t left = (tr->total_steps - 1) / tr->spe - tr->s.epoch + 1; /* epoch ends still to run */
    if (left > 0) t += (double)left * (tr->val_total / (double)tr->val_n);
  }
  return t;
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

static int bar_ready(void *arg, size_t lo) { return hp_bar_ready((hp_bucket_allreduce *)arg, lo); }

/* The gradient sync: the bucketed allreduce overlapping backward, or (ZeRO-1) backward then a
 * reduce-scatter of the gradient into this rank's slice. Returns the seconds spent waiting. */
static int backward_and_sync(trainer *tr, double *wait) {
  hp_train_model *md = tr->md;
  MPI_Comm comm = tr->c->comm;
  *wait = 0.0;
  int err;
  if (!tr->c->zero1) {
    hp_bar_begin(&tr->bar);
    err = md->backward(md->self, bar_ready, &tr->bar);
    HP_CALL(hp_agree(comm, err));
    HP_CALL(hp_bar_finish(&tr->bar, wait));
  } else {
    err = md->backward(md->self, NULL, NULL);
    HP_CALL(hp_agree(comm, err));
    double tw = hp_now();
    HP_MPI(MPI_Reduce_scatter(tr->p->grad, tr->gslice, tr->zcounts, MPI_FLOAT, MPI_SUM, comm));
    *wait = hp_now() - tw;
  }
  return 0;
}

/* One optimiser step on global batch s.batch of epoch s.epoch: forward and loss, backward,
 * gradient sync, update (Keras order: L2 gradient, global norm, clip, step). */
static int train_step(trainer *tr, double *loss, double *metric) {
  const hp_trainer_config *c = tr->c;
  hp_train_model *md = tr->md;
  hp_params *p = tr->p;
  double t0 = hp_now(), wait;
  hp_train_pos pos = {.epoch = tr->s.epoch, .batch = tr->s.batch, .step = tr->s.step};
  hp_step_out out;
  /* the watchdog names the phase a stuck rank is in: its collective is the one that hangs */
  hp_watch_doing("a training step: forward and loss (the features' all-gather)");
  HP_CALL(md->forward_loss(md->self, &pos, &out));
  double comm = out.comm;
  if (!isfinite(out.loss)) return numeric_error(tr, md->loss_name, out.loss, -1);
  *loss = out.loss;
  *metric = out.metric;

  hp_params_zero_grad(p);
  if (tr->nan_step == tr->s.step + 1 && c->rank == 0) { /* test hook */
    const hp_tensor_info *t = hp_params_find(p, tr->nan_tensor);
    if (t) p->grad[t->offset] = NAN;
  }
  hp_watch_doing(c->zero1 ? "a training step: backward, then the gradient reduce-scatter (ZeRO-1)"
                           : "a training step: backward and the bucketed gradient allreduce");
  HP_CALL(backward_and_sync(tr, &wait));
  hp_watch_doing("a training step: the optimiser update (gradient norm)");
  comm += wait;

  float *w = p->data + tr->lo, *g = c->zero1 ? tr->gslice : p->grad + tr->lo;
  hp_optim_add_l2(&tr->opt, w, g);
  double sq = hp_optim_sqnorm(&tr->opt, g);
  if (c->zero1) {
    double tw = hp_now();
    HP_MPI(MPI_Allreduce(MPI_IN_PLACE, &sq, 1, MPI_DOUBLE, MPI_SUM, c->comm));
    comm += hp_now() - tw;
  }
  if (!isfinite(sq)) {
    int64_t bad = first_nonfinite(g, tr->hi - tr->lo);
    int64_t gbad = bad >= 0 ? bad + (int64_t)tr->lo : INT64_MAX;
    HP_MPI(MPI_Allreduce(MPI_IN_PLACE, &gbad, 1, MPI_INT64_T, MPI_MIN, c->comm));
    return numeric_error(tr, "the squared gradient norm", sq, gbad == INT64_MAX ? -1 : gbad);
  }
  /* the clip applies to the scaled gradient; scale 1 leaves the norm as computed */
  float clip = hp_clip_scale(sqrt(sq) * out.grad_scale, (float)c->grad_clip);
  float scale = (float)(out.grad_scale * (double)clip);
  float lr = hp_lr_at(&tr->sched, tr->s.step);
  hp_optim_step(&tr->opt, w, g, lr, scale);
  if (c->zero1) {
    double tw = hp_now();
    HP_MPI(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, p->data, tr->zcounts, tr->zdispls, MPI_FLOAT, c->comm));
    comm += hp_now() - tw;
  }
  if (md->after_update) HP_CALL(md->after_update(md->self));
  tr->s.step++;

  double dt = hp_now() - t0;
  tr->comm_total += comm;
  tr->step_total += dt;
  tr->since_steps++;
  tr->since_time += dt;
  tr->since_comm += comm;
  int last = tr->s.batch + 1 == tr->spe || tr->s.step == tr->total_steps;
  if (hp_now() - tr->last_log < hp_log_every() && tr->s.step != tr->step0 + 1 && !last) return 0;
  /* a line every run.log_every seconds: rates averaged over the steps since the last one */
  char etas[32], acc[32] = "";
  fmt_time(eta_seconds(tr), etas, sizeof etas);
  if (isfinite(out.metric)) snprintf(acc, sizeof acc, " acc %.2f", out.metric);
  hp_log_info("%s: epoch %" PRId64 "/%" PRId64 " step %" PRId64 "/%" PRId64 " loss %.4f%s lr %.2e | "
              "%.1f %s/s, comm %.0f%% | ETA %s",
              c->stage, tr->s.epoch + 1, c->epochs, tr->s.step, tr->total_steps, out.loss, acc, (double)lr,
              (double)(c->batch * tr->since_steps) / tr->since_time, md->sample_name,
              100.0 * tr->since_comm / tr->since_time, etas);
  tr->last_log = hp_now();
  tr->since_steps = 0;
  tr->since_time = tr->since_comm = 0.0;
  return 0;
}

/* ---- epochs ---------------------------------------------------------------------------------- */

/* Epoch end: validation, curves, best, patience, restart state. *stop = early stopping. */
static int end_epoch(trainer *tr, int *stop) {
  const hp_trainer_config *c = tr->c;
  hp_train_model *md = tr->md;
  hp_eval_out ev;
  double t0 = hp_now();
  HP_CALL(md->validate(md->self, &ev));
  tr->val_total += hp_now() - t0;
  tr->val_n++;
  double tl = tr->s.loss_n ? tr->s.loss_sum / (double)tr->s.loss_n : NAN;
  double tm = tr->s.loss_n ? tr->s.metric_sum / (double)tr->s.loss_n : NAN;
  int64_t e = tr->s.epoch;
  /* the learning rate of the epoch's last step (the step counter is past it) */
  double lr = tr->s.step > 0 ? (double)hp_lr_at(&tr->sched, tr->s.step - 1) : NAN;
  hp_restart_record(&tr->rs, e, tl, ev.loss, tm, ev.metric, lr);
  tr->s.epoch = e + 1;
  tr->s.batch = 0;
  tr->s.loss_sum = tr->s.metric_sum = 0.0;
  tr->s.loss_n = 0;
  double fig = md->select_by_metric ? ev.metric : ev.loss;
  if (!isfinite(fig)) return numeric_error(tr, md->select_by_metric ? "the validation metric" : "the validation loss", fig, -1);
  int better = md->select_by_metric ? fig > tr->s.best : fig < tr->s.best;
  if (better) {
    tr->s.best = fig;
    tr->s.best_epoch = e + 1;
    tr->s.bad = 0;
    memcpy(tr->best, tr->p->data, tr->p->total * sizeof(float));
    HP_CALL(write_file(tr, c->path_best, NULL, NULL, NULL, 0));
  } else {
    tr->s.bad++;
  }
  *stop = c->patience > 0 && tr->s.bad >= c->patience;
  char tmet[96] = "", vmet[96] = "";
  if (md->metric_name) {
    snprintf(tmet, sizeof tmet, " (%s %.4f)", md->metric_name, tm);
    snprintf(vmet, sizeof vmet, ", validation %s %.4f", md->metric_name, ev.metric);
  }
  char stops[96] = "";
  if (*stop) snprintf(stops, sizeof stops, "; early stopping: no improvement for %" PRId64 " epochs (the patience)", tr->s.bad);
  hp_log_info("%s: epoch %" PRId64 ": train loss %.5f%s, validation loss %.5f%s%s (%.1f s validating)%s", c->stage,
              e + 1, tl, tmet, ev.loss, vmet, better ? " (best so far)" : "", hp_now() - t0, stops);
  HP_CALL(save_state(tr));
  if (tr->fail_epoch == tr->s.epoch) {
    int err = c->rank == c->size - 1
                  ? HP_ERROR_SET(HP_ERR_INTERNAL, "%s: HPCLIP_TEST_FAIL_AFTER_EPOCH=%" PRId64 " (test hook)", c->stage, tr->fail_epoch)
                  : 0;
    HP_CALL(hp_agree(c->comm, err));
  }
  return 0;
}

/* After a step or an epoch: did any rank get SIGUSR1/SIGTERM (base/preempt.h)? Then every rank
 * stops here together with the restart state on disk (written now unless just written). */
static int check_preempt(trainer *tr, int state_written) {
  int stop = 0, sig = 0;
  HP_CALL(hp_preempt_agree(tr->c->comm, &stop, &sig));
  if (!stop) return 0;
  if (!state_written) HP_CALL(save_state(tr));
  HP_CALL(hp_agree(tr->c->comm,
                   HP_ERROR_SET(HP_ERR_PREEMPTED, "%s: signal %d: stopped after step %" PRId64 " (next: epoch %" PRId64 ", batch %" PRId64
                                "); restart state saved to %s; rerun the same job (a requeue) to resume",
                                tr->c->stage, sig, tr->s.step, tr->s.epoch + 1, tr->s.batch + 1, tr->c->path_state)));
  return 0;
}

static int train_loop(trainer *tr) {
  const hp_trainer_config *c = tr->c;
  int stop = c->patience > 0 && tr->s.bad >= c->patience; /* a resumed run that had stopped */
  tr->step0 = tr->s.step;
  while (!stop && tr->s.epoch < c->epochs) {
    if (c->max_steps > 0 && tr->s.step >= c->max_steps) break;
    HP_CALL(tr->md->epoch_begin(tr->md->self, tr->s.epoch));
    while (tr->s.batch < tr->spe) {
      if (c->max_steps > 0 && tr->s.step >= c->max_steps) break;
      double loss = 0.0, metric = 0.0;
      HP_CALL(train_step(tr, &loss, &metric));
      tr->s.loss_sum += loss;
      tr->s.metric_sum += isfinite(metric) ? metric : 0.0;
      tr->s.loss_n++;
      tr->s.batch++;
      int saved = 0;
      if (c->checkpoint_every > 0 && tr->s.step % c->checkpoint_every == 0 && tr->s.batch < tr->spe) {
        HP_CALL(save_state(tr));
        saved = 1;
      }
      if (tr->signal_step == tr->s.step && c->rank == c->size - 1) {
        hp_log_warn("%s: HPCLIP_TEST_SIGNAL_AT_STEP=%" PRId64 ": SIGUSR1 to this rank (test hook)", c->stage, tr->s.step);
        raise(SIGUSR1);
      }
      if (tr->crash_step == tr->s.step && c->rank == c->size - 1) {
        hp_log_warn("%s: HPCLIP_TEST_CRASH_AT_STEP=%" PRId64 ": killing this rank (test hook)", c->stage, tr->s.step);
        raise(SIGKILL);
      }
      /* at an epoch's last batch the epoch end (validation, state) comes first */
      if (tr->s.batch < tr->spe) HP_CALL(check_preempt(tr, saved));
    }
    hp_watch_doing("an epoch's end: validation and the restart state");
    HP_CALL(end_epoch(tr, &stop)); /* also a partial epoch cut by max_steps; writes the state */
    HP_CALL(check_preempt(tr, 1));
  }
  return 0;
}

/* The output: the best epoch's parameters with the model's finish() words. The state file is
 * left (done=1, the last parameters) with keep_state, else removed with the best file. */
static int finish(trainer *tr) {
  const hp_trainer_config *c = tr->c;
  hp_params *p = tr->p;
  float *last = NULL;
  HP_CALLOC(last, p->total, "last parameters");
  memcpy(last, p->data, p->total * sizeof(float));
  memcpy(p->data, tr->best, p->total * sizeof(float));
  char extra[1024] = "";
  if (tr->md->finish) HP_CALL(tr->md->finish(tr->md->self, tr->s.best, extra, sizeof extra));
  tr->s.done = 1;
  HP_CALL(write_file(tr, c->path_output, NULL, NULL, extra[0] ? extra : NULL, 1));
  memcpy(p->data, last, p->total * sizeof(float));
  free(last);
  if (c->keep_state) HP_CALL(save_state(tr));
  hp_restart_remove(&tr->rs, !c->keep_state);
  return 0;
}

/* ---- set-up ---------------------------------------------------------------------------------- */

/* ZeRO-1: each rank's optimiser slice, 16-float aligned chunks spread by hp_shard_range. */
static int zero1_slices(trainer *tr) {
  const hp_trainer_config *c = tr->c;
  size_t total = tr->p->total;
  HP_CALLOC(tr->zcounts, c->size, "ZeRO-1 counts");
  HP_CALLOC(tr->zdispls, c->size, "ZeRO-1 displacements");
  int64_t chunks = (int64_t)((total + 15) / 16);
  for (int r = 0; r < c->size; r++) {
    int64_t a, n;
    hp_shard_range(chunks, c->size, r, &a, &n);
    size_t lo = (size_t)a * 16, hi = (size_t)(a + n) * 16;
    if (hi > total) hi = total;
    if (lo > total) lo = total;
    if (hi - lo > (size_t)INT32_MAX) HP_ERROR(HP_ERR_MEM, "ZeRO-1 slice above 2^31 floats");
    tr->zcounts[r] = (int)(hi - lo);
    tr->zdispls[r] = (int)lo;
    if (r == c->rank) {
      tr->lo = lo;
      tr->hi = hi;
    }
  }
  HP_CALLOC(tr->gslice, tr->hi - tr->lo + 1, "ZeRO-1 gradient slice");
  return 0;
}

static void read_test_hooks(trainer *tr) {
  tr->nan_step = -1;
  if (!hp_test_hook_pair("NAN_GRAD", &tr->nan_step, tr->nan_tensor, sizeof tr->nan_tensor)) tr->nan_step = -1;
  tr->crash_step = hp_test_hook_int("CRASH_AT_STEP", -1);
  tr->signal_step = hp_test_hook_int("SIGNAL_AT_STEP", -1);
  tr->fail_epoch = hp_test_hook_int("FAIL_AFTER_EPOCH", -1);
}

static int setup(trainer *tr) {
  const hp_trainer_config *c = tr->c;
  hp_train_model *md = tr->md;
  hp_params *p = tr->p;
  tr->spe = md->samples / c->batch;
  tr->total_steps = tr->spe * c->epochs;
  if (c->max_steps > 0 && c->max_steps < tr->total_steps) tr->total_steps = c->max_steps;
  tr->lo = 0;
  tr->hi = p->total;
  if (c->zero1) HP_CALL(zero1_slices(tr));
  HP_CALL(hp_optim_init(&tr->opt, &c->optim, p, tr->lo, tr->hi));
  tr->sched = c->sched;
  if (tr->sched.total == 0) {
    tr->sched.total = tr->spe * c->epochs;
    if (c->max_steps > 0 && c->max_steps < tr->sched.total) tr->sched.total = c->max_steps;
  }
  size_t bucket = (size_t)(c->bucket_mb * 1048576.0 / sizeof(float));
  HP_CALL(hp_bar_init(&tr->bar, c->comm, p->grad, p->total, bucket > 0 ? bucket : 1));
  if (c->allreduce_bf16 && c->zero1)
    HP_ERROR(HP_ERR_CONFIG, "train.allreduce_dtype = \"bfloat16\" is not implemented with train.zero1 = true "
                            "(ZeRO-1 reduce-scatters float32 gradients); use one or the other");
  if (c->allreduce_bf16 && c->size > 1) HP_CALL(hp_bar_set_payload(&tr->bar, HP_BAR_BFLOAT16));
  HP_CALLOC(tr->best, p->total, "best parameters");
  tr->rs = (hp_restart){.stage = c->stage, .inputs = c->inputs, .model = md->desc, .optimizer = c->optimizer,
                        .tokenizer = c->tokenizer, .max_epochs = c->epochs, .path_state = c->path_state,
                        .path_best = c->path_best, .comm = c->comm, .rank = c->rank, .fingerprint = c->fingerprint};
  HP_CALL(hp_restart_init(&tr->rs, c->cfg));
  tr->s.best = md->select_by_metric ? -INFINITY : INFINITY;
  memcpy(tr->best, p->data, p->total * sizeof(float));

  /* start: resume, or initialise (optionally from another checkpoint) */
  int resumed;
  HP_CALL(try_resume(tr, &resumed));
  if (!resumed && c->init_checkpoint && c->init_checkpoint[0]) {
    hp_ckpt_info info;
    HP_CALL(hp_ckpt_read(c->comm, c->init_checkpoint, md->desc, p, NULL, NULL, &info));
    hp_ckpt_info_free(&info);
    HP_CALL(same_tokenizer(c, c->init_checkpoint));
    hp_log_info("%s: parameters initialised from %s", c->stage, c->init_checkpoint);
  }
  read_test_hooks(tr);

  double MiB = 1.0 / 1048576.0;
  size_t pb = p->total * sizeof(float), ob = (tr->hi - tr->lo) * sizeof(float) * (tr->opt.v ? 2 : 1);
  size_t extra = 2 * pb /* best + checkpoint staging */ + (c->zero1 ? (tr->hi - tr->lo) * sizeof(float) : 0) +
                 (tr->bar.half ? p->total * sizeof(uint16_t) : 0) /* bfloat16 allreduce staging */;
  hp_log_info("%s: %" PRId64 " training %s, %" PRId64 " steps per epoch (global batch %" PRId64 " over %d ranks), "
              "%s%s, bucket %.2f MiB%s", c->stage, md->samples, md->sample_name, tr->spe, c->batch, c->size,
              c->optimizer, c->zero1 ? " with ZeRO-1 sharded state" : "", c->bucket_mb,
              tr->bar.half ? ", gradients summed as bfloat16" : "");
  hp_log_info("%s: memory per rank for training: parameters %.1f MiB, gradients %.1f MiB, optimiser state %.1f MiB%s, "
              "best copy + staging %.1f MiB", c->stage, pb * MiB, pb * MiB, ob * MiB,
              c->zero1 ? " (ZeRO-1 slice)" : "", extra * MiB);
  return 0;
}

static void teardown(trainer *tr) {
  hp_optim_free(&tr->opt);
  hp_bar_free(&tr->bar);
  free(tr->zcounts);
  free(tr->zdispls);
  free(tr->gslice);
  free(tr->best);
  hp_restart_free(&tr->rs);
}

int hp_train(const hp_trainer_config *tc, hp_train_model *model, hp_train_result *res) {
  trainer tr;
  memset(&tr, 0, sizeof tr);
  tr.c = tc;
  tr.md = model;
  tr.p = model->p;
  HP_CALL(setup(&tr));
  hp_preempt_polling(1); /* SIGUSR1/SIGTERM now end the job at a step boundary, checkpointed */
  int err = train_loop(&tr);
  hp_preempt_polling(0);
  HP_CALL(err);
  HP_CALL(finish(&tr));
  *res = (hp_train_result){.steps = tr.s.step - tr.step0, .epochs = tr.s.epoch, .best_epoch = tr.s.best_epoch,
                           .best = tr.s.best, .step_seconds = tr.step_total, .comm_seconds = tr.comm_total};
  teardown(&tr);
  return 0;
}
