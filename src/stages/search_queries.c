/* search_queries.c — see search_queries.h. */
#include "stages/search_queries.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "metrics/ranking.h"
#include "index/index.h"
#include "stages/markdown.h"

#define KMAX 10
static const int g_ks[3] = {1, 5, 10};
static const char *const g_names[5] = {"precision", "ndcg", "ap", "ndcg_retrieved", "ap_retrieved"};

static int dup(const char *s, size_t n, char **out) {
  HP_CALLOC(*out, n + 1, "query text");
  memcpy(*out, s, n);
  (*out)[n] = 0;
  return 0;
}

/* [s, e) trimmed of blanks */
static void trim(const char **s, const char **e) {
  while (*s < *e && (**s == ' ' || **s == '\t')) (*s)++;
  while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t')) (*e)--;
}

static int64_t find_label(char *const *names, int64_t L, const char *s, const char *e) {
  size_t n = (size_t)(e - s);
  for (int64_t k = 0; k < L; k++)
    if (strlen(names[k]) == n && memcmp(names[k], s, n) == 0) return k;
  return -1;
}

static int parse_one(const char *file, int64_t q, const char *text, const char *spec, char *const *names,
                     int64_t L, hp_query_table *t) {
  int64_t nt = 1;
  for (const char *p = spec; *p; p++) nt += *p == '&';
  t->nterm[q] = nt;
  HP_CALLOC(t->term_nalt[q], nt, "query terms");
  HP_CALLOC(t->term_label[q], nt, "query terms");
  const char *s = spec;
  for (int64_t i = 0; i < nt; i++) {
    const char *e = strchr(s, '&');
    if (!e) e = s + strlen(s);
    int64_t na = 1;
    for (const char *p = s; p < e; p++) na += *p == '|';
    t->term_nalt[q][i] = na;
    HP_CALLOC(t->term_label[q][i], na, "query term labels");
    const char *a = s;
    for (int64_t j = 0; j < na; j++) {
      const char *b = memchr(a, '|', (size_t)(e - a));
      if (!b) b = e;
      const char *x = a, *y = b;
      trim(&x, &y);
      if (x == y)
        HP_ERROR(HP_ERR_CONFIG, "%s: search.query_labels item %" PRId64 " (\"%s\", query \"%s\"): empty label name",
                 file, q + 1, spec, text);
      int64_t k = find_label(names, L, x, y);
      if (k < 0 && !t->unmatched[q]) HP_CALL(dup(x, (size_t)(y - x), &t->unmatched[q]));
      if (k < 0) /* e.g. an articleType absent from a subset: no image can be relevant through it */
        hp_log_info("search: search.query_labels item %" PRId64 " (query \"%s\"): \"%.*s\" is not a label of "
                    "this dataset (dataset.h5 /labels/names, e.g. \"%s\"): no image has it",
                    q + 1, text, (int)(y - x), x, L > 0 ? names[0] : "");
      t->term_label[q][i][j] = k;
      a = b + 1;
    }
    s = *e ? e + 1 : e;
  }
  return 0;
}

int hp_query_table_parse(const hp_config *cfg, char *const *label_names, int64_t L, hp_query_table *t) {
  memset(t, 0, sizeof *t);
  const char *file = hp_config_path(cfg);
  int64_t Q = hp_cfg_list_len(cfg, "search.queries"), R = hp_cfg_list_len(cfg, "search.query_labels");
  if (Q != R)
    HP_ERROR(HP_ERR_CONFIG, "%s: search.queries has %" PRId64 " items but search.query_labels %" PRId64
             ": give one relevance specification per query", file, Q, R);
  if (Q == 0) return 0;
  if (L == 0)
    HP_ERROR(HP_ERR_CONFIG, "%s: search.queries is set but the dataset has no labels to define relevance", file);
  t->Q = Q;
  HP_CALLOC(t->text, Q, "query texts");
  HP_CALLOC(t->spec, Q, "query specifications");
  HP_CALLOC(t->nterm, Q, "query terms");
  HP_CALLOC(t->term_nalt, Q, "query terms");
  HP_CALLOC(t->term_label, Q, "query terms");
  HP_CALLOC(t->relevant, Q, "query relevant counts");
  HP_CALLOC(t->unmatched, Q, "query label matches");
  for (int m = 0; m < 5; m++) HP_CALLOC(t->m[m], Q * 3, "query metrics");
  for (int64_t q = 0; q < Q; q++) {
    const char *text = hp_cfg_list_str(cfg, "search.queries", (int)q);
    const char *spec = hp_cfg_list_str(cfg, "search.query_labels", (int)q);
    HP_CALL(dup(text, strlen(text), &t->text[q]));
    HP_CALL(dup(spec, strlen(spec), &t->spec[q]));
    const char *x = text, *y = text + strlen(text);
    trim(&x, &y);
    if (x == y) HP_ERROR(HP_ERR_CONFIG, "%s: search.queries item %" PRId64 " is empty", file, q + 1);
    HP_CALL(parse_one(file, q, text, spec, label_names, L, t));
  }
  return 0;
}

/* image labels row -> relevant to query q? */
static uint8_t relevant(const hp_query_table *t, int64_t q, const uint8_t *row) {
  for (int64_t i = 0; i < t->nterm[q]; i++) {
    int any = 0;
    for (int64_t j = 0; j < t->term_nalt[q][i] && !any; j++) {
      int64_t k = t->term_label[q][i][j];
      any = k >= 0 && row[k] != 0;
    }
    if (!any) return 0;
  }
  return 1;
}

int hp_query_table_run(hp_stage_ctx *ctx, hp_clip_eval *ev, const hp_eval_images *im, hp_index *ix, int64_t L,
                       hp_query_table *t) {
  const int64_t Q = t->Q, E = ev->m.cfg.embed_dim;
  if (Q == 0) return 0;
  float *qe = NULL, *sc = NULL;
  int64_t *ids = NULL;
  uint8_t *rel = NULL;
  HP_CALLOC(qe, (size_t)Q * (size_t)E, "query embeddings");
  HP_CALLOC(ids, Q * KMAX, "top-k ids");
  HP_CALLOC(sc, Q * KMAX, "top-k scores");
  HP_CALLOC(rel, Q * KMAX, "top-k relevance");
  HP_CALL(hp_eval_label_queries(ev, "{}", t->text, Q, qe)); /* the query text as given */
  HP_CALL(hp_index_search(ix, Q, qe, KMAX, ids, sc)); /* the search stage's index of the split */
  /* relevance of the merged lists: the rank owning an image knows its labels */
  for (int64_t q = 0; q < Q; q++)
    for (int j = 0; j < KMAX; j++) {
      int64_t id = ids[q * KMAX + j];
      if (id < 0 || im->n == 0 || id < im->ids[0] || id > im->ids[im->n - 1]) continue;
      int64_t lo = 0, hi = im->n - 1;
      while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (im->ids[mid] < id) lo = mid + 1; else hi = mid;
      }
      if (im->ids[lo] == id) rel[q * KMAX + j] = relevant(t, q, im->labels + lo * L);
    }
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, rel, (int)(Q * KMAX), MPI_UINT8_T, MPI_MAX, ctx->comm));
  for (int64_t i = 0; i < im->n; i++)
    for (int64_t q = 0; q < Q; q++) t->relevant[q] += relevant(t, q, im->labels + i * L);
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, t->relevant, (int)Q, MPI_INT64_T, MPI_SUM, ctx->comm));
  int64_t len = im->total < KMAX ? im->total : KMAX;
  memset(t->table3, 0, sizeof t->table3);
  t->active = 0;
  for (int64_t q = 0; q < Q; q++) {
    for (int k = 0; k < 3; k++) {
      hp_rank_metrics a, b;
      hp_rank_metrics_at(rel + q * KMAX, len, g_ks[k], t->relevant[q], KMAX, HP_RANK_RELEVANT, &a);
      hp_rank_metrics_at(rel + q * KMAX, len, g_ks[k], t->relevant[q], KMAX, HP_RANK_RETRIEVED, &b);
      double v[5] = {a.p, a.ndcg, a.ap, b.ndcg, b.ap};
      for (int m = 0; m < 5; m++) t->m[m][q * 3 + k] = v[m];
      if (t->relevant[q] > 0) {
        double ra[3] = {a.p, a.ndcg, a.ap}, rb[3] = {b.p, b.ndcg, b.ap};
        for (int m = 0; m < 3; m++) {
          t->table3[0][m * 3 + k] += ra[m];
          t->table3[1][m * 3 + k] += rb[m];
        }
      }
    }
    t->active += t->relevant[q] > 0;
  }
  for (int r = 0; r < 2; r++)
    for (int j = 0; j < 9; j++) t->table3[r][j] = t->active ? t->table3[r][j] / (double)t->active : 0.0;
  free(qe);
  t->top_ids = ids; /* kept for results.h5 */
  t->top_scores = sc;
  t->top_rel = rel;
  return 0;
}

int hp_query_table_write(hp_results_w *w, const hp_query_table *t) {
  if (t->Q == 0) return 0;
  int64_t d9[2] = {2, 9}, dq[2] = {t->Q, 3};
  HP_CALL(hp_results_attr_str(w, "table3_columns", "P@1,P@5,P@10,NDCG@1,NDCG@5,NDCG@10,MAP@1,MAP@5,MAP@10"));
  HP_CALL(hp_results_attr_str(w, "table3_rows", "relevant,retrieved"));
  HP_CALL(hp_results_attr_i64(w, "queries_averaged", t->active));
  HP_CALL(hp_results_f64(w, "table3", 2, d9, &t->table3[0][0]));
  HP_CALL(hp_results_strings(w, "queries/text", t->Q, (const char *const *)t->text));
  HP_CALL(hp_results_strings(w, "queries/relevance", t->Q, (const char *const *)t->spec));
  HP_CALL(hp_results_i64(w, "queries/relevant", 1, &t->Q, t->relevant));
  if (t->top_ids) {
    int64_t dk[2] = {t->Q, KMAX};
    HP_CALL(hp_results_i64(w, "queries/top_ids", 2, dk, t->top_ids));
    double *d = NULL;
    HP_CALLOC(d, t->Q * KMAX, "query scores");
    for (int64_t i = 0; i < t->Q * KMAX; i++) d[i] = (double)t->top_scores[i]; /* exact: floats widened */
    int err = hp_results_f64(w, "queries/top_scores", 2, dk, d);
    int64_t *r = NULL;
    if (!err) HP_CALLOC(r, t->Q * KMAX, "query relevance");
    for (int64_t i = 0; !err && i < t->Q * KMAX; i++) r[i] = t->top_rel[i];
    if (!err) err = hp_results_i64(w, "queries/top_relevant", 2, dk, r);
    free(r);
    free(d);
    HP_CALL(err);
  }
  for (int m = 0; m < 5; m++) {
    char name[64];
    snprintf(name, sizeof name, "queries/%s", g_names[m]);
    HP_CALL(hp_results_f64(w, name, 2, dq, t->m[m]));
  }
  return 0;
}

void hp_query_table_markdown(FILE *f, const hp_query_table *t, const char *name, int conv) {
  if (t->Q == 0) return;
  const char *cv = conv ? "retrieved" : "relevant";
  int64_t matched = 0;
  for (int64_t q = 0; q < t->Q; q++) matched += t->unmatched[q] == NULL;
  fprintf(f, "Free-text queries (the study's Table 3): %" PRId64 " queries; %" PRId64 " of them name only labels of "
          "this dataset", t->Q, matched);
  for (int64_t q = 0, first = 1; q < t->Q; q++)
    if (t->unmatched[q]) {
      fprintf(f, "%s\"", first ? " (not: " : ", ");
      hp_md_text(f, t->text[q], 100);
      fprintf(f, "\", whose \"");
      hp_md_text(f, t->unmatched[q], 100);
      fprintf(f, "\" is not a label");
      first = 0;
    }
  fprintf(f, "%s; %" PRId64 " with relevant images in the split are averaged; NDCG/MAP denominators: `%s` "
          "(docs/metrics.md).\n\n", matched < t->Q ? ")" : "", t->active, cv);
  fprintf(f, "| Dataset | P@1 | P@5 | P@10 | NDCG@1 | NDCG@5 | NDCG@10 | MAP@1 | MAP@5 | MAP@10 |\n");
  fprintf(f, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (int r = 0; r < 2; r++) {
    int row = r == 0 ? conv : 1 - conv;
    fprintf(f, "| ");
    hp_md_text(f, name, 100);
    fprintf(f, " (%s)", row ? "retrieved" : "relevant");
    for (int j = 0; j < 9; j++) fprintf(f, " | %.3f", t->table3[row][j]);
    fprintf(f, " |\n");
  }
  fprintf(f, "\nPer query (`%s` convention):\n\n| query | relevant if | relevant | P@1 | P@5 | P@10 | NDCG@1 | NDCG@5 | "
             "NDCG@10 | AP@1 | AP@5 | AP@10 |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
          cv);
  for (int64_t q = 0; q < t->Q; q++) {
    fprintf(f, "| ");
    hp_md_text(f, t->text[q], 200);
    fprintf(f, " | ");
    hp_md_text(f, t->spec[q], 400);
    fprintf(f, " | %" PRId64, t->relevant[q]);
    const int mi[3] = {0, conv ? 3 : 1, conv ? 4 : 2};
    for (int m = 0; m < 3; m++)
      for (int k = 0; k < 3; k++) fprintf(f, " | %.3f", t->m[mi[m]][q * 3 + k]);
    fprintf(f, " |\n");
  }
  fprintf(f, "\n");
}

void hp_query_table_free(hp_query_table *t) {
  for (int64_t q = 0; q < t->Q; q++) {
    if (t->text) free(t->text[q]);
    if (t->spec) free(t->spec[q]);
    if (t->unmatched) free(t->unmatched[q]);
    if (t->term_label && t->term_label[q]) {
      for (int64_t i = 0; i < t->nterm[q]; i++) free(t->term_label[q][i]);
      free(t->term_label[q]);
    }
    if (t->term_nalt) free(t->term_nalt[q]);
  }
  free(t->text);
  free(t->spec);
  free(t->unmatched);
  free(t->nterm);
  free(t->term_nalt);
  free(t->term_label);
  free(t->relevant);
  free(t->top_ids);
  free(t->top_scores);
  free(t->top_rel);
  for (int m = 0; m < 5; m++) free(t->m[m]);
  memset(t, 0, sizeof *t);
}
