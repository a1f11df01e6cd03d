/* test_metrics.c — ranking and classification metrics: hand-checked cases and scikit-learn
 * reference values (tests/data/metrics/, made once by tests/fixtures/make_metrics_fixtures.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics/classify.h"
#include "metrics/ranking.h"

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-12)

static FILE *fixture(const char *name) {
  const char *dir = getenv("HP_TEST_DATA");
  char path[4096];
  snprintf(path, sizeof path, "%s/metrics/%s", dir ? dir : "tests/data", name);
  FILE *f = fopen(path, "r");
  if (!f) fail_msg("cannot open fixture %s (is HP_TEST_DATA set?)", path);
  return f;
}

/* rel = 1 0 1 0 0 0 0 0 0 1, five relevant in the collection. */
static void test_ranking_hand(void **state) {
  (void)state;
  const uint8_t rel[10] = {1, 0, 1, 0, 0, 0, 0, 0, 0, 1};
  const int64_t R = 5;
  double l2[6];
  for (int i = 0; i < 6; i++) l2[i] = 1.0 / log2(i + 2.0);
  NEAR(hp_precision_at(rel, 10, 1), 1.0);
  NEAR(hp_precision_at(rel, 10, 5), 0.4);
  NEAR(hp_precision_at(rel, 10, 10), 0.3);
  NEAR(hp_precision_at(rel, 3, 10), 0.2); /* short list: still / k */
  NEAR(hp_recall_at(rel, 10, 1, R, 10, HP_RANK_RELEVANT), 0.2);
  NEAR(hp_recall_at(rel, 10, 5, R, 10, HP_RANK_RELEVANT), 0.4);
  NEAR(hp_recall_at(rel, 10, 10, R, 10, HP_RANK_RELEVANT), 0.6);
  NEAR(hp_recall_at(rel, 10, 1, R, 10, HP_RANK_RETRIEVED), 1.0 / 3);
  NEAR(hp_recall_at(rel, 10, 5, R, 10, HP_RANK_RETRIEVED), 2.0 / 3);
  NEAR(hp_recall_at(rel, 10, 10, R, 10, HP_RANK_RETRIEVED), 1.0);
  NEAR(hp_ap_at(rel, 10, 1, R, HP_RANK_RELEVANT), 1.0);
  NEAR(hp_ap_at(rel, 10, 5, R, HP_RANK_RELEVANT), (1.0 + 2.0 / 3) / 5);
  NEAR(hp_ap_at(rel, 10, 10, R, HP_RANK_RELEVANT), (1.0 + 2.0 / 3 + 0.3) / 5);
  NEAR(hp_ap_at(rel, 10, 5, R, HP_RANK_RETRIEVED), (1.0 + 2.0 / 3) / 2);
  NEAR(hp_ap_at(rel, 10, 10, R, HP_RANK_RETRIEVED), (1.0 + 2.0 / 3 + 0.3) / 3);
  NEAR(hp_ndcg_at(rel, 10, 1, R, HP_RANK_RELEVANT), 1.0);
  NEAR(hp_ndcg_at(rel, 10, 5, R, HP_RANK_RELEVANT), (1.0 + 0.5) / (l2[0] + l2[1] + l2[2] + l2[3] + l2[4]));
  NEAR(hp_ndcg_at(rel, 10, 5, R, HP_RANK_RETRIEVED), (1.0 + 0.5) / (l2[0] + l2[1]));
  /* nothing relevant: zeros, never NaN */
  const uint8_t none[4] = {0, 0, 0, 0};
  hp_rank_metrics m;
  hp_rank_metrics_at(none, 4, 10, 0, 10, HP_RANK_RELEVANT, &m);
  assert_true(m.p == 0 && m.r == 0 && m.ndcg == 0 && m.ap == 0);
  hp_rank_metrics_at(none, 4, 10, 3, 10, HP_RANK_RETRIEVED, &m);
  assert_true(m.p == 0 && m.r == 0 && m.ndcg == 0 && m.ap == 0);
  /* relevant item first, one relevant in all: everything 1 at k = 1 */
  const uint8_t one[3] = {1, 0, 0};
  hp_rank_metrics_at(one, 3, 1, 1, 10, HP_RANK_RELEVANT, &m);
  NEAR(m.p, 1);
  NEAR(m.r, 1);
  NEAR(m.ndcg, 1);
  NEAR(m.ap, 1);
}

static void test_ranking_sklearn(void **state) {
  (void)state;
  FILE *f = fixture("ranking.txt");
  char line[8192];
  int cases = 0;
  uint8_t rel[64];
  long n = 0, R = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#') continue;
    if (sscanf(line, "case %ld %ld", &n, &R) == 2) {
      assert_true(n > 0 && n <= 64);
      char *p = fgets(line, sizeof line, f), *end;
      assert_non_null(p);
      for (long i = 0; i < n; i++) {
        rel[i] = (uint8_t)strtol(p, &end, 10);
        assert_true(end != p);
        p = end;
      }
      cases++;
      continue;
    }
    double ap, P, Rc, nd;
    long k;
    if (sscanf(line, "ap %lf", &ap) == 1) {
      NEAR(hp_ap_at(rel, n, n, R, HP_RANK_RELEVANT), ap); /* full-list AP */
      continue;
    }
    assert_int_equal(sscanf(line, "%ld %lf %lf %lf", &k, &P, &Rc, &nd), 4);
    NEAR(hp_precision_at(rel, n, k), P);
    NEAR(hp_recall_at(rel, n, k, R, 10, HP_RANK_RELEVANT), Rc);
    NEAR(hp_ndcg_at(rel, n, k, R, HP_RANK_RELEVANT), nd);
  }
  fclose(f);
  assert_int_equal(cases, 40);
}

static void test_classify_hand(void **state) {
  (void)state;
  const uint8_t L[5][3] = {{1, 0, 0}, {1, 1, 0}, {0, 0, 1}, {0, 0, 0}, {0, 1, 1}};
  const int64_t pred[5] = {0, 1, 0, 2, 0};
  hp_cls_counts c[3] = {{0}};
  int64_t items = 0, correct = 0;
  for (int i = 0; i < 5; i++) assert_int_equal(hp_cls_count(c, 3, L[i], pred[i], &items, &correct), i != 3);
  assert_int_equal(c[0].tp, 1);
  assert_int_equal(c[0].fp, 2);
  assert_int_equal(c[0].fn, 1);
  assert_int_equal(c[1].tp, 1);
  assert_int_equal(c[1].fp, 0);
  assert_int_equal(c[1].fn, 1);
  assert_int_equal(c[2].tp, 0);
  assert_int_equal(c[2].fn, 2);
  assert_int_equal(c[2].support, 2);
  hp_cls_prf r = hp_cls_class(&c[0]);
  NEAR(r.precision, 1.0 / 3);
  NEAR(r.recall, 0.5);
  NEAR(r.f1, 0.4);
  hp_cls_summary s;
  hp_cls_summarise(c, 3, items, correct, &s);
  assert_int_equal(s.items, 4);
  assert_int_equal(s.active, 3);
  NEAR(s.macro.precision, 4.0 / 9);
  NEAR(s.macro.recall, 1.0 / 3);
  NEAR(s.macro.f1, (0.4 + 2.0 / 3) / 3);
  NEAR(s.micro.precision, 0.5);
  NEAR(s.micro.recall, 1.0 / 3);
  NEAR(s.micro.f1, 0.4);
  NEAR(s.accuracy, 0.5);
}

static void test_classify_sklearn(void **state) {
  (void)state;
  FILE *f = fixture("classify.txt");
  char line[8192];
  int cases = 0;
  long C = 0, N = 0;
  hp_cls_counts c[16];
  hp_cls_summary s;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#') continue;
    long k, sup;
    double P, R, F;
    if (sscanf(line, "case %ld %ld", &C, &N) == 2) {
      assert_true(C > 0 && C <= 16);
      memset(c, 0, sizeof c);
      int64_t items = 0, correct = 0;
      for (long i = 0; i < N; i++) {
        uint8_t lab[16];
        char *p = fgets(line, sizeof line, f), *end;
        assert_non_null(p);
        for (long t = 0; t < C; t++, p = end) lab[t] = (uint8_t)strtol(p, &end, 10);
        long pr = strtol(p, &end, 10);
        assert_int_equal(hp_cls_count(c, C, lab, pr, &items, &correct), 1);
      }
      hp_cls_summarise(c, C, items, correct, &s);
      cases++;
    } else if (sscanf(line, "class %ld %lf %lf %lf %ld", &k, &P, &R, &F, &sup) == 5) {
      hp_cls_prf r = hp_cls_class(&c[k]);
      NEAR(r.precision, P);
      NEAR(r.recall, R);
      NEAR(r.f1, F);
      assert_int_equal(c[k].support, sup);
    } else if (sscanf(line, "micro %lf %lf %lf", &P, &R, &F) == 3) {
      NEAR(s.micro.precision, P);
      NEAR(s.micro.recall, R);
      NEAR(s.micro.f1, F);
    } else if (sscanf(line, "macro %lf %lf %lf", &P, &R, &F) == 3) {
      NEAR(s.macro.precision, P);
      NEAR(s.macro.recall, R);
      NEAR(s.macro.f1, F);
    } else if (sscanf(line, "accuracy %lf", &P) == 1) {
      NEAR(s.accuracy, P);
    } else {
      fail_msg("classify.txt: cannot parse: %s", line);
    }
  }
  fclose(f);
  assert_int_equal(cases, 12);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ranking_hand),
      cmocka_unit_test(test_ranking_sklearn),
      cmocka_unit_test(test_classify_hand),
      cmocka_unit_test(test_classify_sklearn),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
