/* move_rows.h — rows computed under one distribution, delivered to the ranks that own them under
 * another (an all-to-all of interval intersections). */
#ifndef HP_COMM_MOVE_ROWS_H
#define HP_COMM_MOVE_ROWS_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

/* Collective: this rank holds global rows [src0, src0 + nsrc) in `src` and owns rows
 * [dst0, dst0 + ndst) in `dst`, rows of row_bytes bytes. Every row some rank holds is copied into
 * the dst of every rank that owns it (its own rows included); owned rows that no rank holds are
 * left as they are. The held ranges must not overlap. */
int hp_move_rows(MPI_Comm comm, int64_t src0, int64_t nsrc, const void *src, int64_t dst0, int64_t ndst, void *dst,
                 size_t row_bytes);

#endif
