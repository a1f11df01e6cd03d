/* test_roco.c — ROCO captions.txt parsing and caption-derived labels: committed fixture and
 * (when present) the real roco-mini sample, whose counts are checked against captions.txt. */
#include "ingest_test.h"

#include "ingest/image_decode.h"
#include "ingest/image_resize.h"
#include "ingest/roco.h"
#include "ingest/util.h"

static int m(const char *text, const char *term) {
  return hp_roco_term_match(text, strlen(text), term);
}

static void test_term_match(void **st) {
  (void)st;
  assert_true(m("Chest radiograph", "chest"));
  assert_true(m("CT of the CHEST.", "chest"));
  assert_true(m("both lungs clear", "lung"));
  assert_true(m("multiple fractures", "fracture"));
  assert_true(m("lung-tumor boundary", "tumor"));
  assert_true(m("lung-tumor boundary", "lung"));
  assert_true(m("(brain)", "brain"));
  assert_true(m("tumor", "tumor"));
  assert_true(m("x tumores", "tumor"));
  assert_false(m("tumoral mass", "tumor"));
  assert_false(m("brainstem", "brain"));
  assert_false(m("pulmonary", "lung"));
  assert_false(m("antitumor", "tumor"));
  assert_false(m("thromboses", "thrombosis"));
  assert_false(m("", "lung"));
  assert_false(m("lung\xc3\xa9", "lung")); /* non-ASCII bytes are word characters */
  assert_true(m("mandibular fracture", "mandibular"));
  assert_true(m("aorta2 aorta", "aorta"));
}

static void test_terms_check(void **st) {
  (void)st;
  const char *ok[] = {"lung", "Brain2"};
  assert_int_equal(hp_roco_check_terms(2, ok), 0);
  const char *sp[] = {"lung cancer"};
  assert_int_equal(hp_roco_check_terms(1, sp), HP_ERR_CONFIG);
  assert_msg_has("\"lung cancer\"");
  const char *dup[] = {"lung", "LUNG"};
  assert_int_equal(hp_roco_check_terms(2, dup), HP_ERR_CONFIG);
  assert_msg_has("twice");
  const char *empty[] = {""};
  assert_int_equal(hp_roco_check_terms(1, empty), HP_ERR_CONFIG);
  assert_int_equal(hp_roco_check_terms(0, NULL), HP_ERR_CONFIG);
}

static void test_fixture(void **st) {
  (void)st;
  char root[8400];
  snprintf(root, sizeof root, "%s", fixture("roco"));
  hp_ingest_list l;
  hp_ingest_report r;
  hp_ingest_list_init(&l);
  hp_report_init(&r);
  if (hp_roco_parse(root, "test/radiology", 0, NULL, NULL, &l, &r))
    fail_msg("%s", hp_error_message());
  print_report(&r);
  assert_int_equal(l.n, 3);
  assert_int_equal(l.n_captions, 3);
  assert_string_equal(l.items[0].path, "data/test/radiology/images/ROCO_00300.jpg");
  assert_string_equal(l.items[0].source_id, "roco:ROCO_00300");
  assert_string_equal(l.items[1].source_id, "roco:ROCO_00535");
  assert_string_equal(l.items[2].source_id, "roco:ROCO_00773");
  /* trimmed (leading space and CR gone) */
  assert_string_equal(l.items[2].captions[0],
                      "Chest radiograph showing left-sided pleural effusion shortly after "
                      "admission.");
  assert_null(strchr(l.items[1].captions[0], '\r')); /* the CRLF line */
  assert_true(strncmp(l.items[1].captions[0], "Renal manifestations", 20) == 0);
  assert_int_equal(l.n_labels, 8);
  const char *names[8] = {"tumor", "thrombosis", "aorta", "lung", "brain", "fracture", "chest",
                          "mandibular"};
  for (int k = 0; k < 8; k++) assert_string_equal(l.label_names[k], names[k]);
  const uint8_t want[3][8] = {{0, 0, 0, 0, 1, 0, 0, 0},  /* "Brain magnetic resonance ..." */
                              {0, 0, 0, 0, 0, 0, 0, 0},  /* "Renal manifestations ..." */
                              {0, 0, 0, 0, 0, 0, 1, 0}}; /* "Chest radiograph ..." */
  for (int i = 0; i < 3; i++) assert_memory_equal(l.items[i].labels, want[i], 8);
  const char *F = "data/test/radiology/captions.txt";
  char w[128];
#define HAS(line, why)                               \
  snprintf(w, sizeof w, "%s:%d", F, line);           \
  assert_report_has(&r, w, why)
  HAS(3, "image file data/test/radiology/images/ROCO_99999.jpg is missing");
  HAS(4, "no TAB");
  HAS(6, "duplicate image id");
  HAS(7, "not ROCO_<digits>");
  HAS(8, "empty caption");
  HAS(9, "not valid UTF-8");
  HAS(10, "NUL byte");
  assert_int_equal(r.n, 7);
  hp_ingest_list_free(&l);
  hp_report_free(&r);

  /* custom terms */
  const char *terms[2] = {"effusion", "MRI"};
  hp_ingest_list_init(&l);
  hp_report_init(&r);
  assert_int_equal(hp_roco_parse(root, "test/radiology", 2, terms, NULL, &l, &r), 0);
  assert_int_equal(l.n_labels, 2);
  assert_int_equal(l.items[0].labels[1], 1); /* "(MRI)" */
  assert_int_equal(l.items[2].labels[0], 1); /* "effusion" */
  hp_ingest_list_free(&l);
  hp_report_free(&r);

  /* errors */
  hp_ingest_list_init(&l);
  hp_report_init(&r);
  assert_int_equal(hp_roco_parse(root, "train/radiology", 0, NULL, NULL, &l, &r), HP_ERR_INPUT);
  assert_msg_has("data/train/radiology/captions.txt: cannot open");
  assert_int_equal(hp_roco_parse(root, "../test/radiology", 0, NULL, NULL, &l, &r),
                   HP_ERR_CONFIG);
  assert_msg_has("ROCO split \"../test/radiology\"");
  hp_ingest_list_free(&l);
  hp_report_free(&r);
}

static void test_shared_roco_mini(void **st) {
  (void)st;
  const char *d = shared_data("roco-mini");
  if (!d) {
    print_message("shared/data/roco-mini not found: skipped\n");
    skip();
  }
  char root[8400];
  snprintf(root, sizeof root, "%s", d);
  /* count the lines of captions.txt independently */
  char path[8500];
  snprintf(path, sizeof path, "%s/data/test/radiology/captions.txt", root);
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
  if (hp_roco_parse(root, "test/radiology", 0, NULL, NULL, &l, &r))
    fail_msg("%s", hp_error_message());
  print_report(&r);
  assert_int_equal(r.n, 0);
  assert_int_equal(l.n, lines);
  assert_int_equal(l.n, 900);
  assert_int_equal(l.n_captions, 900);
  int64_t per[8] = {0};
  for (int64_t i = 0; i < l.n; i++)
    for (int k = 0; k < 8; k++) per[k] += l.items[i].labels[k];
  print_message("roco-mini label counts:");
  for (int k = 0; k < 8; k++) print_message(" %s=%lld", l.label_names[k], (long long)per[k]);
  print_message("\n");
  for (int k = 0; k < 8; k++) assert_true(per[k] > 0); /* every study term occurs */
  /* every image decodes (greyscale and RGB) and resizes */
  uint8_t *out = malloc(128 * 128 * 3);
  for (int64_t i = 0; i < l.n; i++) {
    char *p = NULL;
    assert_int_equal(hp_ingest_join(root, l.items[i].path, &p), 0);
    hp_image im;
    if (hp_image_decode_file(p, NULL, &im)) fail_msg("%s", hp_error_message());
    assert_int_equal(hp_image_resize(&im, HP_RESIZE_CENTER_CROP, 128, out), 0);
    hp_image_free(&im);
    free(p);
  }
  free(out);
  hp_ingest_list_free(&l);
  hp_report_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_term_match),
      cmocka_unit_test(test_terms_check),
      cmocka_unit_test(test_fixture),
      cmocka_unit_test(test_shared_roco_mini),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
