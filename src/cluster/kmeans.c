/* kmeans.c — see kmeans.h (the determinism argument is there and in docs/cluster.md). */
#include "cluster/kmeans.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "base/error.h"
#include "base/rng.h"
#include "comm/shard.h"

#define TILE 256 /* rows (and columns) per sgemm tile */

static int nthreads_max(void) {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

/* ---- exact sums ---------------------------------------------------------------------------- */

/* exponent e with m < 2^e (m > 0) */
static int exp2_above(double m) {
  int e;
  (void)frexp(m, &e);
  return e;
}

static int ceil_log2(int64_t n) {
  int b = 0;
  while (((int64_t)1 << b) < n && b < 62) b++;
  return b;
}

int hp_xsum(MPI_Comm comm, const double *v, int64_t n, double *out) {
  double m = 0;
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(v[i])) HP_ERROR(HP_ERR_NUMERIC, "exact sum: non-finite value %g at item %lld", v[i], (long long)i);
    double a = fabs(v[i]);
    if (a > m) m = a;
  }
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, &m, 1, MPI_DOUBLE, MPI_MAX, comm));
  if (m == 0) {
    *out = 0;
    return 0;
  }
  /* |v| * 2^S < 2^89, split into three 30-bit limbs; at most 2^33 items per sum */
  const int S = 89 - exp2_above(m);
  int64_t L[3] = {0, 0, 0};
  for (int64_t i = 0; i < n; i++) {
    double a = ldexp(fabs(v[i]), S);
    double h = floor(ldexp(a, -60));
    a -= ldexp(h, 60);
    double mid = floor(ldexp(a, -30));
    a -= ldexp(mid, 30);
    double lo = floor(a);
    int64_t s = v[i] < 0 ? -1 : 1;
    L[2] += s * (int64_t)h;
    L[1] += s * (int64_t)mid;
    L[0] += s * (int64_t)lo;
  }
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, L, 3, MPI_INT64_T, MPI_SUM, comm));
  *out = ldexp((double)L[2], 60 - S) + ldexp((double)L[1], 30 - S) + ldexp((double)L[0], -S);
  return 0;
}

/* ---- data ---------------------------------------------------------------------------------- */

/* Fixed order: eight partial sums over j = 8t + l, combined pairwise. */
static double dot_xx(const float *x, int64_t E) {
  double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= E; j += 8)
    for (int l = 0; l < 8; l++) a[l] += (double)x[j + l] * (double)x[j + l];
  for (int l = 0; j < E; j++, l++) a[l] += (double)x[j] * (double)x[j];
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

double hp_km_dist2(const float *x, const double *c, int64_t E) {
  double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= E; j += 8)
    for (int l = 0; l < 8; l++) {
      double t = (double)x[j + l] - c[j + l];
      a[l] += t * t;
    }
  for (int l = 0; j < E; j++, l++) {
    double t = (double)x[j] - c[j];
    a[l] += t * t;
  }
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

int hp_km_data_init(MPI_Comm comm, const float *x, int64_t n, int64_t E, hp_km_data *d) {
  memset(d, 0, sizeof *d);
  d->comm = comm;
  HP_MPI(MPI_Comm_rank(comm, &d->rank));
  HP_MPI(MPI_Comm_size(comm, &d->size));
  d->x = x;
  d->n = n;
  d->E = E;
  HP_CALLOC(d->offs, d->size + 1, "k-means: rank offsets");
  HP_MPI(MPI_Allgather(&n, 1, MPI_INT64_T, d->offs + 1, 1, MPI_INT64_T, comm));
  for (int r = 0; r < d->size; r++) d->offs[r + 1] += d->offs[r];
  d->N = d->offs[d->size];
  d->row0 = d->offs[d->rank];
  if (d->N >= ((int64_t)1 << 31)) HP_ERROR(HP_ERR_INPUT, "k-means: %lld rows, at most 2^31 - 1 supported", (long long)d->N);
  HP_CALLOC(d->xx, n > 0 ? n : 1, "k-means: row norms");
  double m[2] = {0, 0};
  int bad = 0;
  for (int64_t i = 0; i < n; i++) {
    const float *r = x + i * E;
    for (int64_t j = 0; j < E; j++) {
      if (!isfinite(r[j])) bad = 1;
      double a = fabs((double)r[j]);
      if (a > m[0]) m[0] = a;
    }
    d->xx[i] = dot_xx(r, E);
    if (d->xx[i] > m[1]) m[1] = d->xx[i];
  }
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, comm));
  if (bad) HP_ERROR(HP_ERR_INPUT, "k-means: the embeddings contain NaN or Inf");
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, m, 2, MPI_DOUBLE, MPI_MAX, comm));
  d->xmax = m[0];
  d->xnorm_max = sqrt(m[1]);
  return 0;
}

void hp_km_data_free(hp_km_data *d) {
  free(d->xx);
  free(d->offs);
  d->xx = NULL;
  d->offs = NULL;
}

/* rank owning global row g */
static int owner_of(const hp_km_data *d, int64_t g) {
  for (int r = 0; r < d->size; r++)
    if (g >= d->offs[r] && g < d->offs[r + 1]) return r;
  return 0;
}

/* every rank gets global row g as doubles */
static int fetch_row(const hp_km_data *d, int64_t g, double *out, float *tmp) {
  int o = owner_of(d, g);
  if (o == d->rank) memcpy(tmp, d->x + (g - d->row0) * d->E, (size_t)d->E * sizeof(float));
  HP_MPI(MPI_Bcast(tmp, (int)d->E, MPI_FLOAT, o, d->comm));
  for (int64_t j = 0; j < d->E; j++) out[j] = tmp[j];
  return 0;
}

/* ---- k-means++ --------------------------------------------------------------------------- */

/* D[i] = min(D[i], ||x_i - c||^2) with the exact double distance, for centre c (a data row: cf
 * holds it exactly as floats). A float dot (sdot) screens rows: when even its lower bound
 * exceeds D[i] the exact value would too, so skipping it leaves the same D — the outcome does
 * not depend on the screening's rounding. */
static void update_min(const hp_km_data *d, const double *c, const float *cf, double *D) {
  const int64_t E = d->E, n = d->n;
  const double cc = dot_xx(cf, E), cn = sqrt(cc), efac = (4.0 * (double)E + 16.0) * 0x1p-24 * 1.01;
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (int64_t i = 0; i < n; i++) {
    const float *x = d->x + i * E;
    double xn = sqrt(d->xx[i]);
    double approx = d->xx[i] + cc - 2.0 * (double)cblas_sdot((int)E, x, 1, cf, 1);
    if (approx - efac * (xn + cn) * (xn + cn) > D[i]) continue;
    double t = hp_km_dist2(x, c, E);
    if (t < D[i]) D[i] = t;
  }
}

int hp_km_init_pp(const hp_km_data *d, int k, uint64_t seed, double *centers) {
  const int64_t E = d->E, n = d->n;
  if (k < 1 || k > d->N) HP_ERROR(HP_ERR_CONFIG, "k-means: k = %d must be in [1, %lld rows]", k, (long long)d->N);
  double *D = NULL;
  float *tmp = NULL;
  int64_t *W = NULL;
  HP_CALLOC(D, n > 0 ? n : 1, "k-means++: distances");
  HP_CALLOC(tmp, E, "k-means++: row");
  HP_CALLOC(W, d->size, "k-means++: rank weights");
  hp_rng rng = hp_rng_make(seed, HP_STREAM_KMEANS_INIT, (uint64_t)k);
  int64_t g = (int64_t)hp_rng_below(&rng, (uint64_t)d->N);
  HP_CALL(fetch_row(d, g, centers, tmp));
  for (int64_t i = 0; i < n; i++) D[i] = INFINITY;
  update_min(d, centers, tmp, D);
  const int lg = ceil_log2(d->N + 1);
  for (int c = 1; c < k; c++) {
    double m = 0;
    for (int64_t i = 0; i < n; i++)
      if (D[i] > m) m = D[i];
    HP_MPI(MPI_Allreduce(MPI_IN_PLACE, &m, 1, MPI_DOUBLE, MPI_MAX, d->comm));
    /* integer weights floor(D * 2^S), every one < 2^62 / N: exact prefix sums for any rank count */
    int64_t local = 0;
    const int S = m > 0 ? 61 - lg - exp2_above(m) : 0;
    if (m > 0)
      for (int64_t i = 0; i < n; i++) local += (int64_t)floor(ldexp(D[i], S));
    HP_MPI(MPI_Allgather(&local, 1, MPI_INT64_T, W, 1, MPI_INT64_T, d->comm));
    int64_t total = 0;
    for (int r = 0; r < d->size; r++) total += W[r];
    uint64_t u = hp_rng_u64(&rng); /* always drawn: the stream does not depend on the branch */
    if (total == 0) {
      /* every row coincides with a centre: take one uniformly (a duplicate centre) */
      g = (int64_t)(((unsigned __int128)u * (uint64_t)d->N) >> 64);
    } else {
      int64_t t = (int64_t)(((unsigned __int128)u * (uint64_t)total) >> 64), pre = 0;
      int owner = 0;
      for (int r = 0; r < d->size; r++) {
        if (t < pre + W[r]) {
          owner = r;
          break;
        }
        pre += W[r];
      }
      g = -1;
      if (owner == d->rank) {
        int64_t cum = pre;
        for (int64_t i = 0; i < n; i++) {
          cum += (int64_t)floor(ldexp(D[i], S));
          if (t < cum) {
            g = d->row0 + i;
            break;
          }
        }
        if (g < 0) g = d->row0 + n - 1;
      }
      HP_MPI(MPI_Bcast(&g, 1, MPI_INT64_T, owner, d->comm));
    }
    double *cc = centers + (size_t)c * (size_t)E;
    HP_CALL(fetch_row(d, g, cc, tmp));
    update_min(d, cc, tmp, D);
  }
  free(D);
  free(tmp);
  free(W);
  return 0;
}

/* ---- assignment -------------------------------------------------------------------------- */

int hp_km_assign(const hp_km_data *d, int k, const double *centers, int64_t *label, double *dist2,
                 int64_t *changed) {
  const int64_t E = d->E, n = d->n;
  const int nt = nthreads_max();
  float *cf = NULL, *buf = NULL;
  double *cc = NULL;
  HP_CALLOC(cf, (size_t)k * (size_t)E, "k-means: float centres");
  HP_CALLOC(cc, k, "k-means: centre norms");
  size_t tb;
  HP_CALL(hp_mul_size((size_t)TILE * (size_t)k, (size_t)nt, &tb));
  HP_CALLOC(buf, tb, "k-means: distance tiles");
  double cmax = 0;
  for (int c = 0; c < k; c++) {
    for (int64_t j = 0; j < E; j++) cf[(size_t)c * E + j] = (float)centers[(size_t)c * E + j];
    cc[c] = dot_xx(cf + (size_t)c * E, E);
    if (cc[c] > cmax) cmax = cc[c];
  }
  cmax = sqrt(cmax);
  /* |d_sgemm - d_exact| <= (4E + 16) u (|x| + max|c|)^2, u = 2^-24 (sgemm's dot error, float
   * rounding of the centres); a centre within twice that of the best is re-checked exactly */
  const double efac = (4.0 * (double)E + 16.0) * 0x1p-24 * 1.01;
  int64_t nchanged = 0;
  const int64_t ntiles = (n + TILE - 1) / TILE;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : nchanged)
#endif
  for (int64_t t = 0; t < ntiles; t++) {
    int tid = 0;
#ifdef _OPENMP
    tid = omp_get_thread_num();
#endif
    float *s = buf + (size_t)tid * TILE * (size_t)k;
    int64_t i0 = t * TILE, m = n - i0 < TILE ? n - i0 : TILE;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, k, (int)E, 1.0f, d->x + i0 * E, (int)E, cf, (int)E,
                0.0f, s, k);
    for (int64_t r = 0; r < m; r++) {
      int64_t i = i0 + r;
      const float *sr = s + r * k;
      double best = INFINITY;
      int bc = 0;
      for (int c = 0; c < k; c++) {
        double v = d->xx[i] + cc[c] - 2.0 * (double)sr[c];
        if (v < best) {
          best = v;
          bc = c;
        }
      }
      double xn = sqrt(d->xx[i]);
      double win = 2.0 * efac * (xn + cmax) * (xn + cmax);
      int ncand = 0;
      for (int c = 0; c < k && ncand < 2; c++)
        if (d->xx[i] + cc[c] - 2.0 * (double)sr[c] <= best + win) ncand++;
      double de = -1;
      if (ncand > 1) {
        de = INFINITY;
        for (int c = 0; c < k; c++) {
          if (d->xx[i] + cc[c] - 2.0 * (double)sr[c] > best + win) continue;
          double v = hp_km_dist2(d->x + i * E, centers + (size_t)c * E, E);
          if (v < de) {
            de = v;
            bc = c;
          }
        }
      }
      if (label[i] != bc) nchanged++;
      label[i] = bc;
      if (dist2) dist2[i] = de >= 0 ? de : hp_km_dist2(d->x + i * E, centers + (size_t)bc * E, E);
    }
  }
  free(cf);
  free(cc);
  free(buf);
  if (changed) {
    HP_MPI(MPI_Allreduce(&nchanged, changed, 1, MPI_INT64_T, MPI_SUM, d->comm));
  }
  return 0;
}

/* ---- means --------------------------------------------------------------------------------- */

int hp_km_means(const hp_km_data *d, int k, const int64_t *label, double *centers, int64_t *counts) {
  const int64_t E = d->E, n = d->n;
  int64_t *sum = NULL;
  size_t ke;
  HP_CALL(hp_mul_size((size_t)k, (size_t)E, &ke));
  HP_CALLOC(sum, ke, "k-means: centre sums");
  memset(counts, 0, (size_t)k * sizeof *counts);
  for (int64_t i = 0; i < n; i++) {
    if (label[i] < 0 || label[i] >= k) HP_ERROR(HP_ERR_INTERNAL, "k-means: label %lld of row %lld outside [0, %d)",
                                                (long long)label[i], (long long)(d->row0 + i), k);
    counts[label[i]]++;
  }
  /* fixed point: |x| 2^S <= 2^50 and N |x| 2^S < 2^62 */
  int S = 0;
  if (d->xmax > 0) {
    int e = exp2_above(d->xmax);
    S = 61 - ceil_log2(d->N + 1) - e;
    if (S > 50 - e) S = 50 - e;
  }
  const double scale = ldexp(1.0, S), unscale = ldexp(1.0, -S); /* powers of two: exact */
  /* one contiguous column range per thread: no merging, rows read once per thread */
  const int64_t nchunk = nthreads_max(), width = (E + nchunk - 1) / nchunk;
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (int64_t ch = 0; ch < nchunk; ch++) {
    int64_t j0 = ch * width, j1 = j0 + width < E ? j0 + width : E;
    for (int64_t i = 0; i < n; i++) {
      const float *x = d->x + i * E;
      int64_t *s = sum + (size_t)label[i] * E;
      for (int64_t j = j0; j < j1; j++) s[j] += (int64_t)((double)x[j] * scale); /* truncation */
    }
  }
  /* MPI counts are int: reduce in pieces */
  for (size_t o = 0; o < ke; o += (size_t)1 << 28) {
    size_t len = ke - o < ((size_t)1 << 28) ? ke - o : ((size_t)1 << 28);
    HP_MPI(MPI_Allreduce(MPI_IN_PLACE, sum + o, (int)len, MPI_INT64_T, MPI_SUM, d->comm));
  }
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, counts, k, MPI_INT64_T, MPI_SUM, d->comm));
  for (int c = 0; c < k; c++) {
    if (counts[c] == 0) continue;
    for (int64_t j = 0; j < E; j++)
      centers[(size_t)c * E + j] = (double)sum[(size_t)c * E + j] * unscale / (double)counts[c];
  }
  free(sum);
  return 0;
}

/* ---- Lloyd ------------------------------------------------------------------------------- */

/* Empty clusters get the row farthest from its centre (ties: lowest global index), one each. */
static int repair(const hp_km_data *d, int k, double *centers, const int64_t *counts, const int64_t *label,
                  int64_t *nrep) {
  int any = 0;
  for (int c = 0; c < k; c++) any |= counts[c] == 0;
  if (!any) return 0;
  const int64_t E = d->E, n = d->n;
  double *dist = NULL;
  float *tmp = NULL;
  HP_CALLOC(dist, n > 0 ? n : 1, "k-means: repair distances");
  HP_CALLOC(tmp, E, "k-means: row");
  for (int64_t i = 0; i < n; i++) dist[i] = hp_km_dist2(d->x + i * E, centers + (size_t)label[i] * E, E);
  for (int c = 0; c < k; c++) {
    if (counts[c] != 0) continue;
    struct {
      double v;
      int i;
    } best = {-1.0, 0};
    for (int64_t i = 0; i < n; i++)
      if (dist[i] > best.v) {
        best.v = dist[i];
        best.i = (int)(d->row0 + i);
      }
    HP_MPI(MPI_Allreduce(MPI_IN_PLACE, &best, 1, MPI_DOUBLE_INT, MPI_MAXLOC, d->comm));
    if (best.v < 0) break; /* fewer rows than empty clusters can take: cannot happen for k <= N */
    HP_CALL(fetch_row(d, best.i, centers + (size_t)c * E, tmp));
    if (best.i >= d->row0 && best.i < d->row0 + n) dist[best.i - d->row0] = -1.0;
    (*nrep)++;
  }
  free(dist);
  free(tmp);
  return 0;
}

int hp_kmeans(const hp_km_data *d, const hp_km_opts *o, const double *init, hp_km_result *r) {
  memset(r, 0, sizeof *r);
  const int k = o->k;
  const int64_t E = d->E, n = d->n;
  if (k < 1 || k > d->N) HP_ERROR(HP_ERR_CONFIG, "k-means: k = %d must be in [1, %lld rows]", k, (long long)d->N);
  r->k = k;
  size_t ke;
  HP_CALL(hp_mul_size((size_t)k, (size_t)E, &ke));
  double *nc = NULL, *mean = NULL;
  int64_t *zero = NULL, one = 0;
  HP_CALLOC(r->centers, ke, "k-means: centres");
  HP_CALLOC(nc, ke, "k-means: new centres");
  HP_CALLOC(r->label, n > 0 ? n : 1, "k-means: labels");
  HP_CALLOC(r->counts, k, "k-means: counts");
  HP_CALLOC(mean, E, "k-means: mean");
  HP_CALLOC(zero, n > 0 ? n : 1, "k-means: zeros");
  /* tolerance scale: mean per-feature variance, as scikit-learn */
  HP_CALL(hp_km_means(d, 1, zero, mean, &one));
  double sxx, mm = 0;
  HP_CALL(hp_xsum(d->comm, d->xx, n, &sxx));
  for (int64_t j = 0; j < E; j++) mm += mean[j] * mean[j];
  double var = (sxx / (double)d->N - mm) / (double)E;
  if (var < 0) var = 0;
  const double tol = o->tol * var;
  if (init)
    memcpy(r->centers, init, ke * sizeof(double));
  else
    HP_CALL(hp_km_init_pp(d, k, o->seed, r->centers));
  for (int64_t i = 0; i < n; i++) r->label[i] = -1;
  for (r->iters = 0; r->iters < o->max_iter;) {
    int64_t changed;
    HP_CALL(hp_km_assign(d, k, r->centers, r->label, NULL, &changed));
    r->iters++;
    memcpy(nc, r->centers, ke * sizeof(double));
    HP_CALL(hp_km_means(d, k, r->label, nc, r->counts));
    int64_t before = r->repaired;
    HP_CALL(repair(d, k, nc, r->counts, r->label, &r->repaired));
    double shift = 0;
    for (size_t t = 0; t < ke; t++) shift += (nc[t] - r->centers[t]) * (nc[t] - r->centers[t]);
    memcpy(r->centers, nc, ke * sizeof(double));
    if (r->repaired != before) continue;
    if (changed == 0 || shift <= tol) {
      r->converged = 1;
      break;
    }
  }
  /* final assignment to the final centres; report the means of that assignment */
  double *dist = NULL;
  HP_CALLOC(dist, n > 0 ? n : 1, "k-means: distances");
  HP_CALL(hp_km_assign(d, k, r->centers, r->label, NULL, NULL));
  HP_CALL(hp_km_means(d, k, r->label, r->centers, r->counts));
  for (int64_t i = 0; i < n; i++) dist[i] = hp_km_dist2(d->x + i * E, r->centers + (size_t)r->label[i] * E, E);
  HP_CALL(hp_xsum(d->comm, dist, n, &r->wcss));
  free(dist);
  free(nc);
  free(mean);
  free(zero);
  return 0;
}

void hp_km_result_free(hp_km_result *r) {
  free(r->centers);
  free(r->label);
  free(r->counts);
  memset(r, 0, sizeof *r);
}

/* ---- elbow ------------------------------------------------------------------------------- */

int hp_km_elbow(const int64_t *K, const double *w, int m) {
  if (m < 3) return 0;
  double k0 = (double)K[0], k1 = (double)K[m - 1], w0 = w[0], w1 = w[m - 1];
  double dk = k1 - k0, dw = w0 - w1;
  if (dk == 0) return 0;
  int best = 0;
  double bd = -1;
  for (int i = 0; i < m; i++) {
    double x = ((double)K[i] - k0) / dk;          /* 0 .. 1 */
    double y = dw != 0 ? (w[i] - w1) / dw : 0.0;  /* 1 .. 0 */
    /* chord from (0,1) to (1,0): x + y - 1 = 0; distance |x + y - 1| / sqrt 2 */
    double dist = fabs(x + y - 1.0) / sqrt(2.0);
    if (dist > bd + 1e-12) {
      bd = dist;
      best = i;
    }
  }
  return best;
}

/* ---- quality ----------------------------------------------------------------------------- */

int hp_km_sums_of_squares(const hp_km_data *d, int k, const int64_t *label, hp_km_quality *q) {
  const int64_t E = d->E, n = d->n;
  double *cent = NULL, *mean = NULL, *v = NULL;
  int64_t *counts = NULL, *zero = NULL, one = 0;
  HP_CALLOC(cent, (size_t)k * (size_t)E, "quality: centres");
  HP_CALLOC(mean, E, "quality: mean");
  HP_CALLOC(v, n > 0 ? n : 1, "quality: per-row values");
  HP_CALLOC(counts, k, "quality: counts");
  HP_CALLOC(zero, n > 0 ? n : 1, "quality: zeros");
  HP_CALL(hp_km_means(d, k, label, cent, counts));
  HP_CALL(hp_km_means(d, 1, zero, mean, &one));
  for (int64_t i = 0; i < n; i++) v[i] = hp_km_dist2(d->x + i * E, cent + (size_t)label[i] * E, E);
  HP_CALL(hp_xsum(d->comm, v, n, &q->wcss));
  for (int64_t i = 0; i < n; i++) v[i] = hp_km_dist2(d->x + i * E, mean, E);
  HP_CALL(hp_xsum(d->comm, v, n, &q->tss));
  q->bcss = 0;
  int used = 0;
  for (int c = 0; c < k; c++) {
    if (counts[c] == 0) continue;
    used++;
    double s = 0;
    for (int64_t j = 0; j < E; j++) s += (cent[(size_t)c * E + j] - mean[j]) * (cent[(size_t)c * E + j] - mean[j]);
    q->bcss += (double)counts[c] * s;
  }
  q->ch = used > 1 && q->wcss > 0 ? (q->bcss / (used - 1)) / (q->wcss / (double)(d->N - used)) : 0.0;
  free(cent);
  free(mean);
  free(v);
  free(counts);
  free(zero);
  return 0;
}

/* Floyd's sampling of m distinct indices of [0, N), sorted (identical on every rank). */
static int sample_indices(int64_t N, int64_t m, uint64_t seed, int64_t *out) {
  int64_t cap = 1;
  while (cap < 2 * m) cap <<= 1;
  int64_t *tab = NULL;
  HP_CALLOC(tab, cap, "silhouette: sample set");
  for (int64_t i = 0; i < cap; i++) tab[i] = -1;
  hp_rng rng = hp_rng_make(seed, HP_STREAM_SILHOUETTE_SAMPLE, (uint64_t)m);
  int64_t cnt = 0;
  for (int64_t j = N - m; j < N; j++) {
    int64_t t = (int64_t)hp_rng_below(&rng, (uint64_t)j + 1), pick = t;
    for (int pass = 0; pass < 2; pass++) {
      uint64_t h = hp_mix64((uint64_t)pick) & (uint64_t)(cap - 1);
      int found = 0;
      while (tab[h] >= 0) {
        if (tab[h] == pick) {
          found = 1;
          break;
        }
        h = (h + 1) & (uint64_t)(cap - 1);
      }
      if (!found) {
        tab[h] = pick;
        out[cnt++] = pick;
        break;
      }
      pick = j; /* t was taken: take j (never taken before) */
    }
  }
  free(tab);
  if (cnt != m) HP_ERROR(HP_ERR_INTERNAL, "silhouette: sampled %lld of %lld rows", (long long)cnt, (long long)m);
  return 0;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* The evaluated rows (all, or the sorted sample idx[m]) and their labels, gathered in ascending
 * global order into *X [m + TILE, E] (TILE zero rows of padding for the fixed-shape tiles) and
 * *lab [m] on every rank. */
static int gather_evaluated(const hp_km_data *d, const int64_t *label, const int64_t *idx, int64_t m, float **X_out,
                            int64_t **lab_out) {
  const int64_t E = d->E;
  const int P = d->size;
  int *rc = NULL, *rd = NULL;
  HP_CALLOC(rc, P, "silhouette: counts");
  HP_CALLOC(rd, P, "silhouette: displacements");
  int64_t mine0 = 0, mine = d->n;
  if (idx) {
    int64_t a = 0;
    while (a < m && idx[a] < d->row0) a++;
    int64_t b = a;
    while (b < m && idx[b] < d->row0 + d->n) b++;
    mine0 = a;
    mine = b - a;
  }
  size_t me;
  HP_CALL(hp_mul_size((size_t)m, (size_t)E, &me));
  if (me > (size_t)INT32_MAX)
    HP_ERROR(HP_ERR_CONFIG, "silhouette over %lld rows x %lld: more than 2^31 values to gather; set "
             "cluster.silhouette_sample to a sample size", (long long)m, (long long)E);
  float *X = NULL, *mybuf = NULL;
  int64_t *lab = NULL, *mylab = NULL;
  HP_CALLOC(X, me + (size_t)TILE * (size_t)E, "silhouette: gathered rows (cluster.silhouette_sample limits it)");
  HP_CALLOC(lab, m, "silhouette: labels");
  HP_CALLOC(mybuf, (size_t)(mine > 0 ? mine : 1) * (size_t)E, "silhouette: own rows");
  HP_CALLOC(mylab, mine > 0 ? mine : 1, "silhouette: own labels");
  for (int64_t i = 0; i < mine; i++) {
    int64_t li = idx ? idx[mine0 + i] - d->row0 : i;
    memcpy(mybuf + i * E, d->x + li * E, (size_t)E * sizeof(float));
    mylab[i] = label[li];
  }
  int cnt = (int)(mine * E);
  HP_MPI(MPI_Allgather(&cnt, 1, MPI_INT, rc, 1, MPI_INT, d->comm));
  for (int r = 1; r < P; r++) rd[r] = rd[r - 1] + rc[r - 1];
  HP_MPI(MPI_Allgatherv(mybuf, cnt, MPI_FLOAT, X, rc, rd, MPI_FLOAT, d->comm));
  cnt = (int)mine;
  HP_MPI(MPI_Allgather(&cnt, 1, MPI_INT, rc, 1, MPI_INT, d->comm));
  for (int r = 1; r < P; r++) rd[r] = rd[r - 1] + rc[r - 1];
  HP_MPI(MPI_Allgatherv(mylab, cnt, MPI_INT64_T, lab, rc, rd, MPI_INT64_T, d->comm));
  free(mybuf);
  free(mylab);
  free(rc);
  free(rd);
  *X_out = X;
  *lab_out = lab;
  return 0;
}

/* rs[(i - a) k + q] = sum of the distances from evaluated row i in [a, a + c) to the rows of
 * cluster q (pp: squared norms). Tiles of TILE x TILE by sgemm, aligned to multiples of TILE so
 * every distance comes from the same call shape whatever the rank count; threads split the row
 * tiles (each row's sums are made by one thread, in column order). */
static int distance_sums(const float *X, const double *pp, const int64_t *lab, int64_t m, int64_t E, int k,
                         int64_t a, int64_t c, double *rs) {
  const int nt = nthreads_max();
  float *buf = NULL;
  HP_CALLOC(buf, (size_t)nt * TILE * TILE, "silhouette: tiles");
  const int64_t t0 = a / TILE, t1 = c > 0 ? (a + c + TILE - 1) / TILE : t0, ncol = (m + TILE - 1) / TILE;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1)
#endif
  for (int64_t t = t0; t < t1; t++) {
    int tid = 0;
#ifdef _OPENMP
    tid = omp_get_thread_num();
#endif
    float *tb = buf + (size_t)tid * TILE * TILE;
    for (int64_t u = 0; u < ncol; u++) {
      /* fixed shape TILE x TILE x E: X has TILE zero rows of padding at the end */
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, TILE, TILE, (int)E, 1.0f, X + t * TILE * E, (int)E,
                  X + u * TILE * E, (int)E, 0.0f, tb, TILE);
      for (int64_t r = 0; r < TILE; r++) {
        int64_t i = t * TILE + r;
        if (i < a || i >= a + c) continue;
        double *acc = rs + (i - a) * k;
        int64_t jn = m - u * TILE < TILE ? m - u * TILE : TILE;
        for (int64_t q = 0; q < jn; q++) {
          int64_t j = u * TILE + q;
          if (j == i) continue;
          double v = pp[i] + pp[j] - 2.0 * (double)tb[r * TILE + q];
          acc[lab[j]] += v > 0 ? sqrt(v) : 0.0;
        }
      }
    }
  }
  free(buf);
  return 0;
}

/* s[r] = the silhouette of evaluated row a + r from its distance sums rs and the cluster sizes
 * cnts (0 for a row alone in its cluster). */
static void silhouette_values(const double *rs, const int64_t *cnts, const int64_t *lab, int64_t a, int64_t c, int k,
                              double *s) {
  for (int64_t r = 0; r < c; r++) {
    int64_t i = a + r, own = lab[i];
    const double *acc = rs + r * k;
    if (cnts[own] <= 1) {
      s[r] = 0;
      continue;
    }
    double ai = acc[own] / (double)(cnts[own] - 1), bi = INFINITY;
    for (int q = 0; q < k; q++)
      if (q != own && cnts[q] > 0 && acc[q] / (double)cnts[q] < bi) bi = acc[q] / (double)cnts[q];
    double mx = ai > bi ? ai : bi;
    s[r] = isfinite(bi) && mx > 0 ? (bi - ai) / mx : 0.0;
  }
}

int hp_km_silhouette(const hp_km_data *d, int k, const int64_t *label, int64_t sample, uint64_t seed,
                     double *sil, int64_t *n_used) {
  const int64_t E = d->E, N = d->N;
  const int P = d->size;
  int64_t m = sample > 0 && sample < N ? sample : N;
  int64_t *idx = NULL; /* sampled global rows (sorted); NULL = all */
  if (m < N) {
    HP_CALLOC(idx, m, "silhouette: sample");
    HP_CALL(sample_indices(N, m, seed, idx));
    qsort(idx, (size_t)m, sizeof *idx, cmp_i64);
  }
  /* gather the evaluated rows (ascending global index) and their labels on every rank */
  float *X = NULL;
  int64_t *lab = NULL;
  HP_CALL(gather_evaluated(d, label, idx, m, &X, &lab));
  free(idx);
  int64_t *cnts = NULL;
  double *pp = NULL;
  HP_CALLOC(cnts, k, "silhouette: cluster sizes");
  HP_CALLOC(pp, m + TILE, "silhouette: norms");
  for (int64_t i = 0; i < m; i++) {
    if (lab[i] < 0 || lab[i] >= k) HP_ERROR(HP_ERR_INTERNAL, "silhouette: label %lld outside [0, %d)", (long long)lab[i], k);
    cnts[lab[i]]++;
    pp[i] = dot_xx(X + i * E, E);
  }
  /* this rank's evaluated rows [a, a + c) of X; tiles aligned to multiples of TILE */
  int64_t a, c;
  hp_shard_range(m, P, d->rank, &a, &c);
  double *rs = NULL, *s = NULL;
  HP_CALLOC(rs, (size_t)(c > 0 ? c : 1) * (size_t)k, "silhouette: per-row cluster distance sums");
  HP_CALLOC(s, c > 0 ? c : 1, "silhouette: values");
  HP_CALL(distance_sums(X, pp, lab, m, E, k, a, c, rs));
  silhouette_values(rs, cnts, lab, a, c, k, s);
  double tot;
  HP_CALL(hp_xsum(d->comm, s, c, &tot));
  *sil = tot / (double)m;
  *n_used = m;
  free(X);
  free(lab);
  free(cnts);
  free(pp);
  free(rs);
  free(s);
  return 0;
}
