/* test_folder.c — the folder walker (ingest.format = "folder") on trees made here: byte order
 * of names, sidecar lines, labels over several sub-folders, splits, bad records, and the
 * whole-walk errors. Decoding is not involved (the parser only lists files). */
#include "ingest_test.h"

#include <unistd.h>

#include "ingest/folder.h"
#include "io/dataset.h"

static char g_root[256];

static void put(const char *rel, const char *text) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", g_root, rel);
  for (char *s = strchr(p + strlen(g_root) + 1, '/'); s; s = strchr(s + 1, '/')) {
    *s = 0;
    mkdir(p, 0755);
    *s = '/';
  }
  FILE *f = fopen(p, "wb");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int setup(void **st) {
  (void)st;
  snprintf(g_root, sizeof g_root, "%s/hpclip-folder-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  assert_non_null(mkdtemp(g_root));
  put("train/dogs/b.jpg", "x");
  put("train/dogs/b.txt", "a dog\n\n  a brown dog \r\n");
  put("train/cats/a.PNG", "x");
  put("train/cats/a.txt", "a cat");
  put("train/Zebra.jpeg", "x"); /* directly in the walked folder: no label */
  put("train/notes.md", "ignored");
  put("train/.hidden.jpg", "x");
  put("test/cats/c.jpg", "x");     /* no sidecar */
  put("test/birds/d.jpg", "x");
  put("test/birds/d.txt", "\xff\xfe bad");
  put("test/birds/e.txt", "no image");
  return 0;
}

static int teardown(void **st) {
  (void)st;
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_root);
  return system(cmd) == 0 ? 0 : -1;
}

static const char *report_where(const hp_ingest_report *r, const char *where) {
  for (int64_t i = 0; i < r->n; i++)
    if (strcmp(r->items[i].where, where) == 0) return r->items[i].why;
  return NULL;
}

static void test_splits_and_labels(void **st) {
  (void)st;
  hp_ingest_list l;
  hp_ingest_report rep;
  hp_ingest_list_init(&l);
  hp_report_init(&rep);
  const char *sub[2] = {"train", "test"};
  const uint8_t sp[2] = {HP_SPLIT_TRAIN, HP_SPLIT_TEST};
  hp_folder_opts fo = {.labels = 1};
  hp_ingest_opts o = {0, HP_INGEST_DEFAULT_MAX_ANNOTATION_BYTES, 1};
  assert_int_equal(hp_folder_parse(g_root, 2, sub, sp, &fo, &o, &l, &rep), 0);
  /* byte order: upper case before lower case, whatever the locale */
  static const char *const want[] = {"train/Zebra.jpeg", "train/cats/a.PNG", "train/dogs/b.jpg", "test/birds/d.jpg",
                                     "test/cats/c.jpg"};
  assert_int_equal(l.n, 5);
  for (int i = 0; i < 5; i++) assert_string_equal(l.items[i].path, want[i]);
  assert_int_equal(l.n_labels, 3); /* one set over both sub-folders, sorted */
  assert_string_equal(l.label_names[0], "birds");
  assert_string_equal(l.label_names[1], "cats");
  assert_string_equal(l.label_names[2], "dogs");
  static const int lab[5] = {-1, 1, 2, 0, 1};
  for (int i = 0; i < 5; i++)
    for (int k = 0; k < 3; k++) assert_int_equal(l.items[i].labels[k], lab[i] == k);
  static const int split[5] = {0, 0, 0, 2, 2};
  for (int i = 0; i < 5; i++) assert_int_equal(l.items[i].split, split[i]);
  assert_int_equal(l.items[0].n_captions, 0);
  assert_int_equal(l.items[1].n_captions, 1);
  assert_int_equal(l.items[2].n_captions, 2);
  assert_string_equal(l.items[2].captions[0], "a dog");
  assert_string_equal(l.items[2].captions[1], "a brown dog");
  assert_int_equal(l.items[3].n_captions, 0); /* not UTF-8: kept, without captions, reported */
  assert_int_equal(l.n_captions, 3);
  assert_string_equal(l.items[1].source_id, "folder:train/cats/a.PNG");
  assert_int_equal(rep.n, 2);
  assert_non_null(strstr(report_where(&rep, "test/birds/d.txt"), "not valid UTF-8"));
  assert_non_null(strstr(report_where(&rep, "test/birds/e.txt"), "without an image"));
  hp_ingest_list_free(&l);
  hp_report_free(&rep);
}

static void test_whole_root_no_labels(void **st) {
  (void)st;
  hp_ingest_list l;
  hp_ingest_report rep;
  hp_ingest_list_init(&l);
  hp_report_init(&rep);
  assert_int_equal(hp_folder_parse(g_root, 0, NULL, NULL, NULL, NULL, &l, &rep), 0);
  assert_int_equal(l.n, 5);
  assert_int_equal(l.n_labels, 0);
  assert_string_equal(l.items[0].path, "test/birds/d.jpg"); /* "test" < "train" */
  for (int i = 0; i < 5; i++) assert_int_equal(l.items[i].split, HP_INGEST_SPLIT_NONE);
  hp_ingest_list_free(&l);
  hp_report_free(&rep);
}

static void expect_error(const char *root, const char *sub, int code, const char *what) {
  hp_ingest_list l;
  hp_ingest_report rep;
  hp_ingest_list_init(&l);
  hp_report_init(&rep);
  hp_error_clear();
  int e = hp_folder_parse(root, sub ? 1 : 0, &sub, NULL, NULL, NULL, &l, &rep);
  print_message("%s\n", hp_error_message());
  assert_int_equal(e, code);
  assert_non_null(strstr(hp_error_message(), what));
  hp_error_clear();
  hp_ingest_list_free(&l);
  hp_report_free(&rep);
}

static void test_errors(void **st) {
  (void)st;
  char p[512];
  snprintf(p, sizeof p, "%s/nosuch", g_root);
  expect_error(p, NULL, HP_ERR_INPUT, "nosuch: No such file or directory");
  expect_error(g_root, "train/notes.md", HP_ERR_INPUT, "train/notes.md: not a folder");
  expect_error(g_root, "../etc", HP_ERR_CONFIG, "folder \"../etc\"");
  expect_error(g_root, "/etc", HP_ERR_CONFIG, "folder \"/etc\"");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_splits_and_labels),
      cmocka_unit_test(test_whole_root_no_labels),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
