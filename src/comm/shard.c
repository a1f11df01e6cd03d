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
