/* records.h — what every annotation parser (coco.h, roco.h, fashion.h) produces: one record per
 * image, in the order the source lists them, with its captions and multi-hot labels.
 *
 * Records are only added when they are good; everything dropped is listed in the parser's
 * hp_ingest_report. */
#ifndef HP_INGEST_RECORDS_H
#define HP_INGEST_RECORDS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  char *path;        /* image file relative to the ingest root ("val2017/000000000139.jpg") */
  char *source_id;   /* where it came from ("coco:val2017:139", "roco:ROCO_00300", "fashion:1163") */
  int64_t n_captions;
  char **captions;   /* [n_captions] UTF-8, trimmed, non-empty */
  uint8_t *labels;   /* [list.n_labels] 0/1, NULL when the list has no labels */
  uint8_t split;     /* the source's split (HP_SPLIT_TRAIN/_VAL/_TEST of io/dataset.h), or
                      * HP_INGEST_SPLIT_NONE: the ingest stage assigns one (data.*_frac) */
} hp_ingest_item;

#define HP_INGEST_SPLIT_NONE 255

typedef struct {
  int64_t n, cap;
  hp_ingest_item *items;
  int64_t n_labels;
  char **label_names;  /* [n_labels] */
  int64_t n_captions;  /* total over items */
} hp_ingest_list;

/* Options common to the parsers. */
typedef struct {
  /* 1 = report a record whose image file does not exist as bad (stat per image). */
  int check_files;
  /* Largest annotation file (JSON, CSV, text) read into memory, bytes. */
  size_t max_annotation_bytes;
  /* 1 = an image file may be a symbolic link out of the root; 0 = such files are bad records
   * (hp_ingest_path_inside). Names with "../" are refused either way. */
  int follow_symlinks;
} hp_ingest_opts;

#define HP_INGEST_DEFAULT_MAX_ANNOTATION_BYTES ((size_t)2 << 30) /* 2 GiB */
/* Longest caption kept (bytes): longer ones are bad records (real captions are < 2 KiB; the
 * dataset's string tables refuse strings > 1 MiB, which must not fail a whole run). */
#define HP_INGEST_MAX_CAPTION_BYTES ((size_t)64 << 10)
/* Longest label name (COCO category, Fashion articleType / baseColour value). */
#define HP_INGEST_MAX_LABEL_BYTES ((size_t)1024)

void hp_ingest_list_init(hp_ingest_list *l);
void hp_ingest_list_free(hp_ingest_list *l);

/* Append a new empty record with copies of path and source_id (labels zeroed when the list
 * has labels: set n_labels before adding). Returns a pointer into the list (valid until the
 * next add). */
int hp_ingest_list_add(hp_ingest_list *l, const char *path, const char *source_id,
                       hp_ingest_item **out);
/* Append a copy of text[0..n) as a caption of item. */
int hp_ingest_item_add_caption(hp_ingest_list *l, hp_ingest_item *it, const char *text, size_t n);
/* Keep the records i with keep[i] != 0, in order; the others are freed. */
void hp_ingest_list_keep(hp_ingest_list *l, const uint8_t *keep);
/* Remove the last record (used when a record turns out bad after it was added). */
void hp_ingest_list_pop(hp_ingest_list *l);
/* Set the label names (copies). Must be called before any record is added. */
int hp_ingest_list_set_labels(hp_ingest_list *l, int64_t n, const char *const *names);

#endif
