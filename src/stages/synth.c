/* synth.c — the `synth` stage: a deterministic synthetic image-caption dataset -> dataset.h5.
 *
 * Each rank makes the images of its block (hp_shard_range) with the pure functions of
 * synth_scene.h, the vocabulary is counted over the training captions of all ranks exactly
 * (data/dataset_build.h), and one collective write stores everything. Every value is a
 * function of (run.seed, image index), so the file is byte-identical for any rank count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "comm/shard.h"
#include "config/config.h"
#include "data/dataset_build.h"
#include "data/split.h"
#include "stages/stage.h"
#include "data/synth_scene.h"
#include "text/tokenizer.h"

/* Re-record a configuration error with the job file's name in front, as the config layer does
 * for its own messages. */
static int config_error(const hp_config *cfg, int err) {
  if (err != HP_ERR_CONFIG) return err;
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", hp_error_message());
  HP_ERROR(HP_ERR_CONFIG, "%s: %s", hp_config_path(cfg), msg);
}

static int check_params(const hp_stage_ctx *ctx, const hp_synth_params *p, int64_t vocab_size) {
  HP_CALL(config_error(ctx->cfg, hp_synth_check(p)));
  if (vocab_size < 2) HP_ERROR(HP_ERR_CONFIG, "%s: data.vocab_size = %lld: must be at least 2",
                               hp_config_path(ctx->cfg), (long long)vocab_size);
  /* The largest block (rank 0's) decides: every rank reaches the same verdict. */
  int64_t row0, n, bytes, per = p->image_size * p->image_size * 3;
  hp_shard_range(p->n_images, ctx->size, 0, &row0, &n);
  if (hp_mul_i64(per, n, &bytes) || bytes > HP_SYNTH_MAX_SLICE_BYTES)
    HP_ERROR(HP_ERR_CONFIG,
             "%s: synth.num_images = %lld at data.image_size = %lld needs %.2f GiB of pixels per rank on %d "
             "rank%s, above the per-rank limit of %.0f GiB; lower synth.num_images or data.image_size, or run "
             "on at least %lld ranks",
             hp_config_path(ctx->cfg), (long long)p->n_images, (long long)p->image_size,
             (double)per * (double)n / 1073741824.0, ctx->size, ctx->size > 1 ? "s" : "",
             (double)HP_SYNTH_MAX_SLICE_BYTES / 1073741824.0,
             (long long)((double)per * (double)p->n_images / (double)HP_SYNTH_MAX_SLICE_BYTES) + 1);
  return 0;
}

static int make_and_write(hp_stage_ctx *ctx, const hp_synth_params *p, int64_t vocab_size) {
  hp_synth_slice sl;
  int64_t row0, n;
  hp_shard_range(p->n_images, ctx->size, ctx->rank, &row0, &n);

  hp_progress prog;
  hp_progress_start(&prog, "synth: rendering", "images", p->n_images);
  /* Allocation failures are local: agree before the next collective so no rank hangs. */
  HP_CALL(hp_agree(ctx->comm, hp_synth_make_slice(p, row0, n, &sl, &prog, ctx->size)));
  hp_progress_end(&prog, p->n_images);

  hp_dataset_shard shard = {
      .row0 = sl.row0,
      .n = sl.n,
      .images = sl.images,
      .split = sl.split,
      .source_id = (const char *const *)sl.source_id,
      .labels = sl.labels,
      .n_captions = sl.n_captions,
      .captions = (const char *const *)sl.captions,
      .caption_image = sl.caption_image,
  };
  /* Vocabulary from the training captions only: validation and test text stay unseen. */
  hp_vocab *vocab = NULL;
  HP_CALL(hp_data_train_vocab(ctx->comm, &shard, vocab_size, &vocab));

  const char *label_names[HP_SYNTH_NLABELS];
  for (int l = 0; l < HP_SYNTH_NLABELS; l++) label_names[l] = hp_synth_label_name(l);

  int64_t cnt[3] = {0, 0, 0}, n_train, n_val, n_test;
  for (int64_t i = 0; i < shard.n; i++) cnt[shard.split[i]]++;
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, cnt, 3, MPI_INT64_T, MPI_SUM, ctx->comm));
  n_train = cnt[0], n_val = cnt[1], n_test = cnt[2];
  hp_log_info("synth: %lld images %lldx%lld, %lld captions, split %lld/%lld/%lld, %d labels, vocabulary %lld "
              "of at most %lld ids",
              (long long)p->n_images, (long long)p->image_size, (long long)p->image_size,
              (long long)(p->n_images * p->captions_per_image), (long long)n_train, (long long)n_val,
              (long long)n_test, HP_SYNTH_NLABELS, (long long)hp_vocab_size(vocab), (long long)vocab_size);

  hp_data_desc desc = {.n_images = p->n_images, .image_size = p->image_size, .n_labels = HP_SYNTH_NLABELS,
                       .label_names = label_names};
  char path[4096];
  HP_CALL(hp_run_path(ctx, HP_FILE_DATASET, path, sizeof path));
  HP_CALL(hp_data_write(ctx->comm, path, &desc, vocab, ctx->cfg, ctx->fingerprint, &shard));

  hp_vocab_free(vocab);
  hp_synth_slice_free(&sl);
  return 0;
}

int hp_stage_synth(hp_stage_ctx *ctx) {
  const hp_config *cfg = ctx->cfg;
  hp_synth_params p = {
      .seed = (uint64_t)hp_cfg_int(cfg, "run.seed"),
      .n_images = hp_cfg_int(cfg, "synth.num_images"),
      .image_size = hp_cfg_int(cfg, "data.image_size"),
      .captions_per_image = hp_cfg_int(cfg, "synth.captions_per_image"),
      .max_shapes = hp_cfg_int(cfg, "synth.max_shapes"),
      .noise = hp_cfg_float(cfg, "synth.noise"),
      .train_frac = hp_cfg_float(cfg, "data.train_frac"),
      .val_frac = hp_cfg_float(cfg, "data.val_frac"),
      .test_frac = hp_cfg_float(cfg, "data.test_frac"),
      .split_per_image = strcmp(hp_cfg_str(cfg, "data.split_rule"), "per_image") == 0,
  };
  int64_t vocab_size = hp_cfg_int(cfg, "data.vocab_size");
  /* Same configuration on every rank, so every rank finds the same problem: a clean exit. */
  HP_CALL(hp_agree(ctx->comm, check_params(ctx, &p, vocab_size)));
  HP_CALL(make_and_write(ctx, &p, vocab_size));
  return 0;
}
