/* fuzz_image.c — the image decoding wrapper (hp_image_decode_mem: JPEG and PNG through libjpeg
 * and libpng, with hpclip's limits). Limits are lowered so that a fuzzer-made header cannot ask
 * for more than 4 Mpixels. The first byte of the input picks the DCT scaling hint. */
#include "base/error.h"
#include "harness.h"
#include "ingest/image_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hp_decode_limits lim;
  hp_decode_limits_default(&lim);
  lim.max_pixels = 4 << 20;
  lim.max_side = 8192;
  lim.max_scans = 200;
  lim.min_side = size > 0 ? (int64_t)(data[0] & 0x3f) : 0;
  hp_image im = {0};
  if (hp_image_decode_mem(data, size, "fuzz-input", &lim, &im) == 0) hp_image_free(&im);
  hp_error_clear();
  return 0;
}
