/* embeddings.h — embeddings.h5, schema "hpclip.embeddings" version 1
 * (hdf5-schemas/embeddings.md).
 *
 *   /images/embedding     float32 [N,E]   unit-norm image embeddings (dataset.h5 image order)
 *   /images/split         uint8   [N]     0 = train, 1 = validation, 2 = test (copied)
 *   /captions/embedding   float32 [M,E]   unit-norm caption embeddings (dataset.h5 caption order)
 *   /captions/image       int64   [M]     caption -> image (copied)
 *   /labels/matrix        uint8   [N,L]   optional multi-hot labels (copied)
 *   /labels/names         string table [L]
 * Root attributes: schema, schema_version, config, fingerprint, created_by, model (the model
 * description), model_fingerprint (ckpt.h5's fingerprint), dataset_fingerprint, image_size;
 * optional embed_key.
 *
 * Writing is collective and atomic: each rank writes the contiguous rows it embedded.
 * Reading validates the file first (hp_check_file) and gives every rank the attributes and the
 * label names; the arrays are read collectively by row ranges.
 */
#ifndef HP_IO_EMBEDDINGS_H
#define HP_IO_EMBEDDINGS_H

#include <mpi.h>
#include <stdint.h>

#include "io/h5.h"

#define HP_EMBEDDINGS_SCHEMA "hpclip.embeddings"
#define HP_EMBEDDINGS_VERSION 1

typedef struct {
  int64_t n_images, n_captions, embed_dim, n_labels, image_size;
  const char *const *label_names; /* [L], rank 0's are written */
  const char *config_text, *fingerprint, *model, *model_fingerprint, *dataset_fingerprint;
  const char *embed_key; /* optional (NULL = none): what else the vectors depend on (embed's keys) */
} hp_embeddings_meta;

typedef struct {
  int64_t row0, n;                 /* images [row0, row0+n) */
  const float *image_embedding;    /* [n,E] */
  const uint8_t *split;            /* [n] */
  const uint8_t *labels;           /* [n,L] or NULL when L = 0 */
  int64_t cap0, n_captions;        /* captions [cap0, cap0+n_captions) */
  const float *caption_embedding;  /* [n_captions,E] */
  const int64_t *caption_image;    /* [n_captions] */
} hp_embeddings_shard;

int hp_embeddings_write(MPI_Comm comm, const char *path, const hp_embeddings_meta *meta,
                        const hp_embeddings_shard *shard);

typedef struct {
  hp_h5file f;
  int64_t n_images, n_captions, embed_dim, n_labels, image_size;
  char *model, *model_fingerprint, *fingerprint;
  char **label_names; /* [n_labels] */
} hp_embeddings;

int hp_embeddings_open(MPI_Comm comm, const char *path, hp_embeddings *e);
void hp_embeddings_close(hp_embeddings *e);
/* Collective row reads (each rank its own range, n may be 0). */
int hp_embeddings_read_images(hp_embeddings *e, int64_t row0, int64_t n, float *out /* [n,E] */);
int hp_embeddings_read_captions(hp_embeddings *e, int64_t k0, int64_t n, float *out /* [n,E] */);
int hp_embeddings_read_split(hp_embeddings *e, int64_t row0, int64_t n, uint8_t *out);
int hp_embeddings_read_labels(hp_embeddings *e, int64_t row0, int64_t n, uint8_t *out /* [n,L] */);
int hp_embeddings_read_caption_image(hp_embeddings *e, int64_t *out /* [M], every rank */);

#endif
