/* clip_config.c — the model.* keys -> hp_clip_config (see clip_config.h). */
#include "models/clip_config.h"

#include <stdio.h>
#include <string.h>

#include "base/error.h"

/* model.image_mean / image_std: "" keeps the tower's default, else three numbers "r,g,b" */
static int parse_norm_key(const hp_config *cfg, const char *key, int positive, float out[3]) {
  const char *s = hp_cfg_str(cfg, key);
  if (!s[0]) return 0;
  float v[3];
  int n = 0, bad = sscanf(s, "%f,%f,%f%n", &v[0], &v[1], &v[2], &n) != 3 || s[n] != 0;
  for (int c = 0; !bad && c < 3; c++) bad = !(v[c] == v[c]) || (positive ? !(v[c] > 0) : 0) || v[c] > 1e6f || v[c] < -1e6f;
  if (bad)
    HP_ERROR(HP_ERR_CONFIG, "%s: %s = \"%s\": must be three numbers \"r,g,b\"%s, e.g. \"%s\"", hp_config_path(cfg), key,
             s, positive ? " above 0" : "", positive ? "0.26862954,0.26130258,0.27577711" : "0.48145466,0.4578275,0.40821073");
  memcpy(out, v, sizeof v);
  return 0;
}

static int parse_blocks(const hp_config *cfg, int out[4]) {
  const char *s = hp_cfg_str(cfg, "model.resnet_blocks");
  int n = 0, k = 0;
  if (sscanf(s, "%d,%d,%d,%d%n", &out[0], &out[1], &out[2], &out[3], &n) != 4 || s[n] != 0) k = 1;
  for (int i = 0; !k && i < 4; i++) k = out[i] < 1 || out[i] > 64;
  if (k)
    HP_ERROR(HP_ERR_CONFIG, "%s: model.resnet_blocks = \"%s\": must be four block counts in [1,64], e.g. \"3,4,6,3\"",
             hp_config_path(cfg), s);
  return 0;
}

int hp_clip_config_from_cfg(const hp_config *cfg, int64_t image_size, int64_t vocab, int64_t T,
                            hp_clip_config *m) {
  memset(m, 0, sizeof *m);
  hp_bert_config_default(&m->text);
  m->text.vocab = (int)vocab;
  m->text.max_len = (int)T;
  m->text.positions = (int)hp_cfg_int(cfg, "model.text_positions");
  if (m->text.positions != 0 && m->text.positions < T)
    HP_ERROR(HP_ERR_CONFIG, "%s: model.text_positions = %d is shorter than data.caption_len = %lld", hp_config_path(cfg),
             m->text.positions, (long long)T);
  m->text.layers = (int)hp_cfg_int(cfg, "model.text_layers");
  m->text.heads = (int)hp_cfg_int(cfg, "model.text_heads");
  m->text.width = (int)hp_cfg_int(cfg, "model.text_width");
  m->text.ffn = (int)hp_cfg_int(cfg, "model.text_ffn");
  m->text.dropout = (float)hp_cfg_float(cfg, "model.text_dropout");
  m->text.pooling = strcmp(hp_cfg_str(cfg, "model.text_pooling"), "cls") == 0 ? HP_BERT_POOL_CLS : HP_BERT_POOL_MEAN;
  int clip_text = strcmp(hp_cfg_str(cfg, "model.text"), "clip") == 0;
  /* QuickGELU follows the text tower unless given: OpenAI CLIP's towers both use it */
  int quick = hp_cfg_is_set(cfg, "model.quick_gelu") ? hp_cfg_bool(cfg, "model.quick_gelu") : clip_text;
  if (clip_text) hp_bert_config_clip(&m->text);
  m->text.quick_gelu = quick;
  m->no_proj_bias = !hp_cfg_bool(cfg, "model.proj_bias");
  if (strcmp(hp_cfg_str(cfg, "model.image"), "vit") == 0) {
    m->image_kind = HP_CLIP_IMAGE_VIT;
    hp_vit_config_default(&m->vit);
    m->vit.image = (int)image_size;
    m->vit.patch = (int)hp_cfg_int(cfg, "model.image_patch");
    m->vit.layers = (int)hp_cfg_int(cfg, "model.image_layers");
    m->vit.heads = (int)hp_cfg_int(cfg, "model.image_heads");
    m->vit.width = (int)hp_cfg_int(cfg, "model.image_width");
    m->vit.mlp = (int)hp_cfg_int(cfg, "model.image_mlp");
    m->vit.dropout = (float)hp_cfg_float(cfg, "model.image_dropout");
    if (strcmp(hp_cfg_str(cfg, "model.image_style"), "openai") == 0) hp_vit_config_openai(&m->vit);
    m->vit.quick_gelu = quick;
    if (image_size % m->vit.patch)
      HP_ERROR(HP_ERR_CONFIG, "%s: model.image_patch = %d does not divide the dataset's image size %lld",
               hp_config_path(cfg), m->vit.patch, (long long)image_size);
  } else {
    m->image_kind = HP_CLIP_IMAGE_RESNET;
    hp_resnet_config_resnet50(&m->resnet, (int)image_size);
    HP_CALL(parse_blocks(cfg, m->resnet.layers));
    m->resnet.width = (int)hp_cfg_int(cfg, "model.resnet_width");
  }
  float *mean = m->image_kind == HP_CLIP_IMAGE_VIT ? m->vit.mean : m->resnet.mean,
        *std = m->image_kind == HP_CLIP_IMAGE_VIT ? m->vit.std : m->resnet.std;
  HP_CALL(parse_norm_key(cfg, "model.image_mean", 0, mean));
  HP_CALL(parse_norm_key(cfg, "model.image_std", 1, std));
  m->embed_dim = (int)hp_cfg_int(cfg, "model.embed_dim");
  m->temperature = (float)hp_cfg_float(cfg, "train.temperature");
  m->learn_temperature = hp_cfg_bool(cfg, "train.learn_temperature");
  if (m->text.width % m->text.heads)
    HP_ERROR(HP_ERR_CONFIG, "%s: model.text_width = %d is not a multiple of model.text_heads = %d",
             hp_config_path(cfg), m->text.width, m->text.heads);
  if (m->image_kind == HP_CLIP_IMAGE_VIT && m->vit.width % m->vit.heads)
    HP_ERROR(HP_ERR_CONFIG, "%s: model.image_width = %d is not a multiple of model.image_heads = %d",
             hp_config_path(cfg), m->vit.width, m->vit.heads);
  return 0;
}
