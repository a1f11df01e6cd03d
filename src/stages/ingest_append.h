/* ingest_append.h — ingest.append: the images of an ingest added to the run directory's
 * dataset.h5 under new ids, the file rewritten atomically (io/dataset.h, hp_dataset_write_after).
 *
 * What stays: the old rows (images, splits, source ids, captions, labels), in order, and the
 * vocabulary (the model was trained with it). What is added: the new rows after them, their
 * splits (given by the input, else drawn per image: data/split.h), and the label names new to the
 * dataset as new columns after the old ones.
 *
 * Lineage (root attributes, hdf5-schemas/dataset.md): the new file's fingerprint folds the old
 * one and this append's configuration; base_fingerprint keeps the first version's, history lists
 * every earlier version with its image and caption counts (embed reuses the embeddings of those
 * rows), appends the configurations that appended. The stage runner takes a dataset as current
 * for a configuration that made its base or one of its appends, so neither reruns by itself. */
#ifndef HP_STAGES_INGEST_APPEND_H
#define HP_STAGES_INGEST_APPEND_H

#include <stdint.h>

#include "data/dataset_build.h"
#include "ingest/distribute.h"
#include "stages/stage.h"

typedef struct {
  hp_dataset *old;
  int64_t n_images, n_captions, n_labels; /* the old file's */
  char **label_names;                     /* [n_labels] the old names, then the new ones */
  int64_t n_union;
  int64_t *old_col;                       /* [old n_labels]: identity (old names keep their columns) */
  hp_vocab *vocab;                        /* the old vocabulary, NULL when it had none */
  char *fingerprint, *base, *history, *appends, *split; /* attributes: the old, then the new */
} hp_ingest_append;

/* Collective: open RUN/dataset.h5 (it must exist and hold images of side image_size) and read
 * what the append keeps. */
int hp_ingest_append_open(hp_stage_ctx *ctx, int64_t image_size, hp_ingest_append *a);

/* Number sh's rows after the old ones (rows and caption images + N_old), and move its labels to
 * the union of the old and the new label names. Every rank has the same names. */
int hp_ingest_append_rows(hp_ingest_append *a, hp_ingest_shard *sh);

/* The description's append fields and lineage: fingerprint (the new file's, written into
 * `fingerprint`, at least 17 bytes), base, history, appends, the split method (old method + how
 * the new rows were split). */
int hp_ingest_append_describe(hp_ingest_append *a, const hp_stage_ctx *ctx, const char *method, int64_t n_new,
                              hp_data_desc *d, char *fingerprint);

void hp_ingest_append_free(hp_ingest_append *a);

#endif
