/* query.c — `hpclip query` (see query.h). */
#define _POSIX_C_SOURCE 200809L
#include "stages/query.h"

#include <cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "base/tmpfile.h"
#include "comm/shard.h"
#include "index/index.h"
#include "ingest/image_decode.h"
#include "ingest/image_resize.h"
#include "io/check.h"
#include "io/dataset.h"
#include "io/embeddings.h"
#include "io/strtab.h"
#include "stages/html.h"
#include "stages/clip_eval.h"
#include "stages/eval_common.h"
#include "stages/stage.h"

#define LINE_MAX_BYTES 65536
#define CAPTIONS_SHOWN 5

typedef struct {
  char kind; /* 't' text, 'i' image file */
  char *arg;
} query_in;

typedef struct { /* one result row */
  int64_t id;    /* image index, or caption index for caption hits */
  float score;
  char *source;  /* the image's /source_id */
  char **labs;   /* the image's label names (copies) */
  int nlab;
  char **caps;   /* the image's captions (at most CAPTIONS_SHOWN), or the caption hit's text */
  int ncaps;
  int64_t image; /* caption hits: their image */
  uint8_t *png;  /* html: the image as PNG */
  size_t png_n;
} hit;

typedef struct {
  const hp_query_opts *o;
  MPI_Comm comm;
  int rank, size;
  char dpath[4200], cpath[4200], epath[4200], ipath[4200];
  int64_t nq;
  query_in *q;
  int64_t E, S, N, M, L;
  hit *img, *cap; /* [nq*k] each (cap only with --captions) */
  int64_t n_indexed, n_cap_indexed;
  double load_s, embed_s, search_s;
} query_run;

static int add_query(query_run *r, char kind, const char *s, size_t n, int64_t *cap) {
  if (r->nq == *cap) {
    int64_t nc = *cap ? 2 * *cap : 16;
    query_in *q = realloc(r->q, (size_t)nc * sizeof *q);
    if (!q) HP_ERROR(HP_ERR_MEM, "query list");
    r->q = q;
    *cap = nc;
  }
  HP_CALLOC(r->q[r->nq].arg, n + 1, "query text");
  memcpy(r->q[r->nq].arg, s, n);
  r->q[r->nq].kind = kind;
  r->nq++;
  return 0;
}

/* --text, --image, then the lines of --queries ("image:PATH", "text:..." or a bare text; empty
 * lines and "#" comments skipped) */
static int read_queries(query_run *r) {
  const hp_query_opts *o = r->o;
  int64_t cap = 0;
  for (int i = 0; i < o->ntext; i++) {
    if (!o->text[i][0]) HP_ERROR(HP_ERR_USAGE, "query: --text needs a non-empty text");
    HP_CALL(add_query(r, 't', o->text[i], strlen(o->text[i]), &cap));
  }
  for (int i = 0; i < o->nimage; i++) HP_CALL(add_query(r, 'i', o->image[i], strlen(o->image[i]), &cap));
  if (o->queries_file) {
    FILE *f = fopen(o->queries_file, "rb");
    if (!f) HP_ERROR(HP_ERR_INPUT, "%s: cannot open the query file: %s", o->queries_file, strerror(errno));
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    int64_t ln = 0;
    int err = 0;
    while (!err && (len = getline(&line, &lcap, f)) >= 0) {
      ln++;
      while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
      size_t bad = 0;
      if (len > LINE_MAX_BYTES)
        err = HP_ERROR_SET(HP_ERR_INPUT, "%s:%" PRId64 ": a query of %zd bytes (at most %d)", o->queries_file, ln, len,
                           LINE_MAX_BYTES);
      else if (!hp_utf8_valid(line, (size_t)len, &bad))
        err = HP_ERROR_SET(HP_ERR_INPUT, "%s:%" PRId64 ": not UTF-8 (byte %zu)", o->queries_file, ln, bad + 1);
      else if (strlen(line) != (size_t)len)
        err = HP_ERROR_SET(HP_ERR_INPUT, "%s:%" PRId64 ": a NUL byte inside the line", o->queries_file, ln);
      if (err) break;
      const char *s = line;
      while (*s == ' ' || *s == '\t') s++;
      if (!*s || *s == '#') continue;
      if (strncmp(s, "image:", 6) == 0) {
        s += 6;
        while (*s == ' ') s++;
        if (!*s) err = HP_ERROR_SET(HP_ERR_INPUT, "%s:%" PRId64 ": \"image:\" without a path", o->queries_file, ln);
        else err = add_query(r, 'i', s, strlen(s), &cap);
      } else {
        if (strncmp(s, "text:", 5) == 0) s += 5;
        while (*s == ' ' || *s == '\t') s++;
        if (!*s) err = HP_ERROR_SET(HP_ERR_INPUT, "%s:%" PRId64 ": \"text:\" without a text", o->queries_file, ln);
        else err = add_query(r, 't', s, strlen(s), &cap);
      }
    }
    int rerr = ferror(f);
    free(line);
    fclose(f);
    if (err) return err;
    if (rerr) HP_ERROR(HP_ERR_IO, "%s: read error", o->queries_file);
    if (r->nq == o->ntext + o->nimage)
      HP_ERROR(HP_ERR_INPUT, "%s: no query in the file (a line a query; \"image:PATH\" for an image)", o->queries_file);
  }
  if (r->nq == 0) HP_ERROR(HP_ERR_USAGE, "query: nothing to ask: give --text \"...\", --image FILE or --queries FILE");
  return 0;
}

/* qe [nq,E] on every rank. Texts: every rank encodes all of them, in order, in batches of
 * embed.batch — the search stage's way (search_queries.c), so the same text gives the same bits
 * as there, at any rank count. Images: each alone (a batch of 1), those of this rank's block of
 * the queries, gathered. */
static int embed_queries(query_run *r, hp_clip_eval *ev, const hp_config *cfg, float *qe) {
  int64_t nt = 0;
  for (int64_t i = 0; i < r->nq; i++) nt += r->q[i].kind == 't';
  const char **texts = NULL;
  float *te = NULL;
  int err = 0;
  if (nt > 0) {
    if (!(texts = calloc((size_t)nt, sizeof *texts)) || !(te = calloc((size_t)(nt * r->E), sizeof *te)))
      err = HP_ERROR_SET(HP_ERR_MEM, "query texts");
    for (int64_t i = 0, j = 0; !err && i < r->nq; i++)
      if (r->q[i].kind == 't') texts[j++] = r->q[i].arg;
    if (!err) err = hp_clip_eval_texts(ev, texts, nt, te);
    for (int64_t i = 0, j = 0; !err && i < r->nq; i++)
      if (r->q[i].kind == 't') memcpy(qe + i * r->E, te + (j++) * r->E, (size_t)r->E * sizeof *qe);
  }
  free(texts);
  free(te);
  int64_t q0, qn;
  hp_shard_range(r->nq, r->size, r->rank, &q0, &qn);
  hp_resize_mode mode = HP_RESIZE_STRETCH;
  if (!err) err = hp_resize_mode_parse(hp_cfg_str(cfg, "ingest.aspect"), &mode);
  uint8_t *px = NULL;
  if (!err && !(px = malloc((size_t)(r->S * r->S * 3)))) err = HP_ERROR_SET(HP_ERR_MEM, "query image");
  for (int64_t i = q0; !err && i < q0 + qn; i++) {
    if (r->q[i].kind != 'i') continue;
    hp_image im;
    memset(&im, 0, sizeof im);
    hp_decode_limits lim;
    hp_decode_limits_default(&lim);
    err = hp_image_decode_file(r->q[i].arg, &lim, &im);
    if (!err) err = hp_image_resize(&im, mode, r->S, px);
    hp_image_free(&im);
    if (!err) err = hp_clip_eval_images(ev, px, 1, qe + i * r->E);
  }
  free(px);
  HP_CALL(hp_agree(r->comm, err));
  /* every rank owns its block's image rows; the text rows are everywhere already */
  for (int p = 0; p < r->size; p++) {
    int64_t a, b;
    hp_shard_range(r->nq, r->size, p, &a, &b);
    for (int64_t i = a; i < a + b; i++)
      if (r->q[i].kind == 'i') HP_MPI(MPI_Bcast(qe + i * r->E, (int)r->E, MPI_FLOAT, p, r->comm));
  }
  return 0;
}

/* the exact index over this rank's block of the split's images */
static int image_index(query_run *r, hp_stage_ctx *ctx, hp_embeddings *em, int split, hp_index **ix) {
  if (strcmp(r->o->index, "forest") == 0) {
    FILE *f = fopen(r->ipath, "rb");
    int err = f ? 0 : HP_ERROR_SET(HP_ERR_INPUT, "%s: no saved index: --index forest searches the forest the search "
                                   "stage saved (search.index = \"forest\", search.save_index = true)", r->ipath);
    if (f) fclose(f);
    HP_CALL(hp_agree(r->comm, err));
    HP_CALL(hp_index_load(r->comm, r->ipath, ix));
    const hp_index_params *p = hp_index_get_params(*ix);
    if (p->kind != HP_INDEX_FOREST || p->dim != r->E) {
      int kind = p->kind;
      int64_t dim = p->dim;
      hp_index_free(*ix);
      *ix = NULL;
      HP_ERROR(HP_ERR_INPUT, "%s: a%s index of dimension %" PRId64 ", not a forest over the embeddings (%" PRId64 ")",
               r->ipath, kind == HP_INDEX_EXACT ? "n exact" : " forest", dim, r->E);
    }
    hp_index_mem m;
    hp_index_memory(*ix, &m);
    int64_t n = m.n_local;
    HP_MPI(MPI_Allreduce(&n, &r->n_indexed, 1, MPI_INT64_T, MPI_SUM, r->comm));
    return 0;
  }
  int64_t r0, rn;
  hp_shard_range(r->N, r->size, r->rank, &r0, &rn);
  hp_eval_images im;
  HP_CALL(hp_eval_load_image_rows(ctx, em, split, 0, 1, r0, rn, &im));
  hp_index_params p;
  hp_index_params_default(&p, HP_INDEX_EXACT, r->E);
  int err = hp_index_create(&p, r->comm, ix);
  if (!err) err = hp_index_add(*ix, im.n, im.emb, im.ids);
  r->n_indexed = im.total;
  hp_eval_images_free(&im);
  HP_CALL(hp_agree(r->comm, err));
  if (r->n_indexed == 0)
    HP_ERROR(HP_ERR_INPUT, "%s: no images in the '%s' split (--split)", r->epath, r->o->split);
  return 0;
}

/* an exact index over the captions of the split's images (ids = caption indices) */
static int caption_index(query_run *r, hp_embeddings *em, int split, hp_index **ix) {
  int64_t c0, cn;
  hp_shard_range(r->M, r->size, r->rank, &c0, &cn);
  int64_t *capimg = calloc((size_t)(r->M > 0 ? r->M : 1), sizeof *capimg), *ids = calloc((size_t)(cn > 0 ? cn : 1), 8);
  uint8_t *sp = calloc((size_t)(r->N > 0 ? r->N : 1), 1);
  float *x = calloc((size_t)(cn > 0 ? cn : 1) * (size_t)r->E, sizeof *x);
  int err = capimg && ids && sp && x ? 0 : HP_ERROR_SET(HP_ERR_MEM, "the captions' index");
  err = hp_agree(r->comm, err); /* the reads below are collective */
  if (!err) err = hp_embeddings_read_caption_image(em, capimg);
  if (!err) err = hp_embeddings_read_split(em, 0, r->N, sp);
  if (!err) err = hp_embeddings_read_captions(em, c0, cn, x);
  if (err) {
    free(capimg);
    free(sp);
    free(x);
    free(ids);
    return err;
  }
  int64_t n = 0;
  for (int64_t i = 0; i < cn; i++)
    if (split < 0 || sp[capimg[c0 + i]] == split) {
      if (n != i) memcpy(x + n * r->E, x + i * r->E, (size_t)r->E * sizeof *x);
      ids[n++] = c0 + i;
    }
  hp_index_params p;
  hp_index_params_default(&p, HP_INDEX_EXACT, r->E);
  err = hp_index_create(&p, r->comm, ix);
  if (!err) err = hp_index_add(*ix, n, x, ids);
  free(capimg);
  free(sp);
  free(x);
  free(ids);
  HP_CALL(hp_agree(r->comm, err));
  HP_MPI(MPI_Allreduce(&n, &r->n_cap_indexed, 1, MPI_INT64_T, MPI_SUM, r->comm));
  return 0;
}

/* ---- the results' metadata: collective reads, rank 0 reads, the others take part with 0 rows -- */
static int read_string(query_run *r, hp_dataset *ds, const char *which, int64_t k, char **out) {
  char **s = NULL;
  int me = r->rank == 0;
  HP_CALL(hp_dataset_read_strings(ds, which, me ? k : 0, me ? 1 : 0, &s));
  *out = NULL;
  if (me) {
    *out = s[0];
    free(s);
  } else {
    hp_strings_free(s, 0);
  }
  return 0;
}

/* fill h's source, labels, captions (and thumbnail) for image `id`. Every rank makes the same
 * collective reads in the same order (rank 0 reads the rows, the others none), whatever fails
 * locally: a local error is returned after them, for the caller's agreement. */
static int describe_image(query_run *r, hp_dataset *ds, char *const *names, const int64_t *capimg, int64_t id,
                          int thumbs, hit *h) {
  int me = r->rank == 0, err = 0, e;
  uint8_t *row = r->L > 0 ? calloc((size_t)r->L, 1) : NULL;
  uint8_t *px = thumbs ? malloc((size_t)(r->S * r->S * 3)) : NULL;
  if ((r->L > 0 && !row) || (thumbs && !px)) err = HP_ERROR_SET(HP_ERR_MEM, "query result row");
  int rd = me && !err; /* rows this rank reads: 1 or 0 */
  /* captions are stored in image order: the image's are one contiguous range */
  int64_t lo = 0, hi = r->M, n = 0;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (capimg[mid] < id) lo = mid + 1; else hi = mid;
  }
  while (lo + n < r->M && capimg[lo + n] == id && n < CAPTIONS_SHOWN) n++;
  char **src = NULL, **caps = NULL;
  e = hp_dataset_read_strings(ds, "source_id", rd ? id : 0, rd, &src);
  err = err ? err : e;
  if (r->L > 0) {
    e = hp_dataset_read_labels(ds, rd ? id : 0, rd, row);
    err = err ? err : e;
  }
  e = hp_dataset_read_strings(ds, "captions/text", rd ? lo : 0, rd ? n : 0, &caps);
  err = err ? err : e;
  if (thumbs) {
    e = hp_dataset_read_images(ds, rd ? id : 0, rd, px);
    err = err ? err : e;
  }
  if (!err && me) {
    h->source = src[0];
    src[0] = NULL;
    h->caps = caps;
    h->ncaps = (int)n;
    caps = NULL;
    int nl = 0;
    for (int64_t l = 0; l < r->L; l++) nl += row[l] != 0;
    if (nl && !(h->labs = calloc((size_t)nl, sizeof *h->labs))) err = HP_ERROR_SET(HP_ERR_MEM, "label names");
    for (int64_t l = 0; !err && l < r->L; l++)
      if (row[l] && !(h->labs[h->nlab++] = strdup(names[l]))) err = HP_ERROR_SET(HP_ERR_MEM, "label names");
    if (!err && thumbs) err = hp_png_encode(px, r->S, r->S, &h->png, &h->png_n);
  }
  hp_strings_free(src, rd);
  hp_strings_free(caps, caps ? (rd ? n : 0) : 0);
  free(row);
  free(px);
  return err;
}

static int describe(query_run *r, const int64_t *iid, const float *isc, const int64_t *cid, const float *csc) {
  hp_dataset *ds = NULL;
  HP_CALL(hp_dataset_open(r->comm, r->dpath, &ds));
  hp_dataset_dims d = hp_dataset_get_dims(ds);
  int err = 0;
  /* the same on every rank (the file's dims): no agreement needed */
  if (d.n_images != r->N || d.height != r->S || d.width != r->S || d.n_captions != r->M || d.n_labels != r->L)
    err = HP_ERROR_SET(HP_ERR_INPUT, "%s: %" PRId64 " images of %" PRId64 "x%" PRId64 ", %" PRId64 " captions, %" PRId64
                       " labels, but %s holds %" PRId64 " images of %" PRId64 "x%" PRId64 ", %" PRId64 " captions, %" PRId64
                       " labels: rerun embed", r->dpath, d.n_images, d.height, d.width, d.n_captions, d.n_labels,
                       r->epath, r->N, r->S, r->S, r->M, r->L);
  char **names = NULL;
  int64_t *capimg = NULL;
  if (!err && r->L > 0) err = hp_dataset_read_strings(ds, "labels/names", 0, r->L, &names);
  if (!err && !(capimg = calloc((size_t)(r->M > 0 ? r->M : 1), sizeof *capimg))) err = HP_ERROR_SET(HP_ERR_MEM, "captions");
  err = hp_agree(r->comm, err);
  if (!err) err = hp_dataset_read_caption_image(ds, capimg);
  int thumbs = strcmp(r->o->format, "html") == 0;
  int64_t total = r->nq * r->o->k;
  for (int64_t i = 0; !err && i < total; i++) {
    r->img[i].id = iid[i];
    r->img[i].score = isc[i];
    if (iid[i] >= 0) err = hp_agree(r->comm, describe_image(r, ds, names, capimg, iid[i], thumbs, &r->img[i]));
  }
  for (int64_t i = 0; !err && r->cap && i < total; i++) {
    hit *h = &r->cap[i];
    h->id = cid[i];
    h->score = csc[i];
    if (cid[i] < 0) continue;
    h->image = capimg[cid[i]];
    char *t = NULL;
    int e1 = read_string(r, ds, "captions/text", cid[i], &t); /* both collective reads, whatever happens */
    int e2 = read_string(r, ds, "source_id", h->image, &h->source);
    err = e1 ? e1 : e2;
    if (!err && r->rank == 0) {
      if (!(h->caps = calloc(1, sizeof *h->caps))) err = HP_ERROR_SET(HP_ERR_MEM, "caption");
      else {
        h->caps[0] = t;
        h->ncaps = 1;
        t = NULL;
      }
    }
    free(t);
    err = hp_agree(r->comm, err);
  }
  hp_strings_free(names, names ? r->L : 0);
  free(capimg);
  hp_dataset_close(ds);
  return err;
}

/* ---- output (rank 0) ------------------------------------------------------------------------- */
/* text with tabs, newlines and other control characters as spaces (tsv / table cells) */
static void put_flat(FILE *f, const char *s) {
  for (; *s; s++) fputc((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s, f);
}

/* parts joined by "|", flattened, cut at `width` characters (never inside a UTF-8 sequence) and
 * padded with spaces to `width` characters: a table cell */
static void put_cell(FILE *f, const char *const *parts, int n, int width) {
  int chars = 0;
  for (int p = 0; p < n && chars < width; p++) {
    const unsigned char *s = (const unsigned char *)parts[p];
    if (p) {
      fputc('|', f);
      chars++;
    }
    for (; *s && chars < width; chars++) {
      size_t len = *s < 0x80 ? 1 : (*s >> 5) == 6 ? 2 : (*s >> 4) == 14 ? 3 : (*s >> 3) == 30 ? 4 : 1;
      for (size_t k = 1; k < len; k++)
        if ((s[k] & 0xc0) != 0x80) len = 1; /* not valid UTF-8 there: one byte, as given */
      if (len == 1) fputc(*s < 0x20 || *s == 0x7f ? ' ' : *s, f);
      else fwrite(s, 1, len, f);
      s += len;
    }
  }
  for (; chars < width; chars++) fputc(' ', f);
}

static const char *kind_name(char k) { return k == 't' ? "text" : "image"; }

static void out_table(FILE *f, const query_run *r) {
  const int k = r->o->k;
  for (int64_t q = 0; q < r->nq; q++) {
    fprintf(f, "%squery %" PRId64 " (%s): ", q ? "\n" : "", q + 1, kind_name(r->q[q].kind));
    put_flat(f, r->q[q].arg);
    fprintf(f, "\n  images (%s index, %" PRId64 " of split %s):\n  %4s  %8s  %8s  %-24s  %-24s  %s\n", r->o->index,
            r->n_indexed, r->o->split, "rank", "score", "image", "source", "labels", "caption");
    for (int j = 0; j < k; j++) {
      const hit *h = &r->img[q * k + j];
      if (h->id < 0) break;
      fprintf(f, "  %4d  %8.4f  %8" PRId64 "  ", j + 1, (double)h->score, h->id);
      const char *src = h->source ? h->source : "";
      put_cell(f, &src, 1, 24);
      fputs("  ", f);
      put_cell(f, (const char *const *)h->labs, h->nlab, 24);
      fputs("  ", f);
      if (h->ncaps) put_flat(f, h->caps[0]);
      fputc('\n', f);
    }
    if (!r->cap) continue;
    fprintf(f, "  captions (exact, %" PRId64 "):\n  %4s  %8s  %8s  %8s  %s\n", r->n_cap_indexed, "rank", "score",
            "caption", "image", "text");
    for (int j = 0; j < k; j++) {
      const hit *h = &r->cap[q * k + j];
      if (h->id < 0) break;
      fprintf(f, "  %4d  %8.4f  %8" PRId64 "  %8" PRId64 "  ", j + 1, (double)h->score, h->id, h->image);
      put_flat(f, h->caps[0]);
      fputc('\n', f);
    }
  }
}

static void out_tsv(FILE *f, const query_run *r) {
  const int k = r->o->k;
  fprintf(f, "query\tquery_kind\tquery_text\ttarget\trank\tid\tscore\timage\tsource\tlabels\tcaptions\n");
  for (int64_t q = 0; q < r->nq; q++)
    for (int t = 0; t < (r->cap ? 2 : 1); t++)
      for (int j = 0; j < k; j++) {
        const hit *h = &(t ? r->cap : r->img)[q * k + j];
        if (h->id < 0) break;
        fprintf(f, "%" PRId64 "\t%s\t", q + 1, kind_name(r->q[q].kind));
        put_flat(f, r->q[q].arg);
        fprintf(f, "\t%s\t%d\t%" PRId64 "\t%.9g\t%" PRId64 "\t", t ? "caption" : "image", j + 1, h->id,
                (double)h->score, t ? h->image : h->id);
        put_flat(f, h->source ? h->source : "");
        fputc('\t', f);
        for (int l = 0; l < h->nlab; l++) {
          if (l) fputc('|', f);
          put_flat(f, h->labs[l]);
        }
        fputc('\t', f);
        for (int c = 0; c < h->ncaps; c++) {
          if (c) fputs(" | ", f);
          put_flat(f, h->caps[c]);
        }
        fputc('\n', f);
      }
}

static int out_json(FILE *f, const query_run *r) {
  const int k = r->o->k;
  cJSON *root = cJSON_CreateObject(), *qs = NULL;
  int ok = root && cJSON_AddStringToObject(root, "index", r->o->index) && cJSON_AddStringToObject(root, "split", r->o->split) &&
           cJSON_AddNumberToObject(root, "k", k) && cJSON_AddNumberToObject(root, "indexed_images", (double)r->n_indexed) &&
           (qs = cJSON_AddArrayToObject(root, "queries"));
  for (int64_t q = 0; ok && q < r->nq; q++) {
    cJSON *o = cJSON_CreateObject();
    ok = o && cJSON_AddItemToArray(qs, o) && cJSON_AddStringToObject(o, "query", r->q[q].arg) &&
         cJSON_AddStringToObject(o, "kind", kind_name(r->q[q].kind));
    for (int t = 0; ok && t < (r->cap ? 2 : 1); t++) {
      cJSON *arr = cJSON_AddArrayToObject(o, t ? "captions" : "images");
      ok = arr != NULL;
      for (int j = 0; ok && j < k; j++) {
        const hit *h = &(t ? r->cap : r->img)[q * k + j];
        if (h->id < 0) break;
        cJSON *e = cJSON_CreateObject(), *labels = NULL, *caps = NULL;
        ok = e && cJSON_AddItemToArray(arr, e) && cJSON_AddNumberToObject(e, "rank", j + 1) &&
             cJSON_AddNumberToObject(e, "id", (double)h->id) && cJSON_AddNumberToObject(e, "score", (double)h->score) &&
             cJSON_AddNumberToObject(e, "image", (double)(t ? h->image : h->id)) &&
             cJSON_AddStringToObject(e, "source", h->source ? h->source : "");
        if (ok && !t) ok = (labels = cJSON_AddArrayToObject(e, "labels")) != NULL;
        for (int l = 0; ok && l < h->nlab; l++) ok = cJSON_AddItemToArray(labels, cJSON_CreateString(h->labs[l]));
        if (ok) ok = (caps = cJSON_AddArrayToObject(e, t ? "text" : "captions")) != NULL;
        for (int c = 0; ok && c < h->ncaps; c++) ok = cJSON_AddItemToArray(caps, cJSON_CreateString(h->caps[c]));
      }
    }
  }
  char *text = ok ? cJSON_Print(root) : NULL;
  cJSON_Delete(root);
  if (!text) HP_ERROR(HP_ERR_MEM, "query: JSON output");
  fputs(text, f);
  fputc('\n', f);
  free(text);
  return 0;
}

static void out_html(FILE *f, const query_run *r) {
  const int k = r->o->k;
  fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>hpclip query</title>\n"
             "<style>body{font-family:sans-serif;margin:1.5em}figure{display:inline-block;width:%dpx;margin:0 .6em "
             "1em 0;vertical-align:top;font-size:.8em}figure img{width:%dpx;height:%dpx;image-rendering:pixelated;"
             "border:1px solid #ccc}ol.caps li{margin:.2em 0}.score{color:#555}</style></head><body>\n"
             "<h1>hpclip query</h1>\n<p>%s index over %" PRId64 " images (split %s), top %d.</p>\n",
          160, 160, 160, r->o->index, r->n_indexed, r->o->split, k);
  for (int64_t q = 0; q < r->nq; q++) {
    fprintf(f, "<section class=\"query\"><h2>%" PRId64 ". %s: ", q + 1, kind_name(r->q[q].kind));
    hp_html_text(f, r->q[q].arg);
    fprintf(f, "</h2>\n");
    for (int j = 0; j < k; j++) {
      const hit *h = &r->img[q * k + j];
      if (h->id < 0) break;
      fprintf(f, "<figure data-id=\"%" PRId64 "\"><img alt=\"image %" PRId64 "\" src=\"data:image/png;base64,", h->id, h->id);
      hp_html_base64(f, h->png, h->png_n);
      fprintf(f, "\"><figcaption>%d. <span class=\"score\">%.4f</span> #%" PRId64 " ", j + 1, (double)h->score, h->id);
      hp_html_text(f, h->source ? h->source : "");
      for (int l = 0; l < h->nlab; l++) {
        fprintf(f, l ? ", " : "<br>");
        hp_html_text(f, h->labs[l]);
      }
      if (h->ncaps) {
        fprintf(f, "<br><i>");
        hp_html_text(f, h->caps[0]);
        fprintf(f, "</i>");
      }
      fprintf(f, "</figcaption></figure>\n");
    }
    if (r->cap) {
      fprintf(f, "<h3>captions</h3><ol class=\"caps\">\n");
      for (int j = 0; j < k; j++) {
        const hit *h = &r->cap[q * k + j];
        if (h->id < 0) break;
        fprintf(f, "<li><span class=\"score\">%.4f</span> ", (double)h->score);
        hp_html_text(f, h->caps[0]);
        fprintf(f, " (image #%" PRId64 ")</li>\n", h->image);
      }
      fprintf(f, "</ol>\n");
    }
    fprintf(f, "</section>\n");
  }
  fprintf(f, "</body></html>\n");
}

static int write_output(const query_run *r) {
  const char *fmt = r->o->format, *path = r->o->out;
  char tmp[4200];
  FILE *f = stdout;
  if (path) {
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) HP_ERROR(HP_ERR_USAGE, "--out: path too long");
    hp_tmpfile_register(tmp);
    if (!(f = fopen(tmp, "wb"))) {
      hp_tmpfile_unregister(tmp);
      HP_ERROR(HP_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    }
  }
  int err = 0;
  if (strcmp(fmt, "tsv") == 0) out_tsv(f, r);
  else if (strcmp(fmt, "json") == 0) err = out_json(f, r);
  else if (strcmp(fmt, "html") == 0) out_html(f, r);
  else out_table(f, r);
  if (!path) {
    fflush(stdout);
    return err;
  }
  int werr = ferror(f), e = errno;
  if (fclose(f) != 0 && !werr) {
    werr = 1;
    e = errno;
  }
  if (err || werr) {
    remove(tmp);
    hp_tmpfile_unregister(tmp);
    if (err) return err;
    HP_ERROR(HP_ERR_IO, "cannot write %s: %s", tmp, strerror(e));
  }
  if (rename(tmp, path) != 0) {
    e = errno;
    remove(tmp);
    hp_tmpfile_unregister(tmp);
    HP_ERROR(HP_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(e));
  }
  hp_tmpfile_unregister(tmp);
  return 0;
}

static void free_hits(hit *h, int64_t n) {
  for (int64_t i = 0; h && i < n; i++) {
    free(h[i].source);
    hp_strings_free(h[i].labs, h[i].nlab);
    hp_strings_free(h[i].caps, h[i].ncaps);
    free(h[i].png);
  }
  free(h);
}

static int check_opts(const hp_query_opts *o) {
  if (o->k < 1 || o->k > 10000) HP_ERROR(HP_ERR_USAGE, "query: -k %d: must be in [1, 10000]", o->k);
  if (strcmp(o->index, "exact") != 0 && strcmp(o->index, "forest") != 0)
    HP_ERROR(HP_ERR_USAGE, "query: --index %s: expected exact or forest", o->index);
  if (strcmp(o->split, "all") != 0 && strcmp(o->split, "train") != 0 && strcmp(o->split, "val") != 0 &&
      strcmp(o->split, "test") != 0)
    HP_ERROR(HP_ERR_USAGE, "query: --split %s: expected all, train, val or test", o->split);
  if (strcmp(o->format, "table") != 0 && strcmp(o->format, "tsv") != 0 && strcmp(o->format, "json") != 0 &&
      strcmp(o->format, "html") != 0)
    HP_ERROR(HP_ERR_USAGE, "query: --format %s: expected table, tsv, json or html", o->format);
  if (strcmp(o->index, "forest") == 0 && strcmp(o->split, "all") != 0)
    HP_ERROR(HP_ERR_USAGE, "query: --split applies to the exact index; the forest holds the images the search stage "
             "indexed (its search.split)");
  return 0;
}

int hp_query(MPI_Comm comm, const hp_config *cfg, const hp_query_opts *o) {
  query_run r;
  memset(&r, 0, sizeof r);
  r.o = o;
  r.comm = comm;
  MPI_Comm_rank(comm, &r.rank);
  MPI_Comm_size(comm, &r.size);
  HP_CALL(hp_agree(comm, check_opts(o)));
  const char *dir = hp_cfg_str(cfg, "run.dir");
  HP_CALL(hp_agree(comm, hp_run_file(cfg, dir, HP_FILE_DATASET, r.dpath, sizeof r.dpath))); /* run.dataset */
  HP_CALL(hp_agree(comm, hp_run_file(cfg, dir, HP_FILE_CKPT, r.cpath, sizeof r.cpath)));    /* run.checkpoint */
  snprintf(r.epath, sizeof r.epath, "%s/%s", dir, HP_FILE_EMBEDDINGS);
  snprintf(r.ipath, sizeof r.ipath, "%s/%s", dir, HP_FILE_INDEX);
  int err = hp_agree(comm, read_queries(&r));
  if (!err) { /* the dataset must be the one embed read */
    char efp[64] = "", dfp[64] = "";
    err = hp_h5_root_attr(comm, r.epath, "dataset_fingerprint", efp, sizeof efp);
    if (!err) err = hp_h5_root_attr(comm, r.dpath, "fingerprint", dfp, sizeof dfp);
    if (!err && strcmp(efp, dfp) != 0)
      err = HP_ERROR_SET(HP_ERR_INPUT, "%s is dataset %s, but %s was made from dataset %s: rerun embed", r.dpath, dfp,
                         r.epath, efp);
  }
  if (err) {
    for (int64_t i = 0; i < r.nq; i++) free(r.q[i].arg);
    free(r.q);
    return err;
  }
  hp_stage_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.comm = comm;
  ctx.rank = r.rank;
  ctx.size = r.size;
  ctx.cfg = (hp_config *)cfg;
  ctx.run_dir = dir;
  double t0 = hp_now();
  hp_embeddings em;
  err = hp_embeddings_open(comm, r.epath, &em);
  if (err) {
    for (int64_t i = 0; i < r.nq; i++) free(r.q[i].arg);
    free(r.q);
    return err;
  }
  r.E = em.embed_dim;
  r.S = em.image_size;
  r.N = em.n_images;
  r.M = em.n_captions;
  r.L = em.n_labels;
  hp_clip_eval ev;
  err = hp_clip_eval_load(comm, cfg, r.cpath, r.S, (int)hp_cfg_int(cfg, "embed.batch"), &ev);
  if (err) {
    hp_embeddings_close(&em);
    for (int64_t i = 0; i < r.nq; i++) free(r.q[i].arg);
    free(r.q);
    return err;
  }
  if (strcmp(ev.m.desc, em.model) != 0 || strcmp(ev.fingerprint, em.model_fingerprint) != 0)
    err = HP_ERROR_SET(HP_ERR_INPUT, "%s: embeddings of checkpoint %s, but %s is %s: rerun embed", r.epath,
                       em.model_fingerprint, r.cpath, ev.fingerprint);
  int split = hp_eval_split_code(o->split);
  hp_index *ix = NULL, *cx = NULL;
  if (!err) err = image_index(&r, &ctx, &em, split, &ix);
  if (!err && o->captions) err = caption_index(&r, &em, split, &cx);
  hp_embeddings_close(&em);
  r.load_s = hp_now() - t0;
  float *qe = NULL, *isc = NULL, *csc = NULL;
  int64_t *iid = NULL, *cid = NULL, total = r.nq * o->k;
  if (!err && (!(qe = calloc((size_t)(r.nq * r.E), sizeof *qe)) || !(isc = calloc((size_t)total, sizeof *isc)) ||
               !(iid = calloc((size_t)total, sizeof *iid)) || !(csc = calloc((size_t)total, sizeof *csc)) ||
               !(cid = calloc((size_t)total, sizeof *cid)) || !(r.img = calloc((size_t)total, sizeof *r.img)) ||
               (o->captions && !(r.cap = calloc((size_t)total, sizeof *r.cap)))))
    err = HP_ERROR_SET(HP_ERR_MEM, "query results");
  err = hp_agree(comm, err); /* what follows is collective */
  if (!err) {
    double t1 = hp_now();
    err = embed_queries(&r, &ev, cfg, qe);
    r.embed_s = hp_now() - t1;
  }
  if (!err) {
    double t1 = hp_now();
    err = hp_index_search(ix, r.nq, qe, o->k, iid, isc);
    if (!err && cx) err = hp_index_search(cx, r.nq, qe, o->k, cid, csc);
    r.search_s = hp_now() - t1;
  }
  hp_clip_eval_free(&ev);
  hp_index_free(ix);
  hp_index_free(cx);
  if (!err) {
    hp_log_info("query: loaded in %.3f s (checkpoint, embeddings, %s index of %" PRId64 " images%s)", r.load_s, o->index,
                r.n_indexed, cx ? " and the captions' exact index" : "");
    hp_log_info("query: %" PRId64 " quer%s in %.3f s: encoding %.2f ms, search %.2f ms per query", r.nq,
                r.nq == 1 ? "y" : "ies", r.embed_s + r.search_s, 1e3 * r.embed_s / (double)r.nq,
                1e3 * r.search_s / (double)r.nq);
    err = describe(&r, iid, isc, cid, csc);
  }
  if (!err) err = hp_agree_root(comm, r.rank == 0 ? write_output(&r) : 0);
  free(qe);
  free(isc);
  free(csc);
  free(iid);
  free(cid);
  free_hits(r.img, r.img ? total : 0);
  free_hits(r.cap, r.cap ? total : 0);
  for (int64_t i = 0; i < r.nq; i++) free(r.q[i].arg);
  free(r.q);
  return err;
}
