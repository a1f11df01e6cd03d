/* test_fashion.c — styles.csv parsing, the caption recipe and labels: committed fixture and
 * (when present) the real fashion-mini sample, whose row count is checked against the CSV. */
#include "ingest_test.h"

#include <unistd.h>

#include "ingest/fashion.h"
#include "ingest/image_decode.h"
#include "ingest/image_resize.h"
#include "ingest/util.h"

static void test_fixture(void **st) {
  (void)st;
  char root[8400];
  snprintf(root, sizeof root, "%s", fixture("fashion"));
  hp_ingest_list l;
  hp_ingest_report r;
  hp_ingest_list_init(&l);
  hp_report_init(&r);
  if (hp_fashion_parse(root, NULL, &l, &r)) fail_msg("%s", hp_error_message());
  print_report(&r);
  assert_int_equal(l.n, 4);
  assert_int_equal(l.n_captions, 4);
  const char *ids[4] = {"fashion:1163", "fashion:1164", "fashion:1525", "fashion:1526"};
  const char *paths[4] = {"images/1163.jpg", "images/1164.jpg", "images/1525.jpg",
                          "images/1526.jpg"};
  const char *caps[4] = {
      "Nike Sahara Team India Fanwear Round Neck Jersey, Men, Blue, Summer",
      "Nike Men Blue T20 Indian Cricket Jersey, Men, Blue, Winter",
      "Puma Deck Navy Blue Backpack, 20 \"L\", Unisex, Navy Blue, Fall",
      "Puma Big Cat\nBackpack Black, Unisex, Black, Fall"};
  for (int i = 0; i < 4; i++) {
    assert_string_equal(l.items[i].source_id, ids[i]);
    assert_string_equal(l.items[i].path, paths[i]);
    assert_int_equal(l.items[i].n_captions, 1);
    assert_string_equal(l.items[i].captions[0], caps[i]);
  }
  assert_int_equal(l.n_labels, 7);
  const char *names[7] = {"articleType:Backpacks", "articleType:Tshirts", "baseColour:Black",
                          "baseColour:Blue", "baseColour:Navy Blue", "gender:Men", "gender:Unisex"};
  for (int k = 0; k < 7; k++) assert_string_equal(l.label_names[k], names[k]);
  const uint8_t want[4][7] = {{0, 1, 0, 1, 0, 1, 0}, {0, 1, 0, 1, 0, 1, 0}, {1, 0, 0, 0, 1, 0, 1},
                              {1, 0, 1, 0, 0, 0, 1}};
  for (int i = 0; i < 4; i++) assert_memory_equal(l.items[i].labels, want[i], 7);
  assert_report_has(&r, "styles.csv:7", "11 fields, the header has 10");
  assert_report_has(&r, "styles.csv:8", "invalid UTF-8");
  assert_report_has(&r, "styles.csv:9", "duplicate id");
  assert_report_has(&r, "styles.csv:10", "id is not 1-18 decimal digits");
  assert_report_has(&r, "styles.csv:11", "empty productDisplayName");
  assert_report_has(&r, "styles.csv:12", "image file images/999999.jpg is missing");
  assert_report_has(&r, "styles.csv:13", "quote character inside an unquoted field");
  assert_report_has(&r, "styles.csv:14", "unterminated quoted field");
  assert_int_equal(r.n, 8);
  hp_ingest_list_free(&l);
  hp_report_free(&r);
}

/* write a styles.csv into a temporary root and parse it */
static int parse_text(const char *csv, hp_ingest_list *l, hp_ingest_report *r) {
  char dir[] = "/tmp/hp_fashion_XXXXXX";
  if (!mkdtemp(dir)) fail_msg("mkdtemp failed");
  char p[256];
  snprintf(p, sizeof p, "%s/styles.csv", dir);
  FILE *f = fopen(p, "wb");
  assert_non_null(f);
  fputs(csv, f);
  fclose(f);
  hp_ingest_opts o = {0, 1 << 20, 0};
  hp_ingest_list_init(l);
  hp_report_init(r);
  int e = hp_fashion_parse(dir, &o, l, r);
  remove(p);
  rmdir(dir);
  return e;
}

static void test_header_and_recipe(void **st) {
  (void)st;
  hp_ingest_list l;
  hp_ingest_report r;
  assert_int_equal(parse_text("id,gender,articleType,baseColour,season\n1,Men,Tshirts,Red,Fall\n",
                              &l, &r), HP_ERR_INPUT);
  assert_msg_has("styles.csv: header lacks the column \"productDisplayName\"");
  hp_ingest_list_free(&l);
  hp_report_free(&r);
  assert_int_equal(parse_text("", &l, &r), HP_ERR_INPUT);
  assert_msg_has("empty file");
  hp_ingest_list_free(&l);
  hp_report_free(&r);
  assert_int_equal(parse_text("id,id,gender\n", &l, &r), HP_ERR_INPUT);
  assert_msg_has("twice");
  hp_ingest_list_free(&l);
  hp_report_free(&r);
  /* any column order, extra columns, empty optional fields left out of the caption */
  assert_int_equal(parse_text("productDisplayName,x,season,baseColour,articleType,gender,id\n"
                              "  Ferrari Tee ,q,,,Tshirts,Men,7\n"
                              "Blue Cap,q,Summer,Blue,Caps,,8\n",
                              &l, &r), 0);
  assert_int_equal(l.n, 2);
  assert_string_equal(l.items[0].captions[0], "Ferrari Tee, Men");
  assert_string_equal(l.items[1].captions[0], "Blue Cap, Blue, Summer");
  assert_int_equal(l.n_labels, 4); /* Caps, Tshirts, Blue, Men (empty gender: no label) */
  assert_string_equal(l.label_names[2], "baseColour:Blue");
  assert_string_equal(l.label_names[3], "gender:Men");
  assert_int_equal(l.items[0].labels[2], 0);
  assert_int_equal(l.items[1].labels[2], 1);
  assert_int_equal(l.items[0].labels[3], 1);
  assert_int_equal(l.items[1].labels[3], 0);
  hp_ingest_list_free(&l);
  hp_report_free(&r);
}

static void test_oversized_fields(void **st) {
  (void)st;
  /* a 70 KB product name and a 2 KB colour: bad records, not a failed run */
  size_t big = 70000;
  char *csv = malloc(big + 4096);
  assert_non_null(csv);
  int o = sprintf(csv, "id,gender,articleType,baseColour,season,productDisplayName\n1,Men,Tshirts,Red,Fall,");
  memset(csv + o, 'x', big);
  o += (int)big;
  o += sprintf(csv + o, "\n2,Men,Tshirts,");
  memset(csv + o, 'y', 2000);
  o += 2000;
  sprintf(csv + o, ",Fall,Tee\n3,Men,Tshirts,Red,Fall,Good Tee\n");
  hp_ingest_list l;
  hp_ingest_report r;
  assert_int_equal(parse_text(csv, &l, &r), 0);
  print_report(&r);
  assert_int_equal(l.n, 1);
  assert_report_has(&r, "styles.csv:2", "caption longer than");
  assert_report_has(&r, "styles.csv:3", "baseColour or gender longer than");
  hp_ingest_list_free(&l);
  hp_report_free(&r);
  free(csv);
}

static void test_shared_fashion_mini(void **st) {
  (void)st;
  const char *d = shared_data("fashion-mini");
  if (!d) {
    print_message("shared/data/fashion-mini not found: skipped\n");
    skip();
  }
  char root[8400];
  snprintf(root, sizeof root, "%s", d);
  char path[8500];
  snprintf(path, sizeof path, "%s/styles.csv", root);
  char *buf;
  size_t n;
  assert_int_equal(hp_ingest_read_file(path, (size_t)1 << 30, 1, &buf, &n), 0);
  int64_t lines = 0;
  for (size_t i = 0; i < n; i++) lines += buf[i] == '\n';
  if (n && buf[n - 1] != '\n') lines++;
  free(buf);
  hp_ingest_list l;
  hp_ingest_report r;
  hp_ingest_list_init(&l);
  hp_report_init(&r);
  if (hp_fashion_parse(root, NULL, &l, &r)) fail_msg("%s", hp_error_message());
  print_report(&r);
  print_message("fashion-mini: %lld records, %lld labels\n", (long long)l.n,
                (long long)l.n_labels);
  assert_int_equal(r.n, 0);
  assert_int_equal(l.n, lines - 1); /* rows minus the header */
  assert_int_equal(l.n, 1099);
  for (int64_t i = 0; i < l.n; i++) {
    int s = 0;
    for (int64_t k = 0; k < l.n_labels; k++) s += l.items[i].labels[k];
    assert_true(s >= 1 && s <= 3); /* articleType, baseColour, gender */
  }
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixture),
      cmocka_unit_test(test_header_and_recipe),
      cmocka_unit_test(test_oversized_fields),
      cmocka_unit_test(test_shared_fashion_mini),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
