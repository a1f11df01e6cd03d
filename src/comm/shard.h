/* shard.h — which contiguous block of rows a rank owns. */
#ifndef HP_COMM_SHARD_H
#define HP_COMM_SHARD_H

#include <stdint.h>

/* Balanced contiguous blocks of n rows over `size` ranks: the first n % size ranks get one row
 * more. Rank r owns [*row0, *row0 + *count). n >= 0, 0 <= rank < size. */
void hp_shard_range(int64_t n, int size, int rank, int64_t *row0, int64_t *count);

/* n rows cut into global batches of `batch` rows (batch b = rows [b*batch, (b+1)*batch), the
 * last one short); rank r owns the rows of its hp_shard_range block of whole batches:
 * [*row0, *row0 + *count). A rank without a batch owns the empty range at n, so *row0 <= n
 * always (it may be passed to a reader with *count = 0). *rounds (may be NULL) = the largest
 * number of batches any rank owns: the loop count when every rank must take part in the same
 * number of collective reads. n >= 0, batch >= 1. */
void hp_shard_batches(int64_t n, int64_t batch, int size, int rank, int64_t *row0, int64_t *count, int64_t *rounds);

#endif
