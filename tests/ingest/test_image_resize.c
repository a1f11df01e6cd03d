/* test_image_resize.c — stretch / center-crop resizing with the antialiased triangle filter. */
#include "ingest_test.h"

#include "ingest/image_resize.h"

static hp_image make(int64_t w, int64_t h) {
  hp_image im = {w, h, calloc((size_t)(w * h * 3), 1)};
  assert_non_null(im.rgb);
  return im;
}

static void test_constant_stays_constant(void **st) {
  (void)st;
  const int64_t sizes[][2] = {{37, 23}, {640, 427}, {5, 3}, {1, 1}, {128, 128}, {3, 200}};
  for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
    hp_image im = make(sizes[s][0], sizes[s][1]);
    for (int64_t i = 0; i < im.width * im.height; i++) {
      im.rgb[3 * i] = 10;
      im.rgb[3 * i + 1] = 200;
      im.rgb[3 * i + 2] = 255;
    }
    for (int mode = 0; mode < 2; mode++) {
      const int64_t outs[] = {1, 16, 128, 300};
      for (size_t o = 0; o < 4; o++) {
        int64_t S = outs[o];
        uint8_t *d = malloc((size_t)(S * S * 3));
        assert_int_equal(hp_image_resize(&im, (hp_resize_mode)mode, S, d), 0);
        for (int64_t i = 0; i < S * S; i++) {
          assert_int_equal(d[3 * i], 10);
          assert_int_equal(d[3 * i + 1], 200);
          assert_int_equal(d[3 * i + 2], 255);
        }
        free(d);
      }
    }
    hp_image_free(&im);
  }
}

static void test_identity(void **st) {
  (void)st;
  hp_image im = make(16, 16);
  for (int i = 0; i < 16 * 16 * 3; i++) im.rgb[i] = (uint8_t)(i * 37);
  uint8_t d[16 * 16 * 3];
  assert_int_equal(hp_image_resize(&im, HP_RESIZE_STRETCH, 16, d), 0);
  assert_memory_equal(d, im.rgb, sizeof d);
  hp_image_free(&im);
}

static void test_gradient_downscale(void **st) {
  (void)st;
  /* R = 2x over 128 columns, G = 4y over 64 rows, B = 90; halve to 64 x 32 with the general
   * entry point. With centre alignment, output i averages inputs around x = 2i + 0.5 with
   * symmetric triangle weights (1/8, 3/8, 3/8, 1/8), so an interior pixel is exactly the linear
   * function there: R = 2 (2i + 0.5) = 4i + 1, G = 4 (2j + 0.5) = 8j + 2. */
  hp_image im = make(128, 64);
  for (int y = 0; y < 64; y++)
    for (int x = 0; x < 128; x++) {
      uint8_t *p = im.rgb + (y * 128 + x) * 3;
      p[0] = (uint8_t)(2 * x);
      p[1] = (uint8_t)(4 * y);
      p[2] = 90;
    }
  uint8_t *d = malloc(64 * 32 * 3);
  assert_int_equal(hp_resize_rgb8(im.rgb, 128, 0, 0, 128, 64, 64, 32, d), 0);
  for (int j = 1; j < 31; j++)
    for (int i = 1; i < 63; i++) {
      uint8_t *p = d + (j * 64 + i) * 3;
      assert_int_equal(p[0], 4 * i + 1);
      assert_int_equal(p[1], 8 * j + 2);
      assert_int_equal(p[2], 90);
    }
  /* monotone everywhere, including the borders */
  for (int i = 1; i < 64; i++) assert_true(d[i * 3] > d[(i - 1) * 3]);
  free(d);
  hp_image_free(&im);
}

static void test_upscale_bilinear(void **st) {
  (void)st;
  /* 4 -> 8 columns: output i has centre (i + 0.5) / 2 in input coordinates; plain bilinear
   * between the two nearest input centres (clamped at the borders). */
  hp_image im = make(4, 1);
  const uint8_t v[4] = {0, 100, 200, 240};
  for (int x = 0; x < 4; x++) im.rgb[3 * x] = im.rgb[3 * x + 1] = im.rgb[3 * x + 2] = v[x];
  uint8_t d[8 * 1 * 3];
  assert_int_equal(hp_resize_rgb8(im.rgb, 4, 0, 0, 4, 1, 8, 1, d), 0);
  const uint8_t want[8] = {0, 25, 75, 125, 175, 210, 230, 240};
  for (int i = 0; i < 8; i++) assert_int_equal(d[3 * i], want[i]);
  hp_image_free(&im);
}

/* columns [0,w/3) red, [w/3, 2w/3) green, rest blue; or the same by rows when vertical */
static hp_image three_bands(int64_t w, int64_t h, int vertical) {
  hp_image im = make(w, h);
  for (int64_t y = 0; y < h; y++)
    for (int64_t x = 0; x < w; x++) {
      int64_t t = vertical ? y : x, n = vertical ? h : w;
      int band = t < n / 3 ? 0 : t < 2 * n / 3 ? 1 : 2;
      im.rgb[(y * w + x) * 3 + band] = 255;
    }
  return im;
}

static void test_center_crop_geometry(void **st) {
  (void)st;
  int64_t x0, y0, cw, ch;
  hp_resize_source_rect(640, 427, HP_RESIZE_CENTER_CROP, &x0, &y0, &cw, &ch);
  assert_int_equal(x0, 106);
  assert_int_equal(y0, 0);
  assert_int_equal(cw, 427);
  assert_int_equal(ch, 427);
  hp_resize_source_rect(31, 10, HP_RESIZE_CENTER_CROP, &x0, &y0, &cw, &ch);
  assert_int_equal(x0, 10);
  hp_resize_source_rect(10, 33, HP_RESIZE_CENTER_CROP, &x0, &y0, &cw, &ch);
  assert_int_equal(y0, 11);
  assert_int_equal(ch, 10);
  hp_resize_source_rect(640, 427, HP_RESIZE_STRETCH, &x0, &y0, &cw, &ch);
  assert_int_equal(x0, 0);
  assert_int_equal(cw, 640);
  assert_int_equal(ch, 427);

  /* 30x10 red|green|blue: the centre square is exactly the green band. */
  for (int vertical = 0; vertical < 2; vertical++) {
    hp_image im = vertical ? three_bands(10, 30, 1) : three_bands(30, 10, 0);
    uint8_t d[5 * 5 * 3];
    assert_int_equal(hp_image_resize(&im, HP_RESIZE_CENTER_CROP, 5, d), 0);
    for (int i = 0; i < 25; i++) {
      assert_int_equal(d[3 * i], 0);
      assert_int_equal(d[3 * i + 1], 255);
      assert_int_equal(d[3 * i + 2], 0);
    }
    /* stretch keeps all three bands: first column red, middle green, last blue */
    uint8_t s[6 * 6 * 3];
    assert_int_equal(hp_image_resize(&im, HP_RESIZE_STRETCH, 6, s), 0);
    const uint8_t *first = s, *mid = vertical ? s + 3 * 6 * 3 : s + 3 * 3,
                  *last = vertical ? s + 5 * 6 * 3 : s + 5 * 3;
    (void)mid;
    assert_int_equal(first[0], 255);
    assert_int_equal(last[2], 255);
    assert_int_equal(first[2], 0);
    assert_int_equal(last[0], 0);
    hp_image_free(&im);
  }
}

static void test_mode_parse(void **st) {
  (void)st;
  hp_resize_mode m;
  assert_int_equal(hp_resize_mode_parse("stretch", &m), 0);
  assert_int_equal(m, HP_RESIZE_STRETCH);
  assert_int_equal(hp_resize_mode_parse("center_crop", &m), 0);
  assert_int_equal(m, HP_RESIZE_CENTER_CROP);
  assert_int_equal(hp_resize_mode_parse("crop", &m), HP_ERR_CONFIG);
  assert_msg_has("\"crop\"");
  assert_string_equal(hp_resize_mode_name(HP_RESIZE_CENTER_CROP), "center_crop");
}

static void test_bad_geometry(void **st) {
  (void)st;
  uint8_t px[3] = {1, 2, 3}, d[3];
  assert_int_equal(hp_resize_rgb8(px, 1, 0, 0, 1, 1, 0, 1, d), HP_ERR_INTERNAL);
  assert_int_equal(hp_resize_rgb8(px, 1, 1, 0, 1, 1, 1, 1, d), HP_ERR_INTERNAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_constant_stays_constant), cmocka_unit_test(test_identity),
      cmocka_unit_test(test_gradient_downscale),      cmocka_unit_test(test_upscale_bilinear),
      cmocka_unit_test(test_center_crop_geometry),    cmocka_unit_test(test_mode_parse),
      cmocka_unit_test(test_bad_geometry),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
