/* table.h — ingest.format = "csv": a CSV or TSV file with a header, one row per (image,
 * caption), the layout OpenCLIP reads with --csv-img-key / --csv-caption-key.
 *
 *   filepath,title,label
 *   images/0001.jpg,a red bus on a street,bus
 *   images/0001.jpg,a double-decker bus,bus
 *
 * Image paths are relative to the folder of the table file (checked like every annotation file
 * name: no "../", not absolute). Rows of the same image give it several captions (in row order)
 * and the union of their labels; images keep the order of their first row. The label column is
 * optional: one label name per row (an empty cell = none); the label set is the sorted distinct
 * names. A row that is malformed (the CSV rules of csv.h), has another field count than the
 * header, an empty or unsafe path, an empty caption, a caption/label that is too long or (with a
 * split column) a split that is not train, val, validation or test is a bad
 * record, reported as "FILE:LINE" with its reason; the image's other rows are kept. */
#ifndef HP_INGEST_TABLE_H
#define HP_INGEST_TABLE_H

#include "ingest/records.h"
#include "ingest/report.h"

typedef struct {
  const char *image_key;   /* header name of the image path column */
  const char *caption_key; /* header name of the caption column */
  const char *label_key;   /* header name of the label column; "" or NULL = no labels */
  const char *split_key;   /* header name of a split column (train, val or validation, test; an
                            * image's first row decides); "" or NULL = the stage draws the splits */
  char sep;                /* field separator; 0 = by extension: '\t' for .tsv/.tab, else ',' */
} hp_table_opts;

/* Parse `file` into `out` (paths relative to the file's folder, see hp_table_image_root) and
 * its bad rows into `rep`. Whole-file problems (missing file, no header, a key not in the
 * header or named twice) fail with HP_ERR_INPUT naming the file and the key. */
int hp_table_parse(const char *file, const hp_table_opts *t, const hp_ingest_opts *opts, hp_ingest_list *out,
                   hp_ingest_report *rep);

/* The folder the image paths of `file` are relative to (its directory; "." for a bare name).
 * Caller frees. */
int hp_table_image_root(const char *file, char **out);

#endif
