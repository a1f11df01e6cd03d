/* ranking.h — ranking metrics of one query's ranked list (pure functions, no MPI).
 *
 * Input: rel[0..n) — 1 if the item at rank i (0-based, best first) is relevant, else 0 — and
 * counts. A list shorter than k (a collection smaller than k) is treated as if padded with
 * non-relevant items: P@k always divides by k. Definitions, both denominator conventions and
 * the evidence for the study's convention: docs/metrics.md.
 *
 *   hits@k   = sum_{i<k} rel[i]
 *   P@k      = hits@k / k
 *   R@k      = hits@k / D_R          D_R  = total relevant R       (HP_RANK_RELEVANT)
 *                                         = hits@kmax             (HP_RANK_RETRIEVED, the study)
 *   NDCG@k   = DCG@k / IDCG@k,  DCG@k = sum_{i<k} rel[i] / log2(i+2),
 *              IDCG@k = sum_{i<D_N} 1/log2(i+2)   D_N = min(k, R)  | hits@k
 *   AP@k     = (sum_{i<k} rel[i] * P@(i+1)) / D_A                D_A = min(k, R) | hits@k
 * A zero denominator gives 0 (a query with nothing relevant scores 0, never NaN).
 */
#ifndef HP_METRICS_RANKING_H
#define HP_METRICS_RANKING_H

#include <stdint.h>

typedef enum {
  HP_RANK_RELEVANT = 0,  /* denominators from the number of relevant items in the collection */
  HP_RANK_RETRIEVED = 1  /* denominators from the relevant items retrieved (the study's Table 1) */
} hp_rank_convention;

typedef struct {
  double p, r, ndcg, ap;
} hp_rank_metrics;

int64_t hp_rank_hits(const uint8_t *rel, int64_t n, int64_t k);
double hp_precision_at(const uint8_t *rel, int64_t n, int64_t k);
/* total_rel = R (relevant items in the collection); kmax = the list length the RETRIEVED
 * convention normalises recall by (10 in the study). */
double hp_recall_at(const uint8_t *rel, int64_t n, int64_t k, int64_t total_rel, int64_t kmax,
                    hp_rank_convention conv);
double hp_ndcg_at(const uint8_t *rel, int64_t n, int64_t k, int64_t total_rel, hp_rank_convention conv);
double hp_ap_at(const uint8_t *rel, int64_t n, int64_t k, int64_t total_rel, hp_rank_convention conv);
/* All four at once. */
void hp_rank_metrics_at(const uint8_t *rel, int64_t n, int64_t k, int64_t total_rel, int64_t kmax,
                        hp_rank_convention conv, hp_rank_metrics *out);

#endif
