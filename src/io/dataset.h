/* dataset.h — dataset.h5, schema "hpclip.dataset" version 1 (hdf5-schemas/dataset.md).
 *
 * Layout (N images, M captions, L labels, V vocabulary words):
 *   /images               uint8  [N,H,W,3]   RGB, row-major
 *   /split                uint8  [N]         0 = train, 1 = validation, 2 = test
 *   /source_id            string table [N]   where each image came from ("synth:17", a file name)
 *   /captions/image       int64  [M]         caption -> image index (0..N-1), non-decreasing
 *   /captions/text        string table [M]   UTF-8 caption text
 *   /labels/matrix        uint8  [N,L]       optional multi-hot labels (0/1)
 *   /labels/names         string table [L]
 *   /vocab                string table [V]   optional tokenizer vocabulary (id order)
 * A "string table" is a group with  bytes uint8 [B]  (all strings concatenated, no NULs) and
 * offsets uint64 [K+1]  (string k is bytes[offsets[k] .. offsets[k+1]) , offsets[0] = 0,
 * non-decreasing, offsets[K] = B): fixed-size datasets that parallel HDF5 writes and reads
 * collectively, unlike variable-length strings.
 * Root attributes: schema = "hpclip.dataset", schema_version = 1, config (effective config
 * text), fingerprint (hex string), created_by ("hpclip X.Y.Z").
 *
 * Writing is collective: every rank owns a contiguous slice of images [row0, row0+n) and the
 * captions of those images; ranks call the same functions in the same order (a rank with
 * nothing to write passes n = 0).
 */
#ifndef HP_IO_DATASET_H
#define HP_IO_DATASET_H

#include <stdint.h>
#include <mpi.h>

#define HP_DATASET_SCHEMA "hpclip.dataset"
#define HP_DATASET_VERSION 1

enum { HP_SPLIT_TRAIN = 0, HP_SPLIT_VAL = 1, HP_SPLIT_TEST = 2 };

/* Global description, identical on every rank. */
typedef struct {
  int64_t n_images;         /* N */
  int64_t height, width;    /* H, W */
  int64_t n_labels;         /* L, 0 = no /labels group */
  const char *const *label_names; /* [L] */
  int64_t n_vocab;          /* V, 0 = no /vocab */
  const char *const *vocab; /* [V] */
  const char *config_text;  /* effective config */
  const char *fingerprint;  /* hex */
  const char *split_method; /* optional root attribute "split": how the splits were made */
  /* a dataset grown by appends (optional, NULL = none): base_fingerprint = the fingerprint of the
   * first version; history = one line "FINGERPRINT N M" per earlier version (its images and
   * captions: those rows are unchanged since); appends = one line per append, the fingerprint of
   * the configuration that appended */
  const char *base_fingerprint, *history, *appends;
} hp_dataset_meta;

/* This rank's slice. */
typedef struct {
  int64_t row0, n;                /* images [row0, row0+n) */
  const uint8_t *images;          /* [n,H,W,3] */
  const uint8_t *split;           /* [n] */
  const char *const *source_id;   /* [n] */
  const uint8_t *labels;          /* [n,L] or NULL when L = 0 */
  int64_t n_captions;             /* captions of these images, in image order */
  const char *const *captions;    /* [n_captions] */
  const int64_t *caption_image;   /* [n_captions] global image index, within [row0,row0+n) */
} hp_dataset_shard;

/* Write the whole file at `path` atomically (written as path + ".tmp", renamed when complete).
 * Collective over comm. */
int hp_dataset_write(MPI_Comm comm, const char *path, const hp_dataset_meta *meta,
                     const hp_dataset_shard *shard);

typedef struct hp_dataset hp_dataset;

/* The same after the rows of `prefix` (an open dataset; NULL = none, as hp_dataset_write): the
 * file holds prefix's images, splits, source ids, captions and labels first, then the ranks' new
 * rows, whose slices tile [N_prefix, meta->n_images) with global caption_image values. prefix's
 * rows are copied in bounded rounds (hp_h5_copy_rows), never held whole. prefix_label_col[j] =
 * the column of prefix's label j among meta's labels (meta's label set contains prefix's); NULL
 * when prefix has no labels. prefix must have meta's image size. */
int hp_dataset_write_after(MPI_Comm comm, const char *path, const hp_dataset_meta *meta, hp_dataset *prefix,
                           const int64_t *prefix_label_col, const hp_dataset_shard *shard);

/* Reading. hp_dataset_open validates the file against the schema (every object, dtype, shape,
 * and the cross-object invariants) and fails with "FILE: OBJECT: what is wrong". */
typedef struct {
  int64_t n_images, height, width, n_captions, n_labels, n_vocab;
} hp_dataset_dims;

int hp_dataset_open(MPI_Comm comm, const char *path, hp_dataset **out);
void hp_dataset_close(hp_dataset *ds);
hp_dataset_dims hp_dataset_get_dims(const hp_dataset *ds);
const char *hp_dataset_path(const hp_dataset *ds);
/* Root attribute `name` (a string) as a new string the caller frees; *out = NULL when the file
 * has none. Collective (every rank reads it). */
int hp_dataset_attr(hp_dataset *ds, const char *name, char **out);

/* Collective reads of a row range (each rank its own range; n may be 0). */
int hp_dataset_read_images(hp_dataset *ds, int64_t row0, int64_t n, uint8_t *out /* [n,H,W,3] */);
int hp_dataset_read_split(hp_dataset *ds, int64_t row0, int64_t n, uint8_t *out);
int hp_dataset_read_labels(hp_dataset *ds, int64_t row0, int64_t n, uint8_t *out /* [n,L] */);
/* Whole small arrays, every rank gets all of it. */
int hp_dataset_read_caption_image(hp_dataset *ds, int64_t *out /* [M] */);
/* Strings: caller frees with hp_strings_free. `which` = "captions/text", "source_id",
 * "labels/names", "vocab". Reads entries [k0, k0+n). */
int hp_dataset_read_strings(hp_dataset *ds, const char *which, int64_t k0, int64_t n, char ***out);
void hp_strings_free(char **s, int64_t n);

#endif
