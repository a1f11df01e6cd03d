/* test_tokenizer.c — normalisation, vocabulary ranking and cap, encode/decode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/error.h"
#include "text/tokenizer.h"

static void expect_norm(const char *in, const char *want) {
  char *out = NULL;
  assert_int_equal(hp_tok_normalize(in, &out), 0);
  assert_string_equal(out, want);
  free(out);
}

static void test_normalize(void **state) {
  (void)state;
  expect_norm("A Red CIRCLE", "a red circle");
  expect_norm("  don't  stop ", "dont stop");
  expect_norm("red-and-blue", "red and blue");
  expect_norm("a,b;c.d!e?f(g)h[i]j\"k", "a b c d e f g h i j k");
  expect_norm("tabs\tand\nnewlines\r\n", "tabs and newlines");
  expect_norm("", "");
  expect_norm("...!!! ''' ---", "");
  expect_norm("Caf\xc3\xa9 na\xc3\xafve", "caf\xc3\xa9 na\xc3\xafve"); /* UTF-8 kept as word bytes */
  expect_norm("3 shapes, 2x2", "3 shapes 2x2");
  expect_norm("[UNK]", "unk");
  expect_norm(NULL, "");
}

static void test_long_word(void **state) {
  (void)state;
  size_t n = 100000;
  char *text = malloc(n + 8);
  assert_non_null(text);
  memcpy(text, "x ", 2);
  for (size_t i = 0; i < n; i++) text[2 + i] = (char)('A' + (int)(i % 26));
  strcpy(text + 2 + n, " y");
  char *out = NULL;
  assert_int_equal(hp_tok_normalize(text, &out), 0);
  assert_int_equal(strlen(out), n + 4);
  assert_int_equal(out[2], 'a');
  hp_wordcount *wc;
  assert_int_equal(hp_wordcount_create(&wc), 0);
  assert_int_equal(hp_wordcount_add_text(wc, text), 0);
  assert_int_equal(hp_wordcount_distinct(wc), 3);
  assert_int_equal(hp_wordcount_get(wc, out + 2, n), 1);
  hp_wordcount_free(wc);
  free(out);
  free(text);
}

static hp_vocab *build(const char *const *texts, int n, int64_t cap) {
  hp_wordcount *wc;
  hp_vocab *v = NULL;
  assert_int_equal(hp_wordcount_create(&wc), 0);
  for (int i = 0; i < n; i++) assert_int_equal(hp_wordcount_add_text(wc, texts[i]), 0);
  assert_int_equal(hp_vocab_build(wc, cap, &v), 0);
  hp_wordcount_free(wc);
  return v;
}

static void test_vocab_order(void **state) {
  (void)state;
  /* counts: the 4, a 3, zebra 2, apple 2, mango 2, b 1, c 1 */
  const char *texts[] = {"the a the zebra", "The apple, the mango A", "a zebra apple mango b c"};
  hp_vocab *v = build(texts, 3, 100);
  const char *want[] = {"", "[UNK]", "the", "a", "apple", "mango", "zebra", "b", "c"};
  assert_int_equal(hp_vocab_size(v), 9);
  for (int i = 0; i < 9; i++) assert_string_equal(hp_vocab_word(v, i), want[i]);
  assert_null(hp_vocab_word(v, 9));
  assert_null(hp_vocab_word(v, -1));
  assert_int_equal(hp_vocab_lookup(v, "zebra", 5), 6);
  assert_int_equal(hp_vocab_lookup(v, "zebr", 4), HP_TOK_UNK);
  assert_int_equal(hp_vocab_lookup(v, "", 0), HP_TOK_UNK);
  hp_vocab_free(v);

  /* Cap: 5 ids in total = pad, unk and the top 3; the tie at count 2 is cut by byte order. */
  v = build(texts, 3, 5);
  assert_int_equal(hp_vocab_size(v), 5);
  assert_string_equal(hp_vocab_word(v, 4), "apple");
  assert_int_equal(hp_vocab_lookup(v, "mango", 5), HP_TOK_UNK);
  hp_vocab_free(v);

  v = build(texts, 3, 2);
  assert_int_equal(hp_vocab_size(v), 2);
  hp_vocab_free(v);

  hp_wordcount *wc;
  assert_int_equal(hp_wordcount_create(&wc), 0);
  assert_int_equal(hp_vocab_build(wc, 1, &v), HP_ERR_CONFIG);
  hp_error_clear();
  hp_wordcount_free(wc);
}

/* Byte order, not locale: uppercase is folded, UTF-8 bytes sort after ASCII. */
static void test_tie_bytes(void **state) {
  (void)state;
  const char *texts[] = {"\xc3\xa9t\xc3\xa9 zz z Zz ab a"};
  hp_vocab *v = build(texts, 1, 10);
  const char *want[] = {"", "[UNK]", "zz", "a", "ab", "z", "\xc3\xa9t\xc3\xa9"};
  assert_int_equal(hp_vocab_size(v), 7);
  for (int i = 0; i < 7; i++) assert_string_equal(hp_vocab_word(v, i), want[i]);
  hp_vocab_free(v);
}

static void test_encode_decode(void **state) {
  (void)state;
  const char *texts[] = {"a small red circle above a large blue square", "two shapes: a red circle"};
  hp_vocab *v = build(texts, 2, 100);
  int32_t ids[20];
  int64_t nw = -1;
  char *back = NULL, *norm = NULL;

  /* Round trip of in-vocabulary text: decode(encode(t)) == normalize(t). */
  const char *t = "A small RED circle, above a large blue square!";
  assert_int_equal(hp_tok_encode(v, t, 20, ids, &nw), 0);
  assert_int_equal(nw, 9);
  for (int i = 9; i < 20; i++) assert_int_equal(ids[i], HP_TOK_PAD);
  for (int i = 0; i < 9; i++) assert_true(ids[i] >= 2);
  assert_int_equal(hp_tok_decode(v, ids, 20, &back), 0);
  assert_int_equal(hp_tok_normalize(t, &norm), 0);
  assert_string_equal(back, norm);
  free(back);
  free(norm);

  /* Out of vocabulary. */
  assert_int_equal(hp_tok_encode(v, "a purple circle", 20, ids, &nw), 0);
  assert_int_equal(nw, 3);
  assert_int_equal(ids[1], HP_TOK_UNK);
  assert_int_equal(hp_tok_decode(v, ids, 20, &back), 0);
  assert_string_equal(back, "a [UNK] circle");
  free(back);

  /* Truncation: the first L words only; n_words still counts all. */
  assert_int_equal(hp_tok_encode(v, "red red red blue blue", 3, ids, &nw), 0);
  assert_int_equal(nw, 5);
  assert_int_equal(hp_tok_decode(v, ids, 3, &back), 0);
  assert_string_equal(back, "red red red");
  free(back);

  /* Empty text: all padding, decodes to "". */
  assert_int_equal(hp_tok_encode(v, " ,, ", 4, ids, NULL), 0);
  for (int i = 0; i < 4; i++) assert_int_equal(ids[i], HP_TOK_PAD);
  assert_int_equal(hp_tok_decode(v, ids, 4, &back), 0);
  assert_string_equal(back, "");
  free(back);

  /* L = 0 is allowed; ids outside the vocabulary are refused on decode. */
  assert_int_equal(hp_tok_encode(v, "red", 0, ids, &nw), 0);
  assert_int_equal(nw, 1);
  ids[0] = 999;
  assert_int_equal(hp_tok_decode(v, ids, 1, &back), HP_ERR_INPUT);
  hp_error_clear();
  ids[0] = -3;
  assert_int_equal(hp_tok_decode(v, ids, 1, &back), HP_ERR_INPUT);
  hp_error_clear();
  hp_vocab_free(v);
}

static void test_from_words(void **state) {
  (void)state;
  const char *texts[] = {"b a b c"};
  hp_vocab *v = build(texts, 1, 100), *w = NULL;
  assert_int_equal(hp_vocab_from_words(hp_vocab_words(v), hp_vocab_size(v), &w), 0);
  assert_int_equal(hp_vocab_size(w), hp_vocab_size(v));
  for (int64_t i = 0; i < hp_vocab_size(v); i++) assert_string_equal(hp_vocab_word(w, i), hp_vocab_word(v, i));
  assert_int_equal(hp_vocab_lookup(w, "c", 1), hp_vocab_lookup(v, "c", 1));
  hp_vocab_free(w);
  hp_vocab_free(v);
  const char *bad1[] = {"x", "[UNK]", "a"};
  const char *bad2[] = {"", "[UNK]", "a", "a"};
  const char *bad3[] = {"", "[UNK]", "Red"};
  const char *bad4[] = {"", "[UNK]", "a b"};
  assert_int_equal(hp_vocab_from_words(bad1, 3, &w), HP_ERR_INPUT);
  assert_int_equal(hp_vocab_from_words(bad2, 4, &w), HP_ERR_INPUT);
  assert_int_equal(hp_vocab_from_words(bad3, 3, &w), HP_ERR_INPUT);
  assert_int_equal(hp_vocab_from_words(bad4, 3, &w), HP_ERR_INPUT);
  hp_error_clear();
}

/* Many distinct words: the hash map grows and keeps exact counts. */
static void test_many_words(void **state) {
  (void)state;
  hp_wordcount *wc;
  assert_int_equal(hp_wordcount_create(&wc), 0);
  char w[32];
  for (int rep = 0; rep < 3; rep++)
    for (int i = 0; i < 20000; i++) {
      int len = snprintf(w, sizeof w, "w%d", i);
      assert_int_equal(hp_wordcount_add(wc, w, (size_t)len, i % 7 == 0 ? 2 : 1), 0);
    }
  assert_int_equal(hp_wordcount_distinct(wc), 20000);
  assert_int_equal(hp_wordcount_get(wc, "w7", 2), 6);
  assert_int_equal(hp_wordcount_get(wc, "w8", 2), 3);
  hp_vocab *v;
  assert_int_equal(hp_vocab_build(wc, 12, &v), 0);
  /* Count-6 words (i % 7 == 0) in byte order: w0, w10003 (7 x 1429), ... */
  assert_string_equal(hp_vocab_word(v, 2), "w0");
  assert_string_equal(hp_vocab_word(v, 3), "w10003");
  hp_vocab_free(v);
  hp_wordcount_free(wc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_normalize),   cmocka_unit_test(test_long_word),
      cmocka_unit_test(test_vocab_order), cmocka_unit_test(test_tie_bytes),
      cmocka_unit_test(test_encode_decode), cmocka_unit_test(test_from_words),
      cmocka_unit_test(test_many_words),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
