/* fuzz_karpathy.c — the reader of COCO's Karpathy split file (hp_karpathy_read, then a lookup of
 * every id it holds). Input: dataset_coco.json. */
#include "base/error.h"
#include "harness.h"
#include "ingest/karpathy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = hp_fuzz_write("karpathy/dataset_coco.json", data, size);
  if (!path) return 0;
  hp_karpathy k;
  if (hp_karpathy_read(path, (size_t)1 << 24, &k) == 0) {
    for (int64_t i = 0; i < k.n; i++)
      if (hp_karpathy_split(&k, k.cocoid[i]) != k.split[i]) __builtin_trap(); /* the lookup finds every id */
    hp_karpathy_free(&k);
  }
  hp_error_clear();
  return 0;
}
