/* fuzz_coco.c — the COCO annotation reader (hp_coco_parse, files not checked). Input: the
 * captions JSON; if it holds a NUL byte, what follows the first NUL is instances JSON. */
#include <string.h>

#include "base/error.h"
#include "harness.h"
#include "ingest/coco.h"
#include "ingest/records.h"
#include "ingest/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nul = memchr(data, 0, size);
  size_t n1 = nul ? (size_t)(nul - data) : size;
  if (!hp_fuzz_write("coco/annotations/captions_val2014.json", data, n1)) return 0;
  if (nul) {
    if (!hp_fuzz_write("coco/annotations/instances_val2014.json", nul + 1, size - n1 - 1)) return 0;
  } else {
    hp_fuzz_unlink("coco/annotations/instances_val2014.json");
  }
  char root[512];
  strcpy(root, hp_fuzz_dir());
  strcat(root, "/coco");
  hp_ingest_opts o = {0, (size_t)1 << 24, 0};
  hp_ingest_list l;
  hp_ingest_report rep;
  hp_ingest_list_init(&l);
  hp_report_init(&rep);
  hp_coco_parse(root, "val2014", &o, &l, &rep);
  hp_ingest_list_free(&l);
  hp_report_free(&rep);
  hp_error_clear();
  return 0;
}
