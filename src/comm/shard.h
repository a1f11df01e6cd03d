/* shard.h — which contiguous block of rows a rank owns. */
#ifndef HP_COMM_SHARD_H
#define HP_COMM_SHARD_H

#include <stdint.h>

/* Balanced contiguous blocks of n rows over `size` ranks: the first n % size ranks get one row
 * more. Rank r owns [*row0, *row0 + *count). n >= 0, 0 <= rank < size. */
void hp_shard_range(int64_t n, int size, int rank, int64_t *row0, int64_t *count);

#endif
