/* ranking.c — see ranking.h and docs/metrics.md. */
#include "metrics/ranking.h"

#include <math.h>

int64_t hp_rank_hits(const uint8_t *rel, int64_t n, int64_t k) {
  int64_t h = 0, m = k < n ? k : n;
  for (int64_t i = 0; i < m; i++) h += rel[i] != 0;
  return h;
}

double hp_precision_at(const uint8_t *rel, int64_t n, int64_t k) {
  return k > 0 ? (double)hp_rank_hits(rel, n, k) / (double)k : 0.0;
}

double hp_recall_at(const uint8_t *rel, int64_t n, int64_t k, int64_t total_rel, int64_t kmax,
                    hp_rank_convention conv) {
  int64_t d = conv == HP_RANK_RETRIEVED ? hp_rank_hits(rel, n, kmax) : total_rel;
  return d > 0 ? (double)hp_rank_hits(rel, n, k) / (double)d : 0.0;
}

double hp_ndcg_at(const uint8_t *rel, int64_t n, int64_t k, int64_t total_rel, hp_rank_convention conv) {
  int64_t m = k < n ? k : n;
  double dcg = 0.0, idcg = 0.0;
  for (int64_t i = 0; i < m; i++)
    if (rel[i]) dcg += 1.0 / log2((double)(i + 2));
  int64_t d = conv == HP_RANK_RETRIEVED ? hp_rank_hits(rel, n, k) : (total_rel < k ? total_rel : k);
  for (int64_t i = 0; i < d; i++) idcg += 1.0 / log2((double)(i + 2));
  return idcg > 0.0 ? dcg / idcg : 0.0;
}

double hp_ap_at(const uint8_t *rel, int64_t n, int64_t k, int64_t total_rel, hp_rank_convention conv) {
  int64_t m = k < n ? k : n, hits = 0;
  double sum = 0.0;
  for (int64_t i = 0; i < m; i++)
    if (rel[i]) sum += (double)++hits / (double)(i + 1);
  int64_t d = conv == HP_RANK_RETRIEVED ? hits : (total_rel < k ? total_rel : k);
  return d > 0 ? sum / (double)d : 0.0;
}

void hp_rank_metrics_at(const uint8_t *rel, int64_t n, int64_t k, int64_t total_rel, int64_t kmax,
                        hp_rank_convention conv, hp_rank_metrics *out) {
  out->p = hp_precision_at(rel, n, k);
  out->r = hp_recall_at(rel, n, k, total_rel, kmax, conv);
  out->ndcg = hp_ndcg_at(rel, n, k, total_rel, conv);
  out->ap = hp_ap_at(rel, n, k, total_rel, conv);
}
