/* dataset_build.c — vocabulary and dataset.h5 for the synth and ingest stages (see dataset_build.h). */
#include "data/dataset_build.h"

#include <stdlib.h>

#include "base/error.h"

int hp_data_train_vocab(MPI_Comm comm, const hp_dataset_shard *sh, int64_t max_vocab, hp_vocab **out) {
  const char **train = NULL;
  int64_t ntrain = 0;
  HP_CALLOC(train, sh->n_captions ? sh->n_captions : 1, "training captions");
  for (int64_t c = 0; c < sh->n_captions; c++)
    if (sh->split[sh->caption_image[c] - sh->row0] == HP_SPLIT_TRAIN) train[ntrain++] = sh->captions[c];
  HP_CALL(hp_vocab_build_texts_mpi(comm, train, ntrain, max_vocab, out));
  free(train);
  return 0;
}

int hp_data_write(MPI_Comm comm, const char *path, const hp_data_desc *d, const hp_vocab *vocab,
                  const hp_config *cfg, const char *fingerprint, const hp_dataset_shard *sh) {
  char *config_text = NULL;
  HP_CALL(hp_config_dump(cfg, &config_text));
  hp_dataset_meta meta = {
      .n_images = d->n_images,
      .height = d->image_size,
      .width = d->image_size,
      .n_labels = d->n_labels,
      .label_names = d->label_names,
      .split_method = d->split_method,
      .n_vocab = vocab ? hp_vocab_size(vocab) : 0,
      .vocab = vocab ? hp_vocab_words(vocab) : NULL,
      .config_text = config_text,
      .fingerprint = fingerprint,
      .base_fingerprint = d->base_fingerprint,
      .history = d->history,
      .appends = d->appends,
  };
  HP_CALL(hp_dataset_write_after(comm, path, &meta, d->prefix, d->prefix_label_col, sh));
  free(config_text);
  return 0;
}
