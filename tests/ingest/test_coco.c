/* test_coco.c — COCO captions/instances parsing: committed fixtures and (when present) the
 * real coco-mini sample, whose counts are checked against the JSON files themselves. */
#include "ingest_test.h"

#include <cJSON.h>

#include <unistd.h>

#include "ingest/coco.h"
#include "ingest/image_decode.h"
#include "ingest/image_resize.h"
#include "ingest/util.h"

static int64_t label_index(const hp_ingest_list *l, const char *name) {
  for (int64_t k = 0; k < l->n_labels; k++)
    if (strcmp(l->label_names[k], name) == 0) return k;
  fail_msg("no label %s", name);
  return -1;
}

static void test_fixture(void **st) {
  (void)st;
  hp_ingest_list l;
  hp_ingest_report r;
  hp_ingest_list_init(&l);
  hp_report_init(&r);
  char root[8400];
  snprintf(root, sizeof root, "%s", fixture("coco"));
  if (hp_coco_parse(root, "val2017", NULL, &l, &r)) fail_msg("%s", hp_error_message());
  print_report(&r);
  assert_int_equal(l.n, 4);
  const char *paths[4] = {"val2017/000000006818.jpg", "val2017/000000058636.jpg",
                          "val2017/000000062554.jpg", "val2017/000000099053.jpg"};
  const char *ids[4] = {"coco:val2017:6818", "coco:val2017:58636", "coco:val2017:62554",
                        "coco:val2017:99053"};
  for (int i = 0; i < 4; i++) {
    assert_string_equal(l.items[i].path, paths[i]);
    assert_string_equal(l.items[i].source_id, ids[i]);
    assert_int_equal(l.items[i].n_captions, 5);
  }
  assert_int_equal(l.n_captions, 20);
  /* file order, trimmed */
  assert_string_equal(l.items[0].captions[0], "a couple of buckets in a white room");
  assert_string_equal(l.items[0].captions[1],
                      "A bathroom with no toilets and a red and green bucket.");
  assert_string_equal(l.items[3].captions[3],
                      "A bowl of food that looks like worms and some greens.");
  /* labels: 80 categories ordered by id */
  assert_int_equal(l.n_labels, 80);
  assert_string_equal(l.label_names[0], "person");
  assert_string_equal(l.label_names[79], "toothbrush");
  int64_t toilet = label_index(&l, "toilet"), bowl = label_index(&l, "bowl"),
          fork = label_index(&l, "fork"), broccoli = label_index(&l, "broccoli"),
          table = label_index(&l, "dining table");
  int sum[4] = {0, 0, 0, 0};
  for (int i = 0; i < 4; i++)
    for (int64_t k = 0; k < 80; k++) sum[i] += l.items[i].labels[k];
  assert_int_equal(sum[0], 1);
  assert_int_equal(l.items[0].labels[toilet], 1);
  assert_int_equal(sum[1], 0); /* 58636 has no instance annotation */
  assert_int_equal(sum[2], 4);
  assert_int_equal(l.items[2].labels[bowl] + l.items[2].labels[fork] +
                       l.items[2].labels[broccoli] + l.items[2].labels[table], 4);
  assert_int_equal(sum[3], 4);

  /* every bad record, where and why */
  const char *C = "annotations/captions_val2017.json", *I = "annotations/instances_val2017.json";
  char w[256];
#define HAS(file, arr, k, why)                                   \
  snprintf(w, sizeof w, "%s: %s[%d]", file, arr, k);             \
  assert_report_has(&r, w, why)
  HAS(C, "images", 4, "'..' escapes the root");
  HAS(C, "images", 5, "absolute path");
  HAS(C, "images", 6, "duplicate image id");
  HAS(C, "images", 7, "id is missing or not a non-negative integer");
  HAS(C, "images", 9, "has no good caption");
  HAS(C, "images", 10, "file_name is missing");
  HAS(C, "images", 11, "not an object");
  HAS(C, "annotations", 20, "image_id 424242 is not a (good) entry");
  HAS(C, "annotations", 21, "empty caption");
  HAS(C, "annotations", 22, "caption is missing");
  HAS(C, "annotations", 23, "image_id 900001 is not a (good) entry");
  HAS(C, "annotations", 25, "image_id is missing or not a non-negative integer");
  HAS(I, "annotations", 15, "category_id 999 is not in \"categories\"");
  HAS(I, "annotations", 16, "image_id 777");
  assert_report_has(&r, "val2017/000000900003.jpg", "image file is missing");
  assert_int_equal(r.n, 15);
  hp_ingest_list_free(&l);
  hp_report_free(&r);

  /* without the file check the missing image is a record */
  hp_ingest_list_init(&l);
  hp_report_init(&r);
  hp_ingest_opts o = {0, 1 << 20, 0};
  assert_int_equal(hp_coco_parse(root, "val2017", &o, &l, &r), 0);
  assert_int_equal(l.n, 5);
  assert_string_equal(l.items[4].path, "val2017/000000900003.jpg");
  assert_int_equal(r.n, 14);
  hp_ingest_list_free(&l);
  hp_report_free(&r);
}

static void expect_fail(const char *dir, const char *split, int code, const char *a,
                        const char *b) {
  hp_ingest_list l;
  hp_ingest_report r;
  hp_ingest_list_init(&l);
  hp_report_init(&r);
  char root[8400];
  snprintf(root, sizeof root, "%s", fixture(dir));
  int e = hp_coco_parse(root, split, NULL, &l, &r);
  if (e != code) fail_msg("%s: expected error %d, got %d (%s)", dir, code, e, hp_error_message());
  assert_msg_has(a);
  assert_msg_has(b);
  hp_ingest_list_free(&l);
  hp_report_free(&r);
}

static void test_whole_file_errors(void **st) {
  (void)st;
  expect_fail("coco_badjson", "val2017", HP_ERR_INPUT, "coco_badjson/annotations/captions_val2017.json",
              "malformed JSON");
  expect_fail("coco_badjson2", "val2017", HP_ERR_INPUT, "captions_val2017.json",
              "malformed JSON at line 4, column");
  expect_fail("coco_badinst", "val2017", HP_ERR_INPUT, "instances_val2017.json",
              "malformed JSON at line 1");
  expect_fail("coco", "train2017", HP_ERR_INPUT, "captions_train2017.json", "cannot open");
  expect_fail("coco", "test2017", HP_ERR_CONFIG, "\"test2017\"", "val2017");
  expect_fail("coco", "../val2017", HP_ERR_CONFIG, "../val2017", "expected");
}

static void test_json_parse_helper(void **st) {
  (void)st;
  cJSON *j = NULL;
  const char ok[] = " {\"a\": [1, 2]} \n";
  assert_int_equal(hp_json_parse(ok, sizeof ok - 1, "ok.json", &j), 0);
  cJSON_Delete(j);
  const char trailing[] = "{} {}";
  assert_int_equal(hp_json_parse(trailing, sizeof trailing - 1, "t.json", &j), HP_ERR_INPUT);
  assert_msg_has("t.json: malformed JSON: unexpected data after");
  const char cut[] = "{\"a\": [1, 2";
  assert_int_equal(hp_json_parse(cut, sizeof cut - 1, "c.json", &j), HP_ERR_INPUT);
  assert_msg_has("c.json: malformed JSON");
  /* deep nesting is refused by cJSON's nesting limit, not a stack overflow */
  size_t n = 100000;
  char *deep = malloc(n + 1);
  memset(deep, '[', n);
  deep[n] = 0;
  assert_int_equal(hp_json_parse(deep, n, "deep.json", &j), HP_ERR_INPUT);
  free(deep);
}

/* count the array `key` of a JSON file */
static int64_t json_count(const char *path, const char *key) {
  char *buf;
  size_t n;
  assert_int_equal(hp_ingest_read_file(path, (size_t)1 << 30, 1, &buf, &n), 0);
  cJSON *j = cJSON_ParseWithLength(buf, n);
  assert_non_null(j);
  int64_t c = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, key));
  cJSON_Delete(j);
  free(buf);
  return c;
}

static void test_shared_coco_mini(void **st) {
  (void)st;
  const char *d = shared_data("coco-mini");
  if (!d) {
    print_message("shared/data/coco-mini not found: skipped\n");
    skip();
  }
  char root[8400];
  snprintf(root, sizeof root, "%s", d);
  const char *splits[2] = {"train2017", "val2017"};
  for (int s = 0; s < 2; s++) {
    char cp[8500];
    snprintf(cp, sizeof cp, "%s/annotations/captions_%s.json", root, splits[s]);
    int64_t n_img = json_count(cp, "images"), n_cap = json_count(cp, "annotations");
    hp_ingest_list l;
    hp_ingest_report r;
    hp_ingest_list_init(&l);
    hp_report_init(&r);
    if (hp_coco_parse(root, splits[s], NULL, &l, &r)) fail_msg("%s", hp_error_message());
    print_report(&r);
    print_message("coco-mini %s: %lld images, %lld captions, %lld labels\n", splits[s],
                  (long long)l.n, (long long)l.n_captions, (long long)l.n_labels);
    assert_int_equal(r.n, 0);
    assert_int_equal(l.n, n_img);
    assert_int_equal(l.n_captions, n_cap);
    assert_int_equal(l.n_labels, 80);
    /* PROVENANCE.md: exactly one image per split has no instance annotation */
    int64_t unlabeled = 0;
    for (int64_t i = 0; i < l.n; i++) {
      int any = 0;
      for (int64_t k = 0; k < 80; k++) any |= l.items[i].labels[k];
      unlabeled += !any;
      assert_true(l.items[i].n_captions >= 5);
    }
    assert_int_equal(unlabeled, 1);
    /* every image decodes and resizes */
    uint8_t *out = malloc(128 * 128 * 3);
    for (int64_t i = 0; i < l.n; i++) {
      char *p = NULL;
      assert_int_equal(hp_ingest_join(root, l.items[i].path, &p), 0);
      hp_image im;
      if (hp_image_decode_file(p, NULL, &im)) fail_msg("%s", hp_error_message());
      assert_int_equal(hp_image_resize(&im, HP_RESIZE_STRETCH, 128, out), 0);
      hp_image_free(&im);
      free(p);
    }
    free(out);
    hp_ingest_list_free(&l);
    hp_report_free(&r);
  }
}

static void put(const char *path, const char *text, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, n, f), n);
  fclose(f);
}

static int why_count(const hp_ingest_report *r, const char *where, const char *why) {
  int c = 0;
  for (int64_t i = 0; i < r->n; i++)
    c += strstr(r->items[i].where, where) && strstr(r->items[i].why, why);
  return c;
}

/* Hostile annotations (issue 11): file names escaping the root textually ("../", absolute,
 * "a/../../"), an image that is a symbolic link out of the root, captions with invalid UTF-8
 * and over 64 KiB. Each is a counted bad record; the one good image is kept. */
static void test_hostile(void **st) {
  (void)st;
  char t[] = "/tmp/hpclip-coco-hostile.XXXXXX", p[512], q[512];
  assert_non_null(mkdtemp(t));
  snprintf(p, sizeof p, "%s/root", t);
  mkdir(p, 0700);
  snprintf(p, sizeof p, "%s/root/annotations", t);
  mkdir(p, 0700);
  snprintf(p, sizeof p, "%s/root/val2017", t);
  mkdir(p, 0700);
  snprintf(p, sizeof p, "%s/root/val2017/ok.jpg", t);
  put(p, "x", 1);
  snprintf(p, sizeof p, "%s/secret.jpg", t);
  put(p, "x", 1);
  snprintf(q, sizeof q, "%s/root/val2017/link.jpg", t);
  assert_int_equal(symlink(p, q), 0);
  size_t big = 70000;
  char *json = malloc(big + 4096);
  assert_non_null(json);
  int n = sprintf(json,
                  "{\"images\": [{\"id\": 1, \"file_name\": \"ok.jpg\"},"
                  " {\"id\": 2, \"file_name\": \"../../secret.jpg\"},"
                  " {\"id\": 3, \"file_name\": \"/etc/passwd\"},"
                  " {\"id\": 4, \"file_name\": \"a/../../secret.jpg\"},"
                  " {\"id\": 5, \"file_name\": \"link.jpg\"}],"
                  " \"annotations\": [{\"image_id\": 1, \"caption\": \"a good caption\"},"
                  " {\"image_id\": 1, \"caption\": \"bad \xff\xfe utf8\"},"
                  " {\"image_id\": 2, \"caption\": \"x\"}, {\"image_id\": 3, \"caption\": \"x\"},"
                  " {\"image_id\": 4, \"caption\": \"x\"}, {\"image_id\": 5, \"caption\": \"x\"},"
                  " {\"image_id\": 1, \"caption\": \"");
  memset(json + n, 'a', big);
  n += (int)big;
  n += sprintf(json + n, "\"}]}");
  snprintf(p, sizeof p, "%s/root/annotations/captions_val2017.json", t);
  put(p, json, (size_t)n);
  free(json);
  hp_ingest_list l;
  hp_ingest_report r;
  hp_ingest_list_init(&l);
  hp_report_init(&r);
  snprintf(p, sizeof p, "%s/root", t);
  hp_ingest_opts refuse = {1, HP_INGEST_DEFAULT_MAX_ANNOTATION_BYTES, 0}; /* ingest.follow_symlinks = false */
  if (hp_coco_parse(p, "val2017", &refuse, &l, &r)) fail_msg("%s", hp_error_message());
  print_report(&r);
  assert_int_equal(l.n, 1);
  assert_string_equal(l.items[0].path, "val2017/ok.jpg");
  assert_int_equal(l.items[0].n_captions, 1);
  assert_int_equal(why_count(&r, "images[1]", "escapes the root"), 1);
  assert_int_equal(why_count(&r, "images[2]", "absolute path"), 1);
  assert_int_equal(why_count(&r, "images[3]", "escapes the root"), 1);
  assert_int_equal(why_count(&r, "val2017/link.jpg", "outside the dataset root"), 1);
  assert_int_equal(why_count(&r, "annotations[1]", "not valid UTF-8"), 1);
  assert_int_equal(why_count(&r, "annotations[6]", "longer than 64 KiB"), 1);
  hp_ingest_list_free(&l);
  hp_report_free(&r);
  /* the default follows the link; the textual escapes stay refused */
  hp_ingest_list_init(&l);
  hp_report_init(&r);
  if (hp_coco_parse(p, "val2017", NULL, &l, &r)) fail_msg("%s", hp_error_message());
  assert_int_equal(l.n, 2);
  assert_string_equal(l.items[1].path, "val2017/link.jpg");
  assert_int_equal(why_count(&r, "val2017/link.jpg", "outside"), 0);
  assert_int_equal(why_count(&r, "images[1]", "escapes the root"), 1);
  assert_int_equal(why_count(&r, "images[2]", "absolute path"), 1);
  hp_ingest_list_free(&l);
  hp_report_free(&r);
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", t);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixture),
      cmocka_unit_test(test_whole_file_errors),
      cmocka_unit_test(test_json_parse_helper),
      cmocka_unit_test(test_shared_coco_mini),
      cmocka_unit_test(test_hostile),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
