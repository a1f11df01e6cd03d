/* clip_eval.h — the trained CLIP model for the evaluation stages (embed, search, zeroshot) and
 * `hpclip query`: the model description from the job's config (the train stage's rules), or from
 * ckpt.h5 itself with model.from_checkpoint; the tokenizer and parameters from ckpt.h5; and
 * deterministic batched encoding.
 *
 * The model is described by hp_clip_config_from_cfg (models/clip_config.h), as in training, or
 * by hp_clip_config_from_ckpt (models/clip_ckpt.h).
 *
 * Determinism: texts are encoded in consecutive batches of `batch` rows taken in the order
 * given; callers that must produce the same bits for any rank count give every rank the same
 * batches (see embed.c: global batches, each run whole by one rank).
 */
#ifndef HP_STAGES_CLIP_EVAL_H
#define HP_STAGES_CLIP_EVAL_H

#include <mpi.h>
#include <stdint.h>

#include "config/config.h"
#include "models/clip.h"
#include "models/clip_config.h"
#include "text/text_tokenizer.h"

typedef struct {
  hp_clip m;
  hp_tokenizer *tok;       /* the checkpoint's (text/text_tokenizer.h) */
  int64_t T;               /* ids per text (the model's context: data.caption_len unless from the checkpoint) */
  int64_t S;               /* image side */
  int batch;               /* rows per encoder call (activation capacity) */
  char *fingerprint;       /* ckpt.h5's fingerprint */
  int32_t *ids;            /* [batch,T] */
  uint8_t *valid;          /* [batch,T] */
} hp_clip_eval;

/* Collective: the tokenizer from ckpt.h5 (its tokenizer attribute and /vocab), the model built
 * from the job config (or the checkpoint's description, model.from_checkpoint) with that
 * vocabulary size and padding id, parameters read (the model description must match the
 * checkpoint's). e->T is the model's context. */
int hp_clip_eval_load(MPI_Comm comm, const hp_config *cfg, const char *ckpt, int64_t image_size, int batch,
                      hp_clip_eval *e);
void hp_clip_eval_free(hp_clip_eval *e);

/* Local (no communication): texts[0..n) -> out [n,E], in batches of e->batch rows, eval mode. */
int hp_clip_eval_texts(hp_clip_eval *e, const char *const *texts, int64_t n, float *out);
/* Local: images uint8 [n,S,S,3] -> out [n,E], batches of e->batch rows, eval mode. */
int hp_clip_eval_images(hp_clip_eval *e, const uint8_t *images, int64_t n, float *out);

/* "prompt" with every "{}" replaced by `label` (a prompt without "{}" gets " label" appended).
 * Caller frees. */
int hp_clip_prompt(const char *prompt, const char *label, char **out);

#endif
