/* TEMPORARY stub so the skeleton links; replaced by src/stages/synth.c. */
#include "stages/stage.h"
#include "base/error.h"
int hp_stage_synth(hp_stage_ctx *ctx) { (void)ctx; HP_ERROR(HP_ERR_NOTIMPL, "synth not implemented"); }
