/* fuzz_table.c — the CSV/TSV table reader of ingest.format = "csv" (hp_table_parse, files not
 * checked, a label and a split column). Input: the table. */
#include <string.h>

#include "base/error.h"
#include "harness.h"
#include "ingest/records.h"
#include "ingest/report.h"
#include "ingest/table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = hp_fuzz_write("table/t.csv", data, size);
  if (!path) return 0;
  char file[512];
  strcpy(file, path);
  hp_table_opts t = {.image_key = "filepath", .caption_key = "title", .label_key = "label", .split_key = "split"};
  hp_ingest_opts o = {0, (size_t)1 << 24, 0};
  hp_ingest_list l;
  hp_ingest_report rep;
  hp_ingest_list_init(&l);
  hp_report_init(&rep);
  hp_table_parse(file, &t, &o, &l, &rep);
  hp_ingest_list_free(&l);
  hp_report_free(&rep);
  hp_error_clear();
  return 0;
}
