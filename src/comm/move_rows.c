/* move_rows.c — see move_rows.h. */
#include "comm/move_rows.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

/* the overlap of [a0, a0 + an) and [b0, b0 + bn): its start and length (0 when none) */
static void overlap(int64_t a0, int64_t an, int64_t b0, int64_t bn, int64_t *o0, int64_t *on) {
  int64_t lo = a0 > b0 ? a0 : b0, hi = a0 + an < b0 + bn ? a0 + an : b0 + bn;
  *o0 = lo;
  *on = hi > lo ? hi - lo : 0;
}

int hp_move_rows(MPI_Comm comm, int64_t src0, int64_t nsrc, const void *src, int64_t dst0, int64_t ndst, void *dst,
                 size_t row_bytes) {
  int size, rank;
  HP_MPI(MPI_Comm_size(comm, &size));
  HP_MPI(MPI_Comm_rank(comm, &rank));
  int64_t mine[4] = {src0, nsrc, dst0, ndst}, *all = NULL;
  int *sc = NULL, *sd = NULL, *rc = NULL, *rd = NULL;
  HP_CALLOC(all, 4 * (size_t)size, "row ranges");
  HP_CALLOC(sc, 4 * (size_t)size, "row counts");
  sd = sc + size, rc = sd + size, rd = rc + size;
  HP_MPI(MPI_Allgather(mine, 4, MPI_INT64_T, all, 4, MPI_INT64_T, comm));
  int64_t o0, on, sent = 0, got = 0;
  int err = row_bytes == 0 || row_bytes > INT_MAX;
  for (int q = 0; q < size && !err; q++) {
    /* what I hold of q's rows: the displacement is the overlap's place in my src; what q holds of
     * mine: its place in my dst. Counts and displacements are in rows (one MPI type a row). */
    overlap(src0, nsrc, all[4 * q + 2], all[4 * q + 3], &o0, &on);
    sc[q] = (int)on, sd[q] = (int)(on ? o0 - src0 : 0);
    overlap(all[4 * q], all[4 * q + 1], dst0, ndst, &o0, &on);
    rc[q] = (int)on, rd[q] = (int)(on ? o0 - dst0 : 0);
    sent += sc[q], got += rc[q];
    err |= sent > INT_MAX || got > INT_MAX || nsrc > INT_MAX || ndst > INT_MAX;
  }
  free(all);
  if (err) {
    free(sc);
    HP_ERROR(HP_ERR_INTERNAL, "hp_move_rows: %lld held / %lld owned rows of %zu bytes exceed one exchange",
             (long long)nsrc, (long long)ndst, row_bytes);
  }
  MPI_Datatype row;
  HP_MPI(MPI_Type_contiguous((int)row_bytes, MPI_BYTE, &row));
  HP_MPI(MPI_Type_commit(&row));
  static unsigned char dummy[1];
  HP_MPI(MPI_Alltoallv(src ? src : dummy, sc, sd, row, dst ? dst : dummy, rc, rd, row, comm));
  MPI_Type_free(&row);
  free(sc);
  return 0;
}
