/* distribute.h — the parallel half of ingest: one rank parses the annotations, every rank
 * decodes and resizes its block of the images, bad images are skipped and reported.
 *
 *   1. rank `root` parses (coco.h / roco.h / fashion.h) and hp_ingest_list_bcast sends the
 *      record list to every rank (annotation files such as instances_train2017.json need
 *      gigabytes as a cJSON tree: only one rank pays that);
 *   2. hp_ingest_decode_shard: rank r decodes records of its contiguous block
 *      (hp_shard_range over the records), resizes each good image to S x S and keeps it; an
 *      image that fails to decode (HP_ERR_INPUT: missing, truncated, corrupt, not an image,
 *      too large) goes to the rank's report and is skipped. The good images are then numbered
 *      globally in record order (exclusive scan of the per-rank counts), so the result — which
 *      images, in which order, with which captions — is the same for any number of ranks;
 *   3. hp_report_gather collects every rank's report on root, in rank order (= record order).
 * All functions here are collective over comm. A local failure that is not bad input
 * (allocation, system I/O) is agreed on (hp_agree) before the next collective, so no rank waits
 * forever.
 */
#ifndef HP_INGEST_DISTRIBUTE_H
#define HP_INGEST_DISTRIBUTE_H

#include <stddef.h>
#include <stdint.h>
#include <mpi.h>

#include "ingest/image_decode.h"
#include "ingest/image_resize.h"
#include "ingest/records.h"
#include "ingest/report.h"

/* Serialise a record list into one buffer and back (unpack into an initialised empty list). */
int hp_ingest_list_pack(const hp_ingest_list *l, char **buf, size_t *len);
int hp_ingest_list_unpack(const char *buf, size_t len, hp_ingest_list *l);

/* Copy root's list to every other rank (their `l` must be initialised and empty). */
int hp_ingest_list_bcast(MPI_Comm comm, int root, hp_ingest_list *l);

/* Append every rank's entries to root's report, in rank order; other ranks' reports are left
 * unchanged. */
int hp_report_gather(MPI_Comm comm, int root, hp_ingest_report *r);

typedef struct {
  int64_t size;              /* S: output images are S x S x 3 */
  hp_resize_mode mode;       /* stretch | center_crop */
  hp_decode_limits limits;
  int follow_symlinks;       /* 0: an image whose real path is outside the root is a bad record */
} hp_ingest_image_opts;

/* This rank's part of the result. */
typedef struct {
  int64_t n_total;           /* good images over all ranks (N) */
  int64_t row0, n;           /* this rank's good images are global rows [row0, row0 + n) */
  int64_t size;              /* S */
  uint8_t *images;           /* [n][S][S][3] */
  char **source_id;          /* [n] */
  char **path;               /* [n] relative to the ingest root */
  uint8_t *split;            /* [n] the records' split (HP_INGEST_SPLIT_NONE: not given) */
  int64_t n_labels;
  char **label_names;        /* [n_labels] (copies of the list's, same on every rank) */
  uint8_t *labels;           /* [n][n_labels], NULL when n_labels = 0 */
  int64_t n_captions;        /* captions of these images, in image order */
  char **captions;           /* [n_captions] */
  int64_t *caption_image;    /* [n_captions] global row of the caption's image */
  int64_t n_captions_total;  /* over all ranks */
  int64_t n_bad_local;       /* images this rank skipped (in `rep`) */
} hp_ingest_shard;

/* Decode + resize this rank's block of records (files under root_dir). Bad images are added to
 * rep (this rank's report) and skipped. Collective. */
int hp_ingest_decode_shard(MPI_Comm comm, const char *root_dir, const hp_ingest_list *l,
                           const hp_ingest_image_opts *o, hp_ingest_shard *out,
                           hp_ingest_report *rep);

void hp_ingest_shard_free(hp_ingest_shard *s);

/* Collective: number every rank's good images globally in rank order (exclusive scan of the
 * counts): sets row0, n_total, n_captions_total and makes caption_image global. For decoders
 * that fill hp_ingest_shard themselves (webdataset.h). */
int hp_ingest_number_globally(MPI_Comm comm, hp_ingest_shard *out);

#endif
