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

#include "base/resources.h"
#include "config/config.h"
#include "rundir/rundir.h" /* hp_stage_ctx, hp_run_path, the Markdown stamp */

typedef int (*hp_stage_fn)(hp_stage_ctx *ctx);

/* Run-directory file names, defined here once: the stage table (runner.c) and every stage name
 * their files by these, never by a literal. */
#define HP_FILE_DATASET "dataset.h5"           /* synth, ingest */
#define HP_FILE_CKPT "ckpt.h5"                 /* train */
#define HP_FILE_EMBEDDINGS "embeddings.h5"     /* embed */
#define HP_FILE_RESULTS "results.h5"           /* search, zeroshot, cluster, caption: a group each */
#define HP_FILE_CAPTION_CKPT "caption_ckpt.h5" /* caption-train */
#define HP_FILE_SUMMARY "summary.md"           /* report */
#define HP_FILE_REPORT_HTML "report.html"      /* report, beside summary.md */
/* auxiliary files beside the outputs */
#define HP_FILE_TRAIN_STATE "train-state.h5"   /* train's restart state and best epoch so far */
#define HP_FILE_TRAIN_BEST "train-best.h5"
#define HP_FILE_CAPTION_TRAIN_STATE "caption-train-state.h5" /* the same for caption-train */
#define HP_FILE_CAPTION_TRAIN_BEST "caption-train-best.h5"
#define HP_FILE_INGEST_REPORT "ingest_report.tsv" /* ingest's bad records */
#define HP_FILE_INDEX "index.h5"               /* search.save_index */
#define HP_FILE_NEIGHBOURS "neighbours.h5"     /* search.export_knn */
#define HP_FILE_STAGE_RESOURCES "stage_resources.tsv" /* the runner: a row per stage run (time, RSS, I/O, rates) */
#define HP_FILE_STAGE_MD(stage) stage ".md"    /* STAGE.md, a stage's own Markdown; ("%s") = format */
#define HP_FILE_SEARCH_PNG "search_top5.png"   /* search's top-5 grid */
#define HP_FILE_CURVES_PNG "curves.png"        /* scripts/plot_training.py */
#define HP_FILE_CLUSTER_ELBOW_PNG "cluster_elbow.png" /* scripts/plot_cluster.py */
#define HP_FILE_CLUSTER_PCA_PNG "cluster_pca3d.png"
/* `hpclip synth-coco`: its folder when synth.coco_root is "" (RUN_DIR/coco), and the manifest it
 * writes last into the folder (the folder is complete when it carries one) */
#define HP_FILE_COCO_DIR "coco"
#define HP_FILE_COCO_MANIFEST "hpclip-synth-coco.json"

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
/* Collective: every rank's peak RSS and I/O of a stage (hp_res_begin/end around it) to rank 0,
 * which logs them with the stage's throughputs (hp_stage_rate) and appends a row to
 * RUN_DIR/stage_resources.tsv. The row is a record, not an output: a failure to write it is a
 * warning, and no row is written when the run directory does not exist. */
int hp_stage_report_resources(hp_stage_ctx *ctx, const char *stage, const hp_res *res);
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

/* Commands beside the stages (cli/main.c). `hpclip synth-coco`: the synthetic scenes as a folder
 * in COCO 2017's layout (synth_coco.c; collective). force = 1 rewrites a complete folder of ours. */
int hp_synth_coco(MPI_Comm comm, hp_config *cfg, int force);

#endif
