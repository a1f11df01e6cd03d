/* split.c — exact-proportion seeded splits (see split.h). */
#include "data/split.h"

#include <math.h>
#include <stdlib.h>

#include "base/error.h"
#include "base/rng.h"
#include "io/dataset.h"

typedef struct {
  uint64_t h;
  int64_t i;
} split_key;

static inline int key_less(split_key a, split_key b) { return a.h < b.h || (a.h == b.h && a.i < b.i); }

static inline split_key key_of(uint64_t seed, int64_t i) {
  split_key k = {hp_hash4(seed, HP_STREAM_SPLIT, (uint64_t)i, 0), i};
  return k;
}

/* Quickselect: after the call a[k] is the element of rank k in [lo, hi]. The keys are hash
 * values, so a middle pivot behaves like a random one. */
static void select_kth(split_key *a, int64_t lo, int64_t hi, int64_t k) {
  while (lo < hi) {
    split_key pivot = a[lo + (hi - lo) / 2];
    int64_t i = lo, j = hi;
    while (i <= j) {
      while (key_less(a[i], pivot)) i++;
      while (key_less(pivot, a[j])) j--;
      if (i <= j) {
        split_key t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    /* Now [lo, j] <= pivot <= [i, hi], and anything strictly between j and i equals pivot. */
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

void hp_split_counts(int64_t n_total, double train_frac, double val_frac, int64_t *n_train,
                     int64_t *n_val, int64_t *n_test) {
  int64_t tr = (int64_t)floor((double)n_total * train_frac + 0.5);
  int64_t va = (int64_t)floor((double)n_total * val_frac + 0.5);
  if (tr < 0) tr = 0;
  if (tr > n_total) tr = n_total;
  if (va < 0) va = 0;
  if (va > n_total - tr) va = n_total - tr;
  *n_train = tr;
  *n_val = va;
  *n_test = n_total - tr - va;
}

/* The key of order position k (0 <= k < n_total) without holding all n_total keys: the hashes
 * are uniform, so a histogram of their top 16 bits finds the bucket holding position k, and
 * only that bucket's keys (about n_total / 65536) are collected and selected from. Memory is
 * O(65536 + bucket), time two passes of hashing. */
#define SPLIT_BITS 16
#define SPLIT_BUCKETS ((size_t)1 << SPLIT_BITS)

static int key_at(uint64_t seed, int64_t n_total, const int64_t *hist, int64_t k, split_key *out) {
  size_t b = 0;
  int64_t before = 0;
  while (before + hist[b] <= k) before += hist[b++];
  split_key *keys = NULL;
  HP_CALLOC(keys, hist[b], "split: keys of one hash bucket");
  int64_t m = 0;
  for (int64_t i = 0; i < n_total; i++) {
    split_key key = key_of(seed, i);
    if ((size_t)(key.h >> (64 - SPLIT_BITS)) == b) keys[m++] = key;
  }
  select_kth(keys, 0, m - 1, k - before);
  *out = keys[k - before];
  free(keys);
  return 0;
}

int hp_split_assign(uint64_t seed, int64_t n_total, double train_frac, double val_frac, int64_t row0,
                    int64_t n, uint8_t *out) {
  if (!(train_frac >= 0 && train_frac <= 1) || !(val_frac >= 0 && val_frac <= 1) ||
      train_frac + val_frac > 1 + 1e-9)
    HP_ERROR(HP_ERR_CONFIG,
             "split fractions train %g, validation %g: each must be in [0,1] and their sum at most 1",
             train_frac, val_frac);
  if (n_total < 0 || row0 < 0 || n < 0 || row0 > n_total - n)
    HP_ERROR(HP_ERR_INTERNAL, "split: rows [%lld, %lld) outside 0..%lld", (long long)row0,
             (long long)(row0 + n), (long long)n_total);
  int64_t n_train, n_val, n_test;
  hp_split_counts(n_total, train_frac, val_frac, &n_train, &n_val, &n_test);
  if (n == 0) return 0;

  /* The keys at order positions n_train and n_train + n_val are the cut points: an image is
   * train if its key is below the first, validation if below the second. */
  int have_cut1 = n_train < n_total, have_cut2 = n_train + n_val < n_total;
  split_key cut1 = {0, 0}, cut2 = {0, 0};
  if (have_cut1 || have_cut2) {
    int64_t *hist = NULL;
    HP_CALLOC(hist, SPLIT_BUCKETS, "split: hash histogram");
    for (int64_t i = 0; i < n_total; i++) hist[key_of(seed, i).h >> (64 - SPLIT_BITS)]++;
    if (have_cut1) HP_CALL(key_at(seed, n_total, hist, n_train, &cut1));
    if (have_cut2) HP_CALL(key_at(seed, n_total, hist, n_train + n_val, &cut2));
    free(hist);
  }
  for (int64_t r = 0; r < n; r++) {
    split_key k = key_of(seed, row0 + r);
    if (!have_cut1 || key_less(k, cut1)) out[r] = HP_SPLIT_TRAIN;
    else if (!have_cut2 || key_less(k, cut2)) out[r] = HP_SPLIT_VAL;
    else out[r] = HP_SPLIT_TEST;
  }
  return 0;
}

void hp_split_assign_per_image(uint64_t seed, double train_frac, double val_frac, int64_t row0, int64_t n,
                               uint8_t *out) {
  for (int64_t i = 0; i < n; i++) {
    double u = (double)(hp_hash4(seed, HP_STREAM_SPLIT, (uint64_t)(row0 + i), 2) >> 11) * 0x1.0p-53;
    out[i] = u < train_frac ? HP_SPLIT_TRAIN : u < train_frac + val_frac ? HP_SPLIT_VAL : HP_SPLIT_TEST;
  }
}
