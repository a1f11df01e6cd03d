/* checkpoint.h — ckpt.h5, schema "hpclip.checkpoint" version 1 (hdf5-schemas/checkpoint.md).
 *
 *   /params/<name>   float32, the tensor's shape   one dataset per named parameter of the
 *                                                  model's table (nn/params.h), names as
 *                                                  in the PyTorch reference state dicts
 *   /optim/m/<name>, /optim/v/<name>               optimiser moments, same names and shapes
 *   /vocab           string table                  the tokenizer's entries: words (id order),
 *                                                  vocab.txt lines (wordpiece) or merges (bpe)
 *   /history/train_loss, /history/val_loss  float64 [epochs]  optional per-epoch curves, with
 *   /history/train_metric, val_metric, lr   float64 [epochs]  optional: the model's second figure
 *                                                  (in-batch accuracy, token accuracy; NaN =
 *                                                  none) and the learning rate of the epoch's
 *                                                  last step
 * Root attributes: schema, schema_version, config, fingerprint, created_by, model (the model
 * description a loader must match), optimizer ("adamw", "sgd", "none"), state (training state
 * as "key=value" words), step, epoch; optional tokenizer (the spec of /vocab, absent = "word").
 *
 * Writing is collective and atomic (PATH.tmp renamed when complete); the data come from rank 0
 * (parameters are replicated). Reading validates the file, then checks that every tensor of
 * the model's table is present with the same shape and that the file holds no other tensor;
 * rank 0 reads and broadcasts.
 */
#ifndef HP_IO_CHECKPOINT_H
#define HP_IO_CHECKPOINT_H

#include <mpi.h>
#include <stdint.h>

#include "nn/params.h"

#define HP_CKPT_SCHEMA "hpclip.checkpoint"

typedef struct {
  int64_t step, epoch;
  const char *model;        /* description the loader must match, e.g. "bert(L=4,...)+vit(...)" */
  const char *state;        /* training state, "key=value ..." */
  const char *config_text;
  const char *fingerprint;
  const char *optimizer;    /* "adamw", "sgd" or "none" */
  const float *m, *v;       /* [p->total], laid out like p->data; NULL = not stored */
  int64_t n_vocab;
  const char *const *vocab; /* the tokenizer's entries (text/text_tokenizer.h) */
  const char *tokenizer;    /* its spec ("word", "wordpiece lowercase=1 strip_accents=1", "bpe");
                             * NULL = no attribute (read as "word") */
  int64_t n_history;                     /* epochs in the curves; 0 = no /history */
  const double *train_loss, *val_loss;   /* [n_history] */
  const double *train_metric, *val_metric, *lr; /* [n_history] each; NULL = not stored */
} hp_ckpt_meta;

int hp_ckpt_write(MPI_Comm comm, const char *path, const hp_params *p, const hp_ckpt_meta *meta);

typedef struct {
  int64_t step, epoch;
  char *model, *state, *optimizer, *config, *fingerprint;
  int64_t n_vocab;
  char **vocab;
  int has_m, has_v;
  int64_t n_history;                     /* 0 when the file has no /history */
  double *train_loss, *val_loss;         /* [n_history] */
  double *train_metric, *val_metric, *lr; /* [n_history] each; NULL when the file lacks them */
} hp_ckpt_info;

/* Read into p->data (p built from this job's config); m, v: optional [p->total] outputs.
 * `model` = this job's model description: a different one is an HP_ERR_INPUT naming both. */
int hp_ckpt_read(MPI_Comm comm, const char *path, const char *model, hp_params *p, float *m, float *v,
                 hp_ckpt_info *info);
/* Collective, before the model is built: the tokenizer spec (the attribute, "word" when absent)
 * and /vocab's entries (HP_ERR_INPUT naming the file when /vocab is missing: the checkpoint
 * cannot encode text). Caller frees *spec and the entries (hp_strings_free of io/dataset.h). */
int hp_ckpt_read_tokenizer(MPI_Comm comm, const char *path, char **spec, char ***entries, int64_t *n);
void hp_ckpt_info_free(hp_ckpt_info *info);

#endif
