/* token_frame.h — the fixed-length encoding the pretrained tokenizers share: a start token, the
 * first L - 2 tokens, an end token, then padding (BERT: [CLS] .. [SEP] [PAD]..; CLIP: start .. end
 * 0..; cut to L with the end token last). */
#ifndef HP_TEXT_TOKEN_FRAME_H
#define HP_TEXT_TOKEN_FRAME_H

#include <stdint.h>

/* ids[0..L) from tok[0..n); L >= 2 (the callers check, naming their tokenizer). */
void hp_token_frame(const int32_t *tok, int64_t n, int32_t start, int32_t end, int32_t pad, int64_t L, int32_t *ids);

#endif
