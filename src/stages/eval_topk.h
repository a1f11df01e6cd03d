/* eval_topk.h — exact top-k by inner product over items sharded across ranks (the evaluation
 * stages' stand-in until src/index/ lands; then search/zeroshot switch to it).
 *
 * Every rank passes its own items (rows with their global ids) and the same queries; every rank
 * gets the global top-k of every query, ordered by score descending, equal scores by ascending
 * id. Scores are computed one (query, item) pair at a time in a fixed summation order, so a
 * pair's score — hence the whole result — is bitwise the same for any sharding of the items,
 * i.e. for any rank count. Fewer than k items in all: the missing ranks get id -1.
 */
#ifndef HP_STAGES_EVAL_TOPK_H
#define HP_STAGES_EVAL_TOPK_H

#include <mpi.h>
#include <stdint.h>

/* Dot product in a fixed order (8 interleaved partial sums, then a fixed tree). */
float hp_eval_dot(const float *a, const float *b, int64_t E);

int hp_eval_topk(MPI_Comm comm, const float *items, const int64_t *ids, int64_t n, const float *queries,
                 int64_t nq, int64_t E, int k, int64_t *out_ids /* [nq,k] */, float *out_scores /* [nq,k] */);

#endif
