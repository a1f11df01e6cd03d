/* bench_support_memory.c — throughput of the support-memory projection (hp_support_project):
 * N memory rows x d (unit rows, sharded over the ranks in balanced blocks), nq unit queries;
 * the median of --reps timed calls (max over ranks), queries/s. Also checks that the result
 * equals the first call's bitwise on every repetition.
 *
 *   mpirun -np P build/bench_support_memory [--n 400000] [--dim 768] [--nq 1000] [--reps 3]
 *                                           [--renorm 1] [--seed 1]
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "base/error.h"
#include "base/rng.h"
#include "comm/shard.h"
#include "models/support_memory.h"

static const char *arg(int argc, char **argv, const char *name, const char *def) {
  for (int i = 1; i + 1 < argc; i++)
    if (!strcmp(argv[i], name)) return argv[i + 1];
  return def;
}

static void unit_rows(float *x, int64_t row0, int64_t n, int d, uint64_t seed, uint64_t stream) {
  for (int64_t i = 0; i < n; i++) {
    hp_rng r = hp_rng_make(seed, stream, (uint64_t)(row0 + i));
    double s = 0;
    float *p = x + i * d;
    /* a shared direction plus noise: positive-leaning similarities, like CLIP embeddings */
    for (int j = 0; j < d; j++) {
      p[j] = (float)(hp_rng_uniform(&r) * 2 - 1 + (j % 7 == 0 ? 0.8 : 0.0));
      s += (double)p[j] * p[j];
    }
    for (int j = 0; j < d; j++) p[j] = (float)(p[j] / sqrt(s));
  }
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const int64_t N = atoll(arg(argc, argv, "--n", "400000"));
  const int d = atoi(arg(argc, argv, "--dim", "768"));
  const int64_t nq = atoll(arg(argc, argv, "--nq", "1000"));
  int reps = atoi(arg(argc, argv, "--reps", "3"));
  const int renorm = atoi(arg(argc, argv, "--renorm", "1"));
  const uint64_t seed = (uint64_t)atoll(arg(argc, argv, "--seed", "1"));
  if (reps < 1) reps = 1;
  int64_t r0, n;
  hp_shard_range(N, size, rank, &r0, &n);
  float *mem = malloc((size_t)(n > 0 ? n : 1) * (size_t)d * sizeof *mem);
  float *v = malloc((size_t)nq * (size_t)d * sizeof *v);
  float *out = malloc((size_t)nq * (size_t)d * sizeof *out), *first = malloc((size_t)nq * (size_t)d * sizeof *first);
  double *ts = malloc((size_t)reps * sizeof *ts);
  if (!mem || !v || !out || !first || !ts) {
    fprintf(stderr, "bench_support_memory: out of memory\n");
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  unit_rows(mem, r0, n, d, seed, 1);
  unit_rows(v, 0, nq, d, seed, 2);
  int64_t nf = 0;
  int same = 1;
  for (int k = 0; k < reps; k++) {
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    int e = hp_support_project(MPI_COMM_WORLD, mem, n, d, v, nq, renorm, k == 0 ? first : out, &nf);
    double t = MPI_Wtime() - t0;
    if (e) {
      fprintf(stderr, "rank %d: %s\n", rank, hp_error_message());
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Allreduce(&t, &ts[k], 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (k > 0 && memcmp(out, first, (size_t)nq * (size_t)d * sizeof *out)) same = 0;
  }
  qsort(ts, (size_t)reps, sizeof *ts, cmp_d);
  double med = ts[reps / 2];
  if (rank == 0)
    printf("support_project ranks=%d N=%lld d=%d nq=%lld renorm=%d: median %.3f s (min %.3f) = %.1f queries/s, "
           "fallback %lld, repeat-identical %s\n",
           size, (long long)N, d, (long long)nq, renorm, med, ts[0], (double)nq / med, (long long)nf, same ? "yes" : "NO");
  free(mem);
  free(v);
  free(out);
  free(first);
  free(ts);
  MPI_Finalize();
  return same ? 0 : 1;
}
