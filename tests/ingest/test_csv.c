/* test_csv.c — the RFC 4180 reader: quoting, line ends, bad records and recovery. */
#include "ingest_test.h"

#include "ingest/csv.h"

/* Read all records of text; returns a "|"-joined, ";"-separated rendering with BAD(line:why)
 * entries, into out. */
static void render(const char *text, size_t n, char *out, size_t cap) {
  hp_csv c;
  hp_csv_init(&c, text, n);
  out[0] = 0;
  for (;;) {
    int st;
    assert_int_equal(hp_csv_next(&c, &st), 0);
    if (st == HP_CSV_END) break;
    size_t o = strlen(out);
    if (st == HP_CSV_BAD) {
      snprintf(out + o, cap - o, "BAD(%lld:%s);", (long long)c.rec_line, c.why);
      continue;
    }
    snprintf(out + o, cap - o, "%lld:", (long long)c.rec_line);
    for (int64_t k = 0; k < c.nfields; k++) {
      o = strlen(out);
      assert_int_equal(strlen(c.field[k]), c.len[k]);
      snprintf(out + o, cap - o, "%s%s", k ? "|" : "", c.field[k]);
    }
    o = strlen(out);
    snprintf(out + o, cap - o, ";");
  }
  hp_csv_free(&c);
}

#define CHECK(text, want)                          \
  do {                                             \
    char got_[2048];                               \
    render((text), sizeof(text) - 1, got_, sizeof got_); \
    assert_string_equal(got_, (want));             \
  } while (0)

static void test_basic(void **st) {
  (void)st;
  CHECK("a,b,c\n1,2,3\n", "1:a|b|c;2:1|2|3;");
  CHECK("a,b\r\n1,2\r\n", "1:a|b;2:1|2;");          /* CRLF */
  CHECK("a,b\n1,2", "1:a|b;2:1|2;");                /* no final line end */
  CHECK("a,b\r\n1,2\r", "1:a|b;2:1|2;");            /* final CR */
  CHECK("a,,b,\n", "1:a||b|;");                      /* empty fields */
  CHECK("\xEF\xBB\xBFid,x\n", "1:id|x;");            /* BOM skipped */
  CHECK("a\n\n\r\nb\n", "1:a;4:b;");                 /* blank lines skipped, counted */
  CHECK("", "");
  CHECK("a\rb,c\n", "1:a\rb|c;");                    /* lone CR is data */
  CHECK(" a , b \n", "1: a | b ;");                  /* spaces are data */
}

static void test_quoted(void **st) {
  (void)st;
  CHECK("\"a,b\",c\n", "1:a,b|c;");
  CHECK("\"say \"\"hi\"\"\",x\n", "1:say \"hi\"|x;");
  CHECK("\"\",x\n", "1:|x;");
  CHECK("\"line1\nline2\",x\ny,z\n", "1:line1\nline2|x;3:y|z;");  /* line numbers go on */
  CHECK("\"crlf\r\ninside\",x\r\n", "1:crlf\r\ninside|x;");
  CHECK("x,\"last\"", "1:x|last;");
  CHECK("x,\"last\"\r\n", "1:x|last;");
}

static void test_bad_records_and_recovery(void **st) {
  (void)st;
  CHECK("a\"b,c\nok,1\n", "BAD(1:quote character inside an unquoted field);2:ok|1;");
  CHECK("\"a\"b,c\nok,1\n", "BAD(1:unexpected character after a closing quote);2:ok|1;");
  CHECK("ok,1\n\"never closed,x\ny,z\n",
        "1:ok|1;BAD(2:unterminated quoted field (opened on line 2));");
  CHECK("a,b\xff,c\nok\n", "BAD(1:field 2: invalid UTF-8 at byte 1);2:ok;");
  {
    const char t[] = "a,b\0c\nok\n";
    char got[256];
    render(t, sizeof t - 1, got, sizeof got);
    assert_string_equal(got, "BAD(1:NUL byte in a field);2:ok;");
  }
}

static void test_utf8_in_fields(void **st) {
  (void)st;
  CHECK("caf\xc3\xa9,\xe2\x82\xac,\xf0\x9f\x98\x80\n", "1:caf\xc3\xa9|\xe2\x82\xac|\xf0\x9f\x98\x80;");
  CHECK("\xc0\x80\n", "BAD(1:field 1: invalid UTF-8 at byte 0);");          /* overlong NUL */
  CHECK("x\xed\xa0\x80\n", "BAD(1:field 1: invalid UTF-8 at byte 1);");      /* surrogate */
  CHECK("\xf4\x90\x80\x80\n", "BAD(1:field 1: invalid UTF-8 at byte 0);");   /* > U+10FFFF */
  CHECK("ab\xe2\x82\n", "BAD(1:field 1: invalid UTF-8 at byte 2);");         /* cut short */
  /* check_utf8 = 0 passes bytes through */
  hp_csv c;
  const char t[] = "\xff\n";
  hp_csv_init(&c, t, sizeof t - 1);
  c.check_utf8 = 0;
  int stt;
  assert_int_equal(hp_csv_next(&c, &stt), 0);
  assert_int_equal(stt, HP_CSV_RECORD);
  assert_int_equal(c.len[0], 1);
  hp_csv_free(&c);
}

static void test_many_fields_and_long_field(void **st) {
  (void)st;
  size_t n = 200000;
  char *t = malloc(n + 2);
  for (size_t i = 0; i < n; i++) t[i] = (i % 2) ? ',' : 'x';
  t[n] = '\n';
  hp_csv c;
  hp_csv_init(&c, t, n + 1);
  int s;
  assert_int_equal(hp_csv_next(&c, &s), 0);
  assert_int_equal(s, HP_CSV_RECORD);
  assert_int_equal(c.nfields, (int64_t)(n / 2 + 1));
  assert_string_equal(c.field[c.nfields - 1], "");
  hp_csv_free(&c);
  for (size_t i = 0; i < n; i++) t[i] = 'y';
  hp_csv_init(&c, t, n + 1);
  assert_int_equal(hp_csv_next(&c, &s), 0);
  assert_int_equal(c.nfields, 1);
  assert_int_equal(c.len[0], n);
  hp_csv_free(&c);
  free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_basic),          cmocka_unit_test(test_quoted),
      cmocka_unit_test(test_bad_records_and_recovery),
      cmocka_unit_test(test_utf8_in_fields), cmocka_unit_test(test_many_fields_and_long_field),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
