/* image_resize.c — see image_resize.h. */
#include "ingest/image_resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

int hp_resize_mode_parse(const char *s, hp_resize_mode *out) {
  if (strcmp(s, "stretch") == 0) { *out = HP_RESIZE_STRETCH; return 0; }
  if (strcmp(s, "center_crop") == 0) { *out = HP_RESIZE_CENTER_CROP; return 0; }
  HP_ERROR(HP_ERR_CONFIG, "aspect mode \"%s\": expected \"stretch\" or \"center_crop\"", s);
}

const char *hp_resize_mode_name(hp_resize_mode m) {
  return m == HP_RESIZE_CENTER_CROP ? "center_crop" : "stretch";
}

void hp_resize_source_rect(int64_t w, int64_t h, hp_resize_mode mode, int64_t *x0, int64_t *y0,
                           int64_t *cw, int64_t *ch) {
  if (mode == HP_RESIZE_CENTER_CROP) {
    int64_t side = w < h ? w : h;
    *x0 = (w - side) / 2;
    *y0 = (h - side) / 2;
    *cw = *ch = side;
  } else {
    *x0 = *y0 = 0;
    *cw = w;
    *ch = h;
  }
}

/* Filter taps of one axis: output i uses inputs [start[i], start[i]+count[i]) with weights
 * w[i*win ...]. */
typedef struct {
  int64_t win;
  int64_t *start, *count;
  float *w;
} taps;

static void taps_free(taps *t) {
  free(t->start);
  free(t->count);
  free(t->w);
}

static int taps_make(int64_t in, int64_t out, taps *t) {
  memset(t, 0, sizeof *t);
  double scale = (double)in / (double)out;
  double fs = scale > 1.0 ? scale : 1.0; /* filter scale: widen when shrinking */
  double support = fs;                   /* triangle radius 1, scaled */
  t->win = (int64_t)ceil(2.0 * support) + 2;
  size_t nw;
  if (hp_mul_size((size_t)out, (size_t)t->win, &nw))
    HP_ERROR(HP_ERR_MEM, "resize filter: size overflow");
  HP_CALLOC(t->start, out, "resize filter");
  HP_CALLOC(t->count, out, "resize filter");
  HP_CALLOC(t->w, nw, "resize filter");
  for (int64_t i = 0; i < out; i++) {
    double center = ((double)i + 0.5) * scale;
    int64_t j0 = (int64_t)floor(center - support - 0.5);
    int64_t j1 = (int64_t)ceil(center + support - 0.5);
    if (j0 < 0) j0 = 0;
    if (j1 > in - 1) j1 = in - 1;
    double sum = 0.0;
    int64_t first = -1, n = 0;
    float *w = t->w + i * t->win;
    for (int64_t j = j0; j <= j1; j++) {
      double d = fabs(((double)j + 0.5 - center) / fs);
      double v = d < 1.0 ? 1.0 - d : 0.0;
      if (v <= 0.0) {
        if (first < 0) continue; /* leading zero taps */
        break;                   /* trailing zero taps */
      }
      if (first < 0) first = j;
      if (n >= t->win) break;    /* cannot happen: window covers 2*support + 2 */
      w[n++] = (float)v;
      sum += v;
    }
    if (first < 0 || sum <= 0.0) {
      /* Not reachable for in, out >= 1 (some input centre is always within radius >= 1);
       * fall back to the nearest pixel rather than dividing by zero. */
      int64_t j = (int64_t)floor(center);
      if (j > in - 1) j = in - 1;
      first = j;
      n = 1;
      w[0] = 1.0f;
      sum = 1.0;
    }
    /* Normalise in double, then make the float weights sum to exactly 1 as closely as possible
     * by putting the rounding residue on the largest tap. */
    double acc = 0.0;
    int64_t big = 0;
    for (int64_t k = 0; k < n; k++) {
      w[k] = (float)((double)w[k] / sum);
      acc += w[k];
      if (w[k] > w[big]) big = k;
    }
    w[big] = (float)((double)w[big] + (1.0 - acc));
    t->start[i] = first;
    t->count[i] = n;
  }
  return 0;
}

static uint8_t to_u8(float v) {
  if (!(v > 0.0f)) return 0; /* also NaN */
  if (v >= 255.0f) return 255;
  return (uint8_t)(v + 0.5f);
}

int hp_resize_rgb8(const uint8_t *src, int64_t stride, int64_t x0, int64_t y0, int64_t sw,
                   int64_t sh, int64_t dw, int64_t dh, uint8_t *dst) {
  if (sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0 || x0 < 0 || y0 < 0 || x0 + sw > stride)
    HP_ERROR(HP_ERR_INTERNAL, "resize: bad geometry (%lld,%lld %lldx%lld of stride %lld -> %lldx%lld)",
             (long long)x0, (long long)y0, (long long)sw, (long long)sh, (long long)stride,
             (long long)dw, (long long)dh);
  size_t ntmp;
  if (hp_mul_size((size_t)sh, (size_t)dw, &ntmp) || hp_mul_size(ntmp, 3, &ntmp))
    HP_ERROR(HP_ERR_MEM, "resize: size overflow (%lld x %lld)", (long long)sh, (long long)dw);
  taps tx, ty;
  HP_CALL(taps_make(sw, dw, &tx));
  int e = taps_make(sh, dh, &ty);
  if (e) {
    taps_free(&tx);
    HP_CALL(e);
  }
  float *tmp = malloc(ntmp * sizeof *tmp);
  if (!tmp) {
    taps_free(&tx);
    taps_free(&ty);
    HP_ERROR(HP_ERR_MEM, "resize: cannot allocate %.1f MiB", (double)ntmp * 4 / 1048576.0);
  }
  /* Horizontal pass: sh rows of the region -> sh x dw. */
  for (int64_t y = 0; y < sh; y++) {
    const uint8_t *row = src + ((size_t)(y0 + y) * (size_t)stride + (size_t)x0) * 3;
    float *o = tmp + (size_t)y * (size_t)dw * 3;
    for (int64_t i = 0; i < dw; i++) {
      const float *w = tx.w + i * tx.win;
      const uint8_t *p = row + (size_t)tx.start[i] * 3;
      float r = 0, g = 0, b = 0;
      for (int64_t k = 0; k < tx.count[i]; k++) {
        r += w[k] * p[3 * k];
        g += w[k] * p[3 * k + 1];
        b += w[k] * p[3 * k + 2];
      }
      o[3 * i] = r;
      o[3 * i + 1] = g;
      o[3 * i + 2] = b;
    }
  }
  /* Vertical pass: sh x dw -> dh x dw, one output row at a time (row-wise, cache friendly). */
  size_t rowlen = (size_t)dw * 3;
  float *acc = malloc(rowlen * sizeof *acc);
  if (!acc) {
    free(tmp);
    taps_free(&tx);
    taps_free(&ty);
    HP_ERROR(HP_ERR_MEM, "resize: cannot allocate a row buffer");
  }
  for (int64_t j = 0; j < dh; j++) {
    const float *w = ty.w + j * ty.win;
    for (size_t i = 0; i < rowlen; i++) acc[i] = 0.0f;
    for (int64_t k = 0; k < ty.count[j]; k++) {
      const float *t = tmp + (size_t)(ty.start[j] + k) * rowlen;
      float wk = w[k];
      for (size_t i = 0; i < rowlen; i++) acc[i] += wk * t[i];
    }
    uint8_t *o = dst + (size_t)j * rowlen;
    for (size_t i = 0; i < rowlen; i++) o[i] = to_u8(acc[i]);
  }
  free(acc);
  free(tmp);
  taps_free(&tx);
  taps_free(&ty);
  return 0;
}

int hp_image_resize(const hp_image *im, hp_resize_mode mode, int64_t size, uint8_t *dst) {
  int64_t x0, y0, cw, ch;
  hp_resize_source_rect(im->width, im->height, mode, &x0, &y0, &cw, &ch);
  HP_CALL(hp_resize_rgb8(im->rgb, im->width, x0, y0, cw, ch, size, size, dst));
  return 0;
}
