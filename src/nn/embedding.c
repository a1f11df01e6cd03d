/* embedding.c — see embedding.h. */
#include "nn/embedding.h"

#include <string.h>

#include "base/error.h"

int hp_embedding_check_ids(const int32_t *ids, size_t N, int V) {
  for (size_t n = 0; n < N; n++)
    if (ids[n] < 0 || ids[n] >= V)
      HP_ERROR(HP_ERR_INPUT, "token id %d at position %zu is outside the vocabulary [0,%d)",
               (int)ids[n], n, V);
  return HP_OK;
}

void hp_embedding_forward(float *out, const int32_t *ids, const float *table, int N, int C) {
  HP_OMP("omp parallel for if((size_t)N * C > HP_OMP_MIN_ELEMS)")
  for (int n = 0; n < N; n++)
    memcpy(out + (size_t)n * C, table + (size_t)ids[n] * C, (size_t)C * sizeof(float));
}

void hp_embedding_backward(float *dtable, const float *dout, const int32_t *ids, int N, int C) {
  enum { CB = 64 }; /* channel block: each thread owns columns [c0,c0+CB) of every row */
  int nblk = (C + CB - 1) / CB;
  HP_OMP("omp parallel for if((size_t)N * C > HP_OMP_MIN_ELEMS)")
  for (int blk = 0; blk < nblk; blk++) {
    int c0 = blk * CB, c1 = c0 + CB < C ? c0 + CB : C;
    for (int n = 0; n < N; n++) {
      float *d = dtable + (size_t)ids[n] * C;
      const float *g = dout + (size_t)n * C;
      for (int c = c0; c < c1; c++) d[c] += g[c];
    }
  }
}

void hp_posembed_forward(float *out, const float *pos, int B, int T, int C) {
  size_t TC = (size_t)T * C;
  HP_OMP("omp parallel for if((size_t)B * TC > HP_OMP_MIN_ELEMS)")
  for (int b = 0; b < B; b++) {
    float *o = out + b * TC;
    for (size_t i = 0; i < TC; i++) o[i] += pos[i];
  }
}

void hp_posembed_backward(float *dpos, const float *dout, int B, int T, int C) {
  size_t TC = (size_t)T * C;
  HP_OMP("omp parallel for if((size_t)B * TC > HP_OMP_MIN_ELEMS)")
  for (size_t i = 0; i < TC; i++) {
    double s = 0.0;
    for (int b = 0; b < B; b++) s += dout[b * TC + i];
    dpos[i] += (float)s;
  }
}
