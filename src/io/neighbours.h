/* neighbours.h — neighbours.h5, schema "hpclip.neighbours" version 1 (hdf5-schemas/neighbours.md):
 * every indexed image's K nearest other images (the search stage's search.export_knn) and the
 * near-duplicate pairs above a threshold (search.dedup_threshold). Written collectively and
 * atomically (PATH.tmp renamed); each rank writes its block of rows, the same metadata on all. */
#ifndef HP_IO_NEIGHBOURS_H
#define HP_IO_NEIGHBOURS_H

#include <mpi.h>
#include <stdint.h>

#define HP_NEIGHBOURS_SCHEMA "hpclip.neighbours"
#define HP_NEIGHBOURS_VERSION 1

typedef struct {
  int64_t n;                 /* images with neighbours (the index's rows) */
  int64_t k;                 /* neighbours per image */
  const char *config_text, *fingerprint, *model, *model_fingerprint, *embeddings_fingerprint;
  const char *split, *index; /* the search split; "exact" or "forest" */
  double dedup_threshold;    /* <= 0: no /dedup */
  int64_t n_pairs;           /* near-duplicate pairs (every rank the same) */
  const int64_t *pairs;      /* [n_pairs,2] image indices, first < second, sorted */
  const float *pair_scores;  /* [n_pairs] */
} hp_neighbours_meta;

/* rows [row0, row0+count) of this rank: ids [count] (ascending image indices), nbr [count,k]
 * (image indices, -1 padding), scores [count,k] (-inf padding) */
int hp_neighbours_write(MPI_Comm comm, const char *path, const hp_neighbours_meta *m, int64_t row0, int64_t count,
                        const int64_t *ids, const int64_t *nbr, const float *scores);

#endif
