/* report.h — the list of bad input records an ingest run found.
 *
 * Every record that is skipped (or, under the "reject" policy, that fails the run) is listed
 * with WHERE it is and WHY it is bad, e.g.
 *   annotations/captions_val2017.json: annotations[17]   image_id 42 is not in "images"
 *   styles.csv:23                                        11 fields, the header has 10
 *   val2017/000000000139.jpg                             truncated JPEG data (premature end)
 * Entries keep the order they were added in. Text is copied; control characters in it are
 * replaced by '?' when written, so a hostile file name cannot forge report lines.
 */
#ifndef HP_INGEST_REPORT_H
#define HP_INGEST_REPORT_H

#include <stdint.h>
#include <stdio.h>

typedef struct {
  char *where;  /* file (relative to the ingest root) and record, e.g. "styles.csv:23" */
  char *why;    /* what is wrong */
} hp_bad_record;

typedef struct {
  int64_t n, cap;
  hp_bad_record *items;
} hp_ingest_report;

void hp_report_init(hp_ingest_report *r);
void hp_report_free(hp_ingest_report *r);

/* Add one entry; why is printf-style. Only allocation failure is an error (HP_ERR_MEM). */
int hp_report_add(hp_ingest_report *r, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Add an entry whose reason is the current error message (hp_error_message()), then clear the
 * recorded error: used when a per-record operation (decoding one image) fails with
 * HP_ERR_INPUT and the policy is to skip it. */
int hp_report_add_error(hp_ingest_report *r, const char *where);

/* Append all entries of src to dst (src unchanged). */
int hp_report_append(hp_ingest_report *dst, const hp_ingest_report *src);

/* Write "WHERE<TAB>WHY\n" lines (control characters shown as '?'). HP_ERR_IO if the stream
 * fails. */
int hp_report_write(const hp_ingest_report *r, FILE *f, const char *path_for_errors);

/* Serialise to one buffer (for MPI gathering) and back: "where\0why\0" pairs. */
int hp_report_pack(const hp_ingest_report *r, char **buf, size_t *len);
int hp_report_unpack(hp_ingest_report *r, const char *buf, size_t len);

#endif
