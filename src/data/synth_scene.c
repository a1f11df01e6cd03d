/* synth_scene.c — scenes, rendering, captions, labels of the synthetic dataset (see synth_scene.h). */
#include "data/synth_scene.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/rng.h"
#include "data/split.h"

static const char *const type_names[HP_SYNTH_NTYPES] = {"circle", "square", "triangle", "cross", "diamond"};
static const char *const colour_names[HP_SYNTH_NCOLOURS] = {"red",    "green",  "blue", "yellow",
                                                            "purple", "orange", "white"};
/* Saturated colours, all clearly brighter or more chromatic than the dark gray background. */
static const uint8_t colour_rgb[HP_SYNTH_NCOLOURS][3] = {
    {220, 40, 40}, {40, 190, 60}, {50, 100, 235}, {235, 215, 50}, {155, 60, 205}, {245, 140, 30}, {240, 240, 240}};

static char label_names[HP_SYNTH_NCOLOURS * HP_SYNTH_NTYPES][32];

const char *hp_synth_type_name(int type) { return type >= 0 && type < HP_SYNTH_NTYPES ? type_names[type] : "?"; }
const char *hp_synth_colour_name(int c) { return c >= 0 && c < HP_SYNTH_NCOLOURS ? colour_names[c] : "?"; }

void hp_synth_colour_rgb(int colour, uint8_t rgb[3]) { memcpy(rgb, colour_rgb[colour], 3); }

const char *hp_synth_label_name(int l) {
  if (l < 0 || l >= HP_SYNTH_NLABELS) return "?";
  if (l < HP_SYNTH_NTYPES) return type_names[l];
  l -= HP_SYNTH_NTYPES;
  if (l < HP_SYNTH_NCOLOURS) return colour_names[l];
  l -= HP_SYNTH_NCOLOURS;
  /* Built on demand; the result is a pure function of l, so concurrent first calls from
   * several threads would write the same bytes. */
  if (!label_names[l][0])
    snprintf(label_names[l], sizeof label_names[l], "%s %s", colour_names[l / HP_SYNTH_NTYPES],
             type_names[l % HP_SYNTH_NTYPES]);
  return label_names[l];
}

/* ---- scenes --------------------------------------------------------------------------------- */

#define MARGIN 0.02 /* gap kept between shapes and between a shape and the border */

static int place(hp_rng *rng, hp_synth_shape *s, const hp_synth_scene *sc) {
  double lo = s->r + MARGIN, hi = 1.0 - s->r - MARGIN;
  for (int attempt = 0; attempt < 64; attempt++) {
    double x = lo + (hi - lo) * hp_rng_uniform(rng), y = lo + (hi - lo) * hp_rng_uniform(rng);
    int ok = 1;
    for (int j = 0; j < sc->n && ok; j++) {
      double dx = x - sc->s[j].cx, dy = y - sc->s[j].cy, need = s->r + sc->s[j].r + MARGIN;
      ok = dx * dx + dy * dy >= need * need;
    }
    if (ok) {
      s->cx = x;
      s->cy = y;
      return 1;
    }
  }
  return 0;
}

void hp_synth_scene_make(uint64_t seed, int64_t i, int max_shapes, hp_synth_scene *sc) {
  hp_rng rng = hp_rng_make(seed, HP_STREAM_SYNTH_SCENE, (uint64_t)i);
  if (max_shapes < 1) max_shapes = 1;
  if (max_shapes > HP_SYNTH_MAX_SHAPES) max_shapes = HP_SYNTH_MAX_SHAPES;
  memset(sc, 0, sizeof *sc);
  sc->bg = 55.0 + 40.0 * hp_rng_uniform(&rng);
  double ang = 6.283185307179586 * hp_rng_uniform(&rng), amp = 10.0 + 20.0 * hp_rng_uniform(&rng);
  sc->gx = amp * cos(ang);
  sc->gy = amp * sin(ang);
  int want = 1 + (int)hp_rng_below(&rng, (uint64_t)max_shapes);
  for (int k = 0; k < want; k++) {
    hp_synth_shape s;
    memset(&s, 0, sizeof s);
    /* A (colour, type) pair not used yet in this scene: at most 3 of 35 are taken. */
    for (;;) {
      s.type = (int)hp_rng_below(&rng, HP_SYNTH_NTYPES);
      s.colour = (int)hp_rng_below(&rng, HP_SYNTH_NCOLOURS);
      int dup = 0;
      for (int j = 0; j < sc->n; j++) dup |= sc->s[j].type == s.type && sc->s[j].colour == s.colour;
      if (!dup) break;
    }
    s.large = (int)hp_rng_below(&rng, 2);
    s.shade = 0.88 + 0.12 * hp_rng_uniform(&rng);
    s.r = s.large ? 0.18 + 0.05 * hp_rng_uniform(&rng) : 0.10 + 0.03 * hp_rng_uniform(&rng);
    int ok = place(&rng, &s, sc);
    if (!ok && s.large) { /* crowded: try it small before giving up on the shape */
      s.large = 0;
      s.r = 0.10 + 0.03 * hp_rng_uniform(&rng);
      ok = place(&rng, &s, sc);
    }
    if (ok) sc->s[sc->n++] = s;
  }
}

/* ---- rendering ------------------------------------------------------------------------------ */

static double box_sdf(double x, double y, double hx, double hy) {
  double qx = fabs(x) - hx, qy = fabs(y) - hy;
  double ox = qx > 0 ? qx : 0, oy = qy > 0 ? qy : 0;
  double in = qx > qy ? qx : qy;
  return sqrt(ox * ox + oy * oy) + (in < 0 ? in : 0);
}

/* Each shape is scaled to lie inside its bounding disc of radius r. */
double hp_synth_shape_sdf(const hp_synth_shape *s, double x, double y) {
  double px = x - s->cx, py = y - s->cy, r = s->r;
  switch (s->type) {
    case HP_SYNTH_CIRCLE:
      return sqrt(px * px + py * py) - 0.92 * r;
    case HP_SYNTH_SQUARE:
      return box_sdf(px, py, 0.70 * r, 0.70 * r);
    case HP_SYNTH_TRIANGLE: { /* equilateral, pointing up, circumradius R, centred on its centroid */
      double R = 0.98 * r, h = 0.5 * R;
      py -= 0.25 * R; /* centre the bounding box vertically instead of the centroid */
      double d1 = py - h;
      double d2 = -0.8660254037844386 * px - 0.5 * py - h;
      double d3 = 0.8660254037844386 * px - 0.5 * py - h;
      double d = d1 > d2 ? d1 : d2;
      return d > d3 ? d : d3;
    }
    case HP_SYNTH_CROSS: {
      double a = box_sdf(px, py, 0.92 * r, 0.28 * r), b = box_sdf(px, py, 0.28 * r, 0.92 * r);
      return a < b ? a : b;
    }
    default: /* HP_SYNTH_DIAMOND */
      return (fabs(px) + fabs(py) - 0.95 * r) * 0.7071067811865476;
  }
}

static inline uint8_t to_u8(double v) {
  v = floor(v + 0.5);
  return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* The unit square maps onto the w x h image: the background stretches with it, and each shape
 * keeps its proportions, scaled by the shorter side m (centre (cx w, cy h), radius r m). Shapes
 * then keep their gaps (distances grow along the longer side only) and their border margin. In
 * units of m the pixel (x, y) is at ((x + .5) / m, (y + .5) / m) and a shape's centre at
 * (cx w / m, cy h / m), so for w = h = size every value below is the one the square renderer
 * always computed (w / m is exactly 1). */
void hp_synth_render_wh(uint64_t seed, int64_t i, const hp_synth_scene *sc, int w, int h, double noise,
                        uint8_t *rgb) {
  int m = w < h ? w : h;
  double invw = 1.0 / w, invh = 1.0 / h, inv = 1.0 / m, amp = 255.0 * noise;
  double ax = (double)w / m, ay = (double)h / m;
  hp_synth_shape s[HP_SYNTH_MAX_SHAPES];
  for (int k = 0; k < sc->n; k++) {
    s[k] = sc->s[k];
    s[k].cx = sc->s[k].cx * ax;
    s[k].cy = sc->s[k].cy * ay;
  }
  for (int y = 0; y < h; y++) {
    for (int x = 0; x < w; x++) {
      double u = (x + 0.5) * invw, v = (y + 0.5) * invh; /* background: the stretched square */
      double pu = (x + 0.5) * inv, pv = (y + 0.5) * inv;  /* shapes: units of the shorter side */
      double g = sc->bg + sc->gx * (u - 0.5) + sc->gy * (v - 0.5);
      double c[3] = {g, g, g};
      for (int k = 0; k < sc->n; k++) {
        const hp_synth_shape *sk = &s[k];
        double du = pu - sk->cx, dv = pv - sk->cy, reach = sk->r + 2.0 * inv;
        if (du * du + dv * dv > reach * reach) continue; /* outside the bounding disc */
        /* Coverage of the pixel from the signed distance in pixels: a clean 1-pixel ramp. */
        double cov = 0.5 - hp_synth_shape_sdf(sk, pu, pv) * m;
        if (cov <= 0) continue;
        if (cov > 1) cov = 1;
        for (int ch = 0; ch < 3; ch++) c[ch] += cov * (colour_rgb[sk->colour][ch] * sk->shade - c[ch]);
      }
      size_t idx = ((size_t)y * (size_t)w + (size_t)x) * 3;
      for (int ch = 0; ch < 3; ch++) {
        double nz = 0;
        if (amp > 0) {
          uint64_t hh = hp_hash4(seed, HP_STREAM_SYNTH_NOISE, (uint64_t)i, idx + (size_t)ch);
          nz = amp * (2.0 * ((double)(hh >> 11) * (1.0 / 9007199254740992.0)) - 1.0);
        }
        rgb[idx + (size_t)ch] = to_u8(c[ch] + nz);
      }
    }
  }
}

void hp_synth_render(uint64_t seed, int64_t i, const hp_synth_scene *sc, int size, double noise,
                     uint8_t *rgb) {
  hp_synth_render_wh(seed, i, sc, size, size, noise, rgb);
}

/* ---- captions ------------------------------------------------------------------------------- */

/* Captions are short by construction (at most three shape phrases and a few words); the
 * builder still checks every append and reports an internal error rather than truncating. */
typedef struct {
  char s[512];
  size_t len;
  int overflow;
} cap_buf;

static void put(cap_buf *b, const char *t) {
  size_t n = strlen(t);
  if (b->len + n >= sizeof b->s) {
    b->overflow = 1;
    return;
  }
  memcpy(b->s + b->len, t, n + 1);
  b->len += n;
}

static const char *pick(hp_rng *rng, const char *const *opts, int n) {
  return opts[hp_rng_below(rng, (uint64_t)n)];
}

static int starts_with_vowel(const char *w) { return strchr("aeiou", w[0]) != NULL && w[0]; }

/* "[a|an] [size] colour type"; the size word appears about half of the time, the article
 * agrees with the word that follows it. */
static void put_shape(cap_buf *b, hp_rng *rng, const hp_synth_shape *s, int article) {
  static const char *const small[] = {"small", "little", "tiny"};
  static const char *const large[] = {"large", "big"};
  const char *size = hp_rng_below(rng, 2) ? (s->large ? pick(rng, large, 2) : pick(rng, small, 3)) : NULL;
  const char *first = size ? size : colour_names[s->colour];
  if (article) put(b, starts_with_vowel(first) ? "an " : "a ");
  if (size) {
    put(b, size);
    put(b, " ");
  }
  put(b, colour_names[s->colour]);
  put(b, " ");
  put(b, type_names[s->type]);
}

/* Where a is relative to b, from the larger of the two displacements. */
static void put_relation(cap_buf *b, hp_rng *rng, const hp_synth_shape *a, const hp_synth_shape *o) {
  static const char *const above[] = {"above", "over"};
  static const char *const below[] = {"below", "under", "beneath"};
  static const char *const left[] = {"to the left of", "left of"};
  static const char *const right[] = {"to the right of", "right of"};
  double dx = a->cx - o->cx, dy = a->cy - o->cy;
  if (fabs(dy) >= fabs(dx)) put(b, dy < 0 ? pick(rng, above, 2) : pick(rng, below, 3));
  else put(b, dx < 0 ? pick(rng, left, 2) : pick(rng, right, 2));
}

static void put_position(cap_buf *b, const hp_synth_shape *s) {
  const char *v = s->cy < 0.4 ? "top" : s->cy > 0.6 ? "bottom" : NULL;
  const char *h = s->cx < 0.4 ? "left" : s->cx > 0.6 ? "right" : NULL;
  if (!v && !h) {
    put(b, "in the middle");
    return;
  }
  put(b, "at the ");
  if (v) put(b, v);
  if (v && h) put(b, " ");
  if (h) put(b, h);
}

static void make_caption(hp_rng *rng, const hp_synth_scene *sc, cap_buf *b) {
  static const char *const picture[] = {"a picture of", "an image of", "a photo of", "a drawing of"};
  static const char *const gray[] = {"gray", "grey", "dark"};
  b->len = 0;
  b->s[0] = 0;
  b->overflow = 0;
  /* Mention the shapes in a random order. */
  const hp_synth_shape *o[HP_SYNTH_MAX_SHAPES];
  for (int k = 0; k < sc->n; k++) o[k] = &sc->s[k];
  for (int k = sc->n - 1; k > 0; k--) {
    int j = (int)hp_rng_below(rng, (uint64_t)k + 1);
    const hp_synth_shape *t = o[k];
    o[k] = o[j];
    o[j] = t;
  }
  if (sc->n == 1) {
    switch (hp_rng_below(rng, 6)) {
      case 0: put_shape(b, rng, o[0], 1); break;
      case 1: put(b, pick(rng, picture, 4)); put(b, " "); put_shape(b, rng, o[0], 1); break;
      case 2: put(b, "there is "); put_shape(b, rng, o[0], 1); put(b, " "); put_position(b, o[0]); break;
      case 3:
        put_shape(b, rng, o[0], 1);
        put(b, " on a ");
        put(b, pick(rng, gray, 3));
        put(b, " background");
        break;
      case 4: put_shape(b, rng, o[0], 1); put(b, " "); put_position(b, o[0]); break;
      default: put(b, "one "); put_shape(b, rng, o[0], 0); break;
    }
  } else if (sc->n == 2) {
    switch (hp_rng_below(rng, 6)) {
      case 0: put_shape(b, rng, o[0], 1); put(b, " "); put_relation(b, rng, o[0], o[1]); put(b, " "); put_shape(b, rng, o[1], 1); break;
      case 1: put(b, "two shapes: "); put_shape(b, rng, o[0], 1); put(b, " and "); put_shape(b, rng, o[1], 1); break;
      case 2:
        put(b, pick(rng, picture, 4));
        put(b, " ");
        put_shape(b, rng, o[0], 1);
        put(b, " and ");
        put_shape(b, rng, o[1], 1);
        break;
      case 3:
        put(b, "there is ");
        put_shape(b, rng, o[0], 1);
        put(b, " ");
        put_relation(b, rng, o[0], o[1]);
        put(b, " ");
        put_shape(b, rng, o[1], 1);
        break;
      case 4:
        put_shape(b, rng, o[1], 1);
        put(b, " with ");
        put_shape(b, rng, o[0], 1);
        put(b, " ");
        put_relation(b, rng, o[0], o[1]);
        put(b, " it");
        break;
      default:
        put_shape(b, rng, o[0], 1);
        put(b, " and ");
        put_shape(b, rng, o[1], 1);
        put(b, " on a ");
        put(b, pick(rng, gray, 3));
        put(b, " background");
        break;
    }
  } else {
    switch (hp_rng_below(rng, 5)) {
      case 0:
        put(b, hp_rng_below(rng, 2) ? "three shapes: " : "there are three shapes: ");
        put_shape(b, rng, o[0], 1);
        put(b, ", ");
        put_shape(b, rng, o[1], 1);
        put(b, " and ");
        put_shape(b, rng, o[2], 1);
        break;
      case 1:
        put_shape(b, rng, o[0], 1);
        put(b, " ");
        put_relation(b, rng, o[0], o[1]);
        put(b, " ");
        put_shape(b, rng, o[1], 1);
        put(b, ", and ");
        put_shape(b, rng, o[2], 1);
        break;
      case 2:
        put(b, pick(rng, picture, 4));
        put(b, " ");
        put_shape(b, rng, o[0], 1);
        put(b, ", ");
        put_shape(b, rng, o[1], 1);
        put(b, " and ");
        put_shape(b, rng, o[2], 1);
        break;
      case 3:
        put_shape(b, rng, o[0], 1);
        put(b, " ");
        put_relation(b, rng, o[0], o[1]);
        put(b, " ");
        put_shape(b, rng, o[1], 1);
        put(b, " and ");
        put_shape(b, rng, o[2], 1);
        put(b, " ");
        put_relation(b, rng, o[2], o[1]);
        put(b, " it");
        break;
      default:
        put_shape(b, rng, o[0], 1);
        put(b, ", ");
        put_shape(b, rng, o[1], 1);
        put(b, " and ");
        put_shape(b, rng, o[2], 1);
        put(b, " on a ");
        put(b, pick(rng, gray, 3));
        put(b, " background");
        break;
    }
  }
}

int hp_synth_captions(uint64_t seed, int64_t i, const hp_synth_scene *sc, int ncap, char **out) {
  hp_rng rng = hp_rng_make(seed, HP_STREAM_SYNTH_CAPTION, (uint64_t)i);
  cap_buf b;
  for (int k = 0; k < ncap; k++) out[k] = NULL;
  if (sc->n < 1) HP_ERROR(HP_ERR_INTERNAL, "synth: image %lld has no shapes", (long long)i);
  for (int k = 0; k < ncap; k++) {
    /* A few redraws to avoid repeating an earlier caption of the same image. */
    for (int attempt = 0; attempt < 16; attempt++) {
      make_caption(&rng, sc, &b);
      int dup = 0;
      for (int j = 0; j < k && !dup; j++) dup = strcmp(out[j], b.s) == 0;
      if (!dup) break;
    }
    if (b.overflow) HP_ERROR(HP_ERR_INTERNAL, "synth: caption of image %lld too long", (long long)i);
    HP_CALLOC(out[k], b.len + 1, "synth caption");
    memcpy(out[k], b.s, b.len + 1);
  }
  return 0;
}

/* ---- labels --------------------------------------------------------------------------------- */

void hp_synth_labels(const hp_synth_scene *sc, uint8_t *row) {
  memset(row, 0, HP_SYNTH_NLABELS);
  for (int k = 0; k < sc->n; k++) {
    const hp_synth_shape *s = &sc->s[k];
    row[s->type] = 1;
    row[HP_SYNTH_NTYPES + s->colour] = 1;
    row[HP_SYNTH_NTYPES + HP_SYNTH_NCOLOURS + s->colour * HP_SYNTH_NTYPES + s->type] = 1;
  }
}

/* ---- slices --------------------------------------------------------------------------------- */

int hp_synth_check(const hp_synth_params *p) {
  if (p->n_images < 1) HP_ERROR(HP_ERR_CONFIG, "synth.num_images = %lld: must be at least 1", (long long)p->n_images);
  if (p->image_size < HP_SYNTH_MIN_SIZE || p->image_size > 4096)
    HP_ERROR(HP_ERR_CONFIG, "data.image_size = %lld: synth renders %d .. 4096 pixels", (long long)p->image_size,
             HP_SYNTH_MIN_SIZE);
  if (p->captions_per_image < 1 || p->captions_per_image > 1000)
    HP_ERROR(HP_ERR_CONFIG, "synth.captions_per_image = %lld: must be in 1 .. 1000", (long long)p->captions_per_image);
  if (p->max_shapes < 1 || p->max_shapes > HP_SYNTH_MAX_SHAPES)
    HP_ERROR(HP_ERR_CONFIG, "synth.max_shapes = %lld: must be in 1 .. %d", (long long)p->max_shapes, HP_SYNTH_MAX_SHAPES);
  if (!(p->noise >= 0 && p->noise <= 1))
    HP_ERROR(HP_ERR_CONFIG, "synth.noise = %g: must be in [0, 1] (fraction of full scale)", p->noise);
  double f[3] = {p->train_frac, p->val_frac, p->test_frac};
  const char *k[3] = {"data.train_frac", "data.val_frac", "data.test_frac"};
  for (int j = 0; j < 3; j++)
    if (!(f[j] >= 0 && f[j] <= 1)) HP_ERROR(HP_ERR_CONFIG, "%s = %g: must be in [0, 1]", k[j], f[j]);
  if (fabs(f[0] + f[1] + f[2] - 1.0) > 1e-6)
    HP_ERROR(HP_ERR_CONFIG, "data.train_frac + data.val_frac + data.test_frac = %g + %g + %g = %g: must sum to 1",
             f[0], f[1], f[2], f[0] + f[1] + f[2]);
  int64_t pixels;
  if (hp_mul_i64(p->image_size * p->image_size * 3, p->n_images, &pixels))
    HP_ERROR(HP_ERR_CONFIG, "synth.num_images = %lld at data.image_size = %lld: dataset size overflows",
             (long long)p->n_images, (long long)p->image_size);
  return 0;
}

void hp_synth_slice_free(hp_synth_slice *s) {
  if (!s) return;
  if (s->source_id)
    for (int64_t r = 0; r < s->n; r++) free(s->source_id[r]);
  if (s->captions)
    for (int64_t c = 0; c < s->n_captions; c++) free(s->captions[c]);
  free(s->images);
  free(s->split);
  free(s->source_id);
  free(s->labels);
  free(s->captions);
  free(s->caption_image);
  memset(s, 0, sizeof *s);
}

int hp_synth_make_slice(const hp_synth_params *p, int64_t row0, int64_t n, hp_synth_slice *out,
                        hp_progress *prog, int prog_scale) {
  memset(out, 0, sizeof *out);
  HP_CALL(hp_synth_check(p));
  if (row0 < 0 || n < 0 || row0 > p->n_images - n)
    HP_ERROR(HP_ERR_INTERNAL, "synth: slice [%lld, %lld) outside 0..%lld", (long long)row0, (long long)(row0 + n),
             (long long)p->n_images);
  int64_t S = p->image_size, per_image = S * S * 3, bytes, ncap;
  if (hp_mul_i64(per_image, n, &bytes) || bytes > HP_SYNTH_MAX_SLICE_BYTES)
    HP_ERROR(HP_ERR_CONFIG,
             "synth: this rank would hold %lld images of %lldx%lld pixels = %.2f GiB, above the per-rank limit "
             "of %.0f GiB; lower synth.num_images or data.image_size, or run on more ranks",
             (long long)n, (long long)S, (long long)S, (double)per_image * (double)n / 1073741824.0,
             (double)HP_SYNTH_MAX_SLICE_BYTES / 1073741824.0);
  if (hp_mul_i64(n, p->captions_per_image, &ncap))
    HP_ERROR(HP_ERR_CONFIG, "synth.captions_per_image x synth.num_images overflows");
  out->row0 = row0;
  out->n = n;
  HP_CALLOC(out->images, bytes, "synth images");
  HP_CALLOC(out->split, n, "synth split");
  HP_CALLOC(out->source_id, n, "synth source ids");
  HP_CALLOC(out->labels, n * HP_SYNTH_NLABELS, "synth labels");
  HP_CALLOC(out->captions, ncap, "synth captions");
  HP_CALLOC(out->caption_image, ncap, "synth caption image index");
  out->n_captions = ncap;
  if (p->split_per_image) hp_split_assign_per_image(p->seed, p->train_frac, p->val_frac, row0, n, out->split);
  else HP_CALL(hp_split_assign(p->seed, p->n_images, p->train_frac, p->val_frac, row0, n, out->split));
  int cpi = (int)p->captions_per_image;
  for (int64_t r = 0; r < n; r++) {
    int64_t i = row0 + r;
    hp_synth_scene sc;
    hp_synth_scene_make(p->seed, i, (int)p->max_shapes, &sc);
    hp_synth_render(p->seed, i, &sc, (int)S, p->noise, out->images + r * per_image);
    hp_synth_labels(&sc, out->labels + r * HP_SYNTH_NLABELS);
    HP_CALL(hp_synth_captions(p->seed, i, &sc, cpi, out->captions + r * cpi));
    for (int k = 0; k < cpi; k++) out->caption_image[r * cpi + k] = i;
    char id[32];
    int len = snprintf(id, sizeof id, "synth:%lld", (long long)i);
    HP_CALLOC(out->source_id[r], len + 1, "synth source id");
    memcpy(out->source_id[r], id, (size_t)len + 1);
    if (prog && (r & 63) == 63) hp_progress_update(prog, (r + 1) * prog_scale);
  }
  return 0;
}
