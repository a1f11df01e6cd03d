/* caption_common.c — see caption_common.h. */
#include "stages/caption_common.h"

#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "io/check.h"

void hp_caption_decoder_config(const hp_config *cfg, int V, int E, int T, hp_capdec_config *c) {
  hp_capdec_config_default(c);
  c->vocab = V;
  c->embed_dim = E;
  c->max_len = T;
  c->width = (int)hp_cfg_int(cfg, "caption.width");
  c->ffn = (int)hp_cfg_int(cfg, "caption.ffn");
  c->heads = (int)hp_cfg_int(cfg, "caption.heads");
  c->layers = (int)hp_cfg_int(cfg, "caption.layers");
  c->dropout = (float)hp_cfg_float(cfg, "caption.dropout");
  c->block_dropout = (float)hp_cfg_float(cfg, "caption.block_dropout");
}

int hp_caption_check_inputs(hp_stage_ctx *ctx, const hp_embeddings *em, const char *epath, int64_t M) {
  char dpath[4096], cpath[4096], dfp[64] = "", efp[64] = "";
  HP_CALL(hp_run_path(ctx, HP_FILE_DATASET, dpath, sizeof dpath));
  HP_CALL(hp_run_path(ctx, HP_FILE_CKPT, cpath, sizeof cpath));
  HP_CALL(hp_h5_root_attr(ctx->comm, dpath, "fingerprint", dfp, sizeof dfp));
  HP_CALL(hp_h5_root_attr(ctx->comm, epath, "dataset_fingerprint", efp, sizeof efp));
  if (strcmp(dfp, efp) != 0)
    HP_ERROR(HP_ERR_INPUT, "%s: embeddings of dataset %s, but %s is %s (fingerprint mismatch): rerun embed", epath, efp,
             dpath, dfp);
  if (em->n_captions != M)
    HP_ERROR(HP_ERR_INPUT, "%s: /captions/embedding has %" PRId64 " rows, %s has %" PRId64 " captions: rerun embed",
             epath, em->n_captions, dpath, M);
  int exists = ctx->rank == 0 ? access(cpath, R_OK) == 0 : 0;
  HP_MPI(MPI_Bcast(&exists, 1, MPI_INT, 0, ctx->comm));
  if (exists) {
    char mfp[64] = "";
    HP_CALL(hp_h5_root_attr(ctx->comm, cpath, "fingerprint", mfp, sizeof mfp));
    if (strcmp(mfp, em->model_fingerprint) != 0)
      HP_ERROR(HP_ERR_INPUT, "%s: embeddings of model checkpoint %s, but %s is %s (fingerprint mismatch): rerun embed",
               epath, em->model_fingerprint, cpath, mfp);
  }
  return 0;
}
