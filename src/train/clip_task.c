/* clip_task.c — CLIP as a model of the trainer (see clip_task.h). */
#include "train/clip_task.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "base/memory.h"
#include "comm/shard.h"
#include "io/check.h"
#include "io/dataset.h"
#include "metrics/retrieval.h"
#include "models/clip.h"
#include "models/clip_loss.h"
#include "models/clip_ckpt.h"
#include "models/clip_config.h"
#include "data/ckpt_tokenizer.h"
#include "data/train_data.h"

struct hp_clip_task {
  MPI_Comm comm;
  int rank, size;
  const hp_config *cfg;
  hp_tokenizer *tok;        /* model.tokenizer when it is not the dataset's words (NULL: they are) */
  /* settings */
  int64_t batch, eval_batch, T;
  uint64_t seed;
  float text_dropout, image_dropout;
  int sync_bn;                   /* model.batch_norm = "sync" (ResNet, > 1 rank) */
  hp_clip_config mc;
  /* data and model */
  hp_train_data d;
  hp_clip m;
  MPI_Comm bn_comm;              /* synchronised batch norm (a duplicate of comm), or MPI_COMM_NULL */
  double bn_time;                /* seconds in the batch-norm reductions */
  double input_time;             /* seconds the training steps spent reading their images */
  int64_t bn_calls;
  int64_t Bl, Bmax;              /* local train batch, activation capacity */
  int64_t *perm;
  uint8_t *img, *valid;
  int32_t *ids;
  float *dimg, *dtxt;
  double dlogit_scale;           /* of the last forward_loss */
  hp_clip_loss_ws ws;
  uint8_t *labels, *blab;        /* train.soft_targets: [N,L] every image's labels, [batch,L] one batch's */
  int64_t L;
  float *buffers;                /* packed buffer tensors (BN statistics) */
  size_t nbuffers;
};

/* Synchronised batch norm's reducer (nn/bn_relu.h): sum over the ranks, in double, on a
 * duplicate communicator so these blocking reductions never interleave with the gradient
 * buckets' non-blocking allreduces on comm. */
static int bn_allreduce(void *arg, double *buf, int n) {
  hp_clip_task *t = arg;
  double t0 = hp_now();
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_DOUBLE, MPI_SUM, t->bn_comm));
  t->bn_time += hp_now() - t0;
  t->bn_calls++;
  return 0;
}

/* Pack / broadcast the non-trained buffers (batch-norm running statistics) from rank 0, as
 * PyTorch DDP's broadcast_buffers: every rank then holds the same model. With synchronised
 * batch norm the ranks already compute identical running statistics from the allreduced sums;
 * the broadcast stays as a guarantee (MPI does not promise bitwise-identical allreduce results
 * on every rank) and costs one small broadcast per step. */
static int sync_buffers(hp_clip_task *t) {
  if (t->nbuffers == 0 || t->size == 1) return 0;
  const hp_params *p = &t->m.p;
  size_t k = 0;
  for (int i = 0; i < p->n; i++)
    if (p->t[i].flags & HP_PARAM_BUFFER) {
      memcpy(t->buffers + k, p->data + p->t[i].offset, p->t[i].numel * sizeof(float));
      k += p->t[i].numel;
    }
  HP_MPI(MPI_Bcast(t->buffers, (int)k, MPI_FLOAT, 0, t->comm));
  k = 0;
  for (int i = 0; i < p->n; i++)
    if (p->t[i].flags & HP_PARAM_BUFFER) {
      memcpy(p->data + p->t[i].offset, t->buffers + k, p->t[i].numel * sizeof(float));
      k += p->t[i].numel;
    }
  return 0;
}

/* ids/valid for local rows with the given captions. */
static void fill_text(hp_clip_task *t, const int64_t *caps, int64_t n) {
  int64_t T = t->T;
  for (int64_t i = 0; i < n; i++) memcpy(t->ids + i * T, t->d.ids + caps[i] * T, (size_t)T * sizeof(int32_t));
  hp_bert_mask_from_ids(t->valid, t->ids, (size_t)(n * T), t->mc.text.pad_id);
}

/* ---- the trainer's callbacks ------------------------------------------------------------------ */

static int epoch_begin(void *self, int64_t epoch) {
  hp_clip_task *t = self;
  return hp_train_perm(&t->d, t->seed, epoch, t->perm);
}

static int forward_loss(void *self, const hp_train_pos *pos, hp_step_out *out) {
  hp_clip_task *t = self;
  hp_clip *m = &t->m;
  const int64_t Bl = t->Bl, B = t->batch;
  const int64_t *rows = t->perm + pos->batch * B + (int64_t)t->rank * Bl;
  int64_t caps[4096];
  int64_t *cp = Bl <= 4096 ? caps : NULL;
  if (!cp) HP_CALLOC(cp, Bl, "caption choice");
  for (int64_t i = 0; i < Bl; i++) cp[i] = hp_train_pick_caption(&t->d, t->seed, rows[i], pos->epoch);
  fill_text(t, cp, Bl);
  if (cp != caps) free(cp);
  double t0 = hp_now();
  HP_CALL(hp_train_read_images(&t->d, rows, Bl, t->img));
  t->input_time += hp_now() - t0;

  hp_drop tdrop = {.p = t->text_dropout, .seed = t->seed, .step = (uint64_t)pos->step,
                   .sample0 = (uint64_t)(t->rank * Bl)};
  hp_drop idrop = tdrop;
  idrop.p = t->image_dropout;
  const float *temb, *iemb;
  HP_CALL(hp_clip_encode_text(m, t->ids, t->valid, (int)Bl, (int)t->T, &tdrop, &temb));
  HP_CALL(hp_clip_encode_image(m, t->img, (int)Bl, 1, &idrop, &iemb));
  double tc = hp_now();
  HP_CALL(sync_buffers(t));
  if (t->labels) {
    const int64_t *grows = t->perm + pos->batch * B;
    for (int64_t i = 0; i < B; i++) memcpy(t->blab + i * t->L, t->labels + grows[i] * t->L, (size_t)t->L);
    HP_CALL(hp_clip_loss_set_targets(&t->ws, t->blab, (int)t->L));
  }
  hp_clip_loss_out lo;
  HP_CALL(hp_clip_loss(&t->ws, t->comm, iemb, temb, hp_clip_logit_scale(m), t->dimg, t->dtxt, &lo));
  *out = (hp_step_out){.loss = lo.loss, .metric = 0.5 * (lo.acc_i2t + lo.acc_t2i), .grad_scale = 1.0,
                       .comm = hp_now() - tc};
  t->dlogit_scale = lo.dlogit_scale;
  return 0;
}

static int backward(void *self, hp_grad_ready_fn ready, void *arg) {
  hp_clip_task *t = self;
  return hp_clip_backward(&t->m, t->dimg, t->dtxt, t->dlogit_scale, ready, arg);
}

static int after_update(void *self) {
  hp_clip_clamp(&((hp_clip_task *)self)->m);
  return 0;
}

/* Validation loss: global eval batches (negatives within each), first caption of every image,
 * eval mode. Mean over all pairs. */
static int validate(void *self, hp_eval_out *res) {
  hp_clip_task *t = self;
  const int split = 1;
  int64_t n = t->d.nrows[split], Be = t->eval_batch < n ? t->eval_batch : n;
  const int64_t *list = t->d.rows[split];
  double sum = 0.0;
  int64_t caps[4096];
  hp_progress prog;
  hp_progress_start(&prog, "train: validation", "pairs", n);
  for (int64_t a = 0; a < n; a += Be) {
    int64_t Bg = n - a < Be ? n - a : Be, r0, bl;
    hp_shard_range(Bg, t->size, t->rank, &r0, &bl);
    const int64_t *rows = list + a + r0;
    int64_t *cp = bl <= 4096 ? caps : NULL;
    if (!cp) HP_CALLOC(cp, bl, "validation captions");
    for (int64_t i = 0; i < bl; i++) cp[i] = t->d.cap_first[rows[i]];
    fill_text(t, cp, bl);
    if (cp != caps) free(cp);
    HP_CALL(hp_train_read_images(&t->d, rows, bl, t->img));
    const float *temb = t->dtxt, *iemb = t->dimg; /* any valid pointer when bl = 0 */
    if (bl > 0) {
      HP_CALL(hp_clip_encode_text(&t->m, t->ids, t->valid, (int)bl, (int)t->T, NULL, &temb));
      HP_CALL(hp_clip_encode_image(&t->m, t->img, (int)bl, 0, NULL, &iemb));
    }
    hp_clip_loss_ws ws;
    hp_clip_loss_out out;
    HP_CALL(hp_clip_loss_ws_init(&ws, t->comm, (int)bl, t->m.cfg.embed_dim));
    if (t->labels) { /* the same objective as training: soft targets within the eval batch */
      for (int64_t i = 0; i < Bg; i++) memcpy(t->blab + i * t->L, t->labels + list[a + i] * t->L, (size_t)t->L);
      HP_CALL(hp_clip_loss_set_targets(&ws, t->blab, (int)t->L));
    }
    HP_CALL(hp_clip_loss(&ws, t->comm, iemb, temb, hp_clip_logit_scale(&t->m), NULL, NULL, &out));
    hp_clip_loss_ws_free(&ws);
    sum += out.loss * (double)Bg;
    hp_progress_update(&prog, a + Bg);
  }
  hp_progress_end(&prog, n);
  res->loss = n > 0 ? sum / (double)n : NAN;
  res->metric = NAN;
  return 0;
}

/* ---- test-split retrieval --------------------------------------------------------------------- */

/* Embed this rank's `n` items (images, or the caption ids `items` when captions) into out [n,E],
 * in chunks of the activation capacity. */
static int embed_items(hp_clip_task *t, const int64_t *items, int64_t n, int captions, float *out, int64_t total) {
  int64_t E = t->m.cfg.embed_dim;
  hp_progress prog; /* rank 0's block is the largest: its count x ranks bounds the global one */
  hp_progress_start(&prog, captions ? "train: test retrieval, embedding captions" : "train: test retrieval, embedding images",
                    captions ? "captions" : "images", total);
  for (int64_t a = 0; a < n; a += t->Bmax) {
    int64_t b = n - a < t->Bmax ? n - a : t->Bmax;
    const float *emb;
    if (captions) {
      fill_text(t, items + a, b);
      HP_CALL(hp_clip_encode_text(&t->m, t->ids, t->valid, (int)b, (int)t->T, NULL, &emb));
    } else {
      HP_CALL(hp_train_read_images(&t->d, items + a, b, t->img));
      HP_CALL(hp_clip_encode_image(&t->m, t->img, (int)b, 0, NULL, &emb));
    }
    memcpy(out + a * E, emb, (size_t)(b * E) * sizeof(float));
    int64_t done = (a + b) * t->size;
    hp_progress_update(&prog, done < total ? done : total);
  }
  hp_progress_end(&prog, total);
  return 0;
}

/* Every rank's hp_shard_range block of n rows [n,E] into all [n,E] on every rank. */
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

/* Image -> caption: every test image with a caption ranks all captions of test images, a hit at k when one of
 * its own captions is among the k best; caption -> image: every test caption ranks all test
 * images (metrics/retrieval.h, ties counting against the query). Each rank ranks its block of
 * the queries against the gathered collection; the hit counts are summed. */
static int finish(void *self, double best, char *extra, size_t nextra) {
  (void)best;
  hp_clip_task *t = self;
  const hp_train_data *d = &t->d;
  int64_t ni = d->nrows[2], E = t->m.cfg.embed_dim;
  double t0 = hp_now(), i2t[3] = {0, 0, 0}, t2i[3] = {0, 0, 0};
  int64_t nc = 0, ni_cap = 0; /* image -> caption asks only the images that have a caption */
  for (int64_t i = 0; i < ni; i++) nc += d->cap_count[d->rows[2][i]], ni_cap += d->cap_count[d->rows[2][i]] > 0;
  if (ni > 0) {
    int64_t *cap = NULL, *img_lo = NULL, *img_hi = NULL, *cap_lo = NULL, *cap_hi = NULL;
    HP_CALLOC(cap, nc + 1, "test captions");
    HP_CALLOC(cap_lo, nc + 1, "test caption images");
    HP_CALLOC(cap_hi, nc + 1, "test caption images");
    HP_CALLOC(img_lo, ni, "test caption ranges");
    HP_CALLOC(img_hi, ni, "test caption ranges");
    for (int64_t i = 0, k = 0; i < ni; i++) {
      img_lo[i] = k;
      int64_t im = d->rows[2][i];
      for (int64_t j = 0; j < d->cap_count[im]; j++, k++) {
        cap[k] = d->cap_first[im] + j;
        cap_lo[k] = i;
        cap_hi[k] = i + 1;
      }
      img_hi[i] = k;
    }
    float *ie = NULL, *ce = NULL;
    HP_CALLOC(ie, ni * E, "test image embeddings");
    HP_CALLOC(ce, (nc > 0 ? nc : 1) * E, "test caption embeddings");
    int64_t a, n, ca, cn;
    hp_shard_range(ni, t->size, t->rank, &a, &n);
    HP_CALL(embed_items(t, d->rows[2] + a, n, 0, ie + a * E, ni));
    HP_CALL(gather_rows(t->comm, t->size, ni, E, ie));
    hp_shard_range(nc, t->size, t->rank, &ca, &cn);
    HP_CALL(embed_items(t, cap + ca, cn, 1, ce + ca * E, nc));
    HP_CALL(gather_rows(t->comm, t->size, nc, E, ce));
    const int64_t ks[3] = {1, 5, 10};
    double hits[6] = {0};
    hp_log_info("train: test retrieval: ranking %" PRId64 " captions for each of %" PRId64 " images (%" PRId64
                " with captions) and %" PRId64 " images for each caption", nc, ni, ni_cap, ni);
    HP_CALL(hp_retrieval_hits(ie + a * E, n, ce, nc, E, img_lo + a, img_hi + a, ks, 3, hits));
    HP_CALL(hp_retrieval_hits(ce + ca * E, cn, ie, ni, E, cap_lo + ca, cap_hi + ca, ks, 3, hits + 3));
    HP_MPI(MPI_Allreduce(MPI_IN_PLACE, hits, 6, MPI_DOUBLE, MPI_SUM, t->comm));
    for (int k = 0; k < 3; k++) {
      i2t[k] = ni_cap > 0 ? hits[k] / (double)ni_cap : 0.0;
      t2i[k] = nc > 0 ? hits[3 + k] / (double)nc : 0.0;
    }
    free(cap);
    free(cap_lo);
    free(cap_hi);
    free(img_lo);
    free(img_hi);
    free(ie);
    free(ce);
  } else {
    nc = 0;
  }
  if (nc == 0) { /* no pair to retrieve (e.g. a folder of uncaptioned test images): no figures at all */
    snprintf(extra, nextra, "test_images=%" PRId64 " test_captions=0", ni);
    hp_log_info("train: the test split (%" PRId64 " images) has no captions: no test retrieval", ni);
    return 0;
  }
  snprintf(extra, nextra,
           "test_images=%" PRId64 " test_captioned_images=%" PRId64 " test_captions=%" PRId64 " i2t_r1=%.4f "
           "i2t_r5=%.4f i2t_r10=%.4f t2i_r1=%.4f t2i_r5=%.4f t2i_r10=%.4f",
           ni, ni_cap, nc, i2t[0], i2t[1], i2t[2], t2i[0], t2i[1], t2i[2]);
  hp_log_info("train: test split retrieval (%" PRId64 " images, %" PRId64 " captions, best epoch's model, %.1f s): "
              "image->caption R@1 %.3f R@5 %.3f R@10 %.3f | caption->image R@1 %.3f R@5 %.3f R@10 %.3f",
              ni, nc, hp_now() - t0, i2t[0], i2t[1], i2t[2], t2i[0], t2i[1], t2i[2]);
  if (t->rank == 0) {
    printf("image->caption recall@1 on the test split: %.3f\n", i2t[0]);
    fflush(stdout);
  }
  return 0;
}

static void init_params(void *self) {
  hp_clip_task *t = self;
  hp_clip_init(&t->m, t->seed);
}

/* ---- set-up ----------------------------------------------------------------------------------- */

/* Checks every rank decides identically, before any training work: agreed collectively. */
static int check_setup(hp_clip_task *t) {
  const char *job = hp_config_path(t->cfg);
  if (t->batch % t->size)
    HP_ERROR(HP_ERR_CONFIG, "%s: train.batch = %" PRId64 " is not divisible by the %d ranks of this job (every rank "
             "takes an equal share of the global batch); choose a multiple of %d or another rank count",
             job, t->batch, t->size, t->size);
  if (t->d.nrows[0] < t->batch)
    HP_ERROR(HP_ERR_INPUT, "%s: %" PRId64 " training images, fewer than one global batch (train.batch = %" PRId64
             "); lower train.batch or use a larger dataset", t->d.path, t->d.nrows[0], t->batch);
  if (t->d.nrows[1] < 1)
    HP_ERROR(HP_ERR_INPUT, "%s: no validation images with a caption (/split has no 1, or only images without "
             "captions): early stopping and the best checkpoint need the validation split", t->d.path);
  /* ResNet batch norm needs more than one value per channel: per rank with local BN, over the
   * global batch with synchronised BN (images below 32x32 aside, whose last map is still
   * 1x1: hp_bn_stats then reports it, identically on every rank) */
  if (t->mc.image_kind == HP_CLIP_IMAGE_RESNET && (t->sync_bn ? t->batch : t->batch / t->size) < 2)
    HP_ERROR(HP_ERR_CONFIG, "%s: train.batch = %" PRId64 " on %d rank(s) leaves one image per %s: ResNet batch norm "
             "needs at least 2%s", job, t->batch, t->size, t->sync_bn ? "batch" : "rank",
             t->sync_bn || t->size == 1 ? "" : " (model.batch_norm = \"sync\" normalises over the global batch)");
  return 0;
}

/* train.soft_targets: every image's labels on every rank (N x L bytes). */
static int load_labels(hp_clip_task *t, const char *dpath) {
  hp_dataset *ds = NULL;
  HP_CALL(hp_dataset_open(t->comm, dpath, &ds));
  hp_dataset_dims dims = hp_dataset_get_dims(ds);
  int err = 0;
  if (dims.n_labels == 0)
    err = HP_ERROR_SET(HP_ERR_CONFIG, "%s: train.soft_targets = true needs labels, but %s has none (no /labels)",
                       hp_config_path(t->cfg), dpath);
  if (!err && dims.n_labels > INT32_MAX)
    err = HP_ERROR_SET(HP_ERR_CONFIG, "%s: too many labels", dpath);
  if (err) {
    hp_dataset_close(ds);
    HP_CALL(err);
  }
  t->L = dims.n_labels;
  int64_t eb = t->eval_batch > t->batch ? t->eval_batch : t->batch;
  HP_CALLOC(t->labels, (size_t)(dims.n_images > 0 ? dims.n_images : 1) * (size_t)t->L, "soft-target labels");
  HP_CALLOC(t->blab, (size_t)eb * (size_t)t->L, "soft-target batch labels");
  err = hp_dataset_read_labels(ds, 0, dims.n_images, t->labels);
  hp_dataset_close(ds);
  HP_CALL(err);
  hp_log_info("train: label-aware soft targets over %" PRId64 " labels (train.soft_targets)", t->L);
  return 0;
}

/* Peak memory per rank before the big allocations (base/memory.h). */
static int check_memory(hp_clip_task *t, int sgd) {
  hp_params *p = &t->m.p;
  size_t act = 0;
  HP_CALL(hp_clip_acts_estimate(&t->m, (int)t->Bmax, &act));
  size_t pb = p->total * sizeof(float);
  size_t opt = p->total * sizeof(float) * (sgd ? 1 : 2); /* upper bound: ZeRO-1 keeps a slice */
  size_t px = (size_t)t->d.S * t->d.S * 3;
  size_t data = (size_t)t->d.M * t->T * sizeof(int32_t) + (size_t)t->Bmax * px * 2;
  size_t need = 2 * pb + opt + act + 2 * pb + data;
  char detail[512];
  snprintf(detail, sizeof detail,
           "parameters + gradients %.1f MiB, optimiser state %.1f MiB, activations for %" PRId64
           " images %.1f MiB, best copy + checkpoint staging %.1f MiB, data %.1f MiB",
           2 * pb / 1048576.0, opt / 1048576.0, t->Bmax, act / 1048576.0, 2 * pb / 1048576.0, data / 1048576.0);
  return hp_mem_require(t->comm, "train", hp_cfg_float(t->cfg, "run.memory_limit"), need, 2 * pb, detail,
                        "train.batch (or more ranks), train.eval_batch, the model.* sizes");
}

/* The settings that do not depend on the dataset. */
static void read_settings(hp_clip_task *t) {
  const hp_config *cfg = t->cfg;
  t->batch = hp_cfg_int(cfg, "train.batch");
  t->eval_batch = hp_cfg_int(cfg, "train.eval_batch");
  if (t->eval_batch == 0) t->eval_batch = t->batch;
  t->T = hp_cfg_int(cfg, "data.caption_len");
  t->seed = (uint64_t)hp_cfg_int(cfg, "run.seed");
  t->text_dropout = (float)hp_cfg_float(cfg, "model.text_dropout");
  t->image_dropout = (float)hp_cfg_float(cfg, "model.image_dropout");
}

/* model.tokenizer: the dataset's words (NULL), or a pretrained vocabulary / merges file. Every
 * rank reads the file (a few hundred kB). */
static int open_tokenizer(hp_clip_task *t) {
  const hp_config *cfg = t->cfg;
  if (hp_cfg_bool(cfg, "model.from_checkpoint") && hp_cfg_str(cfg, "train.init_checkpoint")[0]) {
    /* the model and its tokenizer both come from the initial checkpoint */
    const char *init = hp_cfg_str(cfg, "train.init_checkpoint");
    HP_CALL(hp_tokenizer_from_ckpt(t->comm, init, &t->tok));
    if (hp_cfg_is_set(cfg, "model.tokenizer") || hp_cfg_is_set(cfg, "model.tokenizer_file"))
      hp_log_info("train: model.from_checkpoint: the tokenizer is %s's; model.tokenizer* are not used", init);
    return 0;
  }
  const char *kind = hp_cfg_str(cfg, "model.tokenizer"), *file = hp_cfg_str(cfg, "model.tokenizer_file");
  hp_tokenizer_spec s = {.kind = strcmp(kind, "wordpiece") == 0 ? HP_TOKENIZER_WORDPIECE
                                 : strcmp(kind, "bpe") == 0     ? HP_TOKENIZER_BPE
                                                                : HP_TOKENIZER_WORD,
                         .lowercase = hp_cfg_bool(cfg, "model.tokenizer_lowercase"),
                         .strip_accents = hp_cfg_bool(cfg, "model.tokenizer_strip_accents")};
  if (s.kind == HP_TOKENIZER_WORD) {
    if (file[0])
      HP_ERROR(HP_ERR_CONFIG, "%s: model.tokenizer_file = \"%s\" is for model.tokenizer = \"wordpiece\" or \"bpe\"; "
               "the word tokenizer's vocabulary is the dataset's", hp_config_path(cfg), file);
    return 0;
  }
  if (!file[0])
    HP_ERROR(HP_ERR_CONFIG, "%s: model.tokenizer = \"%s\" needs model.tokenizer_file (%s)", hp_config_path(cfg), kind,
             s.kind == HP_TOKENIZER_BPE ? "CLIP's merges file, bpe_simple_vocab_16e6.txt.gz" : "BERT's vocab.txt");
  if (s.kind == HP_TOKENIZER_BPE && strcmp(hp_cfg_str(cfg, "model.text"), "clip") != 0 &&
      !hp_cfg_bool(cfg, "model.from_checkpoint")) /* else read_model checks the checkpoint's tower */
    HP_ERROR(HP_ERR_CONFIG, "%s: model.tokenizer = \"bpe\" is CLIP's, for CLIP's causal text transformer pooled at "
             "the end token (model.text = \"clip\"); with the BERT text tower use \"wordpiece\" or \"word\"",
             hp_config_path(cfg));
  return hp_tokenizer_from_file(&s, file, &t->tok);
}

/* train.freeze: the locked tower's tensors (with its projection) are flagged frozen, so the
 * optimiser never updates them (nn/params.h). */
static int freeze_tower(hp_clip_task *t) {
  const char *which = hp_cfg_str(t->cfg, "train.freeze");
  if (strcmp(which, "none") == 0) return 0;
  int image = strcmp(which, "image") == 0;
  const char *tower = image ? "visual." : "text.", *proj = image ? "visual_projection." : "text_projection.";
  size_t n = 0;
  for (int k = 0; k < t->m.p.n; k++) {
    hp_tensor_info *ti = &t->m.p.t[k];
    if (ti->flags & HP_PARAM_BUFFER) continue; /* batch-norm statistics: see below */
    if (strncmp(ti->name, tower, strlen(tower)) == 0 || strncmp(ti->name, proj, strlen(proj)) == 0) {
      ti->flags |= HP_PARAM_FROZEN;
      n += ti->numel;
    }
  }
  /* a locked ResNet still runs in training mode: batch statistics normalise, and the running
   * statistics follow the batches (OpenCLIP's --lock-image does the same unless told
   * --lock-image-freeze-bn-stats, which hpclip does not have yet) */
  if (image && t->mc.image_kind == HP_CLIP_IMAGE_RESNET)
    hp_log_info("train: the locked ResNet's batch-norm running statistics still follow the batches");
  if (n == 0) HP_ERROR(HP_ERR_INTERNAL, "train.freeze = \"%s\": no tensor named %s* or %s*", which, tower, proj);
  /* its backward is skipped: a locked tower costs its forward only */
  if (image) t->m.locked_image = 1;
  else t->m.locked_text = 1;
  hp_log_info("train: the %s tower is locked (train.freeze): %zu parameters not trained, its backward skipped%s", which, n,
              !hp_cfg_str(t->cfg, "train.init_checkpoint")[0]
                  ? " -- they keep their random initialisation: set train.init_checkpoint to a trained model"
                  : "");
  return 0;
}

/* The model from the model.* keys, the dataset's image size and the tokenizer's vocabulary. */
static int read_model(hp_clip_task *t) {
  const hp_config *cfg = t->cfg;
  /* one mapping from the model.* keys, shared with the evaluation stages; or the model of
   * train.init_checkpoint (a converted pretrained model) */
  if (hp_cfg_bool(cfg, "model.from_checkpoint"))
    HP_CALL(hp_clip_config_from_ckpt(t->comm, hp_cfg_str(cfg, "train.init_checkpoint"), cfg, t->d.S,
                                     hp_tokenizer_vocab_size(t->d.tok), &t->mc));
  else
    HP_CALL(hp_clip_config_from_cfg(cfg, t->d.S, hp_tokenizer_vocab_size(t->d.tok), t->T, &t->mc));
  if (t->tok && hp_tokenizer_get_spec(t->tok)->kind == HP_TOKENIZER_BPE && t->mc.text.arch != HP_TEXT_CLIP)
    HP_ERROR(HP_ERR_CONFIG, "%s: model.tokenizer = \"bpe\" is CLIP's, for CLIP's causal text transformer; the model of "
             "train.init_checkpoint has the BERT text tower", hp_config_path(cfg));
  t->mc.text.pad_id = hp_tokenizer_pad_id(t->d.tok);
  t->sync_bn = t->mc.image_kind == HP_CLIP_IMAGE_RESNET && strcmp(hp_cfg_str(cfg, "model.batch_norm"), "sync") == 0;
  return 0;
}

int hp_clip_task_open(MPI_Comm comm, const hp_config *cfg, const char *dpath, hp_clip_task **out) {
  hp_clip_task *t = NULL;
  HP_CALLOC(t, 1, "CLIP training task");
  *out = t;
  t->comm = comm;
  t->cfg = cfg;
  t->bn_comm = MPI_COMM_NULL;
  MPI_Comm_rank(comm, &t->rank);
  MPI_Comm_size(comm, &t->size);
  read_settings(t);
  int64_t bl = t->batch / t->size > 0 ? t->batch / t->size : 1, el = (t->eval_batch + t->size - 1) / t->size;
  t->Bmax = bl > el ? bl : el;
  HP_CALL(hp_agree(comm, open_tokenizer(t)));
  if (hp_cfg_bool(cfg, "model.from_checkpoint")) { /* the context is the checkpoint's */
    const char *init = hp_cfg_str(cfg, "train.init_checkpoint");
    if (!init[0])
      HP_ERROR(HP_ERR_CONFIG, "%s: model.from_checkpoint = true takes the model from train.init_checkpoint, which is "
               "not set", hp_config_path(cfg));
    char desc[512];
    hp_clip_config mc;
    HP_CALL(hp_check_file_as(comm, init, "hpclip.checkpoint"));
    HP_CALL(hp_h5_root_attr(comm, init, "model", desc, sizeof desc));
    HP_CALL(hp_clip_config_from_desc(desc, &mc));
    t->T = mc.text.max_len;
  }
  HP_CALL(hp_train_data_open(comm, dpath, t->T, t->Bmax, t->tok, &t->d));
  int err = read_model(t);
  if (!err) err = check_setup(t);
  if (!err) err = hp_clip_build(&t->m, &t->mc);
  HP_CALL(hp_agree(comm, err));
  HP_CALL(freeze_tower(t));
  t->Bl = t->batch / t->size;
  HP_CALL(check_memory(t, strcmp(hp_cfg_str(cfg, "train.optimizer"), "sgd") == 0));
  size_t act = 0;
  HP_CALL(hp_clip_alloc_acts(&t->m, (int)t->Bmax, &act));
  if (t->mc.image_kind == HP_CLIP_IMAGE_RESNET && t->sync_bn && t->size > 1) {
    HP_MPI(MPI_Comm_dup(comm, &t->bn_comm));
    t->m.resnet.bn_reduce = (hp_bn_reducer){.fn = bn_allreduce, .arg = t};
  }
  if (t->mc.image_kind == HP_CLIP_IMAGE_RESNET)
    hp_log_info("train: ResNet batch norm: %s", t->bn_comm != MPI_COMM_NULL ? "synchronised over the ranks (global batch statistics)"
                : t->size > 1 ? "local to each rank (model.batch_norm = \"local\")" : "over the batch (1 rank)");
  hp_clip_init(&t->m, t->seed);
  size_t px = (size_t)t->d.S * t->d.S * 3;
  HP_CALLOC(t->perm, t->d.nrows[0], "epoch permutation");
  HP_CALLOC(t->img, (size_t)t->Bmax * px, "image batch");
  HP_CALLOC(t->ids, (size_t)t->Bmax * t->T, "caption ids batch");
  HP_CALLOC(t->valid, (size_t)t->Bmax * t->T, "caption mask batch");
  HP_CALLOC(t->dimg, (size_t)t->Bmax * t->m.cfg.embed_dim, "image embedding gradient");
  HP_CALLOC(t->dtxt, (size_t)t->Bmax * t->m.cfg.embed_dim, "text embedding gradient");
  HP_CALL(hp_clip_loss_ws_init(&t->ws, comm, (int)t->Bl, t->m.cfg.embed_dim));
  if (hp_cfg_bool(cfg, "train.soft_targets")) HP_CALL(load_labels(t, dpath));
  const hp_params *p = &t->m.p;
  for (int i = 0; i < p->n; i++)
    if (p->t[i].flags & HP_PARAM_BUFFER) t->nbuffers += p->t[i].numel;
  HP_CALLOC(t->buffers, t->nbuffers + 1, "buffer broadcast");
  double MiB = 1.0 / 1048576.0;
  size_t data = (size_t)t->d.M * t->T * sizeof(int32_t) + (size_t)t->Bmax * px * 2;
  hp_log_info("train: model %s: %zu parameters (%zu trainable), %d tensors; %" PRId64 " training / %" PRId64
              " validation / %" PRId64 " test images; per rank: activations %.1f MiB, data %.1f MiB",
              t->m.desc, p->total, hp_params_trainable(p), p->n, t->d.nrows[0], t->d.nrows[1], t->d.nrows[2],
              act * MiB, data * MiB);
  return 0;
}

void hp_clip_task_close(hp_clip_task *t) {
  if (!t) return;
  hp_train_data_close(&t->d);
  hp_tokenizer_free(t->tok);
  if (t->bn_comm != MPI_COMM_NULL) MPI_Comm_free(&t->bn_comm);
  hp_clip_free(&t->m);
  hp_clip_loss_ws_free(&t->ws);
  free(t->labels);
  free(t->blab);
  free(t->perm);
  free(t->img);
  free(t->ids);
  free(t->valid);
  free(t->dimg);
  free(t->dtxt);
  free(t->buffers);
  free(t);
}

hp_train_model hp_clip_task_model(hp_clip_task *t) {
  return (hp_train_model){.self = t,
                          .p = &t->m.p,
                          .desc = t->m.desc,
                          .loss_name = "the contrastive loss",
                          .metric_name = NULL,
                          .sample_name = "pairs",
                          .best_key = "best_val",
                          .select_by_metric = 0,
                          .samples = t->d.nrows[0],
                          .epoch_begin = epoch_begin,
                          .forward_loss = forward_loss,
                          .backward = backward,
                          .after_update = after_update,
                          .validate = validate,
                          .finish = finish,
                          .init_params = init_params};
}

const hp_tokenizer *hp_clip_task_tokenizer(const hp_clip_task *t) { return t->d.tok; }

double hp_clip_task_input_time(const hp_clip_task *t) { return t->input_time; }

void hp_clip_task_bn_time(const hp_clip_task *t, double *seconds, int64_t *calls) {
  *seconds = t->bn_time;
  *calls = t->bn_calls;
}
