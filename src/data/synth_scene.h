/* synth_scene.h — the pure parts of the synthetic dataset (no MPI, no HDF5): scenes, rendering,
 * captions, labels, and a whole slice of images. Everything is a function of (seed, image index)
 * through the counter-based RNG, so any rank renders any image identically.
 *
 * A scene holds 1..max_shapes shapes in image-independent coordinates (unit square, y down),
 * so the same scene renders at any resolution. Each shape has a type, a colour, a size class
 * (small / large) and a position; positions are rejection-sampled so that shapes do not
 * overlap, and no two shapes of a scene share both colour and type (captions stay unambiguous).
 */
#ifndef HP_DATA_SYNTH_SCENE_H
#define HP_DATA_SYNTH_SCENE_H

#include <stdint.h>

#include "base/log.h"

enum { HP_SYNTH_CIRCLE, HP_SYNTH_SQUARE, HP_SYNTH_TRIANGLE, HP_SYNTH_CROSS, HP_SYNTH_DIAMOND, HP_SYNTH_NTYPES };
enum { HP_SYNTH_NCOLOURS = 7, HP_SYNTH_MAX_SHAPES = 3, HP_SYNTH_MIN_SIZE = 16 };
/* Labels: every type, every colour, every "colour type" pair, in that order. */
enum { HP_SYNTH_NLABELS = HP_SYNTH_NTYPES + HP_SYNTH_NCOLOURS + HP_SYNTH_NCOLOURS * HP_SYNTH_NTYPES };

typedef struct {
  int type, colour, large;
  double cx, cy; /* centre, unit square, y down */
  double r;      /* bounding radius (unit square): the shape lies inside this disc */
  double shade;  /* brightness factor of the colour, near 1 */
} hp_synth_shape;

typedef struct {
  int n;
  hp_synth_shape s[HP_SYNTH_MAX_SHAPES];
  double bg;         /* background gray level (0..255) */
  double gx, gy;     /* background gradient (gray levels across the image) */
} hp_synth_scene;

/* Names: "circle", ..., "red", ..., label names "circle" .. "red circle". */
const char *hp_synth_type_name(int type);
const char *hp_synth_colour_name(int colour);
const char *hp_synth_label_name(int label);
void hp_synth_colour_rgb(int colour, uint8_t rgb[3]);

/* Scene of image i (RNG keyed (seed, HP_STREAM_SYNTH_SCENE, i)). max_shapes in 1..3. */
void hp_synth_scene_make(uint64_t seed, int64_t i, int max_shapes, hp_synth_scene *sc);

/* Render into rgb[size*size*3] (row-major, RGB), size >= HP_SYNTH_MIN_SIZE. Edges are
 * anti-aliased (coverage from the signed distance); noise is the amplitude of uniform per-pixel
 * noise as a fraction of full scale (RNG keyed (seed, HP_STREAM_SYNTH_NOISE, i), counter = byte
 * index). */
void hp_synth_render(uint64_t seed, int64_t i, const hp_synth_scene *sc, int size, double noise,
                     uint8_t *rgb);
/* The same scene on a w x h canvas (w, h >= HP_SYNTH_MIN_SIZE; rgb[h*w*3]): the background
 * stretches, the shapes keep their proportions (scaled by min(w, h), centres at (cx w, cy h)),
 * so they stay apart and inside the image and the captions' positions stay true. w = h = size
 * gives exactly hp_synth_render's bytes. */
void hp_synth_render_wh(uint64_t seed, int64_t i, const hp_synth_scene *sc, int w, int h, double noise,
                        uint8_t *rgb);
/* Signed distance (unit square) from (x, y) to shape s: < 0 inside. */
double hp_synth_shape_sdf(const hp_synth_shape *s, double x, double y);

/* ncap distinct-where-possible captions of image i (RNG keyed (seed, HP_STREAM_SYNTH_CAPTION, i)),
 * each naming every shape's colour and type; out[k] is allocated (caller frees). */
int hp_synth_captions(uint64_t seed, int64_t i, const hp_synth_scene *sc, int ncap, char **out);

/* Multi-hot row[HP_SYNTH_NLABELS]. */
void hp_synth_labels(const hp_synth_scene *sc, uint8_t *row);

/* ---- a slice of the dataset ----------------------------------------------------------------- */
typedef struct {
  uint64_t seed;               /* run.seed */
  int64_t n_images;            /* synth.num_images */
  int64_t image_size;          /* data.image_size */
  int64_t captions_per_image;  /* synth.captions_per_image */
  int64_t max_shapes;          /* synth.max_shapes */
  double noise;                /* synth.noise */
  double train_frac, val_frac, test_frac; /* data.*_frac */
  int split_per_image;         /* data.split_rule = "per_image" (split.h) */
} hp_synth_params;

/* Per-rank limit on the pixel memory of one slice. */
#define HP_SYNTH_MAX_SLICE_BYTES ((int64_t)4 << 30)

/* HP_ERR_CONFIG naming the config key of any parameter out of range. */
int hp_synth_check(const hp_synth_params *p);

typedef struct {
  int64_t row0, n;
  uint8_t *images;        /* [n, S, S, 3] */
  uint8_t *split;         /* [n] */
  char **source_id;       /* [n] "synth:<i>" */
  uint8_t *labels;        /* [n, HP_SYNTH_NLABELS] */
  int64_t n_captions;     /* n * captions_per_image */
  char **captions;        /* [n_captions] */
  int64_t *caption_image; /* [n_captions] global image index */
} hp_synth_slice;

/* Images [row0, row0 + n). prog (may be NULL) is updated with done * prog_scale. */
int hp_synth_make_slice(const hp_synth_params *p, int64_t row0, int64_t n, hp_synth_slice *out,
                        hp_progress *prog, int prog_scale);
void hp_synth_slice_free(hp_synth_slice *s);

#endif
