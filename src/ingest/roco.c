/* roco.c — see roco.h. */
#include "ingest/roco.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "ingest/util.h"

const char *const hp_roco_default_terms[8] = {"tumor", "thrombosis", "aorta",    "lung",
                                              "brain", "fracture",   "chest", "mandibular"};

static const char *const roco_splits[] = {"train/radiology", "validation/radiology",
                                          "test/radiology"};

int hp_roco_split_ok(const char *split) {
  for (size_t i = 0; i < sizeof roco_splits / sizeof *roco_splits; i++)
    if (strcmp(split, roco_splits[i]) == 0) return 1;
  return 0;
}

static int is_word(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

static char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

static int eq_ci(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (lower(a[i]) != lower(b[i])) return 0;
  return 1;
}

int hp_roco_term_match(const char *text, size_t n, const char *term) {
  size_t k = strlen(term);
  if (k == 0) return 0;
  size_t i = 0;
  while (i < n) {
    while (i < n && !is_word((unsigned char)text[i])) i++;
    size_t s = i;
    while (i < n && is_word((unsigned char)text[i])) i++;
    size_t m = i - s;
    const char *w = text + s;
    if (m < k || m > k + 2 || !eq_ci(w, term, k)) continue;
    if (m == k) return 1;
    if (m == k + 1 && lower(w[k]) == 's') return 1;
    if (m == k + 2 && lower(w[k]) == 'e' && lower(w[k + 1]) == 's') return 1;
  }
  return 0;
}

int hp_roco_check_terms(int nterms, const char *const *terms) {
  if (nterms <= 0) HP_ERROR(HP_ERR_CONFIG, "ROCO label terms: the list is empty");
  for (int t = 0; t < nterms; t++) {
    const char *s = terms[t];
    if (!s[0]) HP_ERROR(HP_ERR_CONFIG, "ROCO label term %d is empty", t + 1);
    for (const char *p = s; *p; p++)
      if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
        HP_ERROR(HP_ERR_CONFIG, "ROCO label term \"%s\": only ASCII letters and digits allowed",
                 s);
    for (int u = 0; u < t; u++)
      if (strlen(terms[u]) == strlen(s) && eq_ci(terms[u], s, strlen(s)))
        HP_ERROR(HP_ERR_CONFIG, "ROCO label term \"%s\" is listed twice", s);
  }
  return 0;
}

typedef struct {
  int64_t line;
  const char *id, *cap; /* inside the buffer (NUL-terminated in place) */
  size_t idn, capn;
  const char *why;      /* NULL = good */
} rline;

typedef struct {
  const char *id;
  int64_t idx;
} rkey;

static int cmp_rkey(const void *a, const void *b) {
  const rkey *x = a, *y = b;
  int c = strcmp(x->id, y->id);
  if (c) return c;
  return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

static int id_ok(const char *s, size_t n) {
  if (n < 6 || n > 64 || memcmp(s, "ROCO_", 5) != 0) return 0;
  for (size_t i = 5; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return 0;
  return 1;
}

typedef struct {
  char *buf, *path, *rel, *where, *img_rel, *img_path;
  rline *lines;
  int64_t nl, capl;
  rkey *keys;
} roco_state;

static int roco_run(roco_state *s, const char *root, const char *split, int nterms,
                    const char *const *terms, const hp_ingest_opts *o, hp_ingest_list *out,
                    hp_ingest_report *rep) {
  char rel[96];
  snprintf(rel, sizeof rel, "data/%s/captions.txt", split);
  HP_CALL(hp_ingest_join(root, rel, &s->path));
  size_t len = 0;
  HP_CALL(hp_ingest_read_file(s->path, o->max_annotation_bytes, 1, &s->buf, &len));
  /* split into lines in place */
  size_t pos = 0;
  int64_t lineno = 0;
  while (pos < len) {
    lineno++;
    char *ls = s->buf + pos;
    char *nlp = memchr(ls, '\n', len - pos);
    size_t ll = nlp ? (size_t)(nlp - ls) : len - pos;
    pos += ll + (nlp ? 1 : 0);
    if (ll > 0 && ls[ll - 1] == '\r') ll--;
    size_t tn = ll;
    (void)hp_ingest_trim(ls, &tn);
    if (tn == 0 && !memchr(ls, 0, ll)) continue; /* blank line */
    HP_CALL(hp_ingest_grow((void **)&s->lines, &s->capl, s->nl + 1, sizeof *s->lines,
                           "ROCO lines"));
    rline *r = &s->lines[s->nl++];
    memset(r, 0, sizeof *r);
    r->line = lineno;
    if (memchr(ls, 0, ll)) { r->why = "NUL byte in the line"; continue; }
    char *tab = memchr(ls, '\t', ll);
    if (!tab) { r->why = "no TAB between the image id and the caption"; continue; }
    size_t idn = (size_t)(tab - ls);
    const char *id = hp_ingest_trim(ls, &idn);
    size_t capn = ll - (size_t)(tab - ls) - 1;
    const char *cap = hp_ingest_trim(tab + 1, &capn);
    if (!id_ok(id, idn)) { r->why = "image id is not ROCO_<digits>"; continue; }
    if (capn == 0) { r->why = "empty caption"; continue; }
    if (capn > HP_INGEST_MAX_CAPTION_BYTES) { r->why = "caption longer than 64 KiB"; continue; }
    if (!hp_utf8_valid(cap, capn, NULL)) { r->why = "caption is not valid UTF-8"; continue; }
    ((char *)id)[idn] = 0; /* the id is followed by white space or the TAB: safe to end it */
    r->id = id;
    r->idn = idn;
    r->cap = cap;
    r->capn = capn;
  }
  /* duplicates */
  HP_CALLOC(s->keys, s->nl ? s->nl : 1, "ROCO ids");
  int64_t nk = 0;
  for (int64_t i = 0; i < s->nl; i++)
    if (!s->lines[i].why) s->keys[nk++] = (rkey){s->lines[i].id, i};
  qsort(s->keys, (size_t)nk, sizeof *s->keys, cmp_rkey);
  for (int64_t i = 1; i < nk; i++)
    if (strcmp(s->keys[i].id, s->keys[i - 1].id) == 0)
      s->lines[s->keys[i].idx].why = "duplicate image id (an earlier line has it)";

  HP_CALL(hp_ingest_list_set_labels(out, nterms, terms));
  size_t wcap = strlen(rel) + 32;
  HP_CALLOC(s->where, wcap, "report location");
  for (int64_t i = 0; i < s->nl; i++) {
    rline *r = &s->lines[i];
    snprintf(s->where, wcap, "%s:%lld", rel, (long long)r->line);
    if (r->why) {
      HP_CALL(hp_report_add(rep, s->where, "%s", r->why));
      continue;
    }
    free(s->img_rel);
    s->img_rel = NULL;
    size_t n = strlen(split) + r->idn + 32;
    HP_CALLOC(s->img_rel, n, "ROCO image path");
    snprintf(s->img_rel, n, "data/%s/images/%s.jpg", split, r->id);
    if (o->check_files) {
      free(s->img_path);
      s->img_path = NULL;
      HP_CALL(hp_ingest_join(root, s->img_rel, &s->img_path));
      if (!hp_ingest_file_exists(s->img_path)) {
        HP_CALL(hp_report_add(rep, s->where, "image file %s is missing", s->img_rel));
        continue;
      }
      const char *out_why;
      if (!o->follow_symlinks && !hp_ingest_path_inside(root, s->img_path, &out_why)) {
        HP_CALL(hp_report_add(rep, s->where, "image file %s %s", s->img_rel, out_why));
        continue;
      }
    }
    char *sid = NULL;
    HP_CALLOC(sid, r->idn + 8, "ROCO source id");
    snprintf(sid, r->idn + 8, "roco:%s", r->id);
    hp_ingest_item *it = NULL;
    int e = hp_ingest_list_add(out, s->img_rel, sid, &it);
    free(sid);
    HP_CALL(e);
    HP_CALL(hp_ingest_item_add_caption(out, it, r->cap, r->capn));
    for (int t = 0; t < nterms; t++)
      it->labels[t] = (uint8_t)hp_roco_term_match(r->cap, r->capn, terms[t]);
  }
  return 0;
}

int hp_roco_parse(const char *root, const char *split, int nterms, const char *const *terms,
                  const hp_ingest_opts *opts, hp_ingest_list *out, hp_ingest_report *rep) {
  hp_ingest_opts def = {1, HP_INGEST_DEFAULT_MAX_ANNOTATION_BYTES, 1};
  if (!opts) opts = &def;
  if (!terms) {
    terms = hp_roco_default_terms;
    nterms = HP_ROCO_N_DEFAULT_TERMS;
  }
  if (!hp_roco_split_ok(split))
    HP_ERROR(HP_ERR_CONFIG, "ROCO split \"%s\": expected train/radiology, "
             "validation/radiology or test/radiology", split);
  HP_CALL(hp_roco_check_terms(nterms, terms));
  roco_state s;
  memset(&s, 0, sizeof s);
  int e = roco_run(&s, root, split, nterms, terms, opts, out, rep);
  free(s.buf);
  free(s.path);
  free(s.rel);
  free(s.where);
  free(s.img_rel);
  free(s.img_path);
  free(s.lines);
  free(s.keys);
  HP_CALL(e);
  return 0;
}
