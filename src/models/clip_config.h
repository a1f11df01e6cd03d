/* clip_config.h — THE mapping from the model.* keys (plus train.temperature and
 * train.learn_temperature, which decide whether the logit scale is a parameter) to an
 * hp_clip_config; any stage that builds the model from a config (train, and the evaluation
 * stages through stages/clip_eval.h) uses it, so the checkpoint's model description matches.
 */
#ifndef HP_MODELS_CLIP_CONFIG_H
#define HP_MODELS_CLIP_CONFIG_H

#include <stdint.h>

#include "config/config.h"
#include "models/clip.h"

/* Model description for images of side image_size, a vocabulary of `vocab` ids and captions of
 * T ids. HP_ERR_CONFIG (naming the job file and key) for inconsistent shapes. */
int hp_clip_config_from_cfg(const hp_config *cfg, int64_t image_size, int64_t vocab, int64_t T,
                            hp_clip_config *mc);

#endif
