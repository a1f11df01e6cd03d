/* fashion.c — see fashion.h. */
#include "ingest/fashion.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "ingest/csv.h"
#include "ingest/util.h"

enum { C_ID, C_GENDER, C_ARTICLE, C_COLOUR, C_SEASON, C_NAME, C_N };
static const char *const col_names[C_N] = {"id",         "gender", "articleType",
                                           "baseColour", "season", "productDisplayName"};

typedef struct {
  int64_t line;
  char *why;      /* NULL = good (owned) */
  char *id;       /* digits */
  char *caption;
  char *article;  /* non-empty */
  char *colour;   /* may be "" */
  char *gender;   /* may be "" */
} frow;

typedef struct {
  const char *s;
  int64_t idx;
} fkey;

static int cmp_fkey(const void *a, const void *b) {
  const fkey *x = a, *y = b;
  int c = strcmp(x->s, y->s);
  if (c) return c;
  return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

typedef struct {
  char *buf, *path, *img_path;
  hp_csv csv;
  frow *rows;
  int64_t nr, capr;
  fkey *keys;
  char **label_text;   /* "articleType:X" strings */
  int64_t nlab, labcap;
} fstate;

static int row_bad(frow *r, const char *fmt, long long a, long long b) {
  int n = snprintf(NULL, 0, fmt, a, b);
  if (n < 0) HP_ERROR(HP_ERR_INTERNAL, "snprintf failed");
  HP_CALLOC(r->why, (size_t)n + 1, "bad-row reason");
  snprintf(r->why, (size_t)n + 1, fmt, a, b);
  return 0;
}

static int copy_trim(const char *s, size_t n, char **out) {
  const char *t = hp_ingest_trim(s, &n);
  HP_CALL(hp_ingest_strndup(t, n, out));
  return 0;
}

/* caption = name, gender, colour, season (non-empty ones joined by ", ") */
static int make_caption(const hp_csv *c, const int *col, char **out) {
  const int order[4] = {C_NAME, C_GENDER, C_COLOUR, C_SEASON};
  size_t total = 1;
  for (int i = 0; i < 4; i++) total += c->len[col[order[i]]] + 2;
  char *p = NULL;
  HP_CALLOC(p, total, "fashion caption");
  size_t o = 0;
  for (int i = 0; i < 4; i++) {
    size_t n = c->len[col[order[i]]];
    const char *t = hp_ingest_trim(c->field[col[order[i]]], &n);
    if (!n) continue;
    if (o) { p[o++] = ','; p[o++] = ' '; }
    memcpy(p + o, t, n);
    o += n;
  }
  p[o] = 0;
  *out = p;
  return 0;
}

/* sorted distinct values of one label group -> names "prefix:value" appended */
static int add_group(fstate *s, const char *prefix, int which) {
  int64_t n = 0;
  const char **v = NULL;
  HP_CALLOC(v, s->nr ? s->nr : 1, "fashion label values");
  for (int64_t i = 0; i < s->nr; i++) {
    if (s->rows[i].why) continue;
    const char *x = which == 2 ? s->rows[i].gender : which ? s->rows[i].colour : s->rows[i].article;
    if (x[0]) v[n++] = x;
  }
  qsort(v, (size_t)n, sizeof *v, hp_ingest_cmp_str);
  int e = 0;
  for (int64_t i = 0; i < n && !e; i++) {
    if (i > 0 && strcmp(v[i], v[i - 1]) == 0) continue;
    size_t len = strlen(prefix) + strlen(v[i]) + 2;
    e = hp_ingest_grow((void **)&s->label_text, &s->labcap, s->nlab + 1,
                       sizeof *s->label_text, "fashion labels");
    if (e) break;
    char *t = calloc(1, len);
    if (!t) { e = HP_ERR_MEM; break; }
    snprintf(t, len, "%s:%s", prefix, v[i]);
    s->label_text[s->nlab++] = t;
  }
  free(v);
  if (e) HP_ERROR(HP_ERR_MEM, "fashion labels: cannot allocate");
  return 0;
}

static int64_t find_label(char *const *names, int64_t lo, int64_t hi, const char *prefix,
                          const char *value) {
  size_t pl = strlen(prefix);
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    int c = strcmp(names[mid] + pl + 1, value);
    if (c == 0) return mid;
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return -1;
}

/* Reads styles.csv into s->buf and maps the header: col[c] = the field index of column c (each
 * column exactly once); *nf = the header's field count. */
static int read_header(fstate *s, const char *root, const hp_ingest_opts *o, int *col, int64_t *nf_out) {
  HP_CALL(hp_ingest_join(root, "styles.csv", &s->path));
  size_t len = 0;
  HP_CALL(hp_ingest_read_file(s->path, o->max_annotation_bytes, 1, &s->buf, &len));
  hp_csv_init(&s->csv, s->buf, len);
  int st;
  HP_CALL(hp_csv_next(&s->csv, &st));
  if (st == HP_CSV_END) HP_ERROR(HP_ERR_INPUT, "%s: empty file (no header)", s->path);
  if (st == HP_CSV_BAD)
    HP_ERROR(HP_ERR_INPUT, "%s:%lld: bad header: %s", s->path, (long long)s->csv.rec_line,
             s->csv.why);
  int64_t nf = s->csv.nfields;
  for (int c = 0; c < C_N; c++) {
    col[c] = -1;
    for (int64_t k = 0; k < nf; k++) {
      size_t n = s->csv.len[k];
      const char *t = hp_ingest_trim(s->csv.field[k], &n);
      if (n == strlen(col_names[c]) && memcmp(t, col_names[c], n) == 0) {
        if (col[c] >= 0)
          HP_ERROR(HP_ERR_INPUT, "%s: header has column \"%s\" twice", s->path, col_names[c]);
        col[c] = (int)k;
      }
    }
    if (col[c] < 0)
      HP_ERROR(HP_ERR_INPUT, "%s: header lacks the column \"%s\"", s->path, col_names[c]);
  }
  *nf_out = nf;
  return 0;
}

/* r->why = the reason when the row's image file images/<id>.jpg is missing or outside root */
static int check_image(fstate *s, const char *root, const hp_ingest_opts *o, frow *r) {
  char rel[40];
  snprintf(rel, sizeof rel, "images/%s.jpg", r->id);
  free(s->img_path);
  s->img_path = NULL;
  HP_CALL(hp_ingest_join(root, rel, &s->img_path));
  const char *out_why;
  if (!hp_ingest_file_exists(s->img_path)) {
    int m = snprintf(NULL, 0, "image file %s is missing", rel);
    HP_CALLOC(r->why, (size_t)m + 1, "bad-row reason");
    snprintf(r->why, (size_t)m + 1, "image file %s is missing", rel);
  } else if (!o->follow_symlinks && !hp_ingest_path_inside(root, s->img_path, &out_why)) {
    int m = snprintf(NULL, 0, "image file %s %s", rel, out_why);
    HP_CALLOC(r->why, (size_t)m + 1, "bad-row reason");
    snprintf(r->why, (size_t)m + 1, "image file %s %s", rel, out_why);
  }
  return 0;
}

/* The record just read (status st, nf header fields) -> row r: its id, caption and label values,
 * or r->why, the reason it is a bad row. */
static int parse_row(fstate *s, const char *root, const hp_ingest_opts *o, const int *col, int64_t nf, int st,
                     frow *r) {
  if (st == HP_CSV_BAD) {
    HP_CALL(hp_ingest_strndup(s->csv.why, strlen(s->csv.why), &r->why));
    return 0;
  }
  if (s->csv.nfields != nf) {
    HP_CALL(row_bad(r, "%lld fields, the header has %lld", (long long)s->csv.nfields,
                    (long long)nf));
    return 0;
  }
  size_t n = s->csv.len[col[C_ID]];
  const char *id = hp_ingest_trim(s->csv.field[col[C_ID]], &n);
  int ok = n >= 1 && n <= 18;
  for (size_t i = 0; i < n && ok; i++) ok = id[i] >= '0' && id[i] <= '9';
  if (!ok) {
    HP_CALL(row_bad(r, "id is not 1-18 decimal digits", 0, 0));
    return 0;
  }
  size_t nn = s->csv.len[col[C_NAME]];
  (void)hp_ingest_trim(s->csv.field[col[C_NAME]], &nn);
  if (nn == 0) {
    HP_CALL(row_bad(r, "empty productDisplayName (no caption)", 0, 0));
    return 0;
  }
  size_t na = s->csv.len[col[C_ARTICLE]];
  (void)hp_ingest_trim(s->csv.field[col[C_ARTICLE]], &na);
  if (na == 0) {
    HP_CALL(row_bad(r, "empty articleType (no label)", 0, 0));
    return 0;
  }
  size_t nc = s->csv.len[col[C_COLOUR]];
  (void)hp_ingest_trim(s->csv.field[col[C_COLOUR]], &nc);
  size_t ng = s->csv.len[col[C_GENDER]];
  (void)hp_ingest_trim(s->csv.field[col[C_GENDER]], &ng);
  if (na > HP_INGEST_MAX_LABEL_BYTES || nc > HP_INGEST_MAX_LABEL_BYTES || ng > HP_INGEST_MAX_LABEL_BYTES) {
    HP_CALL(row_bad(r, "articleType, baseColour or gender longer than %lld bytes",
                    (long long)HP_INGEST_MAX_LABEL_BYTES, 0));
    return 0;
  }
  HP_CALL(hp_ingest_strndup(id, n, &r->id));
  HP_CALL(make_caption(&s->csv, col, &r->caption));
  if (strlen(r->caption) > HP_INGEST_MAX_CAPTION_BYTES) {
    HP_CALL(row_bad(r, "caption longer than %lld bytes", (long long)HP_INGEST_MAX_CAPTION_BYTES,
                    0));
    return 0;
  }
  HP_CALL(copy_trim(s->csv.field[col[C_ARTICLE]], s->csv.len[col[C_ARTICLE]], &r->article));
  HP_CALL(copy_trim(s->csv.field[col[C_COLOUR]], s->csv.len[col[C_COLOUR]], &r->colour));
  HP_CALL(copy_trim(s->csv.field[col[C_GENDER]], s->csv.len[col[C_GENDER]], &r->gender));
  if (o->check_files) HP_CALL(check_image(s, root, o, r));
  return 0;
}

/* good rows whose id an earlier good row has become bad rows */
static int mark_duplicate_ids(fstate *s) {
  HP_CALLOC(s->keys, s->nr ? s->nr : 1, "fashion ids");
  int64_t nk = 0;
  for (int64_t i = 0; i < s->nr; i++)
    if (!s->rows[i].why) s->keys[nk++] = (fkey){s->rows[i].id, i};
  qsort(s->keys, (size_t)nk, sizeof *s->keys, cmp_fkey);
  for (int64_t i = 1; i < nk; i++)
    if (strcmp(s->keys[i].s, s->keys[i - 1].s) == 0)
      HP_CALL(hp_ingest_strndup("duplicate id (an earlier row has it)", 36,
                                &s->rows[s->keys[i].idx].why));
  return 0;
}

/* In file order: a bad row -> the report; a good row -> an item with its caption and its
 * articleType, baseColour and gender labels (label names [0, n_article), [n_article, n_colour),
 * [n_colour, s->nlab)). */
static int emit_rows(fstate *s, int64_t n_article, int64_t n_colour, hp_ingest_list *out, hp_ingest_report *rep) {
  for (int64_t i = 0; i < s->nr; i++) {
    frow *r = &s->rows[i];
    char where[48];
    snprintf(where, sizeof where, "styles.csv:%lld", (long long)r->line);
    if (r->why) {
      HP_CALL(hp_report_add(rep, where, "%s", r->why));
      continue;
    }
    char rel[40], sid[40];
    snprintf(rel, sizeof rel, "images/%s.jpg", r->id);
    snprintf(sid, sizeof sid, "fashion:%s", r->id);
    hp_ingest_item *it = NULL;
    HP_CALL(hp_ingest_list_add(out, rel, sid, &it));
    HP_CALL(hp_ingest_item_add_caption(out, it, r->caption, strlen(r->caption)));
    int64_t a = find_label(s->label_text, 0, n_article, "articleType", r->article);
    if (r->gender[0]) {
      int64_t g = find_label(s->label_text, n_colour, s->nlab, "gender", r->gender);
      if (g < 0) HP_ERROR(HP_ERR_INTERNAL, "fashion: label of %s not found", r->gender);
      it->labels[g] = 1;
    }
    if (a < 0) HP_ERROR(HP_ERR_INTERNAL, "fashion: label of %s not found", r->article);
    it->labels[a] = 1;
    if (r->colour[0]) {
      int64_t b = find_label(s->label_text, n_article, n_colour, "baseColour", r->colour);
      if (b < 0) HP_ERROR(HP_ERR_INTERNAL, "fashion: label of %s not found", r->colour);
      it->labels[b] = 1;
    }
  }
  return 0;
}

static int fashion_run(fstate *s, const char *root, const hp_ingest_opts *o, hp_ingest_list *out,
                       hp_ingest_report *rep) {
  int col[C_N];
  int64_t nf = 0;
  HP_CALL(read_header(s, root, o, col, &nf));
  for (;;) {
    int st;
    HP_CALL(hp_csv_next(&s->csv, &st));
    if (st == HP_CSV_END) break;
    HP_CALL(hp_ingest_grow((void **)&s->rows, &s->capr, s->nr + 1, sizeof *s->rows,
                           "fashion rows"));
    frow *r = &s->rows[s->nr++];
    memset(r, 0, sizeof *r);
    r->line = s->csv.rec_line;
    HP_CALL(parse_row(s, root, o, col, nf, st, r));
  }
  /* duplicate ids */
  HP_CALL(mark_duplicate_ids(s));
  /* labels */
  HP_CALL(add_group(s, "articleType", 0));
  int64_t n_article = s->nlab;
  HP_CALL(add_group(s, "baseColour", 1));
  int64_t n_colour = s->nlab;
  HP_CALL(add_group(s, "gender", 2));
  HP_CALL(hp_ingest_list_set_labels(out, s->nlab, (const char *const *)s->label_text));
  /* emit in file order */
  HP_CALL(emit_rows(s, n_article, n_colour, out, rep));
  return 0;
}

int hp_fashion_parse(const char *root, const hp_ingest_opts *opts, hp_ingest_list *out,
                     hp_ingest_report *rep) {
  hp_ingest_opts def = {1, HP_INGEST_DEFAULT_MAX_ANNOTATION_BYTES, 1};
  if (!opts) opts = &def;
  fstate s;
  memset(&s, 0, sizeof s);
  int e = fashion_run(&s, root, opts, out, rep);
  for (int64_t i = 0; i < s.nr; i++) {
    free(s.rows[i].why);
    free(s.rows[i].id);
    free(s.rows[i].caption);
    free(s.rows[i].article);
    free(s.rows[i].colour);
    free(s.rows[i].gender);
  }
  for (int64_t i = 0; i < s.nlab; i++) free(s.label_text[i]);
  free(s.label_text);
  free(s.rows);
  free(s.keys);
  free(s.buf);
  free(s.path);
  free(s.img_path);
  hp_csv_free(&s.csv);
  HP_CALL(e);
  return 0;
}
