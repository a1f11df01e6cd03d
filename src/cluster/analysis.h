/* analysis.h — embedding analytics beside k-means (docs/cluster.md):
 *  - PCA with ScaLAPACK: the covariance X_c^T X_c / N by pdgemm on a block-cyclic process grid
 *    (P x 1, rows in blocks), eigen-decomposition by pdsyevd; explained variance, the first
 *    three components and every row's 3-D projection;
 *  - the modality gap: distance between the image and caption centroids, their cosine, and the
 *    share of the pooled variance along the gap direction (exact sums, rank-independent);
 *  - a linear probe: ridge regression from image embeddings (+ bias) to multi-hot labels, the
 *    normal equations (X^T X + ridge I) W = X^T Y formed by pdgemm and solved by pdposv; top-1
 *    accuracy (the highest-scoring label is one of the image's labels) on held-out rows.
 * The ScaLAPACK results depend on the process grid in the last bits (the reduction order of
 * pdgemm/pdsyevd/pdposv): identical to rounding, not bitwise, across rank counts.
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

int hp_pca_run(MPI_Comm comm, const float *x, int64_t n, int64_t E, hp_pca *out);
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
                 const uint8_t *yte, int64_t nte, int64_t E, int64_t L, double ridge, hp_probe *out);

#endif
