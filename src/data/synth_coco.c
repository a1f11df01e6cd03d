/* synth_coco.c — the synthetic scenes in COCO 2017's layout (see synth_coco.h).
 *
 * setjmp discipline (libjpeg's errors): the encoder keeps all its state in a struct that
 * outlives the longjmp; the function containing setjmp only returns a status, and its caller
 * cleans up (as ingest/image_decode.c). */
#include "data/synth_coco.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <jpeglib.h>

#include "base/error.h"
#include "base/rng.h"
#include "base/watchdog.h"

static const char *const split_dirs[2] = {"train2017", "val2017"};

const char *hp_coco_split_dir(int split) { return split_dirs[split == HP_COCO_VAL]; }

int hp_coco_gen_check(const hp_coco_gen *g) {
  if (g->n_train < 1 || g->n_train > HP_COCO_MAX_IMAGES)
    HP_ERROR(HP_ERR_CONFIG, "synth.coco_train_images = %lld: must be in 1 .. %lld", (long long)g->n_train,
             (long long)HP_COCO_MAX_IMAGES);
  if (g->n_val < 0 || g->n_val > HP_COCO_MAX_IMAGES)
    HP_ERROR(HP_ERR_CONFIG, "synth.coco_val_images = %lld: must be in 0 .. %lld", (long long)g->n_val,
             (long long)HP_COCO_MAX_IMAGES);
  if (g->long_side < 64 || g->long_side > 4096)
    HP_ERROR(HP_ERR_CONFIG, "synth.coco_long_side = %lld: must be in 64 .. 4096 pixels", (long long)g->long_side);
  if (g->quality < 1 || g->quality > 100)
    HP_ERROR(HP_ERR_CONFIG, "synth.coco_jpeg_quality = %lld: must be in 1 .. 100", (long long)g->quality);
  if (g->captions_per_image < 1 || g->captions_per_image > 20)
    HP_ERROR(HP_ERR_CONFIG, "synth.captions_per_image = %lld: must be in 1 .. 20 (caption ids are image id x 100 + c)",
             (long long)g->captions_per_image);
  if (g->max_shapes < 1 || g->max_shapes > HP_SYNTH_MAX_SHAPES)
    HP_ERROR(HP_ERR_CONFIG, "synth.max_shapes = %lld: must be in 1 .. %d", (long long)g->max_shapes, HP_SYNTH_MAX_SHAPES);
  if (!(g->noise >= 0 && g->noise <= 1))
    HP_ERROR(HP_ERR_CONFIG, "synth.noise = %g: must be in [0, 1] (fraction of full scale)", g->noise);
  return 0;
}

/* ---- images --------------------------------------------------------------------------------- */

/* COCO 2017's common canvases at long side 640, with their share in percent. */
static const struct {
  int w, h, pct;
} canvases[] = {{640, 480, 40}, {640, 427, 24}, {480, 640, 14}, {427, 640, 10},
                {640, 640, 4},  {640, 360, 4},  {500, 375, 4}};

void hp_coco_image_of(const hp_coco_gen *g, int split, int64_t k, hp_coco_image *out) {
  memset(out, 0, sizeof *out);
  out->scene = split == HP_COCO_VAL ? HP_COCO_VAL_SCENE0 + k : k;
  out->id = split == HP_COCO_VAL ? HP_COCO_VAL_ID0 + k : k + 1;
  hp_rng rng = hp_rng_make(g->seed, HP_STREAM_SYNTH_COCO_SIZE, (uint64_t)out->scene);
  int v = (int)hp_rng_below(&rng, 100), c = 0;
  while (v >= canvases[c].pct) v -= canvases[c++].pct;
  int64_t L = g->long_side;
  out->width = (int)((canvases[c].w * L + 320) / 640);
  out->height = (int)((canvases[c].h * L + 320) / 640);
  snprintf(out->file, sizeof out->file, "%012lld.jpg", (long long)out->id);
}

int64_t hp_coco_max_pixels(const hp_coco_gen *g) { return g->long_side * g->long_side; }

int hp_coco_category(const hp_synth_shape *s) { return 1 + s->colour * HP_SYNTH_NTYPES + s->type; }

const char *hp_coco_category_name(int id) {
  if (id < 1 || id > HP_COCO_NCATEGORIES) return "?";
  return hp_synth_label_name(HP_SYNTH_NTYPES + HP_SYNTH_NCOLOURS + id - 1);
}

const char *hp_coco_supercategory(int id) {
  if (id < 1 || id > HP_COCO_NCATEGORIES) return "?";
  return hp_synth_type_name((id - 1) % HP_SYNTH_NTYPES);
}

static double round2(double v) { return floor(v * 100.0 + 0.5) / 100.0; }

/* Half extents and area in units of the bounding radius r, from hp_synth_shape_sdf's shapes. */
void hp_coco_shape_box(const hp_synth_shape *s, int w, int h, double bbox[4], double *area) {
  const double pi = 3.14159265358979323846, s3 = 1.7320508075688772;
  double hx, hy, a;
  switch (s->type) {
    case HP_SYNTH_CIRCLE: hx = hy = 0.92; a = pi * 0.92 * 0.92; break;
    case HP_SYNTH_SQUARE: hx = hy = 0.70; a = 1.40 * 1.40; break;
    case HP_SYNTH_TRIANGLE: /* circumradius R = 0.98 r, apex up, bounding box centred */
      hx = 0.98 * s3 / 2; hy = 0.98 * 0.75; a = 0.75 * s3 * 0.98 * 0.98; break;
    case HP_SYNTH_CROSS: hx = hy = 0.92; a = 2 * 1.84 * 0.56 - 0.56 * 0.56; break;
    default: hx = hy = 0.95; a = 2 * 0.95 * 0.95; break; /* diamond */
  }
  double m = w < h ? w : h, R = s->r * m, px = s->cx * w, py = s->cy * h;
  bbox[0] = round2(px - hx * R);
  bbox[1] = round2(py - hy * R);
  bbox[2] = round2(2 * hx * R);
  bbox[3] = round2(2 * hy * R);
  *area = round2(a * R * R);
}

/* ---- JPEG ----------------------------------------------------------------------------------- */

typedef struct {
  struct jpeg_error_mgr pub;
  jmp_buf jb;
  char msg[JMSG_LENGTH_MAX];
} jerr;

static void j_error_exit(j_common_ptr c) {
  jerr *e = (jerr *)c->err;
  (*c->err->format_message)(c, e->msg);
  longjmp(e->jb, 1);
}

/* Everything the encoder touches after setjmp lives here, set before it. */
typedef struct {
  struct jpeg_compress_struct c;
  jerr err;
  unsigned char *buf;
  unsigned long len;
  const uint8_t *rgb;
  int w, h, quality;
} jenc;

static int jpeg_encode(jenc *j) {
  j->c.err = jpeg_std_error(&j->err.pub);
  j->err.pub.error_exit = j_error_exit;
  if (setjmp(j->err.jb)) return 1;
  jpeg_create_compress(&j->c);
  jpeg_mem_dest(&j->c, &j->buf, &j->len);
  j->c.image_width = (JDIMENSION)j->w;
  j->c.image_height = (JDIMENSION)j->h;
  j->c.input_components = 3;
  j->c.in_color_space = JCS_RGB;
  jpeg_set_defaults(&j->c);
  jpeg_set_quality(&j->c, j->quality, TRUE);
  jpeg_start_compress(&j->c, TRUE);
  while (j->c.next_scanline < j->c.image_height) {
    JSAMPROW row = (JSAMPROW)(uintptr_t)(j->rgb + (size_t)j->c.next_scanline * (size_t)j->w * 3);
    jpeg_write_scanlines(&j->c, &row, 1);
  }
  jpeg_finish_compress(&j->c);
  return 0;
}

int hp_jpeg_write_file(const char *path, const uint8_t *rgb, int w, int h, int quality) {
  jenc *j = NULL;
  HP_CALLOC(j, 1, "JPEG encoder");
  j->rgb = rgb;
  j->w = w;
  j->h = h;
  j->quality = quality;
  int bad = jpeg_encode(j);
  jpeg_destroy_compress(&j->c);
  int e = 0;
  if (bad) e = HP_ERROR_SET(HP_ERR_INTERNAL, "%s: JPEG encoding failed: %s", path, j->err.msg);
  FILE *f = NULL;
  if (!e && !(f = fopen(path, "wb"))) e = HP_ERROR_SET(HP_ERR_IO, "cannot create %s: %s", path, strerror(errno));
  if (!e && fwrite(j->buf, 1, j->len, f) != j->len)
    e = HP_ERROR_SET(HP_ERR_IO, "cannot write %s: %s", path, strerror(errno));
  if (f && fclose(f) != 0 && !e) e = HP_ERROR_SET(HP_ERR_IO, "cannot write %s: %s", path, strerror(errno));
  free(j->buf);
  free(j);
  HP_CALL(e);
  return 0;
}

int hp_coco_write_image(const hp_coco_gen *g, int split, int64_t k, const char *dir, uint8_t *rgb) {
  hp_coco_image im;
  hp_synth_scene sc;
  hp_coco_image_of(g, split, k, &im);
  hp_synth_scene_make(g->seed, im.scene, (int)g->max_shapes, &sc);
  hp_synth_render_wh(g->seed, im.scene, &sc, im.width, im.height, g->noise, rgb);
  char path[4200];
  if (snprintf(path, sizeof path, "%s/%s", dir, im.file) >= (int)sizeof path)
    HP_ERROR(HP_ERR_IO, "%s: path too long", dir);
  HP_CALL(hp_jpeg_write_file(path, rgb, im.width, im.height, (int)g->quality));
  return 0;
}

/* ---- JSON, one record at a time ------------------------------------------------------------- */

typedef struct {
  FILE *f;
  const char *path;
  int bad, first; /* bad: a write failed (errno kept in err); first: no element in the array yet */
  int err;
} jw;

static void jw_raw(jw *w, const char *s) {
  if (!w->bad && fputs(s, w->f) == EOF) {
    w->bad = 1;
    w->err = errno;
  }
}

/* Print one element of the array being written (comma-separated), then free it. */
static int jw_item(jw *w, cJSON *item, int ok) {
  char *s = ok && item ? cJSON_PrintUnformatted(item) : NULL;
  cJSON_Delete(item);
  if (!s) HP_ERROR(HP_ERR_MEM, "%s: out of memory building a JSON record", w->path);
  if (!w->first) jw_raw(w, ",");
  w->first = 0;
  jw_raw(w, s);
  cJSON_free(s);
  if (w->bad) HP_ERROR(HP_ERR_IO, "cannot write %s: %s", w->path, strerror(w->err));
  return 0;
}

static void jw_array(jw *w, const char *name) {
  jw_raw(w, "\"");
  jw_raw(w, name);
  jw_raw(w, "\":[");
  w->first = 1;
}

static int put_head(jw *w) {
  cJSON *info = cJSON_CreateObject();
  int ok = info && cJSON_AddStringToObject(info, "description", "hpclip synthetic scenes in COCO 2017 layout") &&
           cJSON_AddStringToObject(info, "version", "1.0") &&
           cJSON_AddStringToObject(info, "contributor", "hpclip synth-coco");
  jw_raw(w, "{\"info\":");
  w->first = 1;
  HP_CALL(jw_item(w, info, ok));
  jw_raw(w, ",\"licenses\":[],");
  return 0;
}

static int put_images(jw *w, const hp_coco_gen *g, int split) {
  int64_t n = split == HP_COCO_VAL ? g->n_val : g->n_train;
  jw_array(w, "images");
  for (int64_t k = 0; k < n; k++) {
    hp_coco_image im;
    hp_coco_image_of(g, split, k, &im);
    cJSON *o = cJSON_CreateObject();
    int ok = o && cJSON_AddNumberToObject(o, "id", (double)im.id) && cJSON_AddStringToObject(o, "file_name", im.file) &&
             cJSON_AddNumberToObject(o, "width", im.width) && cJSON_AddNumberToObject(o, "height", im.height);
    HP_CALL(jw_item(w, o, ok));
    if ((k & 4095) == 4095) hp_watch_beat();
  }
  jw_raw(w, "]");
  return 0;
}

static int put_captions(jw *w, const hp_coco_gen *g, int split) {
  int64_t n = split == HP_COCO_VAL ? g->n_val : g->n_train;
  int cpi = (int)g->captions_per_image;
  char *caps[20];
  jw_array(w, "annotations");
  for (int64_t k = 0; k < n; k++) {
    hp_coco_image im;
    hp_synth_scene sc;
    hp_coco_image_of(g, split, k, &im);
    hp_synth_scene_make(g->seed, im.scene, (int)g->max_shapes, &sc);
    HP_CALL(hp_synth_captions(g->seed, im.scene, &sc, cpi, caps));
    int e = 0;
    for (int c = 0; c < cpi && !e; c++) {
      cJSON *o = cJSON_CreateObject();
      int ok = o && cJSON_AddNumberToObject(o, "id", (double)(im.id * 100 + c)) &&
               cJSON_AddNumberToObject(o, "image_id", (double)im.id) && cJSON_AddStringToObject(o, "caption", caps[c]);
      e = jw_item(w, o, ok);
    }
    for (int c = 0; c < cpi; c++) free(caps[c]);
    HP_CALL(e);
    if ((k & 4095) == 4095) hp_watch_beat();
  }
  jw_raw(w, "]");
  return 0;
}

static int put_instances(jw *w, const hp_coco_gen *g, int split) {
  int64_t n = split == HP_COCO_VAL ? g->n_val : g->n_train;
  jw_array(w, "annotations");
  for (int64_t k = 0; k < n; k++) {
    hp_coco_image im;
    hp_synth_scene sc;
    hp_coco_image_of(g, split, k, &im);
    hp_synth_scene_make(g->seed, im.scene, (int)g->max_shapes, &sc);
    for (int s = 0; s < sc.n; s++) {
      double b[4], area;
      hp_coco_shape_box(&sc.s[s], im.width, im.height, b, &area);
      cJSON *o = cJSON_CreateObject();
      int ok = o && cJSON_AddNumberToObject(o, "id", (double)(im.id * 10 + s)) &&
               cJSON_AddNumberToObject(o, "image_id", (double)im.id) &&
               cJSON_AddNumberToObject(o, "category_id", hp_coco_category(&sc.s[s]));
      cJSON *bb = ok ? cJSON_CreateDoubleArray(b, 4) : NULL;
      ok = ok && bb && cJSON_AddItemToObject(o, "bbox", bb);
      if (!ok) cJSON_Delete(bb); /* not attached */
      ok = ok && cJSON_AddNumberToObject(o, "area", area) && cJSON_AddNumberToObject(o, "iscrowd", 0);
      HP_CALL(jw_item(w, o, ok));
    }
    if ((k & 4095) == 4095) hp_watch_beat();
  }
  jw_raw(w, "]");
  return 0;
}

static int put_categories(jw *w) {
  jw_array(w, "categories");
  for (int id = 1; id <= HP_COCO_NCATEGORIES; id++) {
    cJSON *o = cJSON_CreateObject();
    int ok = o && cJSON_AddNumberToObject(o, "id", id) && cJSON_AddStringToObject(o, "name", hp_coco_category_name(id)) &&
             cJSON_AddStringToObject(o, "supercategory", hp_coco_supercategory(id));
    HP_CALL(jw_item(w, o, ok));
  }
  jw_raw(w, "]");
  return 0;
}

/* The body of one file; instances = 0: captions. */
static int put_file(jw *w, const hp_coco_gen *g, int split, int instances) {
  HP_CALL(put_head(w));
  HP_CALL(put_images(w, g, split));
  jw_raw(w, ",");
  if (instances) {
    HP_CALL(put_instances(w, g, split));
    jw_raw(w, ",");
    HP_CALL(put_categories(w));
  } else {
    HP_CALL(put_captions(w, g, split));
  }
  jw_raw(w, "}\n");
  return 0;
}

static int write_json(const hp_coco_gen *g, int split, const char *path, int instances) {
  jw w = {.path = path};
  if (!(w.f = fopen(path, "w"))) HP_ERROR(HP_ERR_IO, "cannot create %s: %s", path, strerror(errno));
  int e = put_file(&w, g, split, instances);
  if (!e && w.bad) e = HP_ERROR_SET(HP_ERR_IO, "cannot write %s: %s", path, strerror(w.err));
  if (fclose(w.f) != 0 && !e) e = HP_ERROR_SET(HP_ERR_IO, "cannot write %s: %s", path, strerror(errno));
  HP_CALL(e);
  return 0;
}

int hp_coco_write_captions(const hp_coco_gen *g, int split, const char *path) {
  HP_CALL(write_json(g, split, path, 0));
  return 0;
}

int hp_coco_write_instances(const hp_coco_gen *g, int split, const char *path) {
  HP_CALL(write_json(g, split, path, 1));
  return 0;
}
