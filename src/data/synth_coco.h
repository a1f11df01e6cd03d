/* synth_coco.h — the synthetic scenes (synth_scene.h) as a folder in MS COCO 2017's original
 * layout, the input of a real `ingest` at any size. The pure parts, no MPI: which scene and
 * canvas an image has, its JPEG file, its annotations, and the four JSON files. The command that
 * spreads the images over the ranks and installs the folder is stages/synth_coco.c.
 *
 *   ROOT/train2017/%012lld.jpg       image k (0-based): scene k, id k + 1
 *   ROOT/val2017/%012lld.jpg         image k: scene HP_COCO_VAL_SCENE0 + k, id HP_COCO_VAL_ID0 + k
 *   ROOT/annotations/captions_SPLIT.json    {"info", "licenses", "images", "annotations"}
 *   ROOT/annotations/instances_SPLIT.json   {"info", "licenses", "images", "annotations", "categories"}
 *
 * So the validation set does not change with the training count, and a smaller training set is
 * a prefix of a larger one. Everything is a function of (seed, scene), whatever rank renders it.
 *   images       {"id", "file_name", "width", "height"}, in id order
 *   captions     {"id" = image id x 100 + c, "image_id", "caption"}: captions_per_image each
 *   categories   the 35 "colour type" pairs ("red circle"): id 1 + colour x 5 + type,
 *                supercategory = the type ("circle"); in id order
 *   instances    one per shape: {"id" = image id x 10 + shape, "image_id", "category_id",
 *                "bbox" [x, y, width, height] of the shape in pixels, "area" its exact area in
 *                pixels (2 decimals, as COCO), "iscrowd" 0}
 * Canvas: drawn per scene (stream HP_STREAM_SYNTH_COCO_SIZE) from COCO's common sizes — 640x480
 * 40 %, 640x427 24 %, 480x640 14 %, 427x640 10 %, 640x640 4 %, 640x360 4 %, 500x375 4 % —
 * scaled by long_side / 640 (rounded). The scene is rendered at that size (hp_synth_render_wh:
 * shapes keep their proportions), so edges are as sharp as at the small size.
 */
#ifndef HP_DATA_SYNTH_COCO_H
#define HP_DATA_SYNTH_COCO_H

#include <stdint.h>

#include "data/synth_scene.h"

enum { HP_COCO_TRAIN = 0, HP_COCO_VAL = 1 };
enum { HP_COCO_NCATEGORIES = HP_SYNTH_NCOLOURS * HP_SYNTH_NTYPES };
#define HP_COCO_VAL_SCENE0 ((int64_t)1 << 40)
#define HP_COCO_VAL_ID0 ((int64_t)1000000001)
#define HP_COCO_MAX_IMAGES ((int64_t)100000000) /* per split: train ids stay below the val ids */

typedef struct {
  uint64_t seed;               /* run.seed */
  int64_t n_train, n_val;      /* synth.coco_train_images, synth.coco_val_images */
  int64_t long_side;           /* synth.coco_long_side */
  int64_t quality;             /* synth.coco_jpeg_quality */
  int64_t captions_per_image;  /* synth.captions_per_image */
  int64_t max_shapes;          /* synth.max_shapes */
  double noise;                /* synth.noise */
} hp_coco_gen;

/* "train2017", "val2017". */
const char *hp_coco_split_dir(int split);

/* HP_ERR_CONFIG naming the key of a value out of range. */
int hp_coco_gen_check(const hp_coco_gen *g);

typedef struct {
  int64_t scene, id;
  int width, height;
  char file[32]; /* "%012lld.jpg" of id */
} hp_coco_image;

void hp_coco_image_of(const hp_coco_gen *g, int split, int64_t k, hp_coco_image *out);
/* Largest canvas in pixels (long_side squared): the size of a render buffer / 3. */
int64_t hp_coco_max_pixels(const hp_coco_gen *g);

/* Category id (1..35) of a shape; name and supercategory of an id. */
int hp_coco_category(const hp_synth_shape *s);
const char *hp_coco_category_name(int id);
const char *hp_coco_supercategory(int id);
/* Bounding box [x, y, w, h] and area of a shape on a w x h canvas, in pixels, 2 decimals. */
void hp_coco_shape_box(const hp_synth_shape *s, int w, int h, double bbox[4], double *area);

/* Encode rgb [h][w][3] as a baseline JPEG (libjpeg, 4:2:0) of this quality and write it to path.
 * Library errors are HP_ERR_INTERNAL, write errors HP_ERR_IO naming the path. */
int hp_jpeg_write_file(const char *path, const uint8_t *rgb, int w, int h, int quality);

/* Render image k of split into rgb (at least hp_coco_max_pixels * 3 bytes) and write it as
 * DIR/<file>, DIR being ROOT/SPLIT. */
int hp_coco_write_image(const hp_coco_gen *g, int split, int64_t k, const char *dir, uint8_t *rgb);

/* The JSON files of a split, written record by record (cJSON per record): memory does not grow
 * with the number of images. Write errors are HP_ERR_IO naming the path. */
int hp_coco_write_captions(const hp_coco_gen *g, int split, const char *path);
int hp_coco_write_instances(const hp_coco_gen *g, int split, const char *path);

#endif
