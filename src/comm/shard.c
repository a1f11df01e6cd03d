/* shard.c — block distribution of rows over ranks (see shard.h). */
#include "comm/shard.h"

void hp_shard_range(int64_t n, int size, int rank, int64_t *row0, int64_t *count) {
  if (n < 0 || size <= 0 || rank < 0 || rank >= size) {
    *row0 = 0;
    *count = 0;
    return;
  }
  int64_t base = n / size, rem = n % size, r = rank;
  *count = base + (r < rem ? 1 : 0);
  *row0 = r * base + (r < rem ? r : rem);
}

void hp_shard_batches(int64_t n, int64_t batch, int size, int rank, int64_t *row0, int64_t *count, int64_t *rounds) {
  if (batch < 1 || n < 0 || size <= 0) {
    *row0 = 0;
    *count = 0;
    if (rounds) *rounds = 0;
    return;
  }
  int64_t nb = n / batch + (n % batch != 0), b0, bn;
  hp_shard_range(nb, size, rank, &b0, &bn);
  int64_t a = b0 * batch < n ? b0 * batch : n, e = (b0 + bn) * batch < n ? (b0 + bn) * batch : n;
  *row0 = a;
  *count = e - a;
  if (rounds) *rounds = nb / size + (nb % size != 0);
}
