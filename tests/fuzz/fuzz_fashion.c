/* fuzz_fashion.c — the Fashion Product Images CSV reader (hp_fashion_parse, files not
 * checked). Input: styles.csv. */
#include <string.h>

#include "base/error.h"
#include "harness.h"
#include "ingest/fashion.h"
#include "ingest/records.h"
#include "ingest/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!hp_fuzz_write("fashion/styles.csv", data, size)) return 0;
  char root[512];
  strcpy(root, hp_fuzz_dir());
  strcat(root, "/fashion");
  hp_ingest_opts o = {0, (size_t)1 << 24, 0};
  hp_ingest_list l;
  hp_ingest_report rep;
  hp_ingest_list_init(&l);
  hp_report_init(&rep);
  hp_fashion_parse(root, &o, &l, &rep);
  hp_ingest_list_free(&l);
  hp_report_free(&rep);
  hp_error_clear();
  return 0;
}
