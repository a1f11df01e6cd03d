/* search_queries.h — the search stage's free-text query table (the study's Table 3).
 *
 * search.queries lists free-text queries ("red scarf"), text-encoded as given; search.query_labels
 * gives, per query, its relevance over the dataset's labels:
 *     spec  = term { "&" term }          an image is relevant iff every term holds
 *     term  = label { "|" label }        a term holds iff the image has any of its labels
 * with label names exactly as in dataset.h5 /labels/names (surrounding blanks ignored), e.g.
 * "articleType:Trousers | articleType:Track Pants & baseColour:Yellow" = (Trousers or Track
 * Pants) and Yellow. A label name the dataset does not have (e.g. an articleType absent from a
 * subset) is logged and holds for no image. The queries rank the images of search.split like the label queries (same
 * top-10 through the search stage's index: exact or forest, rank-count independent); P, NDCG and AP at 1, 5, 10 per query in
 * both denominator conventions, and Table 3 = their means over the queries with at least one
 * relevant image in the split (docs/metrics.md).
 */
#ifndef HP_STAGES_SEARCH_QUERIES_H
#define HP_STAGES_SEARCH_QUERIES_H

#include <stdint.h>
#include <stdio.h>

#include "index/index.h"
#include "io/results.h"
#include "stages/clip_eval.h"
#include "stages/eval_common.h"
#include "stages/stage.h"

typedef struct {
  int64_t Q;                /* 0 = no query table */
  char **text;              /* [Q] query texts (owned copies) */
  char **spec;              /* [Q] relevance specifications (owned copies) */
  int64_t *nterm;           /* [Q] terms of each query */
  int64_t **term_nalt;      /* [Q][nterm] alternatives of each term */
  int64_t ***term_label;    /* [Q][nterm][nalt] label indices */
  int64_t *relevant;        /* [Q] relevant images in the split */
  char **unmatched;         /* [Q] the first label name of the query's spec that the dataset lacks,
                             * NULL when all are labels of the dataset (owned copies) */
  double *m[5];             /* [Q,3]: P, NDCG, AP, NDCG_ret, AP_ret at 1, 5, 10 */
  double table3[2][9];      /* rows: relevant, retrieved; P@1,5,10 NDCG@1,5,10 MAP@1,5,10 */
  int64_t active;           /* queries with relevant > 0 */
  int64_t *top_ids;         /* [Q,10] the retrieved images, best first (-1 past the split's end) */
  float *top_scores;        /* [Q,10] their scores (-inf past the end) */
  uint8_t *top_rel;         /* [Q,10] their relevance to the query */
} hp_query_table;

/* Every rank: parse search.queries / search.query_labels against the dataset's L label names.
 * A count mismatch, an empty query or label name is HP_ERR_CONFIG naming the key and query.
 * No queries configured: t->Q = 0. */
int hp_query_table_parse(const hp_config *cfg, char *const *label_names, int64_t L, hp_query_table *t);

/* Collective: rank the selected images (labels [n,L]) for every query, fill the metrics. */
int hp_query_table_run(hp_stage_ctx *ctx, hp_clip_eval *ev, const hp_eval_images *im, hp_index *ix, int64_t L,
                       hp_query_table *t);

/* Rank 0: /search/table3 and /search/queries/... into the open results group. */
int hp_query_table_write(hp_results_w *w, const hp_query_table *t);

/* Markdown: the Table 3 row of this run and the per-query table. name = run.name. */
void hp_query_table_markdown(FILE *f, const hp_query_table *t, const char *name, int conv);

void hp_query_table_free(hp_query_table *t);

#endif
