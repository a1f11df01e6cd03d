/* fuzz_roco.c — the ROCO caption text reader (hp_roco_parse with the default terms, files not
 * checked). Input: data/train/radiology/captions.txt. */
#include <string.h>

#include "base/error.h"
#include "harness.h"
#include "ingest/records.h"
#include "ingest/report.h"
#include "ingest/roco.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!hp_fuzz_write("roco/data/train/radiology/captions.txt", data, size)) return 0;
  char root[512];
  strcpy(root, hp_fuzz_dir());
  strcat(root, "/roco");
  hp_ingest_opts o = {0, (size_t)1 << 24, 0};
  hp_ingest_list l;
  hp_ingest_report rep;
  hp_ingest_list_init(&l);
  hp_report_init(&rep);
  hp_roco_parse(root, "train/radiology", 0, NULL, &o, &l, &rep);
  hp_ingest_list_free(&l);
  hp_report_free(&rep);
  hp_error_clear();
  return 0;
}
