/* decode.c — see decode.h. */
#include "models/decode.h"

#include "base/error.h"

int hp_decode(hp_next_logits_fn fn, void *ctx, int64_t nb, int vocab, const hp_decode_opts *o,
              int32_t *out_tokens, int *out_len, float *out_logprob) {
  HP_ERROR(HP_ERR_NOTIMPL, "decoding: not implemented yet");
}
