/* analysis.h — embedding analytics beside k-means (docs/cluster.md):
 *  - PCA: the covariance X_c^T X_c / N summed exactly over every rank's rows (BLAS dsyrk on
 *    blocks of rows of values rounded to 2^-24 of the largest, integer sums; analysis.c), then
 *    the eigen-decomposition by ScaLAPACK pdsyevd on a block-cyclic grid of solver_ranks
 *    ranks; explained variance, the first three components and every row's 3-D projection;
 *  - the modality gap: distance between the image and caption centroids, their cosine, and the
 *    share of the pooled variance along the gap direction (exact sums, rank-independent);
 *  - a linear probe: ridge regression from image embeddings (+ bias) to multi-hot labels, the
 *    normal equations (X^T X + ridge I) W = X^T Y formed exactly as above and solved by
 *    ScaLAPACK pdposv on the solver grid; top-1 accuracy (the highest-scoring label is one of
 *    the image's labels) on held-out rows.
 * solver_ranks: ranks in the ScaLAPACK grid of the dense E x E solves (0 = all). The Gram
 * matrices are the same bits for any rank count, so with a fixed solver_ranks (1 by default,
 * cluster.solver_ranks) every figure is identical for any rank count; a grid that follows the
 * rank count (0) is faster for large E but agrees only to rounding across rank counts.
 * All functions are collective over comm; rows are in global order rank by rank.
 */
#ifndef HP_CLUSTER_ANALYSIS_H
#define HP_CLUSTER_ANALYSIS_H

#include <mpi.h>
#include <stdint.h>

typedef struct {
  int64_t E;
  double *eig;        /* [E] covariance eigenvalues, descending */
  double total;       /* trace of the covariance */
  double *components; /* [3,E] leading eigenvectors (sign: largest |entry| positive) */
  double *proj;       /* [n,3] this rank's rows projected (centred) */
} hp_pca;

int hp_pca_run(MPI_Comm comm, const float *x, int64_t n, int64_t E, int solver_ranks, hp_pca *out);
void hp_pca_free(hp_pca *p);

typedef struct {
  double gap;       /* ||mean(images) - mean(captions)|| */
  double cosine;    /* cosine between the two centroids */
  double share;     /* variance of the pooled rows along the gap direction / total variance */
  int64_t n_images, n_captions;
} hp_gap;

int hp_gap_run(MPI_Comm comm, const float *img, int64_t ni, const float *cap, int64_t nc, int64_t E, hp_gap *out);

typedef struct {
  double accuracy;
  int64_t n_train, n_test; /* labelled rows used */
} hp_probe;

/* Rows with no label are skipped (train and test). */
int hp_probe_run(MPI_Comm comm, const float *xtr, const uint8_t *ytr, int64_t ntr, const float *xte,
                 const uint8_t *yte, int64_t nte, int64_t E, int64_t L, double ridge, int solver_ranks,
                 hp_probe *out);

#endif
