/* clip_task.h — CLIP as a model of the trainer (train/trainer.h): the `train` stage's data,
 * forward/backward, validation loss and test-split retrieval.
 *
 * Every rank holds the whole model (text tower, image tower, heads, logit scale). Each step the
 * global batch of train.batch pairs is split evenly over the ranks (data/train_data: a seeded
 * permutation per epoch, one seeded caption per image); each rank reads its rows, runs both
 * towers, and the contrastive loss uses global negatives (models/clip_loss.h: each rank's loss
 * is its share of the global mean, so the gradients are SUMMED across ranks). Backward runs
 * heads -> image tower -> text tower and hands the finished gradient ranges to the trainer's
 * allreduce as they complete. ResNet batch norm is local to each rank or synchronised over the
 * ranks (model.batch_norm); its running statistics are broadcast from rank 0 every step.
 * Validation: the contrastive loss over global eval batches (train.eval_batch), first caption
 * of every image. finish(): image->caption and caption->image recall@1/5/10 on the test split.
 */
#ifndef HP_TRAIN_CLIP_TASK_H
#define HP_TRAIN_CLIP_TASK_H

#include <mpi.h>

#include "config/config.h"
#include "train/trainer.h"

typedef struct hp_clip_task hp_clip_task;

/* Collective: the dataset at dataset_path, the model from the job's model.* keys, the
 * activations for this rank's share of train.batch (and train.eval_batch), the memory check;
 * the errors every rank sees alike are agreed. The model's parameters are initialised. */
int hp_clip_task_open(MPI_Comm comm, const hp_config *cfg, const char *dataset_path, hp_clip_task **out);
void hp_clip_task_close(hp_clip_task *t);

/* The trainer's view of it (valid until close). */
hp_train_model hp_clip_task_model(hp_clip_task *t);
/* The dataset's vocabulary (stored in every checkpoint) and training-image count. */
const hp_tokenizer *hp_clip_task_tokenizer(const hp_clip_task *t);
/* Seconds this rank's training steps waited on their image reads from dataset.h5 (synchronous,
 * inside the step time; captions are tokenised at open). */
double hp_clip_task_input_time(const hp_clip_task *t);
/* Seconds and calls of the synchronised batch-norm reductions (0 when local). */
void hp_clip_task_bn_time(const hp_clip_task *t, double *seconds, int64_t *calls);

#endif
