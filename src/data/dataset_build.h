/* dataset_build.h — what the two dataset producers (the synth and ingest stages) share once
 * each rank holds its slice of images and captions: the vocabulary counted over the training
 * captions of every rank, and the one collective write of dataset.h5 (io/dataset.h) with the
 * job's configuration text and fingerprint. */
#ifndef HP_DATA_DATASET_BUILD_H
#define HP_DATA_DATASET_BUILD_H

#include <mpi.h>
#include <stdint.h>

#include "config/config.h"
#include "io/dataset.h"
#include "text/tokenizer.h"

/* Collective: the vocabulary of at most max_vocab ids over the captions of the images whose
 * split (sh->split) is HP_SPLIT_TRAIN, on every rank: validation and test text stay unseen. */
int hp_data_train_vocab(MPI_Comm comm, const hp_dataset_shard *sh, int64_t max_vocab, hp_vocab **out);

/* The global description of the dataset, identical on every rank. */
typedef struct {
  int64_t n_images;                 /* over all ranks */
  int64_t image_size;               /* square images of this side */
  int64_t n_labels;                 /* 0 = no labels */
  const char *const *label_names;   /* [n_labels] */
  const char *split_method;         /* how the splits were made (root attribute "split"); NULL = none */
  /* an append (hp_dataset_write_after): the dataset whose rows come first, its label columns among
   * label_names, and the lineage attributes; NULL = a new dataset */
  hp_dataset *prefix;
  const int64_t *prefix_label_col;
  const char *base_fingerprint, *history, *appends;
} hp_data_desc;

/* Collective: dataset.h5 at path, atomically: every rank's slice sh (after d->prefix's rows when
 * set), the description d, the vocabulary (or none), the configuration text of cfg and the
 * stage's fingerprint. */
int hp_data_write(MPI_Comm comm, const char *path, const hp_data_desc *d, const hp_vocab *vocab,
                  const hp_config *cfg, const char *fingerprint, const hp_dataset_shard *sh);

#endif
