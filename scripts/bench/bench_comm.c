/* bench_comm.c — the collectives of data-parallel training, timed across ranks (run by
 * scripts/bench/bench_comm.sh on an emulated cluster, scripts/netns_cluster.sh).
 *
 *   bench_comm allreduce BYTES...   MPI_Allreduce of BYTES of float32, in place, MPI_SUM
 *   bench_comm bucketed BYTES...    the same gradient through hpclip's bucketed allreduce
 *                                   (comm/allreduce.h, buckets of --bucket-mb MiB [25], all
 *                                   ready at once: no backward pass to overlap with)
 *   bench_comm allgather ROWS DIM   MPI_Allgather of ROWS x DIM float32 per rank, twice (image
 *                                   and text embeddings, as the contrastive loss exchanges them)
 * Options: --min-seconds S [1]: repeat each size until S seconds have passed (at least 3 times,
 * at most 200). Every repetition starts after a barrier; its time is the slowest rank's.
 * Prints per size "RESULT op ranks bytes reps t_min t_median peak_rss_mib_max"
 * (bytes = one rank's payload: the gradient, or 2 x ROWS x DIM x 4 for allgather). */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mpi.h>

#include "base/error.h"
#include "base/resources.h"
#include "comm/allreduce.h"

static int g_rank, g_size;

static void die(const char *what) {
  fprintf(stderr, "bench_comm: rank %d: %s\n", g_rank, what);
  MPI_Abort(MPI_COMM_WORLD, 1);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef enum { OP_ALLREDUCE, OP_BUCKETED, OP_ALLGATHER } op_kind;

/* One timed repetition of OP; returns the slowest rank's seconds. */
static double once(op_kind op, float *buf, size_t n, float *gather, size_t rows_dim, double bucket_mb) {
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = MPI_Wtime();
  if (op == OP_ALLREDUCE) {
    /* MPI counts are int: large gradients go in int-sized pieces, as hpclip's buckets do */
    for (size_t off = 0; off < n;) {
      size_t k = n - off < (size_t)1 << 30 ? n - off : (size_t)1 << 30;
      if (MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD)) die("MPI_Allreduce");
      off += k;
    }
  } else if (op == OP_BUCKETED) {
    hp_bucket_allreduce bar;
    size_t bucket = (size_t)(bucket_mb * 1048576.0 / sizeof(float));
    if (hp_bar_init(&bar, MPI_COMM_WORLD, buf, n, bucket ? bucket : 1)) die("hp_bar_init");
    hp_bar_begin(&bar);
    double wait;
    if (hp_bar_ready(&bar, 0) || hp_bar_finish(&bar, &wait)) die("bucketed allreduce");
    hp_bar_free(&bar);
  } else {
    for (int k = 0; k < 2; k++)
      if (MPI_Allgather(buf, (int)rows_dim, MPI_FLOAT, gather, (int)rows_dim, MPI_FLOAT, MPI_COMM_WORLD))
        die("MPI_Allgather");
  }
  double dt = MPI_Wtime() - t0, worst;
  MPI_Allreduce(&dt, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return worst;
}

static void measure(op_kind op, const char *name, size_t bytes, size_t rows_dim, double min_seconds,
                    double bucket_mb) {
  size_t n = op == OP_ALLGATHER ? rows_dim : bytes / sizeof(float);
  if (n == 0) n = 1;
  float *buf = malloc(n * sizeof(float));
  float *gather = op == OP_ALLGATHER ? malloc(n * sizeof(float) * (size_t)g_size) : NULL;
  if (!buf || (op == OP_ALLGATHER && !gather)) die("out of memory");
  for (size_t i = 0; i < n; i++) buf[i] = (float)((i + (size_t)g_rank) % 7) * 0.125f;
  (void)once(op, buf, n, gather, rows_dim, bucket_mb); /* warm-up: connections, registration */
  enum { MAX_REPS = 200 };
  double t[MAX_REPS], total = 0;
  int reps = 0, go = 1;
  while (go) {
    t[reps] = once(op, buf, n, gather, rows_dim, bucket_mb);
    total += t[reps++];
    go = reps < 3 || (total < min_seconds && reps < MAX_REPS);
    MPI_Bcast(&go, 1, MPI_INT, 0, MPI_COMM_WORLD); /* rank 0 decides: same count everywhere */
  }
  qsort(t, (size_t)reps, sizeof t[0], cmp_double);
  double rss = hp_res_peak_rss_mib(), rss_max;
  MPI_Reduce(&rss, &rss_max, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  size_t payload = op == OP_ALLGATHER ? 2 * rows_dim * sizeof(float) : n * sizeof(float);
  if (g_rank == 0) {
    printf("RESULT %s %d %zu %d %.6f %.6f %.0f\n", name, g_size, payload, reps, t[0], t[reps / 2], rss_max);
    fflush(stdout);
  }
  free(buf);
  free(gather);
}

static double optd(int argc, char **argv, const char *name, double def) {
  for (int i = 2; i + 1 < argc; i++)
    if (!strcmp(argv[i], name)) return atof(argv[i + 1]);
  return def;
}

int main(int argc, char **argv) {
  hp_bar_preinit(); /* as hpclip does: the bucketed mode measures hpclip's allreduce */
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  if (argc < 3 || (strcmp(argv[1], "allreduce") && strcmp(argv[1], "bucketed") && strcmp(argv[1], "allgather"))) {
    if (g_rank == 0)
      fprintf(stderr, "usage: bench_comm allreduce|bucketed BYTES... | allgather ROWS DIM [--min-seconds S] "
                      "[--bucket-mb M]\n");
    MPI_Finalize();
    return 2;
  }
  double min_seconds = optd(argc, argv, "--min-seconds", 1.0), bucket_mb = optd(argc, argv, "--bucket-mb", 25.0);
  if (!strcmp(argv[1], "allgather")) {
    if (argc < 4) die("allgather ROWS DIM");
    long rows = atol(argv[2]), dim = atol(argv[3]);
    if (rows <= 0 || dim <= 0) die("allgather: ROWS and DIM must be positive");
    measure(OP_ALLGATHER, "allgather", 0, (size_t)rows * (size_t)dim, min_seconds, bucket_mb);
  } else {
    op_kind op = !strcmp(argv[1], "allreduce") ? OP_ALLREDUCE : OP_BUCKETED;
    for (int i = 2; i < argc; i++) {
      if (argv[i][0] == '-') { i++; continue; }
      long long b = atoll(argv[i]);
      if (b <= 0) die("sizes must be positive byte counts");
      measure(op, argv[1], (size_t)b, 0, min_seconds, bucket_mb);
    }
  }
  MPI_Finalize();
  return 0;
}
