/* loss.c — see loss.h. */
#include "nn/loss.h"

#include "nn/softmax.h"

double hp_crossentropy_forward(float *probs, float *losses, int *count, const float *logits,
                               const int32_t *targets, int N, int V, int ignore_index) {
  /* Rows are summed in NB fixed blocks (partials on the stack), then the partials in order:
   * the result is bitwise the same for any thread count. */
  enum { NB = 64 };
  double part[NB];
  int cpart[NB];
  HP_OMP("omp parallel for if((size_t)N * V > HP_OMP_MIN_ELEMS)")
  for (int blk = 0; blk < NB; blk++) {
    int n0 = (int)((int64_t)N * blk / NB), n1 = (int)((int64_t)N * (blk + 1) / NB);
    double total = 0.0;
    int cnt = 0;
    for (int n = n0; n < n1; n++) {
      const float *x = logits + (size_t)n * V;
      /* loss = logsumexp(x) - x[t]; read x[t] first since probs may alias logits */
      int keep = targets[n] != ignore_index;
      double xt = keep ? (double)x[targets[n]] : 0.0;
      double lse = hp_softmax_row(probs + (size_t)n * V, x, V);
      double l = keep ? lse - xt : 0.0;
      total += l;
      cnt += keep;
      if (losses) losses[n] = (float)l;
    }
    part[blk] = total;
    cpart[blk] = cnt;
  }
  double total = 0.0;
  int cnt = 0;
  for (int blk = 0; blk < NB; blk++) {
    total += part[blk];
    cnt += cpart[blk];
  }
  *count = cnt;
  return cnt ? total / cnt : 0.0;
}

void hp_crossentropy_backward(float *dlogits, const float *probs, const int32_t *targets,
                              int N, int V, int ignore_index, int count, float dloss) {
  if (count <= 0) return;
  float sc = dloss / (float)count;
  HP_OMP("omp parallel for if((size_t)N * V > HP_OMP_MIN_ELEMS)")
  for (int n = 0; n < N; n++) {
    if (targets[n] == ignore_index) continue;
    const float *p = probs + (size_t)n * V;
    float *d = dlogits + (size_t)n * V;
    for (int v = 0; v < V; v++) d[v] += sc * p[v];
    d[targets[n]] -= sc;
  }
}
