/* test_synth_render.c — the pure synthetic-data parts: scenes, pixels, captions, labels, slices. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/error.h"
#include "data/synth_scene.h"

#define SEED 1234

static uint8_t *render(int64_t i, int size, double noise, hp_synth_scene *sc) {
  hp_synth_scene_make(SEED, i, 3, sc);
  uint8_t *px = calloc((size_t)size * size * 3, 1);
  assert_non_null(px);
  hp_synth_render(SEED, i, sc, size, noise, px);
  return px;
}

static void test_determinism(void **state) {
  (void)state;
  int sizes[] = {16, 64, 128};
  for (int t = 0; t < 3; t++) {
    int S = sizes[t];
    size_t nb = (size_t)S * S * 3;
    for (int64_t i = 0; i < 20; i++) {
      hp_synth_scene a, b, c;
      uint8_t *pa = render(i, S, 0.05, &a), *pb = render(i, S, 0.05, &b), *pc = render(i + 1, S, 0.05, &c);
      assert_memory_equal(&a, &b, sizeof a);
      assert_memory_equal(pa, pb, nb);
      assert_true(memcmp(pa, pc, nb) != 0);
      free(pa);
      free(pb);
      free(pc);
    }
  }
  /* A different seed gives a different scene for the same index. */
  hp_synth_scene a, b;
  int same = 0;
  for (int64_t i = 0; i < 20; i++) {
    hp_synth_scene_make(1, i, 3, &a);
    hp_synth_scene_make(2, i, 3, &b);
    same += memcmp(&a, &b, sizeof a) == 0;
  }
  assert_int_equal(same, 0);
}

static void test_scene_geometry(void **state) {
  (void)state;
  int count[4] = {0}, types[HP_SYNTH_NTYPES] = {0}, colours[HP_SYNTH_NCOLOURS] = {0}, large = 0;
  for (int64_t i = 0; i < 3000; i++) {
    hp_synth_scene sc;
    hp_synth_scene_make(SEED, i, 3, &sc);
    assert_true(sc.n >= 1 && sc.n <= 3);
    count[sc.n]++;
    for (int k = 0; k < sc.n; k++) {
      const hp_synth_shape *s = &sc.s[k];
      assert_true(s->cx - s->r >= 0 && s->cx + s->r <= 1);
      assert_true(s->cy - s->r >= 0 && s->cy + s->r <= 1);
      types[s->type]++;
      colours[s->colour]++;
      large += s->large;
      for (int j = 0; j < k; j++) {
        double dx = s->cx - sc.s[j].cx, dy = s->cy - sc.s[j].cy, need = s->r + sc.s[j].r;
        assert_true(dx * dx + dy * dy >= need * need); /* no overlap of bounding discs */
        assert_false(s->type == sc.s[j].type && s->colour == sc.s[j].colour);
      }
    }
    hp_synth_scene one;
    hp_synth_scene_make(SEED, i, 1, &one);
    assert_int_equal(one.n, 1);
  }
  for (int n = 1; n <= 3; n++) assert_true(count[n] > 600);
  for (int t = 0; t < HP_SYNTH_NTYPES; t++) assert_true(types[t] > 600);
  for (int c = 0; c < HP_SYNTH_NCOLOURS; c++) assert_true(colours[c] > 400);
  assert_true(large > 1500 && large < 4500);
}

/* The shape's colour is where the shape is; the border is background. */
static void test_pixels(void **state) {
  (void)state;
  int sizes[] = {16, 64, 128};
  for (int t = 0; t < 3; t++) {
    int S = sizes[t];
    for (int64_t i = 0; i < 50; i++) {
      hp_synth_scene sc;
      uint8_t *px = render(i, S, 0.0, &sc);
      /* Pixel values vary (not a blank image). */
      int lo = 255, hi = 0;
      for (size_t k = 0; k < (size_t)S * S * 3; k++) {
        if (px[k] < lo) lo = px[k];
        if (px[k] > hi) hi = px[k];
      }
      assert_true(hi - lo > 60);
      for (int k = 0; k < sc.n; k++) {
        const hp_synth_shape *s = &sc.s[k];
        /* A pixel whose centre is well inside the shape has (shaded) shape colour. */
        int found = 0;
        for (int y = 0; y < S && !found; y++)
          for (int x = 0; x < S && !found; x++) {
            double u = (x + 0.5) / S, v = (y + 0.5) / S;
            if (hp_synth_shape_sdf(s, u, v) * S > -0.6) continue;
            found = 1;
            uint8_t rgb[3];
            hp_synth_colour_rgb(s->colour, rgb);
            const uint8_t *p = px + ((size_t)y * S + x) * 3;
            for (int ch = 0; ch < 3; ch++) {
              double want = rgb[ch] * s->shade;
              assert_true(p[ch] >= want - 1.0 && p[ch] <= want + 1.0);
            }
          }
        if (S >= 64) assert_true(found); /* at 16 px a thin cross may have no fully inside pixel */
      }
      /* Corners are background (no shape reaches them): gray. */
      const uint8_t *c0 = px;
      assert_true(c0[0] == c0[1] && c0[1] == c0[2]);
      assert_true(c0[0] >= 30 && c0[0] <= 125);
      free(px);
    }
  }
  /* Noise changes pixels, within its amplitude. */
  hp_synth_scene sc;
  uint8_t *clean = render(3, 64, 0.0, &sc), *noisy = render(3, 64, 0.05, &sc);
  int changed = 0;
  for (size_t k = 0; k < 64 * 64 * 3; k++) {
    int d = (int)noisy[k] - (int)clean[k];
    assert_true(d >= -14 && d <= 14);
    changed += d != 0;
  }
  assert_true(changed > 64 * 64);
  free(clean);
  free(noisy);
}

static void test_captions_labels(void **state) {
  (void)state;
  int distinct_total = 0, total = 0;
  for (int64_t i = 0; i < 500; i++) {
    hp_synth_scene sc;
    hp_synth_scene_make(SEED, i, 3, &sc);
    char *caps[5], *again[5];
    assert_int_equal(hp_synth_captions(SEED, i, &sc, 5, caps), 0);
    assert_int_equal(hp_synth_captions(SEED, i, &sc, 5, again), 0);
    for (int k = 0; k < 5; k++) {
      assert_string_equal(caps[k], again[k]);
      if (i < 4) printf("  image %lld: %s\n", (long long)i, caps[k]);
      for (int s = 0; s < sc.n; s++) {
        char phrase[64];
        snprintf(phrase, sizeof phrase, "%s %s", hp_synth_colour_name(sc.s[s].colour),
                 hp_synth_type_name(sc.s[s].type));
        if (!strstr(caps[k], phrase)) fail_msg("caption '%s' does not mention '%s'", caps[k], phrase);
      }
      int dup = 0;
      for (int j = 0; j < k; j++) dup |= strcmp(caps[j], caps[k]) == 0;
      distinct_total += !dup;
      total++;
    }
    for (int k = 0; k < 5; k++) {
      free(caps[k]);
      free(again[k]);
    }
    uint8_t row[HP_SYNTH_NLABELS];
    hp_synth_labels(&sc, row);
    int ones = 0;
    for (int l = 0; l < HP_SYNTH_NLABELS; l++) {
      ones += row[l];
      if (!row[l]) continue;
      /* Every set label names something in the scene. */
      const char *name = hp_synth_label_name(l);
      int present = 0;
      for (int s = 0; s < sc.n; s++) {
        char pair[64];
        snprintf(pair, sizeof pair, "%s %s", hp_synth_colour_name(sc.s[s].colour), hp_synth_type_name(sc.s[s].type));
        present |= strcmp(name, pair) == 0 || strcmp(name, hp_synth_colour_name(sc.s[s].colour)) == 0 ||
                   strcmp(name, hp_synth_type_name(sc.s[s].type)) == 0;
      }
      assert_true(present);
    }
    /* n distinct pairs, plus distinct types and colours. */
    assert_true(ones >= sc.n + 2 && ones <= 3 * sc.n);
  }
  assert_true(distinct_total > total * 9 / 10);
  /* Label names are unique. */
  for (int a = 0; a < HP_SYNTH_NLABELS; a++)
    for (int b = 0; b < a; b++) assert_string_not_equal(hp_synth_label_name(a), hp_synth_label_name(b));
  assert_string_equal(hp_synth_label_name(0), "circle");
  assert_string_equal(hp_synth_label_name(HP_SYNTH_NTYPES), "red");
  assert_string_equal(hp_synth_label_name(HP_SYNTH_NTYPES + HP_SYNTH_NCOLOURS), "red circle");
}

static hp_synth_params params(void) {
  hp_synth_params p = {.seed = 11, .n_images = 57, .image_size = 32, .captions_per_image = 3, .max_shapes = 3,
                       .noise = 0.05, .train_frac = 0.7, .val_frac = 0.15, .test_frac = 0.15};
  return p;
}

static void test_slices(void **state) {
  (void)state;
  hp_synth_params p = params();
  hp_synth_slice all, part;
  assert_int_equal(hp_synth_make_slice(&p, 0, p.n_images, &all, NULL, 1), 0);
  assert_int_equal(all.n_captions, 57 * 3);
  int64_t bounds[] = {0, 1, 20, 20, 57};
  for (int t = 0; t < 4; t++) {
    int64_t r0 = bounds[t], n = bounds[t + 1] - bounds[t];
    assert_int_equal(hp_synth_make_slice(&p, r0, n, &part, NULL, 1), 0);
    if (n > 0) assert_memory_equal(part.images, all.images + r0 * 32 * 32 * 3, (size_t)n * 32 * 32 * 3);
    for (int64_t r = 0; r < n; r++) {
      assert_int_equal(part.split[r], all.split[r0 + r]);
      assert_string_equal(part.source_id[r], all.source_id[r0 + r]);
      assert_memory_equal(part.labels + r * HP_SYNTH_NLABELS, all.labels + (r0 + r) * HP_SYNTH_NLABELS,
                          HP_SYNTH_NLABELS);
    }
    for (int64_t c = 0; c < part.n_captions; c++) {
      assert_string_equal(part.captions[c], all.captions[r0 * 3 + c]);
      assert_int_equal(part.caption_image[c], all.caption_image[r0 * 3 + c]);
    }
    hp_synth_slice_free(&part);
  }
  assert_string_equal(all.source_id[17], "synth:17");
  assert_int_equal(all.caption_image[3 * 17 + 2], 17);
  hp_synth_slice_free(&all);
}

static void expect_config_error(hp_synth_params p, const char *key) {
  hp_synth_slice s;
  assert_int_equal(hp_synth_make_slice(&p, 0, p.n_images, &s, NULL, 1), HP_ERR_CONFIG);
  if (!strstr(hp_error_message(), key)) fail_msg("error '%s' does not name %s", hp_error_message(), key);
  hp_synth_slice_free(&s);
  hp_error_clear();
}

static void test_bad_params(void **state) {
  (void)state;
  hp_synth_params p = params();
  p.n_images = 0;
  expect_config_error(p, "synth.num_images");
  p = params();
  p.image_size = 8;
  expect_config_error(p, "data.image_size");
  p = params();
  p.max_shapes = 4;
  expect_config_error(p, "synth.max_shapes");
  p = params();
  p.noise = -1;
  expect_config_error(p, "synth.noise");
  p = params();
  p.captions_per_image = 0;
  expect_config_error(p, "synth.captions_per_image");
  p = params();
  p.val_frac = 0.5;
  expect_config_error(p, "sum to 1");
  p = params();
  p.n_images = 100000000; /* 100M x 32x32x3 = 286 GiB on one rank */
  expect_config_error(p, "synth.num_images or data.image_size");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_determinism), cmocka_unit_test(test_scene_geometry),
      cmocka_unit_test(test_pixels),      cmocka_unit_test(test_captions_labels),
      cmocka_unit_test(test_slices),      cmocka_unit_test(test_bad_params),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
