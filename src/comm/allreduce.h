/* allreduce.h — bucketed, overlapped gradient summation across ranks.
 *
 * The gradient buffer [0, n) is cut into fixed buckets of `bucket_floats` (the last one
 * shorter). Backward passes finish gradients from the end of the buffer towards its start
 * (parameters are laid out input layer first), so the caller reports "everything in [lo, n)
 * is final" with hp_bar_ready(lo) as layers complete; each bucket that became complete starts
 * its MPI_Iallreduce (in place, MPI_SUM) at once, and already started ones are progressed
 * with MPI_Testall, so communication overlaps the rest of the backward pass. hp_bar_finish
 * starts what is left and waits. Bucket boundaries do not depend on timing, so runs with the
 * same rank count are bitwise reproducible.
 *
 * Usage per step:  hp_bar_begin(&bar);  ...backward calling hp_bar_ready(&bar, lo)...;
 *                  hp_bar_finish(&bar, &wait_seconds);
 */
#ifndef HP_COMM_ALLREDUCE_H
#define HP_COMM_ALLREDUCE_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

/* What travels: float32, or bfloat16 (the top 16 bits of a float32, rounded to nearest even:
 * float32's exponent range, 8 bits of mantissa) with every addition done in float32 by a
 * user-defined MPI_Op. bfloat16 halves the bytes on the wire; each hop rounds the partial sum
 * to bfloat16. One rank moves nothing and is bitwise float32. */
typedef enum { HP_BAR_FLOAT32 = 0, HP_BAR_BFLOAT16 = 1 } hp_bar_payload;

typedef struct {
  MPI_Comm comm;
  float *buf;
  size_t n, bucket_floats;
  int nbuckets;
  int next;             /* buckets >= next (counted from the end) have started */
  MPI_Request *req;
  double wait_seconds;  /* time blocked in hp_bar_finish in the last step */
  int size;
  hp_bar_payload payload;
  uint16_t *half;       /* bfloat16 staging of the whole buffer (HP_BAR_BFLOAT16) */
  MPI_Op half_sum;      /* float32 addition of bfloat16 values */
} hp_bucket_allreduce;

/* Call before MPI_Init. Open MPI's non-blocking collectives (libnbc) give an in-place
 * MPI_Iallreduce a binomial tree: reduce to rank 0, then broadcast, about 2 log2(p) S/beta on
 * the wire instead of a ring's 2 (p-1)/p S/beta (measured: twice the time at 2 nodes,
 * docs/scaling.md). The buckets are in place, so this asks libnbc for its ring
 * (OMPI_MCA_coll_libnbc_iallreduce_algorithm = 1), unless the environment already chose. */
void hp_bar_preinit(void);

int hp_bar_init(hp_bucket_allreduce *bar, MPI_Comm comm, float *buf, size_t n, size_t bucket_floats);
void hp_bar_free(hp_bucket_allreduce *bar);
/* After init, before the first step: the payload (float32 by default). bfloat16 allocates a
 * staging buffer of n uint16 values. */
int hp_bar_set_payload(hp_bucket_allreduce *bar, hp_bar_payload payload);
/* Round-trips used by the payload (exposed for tests): float32 -> bfloat16, nearest even,
 * NaN kept a (quiet) NaN; bfloat16 -> float32 exactly. */
uint16_t hp_bf16_from_float(float x);
float hp_bf16_to_float(uint16_t h);
void hp_bar_begin(hp_bucket_allreduce *bar);
/* Gradients in [lo, n) are final: start every complete bucket not started yet, progress the rest. */
int hp_bar_ready(hp_bucket_allreduce *bar, size_t lo);
/* Start the remaining buckets, wait for all; *wait gets the seconds spent blocked here. */
int hp_bar_finish(hp_bucket_allreduce *bar, double *wait);

#endif
