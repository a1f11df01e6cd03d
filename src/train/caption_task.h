/* caption_task.h — the study's caption decoder as a model of the trainer (train/trainer.h): the
 * `caption-train` stage's samples, forward/backward and validation.
 *
 * Samples: every caption of every training image (dataset.h5 /split = 0) is one sample: input
 * its frozen CLIP caption embedding (embeddings.h5), target its own token ids; loss = token
 * cross-entropy up to and including the end token (models/caption_decoder.h), averaged over
 * the counted tokens of the global batch. Epoch e visits the training captions in the order of
 * the key hp_hash4(seed', SHUFFLE, caption, e) (the same for any rank count); global batch g is
 * perm[g*B, (g+1)*B) and rank r takes its hp_shard_range block of it (B need not divide by the
 * rank count). Each rank's gradient is d(sum of its token losses); the trainer sums it over the
 * ranks and the update scales it by 1/(global count of counted tokens). Dropout masks are keyed
 * by the sample's global position, so the mathematics is the same for any rank count (only the
 * float summation order of the gradient differs). Validation: token loss and accuracy (argmax =
 * target over counted tokens) on every caption of the validation images, integer counts summed.
 */
#ifndef HP_TRAIN_CAPTION_TASK_H
#define HP_TRAIN_CAPTION_TASK_H

#include <mpi.h>

#include "config/config.h"
#include "io/embeddings.h"
#include "models/caption_decoder.h"
#include "train/trainer.h"

typedef struct hp_caption_task hp_caption_task;

/* Collective: the dataset (its captions tokenised to data.caption_len ids, its splits). */
int hp_caption_task_open(MPI_Comm comm, const hp_config *cfg, const char *dataset_path, hp_caption_task **out);
/* The dataset's caption count and vocabulary. */
int64_t hp_caption_task_captions(const hp_caption_task *t);
const hp_vocab *hp_caption_task_vocab(const hp_caption_task *t);
const hp_tokenizer *hp_caption_task_tokenizer(const hp_caption_task *t); /* the word tokenizer over it */
/* Collective: every caption embedding of em (checked to belong to the dataset), the training and
 * validation caption lists (errors when a split has none, or fewer than caption.train_batch),
 * and the decoder dc, initialised, with activations for this rank's share of the batch. */
int hp_caption_task_load(hp_caption_task *t, hp_embeddings *em, const hp_capdec_config *dc);
void hp_caption_task_close(hp_caption_task *t);

/* The trainer's view of it (valid until close). */
hp_train_model hp_caption_task_model(hp_caption_task *t);

#endif
