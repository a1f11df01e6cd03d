/* table.c — ingest.format = "csv" (see table.h). */
#include "ingest/table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/error.h"
#include "ingest/csv.h"
#include "ingest/util.h"
#include "io/dataset.h"

typedef struct {
  char *path, *caption, *label; /* label NULL = none */
  int64_t line;
  uint8_t split;
} trow;

typedef struct {
  char *buf, *dir, *file_path;
  const char *name; /* the table's file name, for report lines */
  hp_csv csv;
  trow *rows;
  int64_t nr, capr;
  int64_t *order;   /* rows sorted by (path, line) */
  char **labels;    /* sorted distinct label names */
  int64_t nlab;
} tstate;

static const trow *g_sort_rows; /* qsort has no context argument; one parser at a time */

static int cmp_row(const void *a, const void *b) {
  const trow *x = &g_sort_rows[*(const int64_t *)a], *y = &g_sort_rows[*(const int64_t *)b];
  int c = strcmp(x->path, y->path);
  return c ? c : (x->line > y->line) - (x->line < y->line);
}

static int find_column(tstate *s, const char *key, const char *what, int required, int *col) {
  *col = -1;
  if (!key || !key[0]) {
    if (required) HP_ERROR(HP_ERR_CONFIG, "%s: %s is empty: name the column of the header", s->file_path, what);
    return 0;
  }
  for (int64_t k = 0; k < s->csv.nfields; k++) {
    size_t n = s->csv.len[k];
    const char *t = hp_ingest_trim(s->csv.field[k], &n);
    if (n == strlen(key) && memcmp(t, key, n) == 0) {
      if (*col >= 0) HP_ERROR(HP_ERR_INPUT, "%s: the header has the column \"%s\" (%s) twice", s->file_path, key, what);
      *col = (int)k;
    }
  }
  if (*col < 0) {
    char cols[512];
    size_t u = 0;
    cols[0] = 0;
    for (int64_t k = 0; k < s->csv.nfields && u < sizeof cols - 8; k++)
      u += (size_t)snprintf(cols + u, sizeof cols - u, "%s\"%s\"", k ? ", " : "", s->csv.field[k]);
    HP_ERROR(HP_ERR_INPUT, "%s: the header has no column \"%s\" (%s); its columns: %s", s->file_path, key, what,
             cols[0] ? cols : "(none)");
  }
  return 0;
}

static int copy_trimmed(const hp_csv *c, int col, char **out) {
  size_t n = c->len[col];
  const char *t = hp_ingest_trim(c->field[col], &n);
  return hp_ingest_strndup(t, n, out);
}

/* One record: a good row appended to s->rows, or a bad one reported. */
/* "train", "val"/"validation", "test" (any case) -> HP_SPLIT_*; anything else -> -1 */
static int parse_split(const hp_csv *c, int col) {
  size_t n = c->len[col];
  const char *t = hp_ingest_trim(c->field[col], &n);
  static const struct { const char *name; int split; } names[] = {
      {"train", HP_SPLIT_TRAIN}, {"val", HP_SPLIT_VAL}, {"validation", HP_SPLIT_VAL}, {"test", HP_SPLIT_TEST}};
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
    if (n == strlen(names[k].name) && strncasecmp(t, names[k].name, n) == 0) return names[k].split;
  return -1;
}

static int take_row(tstate *s, int st, int64_t nf, const int col[4], hp_ingest_report *rep) {
  char where[320];
  snprintf(where, sizeof where, "%s:%lld", s->name, (long long)s->csv.rec_line);
  if (st == HP_CSV_BAD) return hp_report_add(rep, where, "%s", s->csv.why);
  if (s->csv.nfields != nf)
    return hp_report_add(rep, where, "%lld fields, the header has %lld", (long long)s->csv.nfields, (long long)nf);
  trow r = {.line = s->csv.rec_line, .split = HP_INGEST_SPLIT_NONE};
  if (col[3] >= 0) {
    int sp = parse_split(&s->csv, col[3]);
    if (sp < 0)
      return hp_report_add(rep, where, "split \"%.40s\" is not train, val, validation or test", s->csv.field[col[3]]);
    r.split = (uint8_t)sp;
  }
  const char *why = NULL, *rel_why = NULL;
  HP_CALL(copy_trimmed(&s->csv, col[0], &r.path));
  HP_CALL(copy_trimmed(&s->csv, col[1], &r.caption));
  if (col[2] >= 0) HP_CALL(copy_trimmed(&s->csv, col[2], &r.label));
  if (!r.path[0]) why = "empty image path";
  else if (!hp_ingest_relpath_ok(r.path, &rel_why)) why = rel_why;
  else if (!r.caption[0]) why = "empty caption";
  else if (strlen(r.caption) > HP_INGEST_MAX_CAPTION_BYTES) why = "caption longer than 64 KiB";
  else if (r.label && strlen(r.label) > HP_INGEST_MAX_LABEL_BYTES) why = "label longer than 1024 bytes";
  if (why) {
    int e = hp_report_add(rep, where, "%s%s%s", why, r.path[0] ? ": " : "", r.path);
    free(r.path);
    free(r.caption);
    free(r.label);
    return e;
  }
  if (r.label && !r.label[0]) {
    free(r.label);
    r.label = NULL;
  }
  int e = hp_ingest_grow((void **)&s->rows, &s->capr, s->nr + 1, sizeof *s->rows, "table rows");
  if (e) {
    free(r.path);
    free(r.caption);
    free(r.label);
    return e;
  }
  s->rows[s->nr++] = r;
  return 0;
}

static int collect_labels(tstate *s, hp_ingest_list *out) {
  int64_t n = 0;
  for (int64_t i = 0; i < s->nr; i++) n += s->rows[i].label != NULL;
  if (n == 0) return 0;
  HP_CALLOC(s->labels, (size_t)n, "label names");
  n = 0;
  for (int64_t i = 0; i < s->nr; i++)
    if (s->rows[i].label) s->labels[n++] = s->rows[i].label; /* borrowed */
  qsort(s->labels, (size_t)n, sizeof *s->labels, hp_ingest_cmp_str);
  int64_t u = 0;
  for (int64_t i = 0; i < n; i++)
    if (u == 0 || strcmp(s->labels[u - 1], s->labels[i]) != 0) s->labels[u++] = s->labels[i];
  s->nlab = u;
  return hp_ingest_list_set_labels(out, u, (const char *const *)s->labels);
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static int emit_image(tstate *s, const hp_ingest_opts *o, const char *root, int64_t a, int64_t b, hp_ingest_list *out,
                      hp_ingest_report *rep) {
  const trow *r0 = &s->rows[s->order[a]];
  if (o->check_files) {
    free(s->file_path);
    s->file_path = NULL;
    HP_CALL(hp_ingest_join(root, r0->path, &s->file_path));
    const char *why;
    if (!hp_ingest_file_exists(s->file_path)) return hp_report_add(rep, r0->path, "image file is missing");
    if (!o->follow_symlinks && !hp_ingest_path_inside(root, s->file_path, &why))
      return hp_report_add(rep, r0->path, "image file %s", why);
  }
  char sid[64];
  snprintf(sid, sizeof sid, "csv:%lld", (long long)r0->line);
  hp_ingest_item *it = NULL;
  HP_CALL(hp_ingest_list_add(out, r0->path, sid, &it));
  it->split = r0->split; /* the image's first row decides */
  for (int64_t k = a; k < b; k++) {
    const trow *r = &s->rows[s->order[k]];
    HP_CALL(hp_ingest_item_add_caption(out, it, r->caption, strlen(r->caption)));
    if (r->label) {
      int64_t l = hp_ingest_find_sorted(s->labels, s->nlab, r->label);
      if (l < 0) HP_ERROR(HP_ERR_INTERNAL, "csv: label \"%s\" not in the label set", r->label);
      it->labels[l] = 1;
    }
  }
  return 0;
}

/* Images in the order of their first row; each image's captions in file order. */
static int emit(tstate *s, const hp_ingest_opts *o, const char *root, hp_ingest_list *out, hp_ingest_report *rep) {
  HP_CALLOC(s->order, (size_t)(s->nr > 0 ? s->nr : 1), "row order");
  for (int64_t i = 0; i < s->nr; i++) s->order[i] = i;
  g_sort_rows = s->rows;
  qsort(s->order, (size_t)s->nr, sizeof *s->order, cmp_row);
  /* groups = runs of one path in the sorted order; its first element is its first row (rows
   * are stored in file order). Pairs (first row, start in order[]) sorted by first row. */
  int64_t *grp = NULL, ng = 0;
  HP_CALLOC(grp, (size_t)(2 * (s->nr > 0 ? s->nr : 1)), "image groups");
  for (int64_t i = 0; i < s->nr; i++)
    if (i == 0 || strcmp(s->rows[s->order[i - 1]].path, s->rows[s->order[i]].path) != 0) {
      grp[2 * ng] = s->order[i];
      grp[2 * ng + 1] = i;
      ng++;
    }
  qsort(grp, (size_t)ng, 2 * sizeof *grp, cmp_i64);
  int e = 0;
  for (int64_t g = 0; g < ng && !e; g++) {
    int64_t a = grp[2 * g + 1], b = a + 1;
    while (b < s->nr && strcmp(s->rows[s->order[b]].path, s->rows[s->order[a]].path) == 0) b++;
    e = emit_image(s, o, root, a, b, out, rep);
  }
  free(grp);
  return e;
}

int hp_table_image_root(const char *file, char **out) {
  const char *slash = strrchr(file, '/');
  if (!slash) return hp_ingest_strndup(".", 1, out);
  return hp_ingest_strndup(file, slash == file ? 1 : (size_t)(slash - file), out);
}

static char sep_for(const char *file) {
  size_t n = strlen(file);
  if (n >= 4 && (strcmp(file + n - 4, ".tsv") == 0 || strcmp(file + n - 4, ".tab") == 0 ||
                 strcmp(file + n - 4, ".TSV") == 0))
    return '\t';
  return ',';
}

static int table_run(tstate *s, const char *file, const hp_table_opts *t, const hp_ingest_opts *o,
                     hp_ingest_list *out, hp_ingest_report *rep) {
  s->file_path = NULL;
  s->name = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
  HP_CALL(hp_table_image_root(file, &s->dir));
  size_t len = 0;
  HP_CALL(hp_ingest_read_file(file, o->max_annotation_bytes, 1, &s->buf, &len));
  hp_csv_init(&s->csv, s->buf, len);
  s->csv.sep = t->sep ? t->sep : sep_for(file);
  int st;
  HP_CALL(hp_csv_next(&s->csv, &st));
  if (st == HP_CSV_END) HP_ERROR(HP_ERR_INPUT, "%s: empty file (no header)", file);
  if (st == HP_CSV_BAD) HP_ERROR(HP_ERR_INPUT, "%s:%lld: bad header: %s", file, (long long)s->csv.rec_line, s->csv.why);
  int col[4];
  /* the messages name the file; find_column uses s->file_path until the image checks reuse it */
  HP_CALL(hp_ingest_strndup(file, strlen(file), &s->file_path));
  HP_CALL(find_column(s, t->image_key, "ingest.csv_image_key", 1, &col[0]));
  HP_CALL(find_column(s, t->caption_key, "ingest.csv_caption_key", 1, &col[1]));
  HP_CALL(find_column(s, t->label_key, "ingest.csv_label_key", 0, &col[2]));
  HP_CALL(find_column(s, t->split_key, "ingest.csv_split_key", 0, &col[3]));
  for (int a = 0; a < 4; a++)
    for (int b = a + 1; b < 4; b++)
      if (col[a] >= 0 && col[a] == col[b])
        HP_ERROR(HP_ERR_CONFIG, "%s: ingest.csv_image_key, csv_caption_key, csv_label_key and csv_split_key must "
                 "name different columns", file);
  int64_t nf = s->csv.nfields;
  for (;;) {
    HP_CALL(hp_csv_next(&s->csv, &st));
    if (st == HP_CSV_END) break;
    HP_CALL(take_row(s, st, nf, col, rep));
  }
  HP_CALL(collect_labels(s, out));
  return emit(s, o, s->dir, out, rep);
}

int hp_table_parse(const char *file, const hp_table_opts *t, const hp_ingest_opts *opts, hp_ingest_list *out,
                   hp_ingest_report *rep) {
  hp_ingest_opts def = {1, HP_INGEST_DEFAULT_MAX_ANNOTATION_BYTES, 1};
  if (!opts) opts = &def;
  tstate s;
  memset(&s, 0, sizeof s);
  int e = table_run(&s, file, t, opts, out, rep);
  for (int64_t i = 0; i < s.nr; i++) {
    free(s.rows[i].path);
    free(s.rows[i].caption);
    free(s.rows[i].label);
  }
  free(s.rows);
  free(s.order);
  free(s.labels);
  free(s.buf);
  free(s.dir);
  free(s.file_path);
  hp_csv_free(&s.csv);
  HP_CALL(e);
  return 0;
}
