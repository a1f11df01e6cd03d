/* allreduce.c — bucketed non-blocking gradient allreduce (see allreduce.h). */
#define _POSIX_C_SOURCE 200809L
#include "comm/allreduce.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/watchdog.h"

void hp_bar_preinit(void) { setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "1", 0); }

int hp_bar_init(hp_bucket_allreduce *bar, MPI_Comm comm, float *buf, size_t n, size_t bucket_floats) {
  memset(bar, 0, sizeof *bar);
  bar->half_sum = MPI_OP_NULL;
  if (bucket_floats == 0 || bucket_floats > (size_t)INT_MAX)
    HP_ERROR(HP_ERR_CONFIG, "allreduce bucket of %zu floats: must be in [1, %d]", bucket_floats, INT_MAX);
  bar->comm = comm;
  bar->buf = buf;
  bar->n = n;
  bar->bucket_floats = bucket_floats;
  bar->nbuckets = (int)((n + bucket_floats - 1) / bucket_floats);
  MPI_Comm_size(comm, &bar->size);
  HP_CALLOC(bar->req, bar->nbuckets > 0 ? bar->nbuckets : 1, "allreduce requests");
  for (int b = 0; b < bar->nbuckets; b++) bar->req[b] = MPI_REQUEST_NULL;
  bar->next = bar->nbuckets;
  return 0;
}

void hp_bar_free(hp_bucket_allreduce *bar) {
  free(bar->req);
  free(bar->half);
  if (bar->half_sum != MPI_OP_NULL) MPI_Op_free(&bar->half_sum);
  memset(bar, 0, sizeof *bar);
  bar->half_sum = MPI_OP_NULL;
}

uint16_t hp_bf16_from_float(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u); /* NaN stays NaN */
  u += 0x7fffu + ((u >> 16) & 1u);                                             /* nearest, ties to even */
  return (uint16_t)(u >> 16);
}

float hp_bf16_to_float(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float x;
  memcpy(&x, &u, sizeof x);
  return x;
}

/* MPI_Op on MPI_UINT16_T holding bfloat16: inout = bf16(float(in) + float(inout)). */
static void bf16_sum(void *in, void *inout, int *len, MPI_Datatype *type) {
  (void)type;
  const uint16_t *a = in;
  uint16_t *b = inout;
  for (int i = 0; i < *len; i++) b[i] = hp_bf16_from_float(hp_bf16_to_float(a[i]) + hp_bf16_to_float(b[i]));
}

int hp_bar_set_payload(hp_bucket_allreduce *bar, hp_bar_payload payload) {
  if (payload == bar->payload) return 0;
  if (payload != HP_BAR_BFLOAT16) HP_ERROR(HP_ERR_INTERNAL, "allreduce payload %d: only float32 -> bfloat16", (int)payload);
  HP_CALLOC(bar->half, bar->n > 0 ? bar->n : 1, "bfloat16 gradient staging");
  HP_MPI(MPI_Op_create(bf16_sum, 1, &bar->half_sum));
  bar->payload = payload;
  return 0;
}

void hp_bar_begin(hp_bucket_allreduce *bar) { bar->next = bar->nbuckets; }

static int start_bucket(hp_bucket_allreduce *bar, int b) {
  size_t lo = (size_t)b * bar->bucket_floats;
  size_t len = bar->n - lo < bar->bucket_floats ? bar->n - lo : bar->bucket_floats;
  if (bar->size == 1) {
    bar->req[b] = MPI_REQUEST_NULL; /* nothing to sum */
    return 0;
  }
  if (bar->payload == HP_BAR_BFLOAT16) {
    for (size_t i = lo; i < lo + len; i++) bar->half[i] = hp_bf16_from_float(bar->buf[i]);
    HP_MPI(MPI_Iallreduce(MPI_IN_PLACE, bar->half + lo, (int)len, MPI_UINT16_T, bar->half_sum, bar->comm,
                          &bar->req[b]));
    return 0;
  }
  HP_MPI(MPI_Iallreduce(MPI_IN_PLACE, bar->buf + lo, (int)len, MPI_FLOAT, MPI_SUM, bar->comm, &bar->req[b]));
  return 0;
}

int hp_bar_ready(hp_bucket_allreduce *bar, size_t lo) {
  /* bucket b is complete when its first element is >= lo */
  while (bar->next > 0 && (size_t)(bar->next - 1) * bar->bucket_floats >= lo) {
    bar->next--;
    HP_CALL(start_bucket(bar, bar->next));
  }
  if (bar->size > 1 && bar->next < bar->nbuckets) {
    int flag;
    HP_MPI(MPI_Testall(bar->nbuckets - bar->next, bar->req + bar->next, &flag, MPI_STATUSES_IGNORE));
  }
  return 0;
}

int hp_bar_finish(hp_bucket_allreduce *bar, double *wait) {
  double t0 = MPI_Wtime();
  HP_CALL(hp_bar_ready(bar, 0));
  if (bar->size > 1) {
    const char *prev = hp_watch_enter("waiting for the gradient allreduce (MPI_Waitall)");
    HP_MPI(MPI_Waitall(bar->nbuckets, bar->req, MPI_STATUSES_IGNORE));
    hp_watch_leave(prev);
    if (bar->payload == HP_BAR_BFLOAT16)
      for (size_t i = 0; i < bar->n; i++) bar->buf[i] = hp_bf16_to_float(bar->half[i]);
  }
  bar->wait_seconds = MPI_Wtime() - t0;
  if (wait) *wait = bar->wait_seconds;
  return 0;
}
