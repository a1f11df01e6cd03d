/* test_synth_coco.c — the pure parts of the COCO-layout generator (data/synth_coco.h): the
 * non-square renderer agrees with the square one, canvases follow COCO's mix, boxes and areas
 * match the rendered shapes, JPEG files decode back, and the JSON files are what the real COCO
 * parser (ingest/coco.h) reads: images, captions, the 35 category labels of every scene. */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "data/synth_coco.h"
#include "data/synth_scene.h"
#include "ingest/coco.h"
#include "ingest/image_decode.h"

#define SEED 77

static hp_coco_gen gen(int64_t n_train, int64_t n_val, int64_t long_side) {
  hp_coco_gen g = {.seed = SEED, .n_train = n_train, .n_val = n_val, .long_side = long_side, .quality = 90,
                   .captions_per_image = 5, .max_shapes = 3, .noise = 0.05};
  return g;
}

/* w = h: exactly the square renderer's bytes (dataset.h5 unchanged). */
static void test_render_wh_square(void **state) {
  (void)state;
  for (int64_t i = 0; i < 10; i++) {
    hp_synth_scene sc;
    hp_synth_scene_make(SEED, i, 3, &sc);
    int S = 48 + (int)i;
    uint8_t *a = calloc((size_t)S * S * 3, 1), *b = calloc((size_t)S * S * 3, 1);
    hp_synth_render(SEED, i, &sc, S, 0.05, a);
    hp_synth_render_wh(SEED, i, &sc, S, S, 0.05, b);
    assert_memory_equal(a, b, (size_t)S * S * 3);
    free(a);
    free(b);
  }
}

static void test_canvases(void **state) {
  (void)state;
  hp_coco_gen g = gen(4000, 10, 640);
  int land = 0, port = 0, sq = 0, other = 0;
  for (int64_t k = 0; k < 4000; k++) {
    hp_coco_image a, b;
    hp_coco_image_of(&g, HP_COCO_TRAIN, k, &a);
    hp_coco_image_of(&g, HP_COCO_TRAIN, k, &b);
    assert_memory_equal(&a, &b, sizeof a);
    assert_int_equal(a.id, k + 1);
    assert_int_equal(a.scene, k);
    if (a.width == 640 && (a.height == 480 || a.height == 427 || a.height == 360)) land++;
    else if (a.height == 640 && (a.width == 480 || a.width == 427)) port++;
    else if (a.width == 640 && a.height == 640) sq++;
    else if (a.width == 500 && a.height == 375) other++;
    else fail_msg("image %lld: unexpected canvas %dx%d", (long long)k, a.width, a.height);
  }
  /* 68 % landscape at 640, 24 % portrait, 4 % square, 4 % 500x375 */
  assert_true(land > 2600 && land < 2840);
  assert_true(port > 850 && port < 1070);
  assert_true(sq > 100 && other > 100);
  hp_coco_image v;
  hp_coco_image_of(&g, HP_COCO_VAL, 3, &v);
  assert_int_equal(v.id, HP_COCO_VAL_ID0 + 3);
  assert_int_equal(v.scene, HP_COCO_VAL_SCENE0 + 3);
  assert_string_equal(v.file, "001000000004.jpg");
  hp_coco_image_of(&g, HP_COCO_TRAIN, 41, &v);
  assert_string_equal(v.file, "000000000042.jpg");
  /* scaled long side */
  g.long_side = 320;
  for (int64_t k = 0; k < 200; k++) {
    hp_coco_image_of(&g, HP_COCO_TRAIN, k, &v);
    int L = v.width > v.height ? v.width : v.height;
    assert_true(L == 320 || L == 250);
  }
}

/* Inside pixels (sdf < 0 at the pixel centre) lie in the box; the area is their count. */
static void test_boxes(void **state) {
  (void)state;
  hp_coco_gen g = gen(300, 0, 640);
  for (int64_t k = 0; k < 300; k += 7) {
    hp_coco_image im;
    hp_synth_scene sc;
    hp_coco_image_of(&g, HP_COCO_TRAIN, k, &im);
    hp_synth_scene_make(SEED, im.scene, 3, &sc);
    int m = im.width < im.height ? im.width : im.height;
    for (int s = 0; s < sc.n; s++) {
      double b[4], area;
      hp_coco_shape_box(&sc.s[s], im.width, im.height, b, &area);
      assert_true(b[0] >= 0 && b[1] >= 0 && b[0] + b[2] <= im.width && b[1] + b[3] <= im.height);
      hp_synth_shape sh = sc.s[s];
      sh.cx = sh.cx * im.width / m;
      sh.cy = sh.cy * im.height / m;
      int64_t inside = 0;
      for (int y = 0; y < im.height; y++)
        for (int x = 0; x < im.width; x++) {
          if (hp_synth_shape_sdf(&sh, (x + 0.5) / m, (y + 0.5) / m) >= 0) continue;
          inside++;
          if (x + 0.5 < b[0] - 0.02 || x + 0.5 > b[0] + b[2] + 0.02 || y + 0.5 < b[1] - 0.02 ||
              y + 0.5 > b[1] + b[3] + 0.02)
            fail_msg("image %lld shape %d: pixel (%d, %d) outside bbox [%g %g %g %g]", (long long)k, s, x, y, b[0],
                     b[1], b[2], b[3]);
        }
      if (!(inside > 0.97 * area && inside < 1.03 * area))
        fail_msg("image %lld shape %d (type %d): %lld pixels inside, area %g", (long long)k, s, sh.type,
                 (long long)inside, area);
    }
    assert_true(hp_coco_category(&sc.s[0]) >= 1 && hp_coco_category(&sc.s[0]) <= HP_COCO_NCATEGORIES);
  }
  assert_string_equal(hp_coco_category_name(1), "red circle");
  assert_string_equal(hp_coco_supercategory(1), "circle");
  assert_string_equal(hp_coco_category_name(HP_COCO_NCATEGORIES), "white diamond");
}

static void test_check(void **state) {
  (void)state;
  hp_coco_gen g = gen(10, 0, 640);
  assert_int_equal(hp_coco_gen_check(&g), 0);
  g.long_side = 32;
  assert_int_equal(hp_coco_gen_check(&g), HP_ERR_CONFIG);
  assert_non_null(strstr(hp_error_message(), "synth.coco_long_side = 32"));
  hp_error_clear();
  g = gen(0, 0, 640);
  assert_int_equal(hp_coco_gen_check(&g), HP_ERR_CONFIG);
  assert_non_null(strstr(hp_error_message(), "synth.coco_train_images"));
  hp_error_clear();
}

/* A small folder written by the pure functions, read back by the real parser and decoder. */
static void test_roundtrip(void **state) {
  (void)state;
  char root[] = "/tmp/hp-synth-coco-XXXXXX";
  assert_non_null(mkdtemp(root));
  char p[512];
  const char *sub[3] = {"train2017", "val2017", "annotations"};
  for (int s = 0; s < 3; s++) {
    snprintf(p, sizeof p, "%s/%s", root, sub[s]);
    assert_int_equal(mkdir(p, 0775), 0);
  }
  hp_coco_gen g = gen(12, 3, 96);
  uint8_t *rgb = calloc((size_t)hp_coco_max_pixels(&g) * 3, 1);
  for (int split = 0; split < 2; split++) {
    snprintf(p, sizeof p, "%s/%s", root, hp_coco_split_dir(split));
    for (int64_t k = 0; k < (split ? g.n_val : g.n_train); k++)
      if (hp_coco_write_image(&g, split, k, p, rgb)) fail_msg("%s", hp_error_message());
    snprintf(p, sizeof p, "%s/annotations/captions_%s.json", root, hp_coco_split_dir(split));
    if (hp_coco_write_captions(&g, split, p)) fail_msg("%s", hp_error_message());
    snprintf(p, sizeof p, "%s/annotations/instances_%s.json", root, hp_coco_split_dir(split));
    if (hp_coco_write_instances(&g, split, p)) fail_msg("%s", hp_error_message());
  }
  hp_ingest_list l;
  hp_ingest_report r;
  hp_ingest_list_init(&l);
  hp_report_init(&r);
  if (hp_coco_parse(root, "train2017", NULL, &l, &r)) fail_msg("%s", hp_error_message());
  assert_int_equal(r.n, 0);
  assert_int_equal(l.n, 12);
  assert_int_equal(l.n_captions, 60);
  assert_int_equal(l.n_labels, HP_COCO_NCATEGORIES);
  assert_string_equal(l.label_names[0], "red circle");
  for (int64_t k = 0; k < l.n; k++) {
    hp_coco_image im;
    hp_synth_scene sc;
    hp_coco_image_of(&g, HP_COCO_TRAIN, k, &im);
    hp_synth_scene_make(SEED, im.scene, 3, &sc);
    uint8_t want[HP_COCO_NCATEGORIES] = {0};
    for (int s = 0; s < sc.n; s++) want[hp_coco_category(&sc.s[s]) - 1] = 1;
    assert_memory_equal(l.items[k].labels, want, HP_COCO_NCATEGORIES);
    char *caps[5];
    assert_int_equal(hp_synth_captions(SEED, im.scene, &sc, 5, caps), 0);
    for (int c = 0; c < 5; c++) {
      assert_string_equal(l.items[k].captions[c], caps[c]);
      free(caps[c]);
    }
    snprintf(p, sizeof p, "%s/%s", root, l.items[k].path);
    hp_image dec;
    if (hp_image_decode_file(p, NULL, &dec)) fail_msg("%s", hp_error_message());
    assert_int_equal(dec.width, im.width);
    assert_int_equal(dec.height, im.height);
    /* JPEG at quality 90 of a noisy render: close to the pixels */
    hp_synth_render_wh(SEED, im.scene, &sc, im.width, im.height, 0.05, rgb);
    double err = 0;
    size_t nb = (size_t)im.width * im.height * 3;
    for (size_t b = 0; b < nb; b++) err += abs((int)dec.rgb[b] - (int)rgb[b]);
    assert_true(err / nb < 8.0);
    hp_image_free(&dec);
  }
  hp_ingest_list_free(&l);
  hp_report_free(&r);
  hp_ingest_list_init(&l);
  hp_report_init(&r);
  if (hp_coco_parse(root, "val2017", NULL, &l, &r)) fail_msg("%s", hp_error_message());
  assert_int_equal(l.n, 3);
  assert_string_equal(l.items[0].path, "val2017/001000000001.jpg");
  hp_ingest_list_free(&l);
  hp_report_free(&r);
  free(rgb);
  snprintf(p, sizeof p, "rm -rf '%s'", root);
  assert_int_equal(system(p), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_render_wh_square), cmocka_unit_test(test_canvases), cmocka_unit_test(test_boxes),
      cmocka_unit_test(test_check), cmocka_unit_test(test_roundtrip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
