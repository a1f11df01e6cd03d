/* clip.h — the CLIP two-tower model: a BERT text tower and a ViT or ResNet50 image tower, each
 * followed by a projection head (Dense -> E, L2 normalisation), and the logit scale
 * log(1/temperature) of the contrastive loss. ONE hp_params holds every tensor, so one gradient
 * buffer and one bucketed allreduce serve the whole model.
 *
 * Layout of the buffer (registration order):
 *   [0, image_lo)          text tower ("text.*", Hugging Face BERT names)
 *   [image_lo, head_lo)    image tower ("visual.*", timm ViT or torchvision ResNet names)
 *   [head_lo, total)       text_projection.*, visual_projection.*, logit_scale [1]
 * Backward runs loss -> heads -> image tower -> text tower, i.e. from the end of the buffer to
 * its start, and reports through `ready(arg, lo)` that gradients [lo, total) are final after
 * the heads (head_lo), after every block of the image tower (ViT layer / ResNet bottleneck),
 * after the image tower (image_lo), after every BERT layer, and at the end (0): the hook of
 * comm/allreduce.h's hp_bar_ready, so gradient buckets start while earlier blocks still run
 * (tests/models/test_clip_handoff.c checks that each reported range never changes again).
 *
 * logit_scale: a learnable scalar (flags 0) when cfg.learn_temperature, otherwise an
 * HP_PARAM_BUFFER (stored in checkpoints, never trained). Initial value log(1/temperature).
 * Learned values are clamped to [0, log 100] after each update (hp_clip_clamp), as CLIP.
 *
 * Image input is uint8 [B,S,S,3] RGB, normalised by the tower's own convention (ViT: to
 * [-1,1] with mean = std = 0.5; ResNet: ImageNet mean/std) or model.image_mean/std, see vit.h /
 * resnet50.h.
 *
 * OpenAI CLIP / OpenCLIP is this model with text.arch = HP_TEXT_CLIP (bert.h), vit.openai
 * (vit.h) and no_proj_bias; docs/models.md lists the conventions and the description syntax.
 */
#ifndef HP_MODELS_CLIP_H
#define HP_MODELS_CLIP_H

#include <stddef.h>
#include <stdint.h>

#include "models/bert.h"
#include "models/head.h"
#include "nn/params.h"
#include "models/resnet50.h"
#include "models/vit.h"

enum { HP_CLIP_IMAGE_VIT = 0, HP_CLIP_IMAGE_RESNET = 1 };

typedef struct {
  hp_bert_config text;
  int image_kind;            /* HP_CLIP_IMAGE_* */
  hp_vit_config vit;         /* when image_kind == VIT */
  hp_resnet_config resnet;   /* when image_kind == RESNET */
  int embed_dim;             /* E */
  int no_proj_bias;          /* projection heads without bias (OpenAI CLIP's) */
  float temperature;         /* initial temperature (0.07) */
  int learn_temperature;
} hp_clip_config;

typedef struct {
  hp_clip_config cfg;
  hp_params p;
  hp_bert text;
  hp_vit vit;
  hp_resnet resnet;
  hp_head thead, ihead;
  int image_feat;            /* width of the image tower's output */
  size_t logit_scale;        /* offset of the scalar */
  size_t image_lo, head_lo;  /* layout boundaries (floats) */
  int Bmax;
  int infer;                 /* built by hp_clip_build_infer: no gradients, forward only */
  int locked_image, locked_text; /* a locked tower (train.freeze) and its head: backward skips them,
                                    their gradients stay as they are (zero after zero_grad) */
  float *rfeat;              /* [Bmax, image_feat] ResNet features */
  float *dtfeat, *difeat;    /* [Bmax, D] head input gradients (NULL when infer) */
  char desc[512];            /* model description stored in checkpoints */
} hp_clip;

/* Register every tensor, allocate the parameters (not initialised). HP_ERR_CONFIG for a bad
 * shape (the message names the tower and the value). */
/* The tower's default pixel normalisation (ViT: mean = std = 0.5; ResNet: ImageNet's). */
void hp_clip_default_norm(int image_kind, float mean[3], float std[3]);

int hp_clip_build(hp_clip *m, const hp_clip_config *cfg);
/* The same model for inference only (the evaluation stages): no gradient buffer, and
 * hp_clip_alloc_acts / hp_clip_acts_estimate then give the towers' inference activations
 * (hp_bert_alloc_infer, hp_vit_alloc_infer, hp_resnet_alloc_infer: one block's temporaries, no
 * saved activations); embeddings are bitwise those of hp_clip_build's model. Training encodes
 * and hp_clip_backward are refused (HP_ERR_INTERNAL). */
int hp_clip_build_infer(hp_clip *m, const hp_clip_config *cfg);
/* Seeded initialisation, independent of the rank count. */
void hp_clip_init(hp_clip *m, uint64_t seed);
/* Activations for batches of up to B rows (inference ones for hp_clip_build_infer's model);
 * *bytes (may be NULL) = bytes allocated. */
int hp_clip_alloc_acts(hp_clip *m, int B, size_t *bytes);
/* The activation bytes hp_clip_alloc_acts(m, B) would allocate, without allocating them:
 * activations are linear in the batch, so allocations for batches 1 and 2 give the fixed and
 * per-sample parts exactly (m is left with batch-2 activations). For memory checks. */
int hp_clip_acts_estimate(hp_clip *m, int B, size_t *bytes);
void hp_clip_free(hp_clip *m);

/* ids/valid [B,T] -> emb [B,E] (unit rows). drop NULL = eval. */
int hp_clip_encode_text(hp_clip *m, const int32_t *ids, const uint8_t *valid, int B, int T,
                        const hp_drop *drop, const float **emb);
/* images uint8 [B,S,S,3] -> emb [B,E]. training: dropout (ViT) / batch statistics (ResNet;
 * synchronised across ranks when the caller has set m->resnet.bn_reduce, see resnet50.h). */
int hp_clip_encode_image(hp_clip *m, const uint8_t *images, int B, int training, const hp_drop *drop,
                         const float **emb);
float hp_clip_logit_scale(const hp_clip *m);

typedef int (*hp_clip_ready_fn)(void *arg, size_t lo);
/* Backward through the last encode_text / encode_image calls: demb [B,E] of both towers,
 * dlogit_scale (ignored when the temperature is fixed). Gradients accumulate into m->p.grad;
 * ready (may be NULL) is called as ranges become final (see the top of this file); its first
 * error ends backward with that error. */
int hp_clip_backward(hp_clip *m, const float *dimg, const float *dtxt, double dlogit_scale,
                     hp_clip_ready_fn ready, void *arg);
/* Clamp a learned logit scale to [0, log 100]. */
void hp_clip_clamp(hp_clip *m);

#endif
