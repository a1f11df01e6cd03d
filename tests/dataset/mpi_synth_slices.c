/* mpi_synth_slices.c — every rank makes its own slice of the synthetic dataset; gathered, the
 * slices equal a serial make of all images byte for byte (pixels, split, labels, captions,
 * source ids), and the training-caption vocabulary built in parallel equals the serial one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <mpi.h>

#include "comm/shard.h"
#include "io/dataset.h"
#include "data/synth_scene.h"
#include "text/tokenizer.h"

/* All strings of a slice in one NUL-separated buffer. */
static char *join(char **s, int64_t n, int *len) {
  size_t total = 0;
  for (int64_t k = 0; k < n; k++) total += strlen(s[k]) + 1;
  char *b = calloc(total + 1, 1), *p = b;
  assert_non_null(b);
  for (int64_t k = 0; k < n; k++) {
    size_t l = strlen(s[k]) + 1;
    memcpy(p, s[k], l);
    p += l;
  }
  *len = (int)total;
  return b;
}

/* Gather n bytes from each rank on rank 0, in rank order. */
static char *gather(const void *mine, int n, int *total) {
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int *cnt = calloc((size_t)size, sizeof *cnt), *dis = calloc((size_t)size, sizeof *dis);
  MPI_Gather(&n, 1, MPI_INT, cnt, 1, MPI_INT, 0, MPI_COMM_WORLD);
  *total = 0;
  for (int r = 0; r < size; r++) {
    dis[r] = *total;
    *total += cnt[r];
  }
  char *all = rank == 0 ? calloc((size_t)*total + 1, 1) : NULL;
  MPI_Gatherv(mine, n, MPI_BYTE, all, cnt, dis, MPI_BYTE, 0, MPI_COMM_WORLD);
  free(cnt);
  free(dis);
  return all;
}

static void check_gathered(const void *mine, int n, const void *want, int want_len, const char *what) {
  int rank, total;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  char *all = gather(mine, n, &total);
  if (rank == 0) {
    if (total != want_len) fail_msg("%s: gathered %d bytes, serial %d", what, total, want_len);
    if (total && memcmp(all, want, (size_t)total) != 0) fail_msg("%s: gathered slices differ from the serial make", what);
  }
  free(all);
}

static void run_case(hp_synth_params p) {
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int64_t row0, n, S = p.image_size, per = S * S * 3;
  hp_shard_range(p.n_images, size, rank, &row0, &n);
  hp_synth_slice mine, all;
  assert_int_equal(hp_synth_make_slice(&p, row0, n, &mine, NULL, 1), 0);
  assert_int_equal(hp_synth_make_slice(&p, 0, p.n_images, &all, NULL, 1), 0);

  check_gathered(mine.images, (int)(n * per), all.images, (int)(p.n_images * per), "images");
  check_gathered(mine.split, (int)n, all.split, (int)p.n_images, "split");
  check_gathered(mine.labels, (int)(n * HP_SYNTH_NLABELS), all.labels, (int)(p.n_images * HP_SYNTH_NLABELS), "labels");
  check_gathered(mine.caption_image, (int)(mine.n_captions * 8), all.caption_image, (int)(all.n_captions * 8),
                 "caption image index");
  int lm, la;
  char *jm = join(mine.captions, mine.n_captions, &lm), *ja = join(all.captions, all.n_captions, &la);
  check_gathered(jm, lm, ja, la, "captions");
  free(jm);
  free(ja);
  jm = join(mine.source_id, mine.n, &lm);
  ja = join(all.source_id, all.n, &la);
  check_gathered(jm, lm, ja, la, "source ids");
  free(jm);
  free(ja);

  /* Vocabulary of the training captions: parallel over slices == serial over everything. */
  const char **train_mine = calloc((size_t)mine.n_captions + 1, sizeof *train_mine);
  const char **train_all = calloc((size_t)all.n_captions + 1, sizeof *train_all);
  int64_t tm = 0, ta = 0;
  for (int64_t c = 0; c < mine.n_captions; c++)
    if (mine.split[mine.caption_image[c] - row0] == HP_SPLIT_TRAIN) train_mine[tm++] = mine.captions[c];
  for (int64_t c = 0; c < all.n_captions; c++)
    if (all.split[all.caption_image[c]] == HP_SPLIT_TRAIN) train_all[ta++] = all.captions[c];
  int64_t caps[] = {10, 15000};
  for (int t = 0; t < 2; t++) {
    hp_vocab *vp = NULL, *vs = NULL;
    hp_wordcount *wc;
    assert_int_equal(hp_vocab_build_texts_mpi(MPI_COMM_WORLD, train_mine, tm, caps[t], &vp), 0);
    assert_int_equal(hp_wordcount_create(&wc), 0);
    for (int64_t c = 0; c < ta; c++) assert_int_equal(hp_wordcount_add_text(wc, train_all[c]), 0);
    assert_int_equal(hp_vocab_build(wc, caps[t], &vs), 0);
    assert_int_equal(hp_vocab_size(vp), hp_vocab_size(vs));
    for (int64_t k = 0; k < hp_vocab_size(vs); k++) assert_string_equal(hp_vocab_word(vp, k), hp_vocab_word(vs, k));
    if (t == 1) assert_true(hp_vocab_size(vs) > 2 && hp_vocab_size(vs) < 100); /* a small synthetic language */
    hp_vocab_free(vp);
    hp_vocab_free(vs);
    hp_wordcount_free(wc);
  }
  free(train_mine);
  free(train_all);
  hp_synth_slice_free(&mine);
  hp_synth_slice_free(&all);
}

static void test_slices(void **state) {
  (void)state;
  hp_synth_params p = {.seed = 11, .n_images = 57, .image_size = 32, .captions_per_image = 3, .max_shapes = 3,
                       .noise = 0.05, .train_frac = 0.7, .val_frac = 0.15, .test_frac = 0.15};
  run_case(p);
  p.n_images = 2; /* fewer images than ranks at np 3 */
  p.image_size = 16;
  run_case(p);
  p.n_images = 40;
  p.image_size = 128;
  p.captions_per_image = 5;
  p.max_shapes = 1;
  p.seed = 7;
  run_case(p);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_slices)};
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  int any = 0;
  MPI_Allreduce(&rc, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return any;
}
