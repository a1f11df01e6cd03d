/* mpi_vocab.c — the vocabulary built in parallel equals a serial build over the same captions,
 * for any rank count and any distribution of the captions over ranks. The serial reference is
 * computed independently here (plain arrays, no hash map). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <mpi.h>

#include "base/rng.h"
#include "comm/shard.h"
#include "text/tokenizer.h"

#define NCAP 1500
#define POOL 400

static char *caps[NCAP];

/* Captions over a skewed word pool with mixed case and punctuation, so counts tie often. */
static void make_corpus(void) {
  static const char *const seps[] = {" ", ", ", " - ", "! ", "  "};
  for (int c = 0; c < NCAP; c++) {
    hp_rng r = hp_rng_make(99, 1000, (uint64_t)c);
    int nw = 1 + (int)hp_rng_below(&r, 12);
    char *s = calloc(1, 16 * (size_t)nw + 1);
    assert_non_null(s);
    for (int k = 0; k < nw; k++) {
      uint64_t a = hp_rng_below(&r, POOL), b = hp_rng_below(&r, POOL);
      uint64_t w = a < b ? a : b; /* skewed towards small ids */
      char word[40];
      snprintf(word, sizeof word, "%s%c%llu", hp_rng_below(&r, 4) ? "w" : "W", 'a' + (int)(w % 26),
               (unsigned long long)(w / 26));
      strcat(s, word);
      strcat(s, seps[hp_rng_below(&r, 5)]);
    }
    caps[c] = s;
  }
}

typedef struct {
  char *w;
  long n;
} ref_word;
static ref_word ref[NCAP * 12];
static int nref;

static int ref_add(const char *w, size_t len, void *arg) {
  (void)arg;
  for (int i = 0; i < nref; i++)
    if (strcmp(ref[i].w, w) == 0) {
      ref[i].n++;
      return 0;
    }
  ref[nref].w = malloc(len + 1);
  memcpy(ref[nref].w, w, len + 1);
  ref[nref++].n = 1;
  return 0;
}

static int ref_cmp(const void *pa, const void *pb) {
  const ref_word *a = pa, *b = pb;
  if (a->n != b->n) return a->n > b->n ? -1 : 1;
  return strcmp(a->w, b->w);
}

static void check_vocab(const hp_vocab *v, int64_t cap) {
  int64_t want = nref + 2 < cap ? nref + 2 : cap;
  assert_int_equal(hp_vocab_size(v), want);
  assert_string_equal(hp_vocab_word(v, 0), "");
  assert_string_equal(hp_vocab_word(v, 1), "[UNK]");
  for (int64_t i = 2; i < want; i++) assert_string_equal(hp_vocab_word(v, i), ref[i - 2].w);
}

static void test_vocab_any_ranks(void **state) {
  (void)state;
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  make_corpus();
  nref = 0;
  for (int c = 0; c < NCAP; c++) assert_int_equal(hp_tok_foreach_word(caps[c], ref_add, NULL), 0);
  qsort(ref, (size_t)nref, sizeof ref[0], ref_cmp);
  assert_true(nref > 100);
  /* The corpus must contain ties across the cut for the test to mean something. */
  assert_int_equal(ref[48].n == ref[47].n || ref[48].n == ref[49].n, 1);

  int64_t caps_to_try[] = {2, 3, 50, 10000};
  for (int t = 0; t < 4; t++) {
    int64_t cap = caps_to_try[t];
    /* Block distribution. */
    int64_t row0, n;
    hp_shard_range(NCAP, size, rank, &row0, &n);
    hp_vocab *v = NULL;
    assert_int_equal(hp_vocab_build_texts_mpi(MPI_COMM_WORLD, (const char *const *)caps + row0, n, cap, &v), 0);
    check_vocab(v, cap);
    hp_vocab_free(v);
    /* Skewed distribution: everything on the last rank, the others empty. */
    int last = rank == size - 1;
    assert_int_equal(hp_vocab_build_texts_mpi(MPI_COMM_WORLD, (const char *const *)caps, last ? NCAP : 0, cap, &v), 0);
    check_vocab(v, cap);
    hp_vocab_free(v);
    /* Same captions counted on several ranks (round robin): still the serial vocabulary. */
    hp_wordcount *wc;
    assert_int_equal(hp_wordcount_create(&wc), 0);
    for (int c = rank; c < NCAP; c += size) assert_int_equal(hp_wordcount_add_text(wc, caps[c]), 0);
    assert_int_equal(hp_vocab_build_mpi(MPI_COMM_WORLD, wc, cap, &v), 0);
    check_vocab(v, cap);
    hp_vocab_free(v);
    hp_wordcount_free(wc);
  }
  for (int i = 0; i < nref; i++) free(ref[i].w);
  for (int c = 0; c < NCAP; c++) free(caps[c]);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_vocab_any_ranks)};
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  int any = 0;
  MPI_Allreduce(&rc, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return any;
}
