/* kmeans.h — k-means over rows sharded across MPI ranks, identical results for any rank count.
 *
 * Data: every rank holds a contiguous block of rows [row0, row0+n) of an N x E float matrix
 * (hp_shard_range). Everything below is collective over the data's communicator.
 *
 * Rank-count independence (docs/cluster.md):
 *  - sums that cross ranks are exact integer sums: each value is turned into fixed point with a
 *    scale chosen from the global maximum (MPI_MAX, exact), summed in int64 (associative), and
 *    converted back once (hp_xsum). Centroid sums use one int64 per coordinate (quantum
 *    max|x| * N * 2^-62, far below float precision); scalar sums use three 30-bit limbs.
 *  - per-row distances that decide anything are computed in double in a fixed order
 *    (hp_km_dist2), so a row's value does not depend on where it sits in a GEMM tile.
 *  - the Lloyd assignment uses sgemm tiles (||x||^2 - 2 x.c + ||c||^2) and re-checks in double
 *    every centre within the sgemm error bound of the best one; the winner is the double
 *    argmin (ties: lowest centre index), whatever the tiling.
 *  - random choices (k-means++ seeding, silhouette sample) come from base/rng.h keyed by global
 *    row index / draw number, never by rank.
 */
#ifndef HP_CLUSTER_KMEANS_H
#define HP_CLUSTER_KMEANS_H

#include <mpi.h>
#include <stdint.h>

typedef struct {
  MPI_Comm comm;
  int rank, size;
  int64_t N, n, row0, E; /* global rows, this rank's rows [row0, row0+n), dimension */
  int64_t *offs;         /* [size+1] first global row of each rank (rank order = row order) */
  const float *x;        /* [n,E] this rank's rows (not owned) */
  double *xx;            /* [n] squared norms (double, fixed order) */
  double xmax;           /* global max |x_ij| */
  double xnorm_max;      /* global max ||x_i|| */
} hp_km_data;

/* Collective. Each rank passes its n rows; the global order is rank 0's rows, then rank 1's...
 * (any split of the rows over ranks; results depend only on the global order). x must stay
 * alive while d is used. */
int hp_km_data_init(MPI_Comm comm, const float *x, int64_t n, int64_t E, hp_km_data *d);
void hp_km_data_free(hp_km_data *d);

/* ||x - c||^2 in double, fixed order. */
double hp_km_dist2(const float *x, const double *c, int64_t E);

/* Exact, rank-count-independent sum over all ranks of this rank's values v[0..n) (collective). */
int hp_xsum(MPI_Comm comm, const double *v, int64_t n, double *out);

typedef struct {
  int k;
  int max_iter;     /* Lloyd iterations cap */
  double tol;       /* stop when sum of squared centre shifts <= tol * mean per-feature variance */
  uint64_t seed;
} hp_km_opts;

typedef struct {
  int k, iters, converged;
  int64_t repaired;   /* empty clusters re-seeded over the run */
  double *centers;    /* [k,E] means of the final assignment */
  int64_t *label;     /* [n] this rank's rows */
  int64_t *counts;    /* [k] */
  double wcss;        /* sum over rows of ||x - centre||^2 (final centres) */
} hp_km_result;

/* k-means++ seeding (one candidate per step, D^2 sampling). centers [k,E] out. */
int hp_km_init_pp(const hp_km_data *d, int k, uint64_t seed, double *centers);
/* Assignment to the nearest centre (GEMM tiles + exact re-check); dist2 (may be NULL) gets the
 * exact squared distance to the chosen centre. *changed counts rows whose label changed
 * (label must hold the previous labels or -1). */
int hp_km_assign(const hp_km_data *d, int k, const double *centers, int64_t *label, double *dist2,
                 int64_t *changed);
/* Exact means of the assignment: centers [k,E] (empty clusters keep their old value), counts [k]. */
int hp_km_means(const hp_km_data *d, int k, const int64_t *label, double *centers, int64_t *counts);
/* Lloyd's algorithm from the given initial centres (init = NULL: k-means++ with o->seed). */
int hp_kmeans(const hp_km_data *d, const hp_km_opts *o, const double *init, hp_km_result *r);
void hp_km_result_free(hp_km_result *r);

/* The elbow: index into K[0..m) of the point farthest from the chord between the first and the
 * last point of (K, wcss), both axes scaled to [0, 1]; ties -> smaller K; m < 3 -> 0. */
int hp_km_elbow(const int64_t *K, const double *wcss, int m);

typedef struct {
  double wcss, bcss, tss;   /* within, between, total sums of squares (centres = label means) */
  double ch;                /* Calinski-Harabasz (bcss/(k-1)) / (wcss/(N-k)) */
  double silhouette;        /* mean silhouette over the evaluated rows */
  int64_t sil_n;            /* rows the silhouette was computed over (N, or the sample size) */
} hp_km_quality;

/* WCSS/BCSS/TSS with the exact label means; labels in [0,k). */
int hp_km_sums_of_squares(const hp_km_data *d, int k, const int64_t *label, hp_km_quality *q);
/* Silhouette (Euclidean) — sample = 0 or >= N: exact over all rows (every rank gathers all
 * N x E points: N*E*4 bytes per rank); else over a seeded sample of `sample` rows (distances
 * within the sample, like scikit-learn's silhouette_score(sample_size=)). Each rank takes its
 * share of the evaluated rows against all of them in sgemm tiles aligned to global indices. */
int hp_km_silhouette(const hp_km_data *d, int k, const int64_t *label, int64_t sample, uint64_t seed,
                     double *sil, int64_t *n_used);

#endif
