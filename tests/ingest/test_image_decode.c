/* test_image_decode.c — JPEG/PNG decoding of the committed good and bad fixtures. */
#include "ingest_test.h"

#include "ingest/image_decode.h"
#include "ingest/image_resize.h"
#include "ingest/util.h"

static hp_image decode_ok(const char *rel) {
  hp_image im;
  hp_error_clear();
  int e = hp_image_decode_file(fixture(rel), NULL, &im);
  if (e) fail_msg("%s: %s", rel, hp_error_message());
  return im;
}

/* decoding fails with HP_ERR_INPUT; the message names the file and contains `why` */
static void decode_bad(const char *rel, const char *why) {
  hp_image im;
  hp_error_clear();
  const char *path = fixture(rel);
  char p[4096];
  snprintf(p, sizeof p, "%s", path);
  int e = hp_image_decode_file(p, NULL, &im);
  if (e != HP_ERR_INPUT) fail_msg("%s: expected an input error, got %d (%s)", rel, e, hp_error_message());
  assert_null(im.rgb);
  assert_msg_has(p);
  assert_msg_has(why);
}

static double mean_abs_diff(const hp_image *a, const hp_image *b) {
  assert_int_equal(a->width, b->width);
  assert_int_equal(a->height, b->height);
  double s = 0;
  size_t n = (size_t)a->width * (size_t)a->height * 3;
  for (size_t i = 0; i < n; i++) s += abs((int)a->rgb[i] - (int)b->rgb[i]);
  return s / (double)n;
}

static void test_rgb_and_progressive(void **st) {
  (void)st;
  hp_image a = decode_ok("images/rgb.jpg"), b = decode_ok("images/progressive.jpg");
  assert_int_equal(a.width, 24);
  assert_int_equal(a.height, 16);
  assert_true(mean_abs_diff(&a, &b) < 2.0);
  hp_image_free(&a);
  hp_image_free(&b);
}

static void test_png_variants_exact(void **st) {
  (void)st;
  /* The same 8-bit RGB pixels as PNG in a .jpg file, interlaced PNG, and 16-bit PNG. */
  hp_image a = decode_ok("images/png_in.jpg"), b = decode_ok("images/interlaced.png"),
           c = decode_ok("images/rgb16.png");
  assert_true(mean_abs_diff(&a, &b) == 0.0);
  assert_true(mean_abs_diff(&a, &c) == 0.0);
  /* and close to the JPEG of the same pixels */
  hp_image j = decode_ok("images/rgb.jpg");
  assert_true(mean_abs_diff(&a, &j) < 6.0);
  hp_image_free(&a);
  hp_image_free(&b);
  hp_image_free(&c);
  hp_image_free(&j);
}

static void test_grey_jpeg(void **st) {
  (void)st;
  hp_image g = decode_ok("images/grey.jpg");
  assert_int_equal(g.width, 24);
  for (int64_t i = 0; i < g.width * g.height; i++) {
    assert_int_equal(g.rgb[3 * i], g.rgb[3 * i + 1]);
    assert_int_equal(g.rgb[3 * i], g.rgb[3 * i + 2]);
  }
  hp_image_free(&g);
}

static void test_cmyk(void **st) {
  (void)st;
  /* Both CMYK encodings of the same picture (plain, and Adobe-inverted like Photoshop writes)
   * come back as the RGB picture; a wrong inversion would give a photographic negative. */
  hp_image ref = decode_ok("images/rgb.jpg");
  hp_image p = decode_ok("images/cmyk_plain.jpg"), a = decode_ok("images/cmyk_adobe.jpg");
  double dp = mean_abs_diff(&ref, &p), da = mean_abs_diff(&ref, &a);
  print_message("cmyk plain diff %.2f, adobe diff %.2f\n", dp, da);
  assert_true(dp < 8.0);
  assert_true(da < 8.0);
  hp_image_free(&ref);
  hp_image_free(&p);
  hp_image_free(&a);
}

static void test_palette_alpha_grey(void **st) {
  (void)st;
  hp_image p = decode_ok("images/palette.png");
  assert_int_equal(p.width, 8);
  assert_int_equal(p.height, 4);
  const uint8_t want[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};
  for (int y = 0; y < 4; y++)
    for (int x = 0; x < 8; x++)
      for (int c = 0; c < 3; c++) assert_int_equal(p.rgb[(y * 8 + x) * 3 + c], want[x % 4][c]);
  hp_image_free(&p);
  hp_image ga = decode_ok("images/grey_alpha.png");
  /* grey 0 with alpha 0, 128, 255 over white: 255, 127, 0 */
  assert_int_equal(ga.rgb[0], 255);
  assert_int_equal(ga.rgb[3], 127);
  assert_int_equal(ga.rgb[4], 127);
  assert_int_equal(ga.rgb[6], 0);
  hp_image_free(&ga);
  hp_image g1 = decode_ok("images/grey1.png");
  assert_int_equal(g1.width, 8);
  for (int x = 0; x < 8; x++) assert_int_equal(g1.rgb[3 * x + 1], (x % 2 == 0) ? 255 : 0);
  hp_image_free(&g1);
}

static void test_bad_files(void **st) {
  (void)st;
  decode_bad("images/truncated.jpg", "truncated JPEG");
  decode_bad("images/truncated_header.jpg", "truncated JPEG");
  decode_bad("images/corrupt.jpg", "JPEG data");
  decode_bad("images/huge_dims.jpg", "exceeds the limit");
  decode_bad("images/truncated.png", "truncated PNG");
  decode_bad("images/bad_crc.png", "invalid PNG data (IDAT");
  decode_bad("images/empty.jpg", "empty file");
  decode_bad("images/html.jpg", "not a JPEG or PNG image (text/HTML/XML)");
  decode_bad("images/no_such_file.jpg", "cannot open");
}

static void test_limits(void **st) {
  (void)st;
  hp_decode_limits lim;
  hp_decode_limits_default(&lim);
  lim.max_pixels = 100;
  hp_image im;
  assert_int_equal(hp_image_decode_file(fixture("images/rgb.jpg"), &lim, &im), HP_ERR_INPUT);
  assert_msg_has("exceeds the limit of 100 pixels");
  assert_int_equal(hp_image_decode_file(fixture("images/png_in.jpg"), &lim, &im), HP_ERR_INPUT);
  assert_msg_has("exceeds the limit of 100 pixels");
  hp_decode_limits_default(&lim);
  lim.max_side = 10;
  assert_int_equal(hp_image_decode_file(fixture("images/rgb.jpg"), &lim, &im), HP_ERR_INPUT);
  assert_msg_has("per side");
  assert_int_equal(hp_image_decode_file(fixture("images/png_in.jpg"), &lim, &im), HP_ERR_INPUT);
  assert_msg_has("png_in.jpg");
  hp_decode_limits_default(&lim);
  lim.max_file_bytes = 100;
  assert_int_equal(hp_image_decode_file(fixture("images/rgb.jpg"), &lim, &im), HP_ERR_INPUT);
  assert_msg_has("exceeds the limit of 100 bytes");
}

/* DCT-domain pre-scaling (min_side): picks the smallest 1/2^k scale with the shorter side still
 * >= min_side, and the filtered result stays close to a full-resolution decode. */
static void scaled_vs_full(const char *path, int64_t min_side, int64_t want_w, int64_t want_h,
                           int64_t S, double tol) {
  hp_decode_limits lim;
  hp_decode_limits_default(&lim);
  hp_image full, scaled;
  if (hp_image_decode_file(path, &lim, &full)) fail_msg("%s", hp_error_message());
  lim.min_side = min_side;
  if (hp_image_decode_file(path, &lim, &scaled)) fail_msg("%s", hp_error_message());
  assert_int_equal(scaled.width, want_w);
  assert_int_equal(scaled.height, want_h);
  uint8_t *a = malloc((size_t)(S * S * 3)), *b = malloc((size_t)(S * S * 3));
  assert_int_equal(hp_image_resize(&full, HP_RESIZE_STRETCH, S, a), 0);
  assert_int_equal(hp_image_resize(&scaled, HP_RESIZE_STRETCH, S, b), 0);
  double d = 0;
  for (int64_t i = 0; i < S * S * 3; i++) d += abs((int)a[i] - (int)b[i]);
  d /= (double)(S * S * 3);
  print_message("%s: %lldx%lld -> %lldx%lld, mean |diff| after resize to %lld: %.2f\n", path,
                (long long)full.width, (long long)full.height, (long long)scaled.width,
                (long long)scaled.height, (long long)S, d);
  assert_true(d <= tol);
  free(a);
  free(b);
  hp_image_free(&full);
  hp_image_free(&scaled);
}

static void test_dct_prescale(void **st) {
  (void)st;
  char p[8500];
  snprintf(p, sizeof p, "%s", fixture("images/rgb.jpg"));
  scaled_vs_full(p, 4, 6, 4, 4, 12.0);   /* 24x16 at 1/4 */
  scaled_vs_full(p, 16, 24, 16, 8, 0.0); /* shorter side 16: no scaling possible */
  scaled_vs_full(p, 100, 24, 16, 8, 0.0);
  /* PNG ignores the hint */
  hp_decode_limits lim;
  hp_decode_limits_default(&lim);
  lim.min_side = 2;
  hp_image im;
  assert_int_equal(hp_image_decode_file(fixture("images/png_in.jpg"), &lim, &im), 0);
  assert_int_equal(im.width, 24);
  hp_image_free(&im);
  const char *d = shared_data("fashion-mini");
  if (d) { /* a real 192x256 product photo headed for 32x32: decoded at 1/2 (96x128) */
    snprintf(p, sizeof p, "%s/images/1163.jpg", d);
    scaled_vs_full(p, 64, 96, 128, 32, 2.0);
  }
}

static void test_sniff(void **st) {
  (void)st;
  const uint8_t j[] = {0xFF, 0xD8, 0xFF, 0xE0};
  const uint8_t p[] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  assert_int_equal(hp_image_sniff(j, 4), HP_IMG_JPEG);
  assert_int_equal(hp_image_sniff(p, 8), HP_IMG_PNG);
  assert_int_equal(hp_image_sniff(p, 7), HP_IMG_UNKNOWN);
  assert_int_equal(hp_image_sniff(j, 2), HP_IMG_UNKNOWN);
  hp_image im;
  assert_int_equal(hp_image_decode_mem((const uint8_t *)"GIF89a....", 10, "x.gif", NULL, &im),
                   HP_ERR_INPUT);
  assert_msg_has("x.gif: not a JPEG or PNG image (GIF)");
}

/* Every prefix and many single-byte corruptions of a JPEG and a PNG: an error or an image,
 * never a crash, a hang or a leak of the error state. */
static void fuzz_file(const char *rel) {
  char *buf = NULL;
  size_t n = 0;
  assert_int_equal(hp_ingest_read_file(fixture(rel), 1 << 20, 0, &buf, &n), 0);
  uint8_t *m = malloc(n);
  assert_non_null(m);
  int ok = 0, bad = 0;
  for (size_t len = 0; len <= n; len++) {
    hp_image im;
    int e = hp_image_decode_mem((const uint8_t *)buf, len, rel, NULL, &im);
    assert_true(e == 0 || e == HP_ERR_INPUT);
    if (e == 0) { ok++; hp_image_free(&im); } else bad++;
  }
  uint64_t x = 88172645463325252ull;
  for (int t = 0; t < 3000; t++) {
    memcpy(m, buf, n);
    for (int k = 0; k < 1 + t % 4; k++) {
      x ^= x << 13; x ^= x >> 7; x ^= x << 17;
      m[(x >> 8) % n] = (uint8_t)x;
    }
    hp_image im;
    int e = hp_image_decode_mem(m, n, rel, NULL, &im);
    assert_true(e == 0 || e == HP_ERR_INPUT);
    if (e == 0) { ok++; hp_image_free(&im); } else bad++;
  }
  print_message("%s: %d decoded, %d rejected\n", rel, ok, bad);
  free(m);
  free(buf);
}

static void test_fuzz(void **st) {
  (void)st;
  fuzz_file("images/rgb.jpg");
  fuzz_file("images/progressive.jpg");
  fuzz_file("images/cmyk_adobe.jpg");
  fuzz_file("images/png_in.jpg");
  fuzz_file("images/interlaced.png");
  fuzz_file("images/palette.png");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rgb_and_progressive), cmocka_unit_test(test_png_variants_exact),
      cmocka_unit_test(test_grey_jpeg),           cmocka_unit_test(test_cmyk),
      cmocka_unit_test(test_palette_alpha_grey),  cmocka_unit_test(test_bad_files),
      cmocka_unit_test(test_limits),              cmocka_unit_test(test_sniff),
      cmocka_unit_test(test_fuzz),                cmocka_unit_test(test_dct_prescale),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
