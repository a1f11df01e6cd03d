/* trainer.h — the one training loop of hpclip: `train` (CLIP) and `caption-train` (the caption
 * decoder) both run it, each model plugging in through hp_train_model.
 *
 * A step, in llm.c's shape, is four calls: the model's forward_loss (this rank's share of the
 * global batch, loss reduced over the ranks), its backward (gradients into p->grad, finished
 * ranges handed to the bucketed allreduce as they complete), the gradient sync (comm/allreduce,
 * or a reduce-scatter with train.zero1) and the optimiser update (L2, global norm, clip, step;
 * with ZeRO-1 each rank updates its slice and the parameters are all-gathered).
 *
 * Around the steps the trainer owns: the epoch loop and train.max_steps, the learning-rate
 * schedule, validation after every epoch, the best epoch (lowest validation loss, or highest
 * validation metric) and early stopping, the restart state (train/restart_state.h) written every
 * checkpoint_every steps and at each epoch end, SIGUSR1/SIGTERM checked after every step (every
 * rank stops at the same step, the state is written, HP_ERR_PREEMPTED: exit 12), the NaN/Inf
 * guard naming the step and the first bad tensor, progress lines with throughput and ETA, and
 * the final output: the best epoch's parameters with the model's finish() words (its test-split
 * evaluation) in the `state` attribute. A resumed run ends bitwise equal to an uninterrupted one
 * with the same rank count, provided the model's data order and dropout are functions of
 * (seed, epoch, batch, step), never of the process's history.
 */
#ifndef HP_TRAIN_TRAINER_H
#define HP_TRAIN_TRAINER_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "nn/optim.h"
#include "text/text_tokenizer.h"

/* Where the model is in training when a callback runs. */
typedef struct {
  int64_t epoch;  /* from 0 */
  int64_t batch;  /* global batch within the epoch, from 0 */
  int64_t step;   /* optimiser steps taken before this one */
} hp_train_pos;

typedef struct {
  double loss;        /* the step's global mean loss (the same on every rank) */
  double metric;      /* a second figure for the progress line (accuracy); NAN = none */
  double grad_scale;  /* the summed gradient is multiplied by this before the update (1 = as is) */
  double comm;        /* seconds spent in collectives inside forward_loss */
} hp_step_out;

typedef struct {
  double loss, metric;  /* over the validation split; metric NAN when the model has none */
} hp_eval_out;


/* The plug-in. Callbacks return 0 or an hp_err code; those marked collective are called on every
 * rank in the same order. */
typedef struct {
  void *self;
  hp_params *p;                /* parameters and gradients (p->grad is zeroed by the trainer) */
  const char *desc;            /* model description: the checkpoints' `model` attribute */
  const char *loss_name;       /* "the contrastive loss": for the NaN/Inf message */
  const char *metric_name;     /* "accuracy", "token accuracy"; NULL = no metric */
  const char *sample_name;     /* "pairs", "captions": the progress line's throughput unit */
  const char *best_key;        /* state word holding the best validation figure ("best_val") */
  int select_by_metric;        /* 1: the best epoch has the highest validation metric; 0: the lowest loss */
  int64_t samples;             /* training samples per epoch: steps per epoch = samples / batch */
  /* The sample order of epoch e; called at the start of every epoch (a resumed one too). */
  int (*epoch_begin)(void *self, int64_t epoch);
  /* Collective: forward and loss of global batch pos->batch, this rank's share. */
  int (*forward_loss)(void *self, const hp_train_pos *pos, hp_step_out *out);
  /* Backward of the last forward_loss; calls ready(arg, lo) when gradients [lo, total) are final
   * (ready may be NULL; the sync finishes whatever was not handed over). */
  int (*backward)(void *self, hp_grad_ready_fn ready, void *arg);
  /* After each update (parameter clamps); may be NULL. */
  int (*after_update)(void *self);
  /* Collective: loss (and metric) over the validation split, eval mode. */
  int (*validate)(void *self, hp_eval_out *out);
  /* Collective, once at the end with the best epoch's parameters in p (best = its validation
   * figure): words for the output's `state` attribute (a test-split evaluation) into extra [n];
   * may be NULL. */
  int (*finish)(void *self, double best, char *extra, size_t n);
  /* The parameters' initial values (a finished state file was found: training starts again). */
  void (*init_params)(void *self);
} hp_train_model;

typedef struct {
  const char *stage;               /* "train", "caption-train": log prefix and messages */
  MPI_Comm comm;
  int rank, size;
  const hp_config *cfg;            /* the job: stored in every checkpoint; run.memory_limit */
  const char *fingerprint;         /* this run's: stamped into every file, checked on resume */
  const char *inputs;              /* what the fingerprint covers besides the config ("dataset") */
  const char *path_output, *path_state, *path_best; /* the output and the restart files */
  const hp_tokenizer *tokenizer;   /* stored (/vocab, the tokenizer attribute) in every file */
  int64_t batch, epochs, patience, max_steps, checkpoint_every;
  hp_optim_config optim;
  const char *optimizer;           /* "adamw", "sgd", "rmsprop": the files' `optimizer` attribute */
  hp_lr_schedule sched;            /* .total: 0 = steps per epoch x epochs, cut by max_steps */
  double grad_clip;                /* global-norm clip of the scaled gradient; 0 = none */
  double bucket_mb;                /* allreduce bucket size */
  int zero1;                       /* ZeRO-1: optimiser state sharded over the ranks */
  int allreduce_bf16;              /* gradients summed as bfloat16 on the wire (comm/allreduce.h) */
  int keep_state;                  /* leave the state file at the end (done=1, the last parameters) */
  const char *extra_state;         /* words added to every state attribute; may be NULL */
  const char *init_checkpoint;     /* parameters to start from (not on resume); NULL or "" = none */
} hp_trainer_config;

typedef struct {
  int64_t steps;                   /* optimiser steps this process ran (after a resume: since it) */
  int64_t epochs, best_epoch;      /* epochs completed; the kept one (from 1) */
  double best;                     /* its validation figure (loss or metric) */
  double step_seconds;             /* time in steps alone (data, forward, backward, sync, update) */
  double comm_seconds;             /* of which in gradient and feature communication */
} hp_train_result;

/* Collective: train until epochs, early stopping or max_steps; write path_output. Resumes from
 * path_state when it carries this run's fingerprint. HP_ERR_PREEMPTED after a signal. */
int hp_train(const hp_trainer_config *tc, hp_train_model *model, hp_train_result *res);

#endif
