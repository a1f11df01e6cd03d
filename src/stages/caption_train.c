/* caption_train.c — the `caption-train` stage: the study's text decoder trained on FROZEN caption
 * embeddings (embeddings.h5) to reproduce the caption itself (teacher forcing) ->
 * caption_ckpt.h5.
 *
 * The model is train/caption_task.h; the loop, restart and preemption are the trainer's
 * (train/trainer.h). Optimiser: RMSprop (the study, lr 1e-3) or AdamW
 * (caption.train_optimizer), constant learning rate. The epoch with the best validation token
 * ACCURACY is kept; early stopping after caption.train_patience epochs without improvement; at
 * most caption.train_epochs.
 *
 * Files in the run directory:
 *   caption_ckpt.h5            the output (best epoch's decoder; caption_common.h). ckpt.h5 is
 *                              never touched: training the decoder does not invalidate the CLIP
 *                              stages (embed, search, ...).
 *   caption-train-state.h5     restart state after each epoch and on a signal (parameters,
 *                              optimiser state, the trainer's state words); removed at the end
 *   caption-train-best.h5      the best parameters so far (for a restart); removed at the end
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "stages/caption_common.h"
#include "train/caption_task.h"
#include "train/trainer.h"

static void trainer_config(const hp_config *cfg, hp_trainer_config *tc) {
  tc->stage = "caption-train";
  tc->inputs = "input";
  tc->batch = hp_cfg_int(cfg, "caption.train_batch");
  tc->epochs = hp_cfg_int(cfg, "caption.train_epochs");
  tc->patience = hp_cfg_int(cfg, "caption.train_patience");
  tc->max_steps = hp_cfg_int(cfg, "caption.train_max_steps");
  tc->bucket_mb = 25.0;
  if (strcmp(hp_cfg_str(cfg, "caption.train_optimizer"), "adamw") == 0) {
    hp_optim_config_adamw(&tc->optim);
    tc->optimizer = "adamw";
  } else {
    hp_optim_config_rmsprop(&tc->optim);
    tc->optimizer = "rmsprop";
  }
  tc->optim.weight_decay = (float)hp_cfg_float(cfg, "caption.train_weight_decay");
  tc->optim.l2 = 0.0f;
  tc->sched = (hp_lr_schedule){.kind = HP_LR_CONSTANT, .base = (float)hp_cfg_float(cfg, "caption.train_lr")};
}

/* The inputs, checked against each other, and the decoder of the job's caption.* keys. */
static int open_task(hp_stage_ctx *ctx, const char *dpath, const char *epath, hp_caption_task **task, char *efp,
                     size_t n) {
  HP_CALL(hp_caption_task_open(ctx->comm, ctx->cfg, dpath, task));
  hp_embeddings em;
  HP_CALL(hp_embeddings_open(ctx->comm, epath, &em));
  int err = hp_caption_check_inputs(ctx, &em, epath, hp_caption_task_captions(*task));
  if (!err) {
    snprintf(efp, n, "embeddings_fingerprint=%s", em.fingerprint);
    hp_capdec_config dc;
    hp_caption_decoder_config(ctx->cfg, (int)hp_vocab_size(hp_caption_task_vocab(*task)), (int)em.embed_dim,
                              (int)hp_cfg_int(ctx->cfg, "data.caption_len"), &dc);
    err = hp_caption_task_load(*task, &em, &dc);
  }
  hp_embeddings_close(&em);
  return err;
}

int hp_stage_caption_train(hp_stage_ctx *ctx) {
  char dpath[4096], epath[4096], out[4096], state[4096], best[4096], efp[128];
  HP_CALL(hp_run_path(ctx, HP_FILE_DATASET, dpath, sizeof dpath));
  HP_CALL(hp_run_path(ctx, HP_FILE_EMBEDDINGS, epath, sizeof epath));
  HP_CALL(hp_run_path(ctx, HP_FILE_CAPTION_CKPT, out, sizeof out));
  HP_CALL(hp_run_path(ctx, HP_FILE_CAPTION_TRAIN_STATE, state, sizeof state));
  HP_CALL(hp_run_path(ctx, HP_FILE_CAPTION_TRAIN_BEST, best, sizeof best));
  double t0 = hp_now();
  hp_caption_task *task = NULL;
  int err = open_task(ctx, dpath, epath, &task, efp, sizeof efp);
  if (err) {
    hp_caption_task_close(task);
    HP_CALL(err);
  }
  hp_trainer_config tc = {.comm = ctx->comm, .rank = ctx->rank, .size = ctx->size, .cfg = ctx->cfg,
                          .fingerprint = ctx->fingerprint, .path_output = out, .path_state = state,
                          .path_best = best, .tokenizer = hp_caption_task_tokenizer(task), .extra_state = efp};
  trainer_config(ctx->cfg, &tc);
  hp_train_model model = hp_caption_task_model(task);
  hp_train_result r;
  HP_CALL(hp_train(&tc, &model, &r));
  hp_stage_rate(ctx, "captions trained", (double)(r.steps * tc.batch), r.step_seconds);
  hp_log_info("caption-train: best validation token accuracy %.4f after epoch %" PRId64 " -> %s", r.best,
              r.best_epoch, out);
  if (ctx->rank == 0) {
    printf("caption decoder: validation token accuracy %.3f (epoch %" PRId64 ")\n", r.best, r.best_epoch);
    fflush(stdout);
  }
  hp_log_info("caption-train: %" PRId64 " steps in %.1f s", r.steps, hp_now() - t0);
  hp_caption_task_close(task);
  return 0;
}
