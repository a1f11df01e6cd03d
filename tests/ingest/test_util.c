/* test_util.c — path safety, UTF-8, trimming, reading files, and the bad-record report. */
#include "ingest_test.h"

#include "ingest/report.h"
#include "ingest/util.h"

static void test_relpath(void **st) {
  (void)st;
  const char *why;
  assert_true(hp_ingest_relpath_ok("a.jpg", &why));
  assert_true(hp_ingest_relpath_ok("val2017/000000000139.jpg", &why));
  assert_true(hp_ingest_relpath_ok("..a/b..", &why));
  const char *bad[] = {"", "/etc/passwd", "../x.jpg", "a/../../x", "a/..", "..", "./a", "a//b",
                       "a/", "a\\..\\b", "a\nb", "a\x7f"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    if (hp_ingest_relpath_ok(bad[i], &why)) fail_msg("accepted \"%s\"", bad[i]);
    assert_true(why[0] != 0);
  }
  hp_ingest_relpath_ok("../x", &why);
  assert_non_null(strstr(why, "escapes the root"));
  hp_ingest_relpath_ok("/x", &why);
  assert_non_null(strstr(why, "absolute"));
}

static void test_utf8(void **st) {
  (void)st;
  size_t at = 99;
  assert_true(hp_utf8_valid("", 0, &at));
  assert_true(hp_utf8_valid("plain", 5, &at));
  assert_true(hp_utf8_valid("\xc2\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf", 13, &at));
  assert_false(hp_utf8_valid("ab\x80", 3, &at));
  assert_int_equal(at, 2);
  assert_false(hp_utf8_valid("\xc1\xbf", 2, &at));         /* overlong */
  assert_false(hp_utf8_valid("\xe0\x9f\xbf", 3, &at));     /* overlong 3-byte */
  assert_false(hp_utf8_valid("\xf0\x8f\xbf\xbf", 4, &at)); /* overlong 4-byte */
  assert_false(hp_utf8_valid("\xed\xbf\xbf", 3, &at));     /* surrogate */
  assert_false(hp_utf8_valid("\xf8\x88\x80\x80\x80", 5, &at));
  assert_false(hp_utf8_valid("a\0b", 3, &at));
  assert_int_equal(at, 1);
}

static void test_trim_join_read(void **st) {
  (void)st;
  size_t n = 9;
  const char *t = hp_ingest_trim(" \t abc \r\n", &n);
  assert_int_equal(n, 3);
  assert_memory_equal(t, "abc", 3);
  n = 3;
  hp_ingest_trim("   ", &n);
  assert_int_equal(n, 0);
  char *j = NULL;
  assert_int_equal(hp_ingest_join("root/", "a.jpg", &j), 0);
  assert_string_equal(j, "root/a.jpg");
  free(j);
  assert_int_equal(hp_ingest_join("root", "a.jpg", &j), 0);
  assert_string_equal(j, "root/a.jpg");
  free(j);
  char *buf;
  size_t len;
  assert_int_equal(hp_ingest_read_file(fixture("nope.json"), 100, 1, &buf, &len), HP_ERR_INPUT);
  assert_msg_has("nope.json: cannot open");
  assert_int_equal(hp_ingest_read_file(fixture("nope.json"), 100, 0, &buf, &len), HP_ERR_IO);
  assert_int_equal(hp_ingest_read_file(fixture("images"), 100, 1, &buf, &len), HP_ERR_INPUT);
  assert_msg_has("not a regular file");
  assert_int_equal(hp_ingest_read_file(fixture("images/rgb.jpg"), 10, 1, &buf, &len),
                   HP_ERR_INPUT);
  assert_msg_has("exceeds the limit of 10 bytes");
  assert_int_equal(hp_ingest_read_file(fixture("images/empty.jpg"), 10, 1, &buf, &len), 0);
  assert_int_equal(len, 0);
  assert_int_equal(buf[0], 0);
  free(buf);
}

static void test_report(void **st) {
  (void)st;
  hp_ingest_report r, r2;
  hp_report_init(&r);
  hp_report_init(&r2);
  assert_int_equal(hp_report_add(&r, "styles.csv:3", "%d fields, the header has %d", 11, 10), 0);
  assert_int_equal(hp_report_add(&r, "evil\nname.jpg", "bad\tthing"), 0);
  hp_error_set(HP_ERR_INPUT, "f", 1, "fn", "x.jpg: truncated JPEG data");
  assert_int_equal(hp_report_add_error(&r, "x.jpg"), 0);
  assert_string_equal(hp_error_message(), ""); /* cleared */
  assert_int_equal(r.n, 3);
  assert_string_equal(r.items[2].why, "x.jpg: truncated JPEG data");
  /* written: control characters neutralised, one line per entry */
  char *mem = NULL;
  size_t memn = 0;
  FILE *f = open_memstream(&mem, &memn);
  assert_non_null(f);
  assert_int_equal(hp_report_write(&r, f, "report.tsv"), 0);
  fclose(f);
  assert_string_equal(mem, "styles.csv:3\t11 fields, the header has 10\n"
                           "evil?name.jpg\tbad?thing\n"
                           "x.jpg\tx.jpg: truncated JPEG data\n");
  free(mem);
  /* pack / unpack / append */
  char *buf;
  size_t len;
  assert_int_equal(hp_report_pack(&r, &buf, &len), 0);
  assert_int_equal(hp_report_unpack(&r2, buf, len), 0);
  assert_int_equal(r2.n, 3);
  assert_string_equal(r2.items[1].where, "evil\nname.jpg");
  assert_int_equal(hp_report_unpack(&r2, buf, len - 1), HP_ERR_INTERNAL);
  free(buf);
  assert_int_equal(hp_report_append(&r, &r2), 0);
  assert_true(r.n >= 6);
  hp_report_free(&r);
  hp_report_free(&r2);
  /* empty report packs to nothing */
  assert_int_equal(hp_report_pack(&r, &buf, &len), 0);
  assert_int_equal(len, 0);
  free(buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_relpath), cmocka_unit_test(test_utf8),
      cmocka_unit_test(test_trim_join_read), cmocka_unit_test(test_report),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
