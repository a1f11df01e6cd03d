/* test_util.c — path safety, UTF-8, trimming, reading files, and the bad-record report. */
#include "ingest_test.h"

#include <unistd.h>

#include "ingest/fashion.h"
#include "ingest/records.h"
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

static void touch(const char *dir, const char *rel) {
  char p[2048];
  snprintf(p, sizeof p, "%s/%s", dir, rel);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs("x", f);
  fclose(f);
}

static void link_to(const char *target, const char *dir, const char *rel) {
  char p[2048];
  snprintf(p, sizeof p, "%s/%s", dir, rel);
  unlink(p);
  assert_int_equal(symlink(target, p), 0);
}

/* Symbolic links out of the dataset root are refused; links inside it, and a root that is a
 * link itself, are fine; "root2" is not inside "root" (prefix on a path boundary). */
static void test_path_inside(void **st) {
  (void)st;
  char t[] = "/tmp/hpclip-inside.XXXXXX", root[256], p[1024], q[512];
  assert_non_null(mkdtemp(t));
  snprintf(root, sizeof root, "%s/root", t);
  mkdir(root, 0700);
  snprintf(p, sizeof p, "%s/root2", t);
  mkdir(p, 0700);
  snprintf(p, sizeof p, "%s/root/sub", t);
  mkdir(p, 0700);
  touch(root, "a.jpg");
  touch(t, "root2/x.jpg");
  touch(t, "secret.jpg");
  link_to("a.jpg", root, "in.jpg");                /* relative link inside */
  link_to("../a.jpg", root, "sub/up.jpg");         /* up, but still inside */
  snprintf(q, sizeof q, "%s/secret.jpg", t);
  link_to(q, root, "out.jpg");                     /* absolute link out */
  link_to("../root2/x.jpg", root, "pre.jpg");      /* sibling sharing the prefix */
  link_to("..", root, "sub/parent");               /* directory link to the root itself */
  link_to("../..", root, "sub/grand");             /* directory link out */
  snprintf(q, sizeof q, "%s/rootlink", t);
  assert_int_equal(symlink(root, q), 0);
  const char *why;
  struct { const char *rel; int ok; } cases[] = {
      {"a.jpg", 1}, {"in.jpg", 1}, {"sub/up.jpg", 1}, {"sub/parent/a.jpg", 1}, {"missing.jpg", 1},
      {"out.jpg", 0}, {"pre.jpg", 0}, {"sub/grand/secret.jpg", 0}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    snprintf(p, sizeof p, "%s/%s", root, cases[i].rel);
    int r = hp_ingest_path_inside(root, p, &why);
    if (r != cases[i].ok) fail_msg("%s: got %d, expected %d", cases[i].rel, r, cases[i].ok);
    if (!r) assert_non_null(strstr(why, "outside the dataset root"));
  }
  snprintf(p, sizeof p, "%s/a.jpg", q);
  assert_int_equal(hp_ingest_path_inside(q, p, &why), 1); /* the root is a link: resolved too */
  snprintf(p, sizeof p, "%s/out.jpg", q);
  assert_int_equal(hp_ingest_path_inside(q, p, &why), 0);

  /* a Fashion dataset whose image 1526 links out: that row is reported, the others are kept */
  char cmd[16384];
  snprintf(cmd, sizeof cmd, "cp -r '%s' '%s/fashion'", fixture("fashion"), t);
  assert_int_equal(system(cmd), 0);
  snprintf(p, sizeof p, "%s/fashion", t);
  snprintf(q, sizeof q, "%s/secret.jpg", t);
  link_to(q, p, "images/1526.jpg");
  hp_ingest_opts o = {1, (size_t)1 << 24, 0};
  hp_ingest_list l;
  hp_ingest_report rep;
  hp_ingest_list_init(&l);
  hp_report_init(&rep);
  assert_int_equal(hp_fashion_parse(p, &o, &l, &rep), 0);
  int found = 0;
  for (int64_t i = 0; i < rep.n; i++)
    found |= strstr(rep.items[i].why, "images/1526.jpg resolves outside the dataset root") != NULL;
  if (!found) {
    print_report(&rep);
    fail_msg("the link out of the root was not reported");
  }
  for (int64_t i = 0; i < l.n; i++) assert_null(strstr(l.items[i].path, "1526"));
  assert_true(l.n > 0);
  hp_ingest_list_free(&l);
  hp_report_free(&rep);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", t);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_relpath), cmocka_unit_test(test_utf8),
      cmocka_unit_test(test_trim_join_read), cmocka_unit_test(test_report),
      cmocka_unit_test(test_path_inside),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
