/* retrieval.c — see retrieval.h. */
#include "metrics/retrieval.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>

#include "base/error.h"

int hp_retrieval_hits(const float *q, int64_t nq, const float *db, int64_t ndb, int64_t E, const int64_t *rel_lo,
                      const int64_t *rel_hi, const int64_t *ks, int nk, double *hits) {
  const int64_t QB = 256;
  if (nq <= 0) return 0;
  float *sc = NULL;
  HP_CALLOC(sc, (size_t)QB * (size_t)(ndb > 0 ? ndb : 1), "similarity block");
  for (int64_t q0 = 0; q0 < nq; q0 += QB) {
    int64_t qb = nq - q0 < QB ? nq - q0 : QB;
    if (ndb > 0)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)qb, (int)ndb, (int)E, 1.0f, q + q0 * E, (int)E, db,
                  (int)E, 0.0f, sc, (int)ndb);
    for (int64_t i = 0; i < qb; i++) {
      const float *s = sc + i * ndb;
      int64_t lo = rel_lo[q0 + i], hi = rel_hi[q0 + i];
      if (lo >= hi) continue; /* nothing relevant: never a hit */
      float best = -INFINITY;
      for (int64_t c = lo; c < hi; c++) best = s[c] > best ? s[c] : best;
      int64_t rank = 0;
      for (int64_t c = 0; c < ndb; c++)
        if ((c < lo || c >= hi) && s[c] >= best) rank++;
      for (int k = 0; k < nk; k++) hits[k] += rank < ks[k];
    }
  }
  free(sc);
  return 0;
}
