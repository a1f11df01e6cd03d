/* search_neighbours.c — see search_neighbours.h. */
#include "stages/search_neighbours.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "comm/shard.h"
#include "io/neighbours.h"

#define BLOCK 2048  /* queries per collective search */
#define SPAN 16384  /* image rows rank 0 reads for one block at most (a sparse split: smaller blocks) */

typedef struct {
  int64_t a, b;
  float s;
} pair;

static int same_pair(const pair *p, const pair *q) { return p->a == q->a && p->b == q->b; }

/* by (a, b), then the higher score first: a pair met in both lists keeps its best score */
static int cmp_pair(const void *x, const void *y) {
  const pair *p = x, *q = y;
  if (p->a != q->a) return p->a < q->a ? -1 : 1;
  if (p->b != q->b) return p->b < q->b ? -1 : 1;
  return p->s > q->s ? -1 : p->s < q->s ? 1 : 0;
}

/* ids [NI] of the split's images -> nbr, sc [NI,K]: each image's K + 1 nearest through ix,
 * itself out (a list without itself loses its last), in collective blocks of at most BLOCK
 * queries within SPAN image rows, which rank 0 reads and broadcasts (memory bounded however
 * sparse the split is) */
static int knn_rows(hp_stage_ctx *ctx, hp_embeddings *em, hp_index *ix, const int64_t *ids, int64_t NI, int64_t K,
                    int64_t *nbr, float *sc) {
  const int64_t E = em->embed_dim;
  int64_t *qid = calloc((size_t)BLOCK * (size_t)(K + 1), sizeof *qid);
  float *q = calloc((size_t)BLOCK * (size_t)E, sizeof *q), *qsc = calloc((size_t)BLOCK * (size_t)(K + 1), sizeof *qsc);
  float *rows = calloc(ctx->rank == 0 ? (size_t)SPAN * (size_t)E : 1, sizeof *rows);
  int err = hp_agree(ctx->comm, qid && q && qsc && rows ? 0 : HP_ERROR_SET(HP_ERR_MEM, "neighbour queries"));
  for (int64_t b0 = 0, bn = 0; !err && b0 < NI; b0 += bn) {
    /* a block: at most BLOCK queries whose rows lie within SPAN rows (the same on every rank) */
    int64_t r0 = ids[b0];
    bn = 1;
    while (b0 + bn < NI && bn < BLOCK && ids[b0 + bn] - r0 < SPAN) bn++;
    int64_t span = ids[b0 + bn - 1] - r0 + 1;
    err = hp_agree(ctx->comm, hp_embeddings_read_images(em, r0, ctx->rank == 0 ? span : 0, rows));
    if (err) break;
    if (ctx->rank == 0)
      for (int64_t i = 0; i < bn; i++) memcpy(q + i * E, rows + (ids[b0 + i] - r0) * E, (size_t)E * sizeof *q);
    if (MPI_Bcast(q, (int)(bn * E), MPI_FLOAT, 0, ctx->comm) != MPI_SUCCESS) {
      err = HP_ERROR_SET(HP_ERR_MPI, "search: broadcasting neighbour queries failed");
      break;
    }
    err = hp_index_search(ix, bn, q, (int)(K + 1), qid, qsc);
    for (int64_t i = 0; !err && i < bn; i++) {
      const int64_t self = ids[b0 + i], *a = qid + i * (K + 1);
      const float *s = qsc + i * (K + 1);
      int64_t *o = nbr + (b0 + i) * K, n = 0;
      float *os = sc + (b0 + i) * K;
      for (int64_t j = 0; j <= K && n < K; j++) {
        if (a[j] == self) continue;
        o[n] = a[j];
        os[n++] = s[j];
      }
    }
  }
  free(rows);
  free(q);
  free(qid);
  free(qsc);
  return err;
}

/* the pairs (a < b, sorted, each once) of the lists at score >= t -> *pairs [*np,2], *scores */
static int dedup_pairs(const int64_t *ids, int64_t NI, int64_t K, const int64_t *nbr, const float *sc, double t,
                       int64_t **pairs_out, float **scores_out, int64_t *np_out) {
  pair *pairs = NULL;
  int64_t np = 0, cap = 0;
  for (int64_t i = 0; t > 0 && i < NI; i++)
    for (int64_t j = 0; j < K; j++) {
      int64_t b = nbr[i * K + j], a = ids[i];
      if (b < 0 || !(sc[i * K + j] >= (float)t)) continue;
      if (np == cap) {
        cap = cap ? 2 * cap : 1024;
        pair *p = realloc(pairs, (size_t)cap * sizeof *p);
        if (!p) {
          free(pairs);
          HP_ERROR(HP_ERR_MEM, "near-duplicate pairs");
        }
        pairs = p;
      }
      pairs[np++] = (pair){a < b ? a : b, a < b ? b : a, sc[i * K + j]};
    }
  if (np) qsort(pairs, (size_t)np, sizeof *pairs, cmp_pair);
  int64_t u = 0;
  for (int64_t i = 0; i < np; i++)
    if (u == 0 || !same_pair(&pairs[u - 1], &pairs[i])) pairs[u++] = pairs[i];
  int64_t *pp = calloc((size_t)(2 * (u > 0 ? u : 1)), sizeof *pp);
  float *ps = calloc((size_t)(u > 0 ? u : 1), sizeof *ps);
  if (!pp || !ps) {
    free(pairs);
    free(pp);
    free(ps);
    HP_ERROR(HP_ERR_MEM, "near-duplicate pairs");
  }
  for (int64_t i = 0; i < u; i++) {
    pp[2 * i] = pairs[i].a;
    pp[2 * i + 1] = pairs[i].b;
    ps[i] = pairs[i].s;
  }
  free(pairs);
  *pairs_out = pp;
  *scores_out = ps;
  *np_out = u;
  return 0;
}

int hp_search_neighbours(hp_stage_ctx *ctx, hp_embeddings *em, hp_index *ix, const uint8_t *sp, int split,
                         const char *split_name, const char *index_kind, hp_neighbours_summary *out) {
  const hp_config *cfg = ctx->cfg;
  const int64_t K = hp_cfg_int(cfg, "search.export_knn"), N = em->n_images;
  const double t = hp_cfg_float(cfg, "search.dedup_threshold");
  memset(out, 0, sizeof *out);
  double t0 = hp_now();
  int64_t NI = 0;
  for (int64_t i = 0; i < N; i++) NI += split < 0 || sp[i] == split;
  /* every rank keeps every row (NI * K * 12 bytes: 14 MB for 118k images at K = 10) */
  int64_t *ids = NULL, *nbr = NULL, *pp = NULL, np = 0;
  float *sc = NULL, *ps = NULL;
  HP_CALLOC(ids, NI > 0 ? NI : 1, "neighbour ids");
  HP_CALLOC(nbr, NI * K > 0 ? NI * K : 1, "neighbours");
  HP_CALLOC(sc, NI * K > 0 ? NI * K : 1, "neighbour scores");
  for (int64_t i = 0, j = 0; i < N; i++)
    if (split < 0 || sp[i] == split) ids[j++] = i;
  int err = knn_rows(ctx, em, ix, ids, NI, K, nbr, sc);
  if (!err) err = dedup_pairs(ids, NI, K, nbr, sc, t, &pp, &ps, &np);
  uint8_t *dup = err ? NULL : calloc((size_t)(N > 0 ? N : 1), 1);
  if (!err && !dup) err = HP_ERROR_SET(HP_ERR_MEM, "duplicate flags");
  for (int64_t i = 0; !err && i < np; i++) dup[pp[2 * i]] = dup[pp[2 * i + 1]] = 1;
  for (int64_t i = 0; !err && i < N; i++) out->n_dup_images += dup[i];
  free(dup);
  char path[4200], *config_text = NULL;
  if (!err) err = hp_run_path(ctx, HP_FILE_NEIGHBOURS, path, sizeof path);
  if (!err) err = hp_config_dump(cfg, &config_text);
  hp_neighbours_meta m = {.n = NI, .k = K, .config_text = config_text ? config_text : "", .fingerprint = ctx->fingerprint,
                          .model = em->model, .model_fingerprint = em->model_fingerprint,
                          .embeddings_fingerprint = em->fingerprint, .split = split_name, .index = index_kind,
                          .dedup_threshold = t, .n_pairs = np, .pairs = pp, .pair_scores = ps};
  int64_t w0, wn;
  hp_shard_range(NI, ctx->size, ctx->rank, &w0, &wn);
  err = hp_agree(ctx->comm, err); /* the write is collective */
  if (!err) err = hp_neighbours_write(ctx->comm, path, &m, w0, wn, ids + w0, nbr + w0 * K, sc + w0 * K);
  free(config_text);
  free(pp);
  free(ps);
  free(ids);
  free(nbr);
  free(sc);
  HP_CALL(err);
  out->n_images = NI;
  out->n_pairs = np;
  out->seconds = hp_now() - t0;
  hp_log_info("search: %" PRId64 " images' %" PRId64 " nearest neighbours (%s) -> %s in %.2f s", NI, K, index_kind, path,
              out->seconds);
  if (t > 0)
    hp_log_info("search: %" PRId64 " near-duplicate pairs at cosine >= %g, %" PRId64 " images in them", np, t,
                out->n_dup_images);
  return 0;
}
