/* forest.c — Annoy-style random-projection forest over one shard.
 *
 * Build. Each tree starts from the identity permutation of the shard's rows and splits ranges
 * recursively (preorder, so a tree's root is its first node): a short two-means run on items
 * sampled from the range gives two centroids c0, c1; the split is the hyperplane between them
 * (unit normal c1 - c0, through their midpoint) and the range is partitioned in place by the
 * sign of the margin. A split leaving more than 95% on one side is retried (3 times), then
 * replaced by a random halving (plane -1: margin 0, both sides searched alike) — this is what
 * bounds the depth on duplicated rows. Ranges of <= leaf_size rows become leaves: a leaf is
 * a slice of its tree's permutation, so the items array holds exactly n_trees * n entries.
 * Tree t is built by one thread from its own counter-based stream, then the trees are
 * concatenated in order into flat arrays (nodes, planes, items): bitwise the same forest for
 * any thread count.
 *
 * Search. One max-priority queue over (bound, node) across all trees, seeded with every root
 * at +inf; an internal node pushes both children with min(bound, +margin) and min(bound,
 * -margin); leaves add their rows to the candidate set (deduplicated with a per-thread stamp
 * array) until search_k distinct candidates are held; the candidates are re-ranked exactly by
 * dot product into the query's top-k heap. OpenMP over queries. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include "base/error.h"
#include "base/rng.h"
#include "index/index_impl.h"

#define MAX_IMBALANCE 0.95
#define SPLIT_TRIES 3

typedef struct {
  const float *x;
  int64_t n, dim;
  int leaf_size, iters;
  uint32_t *perm;   /* this tree's slice of the items array */
  int64_t item0;    /* offset of perm in the shard's items array */
  hp_fnode *nodes;
  int64_t n_nodes, cap_nodes;
  float *planes;
  int64_t n_planes, cap_planes;
  uint8_t *side;    /* [n] scratch */
  float *c0, *c1;   /* [dim] scratch */
  hp_rng rng;
} tree_ctx;

static int grow(void **p, int64_t *cap, int64_t need, size_t elem) {
  if (need <= *cap) return 0;
  int64_t c = *cap ? *cap : 64;
  while (c < need) c *= 2;
  if ((uint64_t)c > SIZE_MAX / elem) return HP_ERR_MEM;
  void *q = realloc(*p, (size_t)c * elem);
  if (!q) return HP_ERR_MEM;
  *p = q;
  *cap = c;
  return 0;
}

/* Rows are visited in random order: fetch the whole next row while this one is used. */
static inline void prefetch_row(const float *row, int64_t d) {
  const char *p = (const char *)row;
  for (int64_t b = 0; b < d * (int64_t)sizeof(float); b += 64) __builtin_prefetch(p + b);
}

static float sqdist(const float *a, const float *b, int64_t d) {
  int64_t i = 0;
  float s = 0;
#if defined(__AVX2__) && defined(__FMA__)
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  for (; i + 16 <= d; i += 16) {
    __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    __m256 t1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    s0 = _mm256_fmadd_ps(t0, t0, s0);
    s1 = _mm256_fmadd_ps(t1, t1, s1);
  }
  float lanes[8];
  _mm256_storeu_ps(lanes, _mm256_add_ps(s0, s1));
  for (int j = 0; j < 8; j++) s += lanes[j];
#endif
  for (; i < d; i++) {
    float t = a[i] - b[i];
    s += t * t;
  }
  return s;
}

/* Two-means on items of perm[lo, hi): unit normal into `normal`, returns 0 or -1 (degenerate). */
static int two_means(tree_ctx *t, int64_t lo, int64_t hi, float *normal, float *bias) {
  int64_t cnt = hi - lo, d = t->dim;
  uint64_t i = hp_rng_below(&t->rng, (uint64_t)cnt);
  uint64_t j = hp_rng_below(&t->rng, (uint64_t)(cnt - 1));
  if (j >= i) j++;
  memcpy(t->c0, t->x + (int64_t)t->perm[lo + (int64_t)i] * d, (size_t)d * sizeof(float));
  memcpy(t->c1, t->x + (int64_t)t->perm[lo + (int64_t)j] * d, (size_t)d * sizeof(float));
  float n0 = 1, n1 = 1;
  for (int it = 0; it < t->iters; it++) {
    const float *v = t->x + (int64_t)t->perm[lo + (int64_t)hp_rng_below(&t->rng, (uint64_t)cnt)] * d;
    float d0 = n0 * sqdist(t->c0, v, d), d1 = n1 * sqdist(t->c1, v, d);
    float *c = NULL, *w = NULL;
    if (d0 < d1) { c = t->c0; w = &n0; }
    else if (d1 < d0) { c = t->c1; w = &n1; }
    if (!c) continue;
    float a = *w / (*w + 1), b = 1 / (*w + 1);
    for (int64_t e = 0; e < d; e++) c[e] = c[e] * a + v[e] * b;
    *w += 1;
  }
  double nn = 0, off = 0;
  for (int64_t e = 0; e < d; e++) {
    normal[e] = t->c1[e] - t->c0[e];
    nn += (double)normal[e] * normal[e];
  }
  if (!(nn > 0)) return -1;
  float inv = (float)(1.0 / sqrt(nn));
  for (int64_t e = 0; e < d; e++) {
    normal[e] *= inv;
    off += (double)normal[e] * 0.5 * ((double)t->c0[e] + t->c1[e]);
  }
  *bias = (float)-off;
  return 0;
}

/* Partition perm[lo, hi) so side-0 items come first; returns the split point. Stable order is
 * not needed, only determinism. */
static int64_t partition(tree_ctx *t, int64_t lo, int64_t hi) {
  int64_t a = lo, b = hi - 1;
  while (a <= b) {
    if (!t->side[a - lo]) { a++; continue; }
    uint32_t tp = t->perm[a];
    uint8_t ts = t->side[a - lo];
    t->perm[a] = t->perm[b];
    t->side[a - lo] = t->side[b - lo];
    t->perm[b] = tp;
    t->side[b - lo] = ts;
    b--;
  }
  return a;
}

static int build_range(tree_ctx *t, int64_t lo, int64_t hi, int32_t *out) {
  int64_t cnt = hi - lo;
  if (t->n_nodes >= INT32_MAX) return HP_ERR_MEM;
  int rc = grow((void **)&t->nodes, &t->cap_nodes, t->n_nodes + 1, sizeof(hp_fnode));
  if (rc) return rc;
  int32_t me = (int32_t)t->n_nodes++;
  hp_fnode *nd = &t->nodes[me];
  memset(nd, 0, sizeof *nd);
  *out = me;
  if (cnt <= t->leaf_size) {
    nd->c0 = nd->c1 = -1;
    nd->n = (int32_t)cnt;
    nd->plane = -1;
    nd->start = t->item0 + lo;
    return 0;
  }
  rc = grow((void **)&t->planes, &t->cap_planes, (t->n_planes + 1) * t->dim, sizeof(float));
  if (rc) return rc;
  float *normal = t->planes + t->n_planes * t->dim;
  float bias = 0;
  int64_t mid = -1;
  for (int tr = 0; tr < SPLIT_TRIES && mid < 0; tr++) {
    if (two_means(t, lo, hi, normal, &bias)) continue;
    int64_t ones = 0;
    for (int64_t i = lo; i < hi; i++) {
      if (i + 1 < hi) prefetch_row(t->x + (int64_t)t->perm[i + 1] * t->dim, t->dim);
      float m = hp_index_dot(normal, t->x + (int64_t)t->perm[i] * t->dim, t->dim) + bias;
      t->side[i - lo] = m > 0;
      ones += m > 0;
    }
    double big = (double)(ones > cnt - ones ? ones : cnt - ones) / (double)cnt;
    if (big <= MAX_IMBALANCE) mid = partition(t, lo, hi);
  }
  int32_t plane = -1;
  if (mid < 0) { /* random halving */
    for (int64_t i = hi - 1; i > lo; i--) {
      int64_t j = lo + (int64_t)hp_rng_below(&t->rng, (uint64_t)(i - lo + 1));
      uint32_t tp = t->perm[i];
      t->perm[i] = t->perm[j];
      t->perm[j] = tp;
    }
    mid = lo + cnt / 2;
    bias = 0;
  } else {
    if (t->n_planes >= INT32_MAX) return HP_ERR_MEM;
    plane = (int32_t)t->n_planes++;
  }
  int32_t c0 = -1, c1 = -1;
  rc = build_range(t, lo, mid, &c0);
  if (rc) return rc;
  rc = build_range(t, mid, hi, &c1);
  if (rc) return rc;
  nd = &t->nodes[me]; /* nodes may have moved */
  nd->c0 = c0;
  nd->c1 = c1;
  nd->n = 0;
  nd->plane = plane;
  nd->bias = bias;
  nd->start = 0;
  return 0;
}

static uint64_t tree_key(const int64_t *ids, int64_t n, int tree) {
  return hp_mix64((uint64_t)(n > 0 ? ids[0] : 0) * 0x9e3779b97f4a7c15ULL ^ (uint64_t)tree);
}

void hp_forest_free_shard(hp_ishard *s) {
  free(s->nodes);
  free(s->planes);
  free(s->items);
  free(s->roots);
  s->nodes = NULL;
  s->planes = NULL;
  s->items = NULL;
  s->roots = NULL;
  s->n_nodes = s->n_planes = 0;
}

int hp_forest_build_shard(const hp_index_params *p, const float *x, const int64_t *ids,
                          hp_ishard *s) {
  int64_t n = s->n, d = p->dim;
  int T = p->n_trees;
  if (n > (int64_t)UINT32_MAX) HP_ERROR(HP_ERR_CONFIG, "index: a forest shard holds at most 2^32-1 rows, got %lld", (long long)n);
  hp_forest_free_shard(s);
  HP_CALLOC(s->roots, T, "index: forest roots");
  size_t nitems;
  HP_CALL(hp_mul_size((size_t)n, (size_t)T, &nitems));
  HP_CALLOC(s->items, nitems ? nitems : 1, "index: forest leaf items");
  tree_ctx *trees = NULL;
  int *errs = NULL;
  HP_CALLOC(trees, T, "index: forest build state");
  HP_CALLOC(errs, T, "index: forest build state");
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1)
#endif
  for (int t = 0; t < T; t++) {
    tree_ctx *c = &trees[t];
    c->x = x;
    c->n = n;
    c->dim = d;
    c->leaf_size = p->leaf_size;
    c->iters = p->two_means_iters;
    c->perm = s->items + (size_t)t * (size_t)n;
    c->item0 = (int64_t)t * n;
    c->rng = hp_rng_make(p->seed, HP_STREAM_INDEX_FOREST, tree_key(ids, n, t));
    for (int64_t i = 0; i < n; i++) c->perm[i] = (uint32_t)i;
    c->side = malloc((size_t)(n > 0 ? n : 1));
    c->c0 = malloc((size_t)d * sizeof(float));
    c->c1 = malloc((size_t)d * sizeof(float));
    int32_t root = -1;
    if (!c->side || !c->c0 || !c->c1) errs[t] = HP_ERR_MEM;
    else errs[t] = build_range(c, 0, n, &root);
    free(c->side);
    free(c->c0);
    free(c->c1);
  }
  int err = 0;
  for (int t = 0; t < T; t++) err = err ? err : errs[t];
  int64_t nn = 0, np = 0;
  for (int t = 0; t < T; t++) {
    nn += trees[t].n_nodes;
    np += trees[t].n_planes;
  }
  if (!err && (nn > INT32_MAX || np > INT32_MAX)) err = HP_ERR_MEM;
  if (!err) {
    s->nodes = calloc((size_t)nn, sizeof(hp_fnode));
    s->planes = calloc((size_t)(np ? np : 1) * (size_t)d, sizeof(float));
    if (!s->nodes || !s->planes) err = HP_ERR_MEM;
  }
  if (!err) {
    int64_t b = 0, pb = 0;
    for (int t = 0; t < T; t++) {
      tree_ctx *c = &trees[t];
      s->roots[t] = (int32_t)b;
      for (int64_t i = 0; i < c->n_nodes; i++) {
        hp_fnode v = c->nodes[i];
        if (v.c0 >= 0) {
          v.c0 += (int32_t)b;
          v.c1 += (int32_t)b;
          if (v.plane >= 0) v.plane += (int32_t)pb;
        }
        s->nodes[b + i] = v;
      }
      if (c->n_planes) memcpy(s->planes + pb * d, c->planes, (size_t)(c->n_planes * d) * sizeof(float));
      free(c->nodes); /* now: the peak holds the forest and one tree, not two forests */
      free(c->planes);
      c->nodes = NULL;
      c->planes = NULL;
      b += c->n_nodes;
      pb += c->n_planes;
    }
    s->n_nodes = nn;
    s->n_planes = np;
  }
  for (int t = 0; t < T; t++) {
    free(trees[t].nodes);
    free(trees[t].planes);
  }
  free(trees);
  free(errs);
  if (err) HP_ERROR(err, "index: building a forest of %d trees over %lld rows failed (out of memory)", T, (long long)n);
  return 0;
}

size_t hp_forest_shard_bytes(const hp_index_params *p, const hp_ishard *s) {
  if (!s->nodes && !s->items) return 0;
  return (size_t)s->n_nodes * sizeof(hp_fnode) + (size_t)s->n_planes * (size_t)p->dim * sizeof(float) +
         (size_t)s->n * (size_t)p->n_trees * sizeof(uint32_t) + (size_t)p->n_trees * sizeof(int32_t);
}

int hp_forest_check_shard(const hp_index_params *p, const hp_ishard *s, const char *path) {
  int64_t nitems = s->n * p->n_trees;
  for (int t = 0; t < p->n_trees; t++)
    if (s->roots[t] < 0 || s->roots[t] >= s->n_nodes)
      HP_ERROR(HP_ERR_INPUT, "%s: forest: root %d of a shard is out of range", path, t);
  for (int64_t i = 0; i < s->n_nodes; i++) {
    const hp_fnode *v = &s->nodes[i];
    if (v->c0 < 0) {
      if (v->n < 0 || v->start < 0 || v->start + v->n > nitems)
        HP_ERROR(HP_ERR_INPUT, "%s: forest: leaf %lld out of range", path, (long long)i);
    } else if (v->c0 <= i || v->c1 <= i || v->c0 >= s->n_nodes || v->c1 >= s->n_nodes ||
               v->plane < -1 || v->plane >= s->n_planes) {
      /* preorder: children come after their parent, so no cycles */
      HP_ERROR(HP_ERR_INPUT, "%s: forest: node %lld has children or plane out of range", path, (long long)i);
    }
  }
  for (int64_t i = 0; i < nitems; i++)
    if ((int64_t)s->items[i] >= s->n)
      HP_ERROR(HP_ERR_INPUT, "%s: forest: leaf item %lld out of range", path, (long long)i);
  return 0;
}

/* ---- search ---------------------------------------------------------------------------------- */

typedef struct {
  float pr;
  int32_t node;
} pq_item;

static void pq_push(pq_item *h, int64_t *n, float pr, int32_t node) {
  int64_t i = (*n)++;
  while (i > 0) {
    int64_t par = (i - 1) / 2;
    if (h[par].pr >= pr) break;
    h[i] = h[par];
    i = par;
  }
  h[i].pr = pr;
  h[i].node = node;
}

static pq_item pq_pop(pq_item *h, int64_t *n) {
  pq_item top = h[0], last = h[--(*n)];
  int64_t i = 0, m = *n;
  for (;;) {
    int64_t l = 2 * i + 1, r = l + 1, w = i;
    float wp = last.pr;
    if (l < m && h[l].pr > wp) { w = l; wp = h[l].pr; }
    if (r < m && h[r].pr > wp) w = r;
    if (w == i) break;
    h[i] = h[w];
    i = w;
  }
  if (m > 0) h[i] = last;
  return top;
}

int hp_forest_search_local(hp_index *ix, int64_t nq, const float *q, int k, hp_index_hit *h) {
  const hp_index_params *p = &ix->p;
  int64_t d = p->dim, maxn = 0, maxnodes = 0;
  for (int s = 0; s < ix->n_shards; s++) {
    if (ix->shards[s].n > maxn) maxn = ix->shards[s].n;
    if (ix->shards[s].n_nodes > maxnodes) maxnodes = ix->shards[s].n_nodes;
  }
  if (maxn == 0 || nq == 0) return 0;
  int64_t sk = p->search_k > 0 ? p->search_k : (int64_t)p->n_trees * p->leaf_size;
  if (sk > maxn) sk = maxn;
  int nthreads = 1;
#ifdef _OPENMP
  nthreads = omp_get_max_threads();
#endif
  /* every node is pushed at most once per search */
  pq_item *pqs = NULL;
  uint32_t *stamps = NULL, *cands = NULL;
  size_t pq_all, st_all, cand_all, cand_per = (size_t)sk + (size_t)p->leaf_size;
  HP_CALL(hp_mul_size((size_t)maxnodes + 1, (size_t)nthreads, &pq_all));
  HP_CALL(hp_mul_size((size_t)maxn, (size_t)nthreads, &st_all));
  HP_CALL(hp_mul_size(cand_per, (size_t)nthreads, &cand_all));
  HP_CALLOC(pqs, pq_all, "index: forest search queues");
  HP_CALLOC(stamps, st_all, "index: forest search stamps");
  HP_CALLOC(cands, cand_all, "index: forest search candidates");
#ifdef _OPENMP
#pragma omp parallel num_threads(nthreads)
#endif
  {
    int tid = 0;
#ifdef _OPENMP
    tid = omp_get_thread_num();
#endif
    pq_item *pq = pqs + (size_t)tid * ((size_t)maxnodes + 1);
    uint32_t *st = stamps + (size_t)tid * (size_t)maxn;
    uint32_t *cand = cands + (size_t)tid * cand_per;
    uint32_t stamp = 0;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 8)
#endif
    for (int64_t qi = 0; qi < nq; qi++) {
      const float *qv = q + qi * d;
      hp_index_hit *hq = h + (size_t)qi * (size_t)k;
      for (int si = 0; si < ix->n_shards; si++) {
        const hp_ishard *s = &ix->shards[si];
        if (s->n == 0) continue;
        if (++stamp == 0) { /* wrapped: forget every old stamp */
          memset(st, 0, (size_t)maxn * sizeof *st);
          stamp = 1;
        }
        int64_t np = 0, nc = 0, want = sk < s->n ? sk : s->n;
        for (int t = 0; t < p->n_trees; t++) pq_push(pq, &np, INFINITY, s->roots[t]);
        while (nc < want && np > 0) {
          pq_item top = pq_pop(pq, &np);
          const hp_fnode *v = &s->nodes[top.node];
          if (v->c0 < 0) {
            const uint32_t *it = s->items + v->start;
            for (int32_t j = 0; j < v->n; j++) {
              uint32_t r = it[j];
              if (st[r] != stamp) {
                st[r] = stamp;
                cand[nc++] = r;
              }
            }
          } else {
            float m = v->plane >= 0 ? hp_index_dot(s->planes + (int64_t)v->plane * d, qv, d) + v->bias : 0.0f;
            pq_push(pq, &np, fminf(top.pr, m), v->c1);
            pq_push(pq, &np, fminf(top.pr, -m), v->c0);
          }
        }
        const float *xs = ix->x + s->row0 * d;
        const int64_t *ids = ix->ids + s->row0;
        for (int64_t j = 0; j < nc; j++) {
          if (j + 1 < nc) prefetch_row(xs + (int64_t)cand[j + 1] * d, d);
          float sc = hp_index_dot(xs + (int64_t)cand[j] * d, qv, d);
          hp_topk_push(hq, k, sc, ids[cand[j]]);
        }
      }
    }
  }
  free(pqs);
  free(stamps);
  free(cands);
  return 0;
}
