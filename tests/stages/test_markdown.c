/* test_markdown.c — stages/markdown.h: table-safe text (a label "T|shirts" must not add a
 * column, a line break must not end the row) and the chance of a random ranking, checked
 * against counting every k-subset for small n. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "stages/markdown.h"

static char *render(const char *s, size_t max) {
  char *buf = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&buf, &n);
  assert_non_null(f);
  hp_md_text(f, s, max);
  fclose(f);
  return buf;
}

static void test_text(void **st) {
  (void)st;
  char *a = render("T|shirts <b>\\x\nnext\r", 0);
  assert_string_equal(a, "T\\|shirts &lt;b>\\\\x next ");
  free(a);
  a = render("abcdef", 3);
  assert_string_equal(a, "abc…");
  free(a);
  a = render("", 0);
  assert_string_equal(a, "");
  free(a);
}

/* the share of k-subsets of n items that contain at least one of the first rel items */
static double brute(int n, int rel, int k) {
  int64_t hit = 0, all = 0;
  for (uint32_t m = 0; m < (1u << n); m++) {
    if (__builtin_popcount(m) != k) continue;
    all++;
    hit += (m & ((1u << rel) - 1)) != 0;
  }
  return all ? (double)hit / (double)all : 0.0;
}

static void test_chance(void **st) {
  (void)st;
  for (int n = 1; n <= 12; n++)
    for (int rel = 0; rel <= n; rel++)
      for (int k = 1; k <= n; k++) {
        double want = rel == 0 ? 0.0 : brute(n, rel, k);
        assert_true(fabs(hp_chance_hit_at_k(n, rel, k) - want) < 1e-12);
      }
  assert_true(hp_chance_hit_at_k(5, 1, 10) == 1.0); /* k beyond the split: 1 by construction */
  assert_true(hp_chance_hit_at_k(0, 1, 1) == 0.0);
  assert_string_equal(hp_md_flag(0.2, 0.1), " ⚠");
  assert_string_equal(hp_md_flag(0.21, 0.1), "");
  assert_string_equal(hp_md_flag(0.5, 0.0), "");
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_text), cmocka_unit_test(test_chance)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
