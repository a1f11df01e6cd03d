/* stage.h — one interface for every pipeline stage.
 *
 * A stage reads documented HDF5 files from the run directory and writes one output file with a
 * fixed name there, atomically (temporary name, renamed when complete), stamped with a
 * fingerprint of the config keys and inputs it depends on. The runner skips a stage whose
 * output exists, passes `hpclip check`, and carries the fingerprint it would write now.
 */
#ifndef HP_STAGES_STAGE_H
#define HP_STAGES_STAGE_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "rundir/rundir.h" /* hp_stage_ctx, hp_run_path, the Markdown stamp */

typedef int (*hp_stage_fn)(hp_stage_ctx *ctx);

typedef struct {
  const char *name;
  const char *output;                /* file name in the run directory */
  const char *inputs[4];             /* files in the run directory it reads (NULL-terminated) */
  const char *config_prefixes[12];   /* config keys its output depends on (NULL-terminated) */
  hp_stage_fn run;                   /* NULL = not implemented yet */
  const char *doc;
} hp_stage;

/* The stage table, in pipeline order. */
extern const hp_stage hp_stages[];
extern const int hp_nstages;
const hp_stage *hp_stage_find(const char *name);

/* Run one stage (collective): fingerprint, skip check, run. force = 1 ignores a complete output. */
int hp_stage_run(MPI_Comm comm, hp_config *cfg, const char *run_dir, const hp_stage *st, int force);

/* Stage entry points. */
int hp_stage_synth(hp_stage_ctx *ctx);
int hp_stage_ingest(hp_stage_ctx *ctx);
int hp_stage_train(hp_stage_ctx *ctx);
int hp_stage_embed(hp_stage_ctx *ctx);
int hp_stage_search(hp_stage_ctx *ctx);
int hp_stage_zeroshot(hp_stage_ctx *ctx);
int hp_stage_cluster(hp_stage_ctx *ctx);
int hp_stage_caption_train(hp_stage_ctx *ctx);
int hp_stage_caption(hp_stage_ctx *ctx);
int hp_stage_report(hp_stage_ctx *ctx);

#endif
