/* test_decode.c — greedy and beam-search decoding (hp_decode) with a toy autoregressive model:
 * a fixed bigram table per conditioning vector (the next token's logits depend on the last
 * token of the prefix and on cond_index % 2). Greedy against a direct step-by-step argmax;
 * beam search with a beam wider than every hypothesis set (exhaustive) against the best
 * sequence found by enumerating all of them, for several length penalties; a table where
 * greedy is wrong and beam 2 right; early eos, the max_len cut, forbidden tokens, batching
 * (one callback call per step for all live sequences of all items) and the error cases. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/error.h"
#include "base/rng.h"
#include "models/decode.h"

enum { V = 6, PAD = 0, BOS = 1, EOS = 2, LMAX = 8 };

typedef struct {
  float tab[2][V][V]; /* [cond % 2][prev][next] */
  int calls;
  int64_t max_nseq, first_nseq;
  int fail_at;     /* > 0: return an error at this call */
  int nan_at;      /* > 0: put a NaN at this call */
  int bad_prefix;  /* set if a prefix broke the contract */
} toy;

static int toy_fn(void *ctx, const int32_t *prefix, int max_len, int t, const int64_t *cond, int64_t nseq,
                  float *logits) {
  toy *m = ctx;
  m->calls++;
  if (m->calls == 1) m->first_nseq = nseq;
  if (nseq > m->max_nseq) m->max_nseq = nseq;
  if (m->fail_at == m->calls) HP_ERROR(HP_ERR_INPUT, "toy model failure");
  for (int64_t s = 0; s < nseq; s++) {
    const int32_t *p = prefix + s * max_len;
    if (p[0] != BOS || t < 1 || t > max_len) m->bad_prefix = 1;
    if (s > 0 && cond[s] < cond[s - 1]) m->bad_prefix = 1;
    for (int k = 1; k < t; k++)
      if (p[k] < 0 || p[k] >= V || p[k] == EOS) m->bad_prefix = 1;
    memcpy(logits + s * V, m->tab[cond[s] % 2][p[t - 1]], V * sizeof(float));
  }
  if (m->nan_at == m->calls) logits[0] = NAN;
  return 0;
}

static void toy_random(toy *m, uint64_t seed) {
  memset(m, 0, sizeof *m);
  for (int c = 0; c < 2; c++)
    for (int a = 0; a < V; a++) {
      hp_rng r = hp_rng_make(seed, 5, (uint64_t)(c * V + a));
      for (int b = 0; b < V; b++) m->tab[c][a][b] = (float)(hp_rng_uniform(&r) * 4 - 2);
    }
}

static double logp(const toy *m, int c, int prev, int next) {
  const float *x = m->tab[c % 2][prev];
  double mx = -INFINITY, s = 0;
  for (int k = 0; k < V; k++) mx = x[k] > mx ? x[k] : mx;
  for (int k = 0; k < V; k++) s += exp((double)x[k] - mx);
  return (double)x[next] - mx - log(s);
}

static int allowed(const hp_decode_opts *o, int tok) {
  for (int k = 0; k < o->nforbid; k++)
    if (o->forbid[k] == tok) return 0;
  return 1;
}

/* best complete sequence by enumeration: words then eos (at most L-1 words), or L words */
typedef struct {
  int32_t tok[LMAX];
  int len;
  double raw, norm;
  int found;
} best_seq;

static void enumerate(const toy *m, int c, const hp_decode_opts *o, int32_t *cur, int len, double raw, best_seq *b) {
  const int L = o->max_len;
  int prev = len == 0 ? BOS : cur[len - 1];
  if (len == L || allowed(o, EOS)) {
    double r = raw + (len < L ? logp(m, c, prev, EOS) : 0);
    double nv = o->length_penalty == 0 ? r : r / pow(len > 1 ? len : 1, o->length_penalty);
    if (!b->found || nv > b->norm) {
      b->found = 1;
      memcpy(b->tok, cur, (size_t)len * sizeof *cur);
      b->len = len;
      b->raw = r;
      b->norm = nv;
    }
  }
  if (len == L) return;
  for (int w = 0; w < V; w++) {
    if (w == EOS || !allowed(o, w)) continue;
    cur[len] = w;
    enumerate(m, c, o, cur, len + 1, raw + logp(m, c, prev, w), b);
  }
}

/* greedy by hand */
static void greedy_ref(const toy *m, int c, const hp_decode_opts *o, int32_t *tok, int *len, double *raw) {
  int prev = BOS;
  *len = 0;
  *raw = 0;
  for (int t = 0; t < o->max_len; t++) {
    int best = -1;
    for (int w = 0; w < V; w++)
      if (allowed(o, w) && (best < 0 || m->tab[c % 2][prev][w] > m->tab[c % 2][prev][best])) best = w;
    *raw += logp(m, c, prev, best);
    if (best == EOS) return;
    tok[(*len)++] = best;
    prev = best;
  }
}

static hp_decode_opts opts(int beam, int max_len, float lp) {
  hp_decode_opts o;
  memset(&o, 0, sizeof o);
  o.beam = beam;
  o.max_len = max_len;
  o.bos = BOS;
  o.eos = EOS;
  o.forbid[0] = PAD;
  o.forbid[1] = BOS;
  o.nforbid = 2;
  o.length_penalty = lp;
  return o;
}

static void check_padding(const int32_t *tok, const int *len, int64_t nb, int L) {
  for (int64_t i = 0; i < nb; i++)
    for (int k = len[i]; k < L; k++) assert_int_equal(tok[i * L + k], -1);
}

static void test_greedy(void **state) {
  (void)state;
  enum { NB = 7 };
  for (uint64_t seed = 1; seed <= 20; seed++) {
    toy m;
    toy_random(&m, seed);
    hp_decode_opts o = opts(1, 5, 0);
    int32_t tok[NB * 5];
    int len[NB];
    float lpv[NB];
    assert_int_equal(hp_decode(toy_fn, &m, NB, V, &o, tok, len, lpv), 0);
    assert_false(m.bad_prefix);
    assert_int_equal(m.first_nseq, NB); /* every item in one call */
    assert_true(m.calls <= 5);
    check_padding(tok, len, NB, 5);
    for (int i = 0; i < NB; i++) {
      int32_t rt[LMAX];
      int rl;
      double rr;
      greedy_ref(&m, i, &o, rt, &rl, &rr);
      assert_int_equal(len[i], rl);
      for (int k = 0; k < rl; k++) assert_int_equal(tok[i * 5 + k], rt[k]);
      assert_true(fabs(lpv[i] - rr) < 1e-5);
    }
  }
}

static void test_beam_exhaustive(void **state) {
  (void)state;
  enum { NB = 5, L = 4 };
  const float lps[3] = {0.0f, 1.0f, 0.6f};
  int differs = 0;
  for (uint64_t seed = 100; seed < 130; seed++)
    for (int li = 0; li < 3; li++) {
      toy m;
      toy_random(&m, seed);
      /* beam 200 > 3^4 hypotheses: beam search is exhaustive */
      hp_decode_opts o = opts(200, L, lps[li]);
      int32_t tok[NB * L];
      int len[NB];
      float lpv[NB];
      assert_int_equal(hp_decode(toy_fn, &m, NB, V, &o, tok, len, lpv), 0);
      assert_false(m.bad_prefix);
      assert_int_equal(m.first_nseq, NB);
      assert_true(m.calls <= L);
      check_padding(tok, len, NB, L);
      for (int i = 0; i < NB; i++) {
        best_seq b = {0};
        int32_t cur[LMAX];
        enumerate(&m, i, &o, cur, 0, 0.0, &b);
        assert_true(b.found);
        if (len[i] != b.len || memcmp(tok + i * L, b.tok, (size_t)b.len * sizeof *tok) != 0)
          fail_msg("seed %llu lp %g item %d: beam result differs from the enumerated best", (unsigned long long)seed,
                   (double)lps[li], i);
        assert_true(fabs(lpv[i] - b.raw) < 1e-5);
        /* greedy is not always the best: count how often it differs (informative) */
        if (li == 0 && i == 0) {
          hp_decode_opts g = opts(1, L, 0);
          int32_t gtok[NB * L];
          int glen[NB];
          assert_int_equal(hp_decode(toy_fn, &m, NB, V, &g, gtok, glen, NULL), 0);
          if (glen[0] != len[0] || memcmp(gtok, tok, (size_t)len[0] * sizeof *tok) != 0) differs++;
        }
      }
    }
  print_message("greedy differed from the exact best in %d of 30 tables\n", differs);
}

/* greedy picks "3 eos" (equal logits after 3: lowest id, eos, wins the tie); the best is "4 eos",
 * which beam 2 finds */
static void test_beam_beats_greedy(void **state) {
  (void)state;
  toy m;
  memset(&m, 0, sizeof m);
  for (int c = 0; c < 2; c++) {
    for (int a = 0; a < V; a++)
      for (int b = 0; b < V; b++) m.tab[c][a][b] = -30;
    m.tab[c][BOS][3] = 1.0f;
    m.tab[c][BOS][4] = 0.9f;
    m.tab[c][BOS][5] = -5;
    m.tab[c][BOS][EOS] = -5;
    for (int b = 2; b < V; b++) m.tab[c][3][b] = 0;
    for (int b = 2; b < V; b++) m.tab[c][4][b] = 0;
    m.tab[c][4][EOS] = 5;
    for (int b = 2; b < V; b++) m.tab[c][5][b] = 0;
  }
  int32_t tok[2 * 3];
  int len[2];
  float lpv[2];
  hp_decode_opts g = opts(1, 3, 0);
  assert_int_equal(hp_decode(toy_fn, &m, 2, V, &g, tok, len, lpv), 0);
  assert_int_equal(len[0], 1);
  assert_int_equal(tok[0], 3);
  assert_true(fabs(lpv[0] - (logp(&m, 0, BOS, 3) + logp(&m, 0, 3, EOS))) < 1e-6);
  hp_decode_opts b = opts(2, 3, 0);
  assert_int_equal(hp_decode(toy_fn, &m, 2, V, &b, tok, len, lpv), 0);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(len[i], 1);
    assert_int_equal(tok[i * 3], 4);
    assert_int_equal(tok[i * 3 + 1], -1);
    assert_true(fabs(lpv[i] - (logp(&m, 0, BOS, 4) + logp(&m, 0, 4, EOS))) < 1e-6);
  }
}

/* eos forbidden: every caption runs to max_len; a forbidden favourite never appears */
static void test_maxlen_and_forbid(void **state) {
  (void)state;
  enum { NB = 4, L = 6 };
  toy m;
  toy_random(&m, 7);
  for (int c = 0; c < 2; c++)
    for (int a = 0; a < V; a++) m.tab[c][a][5] = 10; /* 5 is everybody's favourite */
  for (int beam = 1; beam <= 3; beam++) {
    hp_decode_opts o = opts(beam, L, 0);
    o.forbid[2] = EOS;
    o.nforbid = 3;
    int32_t tok[NB * L];
    int len[NB];
    assert_int_equal(hp_decode(toy_fn, &m, NB, V, &o, tok, len, NULL), 0);
    for (int i = 0; i < NB; i++) {
      assert_int_equal(len[i], L);
      for (int k = 0; k < L; k++) assert_int_equal(tok[i * L + k], 5);
    }
    o.forbid[3] = 5;
    o.nforbid = 4;
    assert_int_equal(hp_decode(toy_fn, &m, NB, V, &o, tok, len, NULL), 0);
    for (int i = 0; i < NB; i++) {
      assert_int_equal(len[i], L);
      for (int k = 0; k < L; k++) assert_true(tok[i * L + k] == 3 || tok[i * L + k] == 4);
    }
  }
  /* eos as everybody's favourite: empty captions, padded with -1 */
  for (int c = 0; c < 2; c++)
    for (int a = 0; a < V; a++) m.tab[c][a][EOS] = 20;
  for (int beam = 1; beam <= 3; beam++) {
    hp_decode_opts o = opts(beam, L, 0);
    int32_t tok[NB * L];
    int len[NB];
    m.calls = 0;
    assert_int_equal(hp_decode(toy_fn, &m, NB, V, &o, tok, len, NULL), 0);
    assert_int_equal(m.calls, 1); /* everything finished at the first step */
    for (int i = 0; i < NB; i++) assert_int_equal(len[i], 0);
    check_padding(tok, len, NB, L);
  }
}

static void expect_err(int got, int want, const char *needle) {
  assert_int_equal(got, want);
  if (!strstr(hp_error_message(), needle)) fail_msg("message '%s' lacks '%s'", hp_error_message(), needle);
  hp_error_clear();
}

static void test_errors(void **state) {
  (void)state;
  toy m;
  toy_random(&m, 3);
  int32_t tok[3 * 4];
  int len[3];
  hp_decode_opts o = opts(2, 4, 0);
  hp_error_clear();
  expect_err(hp_decode(NULL, &m, 3, V, &o, tok, len, NULL), HP_ERR_INTERNAL, "NULL callback");
  expect_err(hp_decode(toy_fn, &m, 3, V, NULL, tok, len, NULL), HP_ERR_INTERNAL, "NULL options");
  expect_err(hp_decode(toy_fn, &m, 3, V, &o, NULL, len, NULL), HP_ERR_INTERNAL, "NULL output");
  expect_err(hp_decode(toy_fn, &m, -1, V, &o, tok, len, NULL), HP_ERR_INTERNAL, "-1 items");
  expect_err(hp_decode(toy_fn, &m, 3, 0, &o, tok, len, NULL), HP_ERR_INTERNAL, "vocabulary of 0");
  hp_decode_opts e = o;
  e.beam = 0;
  expect_err(hp_decode(toy_fn, &m, 3, V, &e, tok, len, NULL), HP_ERR_INTERNAL, "beam 0");
  e = o;
  e.max_len = 0;
  expect_err(hp_decode(toy_fn, &m, 3, V, &e, tok, len, NULL), HP_ERR_INTERNAL, "max_len 0");
  e = o;
  e.bos = V;
  expect_err(hp_decode(toy_fn, &m, 3, V, &e, tok, len, NULL), HP_ERR_INTERNAL, "bos 6 outside");
  e = o;
  e.eos = -1;
  expect_err(hp_decode(toy_fn, &m, 3, V, &e, tok, len, NULL), HP_ERR_INTERNAL, "eos -1 outside");
  e = o;
  e.forbid[1] = 9;
  expect_err(hp_decode(toy_fn, &m, 3, V, &e, tok, len, NULL), HP_ERR_INTERNAL, "forbidden token 9");
  e = o;
  e.nforbid = 5;
  expect_err(hp_decode(toy_fn, &m, 3, V, &e, tok, len, NULL), HP_ERR_INTERNAL, "nforbid 5");
  e = o;
  e.length_penalty = NAN;
  expect_err(hp_decode(toy_fn, &m, 3, V, &e, tok, len, NULL), HP_ERR_INTERNAL, "length_penalty");
  e = o;
  e.forbid[2] = 2;
  e.nforbid = 3;
  expect_err(hp_decode(toy_fn, &m, 3, 3, &e, tok, len, NULL), HP_ERR_INTERNAL, "every token");
  for (int beam = 1; beam <= 2; beam++) {
    e = o;
    e.beam = beam;
    m.calls = 0;
    m.fail_at = 2;
    expect_err(hp_decode(toy_fn, &m, 3, V, &e, tok, len, NULL), HP_ERR_INPUT, "toy model failure");
    m.calls = 0;
    m.fail_at = 0;
    m.nan_at = 1;
    expect_err(hp_decode(toy_fn, &m, 3, V, &e, tok, len, NULL), HP_ERR_NUMERIC, "logit 0 of sequence 0 is nan");
    m.nan_at = 0;
  }
  /* nb = 0: nothing to do, the callback is never called */
  m.calls = 0;
  assert_int_equal(hp_decode(toy_fn, &m, 0, V, &o, NULL, NULL, NULL), 0);
  assert_int_equal(m.calls, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_greedy),           cmocka_unit_test(test_beam_exhaustive),
      cmocka_unit_test(test_beam_beats_greedy), cmocka_unit_test(test_maxlen_and_forbid),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
