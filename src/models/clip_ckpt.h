/* clip_ckpt.h — a CLIP model (clip.h) from a checkpoint alone, and batched eval embedding: what
 * a stage or tool that only has ckpt.h5 needs (the embed stage, tests/models/tool_ckpt_embed.c).
 *
 * A checkpoint's root attribute `model` is the description hp_clip_build writes into m->desc;
 * hp_clip_config_from_desc inverts it. The description carries every shape; what it does not
 * carry takes the defaults the train stage uses (hp_bert_config_default, hp_vit_config_default,
 * hp_resnet_config_resnet50: LN eps, pad id 0, input mean/std, BN eps/momentum), plus dropout 0
 * and temperature 0.07 (irrelevant: logit_scale is read from the checkpoint). Checkpoints
 * converted from PyTorch (scripts/ckpt_convert.py) carry the same descriptions.
 */
#ifndef HP_MODELS_CLIP_CKPT_H
#define HP_MODELS_CLIP_CKPT_H

#include <mpi.h>
#include <stdint.h>

#include "config/config.h"
#include "io/checkpoint.h"
#include "models/clip.h"

/* Description -> config. HP_ERR_INPUT naming the description when it does not parse. */
int hp_clip_config_from_desc(const char *desc, hp_clip_config *cfg);

/* Collective: the model of `path`'s description for a job (model.from_checkpoint = true: a
 * converted pretrained model): dropouts from the job's model.*_dropout keys, every shape from the
 * checkpoint. HP_ERR_INPUT, naming the file and both values, when the dataset's image side or the
 * tokenizer's vocabulary size (vocab; < 0 = not checked) is not the model's. The context T is
 * the description's (cfg->text.max_len). */
int hp_clip_config_from_ckpt(MPI_Comm comm, const char *path, const hp_config *job, int64_t image_size, int64_t vocab,
                             hp_clip_config *cfg);

/* Collective: read `path`'s model description, build that model into *m (parameters loaded
 * through hp_ckpt_read, which validates the file and every tensor) and allocate activations for
 * batches of up to Bmax rows. The model is built for inference (hp_clip_build_infer: no
 * gradients, no backward). info (may be NULL) receives the checkpoint's metadata (free with
 * hp_ckpt_info_free). On failure *m is freed. */
int hp_clip_load(MPI_Comm comm, const char *path, int Bmax, hp_clip *m, hp_ckpt_info *info);

/* Eval-mode embeddings of n rows in chunks of m->Bmax (no dropout; ResNet running statistics):
 * ids [n,T] (valid = ids != pad id) -> out [n,E]; images uint8 [n,S,S,3] -> out [n,E]. */
int hp_clip_embed_text(hp_clip *m, const int32_t *ids, int64_t n, int T, float *out);
int hp_clip_embed_images(hp_clip *m, const uint8_t *images, int64_t n, float *out);

#endif
