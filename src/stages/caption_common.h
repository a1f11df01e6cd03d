/* caption_common.h — what caption-train and caption share: the decoder configuration from the
 * job's caption.* keys, and the input consistency checks (embeddings.h5 made from this
 * dataset.h5, by the model in ckpt.h5).
 *
 * caption_ckpt.h5 is a checkpoint file (schema hpclip.checkpoint, hdf5-schemas/checkpoint.md):
 * /params holds the decoder's "capdec.*" tensors, /vocab the vocabulary it predicts, /history
 * the per-epoch train / validation token loss; its `model` attribute is the decoder
 * description (hp_capdec_describe) and its `state` attribute carries, besides the training
 * state, "embeddings_fingerprint=HEX" (the embeddings.h5 it was trained on) and
 * "val_accuracy=X". ckpt.h5 (the CLIP model) is never written by the caption stages. */
#ifndef HP_STAGES_CAPTION_COMMON_H
#define HP_STAGES_CAPTION_COMMON_H

#include <stdint.h>

#include "config/config.h"
#include "io/embeddings.h"
#include "models/caption_decoder.h"
#include "stages/stage.h"


/* decoder config from caption.* keys, vocabulary V, CLIP width E, sequence T */
void hp_caption_decoder_config(const hp_config *cfg, int V, int E, int T, hp_capdec_config *out);

/* Collective: embeddings.h5 (opened as em, at epath) must come from dataset.h5 (its
 * dataset_fingerprint) and, when ckpt.h5 exists, from that model (model_fingerprint); its
 * caption count must be M. Errors name both files and say which stage to rerun. */
int hp_caption_check_inputs(hp_stage_ctx *ctx, const hp_embeddings *em, const char *epath, int64_t M);

#endif
