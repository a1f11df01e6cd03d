/* bench_io.c — cold reads of a dataset.h5's /images the way hpclip's stages read them (run by
 * scripts/bench/bench_io.sh beside h5py).
 *
 *   bench_io contiguous FILE.h5 [--batch B]   embed's pattern: each rank reads its balanced block
 *                                            of rows in collective reads of B rows (io/dataset.h);
 *                                            default: the rows of embed's 8 MiB read block
 *   bench_io random FILE.h5 [--batch B] [--steps S]
 *                                            train's pattern: every step each rank reads its B/P
 *                                            rows of a shuffled global batch of B training images
 *                                            with independent reads (data/train_data.h)
 * Before timing, rank 0 evicts FILE from the page cache (posix_fadvise DONTNEED) so the reads
 * are cold. Prints one line "RESULT mode ranks bytes seconds GB/s peak_rss_mib_max". */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <mpi.h>

#include "base/error.h"
#include "base/resources.h"
#include "comm/shard.h"
#include "data/train_data.h"
#include "io/dataset.h"

static int g_rank, g_size;

static void die(const char *what) {
  fprintf(stderr, "bench_io: rank %d: %s: %s\n", g_rank, what, hp_error_message());
  MPI_Abort(MPI_COMM_WORLD, 1);
}

static long opt(int argc, char **argv, const char *name, long def) {
  for (int i = 3; i + 1 < argc; i++)
    if (!strcmp(argv[i], name)) return atol(argv[i + 1]);
  return def;
}

static void evict(const char *path) {
  if (g_rank == 0) {
    int fd = open(path, O_RDONLY);
    if (fd < 0 || posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0) {
      fprintf(stderr, "bench_io: cannot evict %s from the page cache\n", path);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    close(fd);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

static double contiguous(const char *path, int64_t batch, double *bytes) {
  hp_dataset *ds = NULL;
  if (hp_dataset_open(MPI_COMM_WORLD, path, &ds)) die("open");
  hp_dataset_dims d = hp_dataset_get_dims(ds);
  int64_t r0, n, row = d.height * d.width * 3, steps, mine;
  if (batch <= 0) batch = ((int64_t)8 << 20) / row > 0 ? ((int64_t)8 << 20) / row : 1;
  hp_shard_range(d.n_images, g_size, g_rank, &r0, &n);
  mine = (n + batch - 1) / batch;
  MPI_Allreduce(&mine, &steps, 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD);
  uint8_t *buf = malloc((size_t)(batch * row));
  if (!buf) die("malloc");
  evict(path);
  double t0 = MPI_Wtime();
  for (int64_t s = 0; s < steps; s++) { /* collective: every rank calls, n may be 0 */
    int64_t a = s * batch, k = a < n ? (n - a < batch ? n - a : batch) : 0;
    if (hp_dataset_read_images(ds, r0 + (k ? a : 0), k, buf)) die("read");
  }
  MPI_Barrier(MPI_COMM_WORLD);
  double dt = MPI_Wtime() - t0;
  *bytes = (double)d.n_images * (double)row;
  free(buf);
  hp_dataset_close(ds);
  return dt;
}

static double random_rows(const char *path, int64_t batch, int64_t steps, double *bytes) {
  hp_train_data td;
  int64_t bl = batch / g_size;
  if (hp_train_data_open(MPI_COMM_WORLD, path, 20, bl, NULL, &td)) die("open");
  int64_t ntrain = td.nrows[0], *perm = malloc(sizeof(int64_t) * (size_t)(ntrain > 0 ? ntrain : 1));
  uint8_t *img = malloc((size_t)(bl * td.S * td.S * 3));
  if (!perm || !img) die("malloc");
  if (hp_train_perm(&td, 1234, 0, perm)) die("perm");
  int64_t have = ntrain / batch;
  if (steps <= 0 || steps > have) steps = have;
  evict(path);
  double t0 = MPI_Wtime();
  for (int64_t s = 0; s < steps; s++)
    if (hp_train_read_images(&td, perm + s * batch + (int64_t)g_rank * bl, bl, img)) die("read");
  MPI_Barrier(MPI_COMM_WORLD);
  double dt = MPI_Wtime() - t0;
  *bytes = (double)steps * (double)(bl * g_size) * (double)(td.S * td.S * 3);
  free(perm);
  free(img);
  hp_train_data_close(&td);
  return dt;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  if (argc < 3 || (strcmp(argv[1], "contiguous") && strcmp(argv[1], "random"))) {
    if (g_rank == 0) fprintf(stderr, "usage: bench_io contiguous|random FILE.h5 [--batch B] [--steps S]\n");
    MPI_Finalize();
    return 2;
  }
  double bytes = 0, dt;
  if (!strcmp(argv[1], "contiguous")) dt = contiguous(argv[2], opt(argc, argv, "--batch", 0), &bytes);
  else dt = random_rows(argv[2], opt(argc, argv, "--batch", 32), opt(argc, argv, "--steps", 0), &bytes);
  double peak = hp_res_peak_rss_mib(), pmax;
  MPI_Reduce(&peak, &pmax, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  if (g_rank == 0)
    printf("RESULT %s %d %.0f %.4f %.4f %.1f\n", argv[1], g_size, bytes, dt, bytes / dt / 1e9, pmax);
  MPI_Finalize();
  return 0;
}
