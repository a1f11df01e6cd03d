/* csv.c — see csv.h. */
#include "ingest/csv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "ingest/util.h"

void hp_csv_init(hp_csv *c, const char *data, size_t n) {
  memset(c, 0, sizeof *c);
  c->data = data;
  c->n = n;
  c->line = 1;
  c->check_utf8 = 1;
  c->sep = ',';
  if (n >= 3 && (unsigned char)data[0] == 0xEF && (unsigned char)data[1] == 0xBB &&
      (unsigned char)data[2] == 0xBF)
    c->pos = 3;
}

void hp_csv_free(hp_csv *c) {
  free(c->buf);
  free(c->field);
  free(c->len);
  free(c->off);
  memset(c, 0, sizeof *c);
}

static int put_byte(hp_csv *c, char b) {
  HP_CALL(hp_ingest_grow((void **)&c->buf, &c->bufcap, c->bufn + 1, 1, "CSV field buffer"));
  c->buf[c->bufn++] = b;
  return 0;
}

/* End the current field: NUL-terminate it and remember where it starts. */
static int end_field(hp_csv *c, size_t start) {
  HP_CALL(put_byte(c, 0));
  HP_CALL(hp_ingest_grow((void **)&c->off, &c->offcap, c->nfields + 1, sizeof *c->off,
                         "CSV field list"));
  c->off[c->nfields++] = start;
  return 0;
}

/* Skip to just after the end of the current physical line. */
static void skip_line(hp_csv *c) {
  while (c->pos < c->n && c->data[c->pos] != '\n') c->pos++;
  if (c->pos < c->n) {
    c->pos++;
    c->line++;
  }
}

static int bad(hp_csv *c, int *status, const char *why) {
  snprintf(c->why, sizeof c->why, "%s", why);
  *status = HP_CSV_BAD;
  return 0;
}

int hp_csv_next(hp_csv *c, int *status) {
  const char *d = c->data;
  c->nfields = 0;
  c->bufn = 0;
  c->why[0] = 0;
  /* skip empty lines */
  for (;;) {
    if (c->pos >= c->n) {
      *status = HP_CSV_END;
      return 0;
    }
    if (d[c->pos] == '\n') { c->pos++; c->line++; continue; }
    if (d[c->pos] == '\r' && c->pos + 1 < c->n && d[c->pos + 1] == '\n') {
      c->pos += 2;
      c->line++;
      continue;
    }
    break;
  }
  c->rec_line = c->line;
  for (;;) { /* one field per iteration */
    size_t start = (size_t)c->bufn;
    if (c->pos < c->n && d[c->pos] == '"') {
      int64_t open_line = c->line;
      c->pos++;
      for (;;) {
        if (c->pos >= c->n) {
          char why[96];
          snprintf(why, sizeof why, "unterminated quoted field (opened on line %lld)",
                   (long long)open_line);
          return bad(c, status, why);
        }
        char ch = d[c->pos];
        if (ch == '"') {
          if (c->pos + 1 < c->n && d[c->pos + 1] == '"') {
            HP_CALL(put_byte(c, '"'));
            c->pos += 2;
            continue;
          }
          c->pos++;
          break;
        }
        if (ch == 0) {
          skip_line(c);
          return bad(c, status, "NUL byte in a field");
        }
        if (ch == '\n') c->line++;
        HP_CALL(put_byte(c, ch));
        c->pos++;
      }
      /* after the closing quote: the separator or line end or EOF */
      if (c->pos < c->n && d[c->pos] != c->sep && d[c->pos] != '\n' &&
          !(d[c->pos] == '\r' && c->pos + 1 < c->n && d[c->pos + 1] == '\n') &&
          !(d[c->pos] == '\r' && c->pos + 1 == c->n)) {
        skip_line(c);
        return bad(c, status, "unexpected character after a closing quote");
      }
    } else {
      while (c->pos < c->n) {
        char ch = d[c->pos];
        if (ch == c->sep || ch == '\n') break;
        if (ch == '\r' && (c->pos + 1 == c->n || d[c->pos + 1] == '\n')) break;
        if (ch == '"') {
          skip_line(c);
          return bad(c, status, "quote character inside an unquoted field");
        }
        if (ch == 0) {
          skip_line(c);
          return bad(c, status, "NUL byte in a field");
        }
        HP_CALL(put_byte(c, ch));
        c->pos++;
      }
    }
    HP_CALL(end_field(c, start));
    /* separator or end of record */
    if (c->pos >= c->n) break;
    if (d[c->pos] == c->sep) {
      c->pos++;
      continue;
    }
    if (d[c->pos] == '\r') c->pos++;
    if (c->pos < c->n && d[c->pos] == '\n') {
      c->pos++;
      c->line++;
    }
    break;
  }
  HP_CALL(hp_ingest_grow((void **)&c->field, &c->fcap, c->nfields, sizeof *c->field,
                         "CSV field list"));
  int64_t lcap = c->fcap;
  size_t *nl = realloc(c->len, (size_t)lcap * sizeof *c->len);
  if (!nl) HP_ERROR(HP_ERR_MEM, "CSV field list: cannot allocate");
  c->len = nl;
  for (int64_t k = 0; k < c->nfields; k++) {
    c->field[k] = c->buf + c->off[k];
    size_t end = (k + 1 < c->nfields) ? c->off[k + 1] - 1 : (size_t)c->bufn - 1;
    c->len[k] = end - c->off[k];
  }
  if (c->check_utf8) {
    for (int64_t k = 0; k < c->nfields; k++) {
      size_t at = 0;
      if (!hp_utf8_valid(c->field[k], c->len[k], &at)) {
        snprintf(c->why, sizeof c->why, "field %lld: invalid UTF-8 at byte %zu",
                 (long long)k + 1, at);
        *status = HP_CSV_BAD;
        return 0;
      }
    }
  }
  *status = HP_CSV_RECORD;
  return 0;
}
