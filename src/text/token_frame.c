/* token_frame.c — see token_frame.h. */
#include "text/token_frame.h"

#include <string.h>

void hp_token_frame(const int32_t *tok, int64_t n, int32_t start, int32_t end, int32_t pad, int64_t L, int32_t *ids) {
  int64_t k = n < L - 2 ? n : L - 2;
  ids[0] = start;
  if (k > 0) memcpy(ids + 1, tok, (size_t)k * sizeof *ids);
  ids[k + 1] = end;
  for (int64_t i = k + 2; i < L; i++) ids[i] = pad;
}
