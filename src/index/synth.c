/* synth.c — synthetic unit vectors for index tests and benchmarks (see index.h). */
#include <math.h>

#include "base/rng.h"
#include "index/index_impl.h"

static void gauss(hp_rng *r, float *v, int64_t n) {
  for (int64_t i = 0; i < n; i += 2) { /* Box-Muller, two values per pair of uniforms */
    double u1 = hp_rng_uniform(r), u2 = hp_rng_uniform(r);
    double rad = sqrt(-2.0 * log(1.0 - u1)), th = 6.283185307179586 * u2;
    v[i] = (float)(rad * cos(th));
    if (i + 1 < n) v[i + 1] = (float)(rad * sin(th));
  }
}

static void normalise(float *v, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += (double)v[i] * v[i];
  float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
  for (int64_t i = 0; i < n; i++) v[i] *= inv;
}

void hp_index_synth(uint64_t seed, int64_t n_clusters, float sigma, int64_t row0, int64_t n,
                    int64_t dim, float *out) {
  for (int64_t i = 0; i < n; i++) {
    uint64_t row = (uint64_t)(row0 + i);
    float *v = out + i * dim;
    hp_rng r = hp_rng_make(seed, HP_STREAM_INDEX_SYNTH, row);
    gauss(&r, v, dim);
    if (n_clusters > 0) {
      uint64_t c = hp_hash4(seed, HP_STREAM_INDEX_SYNTH, row, 1) % (uint64_t)n_clusters;
      /* the center: a gaussian keyed by the cluster (separate key range), made unit length;
       * generated twice (norm, then values) to need no scratch */
      uint64_t cseed = seed ^ 0x5bd1e9955bd1e995ULL;
      double cn = 0;
      hp_rng rc = hp_rng_make(cseed, HP_STREAM_INDEX_SYNTH, c);
      for (int64_t e = 0; e < dim; e++) {
        float t;
        gauss(&rc, &t, 1);
        cn += (double)t * t;
      }
      float inv = (float)(1.0 / sqrt(cn)), scale = sigma / sqrtf((float)dim);
      rc = hp_rng_make(cseed, HP_STREAM_INDEX_SYNTH, c);
      for (int64_t e = 0; e < dim; e++) {
        float t;
        gauss(&rc, &t, 1);
        v[e] = t * inv + scale * v[e];
      }
    }
    normalise(v, dim);
  }
}
