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

typedef struct {
  MPI_Comm comm;
  float *buf;
  size_t n, bucket_floats;
  int nbuckets;
  int next;             /* buckets >= next (counted from the end) have started */
  MPI_Request *req;
  double wait_seconds;  /* time blocked in hp_bar_finish in the last step */
  int size;
} hp_bucket_allreduce;

int hp_bar_init(hp_bucket_allreduce *bar, MPI_Comm comm, float *buf, size_t n, size_t bucket_floats);
void hp_bar_free(hp_bucket_allreduce *bar);
void hp_bar_begin(hp_bucket_allreduce *bar);
/* Gradients in [lo, n) are final: start every complete bucket not started yet, progress the rest. */
int hp_bar_ready(hp_bucket_allreduce *bar, size_t lo);
/* Start the remaining buckets, wait for all; *wait gets the seconds spent blocked here. */
int hp_bar_finish(hp_bucket_allreduce *bar, double *wait);

#endif
