/* loss.c — see loss.h. */
#include "nn/loss.h"

#include "nn/softmax.h"

double hp_crossentropy_forward(float *probs, float *losses, int *count, const float *logits,
                               const int32_t *targets, int N, int V, int ignore_index) {
  double total = 0.0;
  int cnt = 0;
  HP_OMP("omp parallel for reduction(+:total,cnt) if((size_t)N * V > HP_OMP_MIN_ELEMS)")
  for (int n = 0; n < N; n++) {
    const float *x = logits + (size_t)n * V;
    /* loss = logsumexp(x) - x[t]; read x[t] first since probs may alias logits */
    int keep = targets[n] != ignore_index;
    double xt = keep ? (double)x[targets[n]] : 0.0;
    double lse = hp_softmax_row(probs + (size_t)n * V, x, V);
    double l = 0.0;
    if (keep) {
      l = lse - xt;
      total += l;
      cnt++;
    }
    if (losses) losses[n] = (float)l;
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
