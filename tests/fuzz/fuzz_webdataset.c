/* fuzz_webdataset.c — one webdataset shard through libarchive (hp_wds_read_shard: samples,
 * captions, image decoding at 16x16). Input: the tar file. */
#include <string.h>

#include "base/error.h"
#include "harness.h"
#include "ingest/distribute.h"
#include "ingest/report.h"
#include "ingest/webdataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = hp_fuzz_write("wds/00000.tar", data, size);
  if (!path) return 0;
  char file[512];
  strcpy(file, path);
  hp_ingest_image_opts io = {.size = 16, .mode = HP_RESIZE_STRETCH};
  hp_decode_limits_default(&io.limits);
  io.limits.max_pixels = 1 << 20;
  hp_ingest_shard sh;
  memset(&sh, 0, sizeof sh);
  sh.size = 16;
  hp_ingest_report rep;
  hp_report_init(&rep);
  hp_wds_read_shard(file, "00000.tar", HP_INGEST_SPLIT_NONE, &io, &sh, &rep);
  hp_ingest_shard_free(&sh);
  hp_report_free(&rep);
  hp_error_clear();
  return 0;
}
