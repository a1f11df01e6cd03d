/* train.c — the `train` stage: data-parallel CLIP training -> ckpt.h5.
 *
 * The job's train.* keys configure the trainer (train/trainer.h: the loop, the optimiser,
 * ZeRO-1, restart, preemption); the model is CLIP on dataset.h5 (train/clip_task.h).
 * Files in the run directory:
 *   ckpt.h5         the stage output: the parameters of the epoch with the lowest validation
 *                   loss, the per-epoch curves (/history), the vocabulary, the test-split
 *                   retrieval figures in the `state` attribute. Written once, at the end.
 *   train-state.h5  the latest restart state (parameters, optimiser moments, the trainer's
 *                   state words), written every train.checkpoint_every steps and at each epoch
 *                   end; left at the end with done=1 (the last parameters).
 *   train-best.h5   the best parameters so far (for a restart); removed at the end.
 */
#include <inttypes.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "stages/stage.h"
#include "train/clip_task.h"
#include "train/trainer.h"

/* The trainer's settings from the train.* keys. */
static void trainer_config(const hp_config *cfg, hp_trainer_config *tc) {
  tc->stage = "train";
  tc->inputs = "dataset";
  tc->batch = hp_cfg_int(cfg, "train.batch");
  tc->epochs = hp_cfg_int(cfg, "train.epochs");
  tc->patience = hp_cfg_int(cfg, "train.patience");
  tc->checkpoint_every = hp_cfg_int(cfg, "train.checkpoint_every");
  tc->max_steps = hp_cfg_int(cfg, "train.max_steps");
  tc->grad_clip = hp_cfg_float(cfg, "train.grad_clip");
  tc->bucket_mb = hp_cfg_float(cfg, "train.bucket_mb");
  tc->zero1 = hp_cfg_bool(cfg, "train.zero1");
  tc->allreduce_bf16 = strcmp(hp_cfg_str(cfg, "train.allreduce_dtype"), "bfloat16") == 0;
  tc->keep_state = 1;
  tc->init_checkpoint = hp_cfg_str(cfg, "train.init_checkpoint");
  if (strcmp(hp_cfg_str(cfg, "train.optimizer"), "sgd") == 0) {
    hp_optim_config_sgd(&tc->optim);
    tc->optim.momentum = (float)hp_cfg_float(cfg, "train.momentum");
    tc->optimizer = "sgd";
  } else {
    hp_optim_config_adamw(&tc->optim);
    tc->optimizer = "adamw";
  }
  tc->optim.weight_decay = (float)hp_cfg_float(cfg, "train.weight_decay");
  tc->optim.l2 = (float)hp_cfg_float(cfg, "train.l2_penalty");
  int cosine = strcmp(hp_cfg_str(cfg, "train.schedule"), "cosine") == 0;
  tc->sched = (hp_lr_schedule){.kind = cosine ? HP_LR_WARMUP_COSINE : HP_LR_CONSTANT,
                               .base = (float)hp_cfg_float(cfg, "train.lr"),
                               .warmup = hp_cfg_int(cfg, "train.warmup_steps"),
                               .floor = (float)hp_cfg_float(cfg, "train.min_lr")};
}

int hp_stage_train(hp_stage_ctx *ctx) {
  char dpath[4096], out[4096], state[4096], best[4096];
  HP_CALL(hp_run_path(ctx, HP_FILE_DATASET, dpath, sizeof dpath));
  HP_CALL(hp_run_path(ctx, HP_FILE_CKPT, out, sizeof out));
  HP_CALL(hp_run_path(ctx, HP_FILE_TRAIN_STATE, state, sizeof state));
  HP_CALL(hp_run_path(ctx, HP_FILE_TRAIN_BEST, best, sizeof best));
  double t0 = hp_now();
  hp_clip_task *task = NULL;
  int err = hp_clip_task_open(ctx->comm, ctx->cfg, dpath, &task);
  if (err) {
    hp_clip_task_close(task);
    HP_CALL(err);
  }
  hp_trainer_config tc = {.comm = ctx->comm, .rank = ctx->rank, .size = ctx->size, .cfg = ctx->cfg,
                          .fingerprint = ctx->fingerprint, .path_output = out, .path_state = state,
                          .path_best = best, .tokenizer = hp_clip_task_tokenizer(task)};
  trainer_config(ctx->cfg, &tc);
  hp_train_model model = hp_clip_task_model(task);
  hp_train_result r;
  HP_CALL(hp_train(&tc, &model, &r));
  const double pairs = (double)(r.steps * tc.batch);
  hp_stage_rate(ctx, "pairs trained", pairs, r.step_seconds);
  hp_log_info("train: best validation loss %.5f after epoch %" PRId64 " -> %s", r.best, r.best_epoch, out);
  /* Step time alone (data, forward, backward, allreduce, update), so that pairs/s measures training and
   * not the validation, checkpoint writes and test retrieval that the stage time also holds. */
  hp_log_info("train: %" PRId64 " steps in %.1f s of step time (%.1f pairs/s; the stage took %.1f s with "
              "validation, checkpoints and test retrieval; %.0f%% of step time in gradient/feature communication)",
              r.steps, r.step_seconds, r.step_seconds > 0 ? pairs / r.step_seconds : 0.0,
              hp_now() - t0, r.step_seconds > 0 ? 100.0 * r.comm_seconds / r.step_seconds : 0.0);
  /* the slowest rank's reads: the share of the step time the step waited on dataset.h5 */
  double input = hp_clip_task_input_time(task);
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, &input, 1, MPI_DOUBLE, MPI_MAX, ctx->comm));
  hp_log_info("train: input: %.2f s reading images from dataset.h5 in the steps (slowest rank), %.1f%% of the "
              "step time", input, r.step_seconds > 0 ? 100.0 * input / r.step_seconds : 0.0);
  double bn_time;
  int64_t bn_calls;
  hp_clip_task_bn_time(task, &bn_time, &bn_calls);
  if (bn_calls > 0)
    hp_log_info("train: synchronised batch norm: %" PRId64 " allreduces, %.2f s (%.1f%% of the step time, "
                "including waits for slower ranks; not in the communication share above)", bn_calls, bn_time,
                r.step_seconds > 0 ? 100.0 * bn_time / r.step_seconds : 0.0);
  hp_clip_task_close(task);
  return 0;
}
