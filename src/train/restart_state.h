/* restart_state.h — the restart plumbing the two trainers share: `train` (train-state.h5,
 * train-best.h5) and `caption-train` (caption-train-state.h5, caption-train-best.h5).
 *
 * A restart state file is a checkpoint (io/checkpoint.h: parameters, optimiser moments under
 * /optim, the per-epoch curves under /history) whose `state` attribute holds the trainer's
 * counters as "key=value" words, doubles in %a hex so that they read back bitwise; the
 * best-so-far file holds the best parameters. A state file is resumed from only when its
 * `fingerprint` is this run's. What the words are and when the files are written stay
 * with each trainer; this module finds, parses and writes the files and keeps the curves.
 *
 * Use: fill the first block of hp_restart (a designated initialiser), hp_restart_init; at the
 * start hp_restart_find and, when found, hp_ckpt_read of path_state, hp_restart_get of each
 * state word, hp_restart_history, hp_restart_read_best; hp_restart_record at each epoch end,
 * hp_restart_write for every file; hp_restart_free at the end.
 */
#ifndef HP_TRAIN_RESTART_STATE_H
#define HP_TRAIN_RESTART_STATE_H

#include <stdint.h>

#include "config/config.h"
#include "io/checkpoint.h"
#include "nn/params.h"
#include <mpi.h>
#include "text/text_tokenizer.h"

typedef struct {
  /* set by the caller before hp_restart_init */
  const char *stage;                   /* message prefix: "train", "caption-train" */
  const char *inputs;                  /* what the fingerprint covers besides the configuration,
                                        * as the "starting afresh" message names it */
  const char *model;                   /* model description (the files' `model` attribute) */
  const char *optimizer;               /* "adamw", "sgd", "rmsprop" */
  const hp_tokenizer *tokenizer;       /* stored as /vocab and the tokenizer attribute */
  int64_t max_epochs;                  /* the curves hold at most this many epochs */
  const char *path_state, *path_best;  /* the state file and the best-so-far file */
  MPI_Comm comm;
  int rank;
  const char *fingerprint;             /* this run's: stamped into the files, checked by find */
  /* set by hp_restart_init */
  char *config_text;                   /* the job's configuration (hp_config_dump) */
  int64_t nhist;                       /* epochs in the curves */
  double *hist_train, *hist_val;       /* [max_epochs + 1] per-epoch train / validation loss */
  double *hist_tm, *hist_vm, *hist_lr; /* [max_epochs + 1] train / validation metric, learning rate */
} hp_restart;

/* The configuration text of cfg, the curves (empty). */
int hp_restart_init(hp_restart *r, const hp_config *cfg);
void hp_restart_free(hp_restart *r);

/* Collective: *found = 1 when the state file exists and carries this run's fingerprint (the
 * caller then reads it with hp_ckpt_read); 0 when there is none, or one from another run
 * (logged "STAGE: PATH is from another configuration or INPUTS (...): starting afresh"). */
int hp_restart_find(hp_restart *r, int *found);

/* The value of "key=" in the state file's `state` attribute text: an int64_t (is_double = 0)
 * or a double into *out. HP_ERR_INPUT naming the file and the key when absent or malformed. */
int hp_restart_get(const hp_restart *r, const char *text, const char *key, int is_double, void *out);

/* The curves of a loaded state file whose state says `epoch` epochs are complete: its /history
 * must hold exactly that many (and epoch <= max_epochs), else HP_ERR_INPUT. */
int hp_restart_history(hp_restart *r, const hp_ckpt_info *info, int64_t epoch);

/* Epoch e (from 0) ended with these losses: its curve points; the curves then hold e + 1. */
void hp_restart_record(hp_restart *r, int64_t e, double train_loss, double val_loss, double train_metric,
                       double val_metric, double lr);

/* Collective: the best-so-far file's parameters into best [p->total]; p->data is unchanged. */
int hp_restart_read_best(hp_restart *r, hp_params *p, float *best);

/* Collective: a checkpoint of p at path (the state file, the best file or the stage output)
 * with `state` as its state attribute, the moments m, v (NULL = not stored) and, when
 * with_history, the curves. */
int hp_restart_write(const hp_restart *r, const char *path, const hp_params *p, int64_t step, int64_t epoch,
                     const char *state, const float *m, const float *v, int with_history);

/* Rank 0: remove the best-so-far file and, when state_too, the state file (a warning if that
 * fails; an absent file is no failure). */
void hp_restart_remove(const hp_restart *r, int state_too);

#endif
