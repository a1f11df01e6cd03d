/* test_caption_metrics.c — BLEU-1..4 against nltk's corpus_bleu and CIDEr-D against an
 * independent Python implementation of the coco-caption definition (tests/data/metrics/
 * caption.txt, made once by tests/fixtures/make_caption_metric_fixtures.py; a few hundred
 * random and hand-made corpora), plus hand-checked values and every error case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/error.h"
#include "metrics/caption_metrics.h"

static FILE *fixture(const char *name) {
  const char *dir = getenv("HP_TEST_DATA");
  char path[4096];
  snprintf(path, sizeof path, "%s/metrics/%s", dir ? dir : "tests/data", name);
  FILE *f = fopen(path, "r");
  if (!f) fail_msg("cannot open fixture %s (is HP_TEST_DATA set?)", path);
  return f;
}

typedef struct {
  int64_t n, nh, nr, nref;
  int32_t *hyp, *ref;
  int64_t *hyp_off, *ref_off, *img_ref_off;
  hp_caption_corpus c;
} corpus_buf;

static void cb_init(corpus_buf *b, int64_t n) {
  memset(b, 0, sizeof *b);
  b->n = n;
  b->hyp = calloc(4096, sizeof *b->hyp);
  b->ref = calloc(16384, sizeof *b->ref);
  b->hyp_off = calloc((size_t)n + 1, sizeof *b->hyp_off);
  b->ref_off = calloc(4096, sizeof *b->ref_off);
  b->img_ref_off = calloc((size_t)n + 1, sizeof *b->img_ref_off);
  assert_non_null(b->hyp);
  assert_non_null(b->ref);
}
static void cb_finish(corpus_buf *b) {
  b->c.n = b->n;
  b->c.hyp = b->hyp;
  b->c.hyp_off = b->hyp_off;
  b->c.ref = b->ref;
  b->c.ref_off = b->ref_off;
  b->c.img_ref_off = b->img_ref_off;
}
static void cb_free(corpus_buf *b) {
  free(b->hyp);
  free(b->ref);
  free(b->hyp_off);
  free(b->ref_off);
  free(b->img_ref_off);
}

static void read_tokens(FILE *f, int32_t *dst, int64_t len) {
  for (int64_t j = 0; j < len; j++) {
    int t;
    assert_int_equal(fscanf(f, "%d", &t), 1);
    dst[j] = t;
  }
}

static void test_fixture(void **state) {
  (void)state;
  FILE *f = fixture("caption.txt");
  char line[256];
  assert_non_null(fgets(line, sizeof line, f)); /* comment */
  int cases = 0;
  double worst_b = 0, worst_c = 0;
  long long n;
  while (fscanf(f, " case %lld", &n) == 1) {
    corpus_buf b;
    cb_init(&b, n);
    for (int64_t i = 0; i < n; i++) {
      long long hl, nr;
      assert_int_equal(fscanf(f, " h %lld", &hl), 1);
      read_tokens(f, b.hyp + b.nh, hl);
      b.nh += hl;
      b.hyp_off[i + 1] = b.nh;
      assert_int_equal(fscanf(f, " r %lld", &nr), 1);
      for (long long r = 0; r < nr; r++) {
        long long rl;
        assert_int_equal(fscanf(f, "%lld", &rl), 1);
        read_tokens(f, b.ref + b.nr, rl);
        b.nr += rl;
        b.ref_off[++b.nref] = b.nr;
      }
      b.img_ref_off[i + 1] = b.nref;
    }
    double eb[4], ec, *ep = calloc((size_t)n, sizeof *ep);
    assert_int_equal(fscanf(f, " bleu %lf %lf %lf %lf", &eb[0], &eb[1], &eb[2], &eb[3]), 4);
    assert_int_equal(fscanf(f, " cider %lf", &ec), 1);
    assert_int_equal(fscanf(f, " per"), 0);
    for (int64_t i = 0; i < n; i++) assert_int_equal(fscanf(f, "%lf", &ep[i]), 1);
    cb_finish(&b);
    double bl[4], cd, *pi = calloc((size_t)n, sizeof *pi);
    assert_int_equal(hp_bleu_corpus(&b.c, bl), 0);
    assert_int_equal(hp_cider_d(&b.c, &cd, pi), 0);
    for (int k = 0; k < 4; k++) {
      if (fabs(bl[k] - eb[k]) > worst_b) worst_b = fabs(bl[k] - eb[k]);
      if (fabs(bl[k] - eb[k]) > 1e-6) fail_msg("case %d: BLEU-%d %.17g, nltk %.17g", cases, k + 1, bl[k], eb[k]);
    }
    if (fabs(cd - ec) > worst_c) worst_c = fabs(cd - ec);
    if (fabs(cd - ec) > 1e-6) fail_msg("case %d: CIDEr-D %.17g, reference %.17g", cases, cd, ec);
    for (int64_t i = 0; i < n; i++)
      if (fabs(pi[i] - ep[i]) > 1e-6) fail_msg("case %d image %lld: CIDEr-D %.17g, reference %.17g", cases, (long long)i, pi[i], ep[i]);
    /* per_image may be NULL */
    double cd2;
    assert_int_equal(hp_cider_d(&b.c, &cd2, NULL), 0);
    assert_true(cd2 == cd);
    free(ep);
    free(pi);
    cb_free(&b);
    cases++;
  }
  assert_true(feof(f) || fscanf(f, " %*s") == EOF);
  fclose(f);
  assert_true(cases >= 300);
  print_message("%d corpora: max |BLEU - nltk| = %.3g, max |CIDEr-D - reference| = %.3g\n", cases, worst_b, worst_c);
}

/* hyp "a b c d", ref "a b c d e": p_n = 1, BP = exp(1 - 5/4) */
static void test_hand(void **state) {
  (void)state;
  const int32_t hyp[4] = {1, 2, 3, 4}, ref[5] = {1, 2, 3, 4, 5};
  const int64_t ho[2] = {0, 4}, ro[2] = {0, 5}, io[2] = {0, 1};
  hp_caption_corpus c = {1, hyp, ho, ref, ro, io};
  double b[4];
  assert_int_equal(hp_bleu_corpus(&c, b), 0);
  for (int k = 0; k < 4; k++) assert_true(fabs(b[k] - exp(1.0 - 5.0 / 4.0)) < 1e-15);
  /* a negative id matches nothing, not even itself: "a -1" vs "a -1" gives p_1 = 1/2 */
  const int32_t h2[2] = {1, -1}, r2[2] = {1, -1};
  const int64_t ho2[2] = {0, 2}, ro2[2] = {0, 2};
  hp_caption_corpus c2 = {1, h2, ho2, r2, ro2, io};
  assert_int_equal(hp_bleu_corpus(&c2, b), 0);
  assert_true(fabs(b[0] - 0.5) < 1e-15);
  assert_true(b[1] == 0); /* no bigram matches */
}

static void expect_input_error(const hp_caption_corpus *c, const char *needle) {
  double b[4], s;
  hp_error_clear();
  assert_int_equal(hp_bleu_corpus(c, b), HP_ERR_INPUT);
  if (!strstr(hp_error_message(), needle)) fail_msg("message '%s' lacks '%s'", hp_error_message(), needle);
  hp_error_clear();
  assert_int_equal(hp_cider_d(c, &s, NULL), HP_ERR_INPUT);
  if (!strstr(hp_error_message(), needle)) fail_msg("message '%s' lacks '%s'", hp_error_message(), needle);
  hp_error_clear();
}

static void test_errors(void **state) {
  (void)state;
  const int32_t hyp[4] = {1, 2, 3, 4}, ref[5] = {1, 2, 3, 4, 5};
  int64_t ho[3] = {0, 2, 4}, ro[3] = {0, 2, 5}, io[3] = {0, 1, 2};
  hp_caption_corpus c = {2, hyp, ho, ref, ro, io};
  double b[4], s;
  assert_int_equal(hp_bleu_corpus(&c, b), 0);
  assert_int_equal(hp_cider_d(&c, &s, NULL), 0);

  hp_caption_corpus e = c;
  e.n = 0;
  expect_input_error(&e, "0 images");
  e = c;
  e.hyp_off = NULL;
  expect_input_error(&e, "NULL offset");
  e = c;
  e.hyp = NULL;
  expect_input_error(&e, "NULL hypothesis");
  e = c;
  e.ref = NULL;
  expect_input_error(&e, "NULL reference");
  expect_input_error(NULL, "NULL corpus");
  int64_t bad_ho[3] = {1, 2, 4};
  e = c;
  e.hyp_off = bad_ho;
  expect_input_error(&e, "hyp_off[0]");
  int64_t bad_ho2[3] = {0, 3, 2};
  e.hyp_off = bad_ho2;
  expect_input_error(&e, "hyp_off decreases at image 1");
  int64_t bad_io[3] = {0, 1, 1};
  e = c;
  e.img_ref_off = bad_io;
  expect_input_error(&e, "image 1 has no reference");
  int64_t bad_io2[3] = {0, 2, 1};
  e.img_ref_off = bad_io2;
  expect_input_error(&e, "img_ref_off decreases at image 1");
  int64_t bad_io3[3] = {1, 1, 2};
  e.img_ref_off = bad_io3;
  expect_input_error(&e, "img_ref_off[0]");
  int64_t bad_ro[3] = {0, 3, 2};
  e = c;
  e.ref_off = bad_ro;
  expect_input_error(&e, "ref_off decreases at reference 1");
  int64_t bad_ro2[3] = {2, 3, 5};
  e.ref_off = bad_ro2;
  expect_input_error(&e, "ref_off[0]");
  hp_error_clear();
  assert_int_equal(hp_bleu_corpus(&c, NULL), HP_ERR_INPUT);
  assert_int_equal(hp_cider_d(&c, NULL, NULL), HP_ERR_INPUT);
  hp_error_clear();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hand),
      cmocka_unit_test(test_fixture),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
