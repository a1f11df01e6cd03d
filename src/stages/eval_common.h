/* eval_common.h — what the evaluation stages (search, zeroshot) share: the evaluated images of
 * embeddings.h5 (this rank's shard, filtered by split), label prompts through the text tower,
 * and the rank-0 results.h5 / Markdown output with a collective verdict. */
#ifndef HP_STAGES_EVAL_COMMON_H
#define HP_STAGES_EVAL_COMMON_H

#include <stdint.h>
#include <stdio.h>

#include "io/embeddings.h"
#include "io/results.h"
#include "stages/clip_eval.h"
#include "stages/stage.h"

/* "train" -> 0, "val" -> 1, "test" -> 2, "all" -> -1 */
int hp_eval_split_code(const char *name);

typedef struct {
  int64_t n;          /* selected images of this rank's shard */
  int64_t *ids;       /* [n] global image indices, ascending */
  float *emb;         /* [n,E] (NULL when not loaded) */
  uint8_t *labels;    /* [n,L] or NULL */
  int64_t total;      /* selected images over all ranks */
} hp_eval_images;

/* Collective: this rank's block of images (hp_shard_range), those of split `split` (-1 = all). */
int hp_eval_load_images(hp_stage_ctx *ctx, hp_embeddings *em, int split, int with_labels, hp_eval_images *out);
/* Collective: the same for the image rows [r0, r0+n) of this rank (any contiguous range);
 * with_emb = 0 leaves emb NULL (the search stage reads them straight into its index). Only the
 * selected rows are held, read in bounded rounds. */
int hp_eval_load_image_rows(hp_stage_ctx *ctx, hp_embeddings *em, int split, int with_labels, int with_emb,
                            int64_t r0, int64_t n, hp_eval_images *out);
void hp_eval_images_free(hp_eval_images *im);

/* Every rank: the L label names through `prompt`, text-encoded -> out [L,E] (identical on all). */
int hp_eval_label_queries(hp_clip_eval *ev, const char *prompt, char *const *names, int64_t L, float *out);
/* Prompt ensembling (CLIP's zero-shot recipe): out[c] = the unit vector along the sum, over the
 * templates[0..nt), of the (unit) text embeddings of template t with "{}" replaced by names[c];
 * summed in template order, so the same bits on every rank. nt = 1 gives hp_eval_label_queries. */
int hp_eval_label_queries_ensemble(hp_clip_eval *ev, const char *const *templates, int nt, char *const *names,
                                   int64_t L, float *out);

/* Callback writing the stage's group (rank 0 only). */
typedef int (*hp_eval_write_fn)(hp_results_w *w, void *arg);
/* Rank 0 rewrites RUN_DIR/results.h5 with the group of this stage: standard attributes
 * (fingerprint, config, created_by, model, model_fingerprint, embeddings_fingerprint) + fn's
 * contents. The verdict is shared: a failure on rank 0 ends every rank with its message. */
int hp_eval_write_results(hp_stage_ctx *ctx, const char *group, const hp_embeddings *em, hp_eval_write_fn fn,
                          void *arg);
/* Rank 0 writes RUN_DIR/NAME ("STAGE.md") from fn, after the stamp line of stage.h (STAGE and
 * this run's fingerprint: `report` includes the file while /STAGE carries the same), and prints
 * fn's text to stdout; verdict shared likewise. */
typedef void (*hp_eval_md_fn)(FILE *f, void *arg);
int hp_eval_write_markdown(hp_stage_ctx *ctx, const char *name, hp_eval_md_fn fn, void *arg);

#endif
