/* retrieval.h — recall@k of exact inner-product retrieval where each query's relevant items are
 * one contiguous range of the collection (an image's own captions; a caption's own image).
 *
 * Query i ranks every row of the collection by its inner product with q_i; its rank is the number
 * of NON-relevant rows scoring at least as high as its best relevant row (ties count against the
 * query), and it is a hit at k when rank < k. A query with no relevant row never hits. Scores
 * come from BLAS sgemm in blocks of 256 queries, so a query's figures do not depend on which
 * other queries share the call.
 */
#ifndef HP_METRICS_RETRIEVAL_H
#define HP_METRICS_RETRIEVAL_H

#include <stdint.h>

/* q [nq,E], db [ndb,E] row-major; relevant rows of query i: [rel_lo[i], rel_hi[i]).
 * hits[j] += the number of queries that hit at ks[j] (j < nk). HP_ERR_MEM on allocation. */
int hp_retrieval_hits(const float *q, int64_t nq, const float *db, int64_t ndb, int64_t E, const int64_t *rel_lo,
                      const int64_t *rel_hi, const int64_t *ks, int nk, double *hits);

#endif
