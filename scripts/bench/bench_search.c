/* bench_search.c — benchmark of src/index (run by scripts/bench/bench_search.sh).
 *
 *   bench_search gen    --n N --dim D [--clusters C --sigma S --seed X] --nq Q --base F --queries F
 *       raw float32 rows (rows [0,N) and [N,N+Q) of hp_index_synth) for FAISS / Annoy
 *   bench_search exact  --n N --dim D --nq Q --k K [--base F --queries F | generated]
 *                       [--reps R --tile_q A --tile_n B --ids-out F]
 *   bench_search forest --n N --dim D --nq Q --k K [--base F --queries F | --clusters C ...]
 *                       --trees T --leaf L --search_k a,b,c [--reps R --gt-out F]
 *   bench_search tune   --n N --dim D --nq Q --k K --tiles "q1xn1,q2xn2,..."
 *   bench_search load   --index F --nq Q --k K [--queries F | generated] [--ids-out F]
 *       hp_index_load of an index.h5 written by exact/forest --save F: memory, one search
 * Every rank holds the balanced block hp_shard_range(N, P, rank) of the rows. Lines starting
 * with RESULT are for the script; times are medians over --reps timed runs (after one warm-up),
 * each the maximum over ranks. Memory: VmHWM of every rank beside its index's bytes (vectors, ids,
 * trees). */
#define _POSIX_C_SOURCE 200809L /* fseeko */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mpi.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "base/error.h"
#include "comm/shard.h"
#include "index/index_impl.h"

typedef struct {
  int64_t n, dim, nq, clusters, tile_q, tile_n, leaf, trees;
  int k, reps;
  double sigma;
  uint64_t seed;
  const char *base, *queries, *ids_out, *gt_out, *search_k, *tiles, *save, *index;
} opts;

static int g_rank, g_size;

static void die(const char *what) {
  fprintf(stderr, "bench_search: rank %d: %s: %s\n", g_rank, what, hp_error_message());
  MPI_Abort(MPI_COMM_WORLD, 1);
}

static const char *arg(int argc, char **argv, const char *name, const char *def) {
  for (int i = 2; i + 1 < argc; i++)
    if (!strcmp(argv[i], name)) return argv[i + 1];
  return def;
}

static long vmhwm_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long v = -1;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "VmHWM:", 6)) v = atol(line + 6);
  fclose(f);
  return v;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}
static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_d);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void gen_rows(const opts *o, int64_t row0, int64_t n, float *out) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static, 256)
#endif
  for (int64_t i = 0; i < n; i++)
    hp_index_synth(o->seed, o->clusters, (float)o->sigma, row0 + i, 1, o->dim, out + i * o->dim);
}

static void read_rows(const char *path, int64_t row0, int64_t n, int64_t dim, float *out) {
  FILE *f = fopen(path, "rb");
  if (!f) { fprintf(stderr, "cannot open %s\n", path); MPI_Abort(MPI_COMM_WORLD, 1); }
  if (fseeko(f, (off_t)(row0 * dim * (int64_t)sizeof(float)), SEEK_SET) != 0 ||
      fread(out, sizeof(float) * (size_t)dim, (size_t)n, f) != (size_t)n) {
    fprintf(stderr, "cannot read %lld rows from %s\n", (long long)n, path);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  fclose(f);
}

static void write_file(const char *path, const void *buf, size_t bytes) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(buf, 1, bytes, f) != bytes || fclose(f) != 0) {
    fprintf(stderr, "cannot write %s\n", path);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
}

/* Rows are added to the index in pieces of CHUNK_ROWS through one buffer, after declaring the
 * rank's shard (hp_index_reserve): the peak holds the index and this buffer, not the rows twice. */
#define CHUNK_ROWS 4096

/* all queries: rows [n, n+nq) of the generator, or the queries file */
static float *load_queries(const opts *o) {
  float *q = malloc((size_t)o->nq * (size_t)o->dim * sizeof(float));
  if (!q) { fprintf(stderr, "out of memory\n"); MPI_Abort(MPI_COMM_WORLD, 1); }
  if (o->queries) read_rows(o->queries, 0, o->nq, o->dim, q);
  else gen_rows(o, o->n, o->nq, q);
  return q;
}

/* An index of kind p holding this rank's balanced block of the rows (one shard), read or
 * generated a piece at a time. */
static hp_index *load_index(const opts *o, const hp_index_params *p) {
  int64_t row0, cnt;
  hp_shard_range(o->n, g_size, g_rank, &row0, &cnt);
  hp_index *ix = NULL;
  if (hp_index_create(p, MPI_COMM_WORLD, &ix) || hp_index_reserve(ix, 1, &cnt)) die("index");
  float *x = malloc((size_t)CHUNK_ROWS * (size_t)o->dim * sizeof(float));
  int64_t *ids = malloc(CHUNK_ROWS * sizeof(int64_t));
  if (!x || !ids) { fprintf(stderr, "out of memory\n"); MPI_Abort(MPI_COMM_WORLD, 1); }
  for (int64_t a = 0; a < cnt; a += CHUNK_ROWS) {
    int64_t m = cnt - a < CHUNK_ROWS ? cnt - a : CHUNK_ROWS;
    if (o->base) read_rows(o->base, row0 + a, m, o->dim, x);
    else gen_rows(o, row0 + a, m, x);
    for (int64_t i = 0; i < m; i++) ids[i] = row0 + a + i;
    if (hp_index_add(ix, m, x, ids)) die("index add");
  }
  free(x);
  free(ids);
  return ix;
}

static double g_cpu; /* process CPU seconds of the last timed search (summed over ranks) */

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double timed_search(hp_index *ix, const opts *o, const float *q, int64_t *ids, float *sc, int exact) {
  MPI_Barrier(MPI_COMM_WORLD);
  double c0 = cpu_now();
  double t0 = MPI_Wtime();
  int rc = exact ? hp_index_search_exact(ix, o->nq, q, o->k, ids, sc) : hp_index_search(ix, o->nq, q, o->k, ids, sc);
  if (rc) die("search");
  double t = MPI_Wtime() - t0, tmax = 0, c = cpu_now() - c0;
  MPI_Allreduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  MPI_Allreduce(&c, &g_cpu, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  return tmax;
}

static void report_memory(hp_index *ix, const char *tag) {
  hp_index_mem m;
  hp_index_memory(ix, &m);
  long hwm = vmhwm_kib();
  long all[1024];
  double idx = (double)m.total / 1048576.0, idx_all[1024];
  int np = g_size < 1024 ? g_size : 1024;
  MPI_Gather(&hwm, 1, MPI_LONG, all, 1, MPI_LONG, 0, MPI_COMM_WORLD);
  MPI_Gather(&idx, 1, MPI_DOUBLE, idx_all, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  if (g_rank == 0)
    for (int r = 0; r < np; r++)
      printf("RESULT %s memory rank=%d index_MiB=%.1f vmhwm_MiB=%.1f peak_over_index=%.3f\n", tag, r, idx_all[r],
             all[r] / 1024.0, idx_all[r] > 0 ? all[r] / 1024.0 / idx_all[r] : 0.0);
}

static int threads(void) {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

static void run_exact(const opts *o, int64_t tile_q, int64_t tile_n, int write_ids) {
  hp_index_params p;
  hp_index_params_default(&p, HP_INDEX_EXACT, o->dim);
  p.tile_q = tile_q;
  p.tile_n = tile_n;
  hp_index *ix = load_index(o, &p);
  if (hp_index_build(ix)) die("exact index");
  float *q = load_queries(o);
  size_t m = (size_t)o->nq * (size_t)o->k;
  int64_t *ids = malloc(m * sizeof *ids);
  float *sc = malloc(m * sizeof *sc);
  double *t = malloc((size_t)o->reps * sizeof *t);
  timed_search(ix, o, q, ids, sc, 0); /* warm-up */
  double *cpu = malloc((size_t)o->reps * sizeof *cpu);
  for (int r = 0; r < o->reps; r++) {
    t[r] = timed_search(ix, o, q, ids, sc, 0);
    cpu[r] = g_cpu;
  }
  double med = median(t, o->reps), best = t[0], cmed = median(cpu, o->reps);
  double flop = 2.0 * (double)o->n * (double)o->nq * (double)o->dim;
  if (g_rank == 0)
    printf("RESULT exact n=%lld dim=%lld nq=%lld k=%d ranks=%d threads=%d tile=%lldx%lld median_s=%.4f best_s=%.4f qps=%.1f gflops=%.1f cpu_s=%.3f gflops_per_core=%.1f\n",
           (long long)o->n, (long long)o->dim, (long long)o->nq, o->k, g_size, threads(),
           (long long)(tile_q ? tile_q : HP_INDEX_TILE_Q), (long long)(tile_n ? tile_n : HP_INDEX_TILE_N),
           med, best, (double)o->nq / med, flop / med / 1e9, cmed, flop / cmed / 1e9);
  free(cpu);
  if (write_ids) {
    report_memory(ix, "exact");
    if (o->save) {
      if (hp_index_save(ix, o->save)) die("save");
      report_memory(ix, "exact_saved");
    }
    if (g_rank == 0 && o->ids_out) write_file(o->ids_out, ids, m * sizeof *ids);
  }
  hp_index_free(ix);
  free(q);
  free(ids);
  free(sc);
  free(t);
}

static void run_forest(const opts *o) {
  hp_index_params p;
  hp_index_params_default(&p, HP_INDEX_FOREST, o->dim);
  p.n_trees = (int)o->trees;
  p.leaf_size = (int)o->leaf;
  hp_index *ix = load_index(o, &p);
  float *q = load_queries(o);
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = MPI_Wtime();
  if (hp_index_build(ix)) die("forest build");
  double tb = MPI_Wtime() - t0, tbmax;
  MPI_Allreduce(&tb, &tbmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  if (g_rank == 0)
    printf("RESULT forest_build n=%lld dim=%lld trees=%d leaf=%d ranks=%d threads=%d build_s=%.3f\n",
           (long long)o->n, (long long)o->dim, p.n_trees, p.leaf_size, g_size, threads(), tbmax);
  report_memory(ix, "forest");
  if (o->save) {
    if (hp_index_save(ix, o->save)) die("save");
    report_memory(ix, "forest_saved");
  }
  size_t m = (size_t)o->nq * (size_t)o->k;
  int64_t *gt = malloc(m * sizeof *gt), *ids = malloc(m * sizeof *ids);
  float *sc = malloc(m * sizeof *sc);
  double *t = malloc((size_t)o->reps * sizeof *t);
  double te = timed_search(ix, o, q, gt, sc, 1);
  if (g_rank == 0) {
    printf("RESULT forest_exact_reference_s=%.3f\n", te);
    if (o->gt_out) write_file(o->gt_out, gt, m * sizeof *gt);
  }
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", o->search_k);
  for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
    int64_t sk = atoll(tok);
    hp_index_set_search_k(ix, sk);
    timed_search(ix, o, q, ids, sc, 0);
    for (int r = 0; r < o->reps; r++) t[r] = timed_search(ix, o, q, ids, sc, 0);
    double med = median(t, o->reps), rec = 0;
    for (int64_t i = 0; i < o->nq; i++) {
      int hit = 0;
      for (int a = 0; a < o->k; a++)
        for (int b = 0; b < o->k; b++)
          if (ids[i * o->k + a] == gt[i * o->k + b]) { hit++; break; }
      rec += (double)hit / o->k;
    }
    rec /= (double)o->nq;
    if (g_rank == 0)
      printf("RESULT forest n=%lld trees=%d leaf=%d search_k=%lld ranks=%d threads=%d median_s=%.4f qps=%.1f recall@%d=%.4f\n",
             (long long)o->n, p.n_trees, p.leaf_size, (long long)sk, g_size, threads(), med,
             (double)o->nq / med, o->k, rec);
    fflush(stdout);
  }
  hp_index_free(ix);
  free(q);
  free(gt);
  free(ids);
  free(sc);
  free(t);
}

static void run_load(const opts *o) {
  hp_index *ix = NULL;
  if (hp_index_load(MPI_COMM_WORLD, o->index, &ix)) die("load");
  report_memory(ix, "load");
  opts oq = *o;
  oq.dim = hp_index_get_params(ix)->dim;
  float *q = load_queries(&oq);
  size_t m = (size_t)o->nq * (size_t)o->k;
  int64_t *ids = malloc(m * sizeof *ids);
  float *sc = malloc(m * sizeof *sc);
  double t = timed_search(ix, o, q, ids, sc, 0);
  if (g_rank == 0) {
    printf("RESULT load_search n_queries=%lld ranks=%d s=%.3f\n", (long long)o->nq, g_size, t);
    if (o->ids_out) write_file(o->ids_out, ids, m * sizeof *ids);
  }
  report_memory(ix, "load_searched");
  hp_index_free(ix);
  free(q);
  free(ids);
  free(sc);
}

static void run_gen(const opts *o) {
  if (g_rank != 0) return;
  size_t chunk = 4096;
  float *buf = malloc(chunk * (size_t)o->dim * sizeof(float));
  const char *paths[2] = {o->base, o->queries};
  int64_t lo[2] = {0, o->n}, cnt[2] = {o->n, o->nq};
  for (int f = 0; f < 2; f++) {
    FILE *fp = fopen(paths[f], "wb");
    if (!fp) { fprintf(stderr, "cannot write %s\n", paths[f]); MPI_Abort(MPI_COMM_WORLD, 1); }
    for (int64_t r = 0; r < cnt[f]; r += (int64_t)chunk) {
      int64_t m = cnt[f] - r < (int64_t)chunk ? cnt[f] - r : (int64_t)chunk;
      gen_rows(o, lo[f] + r, m, buf);
      if (fwrite(buf, sizeof(float) * (size_t)o->dim, (size_t)m, fp) != (size_t)m) { fprintf(stderr, "write failed\n"); MPI_Abort(MPI_COMM_WORLD, 1); }
    }
    if (fclose(fp) != 0) { fprintf(stderr, "write failed\n"); MPI_Abort(MPI_COMM_WORLD, 1); }
  }
  free(buf);
  printf("RESULT gen n=%lld nq=%lld dim=%lld clusters=%lld sigma=%g\n", (long long)o->n, (long long)o->nq,
         (long long)o->dim, (long long)o->clusters, o->sigma);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  if (argc < 2) {
    if (g_rank == 0) fprintf(stderr, "usage: bench_search gen|exact|forest|tune|load [options]\n");
    MPI_Finalize();
    return 2;
  }
  opts o;
  o.n = atoll(arg(argc, argv, "--n", "100000"));
  o.dim = atoll(arg(argc, argv, "--dim", "768"));
  o.nq = atoll(arg(argc, argv, "--nq", "1000"));
  o.k = atoi(arg(argc, argv, "--k", "10"));
  o.reps = atoi(arg(argc, argv, "--reps", "5"));
  o.clusters = atoll(arg(argc, argv, "--clusters", "0"));
  o.sigma = atof(arg(argc, argv, "--sigma", "1.0"));
  o.seed = (uint64_t)atoll(arg(argc, argv, "--seed", "1"));
  o.tile_q = atoll(arg(argc, argv, "--tile_q", "0"));
  o.tile_n = atoll(arg(argc, argv, "--tile_n", "0"));
  o.trees = atoll(arg(argc, argv, "--trees", "10"));
  o.leaf = atoll(arg(argc, argv, "--leaf", "64"));
  o.base = arg(argc, argv, "--base", NULL);
  o.queries = arg(argc, argv, "--queries", NULL);
  o.ids_out = arg(argc, argv, "--ids-out", NULL);
  o.gt_out = arg(argc, argv, "--gt-out", NULL);
  o.search_k = arg(argc, argv, "--search_k", "1000");
  o.tiles = arg(argc, argv, "--tiles", "256x1024");
  o.save = arg(argc, argv, "--save", NULL);
  o.index = arg(argc, argv, "--index", NULL);
  if (o.reps < 1) o.reps = 1;
  if (!strcmp(argv[1], "gen")) run_gen(&o);
  else if (!strcmp(argv[1], "exact")) run_exact(&o, o.tile_q, o.tile_n, 1);
  else if (!strcmp(argv[1], "forest")) run_forest(&o);
  else if (!strcmp(argv[1], "load") && o.index) run_load(&o);
  else if (!strcmp(argv[1], "tune")) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", o.tiles);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
      long long a = 0, b = 0;
      if (sscanf(tok, "%lldx%lld", &a, &b) == 2) run_exact(&o, a, b, 0);
      fflush(stdout);
    }
  } else {
    if (g_rank == 0) fprintf(stderr, "bench_search: unknown mode '%s'\n", argv[1]);
    MPI_Finalize();
    return 2;
  }
  MPI_Finalize();
  return 0;
}
