/* search.c — the `search` stage: retrieval evaluation -> results.h5 /search, search.md,
 * search_top5.png (and index.h5 with search.save_index).
 *
 * Label queries (the study's Table 1): every label name, put through search.prompt, is
 * text-encoded; it ranks the images of search.split by cosine similarity (embeddings are unit
 * vectors: inner product); relevant = the images carrying that label. P/R/NDCG/AP at 1, 5, 10
 * per class and class-averaged, in both denominator conventions (docs/metrics.md).
 * The CLIP protocol: caption -> image and image -> caption recall at 1, 5, 10 within the split.
 *
 * Search goes through src/index (index.h): an index over the split's images and one over their
 * captions, of kind search.index (exact, or the random-projection forest). Both are sharded
 * the same way for any rank count: shard j of search.shards holds the rows
 * hp_shard_range(N, shards, j) of the global row range (images, or captions), or with
 * search.shard_rows = R the rows [jR, (j+1)R), restricted to the split, and rank r holds the
 * whole shards hp_shard_range(shards, P, r). With R, the shards of a dataset's old rows keep their
 * bounds when rows are appended, and a forest saved in index.h5 gives their trees to the next
 * build (hp_index_reuse_trees). A forest is built per
 * shard from a seed and the shard's first id (index.h), so the trees, the candidates and the
 * results are the same at any rank count; exact results are so anyway. With the forest, every
 * query set is also searched exactly and the forest's recall@10 against exact is reported, with
 * the build time and queries/s of both.
 *
 * Relevance of the merged top-k lists is OR-reduced (the rank holding an image knows its
 * labels); counts are summed. Every figure is therefore the same for any rank count.
 *
 * Memory of rank r: the image and the caption index of the shards it holds (about 1/P of the
 * split's images and captions, in whole shards: rows of 4E + 8 bytes, and the forest's trees),
 * declared with hp_index_reserve and filled straight from embeddings.h5 a round (ROUND_BYTES of
 * rows) at a time, so never held twice; the ids and label rows of its selected images (8 + L
 * bytes each); one round of queries (ROUND_BYTES of rows, their top-k lists and, for image ->
 * image, the label rows and label-sharing flags of the round); the index's search buffers (a
 * score tile per thread, per-query heaps: index.h); with labels, the text tower. Replicated on
 * every rank, O(N + M) of the whole file: the split of every image (1 byte) and the image of
 * every caption (8 bytes), which select the rows and score caption <-> image. Every rank reads
 * every query (it searches all of them against its shards before the lists are merged), so its
 * I/O is the split's embeddings, but it holds one round of them. The caption index is freed
 * before image -> image.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "base/test_hooks.h"
#include "comm/shard.h"
#include "metrics/ranking.h"
#include "stages/eval_common.h"
#include "stages/markdown.h"
#include "index/index.h"
#include "stages/search_png.h"
#include "stages/search_neighbours.h"
#include "stages/search_queries.h"

#define KMAX 10
static const int g_ks[3] = {1, 5, 10};

/* query sets: the first QS_N in the order of /search/index/recall_at_10 and the timing columns;
 * image -> image (QS_I2I) has its own group /search/image_to_image (added later, so that the
 * files written before it stay valid) */
enum { QS_LABEL = 0, QS_C2I = 1, QS_I2C = 2, QS_N = 3, QS_I2I = 3, QS_ALL = 4 };

typedef struct {
  int64_t L;
  char **names;
  int64_t *relevant;                   /* [L] */
  double *m[7];                        /* [L,3]: P, R, NDCG, AP, R_ret, NDCG_ret, AP_ret */
  double table1[2][12];                /* rows: relevant, retrieved conventions */
  int64_t active;                      /* classes with relevant > 0 */
  double clip[2][3];                   /* i2t, t2i recall at 1, 5, 10 */
  double clip_chance[2][3];            /* the same for a random ranking (markdown.h) */
  int64_t n_images, n_captions;
  int64_t n_captioned;                 /* images of the split with a caption: image -> caption's queries */
  const char *prompt, *split, *model;
  int conv;
  int64_t *top;                        /* [L,KMAX] label queries' merged top-k ids */
  uint8_t *rel;                        /* [L,KMAX] their relevance */
  float *topsc;                        /* [L,KMAX] their scores */
  int64_t best, worst;                 /* classes of the PNG grid (-1: none) */
  int png;                             /* search_top5.png written */
  /* index */
  hp_index_params ip;
  int64_t shards, shard_rows; /* search.shards, search.shard_rows (0: by count) */
  int forest, save;
  double recall[QS_ALL];               /* forest's recall@10 against exact (forest only) */
  double build_s[2];                   /* exact (rows added), forest (added + built); both indices */
  double qps[2][QS_ALL];               /* queries/s: exact, forest */
  int have_qs[QS_ALL];
  double rsum[QS_ALL], qsec[2][QS_ALL]; /* over a query set's batches: recall sum, local seconds */
  int64_t rcount[QS_ALL], nq[QS_ALL];  /* queries with exact ids, queries */
  double i2i[3];                       /* image -> image: label precision at 1, 5, 10 (with labels) */
  hp_query_table qt;                   /* search.queries: the study's Table 3 (search_queries.h) */
  const char *run_name;
  hp_neighbours_summary nb;            /* search.export_knn (nb.n_images = 0: none) */
  double dedup_t;
  int64_t knn;
} search_out;

static const char *const g_mnames[7] = {"precision", "recall", "ndcg", "ap", "recall_retrieved", "ndcg_retrieved",
                                        "ap_retrieved"};
static const char *const g_qsnames[QS_ALL] = {"label", "caption->image", "image->caption", "image->image"};

/* How N rows (images or captions) are cut into shards: search.shards of them, shard j =
 * hp_shard_range(N, S, j); or, with search.shard_rows = R > 0, shard j = rows [jR, (j+1)R), whose
 * bounds do not move when rows are appended. Rank r holds shards hp_shard_range(S, P, r). */
typedef struct {
  int64_t n, shards, rows;
} shard_layout;

static shard_layout layout_of(const search_out *o, int64_t n) {
  shard_layout l = {n, o->shards, o->shard_rows};
  if (l.rows > 0) l.shards = n > 0 ? (n + l.rows - 1) / l.rows : 1;
  return l;
}

static void layout_shard(const shard_layout *l, int64_t j, int64_t *a, int64_t *an) {
  if (l->rows <= 0) {
    hp_shard_range(l->n, (int)l->shards, (int)j, a, an);
    return;
  }
  *a = j * l->rows < l->n ? j * l->rows : l->n;
  *an = l->n - *a < l->rows ? l->n - *a : l->rows;
}

/* The global rows [r0, r0+n) of the shards this rank holds. */
static void rank_rows(const shard_layout *l, int size, int rank, int64_t *r0, int64_t *n) {
  int64_t s0, ns, a, an, b, bn;
  hp_shard_range(l->shards, size, rank, &s0, &ns);
  *r0 = 0;
  *n = 0;
  if (ns == 0) return;
  layout_shard(l, s0, &a, &an);
  layout_shard(l, s0 + ns - 1, &b, &bn);
  *r0 = a;
  *n = b + bn - a;
}

/* Which rows the search stage uses: images of the split, captions of those images. */
typedef struct {
  const uint8_t *sp;        /* [n_images] split of every image */
  const int64_t *capimg;    /* [n_captions] image of every caption */
  int split;                /* -1: all */
} row_sel;

static int selected(const row_sel *rs, int captions, int64_t row) {
  return rs->split < 0 || rs->sp[captions ? rs->capimg[row] : row] == rs->split;
}

/* Embedding rows move in rounds of about this many bytes: an index is filled, and queries are
 * searched, a round at a time, so neither is ever held twice or whole. */
#define ROUND_BYTES ((size_t)8 << 20)

static int64_t round_rows(int64_t E) {
  int64_t per = hp_test_hook_int("ROUND_ROWS", (int64_t)(ROUND_BYTES / ((size_t)E * sizeof(float))));
  return per > 0 ? per : 1;
}

/* Collective: rows [r0, r0+m) of the image or caption embeddings (m may be 0) -> the selected
 * ones, compacted at the front of x, their global ids in ids; *k of them. */
static int read_selected(hp_embeddings *em, int captions, const row_sel *rs, int64_t r0, int64_t m, float *x,
                         int64_t *ids, int64_t *k) {
  const int64_t E = em->embed_dim;
  if (captions) HP_CALL(hp_embeddings_read_captions(em, r0, m, x));
  else HP_CALL(hp_embeddings_read_images(em, r0, m, x));
  *k = 0;
  for (int64_t i = 0; i < m; i++) {
    if (!selected(rs, captions, r0 + i)) continue;
    if (*k != i) memcpy(x + *k * E, x + i * E, (size_t)E * sizeof(float));
    ids[(*k)++] = r0 + i;
  }
  return 0;
}

/* The index of this rank's selected image or caption rows of [0, N), one shard per global shard
 * so the shards are the same at any rank count (declared first, then filled a round at a time
 * straight from embeddings.h5); built collectively. */
static int build_index(hp_stage_ctx *ctx, search_out *o, hp_embeddings *em, int captions, const row_sel *rs,
                       int64_t N, const char *reuse, hp_index **out) {
  const int64_t E = o->ip.dim;
  const shard_layout lay = layout_of(o, N);
  int64_t s0, ns, r0, rn;
  hp_shard_range(lay.shards, ctx->size, ctx->rank, &s0, &ns);
  rank_rows(&lay, ctx->size, ctx->rank, &r0, &rn);
  double t0 = hp_now(), tread = 0; /* the build time leaves out reading embeddings.h5 */
  int64_t *cnt = NULL, *ids = NULL;
  float *x = NULL;
  HP_CALLOC(cnt, ns > 0 ? ns : 1, "shard rows");
  for (int64_t j = s0; j < s0 + ns; j++) {
    int64_t a, an;
    layout_shard(&lay, j, &a, &an);
    for (int64_t i = a; i < a + an; i++) cnt[j - s0] += selected(rs, captions, i);
  }
  HP_CALL(hp_index_create(&o->ip, ctx->comm, out));
  HP_CALL(hp_index_reserve(*out, (int)ns, cnt));
  const int64_t per = round_rows(E);
  int64_t rounds = (rn + per - 1) / per, all = 0;
  HP_MPI(MPI_Allreduce(&rounds, &all, 1, MPI_INT64_T, MPI_MAX, ctx->comm));
  HP_CALLOC(x, (size_t)per * (size_t)E, "embedding round");
  HP_CALLOC(ids, per, "embedding round ids");
  for (int64_t r = 0; r < all; r++) { /* the same number of collective reads on every rank */
    int64_t a = r * per, m = rn - a < per ? rn - a : per, k = 0;
    if (m < 0) m = 0;
    double tr = hp_now();
    HP_CALL(read_selected(em, captions, rs, m > 0 ? r0 + a : 0, m, x, ids, &k)); /* done: nothing, validly */
    tread += hp_now() - tr;
    HP_CALL(hp_index_add(*out, k, x, ids));
  }
  free(x);
  free(ids);
  free(cnt);
  double t1 = hp_now();
  if (reuse) { /* a grown index: the trees of the shards whose rows did not change */
    int64_t kept = 0;
    if (hp_index_reuse_trees(*out, reuse, &kept) != 0) {
      hp_log_warn("search: %s cannot be reused (%s): building every shard", reuse, hp_error_message());
      hp_error_clear();
    }
    hp_log_info("search: forest: %" PRId64 " of %" PRId64 " shards taken from %s (the same rows), the others built",
                kept, lay.shards, reuse);
  }
  HP_CALL(hp_index_build(*out));
  double t2 = hp_now(), d[2] = {t1 - t0 - tread, t2 - t0 - tread};
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, d, 2, MPI_DOUBLE, MPI_MAX, ctx->comm));
  hp_index_mem mem;
  hp_index_memory(*out, &mem);
  double mib = (double)mem.total / 1048576.0;
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, &mib, 1, MPI_DOUBLE, MPI_MAX, ctx->comm));
  hp_log_info("search: %s index: %.1f MiB on the largest rank (rows, ids, trees)", captions ? "caption" : "image", mib);
  o->build_s[0] += d[0];
  o->build_s[1] += d[1];
  return 0;
}

/* Global top-k of nq queries through the index; with the forest, also exactly (the recall of
 * the k lists and the time of both are accumulated for query set qs: a set may come in several
 * batches). */
static int search_batch(hp_stage_ctx *ctx, search_out *o, hp_index *ix, int qs, int64_t nq, const float *q, int k,
                        int64_t *ids, float *sc) {
  HP_MPI(MPI_Barrier(ctx->comm)); /* the time of a search, not of a peer still reading its batch */
  double t0 = hp_now();
  HP_CALL(hp_index_search(ix, nq, q, k, ids, sc));
  o->qsec[o->forest][qs] += hp_now() - t0;
  o->nq[qs] += nq;
  if (o->forest && nq > 0) {
    int64_t *ie = NULL;
    float *se = NULL;
    HP_CALLOC(ie, (size_t)nq * (size_t)k, "exact top-k ids");
    HP_CALLOC(se, (size_t)nq * (size_t)k, "exact top-k scores");
    t0 = hp_now();
    HP_CALL(hp_index_search_exact(ix, nq, q, k, ie, se));
    o->qsec[0][qs] += hp_now() - t0;
    /* the mean over queries of |forest ∩ exact| / |exact| (index.h's hp_index_recall), summed
     * in query order whatever the batches */
    for (int64_t i = 0; i < nq; i++) {
      const int64_t *a = ids + i * k, *e = ie + i * k;
      int valid = 0, hit = 0;
      for (int j = 0; j < k; j++) {
        if (e[j] < 0) continue;
        valid++;
        for (int m = 0; m < k; m++)
          if (a[m] == e[j]) { hit++; break; }
      }
      if (valid) { o->rsum[qs] += (double)hit / valid; o->rcount[qs]++; }
    }
    free(ie);
    free(se);
  }
  return 0;
}

/* Collective: query set qs is complete: its recall@10 and queries/s (slowest rank). */
static int finish_queries(hp_stage_ctx *ctx, search_out *o, int qs) {
  double dt[2] = {o->qsec[0][qs], o->qsec[1][qs]};
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, dt, 2, MPI_DOUBLE, MPI_MAX, ctx->comm));
  o->recall[qs] = o->forest && o->rcount[qs] ? o->rsum[qs] / (double)o->rcount[qs] : 1.0;
  for (int r = 0; r <= o->forest; r++) o->qps[r][qs] = dt[r] > 0 ? (double)o->nq[qs] / dt[r] : 0.0;
  o->have_qs[qs] = 1;
  return 0;
}

static int run_queries(hp_stage_ctx *ctx, search_out *o, hp_index *ix, int qs, int64_t nq, const float *q, int k,
                       int64_t *ids, float *sc) {
  HP_CALL(search_batch(ctx, o, ix, qs, nq, q, k, ids, sc));
  HP_CALL(finish_queries(ctx, o, qs));
  return 0;
}

/* Label-query retrieval over the selected images (index ix). */
static int label_search(hp_stage_ctx *ctx, hp_clip_eval *ev, const hp_eval_images *im, hp_index *ix, int64_t L,
                        search_out *o) {
  const int64_t E = ev->m.cfg.embed_dim;
  float *q = NULL, *sc = NULL;
  int64_t *ids = NULL;
  uint8_t *rel = NULL;
  HP_CALLOC(q, (size_t)L * (size_t)E, "label query embeddings");
  HP_CALLOC(ids, L * KMAX, "top-k ids");
  HP_CALLOC(sc, L * KMAX, "top-k scores");
  HP_CALLOC(rel, L * KMAX, "top-k relevance");
  HP_CALL(hp_eval_label_queries(ev, o->prompt, o->names, L, q));
  HP_CALL(run_queries(ctx, o, ix, QS_LABEL, L, q, KMAX, ids, sc));
  /* relevance of the merged lists: the rank owning an image knows its labels */
  for (int64_t c = 0; c < L; c++)
    for (int j = 0; j < KMAX; j++) {
      int64_t id = ids[c * KMAX + j];
      if (id < 0 || im->n == 0 || id < im->ids[0] || id > im->ids[im->n - 1]) continue;
      int64_t lo = 0, hi = im->n - 1;
      while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (im->ids[mid] < id) lo = mid + 1; else hi = mid;
      }
      if (im->ids[lo] == id) rel[c * KMAX + j] = im->labels[lo * L + c];
    }
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, rel, (int)(L * KMAX), MPI_UINT8_T, MPI_MAX, ctx->comm));
  for (int64_t i = 0; i < im->n; i++)
    for (int64_t c = 0; c < L; c++) o->relevant[c] += im->labels[i * L + c] != 0;
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, o->relevant, (int)L, MPI_INT64_T, MPI_SUM, ctx->comm));
  /* the list is as long as the split (at most KMAX kept) */
  int64_t len = im->total < KMAX ? im->total : KMAX;
  memset(o->table1, 0, sizeof o->table1);
  o->active = 0;
  o->best = o->worst = -1;
  const int apm = o->conv ? 6 : 3; /* AP in the printed convention: ranks the PNG's classes */
  for (int64_t c = 0; c < L; c++) {
    const uint8_t *r = rel + c * KMAX;
    for (int k = 0; k < 3; k++) {
      hp_rank_metrics a, b;
      hp_rank_metrics_at(r, len, g_ks[k], o->relevant[c], KMAX, HP_RANK_RELEVANT, &a);
      hp_rank_metrics_at(r, len, g_ks[k], o->relevant[c], KMAX, HP_RANK_RETRIEVED, &b);
      double v[7] = {a.p, a.r, a.ndcg, a.ap, b.r, b.ndcg, b.ap};
      for (int m = 0; m < 7; m++) o->m[m][c * 3 + k] = v[m];
      if (o->relevant[c] > 0) {
        double ra[4] = {a.p, a.r, a.ndcg, a.ap}, rb[4] = {b.p, b.r, b.ndcg, b.ap};
        for (int m = 0; m < 4; m++) {
          o->table1[0][m * 3 + k] += ra[m];
          o->table1[1][m * 3 + k] += rb[m];
        }
      }
    }
    if (o->relevant[c] > 0) {
      /* best: highest AP@10, first class on ties; worst: lowest, first on ties */
      double ap = o->m[apm][c * 3 + 2];
      if (o->best < 0 || ap > o->m[apm][o->best * 3 + 2]) o->best = c;
      if (o->worst < 0 || ap < o->m[apm][o->worst * 3 + 2]) o->worst = c;
    }
    o->active += o->relevant[c] > 0;
  }
  for (int r = 0; r < 2; r++)
    for (int j = 0; j < 12; j++) o->table1[r][j] = o->active ? o->table1[r][j] / (double)o->active : 0.0;
  o->top = ids;
  o->rel = rel;
  o->topsc = sc;
  free(q);
  return 0;
}

/* Collective: query set qs = the selected image or caption rows of [0, N) in global order, every
 * rank reading the same rows, a round at a time; the rank of the first hit among each query's
 * merged top-KMAX (KMAX: none) goes into o->clip[dir]. */
static int clip_direction(hp_stage_ctx *ctx, hp_embeddings *em, search_out *o, hp_index *ix, const row_sel *rs,
                          int captions, int64_t N, int qs, int dir) {
  const int64_t E = em->embed_dim, per = round_rows(E);
  float *q = NULL, *sc = NULL;
  int64_t *qid = NULL, *top = NULL;
  HP_CALLOC(q, (size_t)per * (size_t)E, "query round");
  HP_CALLOC(qid, per, "query ids");
  HP_CALLOC(top, (size_t)per * KMAX, "top-k ids");
  HP_CALLOC(sc, (size_t)per * KMAX, "top-k scores");
  hp_progress prog; /* a minute and more at COCO size */
  char what[96];
  snprintf(what, sizeof what, "search: %s queries (rows of embeddings.h5 scanned)", g_qsnames[qs]);
  hp_progress_start(&prog, what, "rows", N);
  for (int64_t b = 0; b < N; b += per) {
    hp_progress_update(&prog, b);
    int64_t m = N - b < per ? N - b : per, nq = 0;
    HP_CALL(read_selected(em, captions, rs, b, m, q, qid, &nq));
    if (nq == 0) continue; /* the same on every rank: they read the same rows */
    HP_CALL(search_batch(ctx, o, ix, qs, nq, q, KMAX, top, sc));
    for (int64_t i = 0; i < nq; i++) {
      int at = KMAX;
      for (int j = 0; j < KMAX && at == KMAX; j++) {
        int64_t t = top[i * KMAX + j];
        if (captions ? t == rs->capimg[qid[i]] : t >= 0 && rs->capimg[t] == qid[i]) at = j;
      }
      for (int kk = 0; kk < 3; kk++) o->clip[dir][kk] += at < g_ks[kk];
    }
  }
  hp_progress_end(&prog, N);
  free(q);
  free(qid);
  free(top);
  free(sc);
  return 0;
}

/* Position of id in the ascending ids[0..n), -1 if absent. */
static int64_t find_id(const int64_t *ids, int64_t n, int64_t id) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (ids[mid] < id) lo = mid + 1;
    else hi = mid;
  }
  return lo < n && ids[lo] == id ? lo : -1;
}

/* Precision at 1, 5, 10 of one query's k = KMAX + 1 image neighbours (ids top, share[j] = 1 when
 * neighbour j carries a label of the query): the query itself is dropped by id, then the first
 * KMAX others count; missing neighbours (-1) count as not relevant. */
static void i2i_add(search_out *o, const int64_t *top, const uint8_t *share, int64_t self) {
  int got = 0, hits[KMAX + 1] = {0};
  for (int j = 0; j < KMAX + 1 && got < KMAX; j++) {
    if (top[j] < 0 || top[j] == self) continue;
    got++;
    hits[got] = hits[got - 1] + share[j];
  }
  for (int g = got + 1; g <= KMAX; g++) hits[g] = hits[got];
  for (int kk = 0; kk < 3; kk++) o->i2i[kk] += (double)hits[g_ks[kk]] / g_ks[kk];
}

/* Collective: image -> image within the split: every selected image asks the image index for its
 * 10 nearest other images (k = KMAX + 1). Streamed like clip_direction: every rank reads the same
 * round of query images and, with labels, their label rows; whether a neighbour shares a label
 * with the query is decided by the rank holding that neighbour (its labels are in im) and
 * OR-reduced, so no rank holds the labels of the whole split. */
static int image_to_image(hp_stage_ctx *ctx, hp_embeddings *em, search_out *o, hp_index *ix, const row_sel *rs,
                          const hp_eval_images *im) {
  const int k = KMAX + 1;
  const int64_t E = em->embed_dim, N = em->n_images, per = round_rows(E), L = im->labels ? o->L : 0;
  float *q = NULL, *sc = NULL;
  int64_t *qid = NULL, *top = NULL;
  uint8_t *lq = NULL, *share = NULL;
  HP_CALLOC(q, (size_t)per * (size_t)E, "query round");
  HP_CALLOC(qid, per, "query ids");
  HP_CALLOC(top, (size_t)per * (size_t)k, "image->image top-k ids");
  HP_CALLOC(sc, (size_t)per * (size_t)k, "image->image top-k scores");
  HP_CALLOC(share, (size_t)per * (size_t)k, "image->image label sharing");
  if (L > 0) HP_CALLOC(lq, (size_t)per * (size_t)L, "query label rows");
  memset(o->i2i, 0, sizeof o->i2i);
  hp_progress prog;
  hp_progress_start(&prog, "search: image->image queries (rows of embeddings.h5 scanned)", "rows", N);
  for (int64_t b = 0; b < N; b += per) {
    hp_progress_update(&prog, b);
    int64_t m = N - b < per ? N - b : per, nq = 0, j = 0;
    HP_CALL(read_selected(em, 0, rs, b, m, q, qid, &nq));
    if (L > 0) HP_CALL(hp_embeddings_read_labels(em, b, m, lq));
    for (int64_t i = 0; L > 0 && i < m; i++)
      if (selected(rs, 0, b + i)) memmove(lq + j++ * L, lq + i * L, (size_t)L);
    if (nq == 0) continue; /* the same on every rank: they read the same rows */
    HP_CALL(search_batch(ctx, o, ix, QS_I2I, nq, q, k, top, sc));
    if (L == 0) continue;
    memset(share, 0, (size_t)nq * (size_t)k);
    for (int64_t i = 0; i < nq * k; i++) {
      int64_t at = top[i] >= 0 ? find_id(im->ids, im->n, top[i]) : -1;
      const uint8_t *a = lq + (i / k) * L, *c = at >= 0 ? im->labels + at * L : NULL;
      for (int64_t l = 0; c && l < L && !share[i]; l++) share[i] = a[l] && c[l];
    }
    HP_MPI(MPI_Allreduce(MPI_IN_PLACE, share, (int)(nq * k), MPI_UINT8_T, MPI_MAX, ctx->comm));
    for (int64_t i = 0; i < nq; i++) i2i_add(o, top + i * k, share + i * k, qid[i]);
  }
  hp_progress_end(&prog, N);
  for (int kk = 0; kk < 3 && o->nq[QS_I2I] > 0; kk++) o->i2i[kk] /= (double)o->nq[QS_I2I];
  free(q);
  free(qid);
  free(top);
  free(sc);
  free(share);
  free(lq);
  return 0;
}

/* Recall@k of a random ranking in both directions: image -> caption averages, over the selected
 * images, the chance that one of the image's c_i captions is among k of the split's captions;
 * caption -> image has one right image among the split's. */
static int clip_chance(const hp_embeddings *em, const row_sel *rs, search_out *o) {
  int32_t *nc = NULL;
  HP_CALLOC(nc, em->n_images > 0 ? em->n_images : 1, "captions per image");
  for (int64_t c = 0; c < em->n_captions; c++)
    if (selected(rs, 1, c)) nc[rs->capimg[c]]++;
  for (int kk = 0; kk < 3; kk++) {
    double s = 0.0;
    for (int64_t i = 0; i < em->n_images; i++)
      if (selected(rs, 0, i) && nc[i] > 0) s += hp_chance_hit_at_k(o->n_captions, nc[i], g_ks[kk]);
    o->clip_chance[0][kk] = o->n_captioned ? s / (double)o->n_captioned : 0.0;
    o->clip_chance[1][kk] = hp_chance_hit_at_k(o->n_images, 1, g_ks[kk]);
  }
  free(nc);
  return 0;
}

/* CLIP protocol within the selected images (index ix; their ids and labels in im) and their
 * captions (an index built here): caption -> image, image -> caption, then image -> image. */
static int clip_protocol(hp_stage_ctx *ctx, hp_embeddings *em, const hp_eval_images *im, hp_index *ix,
                         const row_sel *rs, search_out *o) {
  const int64_t M = em->n_captions;
  hp_index *cix = NULL;
  HP_CALL(build_index(ctx, o, em, 1, rs, M, NULL, &cix));
  o->n_images = o->n_captions = o->n_captioned = 0;
  for (int64_t c = 0; c < M; c++) {
    int sel = selected(rs, 1, c);
    o->n_captions += sel;
    /* captions are in image order: count an image at its first selected caption */
    o->n_captioned += sel && (c == 0 || rs->capimg[c - 1] != rs->capimg[c]);
  }
  for (int64_t i = 0; i < em->n_images; i++) o->n_images += selected(rs, 0, i);
  memset(o->clip, 0, sizeof o->clip);
  HP_CALL(clip_direction(ctx, em, o, ix, rs, 1, M, QS_C2I, 1));
  HP_CALL(finish_queries(ctx, o, QS_C2I));
  HP_CALL(clip_direction(ctx, em, o, cix, rs, 0, em->n_images, QS_I2C, 0));
  HP_CALL(finish_queries(ctx, o, QS_I2C));
  for (int kk = 0; kk < 3; kk++) {
    /* a direction without queries has no recall (NaN in results.h5, a sentence in search.md) */
    o->clip[0][kk] = o->n_captioned ? o->clip[0][kk] / (double)o->n_captioned : NAN; /* the others never hit */
    o->clip[1][kk] = o->n_captions ? o->clip[1][kk] / (double)o->n_captions : NAN;
  }
  HP_CALL(clip_chance(em, rs, o));
  hp_index_free(cix); /* before image -> image, which needs only the image index */
  HP_CALL(image_to_image(ctx, em, o, ix, rs, im));
  HP_CALL(finish_queries(ctx, o, QS_I2I));
  return 0;
}

static int write_group(hp_results_w *w, void *arg) {
  search_out *o = arg;
  int64_t d2[2] = {2, 3};
  HP_CALL(hp_results_attr_str(w, "prompt", o->prompt));
  HP_CALL(hp_results_attr_str(w, "split", o->split));
  HP_CALL(hp_results_attr_str(w, "convention", o->conv ? "retrieved" : "relevant"));
  HP_CALL(hp_results_attr_i64(w, "n_images", o->n_images));
  HP_CALL(hp_results_attr_i64(w, "n_captions", o->n_captions));
  HP_CALL(hp_results_attr_i64(w, "n_captioned_images", o->n_captioned));
  HP_CALL(hp_results_attr_str(w, "clip_recall_rows", "image->caption,caption->image"));
  HP_CALL(hp_results_attr_str(w, "k", "1,5,10"));
  HP_CALL(hp_results_f64(w, "clip_recall", 2, d2, &o->clip[0][0]));
  /* the index: parameters, the forest's recall@10 against exact, timings (not rank-independent) */
  HP_CALL(hp_results_attr_str(w, "index", o->forest ? "forest" : "exact"));
  HP_CALL(hp_results_attr_i64(w, "index_shards", o->shards));
  HP_CALL(hp_results_attr_str(w, "index_query_sets", "label,caption->image,image->caption"));
  if (o->forest) {
    HP_CALL(hp_results_attr_i64(w, "index_trees", o->ip.n_trees));
    HP_CALL(hp_results_attr_i64(w, "index_leaf_size", o->ip.leaf_size));
    HP_CALL(hp_results_attr_i64(w, "index_search_k", o->ip.search_k));
    HP_CALL(hp_results_attr_i64(w, "index_seed", (int64_t)o->ip.seed));
    int64_t d3 = QS_N;
    HP_CALL(hp_results_f64(w, "index/recall_at_10", 1, &d3, o->recall));
  }
  int64_t nk = o->forest ? 2 : 1, dq[2] = {nk, QS_N}, three = 3, one = 1;
  double qps[2][QS_N], i2i_qps[2] = {o->qps[0][QS_I2I], o->qps[1][QS_I2I]};
  for (int r = 0; r < 2; r++)
    for (int qs = 0; qs < QS_N; qs++) qps[r][qs] = o->qps[r][qs];
  HP_CALL(hp_results_attr_str(w, "timing_rows", o->forest ? "exact,forest" : "exact"));
  HP_CALL(hp_results_f64(w, "timing/build_seconds", 1, &nk, o->build_s));
  HP_CALL(hp_results_f64(w, "timing/queries_per_second", 2, dq, &qps[0][0]));
  HP_CALL(hp_results_f64(w, "image_to_image/timing/queries_per_second", 1, &nk, i2i_qps));
  if (o->forest) HP_CALL(hp_results_f64(w, "image_to_image/recall_at_10", 1, &one, &o->recall[QS_I2I]));
  if (o->L > 0) HP_CALL(hp_results_f64(w, "image_to_image/precision", 1, &three, o->i2i));
  if (o->L == 0) return 0;
  if (o->png) {
    HP_CALL(hp_results_attr_str(w, "top5_png", HP_FILE_SEARCH_PNG));
    HP_CALL(hp_results_attr_i64(w, "top5_best_class", o->best));
    HP_CALL(hp_results_attr_i64(w, "top5_worst_class", o->worst));
  }
  int64_t d12[2] = {2, 12}, dl[2] = {o->L, 3};
  HP_CALL(hp_results_attr_str(w, "table1_columns", "P@1,P@5,P@10,R@1,R@5,R@10,NDCG@1,NDCG@5,NDCG@10,MAP@1,MAP@5,MAP@10"));
  HP_CALL(hp_results_attr_str(w, "table1_rows", "relevant,retrieved"));
  HP_CALL(hp_results_attr_i64(w, "classes_averaged", o->active));
  HP_CALL(hp_results_f64(w, "table1", 2, d12, &o->table1[0][0]));
  HP_CALL(hp_results_strings(w, "per_class/names", o->L, (const char *const *)o->names));
  HP_CALL(hp_results_i64(w, "per_class/relevant", 1, &o->L, o->relevant));
  if (o->top) { /* each label query's ranked list: report.html draws it */
    int64_t dk[2] = {o->L, KMAX}, *relv = NULL;
    double *scv = NULL;
    HP_CALLOC(relv, (size_t)(o->L * KMAX), "top-k relevance");
    HP_CALLOC(scv, (size_t)(o->L * KMAX), "top-k scores");
    for (int64_t i = 0; i < o->L * KMAX; i++) relv[i] = o->rel[i], scv[i] = o->topsc[i];
    HP_CALL(hp_results_i64(w, "per_class/top_ids", 2, dk, o->top));
    HP_CALL(hp_results_f64(w, "per_class/top_scores", 2, dk, scv));
    HP_CALL(hp_results_i64(w, "per_class/top_relevant", 2, dk, relv));
    free(relv);
    free(scv);
  }
  for (int m = 0; m < 7; m++) {
    char name[64];
    snprintf(name, sizeof name, "per_class/%s", g_mnames[m]);
    HP_CALL(hp_results_f64(w, name, 2, dl, o->m[m]));
  }
  HP_CALL(hp_query_table_write(w, &o->qt));
  return 0;
}

/* search.export_knn's line */
static void markdown_neighbours(FILE *f, const search_out *o) {
  if (o->nb.n_images == 0) return;
  fprintf(f, "Neighbour export: the %" PRId64 " nearest other images of each of the %" PRId64 " images (%s index) in "
          "`neighbours.h5`.", o->knn, o->nb.n_images, o->forest ? "forest" : "exact");
  if (o->dedup_t > 0)
    fprintf(f, " Near-duplicates at cosine ≥ %g: %" PRId64 " pairs, %" PRId64 " images (`/dedup`).", o->dedup_t,
            o->nb.n_pairs, o->nb.n_dup_images);
  fprintf(f, "\n\n");
}

static void markdown(FILE *f, void *arg) {
  search_out *o = arg;
  const char *conv = o->conv ? "retrieved" : "relevant";
  fprintf(f, "## Retrieval (`search`)\n\nModel `%s`; split `%s`; %" PRId64 " images, %" PRId64 " captions.\n\n",
          o->model, o->split, o->n_images, o->n_captions);
  if (o->n_captioned < o->n_images && o->n_captioned > 0)
    fprintf(f, "%" PRId64 " of the images have no caption: they are searched (caption → image, image → image) but "
            "ask no image → caption query; that row's denominator is the %" PRId64 " captioned images.\n\n",
            o->n_images - o->n_captioned, o->n_captioned);
  markdown_neighbours(f, o);
  if (o->n_images < 10)
    fprintf(f, "⚠ The split has only %" PRId64 " images: recall at k >= %" PRId64 " is 1 by construction, and every "
            "figure below rests on very few queries.\n\n", o->n_images, o->n_images > 0 ? o->n_images : 1);
  if (o->L > 0) {
    /* a random ranking: P@k = the class's share of the split, R@k = k / n (relevant convention) */
    double chance[12] = {0};
    for (int64_t c = 0; c < o->L; c++)
      if (o->relevant[c] > 0) chance[0] += (double)o->relevant[c] / (double)(o->n_images > 0 ? o->n_images : 1);
    chance[0] = o->active > 0 ? chance[0] / (double)o->active : 0.0;
    chance[1] = chance[2] = chance[0];
    for (int k = 0; k < 3; k++)
      chance[3 + k] = o->n_images > 0 ? (g_ks[k] < o->n_images ? (double)g_ks[k] / (double)o->n_images : 1.0) : 0.0;
    fprintf(f, "Label queries: \"");
    hp_md_text(f, o->prompt, 200);
    fprintf(f, "\"; %" PRId64 " of %" PRId64
            " classes have relevant images and are averaged; R/NDCG/MAP denominators: `%s` (docs/metrics.md). "
            "The chance row is a random ranking's expected P@k (the classes' mean share of the split) and R@k "
            "(k / images, relevant convention); ⚠ marks a figure within 2x of it.\n\n",
            o->active, o->L, conv);
    fprintf(f, "| Model | P@1 | P@5 | P@10 | R@1 | R@5 | R@10 | NDCG@1 | NDCG@5 | NDCG@10 | MAP@1 | MAP@5 | MAP@10 |\n");
    fprintf(f, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int r = 0; r < 2; r++) {
      int row = r == 0 ? o->conv : 1 - o->conv;
      fprintf(f, "| this model (%s)", row ? "retrieved" : "relevant");
      for (int j = 0; j < 12; j++)
        fprintf(f, " | %.3f%s", o->table1[row][j], j < 3 || (j < 6 && row == 0) ? hp_md_flag(o->table1[row][j], chance[j]) : "");
      fprintf(f, " |\n");
    }
    fprintf(f, "| chance (random ranking)");
    for (int j = 0; j < 12; j++) {
      if (j < 6) fprintf(f, " | %.3f", chance[j]);
      else fprintf(f, " | –");
    }
    fprintf(f, " |\n");
    fprintf(f, "\nPer class (`%s` convention):\n\n| class | relevant | P@1 | P@5 | P@10 | R@1 | R@5 | R@10 | NDCG@1 | "
               "NDCG@5 | NDCG@10 | AP@1 | AP@5 | AP@10 |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
            conv);
    for (int64_t c = 0; c < o->L; c++) {
      fprintf(f, "| ");
      hp_md_text(f, o->names[c], 200);
      fprintf(f, " | %" PRId64, o->relevant[c]);
      const int mi[4] = {0, o->conv ? 4 : 1, o->conv ? 5 : 2, o->conv ? 6 : 3};
      for (int m = 0; m < 4; m++)
        for (int k = 0; k < 3; k++) fprintf(f, " | %.3f", o->m[mi[m]][c * 3 + k]);
      fprintf(f, " |\n");
    }
    fprintf(f, "\n");
    hp_query_table_markdown(f, &o->qt, o->run_name, o->conv);
  } else {
    fprintf(f, "The dataset has no labels: no label-query retrieval.\n\n");
  }
  if (o->n_captions == 0)
    fprintf(f, "The split has no captions: no caption ↔ image recall.\n\n");
  else
    fprintf(f, "CLIP retrieval protocol within the split (chance: a random ranking's recall; ⚠ marks a figure within "
               "2x of it):\n\n| direction | R@1 | R@5 | R@10 | chance R@1 | chance R@5 | chance R@10 |\n"
               "|---|---:|---:|---:|---:|---:|---:|\n");
  for (int d = 0; d < 2 && o->n_captions > 0; d++) {
    fprintf(f, "| %s", d == 0 ? "image → caption" : "caption → image");
    for (int k = 0; k < 3; k++) fprintf(f, " | %.3f%s", o->clip[d][k], hp_md_flag(o->clip[d][k], o->clip_chance[d][k]));
    for (int k = 0; k < 3; k++) fprintf(f, " | %.3f", o->clip_chance[d][k]);
    fprintf(f, " |\n");
  }
  if (o->n_captions > 0) fprintf(f, "\n");
  if (o->L > 0)
    fprintf(f, "Image → image within the split (each image's 10 nearest other images): the share carrying a label "
               "of the query image:\n\n| P@1 | P@5 | P@10 |\n|---:|---:|---:|\n| %.3f | %.3f | %.3f |\n\n",
            o->i2i[0], o->i2i[1], o->i2i[2]);
  if (o->png) {
    const char *apn = o->conv ? "AP@10, retrieved" : "AP@10";
    fprintf(f, "Top-5 images of the best and the worst class by %s (green border: relevant, red: not relevant; "
               "grey: no image): ![top-5 grid](" HP_FILE_SEARCH_PNG ")\n\n| row | class | %s |\n|---|---|---:|\n",
            apn, apn);
    const int apm = o->conv ? 6 : 3;
    fprintf(f, "| 1 (best) | ");
    hp_md_text(f, o->names[o->best], 200);
    fprintf(f, " | %.3f |\n| 2 (worst) | ", o->m[apm][o->best * 3 + 2]);
    hp_md_text(f, o->names[o->worst], 200);
    fprintf(f, " | %.3f |\n\n", o->m[apm][o->worst * 3 + 2]);
  }
  if (o->forest) {
    fprintf(f, "Index `forest`: %d trees, leaf size %d, search_k %" PRId64 " per shard, %" PRId64
               " shards. Recall@10 against exact search on the same queries:\n\n| queries | recall@10 |\n|---|---:|\n",
            o->ip.n_trees, o->ip.leaf_size, o->ip.search_k, o->shards);
    for (int qs = 0; qs < QS_ALL; qs++)
      if (o->have_qs[qs]) fprintf(f, "| %s | %.4f |\n", g_qsnames[qs], o->recall[qs]);
    fprintf(f, "\n");
  } else {
    fprintf(f, "Index `exact`, %" PRId64 " shards.\n\n", o->shards);
  }
  /* timings vary from run to run: one block, delimited for tools that compare runs */
  fprintf(f, "<!-- timing -->\nTiming (wall seconds, slowest rank; image and caption indices together):\n\n"
             "| index | build s | label q/s | caption → image q/s | image → caption q/s | image → image q/s |\n"
             "|---|---:|---:|---:|---:|---:|\n");
  for (int r = 0; r < (o->forest ? 2 : 1); r++) {
    fprintf(f, "| %s | %.3f", r ? "forest" : "exact", o->build_s[r]);
    for (int qs = 0; qs < QS_ALL; qs++) {
      if (o->have_qs[qs]) fprintf(f, " | %.0f", o->qps[r][qs]);
      else fprintf(f, " | –");
    }
    fprintf(f, " |\n");
  }
  fprintf(f, "<!-- /timing -->\n\n");
}

/* search.* index keys -> o->ip, o->shards (ranges are checked by the config table) */
static void index_params(hp_stage_ctx *ctx, int64_t E, search_out *o) {
  o->forest = strcmp(hp_cfg_str(ctx->cfg, "search.index"), "forest") == 0;
  hp_index_params_default(&o->ip, o->forest ? HP_INDEX_FOREST : HP_INDEX_EXACT, E);
  o->ip.n_trees = (int)hp_cfg_int(ctx->cfg, "search.trees");
  o->ip.leaf_size = (int)hp_cfg_int(ctx->cfg, "search.leaf_size");
  o->ip.search_k = hp_cfg_int(ctx->cfg, "search.search_k");
  if (o->ip.search_k <= 0) o->ip.search_k = (int64_t)o->ip.n_trees * o->ip.leaf_size;
  o->ip.seed = (uint64_t)hp_cfg_int(ctx->cfg, "search.seed");
  o->shards = hp_cfg_int(ctx->cfg, "search.shards");
  o->shard_rows = hp_cfg_int(ctx->cfg, "search.shard_rows");
  o->save = hp_cfg_bool(ctx->cfg, "search.save_index");
}

int hp_stage_search(hp_stage_ctx *ctx) {
  char epath[4096], cpath[4096], dpath[4096];
  HP_CALL(hp_run_path(ctx, HP_FILE_EMBEDDINGS, epath, sizeof epath));
  HP_CALL(hp_run_path(ctx, HP_FILE_CKPT, cpath, sizeof cpath));
  HP_CALL(hp_run_path(ctx, HP_FILE_DATASET, dpath, sizeof dpath));
  hp_embeddings em;
  HP_CALL(hp_embeddings_open(ctx->comm, epath, &em));
  search_out o;
  memset(&o, 0, sizeof o);
  o.prompt = hp_cfg_str(ctx->cfg, "search.prompt");
  o.split = hp_cfg_str(ctx->cfg, "search.split");
  o.conv = strcmp(hp_cfg_str(ctx->cfg, "search.convention"), "retrieved") == 0;
  o.model = em.model;
  o.L = em.n_labels;
  o.names = em.label_names;
  index_params(ctx, em.embed_dim, &o);
  o.run_name = hp_cfg_str(ctx->cfg, "run.name");
  HP_CALL(hp_agree(ctx->comm, hp_query_table_parse(ctx->cfg, o.names, o.L, &o.qt)));
  int split = hp_eval_split_code(o.split);
  double t0 = hp_now();
  hp_eval_images im;
  int64_t r0, rn;
  const shard_layout lay = layout_of(&o, em.n_images);
  rank_rows(&lay, ctx->size, ctx->rank, &r0, &rn);
  HP_CALL(hp_eval_load_image_rows(ctx, &em, split, o.L > 0, 0, r0, rn, &im));
  if (im.total == 0)
    HP_ERROR(HP_ERR_INPUT, "%s: no images in the '%s' split (search.split)", epath, o.split);
  /* every rank: the split of every image and the image of every caption (1 + 8 bytes a row) */
  uint8_t *sp = NULL;
  int64_t *capimg = NULL;
  HP_CALLOC(sp, em.n_images, "split");
  HP_CALLOC(capimg, em.n_captions > 0 ? em.n_captions : 1, "caption images");
  HP_CALL(hp_embeddings_read_split(&em, 0, em.n_images, sp));
  HP_CALL(hp_embeddings_read_caption_image(&em, capimg));
  const row_sel rs = {sp, capimg, split};
  hp_index *ix = NULL;
  char ipath[4096];
  HP_CALL(hp_run_path(ctx, HP_FILE_INDEX, ipath, sizeof ipath));
  int have = access(ipath, R_OK) == 0, all = 0;
  HP_MPI(MPI_Allreduce(&have, &all, 1, MPI_INT, MPI_MIN, ctx->comm));
  HP_CALL(build_index(ctx, &o, &em, 0, &rs, em.n_images, o.save && o.forest && all ? ipath : NULL, &ix));
  hp_log_info("search: %s index over %" PRId64 " images in %" PRId64 " shards built in %.2f s",
              o.forest ? "forest" : "exact", im.total, lay.shards, o.build_s[o.forest]);
  o.shards = lay.shards;
  if (o.save) {
    HP_CALL(hp_index_save(ix, ipath));
    hp_log_info("search: image index saved to %s", ipath);
  }
  if (hp_cfg_int(ctx->cfg, "search.export_knn") > 0) {
    HP_CALL(hp_search_neighbours(ctx, &em, ix, sp, split, o.split, o.forest ? "forest" : "exact", &o.nb));
    o.dedup_t = hp_cfg_float(ctx->cfg, "search.dedup_threshold");
    o.knn = hp_cfg_int(ctx->cfg, "search.export_knn");
  }
  hp_clip_eval ev;
  if (o.L > 0) {
    HP_CALL(hp_clip_eval_load(ctx->comm, ctx->cfg, cpath, em.image_size, (int)hp_cfg_int(ctx->cfg, "embed.batch"), &ev));
    if (strcmp(ev.m.desc, em.model) != 0 || strcmp(ev.fingerprint, em.model_fingerprint) != 0)
      HP_ERROR(HP_ERR_INPUT, "%s: embeddings of model %s (checkpoint %s), but %s holds %s (checkpoint %s): rerun embed",
               epath, em.model, em.model_fingerprint, cpath, ev.m.desc, ev.fingerprint);
    HP_CALLOC(o.relevant, o.L, "relevant counts");
    for (int m = 0; m < 7; m++) HP_CALLOC(o.m[m], o.L * 3, "per-class metrics");
    HP_CALL(label_search(ctx, &ev, &im, ix, o.L, &o));
    HP_CALL(hp_query_table_run(ctx, &ev, &im, ix, o.L, &o.qt));
    hp_clip_eval_free(&ev);
    hp_log_info("search: %" PRId64 " label queries over %" PRId64 " '%s' images in %.2f s", o.L, im.total, o.split,
                hp_now() - t0);
    if (o.best >= 0) {
      int64_t rows[2] = {o.best, o.worst};
      int64_t ids[2 * 5];
      uint8_t rel[2 * 5];
      for (int r = 0; r < 2; r++)
        for (int j = 0; j < 5; j++) {
          ids[r * 5 + j] = o.top[rows[r] * KMAX + j];
          rel[r * 5 + j] = o.rel[rows[r] * KMAX + j];
        }
      char ppath[4096];
      HP_CALL(hp_run_path(ctx, HP_FILE_SEARCH_PNG, ppath, sizeof ppath));
      HP_CALL(hp_search_png(ctx->comm, dpath, ppath, 2, 5, ids, rel));
      o.png = 1;
    }
  } else {
    hp_log_info("search: %s has no labels: label-query retrieval skipped", epath);
  }
  double t1 = hp_now();
  HP_CALL(clip_protocol(ctx, &em, &im, ix, &rs, &o));
  hp_log_info("search: CLIP protocol (%" PRId64 " images, %" PRId64 " captions) in %.2f s", o.n_images, o.n_captions,
              hp_now() - t1);
  for (int r = 0; r < 1 + o.forest; r++)
    if (o.have_qs[QS_C2I] && o.qps[r][QS_C2I] > 0)
      hp_stage_rate(ctx, r ? "caption->image queries (forest)" : "caption->image queries (exact)", (double)o.n_captions,
                    (double)o.n_captions / o.qps[r][QS_C2I]);
  if (o.forest)
    hp_log_info("search: forest recall@10 against exact: label %.4f, caption->image %.4f, image->caption %.4f, "
                "image->image %.4f", o.recall[QS_LABEL], o.recall[QS_C2I], o.recall[QS_I2C], o.recall[QS_I2I]);
  if (o.L > 0)
    hp_log_info("search: image->image (%" PRId64 " images, 10 nearest others): P@1 %.3f P@5 %.3f P@10 %.3f sharing a "
                "label with the query", o.n_images, o.i2i[0], o.i2i[1], o.i2i[2]);
  HP_CALL(hp_eval_write_results(ctx, "search", &em, write_group, &o));
  HP_CALL(hp_eval_write_markdown(ctx, HP_FILE_STAGE_MD("search"), markdown, &o));
  hp_index_free(ix);
  hp_eval_images_free(&im);
  free(sp);
  free(capimg);
  free(o.relevant);
  free(o.top);
  free(o.rel);
  free(o.topsc);
  for (int m = 0; m < 7; m++) free(o.m[m]);
  hp_query_table_free(&o.qt);
  hp_embeddings_close(&em);
  return 0;
}
