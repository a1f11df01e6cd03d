/* rng.h — counter-based random numbers: the value depends only on (seed, stream, index,
 * counter), never on which rank asks or in which order, so a shuffle, a dropout mask or a
 * synthetic image is the same for any rank count. The mixer is SplitMix64's finaliser
 * applied in a chain (a keyed hash, not a cryptographic one). */
#ifndef HP_BASE_RNG_H
#define HP_BASE_RNG_H

#include <stdint.h>

/* Streams (purposes): a new purpose gets a new constant, never reuses one. */
enum {
  HP_STREAM_SPLIT = 1,
  HP_STREAM_SYNTH_SCENE = 2,
  HP_STREAM_SYNTH_CAPTION = 3,
  HP_STREAM_SYNTH_NOISE = 4,
  HP_STREAM_SHUFFLE = 5,
  HP_STREAM_CAPTION_PICK = 6,
  HP_STREAM_DROPOUT = 7,
  HP_STREAM_INIT = 8,
  HP_STREAM_INDEX_FOREST = 9,
  HP_STREAM_INDEX_SYNTH = 10,
  HP_STREAM_SYNTH_COCO_SIZE = 11, /* the canvas size of a COCO-layout image (data/synth_coco.h) */
  HP_STREAM_KMEANS_INIT = 20,
  HP_STREAM_SILHOUETTE_SAMPLE = 21
};

static inline uint64_t hp_mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static inline uint64_t hp_hash4(uint64_t seed, uint64_t stream, uint64_t index, uint64_t ctr) {
  uint64_t h = hp_mix64(seed ^ 0x6a09e667f3bcc908ULL);
  h = hp_mix64(h ^ stream);
  h = hp_mix64(h ^ index);
  return hp_mix64(h ^ ctr);
}

/* A sequential generator over one (seed, stream, index) key. */
typedef struct {
  uint64_t key;
  uint64_t ctr;
} hp_rng;

static inline hp_rng hp_rng_make(uint64_t seed, uint64_t stream, uint64_t index) {
  hp_rng r;
  r.key = hp_hash4(seed, stream, index, 0x243f6a8885a308d3ULL);
  r.ctr = 0;
  return r;
}

static inline uint64_t hp_rng_u64(hp_rng *r) { return hp_mix64(r->key ^ hp_mix64(r->ctr++)); }

/* Uniform double in [0, 1) with 53 random bits. */
static inline double hp_rng_uniform(hp_rng *r) {
  return (double)(hp_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [0, n), n > 0 (Lemire's multiply-shift; bias < n / 2^64). */
static inline uint64_t hp_rng_below(hp_rng *r, uint64_t n) {
  return (uint64_t)(((unsigned __int128)hp_rng_u64(r) * n) >> 64);
}

#endif
