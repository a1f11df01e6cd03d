/* csv.h — a small, strict RFC 4180 CSV reader over an in-memory buffer.
 *
 * Accepted: fields separated by ',' (or another byte: `sep`, e.g. '\t' for TSV); records ended by CRLF or LF (the last one may lack it);
 * fields enclosed in double quotes may contain commas, quotes written as "" and line breaks;
 * a UTF-8 byte-order mark at the very start is skipped; completely empty lines are skipped.
 * A lone CR not followed by LF is an ordinary data byte.
 * A record is BAD (reported with its first line number and the reason, then skipped up to the
 * end of the line where the problem is, so reading continues) when it has:
 *   - a quote inside an unquoted field (a"b), or a byte other than ',' or a line end after a
 *     closing quote ("a"b);
 *   - an unterminated quoted field (runs to the end of the file);
 *   - a NUL byte; or (unless check_utf8 is 0) a field that is not valid UTF-8.
 * Field counts are checked by the caller (it knows the header).
 */
#ifndef HP_INGEST_CSV_H
#define HP_INGEST_CSV_H

#include <stddef.h>
#include <stdint.h>

enum { HP_CSV_END = 0, HP_CSV_RECORD = 1, HP_CSV_BAD = 2 };

typedef struct {
  const char *data;
  size_t n, pos;
  int64_t line;      /* line number at pos (1-based) */
  int check_utf8;    /* default 1 */
  char sep;          /* field separator, default ',' (set after hp_csv_init) */
  /* The last record (valid until the next call): */
  int64_t rec_line;  /* line its first byte is on */
  int64_t nfields;
  char **field;      /* [nfields] NUL-terminated */
  size_t *len;       /* [nfields] byte lengths */
  char why[160];     /* for HP_CSV_BAD */
  /* storage */
  char *buf;
  int64_t bufcap, bufn;
  int64_t fcap;
  size_t *off;
  int64_t offcap;
} hp_csv;

void hp_csv_init(hp_csv *c, const char *data, size_t n);
void hp_csv_free(hp_csv *c);

/* Read the next record: *status = HP_CSV_RECORD (fields set), HP_CSV_BAD (rec_line and why
 * set) or HP_CSV_END. Returns 0, or HP_ERR_MEM. */
int hp_csv_next(hp_csv *c, int *status);

#endif
