/* caption_metrics.c — see caption_metrics.h. */
#include "metrics/caption_metrics.h"

#include "base/error.h"

int hp_caption_corpus_check(const hp_caption_corpus *c) { HP_ERROR(HP_ERR_NOTIMPL, "caption metrics: not implemented yet"); }
int hp_bleu_corpus(const hp_caption_corpus *c, double bleu[4]) { HP_ERROR(HP_ERR_NOTIMPL, "BLEU: not implemented yet"); }
int hp_cider_d(const hp_caption_corpus *c, double *score, double *per_image) { HP_ERROR(HP_ERR_NOTIMPL, "CIDEr-D: not implemented yet"); }
