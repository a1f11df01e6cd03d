/* preflight.h — what can be checked of a job before any stage runs, without reading its data:
 *   - ingest: ingest.root exists and has the layout of ingest.format (the annotation files of
 *     every named split, styles.csv, the table file, the shard patterns); when it does not, the
 *     layout it does look like ("this folder looks like ROCO: ingest.format = \"roco\"");
 *   - train: train.batch a multiple of the rank count, and no larger than the training split
 *     when its size is known before reading (synth.num_images); a validation split;
 *   - cluster: the elbow range (k_min >= 2, k_min <= k_max), and K within the images when known.
 * Every problem found is listed in one message (HP_ERR_CONFIG, or HP_ERR_INPUT when only data
 * locations are wrong), so a user fixes them in one round. `hpclip run` calls it for the stages
 * it is about to run; `hpclip config --check JOB.cfg [--np N]` for run.stages; rank 0 alone runs
 * it (hp_agree_root), so a job of many ranks does not list 10^5 shards from every one. */
#ifndef HP_STAGES_PREFLIGHT_H
#define HP_STAGES_PREFLIGHT_H

#include "config/config.h"
#include "stages/stage.h"

/* np = the job's rank count, 0 when unknown (then divisibility is not checked); check_data = 0
 * leaves out the data locations (a machine without the data). Local: no MPI. */
int hp_preflight(const hp_config *cfg, int np, int check_data, const hp_stage *const *stages, int n);

/* What layout `path` looks like: "COCO", "ROCO", "Fashion Product", "a CSV/TSV table",
 * "webdataset shards", or NULL when none is recognised; *format (may be NULL) = its
 * ingest.format value. */
const char *hp_preflight_guess_layout(const char *path, const char **format);

#endif
