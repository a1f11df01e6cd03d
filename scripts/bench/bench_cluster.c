/* bench_cluster.c — timing of src/cluster on raw float32 data (scripts/bench/bench_cluster.sh).
 *
 *   bench_cluster gen --n N --dim E --clusters C --out FILE      Gaussian mixture, unit-normalised
 *   bench_cluster lloyd --n N --dim E --k K --iters I --data FILE     (under mpirun, any ranks)
 *       k-means++ seeding, then I Lloyd iterations (GEMM assignment + exact re-check + exact
 *       fixed-point means), each timed; prints the median and mean seconds per iteration
 *   bench_cluster silhouette --n N --dim E --k K --data FILE [--sample S]
 *       labels from 5 Lloyd iterations, then the exact (or sampled) silhouette, timed
 * Every rank reads its contiguous block of rows. Times are the maximum over ranks; memory is the
 * peak resident set (VmHWM) of every rank. Results on stdout as "RESULT key=value ..." lines. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/rng.h"
#include "cluster/kmeans.h"
#include "comm/shard.h"

static const char *arg(int argc, char **argv, const char *name, const char *def) {
  for (int i = 2; i + 1 < argc; i++)
    if (!strcmp(argv[i], name)) return argv[i + 1];
  return def;
}

static long vmhwm_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmHWM:", 6)) v = atol(line + 6);
  if (f) fclose(f);
  return v;
}

static double tmax(MPI_Comm c, double t) {
  MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, c);
  return t;
}

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void die(const char *what) {
  fprintf(stderr, "bench_cluster: %s: %s\n", what, hp_error_message());
  MPI_Abort(MPI_COMM_WORLD, 1);
}

static void gen(int64_t n, int64_t E, int64_t C, const char *out) {
  FILE *f = fopen(out, "wb");
  if (!f) {
    perror(out);
    exit(1);
  }
  float *cent = malloc((size_t)(C * E) * sizeof(float)), *row = malloc((size_t)E * sizeof(float));
  hp_rng r = hp_rng_make(1, 77, 0);
  for (int64_t i = 0; i < C * E; i++) {
    double u1 = hp_rng_uniform(&r) + 1e-300, u2 = hp_rng_uniform(&r);
    cent[i] = (float)(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
  }
  for (int64_t i = 0; i < n; i++) {
    int64_t c = (int64_t)hp_rng_below(&r, (uint64_t)C);
    double s = 0;
    for (int64_t j = 0; j < E; j++) {
      double u1 = hp_rng_uniform(&r) + 1e-300, u2 = hp_rng_uniform(&r);
      row[j] = cent[c * E + j] + (float)(0.7 * sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
      s += (double)row[j] * row[j];
    }
    for (int64_t j = 0; j < E; j++) row[j] = (float)(row[j] / sqrt(s));
    if (fwrite(row, sizeof(float), (size_t)E, f) != (size_t)E) {
      perror(out);
      exit(1);
    }
  }
  fclose(f);
  free(cent);
  free(row);
  printf("wrote %s: %lld x %lld float32, %lld clusters\n", out, (long long)n, (long long)E, (long long)C);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (argc < 2) {
    if (rank == 0) fprintf(stderr, "usage: bench_cluster gen|lloyd|silhouette [--n N --dim E --k K ...]\n");
    MPI_Finalize();
    return 2;
  }
  const char *mode = argv[1];
  int64_t n = atoll(arg(argc, argv, "--n", "40000")), E = atoll(arg(argc, argv, "--dim", "768"));
  int k = atoi(arg(argc, argv, "--k", "110")), iters = atoi(arg(argc, argv, "--iters", "10"));
  const char *data = arg(argc, argv, "--data", "/tmp/hpclip-bench-cluster/data.f32");
  if (!strcmp(mode, "gen")) {
    if (rank == 0) gen(n, E, atoll(arg(argc, argv, "--clusters", "110")), arg(argc, argv, "--out", data));
    MPI_Finalize();
    return 0;
  }
  int64_t r0, m;
  hp_shard_range(n, size, rank, &r0, &m);
  float *x = malloc((size_t)(m > 0 ? m : 1) * (size_t)E * sizeof(float));
  FILE *f = fopen(data, "rb");
  if (!f || fseek(f, (long)(r0 * E * (int64_t)sizeof(float)), SEEK_SET) != 0 ||
      fread(x, sizeof(float), (size_t)(m * E), f) != (size_t)(m * E)) {
    fprintf(stderr, "bench_cluster: cannot read %lld rows from %s (run gen first)\n", (long long)m, data);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  fclose(f);
  hp_km_data d;
  if (hp_km_data_init(MPI_COMM_WORLD, x, m, E, &d)) die("data");
  double *cent = calloc((size_t)k * (size_t)E, sizeof(double));
  int64_t *label = malloc((size_t)(m > 0 ? m : 1) * sizeof(int64_t)), *counts = calloc((size_t)k, sizeof(int64_t));
  for (int64_t i = 0; i < m; i++) label[i] = -1;
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = MPI_Wtime();
  if (hp_km_init_pp(&d, k, 1, cent)) die("k-means++");
  double tinit = tmax(MPI_COMM_WORLD, MPI_Wtime() - t0);
  int nit = !strcmp(mode, "lloyd") ? iters : 5;
  double *ti = calloc((size_t)nit, sizeof(double)), tsum = 0;
  int64_t changed = 0;
  for (int it = 0; it < nit; it++) {
    MPI_Barrier(MPI_COMM_WORLD);
    double t = MPI_Wtime();
    if (hp_km_assign(&d, k, cent, label, NULL, &changed)) die("assign");
    if (hp_km_means(&d, k, label, cent, counts)) die("means");
    ti[it] = tmax(MPI_COMM_WORLD, MPI_Wtime() - t);
    tsum += ti[it];
  }
  qsort(ti, (size_t)nit, sizeof(double), cmpd);
  long hwm = vmhwm_kb(), *all = calloc((size_t)size, sizeof(long));
  MPI_Gather(&hwm, 1, MPI_LONG, all, 1, MPI_LONG, 0, MPI_COMM_WORLD);
  if (rank == 0) {
    printf("RESULT mode=lloyd n=%lld dim=%lld k=%d ranks=%d iters=%d init_s=%.4f median_iter_s=%.5f mean_iter_s=%.5f "
           "gflops=%.1f last_changed=%lld\n", (long long)n, (long long)E, k, size, nit, tinit, ti[nit / 2],
           tsum / nit, 2.0 * (double)n * (double)E * k / ti[nit / 2] * 1e-9, (long long)changed);
    printf("RESULT memory_per_rank_MiB=");
    for (int r = 0; r < size; r++) printf("%s%.0f", r ? "," : "", all[r] / 1024.0);
    printf("\n");
  }
  if (!strcmp(mode, "silhouette")) {
    int64_t sample = atoll(arg(argc, argv, "--sample", "0")), used;
    double s;
    MPI_Barrier(MPI_COMM_WORLD);
    double t = MPI_Wtime();
    if (hp_km_silhouette(&d, k, label, sample, 1, &s, &used)) die("silhouette");
    double ts = tmax(MPI_COMM_WORLD, MPI_Wtime() - t);
    hwm = vmhwm_kb();
    MPI_Gather(&hwm, 1, MPI_LONG, all, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    if (rank == 0) {
      printf("RESULT mode=silhouette n=%lld dim=%lld k=%d ranks=%d rows=%lld silhouette=%.6f seconds=%.3f "
             "gflops=%.1f\n", (long long)n, (long long)E, k, size, (long long)used, s, ts,
             2.0 * (double)used * (double)used * (double)E / ts * 1e-9);
      printf("RESULT memory_per_rank_MiB=");
      for (int r = 0; r < size; r++) printf("%s%.0f", r ? "," : "", all[r] / 1024.0);
      printf("\n");
      /* labels for the reference (rank 0 writes its rows; others append in order below) */
    }
    const char *lout = arg(argc, argv, "--labels-out", NULL);
    if (lout) {
      for (int r = 0; r < size; r++) {
        if (r == rank) {
          FILE *g = fopen(lout, r == 0 ? "wb" : "ab");
          if (!g || fwrite(label, sizeof(int64_t), (size_t)m, g) != (size_t)m) {
            fprintf(stderr, "bench_cluster: cannot write %s\n", lout);
            MPI_Abort(MPI_COMM_WORLD, 1);
          }
          fclose(g);
        }
        MPI_Barrier(MPI_COMM_WORLD);
      }
    }
  }
  free(all);
  free(ti);
  free(cent);
  free(label);
  free(counts);
  hp_km_data_free(&d);
  free(x);
  MPI_Finalize();
  return 0;
}
