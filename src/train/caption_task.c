/* caption_task.c — the caption decoder as a model of the trainer (see caption_task.h). */
#include "train/caption_task.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "base/rng.h"
#include "comm/shard.h"
#include "data/train_data.h"
#include "io/row_reader.h"

#define HP_CAPTION_SEED 0xCA9710DEC0DEULL /* the decoder's streams, apart from the CLIP model's */

struct hp_caption_task {
  MPI_Comm comm;
  int rank, size;
  int64_t B, T, E;
  uint64_t seed;
  hp_train_data d;
  hp_row_reader *emb;         /* embeddings.h5 /captions/embedding: each step reads its own rows */
  int64_t *caps[2], ncaps[2]; /* caption indices of the training / validation images */
  hp_params p;
  hp_capdec m;
  int built;
  char desc[256];
  int64_t Bmax;
  int64_t n_local;            /* this rank's rows of the last forward_loss's batch */
  int64_t *perm;
  float *cond;
  int32_t *tok, *tg;
};

static int cmp_pair(const void *a, const void *b) {
  const int64_t *x = a, *y = b;
  if (x[0] != y[0]) return (x[0] > y[0]) - (x[0] < y[0]);
  return (x[1] > y[1]) - (x[1] < y[1]);
}

/* perm = the training captions in epoch e's order */
static int epoch_begin(void *self, int64_t e) {
  hp_caption_task *t = self;
  int64_t n = t->ncaps[0];
  int64_t *kv = NULL;
  HP_CALLOC(kv, (size_t)n * 2, "caption permutation keys");
  for (int64_t i = 0; i < n; i++) {
    kv[2 * i] = (int64_t)(hp_hash4(t->seed ^ HP_CAPTION_SEED, HP_STREAM_SHUFFLE, (uint64_t)t->caps[0][i],
                                   (uint64_t)e) >> 1);
    kv[2 * i + 1] = t->caps[0][i];
  }
  qsort(kv, (size_t)n, 2 * sizeof(int64_t), cmp_pair);
  for (int64_t i = 0; i < n; i++) t->perm[i] = kv[2 * i + 1];
  free(kv);
  return 0;
}

/* rows caps[0..n) into cond (read from embeddings.h5) / tok / tg */
static int fill(hp_caption_task *t, const int64_t *caps, int64_t n) {
  int64_t T = t->T;
  HP_CALL(hp_row_reader_read(t->emb, caps, n, t->cond));
  for (int64_t i = 0; i < n; i++) memcpy(t->tok + i * T, t->d.ids + caps[i] * T, (size_t)T * sizeof(int32_t));
  hp_capdec_targets(t->tok, (int)n, (int)T, t->tg);
  return 0;
}

/* Forward and token loss of this rank's block of global batch g; the loss statistics (sum,
 * counted tokens, correct tokens) are summed over the ranks here. */
static int forward_loss(void *self, const hp_train_pos *pos, hp_step_out *out) {
  hp_caption_task *t = self;
  int64_t r0, n, g = pos->batch;
  hp_shard_range(t->B, t->size, t->rank, &r0, &n);
  t->n_local = n;
  double st[3] = {0.0, 0.0, 0.0}; /* loss sum, count, correct */
  int err = fill(t, t->perm + g * t->B + r0, n);
  if (n > 0 && !err) {
    hp_drop drop = {.p = t->m.cfg.dropout, .seed = t->seed, .step = (uint64_t)pos->step,
                    .sample0 = (uint64_t)(g * t->B + r0)};
    const float *lg;
    err = hp_capdec_forward(&t->m, &t->p, t->cond, t->tok, (int)t->T, (int)n, (int)t->T, 0, &drop, &lg);
    if (!err) {
      int64_t c, k;
      st[0] = hp_capdec_loss(&t->m, t->tg, &c, &k);
      st[1] = (double)c;
      st[2] = (double)k;
    }
  }
  HP_CALL(hp_agree(t->comm, err));
  double t0 = hp_now();
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, st, 3, MPI_DOUBLE, MPI_SUM, t->comm));
  /* gradients are of the SUM of the token losses: the update scales by 1/(global count) */
  *out = (hp_step_out){.loss = st[1] > 0 ? st[0] / st[1] : 0.0, .metric = st[1] > 0 ? st[2] / st[1] : 0.0,
                       .grad_scale = st[1] > 0 ? 1.0 / st[1] : 0.0, .comm = hp_now() - t0};
  return 0;
}

static int backward(void *self, hp_grad_ready_fn ready, void *arg) {
  hp_caption_task *t = self;
  if (t->n_local == 0) return 0; /* nothing here: the sync sends zeros */
  t->m.hook = (hp_grad_hook){.fn = ready, .arg = arg};
  hp_capdec_backward(&t->m, &t->p, t->p.grad, t->tg, 1.0f);
  return t->m.hook.err;
}

/* validation token loss and accuracy over every validation caption (eval mode) */
static int validate(void *self, hp_eval_out *res) {
  hp_caption_task *t = self;
  int64_t r0, n;
  hp_shard_range(t->ncaps[1], t->size, t->rank, &r0, &n);
  double st[3] = {0.0, 0.0, 0.0};
  int err = 0;
  hp_progress prog; /* rank 0's block is the largest: its count x ranks bounds the global one */
  hp_progress_start(&prog, "caption-train: validation", "captions", t->ncaps[1]);
  for (int64_t i = 0; i < n && !err; i += t->Bmax) {
    int64_t k = n - i < t->Bmax ? n - i : t->Bmax;
    err = fill(t, t->caps[1] + r0 + i, k);
    if (err) break;
    const float *lg;
    err = hp_capdec_forward(&t->m, &t->p, t->cond, t->tok, (int)t->T, (int)k, (int)t->T, 0, NULL, &lg);
    if (err) break;
    int64_t c, h;
    st[0] += hp_capdec_loss(&t->m, t->tg, &c, &h);
    st[1] += (double)c;
    st[2] += (double)h;
    int64_t done = (i + k) * t->size;
    hp_progress_update(&prog, done < t->ncaps[1] ? done : t->ncaps[1]);
  }
  hp_progress_end(&prog, t->ncaps[1]);
  HP_CALL(hp_agree(t->comm, err));
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, st, 3, MPI_DOUBLE, MPI_SUM, t->comm));
  res->loss = st[1] > 0 ? st[0] / st[1] : 0.0;
  res->metric = st[1] > 0 ? st[2] / st[1] : 0.0;
  return 0;
}

static int finish(void *self, double best, char *extra, size_t n) {
  hp_caption_task *t = self;
  snprintf(extra, n, "val_accuracy=%.6f train_captions=%" PRId64 " val_captions=%" PRId64, best, t->ncaps[0],
           t->ncaps[1]);
  return 0;
}

static void init_params(void *self) {
  hp_caption_task *t = self;
  hp_capdec_init(&t->m, &t->p, t->seed ^ HP_CAPTION_SEED);
}

int hp_caption_task_open(MPI_Comm comm, const hp_config *cfg, const char *dpath, hp_caption_task **out) {
  hp_caption_task *t = NULL;
  HP_CALLOC(t, 1, "caption training task");
  *out = t;
  t->comm = comm;
  MPI_Comm_rank(comm, &t->rank);
  MPI_Comm_size(comm, &t->size);
  t->B = hp_cfg_int(cfg, "caption.train_batch");
  t->seed = (uint64_t)hp_cfg_int(cfg, "run.seed");
  t->T = hp_cfg_int(cfg, "data.caption_len");
  hp_params_init(&t->p);
  HP_CALL(hp_train_data_open(comm, dpath, t->T, 1, NULL, &t->d)); /* the decoder's words: the dataset's */
  return 0;
}

int64_t hp_caption_task_captions(const hp_caption_task *t) { return t->d.M; }
const hp_vocab *hp_caption_task_vocab(const hp_caption_task *t) { return t->d.vocab; }
const hp_tokenizer *hp_caption_task_tokenizer(const hp_caption_task *t) { return t->d.tok; }

int hp_caption_task_load(hp_caption_task *t, hp_embeddings *em, const hp_capdec_config *dc) {
  t->E = em->embed_dim;
  /* no caption embedding is held: every step reads its rank's rows (row_reader.h) */
  t->Bmax = (t->B + t->size - 1) / t->size;
  HP_CALL(hp_row_reader_open(em->f.path, "/captions/embedding", H5T_NATIVE_FLOAT, t->Bmax, &t->emb));
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
      HP_ERROR(HP_ERR_INPUT, "%s: the %s split has no captions: caption-train needs %s captions", t->d.path, sname[s],
               sname[s]);
  }
  if (t->ncaps[0] < t->B)
    HP_ERROR(HP_ERR_INPUT, "%s: %" PRId64 " training captions, fewer than one global batch (caption.train_batch = %"
             PRId64 ")", t->d.path, t->ncaps[0], t->B);
  /* the decoder */
  HP_CALL(hp_capdec_build(&t->m, dc, &t->p));
  t->built = 1;
  HP_CALL(hp_params_alloc(&t->p));
  hp_capdec_describe(dc, t->desc, sizeof t->desc);
  init_params(t);
  size_t act = 0;
  HP_CALL(hp_capdec_alloc_acts(&t->m, (int)t->Bmax, &act));
  HP_CALLOC(t->perm, t->ncaps[0], "epoch permutation");
  HP_CALLOC(t->cond, (size_t)t->Bmax * t->E, "conditioning batch");
  HP_CALLOC(t->tok, (size_t)t->Bmax * t->T, "token batch");
  HP_CALLOC(t->tg, (size_t)t->Bmax * t->T, "target batch");
  double MiB = 1.0 / 1048576.0;
  hp_log_info("caption-train: decoder %s: %zu parameters; %" PRId64 " training / %" PRId64
              " validation captions; per rank: activations %.1f MiB, caption embeddings read per step (%.2f MiB a batch)",
              t->desc, t->p.total, t->ncaps[0], t->ncaps[1], act * MiB, (double)t->Bmax * t->E * sizeof(float) * MiB);
  return 0;
}

void hp_caption_task_close(hp_caption_task *t) {
  if (!t) return;
  hp_train_data_close(&t->d);
  hp_row_reader_close(t->emb);
  free(t->caps[0]);
  free(t->caps[1]);
  if (t->built) hp_capdec_free(&t->m);
  hp_params_free(&t->p);
  free(t->perm);
  free(t->cond);
  free(t->tok);
  free(t->tg);
  free(t);
}

hp_train_model hp_caption_task_model(hp_caption_task *t) {
  return (hp_train_model){.self = t,
                          .p = &t->p,
                          .desc = t->desc,
                          .loss_name = "the token loss",
                          .metric_name = "token accuracy",
                          .sample_name = "captions",
                          .best_key = "best_acc",
                          .select_by_metric = 1,
                          .samples = t->ncaps[0],
                          .epoch_begin = epoch_begin,
                          .forward_loss = forward_loss,
                          .backward = backward,
                          .after_update = NULL,
                          .validate = validate,
                          .finish = finish,
                          .init_params = init_params};
}
