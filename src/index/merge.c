/* merge.c — global top-k from every rank's local top-k.
 *
 * One MPI_Allreduce over the queries with a user operation whose element is a whole sorted
 * list of k (score, id) pairs: the operation merges two lists and keeps the k best. The MPI
 * library runs it as a reduction tree (log P steps, k*16 bytes per query per step) instead of
 * gathering P*k pairs per query on every rank. Under the total order (score descending, then
 * id ascending) "the k best of a union" is associative and commutative exactly, so the result
 * does not depend on the tree's shape nor on the rank count — provided ids are unique. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "index/index_impl.h"

/* Merge two best-first lists a and b of k hits; the k best go to b (in place, from the back). */
static void merge_two(const hp_index_hit *a, hp_index_hit *b, int k) {
  int na = 0, nb = 0;
  while (na + nb < k) { /* how many of the k best come from each list */
    if (nb < k && (na >= k || !hp_hit_better(a[na].score, a[na].id, b[nb].score, b[nb].id)))
      nb++;
    else
      na++;
  }
  int p = k - 1;
  while (na > 0) { /* backward merge: b's unread prefix is never overwritten before read */
    if (nb > 0 && hp_hit_better(a[na - 1].score, a[na - 1].id, b[nb - 1].score, b[nb - 1].id))
      b[p--] = b[--nb]; /* b's last is the worst left */
    else
      b[p--] = a[--na];
  }
}

static void merge_op(void *in, void *inout, int *len, MPI_Datatype *dt) {
  int bytes = 0;
  MPI_Type_size(*dt, &bytes);
  int k = bytes / (int)sizeof(hp_index_hit);
  const hp_index_hit *a = in;
  hp_index_hit *b = inout;
  for (int i = 0; i < *len; i++) merge_two(a + (size_t)i * (size_t)k, b + (size_t)i * (size_t)k, k);
}

int hp_index_merge(MPI_Comm comm, int64_t nq, int k, int64_t *ids, float *scores) {
  int size = 1;
  HP_MPI(MPI_Comm_size(comm, &size));
  if (size == 1 || nq == 0) return 0;
  if (k <= 0 || (size_t)k > (size_t)INT_MAX / sizeof(hp_index_hit))
    HP_ERROR(HP_ERR_CONFIG, "index: k = %d out of range", k);
  /* bounded messages: at most ~64 MiB and INT_MAX elements per allreduce */
  int64_t per = ((int64_t)64 << 20) / ((int64_t)k * (int64_t)sizeof(hp_index_hit));
  if (per < 1) per = 1;
  if (per > nq) per = nq;
  hp_index_hit *buf = NULL;
  HP_CALLOC(buf, (size_t)per * (size_t)k, "index: merge buffer");
  MPI_Datatype list;
  MPI_Op op;
  HP_MPI(MPI_Type_contiguous(k * (int)sizeof(hp_index_hit), MPI_BYTE, &list));
  HP_MPI(MPI_Type_commit(&list));
  HP_MPI(MPI_Op_create(merge_op, 1, &op));
  for (int64_t q0 = 0; q0 < nq; q0 += per) {
    int64_t m = nq - q0 < per ? nq - q0 : per;
    size_t base = (size_t)q0 * (size_t)k;
    for (size_t i = 0; i < (size_t)m * (size_t)k; i++) {
      buf[i].score = scores[base + i];
      buf[i].pad_ = 0;
      buf[i].id = ids[base + i];
    }
    HP_MPI(MPI_Allreduce(MPI_IN_PLACE, buf, (int)m, list, op, comm));
    for (size_t i = 0; i < (size_t)m * (size_t)k; i++) {
      scores[base + i] = buf[i].score;
      ids[base + i] = buf[i].id;
    }
  }
  HP_MPI(MPI_Op_free(&op));
  HP_MPI(MPI_Type_free(&list));
  free(buf);
  return 0;
}
