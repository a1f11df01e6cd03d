/* mpi_dataset.c — dataset.h5 written collectively with uneven slices (one rank holding no
 * images), read back on every rank, validated by check; run at 1, 2 and 3 ranks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "io/check.h"
#include "io/dataset.h"
#include "io/h5.h"

enum { N = 11, H = 5, W = 4, L = 3, V = 4 };
static int g_rank, g_size;
static char g_path[256];
static const char *const g_names[L] = {"cat", "dog", "bäume"};
static const char *const g_vocab[V] = {"<pad>", "a", "photo", "of"};

/* Uneven slices: 1 rank {11}; 2 ranks {0, 11}; 3 ranks {5, 0, 6}. */
static void slice(int r, int64_t *row0, int64_t *n) {
  static const int64_t c1[] = {11}, c2[] = {0, 11}, c3[] = {5, 0, 6};
  const int64_t *c = g_size == 1 ? c1 : g_size == 2 ? c2 : c3;
  *row0 = 0;
  for (int i = 0; i < r; i++) *row0 += c[i];
  *n = c[r];
}

static uint8_t pixel(int64_t i, int64_t k) { return (uint8_t)((i * 31 + k * 7) & 255); }
static int ncap(int64_t i) { return 1 + (int)(i % 3); }
static void caption(int64_t i, int j, char *buf, size_t n) {
  if (i == 4 && j == 0) snprintf(buf, n, "%s", ""); /* empty strings are legal */
  else snprintf(buf, n, "image %lld caption %d — ünïcode", (long long)i, j);
}
static void source(int64_t i, char *buf, size_t n) { snprintf(buf, n, "synth:%lld", (long long)i); }

typedef struct {
  uint8_t *images, *split, *labels;
  char **source, **captions;
  int64_t *cap_image, ncaptions;
} shard_data;

static void make_shard(int64_t row0, int64_t n, shard_data *d) {
  size_t px = (size_t)H * W * 3;
  d->images = calloc((size_t)n * px + 1, 1);
  d->split = calloc((size_t)n + 1, 1);
  d->labels = calloc((size_t)n * L + 1, 1);
  d->source = calloc((size_t)n + 1, sizeof(char *));
  d->captions = calloc((size_t)n * 3 + 1, sizeof(char *));
  d->cap_image = calloc((size_t)n * 3 + 1, sizeof(int64_t));
  d->ncaptions = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t g = row0 + i;
    for (size_t k = 0; k < px; k++) d->images[(size_t)i * px + k] = pixel(g, (int64_t)k);
    d->split[i] = (uint8_t)(g % 3);
    for (int j = 0; j < L; j++) d->labels[i * L + j] = (uint8_t)((g + j) % 2);
    d->source[i] = malloc(32);
    source(g, d->source[i], 32);
    for (int j = 0; j < ncap(g); j++) {
      d->captions[d->ncaptions] = malloc(96);
      caption(g, j, d->captions[d->ncaptions], 96);
      d->cap_image[d->ncaptions++] = g;
    }
  }
}

static void free_shard(shard_data *d, int64_t n) {
  for (int64_t i = 0; i < n; i++) free(d->source[i]);
  for (int64_t i = 0; i < d->ncaptions; i++) free(d->captions[i]);
  free(d->images), free(d->split), free(d->labels), free(d->source), free(d->captions), free(d->cap_image);
}

static char *big_config(void) {
  /* Larger than the 64 KiB an attribute can have in the old object-header format. */
  size_t n = 100000;
  char *s = malloc(n + 1);
  for (size_t i = 0; i < n; i++) s[i] = "run.seed = 42;\n"[i % 15];
  s[n] = 0;
  return s;
}

static int write_dataset(const char *path, int bad_caption) {
  int64_t row0, n;
  shard_data d;
  slice(g_rank, &row0, &n);
  make_shard(row0, n, &d);
  if (bad_caption && g_rank == g_size - 1 && d.ncaptions > 0) d.cap_image[0] = row0 - 1;
  char *cfg = big_config();
  hp_dataset_meta meta = {.n_images = N, .height = H, .width = W, .n_labels = L, .label_names = g_names,
                          .n_vocab = V, .vocab = g_vocab, .config_text = cfg, .fingerprint = "00c0ffee00c0ffee"};
  hp_dataset_shard sh = {.row0 = row0, .n = n, .images = d.images, .split = d.split,
                         .source_id = (const char *const *)d.source, .labels = d.labels,
                         .n_captions = d.ncaptions, .captions = (const char *const *)d.captions,
                         .caption_image = d.cap_image};
  int err = hp_dataset_write(MPI_COMM_WORLD, path, &meta, &sh);
  free_shard(&d, n);
  free(cfg);
  return err;
}

static void test_roundtrip(void **state) {
  (void)state;
  hp_h5_set_round_bytes(100); /* rows of 60 bytes: one image per round, ranks differ in rounds */
  int err = write_dataset(g_path, 0);
  if (err) fprintf(stderr, "rank %d: %s\n", g_rank, hp_error_message());
  assert_int_equal(err, 0);
  char tmp[300];
  snprintf(tmp, sizeof tmp, "%s.tmp", g_path);
  assert_int_not_equal(access(tmp, F_OK), 0); /* renamed, nothing left behind */

  err = hp_check_file(MPI_COMM_WORLD, g_path);
  if (err) fprintf(stderr, "rank %d: %s\n", g_rank, hp_error_message());
  assert_int_equal(err, 0);

  char fp[64];
  assert_int_equal(hp_h5_root_attr(MPI_COMM_WORLD, g_path, "fingerprint", fp, sizeof fp), 0);
  assert_string_equal(fp, "00c0ffee00c0ffee");
  char small[4];
  assert_int_equal(hp_h5_root_attr(MPI_COMM_WORLD, g_path, "fingerprint", small, sizeof small), HP_ERR_INPUT);

  hp_dataset *ds = NULL;
  err = hp_dataset_open(MPI_COMM_WORLD, g_path, &ds);
  if (err) fprintf(stderr, "rank %d: %s\n", g_rank, hp_error_message());
  assert_int_equal(err, 0);
  hp_dataset_dims dm = hp_dataset_get_dims(ds);
  int64_t M = 0;
  for (int64_t i = 0; i < N; i++) M += ncap(i);
  assert_int_equal(dm.n_images, N);
  assert_int_equal(dm.height, H);
  assert_int_equal(dm.width, W);
  assert_int_equal(dm.n_captions, M);
  assert_int_equal(dm.n_labels, L);
  assert_int_equal(dm.n_vocab, V);
  assert_string_equal(hp_dataset_path(ds), g_path);

  /* Every rank a different range, one of them empty. */
  int64_t r0 = (g_rank * 4) % N, rn = g_rank == 1 ? 0 : N - r0;
  size_t px = (size_t)H * W * 3;
  uint8_t *img = calloc((size_t)N * px, 1), *split = calloc(N, 1), *lab = calloc((size_t)N * L, 1);
  assert_int_equal(hp_dataset_read_images(ds, r0, rn, img), 0);
  assert_int_equal(hp_dataset_read_split(ds, r0, rn, split), 0);
  assert_int_equal(hp_dataset_read_labels(ds, r0, rn, lab), 0);
  for (int64_t i = 0; i < rn; i++) {
    for (size_t k = 0; k < px; k++) assert_int_equal(img[(size_t)i * px + k], pixel(r0 + i, (int64_t)k));
    assert_int_equal(split[i], (r0 + i) % 3);
    for (int j = 0; j < L; j++) assert_int_equal(lab[i * L + j], (r0 + i + j) % 2);
  }
  free(img), free(split), free(lab);

  int64_t *ci = calloc((size_t)M, sizeof *ci);
  assert_int_equal(hp_dataset_read_caption_image(ds, ci), 0);
  char **caps = NULL, buf[96];
  assert_int_equal(hp_dataset_read_strings(ds, "captions/text", 0, M, &caps), 0);
  int64_t c = 0;
  for (int64_t i = 0; i < N; i++)
    for (int j = 0; j < ncap(i); j++, c++) {
      assert_int_equal(ci[c], i);
      caption(i, j, buf, sizeof buf);
      assert_string_equal(caps[c], buf);
    }
  hp_strings_free(caps, M);
  free(ci);

  char **src = NULL;
  int64_t k0 = g_rank == 2 ? N : g_rank, kn = g_rank == 2 ? 0 : 3;
  assert_int_equal(hp_dataset_read_strings(ds, "source_id", k0, kn, &src), 0);
  for (int64_t i = 0; i < kn; i++) {
    source(k0 + i, buf, sizeof buf);
    assert_string_equal(src[i], buf);
  }
  hp_strings_free(src, kn);

  char **names = NULL, **voc = NULL;
  assert_int_equal(hp_dataset_read_strings(ds, "labels/names", 0, L, &names), 0);
  for (int j = 0; j < L; j++) assert_string_equal(names[j], g_names[j]);
  hp_strings_free(names, L);
  assert_int_equal(hp_dataset_read_strings(ds, "vocab", 1, V - 1, &voc), 0);
  for (int j = 1; j < V; j++) assert_string_equal(voc[j - 1], g_vocab[j]);
  hp_strings_free(voc, V - 1);
  hp_dataset_close(ds);
  hp_h5_set_round_bytes((size_t)256 << 20);
}

/* A caption outside its rank's slice: every rank fails, agreed, and no file appears. */
static void test_bad_shard(void **state) {
  (void)state;
  char path[300];
  snprintf(path, sizeof path, "%s.bad.h5", g_path);
  unlink(path);
  MPI_Barrier(MPI_COMM_WORLD);
  int err = write_dataset(path, 1);
  assert_int_equal(err, HP_ERR_INPUT); /* the failing rank its own, the others agreed */
  assert_true(hp_error_is_collective());
  assert_int_not_equal(access(path, F_OK), 0);
  hp_error_clear();
}

/* Opening a missing file: the same error with the same message on every rank. */
static void test_open_missing(void **state) {
  (void)state;
  hp_dataset *ds = NULL;
  int err = hp_dataset_open(MPI_COMM_WORLD, "no/such/dataset.h5", &ds);
  assert_int_equal(err, HP_ERR_INPUT);
  assert_null(ds);
  assert_non_null(strstr(hp_error_message(), "no/such/dataset.h5"));
  assert_true(hp_error_is_collective());
  hp_error_clear();
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  if (g_size > 3) {
    if (g_rank == 0) fprintf(stderr, "mpi_dataset: run with 1 to 3 ranks\n");
    MPI_Finalize();
    return 1;
  }
  snprintf(g_path, sizeof g_path, "io_mpi_dataset_np%d.h5", g_size);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip),
      cmocka_unit_test(test_bad_shard),
      cmocka_unit_test(test_open_missing),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  int any = 0;
  MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (g_rank == 0 && !any) unlink(g_path);
  MPI_Finalize();
  return any ? 1 : 0;
}
