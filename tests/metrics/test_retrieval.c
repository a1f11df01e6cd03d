/* test_retrieval.c — metrics/retrieval.h: recall hits of queries whose relevant items are a range
 * of the collection, by hand (ties against the query, empty ranges, several relevant items) and
 * against a brute-force ranking over random data, across the 256-query block boundary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "metrics/retrieval.h"

/* 1-D embeddings (E = 1): a score is the product of the query and the row. */
static void test_hand(void **state) {
  (void)state;
  const float q[4] = {1.0f, 1.0f, 1.0f, -1.0f};
  const float db[5] = {0.5f, 0.9f, 0.9f, 0.1f, 0.7f};
  /* q0: relevant {row 1} scores 0.9, tied by row 2 -> rank 1 (ties count against the query)
   * q1: relevant {rows 3, 4}: best 0.7, rows 1, 2 above -> rank 2
   * q2: nothing relevant -> never a hit
   * q3 (negated): relevant {row 3} scores -0.1, the best of all -> rank 0 */
  const int64_t lo[4] = {1, 3, 2, 3}, hi[4] = {2, 5, 2, 4}, ks[3] = {1, 2, 3};
  double hits[3] = {0, 0, 0};
  assert_int_equal(hp_retrieval_hits(q, 4, db, 5, 1, lo, hi, ks, 3, hits), 0);
  assert_true(hits[0] == 1.0); /* q3 */
  assert_true(hits[1] == 2.0); /* q3, q0 */
  assert_true(hits[2] == 3.0); /* q3, q0, q1 */
}

static void test_empty(void **state) {
  (void)state;
  double hits[1] = {0};
  const int64_t ks[1] = {1}, lo[1] = {0}, hi[1] = {0};
  const float q[2] = {1, 0};
  assert_int_equal(hp_retrieval_hits(q, 0, q, 1, 2, lo, hi, ks, 1, hits), 0); /* no queries */
  assert_int_equal(hp_retrieval_hits(q, 1, q, 0, 2, lo, hi, ks, 1, hits), 0);  /* empty collection */
  assert_true(hits[0] == 0.0);
}

static void test_brute_force(void **state) {
  (void)state;
  enum { NQ = 600, NDB = 97, E = 8 };
  float *q = malloc(sizeof(float) * NQ * E), *db = malloc(sizeof(float) * NDB * E);
  int64_t lo[NQ], hi[NQ];
  srand(3);
  /* scores are small integers, so sgemm is exact and ties are frequent */
  for (int i = 0; i < NQ * E; i++) q[i] = (float)(rand() % 5 - 2);
  for (int i = 0; i < NDB * E; i++) db[i] = (float)(rand() % 5 - 2);
  for (int i = 0; i < NQ; i++) {
    lo[i] = rand() % NDB;
    hi[i] = lo[i] + rand() % 4;
    if (hi[i] > NDB) hi[i] = NDB;
  }
  const int64_t ks[3] = {1, 5, 10};
  double hits[3] = {0, 0, 0}, want[3] = {0, 0, 0};
  assert_int_equal(hp_retrieval_hits(q, NQ, db, NDB, E, lo, hi, ks, 3, hits), 0);
  for (int i = 0; i < NQ; i++) {
    if (lo[i] == hi[i]) continue;
    float s[NDB], best = -1e30f;
    for (int j = 0; j < NDB; j++) {
      s[j] = 0;
      for (int e = 0; e < E; e++) s[j] += q[i * E + e] * db[j * E + e];
    }
    for (int64_t j = lo[i]; j < hi[i]; j++) best = s[j] > best ? s[j] : best;
    int rank = 0;
    for (int j = 0; j < NDB; j++) rank += (j < lo[i] || j >= hi[i]) && s[j] >= best;
    for (int k = 0; k < 3; k++) want[k] += rank < ks[k];
  }
  for (int k = 0; k < 3; k++) assert_true(hits[k] == want[k]);
  assert_true(want[2] > 0 && want[0] < want[2]); /* the case is not trivial */
  free(q);
  free(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hand),
      cmocka_unit_test(test_empty),
      cmocka_unit_test(test_brute_force),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
