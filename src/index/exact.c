/* exact.c — blocked exact top-k by inner product.
 *
 * The (queries x rows) score matrix is never materialised: work items are tiles of tile_q
 * queries x tile_n rows; each OpenMP thread takes tiles (rows-major order, so consecutive tiles
 * share the rows block in cache), computes the tile with one single-threaded cblas_sgemm into
 * its private buffer (OpenMP OpenBLAS runs sgemm on the calling thread inside a parallel
 * region) and streams each query's row of scores against that thread's fixed-size heap: eight
 * scores at a time are compared with the heap's worst, and only those that can enter it are
 * pushed (about k ln(n/k) pushes per query). Thread heaps are merged at the end. The top-k
 * is a total order (score, then id), so results do not depend on the thread count or tiles.
 * Queries are processed in chunks so the thread heaps stay small for any nq. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define HP_IX_AVX 1
#endif

#include "base/error.h"
#include "index/index_impl.h"

#define QUERY_CHUNK 4096

void hp_topk_init(hp_index_hit *h, int k) {
  for (int i = 0; i < k; i++) {
    h[i].score = -INFINITY;
    h[i].pad_ = 0;
    h[i].id = -1;
  }
}

void hp_topk_finish(hp_index_hit *h, int k, int64_t *ids, float *scores) {
  /* heap sort: repeatedly move the worst to the end */
  for (int m = k; m > 0; m--) {
    hp_index_hit worst = h[0];
    hp_index_hit last = h[m - 1];
    int i = 0, n = m - 1;
    for (;;) {
      int l = 2 * i + 1, r = l + 1, w = i;
      hp_index_hit wv = last;
      if (l < n && hp_hit_better(wv.score, wv.id, h[l].score, h[l].id)) { w = l; wv = h[l]; }
      if (r < n && hp_hit_better(wv.score, wv.id, h[r].score, h[r].id)) w = r;
      if (w == i) break;
      h[i] = h[w];
      i = w;
    }
    if (n > 0) h[i] = last;
    ids[m - 1] = worst.id;
    scores[m - 1] = worst.score;
  }
}

float hp_index_dot(const float *a, const float *b, int64_t n) {
  int64_t i = 0;
#ifdef HP_IX_AVX
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(),
         s3 = _mm256_setzero_ps();
  for (; i + 32 <= n; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  float acc = _mm_cvtss_f32(h);
#else
  float p[8] = {0};
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) p[j] += a[i + j] * b[i + j];
  float acc = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
#endif
  for (; i < n; i++) acc += a[i] * b[i];
  return acc;
}

/* Offer one query's row of tile scores s[0..m) (rows xb, ids rid) to its heap h. The heap holds
 * hp_index_dot scores, whose value does not depend on where the row sits in a tile (sgemm's
 * last bits do): a tile score within `margin` (a bound on |sgemm - dot|) of the heap's worst is
 * re-scored with hp_index_dot before it is offered, so the result is the top-k by
 * hp_index_dot exactly, for any tiling, thread or rank count. */
static void scan_row(const float *s, const float *xb, const int64_t *rid, int64_t m,
                     const float *qv, int64_t d, float margin, hp_index_hit *h, int k) {
  int64_t j = 0;
  float thr = h[0].score - margin;
#ifdef HP_IX_AVX
  __m256 vt = _mm256_set1_ps(thr);
  for (; j + 8 <= m; j += 8) {
    int mask = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(s + j), vt, _CMP_GE_OQ));
    if (!mask) continue;
    while (mask) {
      int b = __builtin_ctz((unsigned)mask);
      mask &= mask - 1;
      if (s[j + b] < thr) continue;
      hp_topk_push(h, k, hp_index_dot(xb + (j + b) * d, qv, d), rid[j + b]);
      thr = h[0].score - margin;
    }
    vt = _mm256_set1_ps(thr);
  }
#endif
  for (; j < m; j++)
    if (s[j] >= thr) {
      hp_topk_push(h, k, hp_index_dot(xb + j * d, qv, d), rid[j]);
      thr = h[0].score - margin;
    }
}

int hp_exact_topk(const float *x, const int64_t *ids, int64_t n, int64_t dim, double xmax2,
                  const float *q, int64_t nq, int k, int64_t tile_q, int64_t tile_n, hp_index_hit *h) {
  if (n <= 0 || nq <= 0) return 0;
  if (dim > INT32_MAX) HP_ERROR(HP_ERR_CONFIG, "index: dimension %lld too large for BLAS", (long long)dim);
  if (tile_q <= 0) tile_q = HP_INDEX_TILE_Q;
  if (tile_n <= 0) tile_n = HP_INDEX_TILE_N;
  if (tile_q > QUERY_CHUNK) tile_q = QUERY_CHUNK;
  if (tile_n > INT32_MAX / 2) tile_n = INT32_MAX / 2;
  int nthreads = 1;
#ifdef _OPENMP
  nthreads = omp_get_max_threads();
#endif
  int64_t chunk = nq < QUERY_CHUNK ? nq : QUERY_CHUNK;
  if (tile_q > chunk) tile_q = chunk;
  if (tile_n > n) tile_n = n;
  size_t tile_elems, heap_elems;
  HP_CALL(hp_mul_size((size_t)tile_q, (size_t)tile_n, &tile_elems));
  HP_CALL(hp_mul_size((size_t)chunk, (size_t)k, &heap_elems));
  float *tiles = NULL;
  hp_index_hit *heaps = NULL;
  size_t all_tiles, all_heaps;
  HP_CALL(hp_mul_size(tile_elems, (size_t)nthreads, &all_tiles));
  HP_CALL(hp_mul_size(heap_elems, (size_t)nthreads, &all_heaps));
  HP_CALLOC(tiles, all_tiles, "index: score tiles");
  HP_CALLOC(heaps, all_heaps, "index: per-thread top-k heaps");

  /* |sgemm - hp_index_dot| <= 2 (dim + 2) u sum|q_i x_i| <= 2 (dim + 2) u |q| max|x|, u = 2^-24
   * (both are float sums of dim products, FMA or not; +2 for a K-blocked sgemm's extra adds) */
  float *margin = NULL;
  HP_CALLOC(margin, (size_t)nq, "index: selection margins");
  for (int64_t i = 0; i < nq; i++) {
    double t = 0;
    for (int64_t e = 0; e < dim; e++) t += (double)q[i * dim + e] * q[i * dim + e];
    margin[i] = (float)(2.0 * (double)(dim + 2) * 0x1p-24 * sqrt(t * xmax2) * 1.01 + 1e-30);
  }
  for (int64_t c0 = 0; c0 < nq; c0 += chunk) {
    int64_t cq = nq - c0 < chunk ? nq - c0 : chunk;
    const float *qc = q + c0 * dim;
    int64_t nqb = (cq + tile_q - 1) / tile_q, nnb = (n + tile_n - 1) / tile_n;
    int64_t items = nqb * nnb;
    for (size_t i = 0; i < (size_t)nthreads * (size_t)cq; i++) hp_topk_init(heaps + i * (size_t)k, k);
#ifdef _OPENMP
#pragma omp parallel num_threads(nthreads)
#endif
    {
      int tid = 0;
#ifdef _OPENMP
      tid = omp_get_thread_num();
#endif
      float *s = tiles + (size_t)tid * tile_elems;
      hp_index_hit *th = heaps + (size_t)tid * heap_elems;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
      for (int64_t it = 0; it < items; it++) {
        int64_t nb = it / nqb, qb = it % nqb;
        int64_t r0 = nb * tile_n, q0 = qb * tile_q;
        int64_t m = n - r0 < tile_n ? n - r0 : tile_n;
        int64_t mq = cq - q0 < tile_q ? cq - q0 : tile_q;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)mq, (int)m, (int)dim, 1.0f,
                    qc + q0 * dim, (int)dim, x + r0 * dim, (int)dim, 0.0f, s, (int)m);
        for (int64_t i = 0; i < mq; i++)
          scan_row(s + i * m, x + r0 * dim, ids + r0, m, qc + (q0 + i) * dim, dim,
                   margin[c0 + q0 + i], th + (size_t)(q0 + i) * (size_t)k, k);
      }
    }
    /* merge the thread heaps into the caller's */
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nthreads)
#endif
    for (int64_t i = 0; i < cq; i++) {
      hp_index_hit *dst = h + (size_t)(c0 + i) * (size_t)k;
      for (int t = 0; t < nthreads; t++) {
        const hp_index_hit *src = heaps + (size_t)t * heap_elems + (size_t)i * (size_t)k;
        for (int j = 0; j < k; j++)
          if (src[j].id >= 0) hp_topk_push(dst, k, src[j].score, src[j].id);
      }
    }
  }
  free(tiles);
  free(heaps);
  free(margin);
  return 0;
}
