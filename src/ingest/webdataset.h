/* webdataset.h — ingest.format = "webdataset": tar shards as img2dataset and clip-retrieval
 * write them, read with libarchive.
 *
 * A shard is a tar file; a sample is the run of consecutive members that share a key (the
 * member name up to the first '.' of its last path component: "00000/000000012.jpg" and
 * "00000/000000012.txt" are sample "00000/000000012"). A sample needs one image member
 * (.jpg/.jpeg/.png, any case; the first one counts) and one caption member (.txt: its whole
 * text, trimmed, is the caption, as OpenCLIP reads it); .json and other members are ignored.
 * Bad samples (no image, no caption, an image that does not decode, a caption that is empty,
 * not UTF-8 or longer than 64 KiB) are reported as "SHARD:KEY" with the reason; a damaged
 * archive (truncated, not a tar) is reported as "SHARD" and its samples read before the damage
 * are kept.
 *
 * The shards of ingest.root are a list of patterns separated by white space, each with brace
 * ranges ("shards/{00000..00099}.tar", zero padding kept, several groups expand as a product)
 * and glob characters ('*', '?', '[': "shards/a*" matches shards/a0.tar, a1.tar, sorted); a
 * pattern without glob characters names a file that must exist. */
#ifndef HP_INGEST_WEBDATASET_H
#define HP_INGEST_WEBDATASET_H

#include <stdint.h>
#include <mpi.h>

#include "ingest/distribute.h"
#include "ingest/report.h"

/* Expand the shard patterns into file names, in pattern order (each glob's matches sorted).
 * HP_ERR_INPUT: a named file missing, a glob that matches nothing, a malformed brace range, more
 * than 10^6 shards. Caller frees with hp_wds_free_names. */
int hp_wds_expand(const char *patterns, char ***names, int64_t *n);
void hp_wds_free_names(char **names, int64_t n);

/* Read one shard and append its good samples to `out` (images resized as `o` says; rows local
 * to this rank, captions' caption_image local rows); bad samples go to `rep` and count in
 * out->n_bad_local. `label` names the shard in reports and source ids (its file name).
 * Errors other than bad input (memory) are returned. */
int hp_wds_read_shard(const char *path, const char *label, uint8_t split, const hp_ingest_image_opts *o,
                      hp_ingest_shard *out, hp_ingest_report *rep);

/* Collective: rank 0 expands each of the n_sets `patterns` (hp_wds_expand; the samples of set k
 * get split tags[k], HP_INGEST_SPLIT_NONE when the splits are drawn later) and sends the
 * concatenated list to every rank;
 * rank r reads the shards of its hp_shard_range block, in order; the good samples are then
 * numbered globally in shard order (hp_ingest_number_globally), so the dataset is the same for
 * any rank count. Each rank's bad samples are in its `rep` (gather them with hp_report_gather).
 * *n_shards (may be NULL) = the number of shards. */
int hp_wds_decode(MPI_Comm comm, int n_sets, const char *const *patterns, const uint8_t *tags,
                  const hp_ingest_image_opts *o, hp_ingest_shard *out, hp_ingest_report *rep, int64_t *n_shards);

#endif
