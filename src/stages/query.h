/* query.h — `hpclip query`: ask a finished run's embeddings and index from the command line.
 *
 *   hpclip query JOB.cfg [--run-dir DIR] | RUN_DIR
 *                (--text "..." | --image FILE | --queries FILE)... [-k 10] [--index exact|forest]
 *                [--split all|train|val|test] [--captions] [--format table|tsv|json|html] [--out FILE]
 *
 * Queries are encoded through the run's checkpoint (its tokenizer; images decoded, resized by the
 * job's ingest.aspect to the model's side, normalised by the model's mean/std) and searched in
 * the run's images: an exact index over embeddings.h5's rows of the split (built on load, sharded
 * over the ranks), or the forest search saved in index.h5 (search.save_index; it holds the images
 * of the search stage's split). --captions ranks the split's captions too. Results are the same
 * on every rank count (index.h: a total order, fixed-order dot products); rank 0 prints them.
 * Load time and per-query time are logged separately. docs/query.md.
 */
#ifndef HP_STAGES_QUERY_H
#define HP_STAGES_QUERY_H

#include <mpi.h>

#include "config/config.h"

typedef struct {
  int ntext, nimage;
  const char *const *text;   /* [ntext] --text */
  const char *const *image;  /* [nimage] --image */
  const char *queries_file;  /* --queries: a line a query, "image:PATH" for an image, "#" comments */
  int k;                     /* results per query (default 10) */
  const char *index;         /* "exact" (default) or "forest" */
  const char *split;         /* "all" (default), "train", "val", "test": the exact index's rows */
  int captions;              /* also rank captions */
  const char *format;        /* "table" (default), "tsv", "json", "html" */
  const char *out;           /* NULL = stdout; else written atomically */
} hp_query_opts;

/* Collective. cfg's run.dir is the run directory. */
int hp_query(MPI_Comm comm, const hp_config *cfg, const hp_query_opts *o);

#endif
