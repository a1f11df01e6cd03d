/* rundir.h — the run directory as a stage (and the trainer under it) sees it: the stage's
 * context (communicator, configuration, run directory, the fingerprint to stamp), the paths of
 * its files, and the fingerprint stamp of its Markdown outputs. Below stages/ (the stage table,
 * the runner) so that lower layers such as train/ can be handed a stage's context. */
#ifndef HP_RUNDIR_RUNDIR_H
#define HP_RUNDIR_RUNDIR_H

#include <mpi.h>
#include <stddef.h>

#include "config/config.h"

typedef struct {
  MPI_Comm comm;
  int rank, size;
  hp_config *cfg;
  const char *run_dir;   /* absolute or relative path, exists when the stage runs */
  char fingerprint[32];  /* hex of the stage's fingerprint, to stamp into its output */
  /* throughput of the stage's main loops (hp_stage_rate), logged by the runner with the
   * stage's time, memory and I/O and kept in stage_resources.tsv */
  struct {
    char unit[40];
    double count, seconds;
  } rates[3];
  int nrates;
} hp_stage_ctx;

/* Record a main loop's throughput: `count` items of `unit` (global, e.g. "images") in `seconds`
 * (wall time of the loop). Up to 3 per stage; more are ignored. */
void hp_stage_rate(hp_stage_ctx *ctx, const char *unit, double count, double seconds);

/* Join run_dir and a file name into buf (size n); HP_ERR_USAGE if it does not fit. Two inputs can
 * live elsewhere: dataset.h5 is run.dataset and ckpt.h5 is run.checkpoint when those keys are set
 * (another run's dataset, a converted model: embeddings beside the first, docs/query.md). */
int hp_run_path(const hp_stage_ctx *ctx, const char *file, char *buf, size_t n);
/* The same from a configuration and a run directory (cfg may be NULL: no overrides). */
int hp_run_file(const hp_config *cfg, const char *run_dir, const char *file, char *buf, size_t n);
/* The key that moves `file` out of the run directory ("run.dataset", "run.checkpoint"), or NULL. */
const char *hp_run_file_key(const char *file);

/* Markdown files written by stages (STAGE.md, summary.md) start with the stamp line
 *   <!-- hpclip STAGE fingerprint=HEX -->
 * (an HTML comment: invisible when rendered) naming the fingerprint of the run that wrote
 * them, so the runner can skip a current summary.md and `report` includes only fragments that
 * match their results.h5 group. */
#define HP_MD_STAMP_FMT "<!-- hpclip %s fingerprint=%s -->\n"
/* 1 and fp = the stamp's fingerprint if `path` starts with the stamp of `stage`; 0 if it does
 * not (no stamp, another stage's, malformed); -1 if the file cannot be opened. Serial. */
int hp_md_stamp_read(const char *path, const char *stage, char *fp, size_t n);

#endif
