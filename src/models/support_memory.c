/* support_memory.c — see support_memory.h; the precision argument is in docs/captioning.md.
 *
 * For a block of QB queries and a tile of T = 256 memory rows aligned to the global row index:
 *   1. S = V_blk . Tile^T by sgemm, always with the same shape (QBc x T x d) on a tile buffer
 *      whose rows sit at (global row mod T) and whose rows owned by other ranks (or beyond the
 *      memory's end) are zero — so every row's similarity comes from an identical call,
 *      whatever the sharding;
 *   2. weights on the integer grid: W = min(rint(ReLU(s) 2^(a-eW_q)), 2^a);
 *   3. memory on the integer grid: Mq = rint(m 2^(b-eA)), plus a column of ones;
 *   4. P = W . Mq by dgemm: integer operands with |P| <= T 2^(a+b) <= 2^52, so every partial
 *      sum is an integer below 2^53 and the product is exact in any summation order;
 *   5. int64 accumulators += P (exact: sum over all rows <= N 2^(a+b) < 2^62).
 * One MPI_SUM allreduce of the int64 numerators and denominators per query block; the division
 * and the optional L2 normalisation happen identically on every rank. */
#include "models/support_memory.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "base/error.h"
#include "base/log.h"

#define SM_TILE 256 /* memory rows per tile (2^8: the dgemm exactness bound uses it) */
#define SM_QB 128   /* queries per block (one allreduce each) */

static int ceil_log2_i64(int64_t n) {
  int b = 0;
  while (b < 62 && ((int64_t)1 << b) < n) b++;
  return b;
}

/* fixed-order double dot product */
static double dot_d(const float *x, const float *y, int d) {
  double a[4] = {0, 0, 0, 0};
  int j = 0;
  for (; j + 4 <= d; j += 4)
    for (int l = 0; l < 4; l++) a[l] += (double)x[j + l] * (double)y[j + l];
  for (int l = 0; j < d; j++, l++) a[l] += (double)x[j] * (double)y[j];
  return (a[0] + a[1]) + (a[2] + a[3]);
}

/* the arguments' own consistency (a caller's bug, not bad data) */
static int check_args(const float *mem, int64_t m_local, int d, const float *v, int64_t nq, const float *out) {
  if (d < 1) HP_ERROR(HP_ERR_INTERNAL, "support projection: dimension d = %d, must be >= 1", d);
  if (nq < 0) HP_ERROR(HP_ERR_INTERNAL, "support projection: %lld queries, must be >= 0", (long long)nq);
  if (m_local < 0) HP_ERROR(HP_ERR_INTERNAL, "support projection: %lld local memory rows, must be >= 0", (long long)m_local);
  if (m_local > 0 && !mem) HP_ERROR(HP_ERR_INTERNAL, "support projection: NULL memory with %lld rows", (long long)m_local);
  if (nq > 0 && (!v || !out)) HP_ERROR(HP_ERR_INTERNAL, "support projection: NULL %s with %lld queries", !v ? "queries" : "output", (long long)nq);
  return 0;
}

/* Collective: the global layout (N rows in all, this rank's first global row *g0) and the
 * bounds st = {max |m_ij|, max ||m_i||, non-finite seen} over every rank's rows. */
static int memory_bounds(MPI_Comm comm, int rank, int size, const float *mem, int64_t m_local, int d, int64_t *N,
                         int64_t *g0, double st[3]) {
  int64_t *offs = NULL;
  HP_CALLOC(offs, size + 1, "support projection: rank offsets");
  HP_MPI(MPI_Allgather(&m_local, 1, MPI_INT64_T, offs + 1, 1, MPI_INT64_T, comm));
  for (int r = 0; r < size; r++) offs[r + 1] += offs[r];
  *N = offs[size];
  *g0 = offs[rank];
  free(offs);
  st[0] = st[1] = st[2] = 0;
  for (int64_t i = 0; i < m_local; i++) {
    const float *r = mem + i * (int64_t)d;
    for (int j = 0; j < d; j++) {
      if (!isfinite(r[j])) st[2] = 1;
      double a = fabs((double)r[j]);
      if (a > st[0]) st[0] = a;
    }
    if (st[2] == 0) {
      double nn = sqrt(dot_d(r, r, d));
      if (nn > st[1]) st[1] = nn;
    }
  }
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, st, 3, MPI_DOUBLE, MPI_MAX, comm));
  return 0;
}

/* buffers of one query block and one memory tile */
typedef struct {
  float *tile, *S;           /* [T,d] memory tile, [QB,T] similarities */
  double *Mq, *W, *P, *sw;   /* [T,d+1] fixed-point tile, [QB,T] weights, [QB,d+1] products, [QB] scales */
  int64_t *acc;              /* [QB,d+1] exact sums */
} sm_work;

static int work_alloc(sm_work *w, int64_t T, int d, int64_t dq) {
  HP_CALLOC(w->tile, T * d, "support projection: memory tile");
  HP_CALLOC(w->S, SM_QB * T, "support projection: similarity block");
  HP_CALLOC(w->Mq, T * dq, "support projection: fixed-point memory tile");
  HP_CALLOC(w->W, SM_QB * T, "support projection: fixed-point weights");
  HP_CALLOC(w->P, SM_QB * dq, "support projection: tile products");
  HP_CALLOC(w->sw, SM_QB, "support projection: weight scales");
  HP_CALLOC(w->acc, SM_QB * dq, "support projection: exact sums");
  return 0;
}

static void work_free(sm_work *w) {
  free(w->tile);
  free(w->S);
  free(w->Mq);
  free(w->W);
  free(w->P);
  free(w->sw);
  free(w->acc);
}

/* Steps 1-5 for memory tile t (global rows [tT, (t+1)T), this rank's rows [g0, g0 + m_local))
 * and the qb queries vb: w->acc += W . Mq, exactly. */
static void tile_accumulate(sm_work *w, const float *mem, int64_t m_local, int64_t g0, int d, const float *vb,
                            int64_t qb, int64_t t, double sm, double wcap) {
  const int64_t T = SM_TILE, dq = (int64_t)d + 1;
  const int64_t lo = t * T > g0 ? t * T : g0, hi = (t + 1) * T < g0 + m_local ? (t + 1) * T : g0 + m_local;
  memset(w->tile, 0, (size_t)(T * d) * sizeof *w->tile);
  memcpy(w->tile + (lo - t * T) * d, mem + (lo - g0) * d, (size_t)((hi - lo) * d) * sizeof *w->tile);
  for (int64_t i = 0; i < T; i++) {
    const float *r = w->tile + i * d;
    double *o = w->Mq + i * dq;
    for (int j = 0; j < d; j++) o[j] = nearbyint((double)r[j] * sm);
    o[d] = 1.0;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)qb, (int)T, d, 1.0f, vb, d, w->tile, d, 0.0f, w->S, (int)T);
  for (int64_t q = 0; q < qb; q++)
    for (int64_t i = 0; i < T; i++) {
      const int64_t g = t * T + i;
      const double s = w->S[q * T + i];
      double wt = 0;
      if (g >= lo && g < hi && s > 0) {
        wt = nearbyint(s * w->sw[q]);
        if (wt > wcap) wt = wcap;
      }
      w->W[q * T + i] = wt;
    }
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)qb, (int)dq, (int)T, 1.0, w->W, (int)T, w->Mq, (int)dq,
              0.0, w->P, (int)dq);
  for (int64_t k = 0; k < qb * dq; k++) w->acc[k] += (int64_t)w->P[k];
}

/* After the allreduce: out = numerators / (denominator sm) for the qb queries vb (optionally
 * L2-normalised), or the query itself when no memory row had a positive similarity. */
static void block_finish(const int64_t *acc, const float *vb, int64_t qb, int d, double sm, int renorm, float *out,
                         int64_t *n_fallback) {
  const int64_t dq = (int64_t)d + 1;
  for (int64_t q = 0; q < qb; q++) {
    const int64_t *A = acc + q * dq;
    float *o = out + q * d;
    const float *vq = vb + q * d;
    double nrm2 = 0;
    if (A[d] == 0) {
      if (n_fallback) (*n_fallback)++;
      for (int j = 0; j < d; j++) o[j] = vq[j];
      nrm2 = dot_d(vq, vq, d);
      if (renorm && nrm2 > 0) {
        double s = 1.0 / sqrt(nrm2);
        for (int j = 0; j < d; j++) o[j] = (float)((double)vq[j] * s);
      }
      continue;
    }
    const double den = (double)A[d] * sm;
    double x[4] = {0, 0, 0, 0};
    for (int j = 0; j < d; j++) {
      double y = (double)A[j] / den;
      x[j & 3] += y * y;
    }
    nrm2 = (x[0] + x[1]) + (x[2] + x[3]);
    const double s = (renorm && nrm2 > 0) ? 1.0 / sqrt(nrm2) : 1.0;
    for (int j = 0; j < d; j++) o[j] = (float)((double)A[j] / den * s);
  }
}

int hp_support_project(MPI_Comm comm, const float *mem, int64_t m_local, int d, const float *v,
                       int64_t nq, int renorm, float *out, int64_t *n_fallback) {
  HP_CALL(check_args(mem, m_local, d, v, nq, out));
  if (n_fallback) *n_fallback = 0;

  int rank, size;
  HP_MPI(MPI_Comm_rank(comm, &rank));
  HP_MPI(MPI_Comm_size(comm, &size));
  /* global layout and bounds (once per call) */
  int64_t N = 0, g0 = 0;
  double st[3]; /* max |m_ij|, max ||m_i||, non-finite seen */
  HP_CALL(memory_bounds(comm, rank, size, mem, m_local, d, &N, &g0, st));
  if (N == 0) HP_ERROR(HP_ERR_INPUT, "support projection: the support memory is empty (0 rows on all %d ranks)", size);
  if (st[2] != 0) HP_ERROR(HP_ERR_INPUT, "support projection: the support memory contains NaN or Inf");
  if (N >= ((int64_t)1 << 40)) HP_ERROR(HP_ERR_INPUT, "support projection: %lld memory rows, at most 2^40 supported", (long long)N);
  for (int64_t i = 0; i < nq * (int64_t)d; i++)
    if (!isfinite(v[i])) HP_ERROR(HP_ERR_INPUT, "support projection: query %lld contains NaN or Inf", (long long)(i / d));

  /* bit budget: |W| <= 2^a, |Mq| <= 2^b, a + b <= 44 (dgemm exactness over 2^8 rows) and
   * N 2^(a+b) <= 2^62 (int64 sums) */
  int ab = 62 - ceil_log2_i64(N);
  if (ab > 44) ab = 44;
  const int b = ab / 2, a = ab - b;
  int eA = 0;
  if (st[0] > 0) (void)frexp(st[0], &eA); /* max|m| < 2^eA */
  const double sm = ldexp(1.0, b - eA);   /* memory scale: |m sm| < 2^b */
  const double wcap = ldexp(1.0, a);
  const double Rmax = st[1];

  const int64_t T = SM_TILE, dq = (int64_t)d + 1;
  sm_work w = {0};
  HP_CALL(work_alloc(&w, T, d, dq));
  int64_t *acc = w.acc;

  const int64_t t0 = m_local > 0 ? g0 / T : 0, t1 = m_local > 0 ? (g0 + m_local - 1) / T + 1 : 0;
  hp_progress prog; /* minutes at COCO size: 17,743 queries x 414,005 memory rows */
  hp_progress_start(&prog, "support-memory projection", "queries", nq);
  for (int64_t q0 = 0; q0 < nq; q0 += SM_QB) {
    hp_progress_update(&prog, q0);
    const int64_t qb = nq - q0 < SM_QB ? nq - q0 : SM_QB;
    const float *vb = v + q0 * d;
    for (int64_t q = 0; q < qb; q++) {
      /* weight scale 2^(a - eW), eW: power of two above max ||m_i|| ||v_q|| (with margin for
       * sgemm's rounding; larger values are clamped to 2^a) */
      double wmax = Rmax * sqrt(dot_d(vb + q * d, vb + q * d, d)) * (1.0 + ldexp(1.0, -20));
      int eW = 0;
      if (wmax > 0) (void)frexp(wmax, &eW);
      w.sw[q] = ldexp(1.0, a - eW);
    }
    memset(acc, 0, (size_t)(qb * dq) * sizeof *acc);
    for (int64_t t = t0; t < t1; t++) tile_accumulate(&w, mem, m_local, g0, d, vb, qb, t, sm, wcap);
    HP_MPI(MPI_Allreduce(MPI_IN_PLACE, acc, (int)(qb * dq), MPI_INT64_T, MPI_SUM, comm));
    block_finish(acc, vb, qb, d, sm, renorm, out + q0 * d, n_fallback);
  }
  hp_progress_end(&prog, nq);
  work_free(&w);
  return 0;
}
