/* search_neighbours.h — the search stage's kNN export and near-duplicate report
 * (search.export_knn, search.dedup_threshold -> neighbours.h5, hdf5-schemas/neighbours.md). */
#ifndef HP_STAGES_SEARCH_NEIGHBOURS_H
#define HP_STAGES_SEARCH_NEIGHBOURS_H

#include <stdint.h>

#include "index/index.h"
#include "io/embeddings.h"
#include "stages/stage.h"

typedef struct {
  int64_t n_images;  /* images with neighbours */
  int64_t n_pairs;   /* near-duplicate pairs (0 without a threshold) */
  int64_t n_dup_images; /* images in at least one pair */
  double seconds;
} hp_neighbours_summary;

/* Collective: every image of the split (sp [N], split code, -1 = all) queried against ix (which
 * holds exactly those images) for its K + 1 nearest, itself dropped; the pairs at score >= the
 * threshold; written to RUN_DIR/neighbours.h5. Identical on every rank. */
int hp_search_neighbours(hp_stage_ctx *ctx, hp_embeddings *em, hp_index *ix, const uint8_t *sp, int split,
                         const char *split_name, const char *index_kind, hp_neighbours_summary *out);

#endif
