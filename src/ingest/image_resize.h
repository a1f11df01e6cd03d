/* image_resize.h — resize decoded RGB8 images to the dataset's S x S.
 *
 * Aspect handling (config data.aspect / ingest):
 *   "stretch"      the whole image is scaled to S x S, aspect ratio not kept (the study's).
 *   "center_crop"  the largest centred square is cut out (side min(W,H), offset
 *                  floor((W-side)/2), floor((H-side)/2)) and scaled to S x S.
 * Filter: separable triangle (bilinear) filter with antialiasing — when shrinking by a factor
 * f > 1 the triangle is widened to radius f input pixels, so every input pixel contributes
 * (area-weighted, no aliasing); when enlarging it is plain bilinear interpolation. Pixel
 * centres are aligned ((i + 0.5) * scale), weights are normalised per output pixel (so a
 * constant image stays exactly constant), computed in double, accumulated in float, rounded to
 * nearest and clamped to 0..255. Same idea as PIL's "BILINEAR" with reducing support.
 */
#ifndef HP_INGEST_IMAGE_RESIZE_H
#define HP_INGEST_IMAGE_RESIZE_H

#include <stdint.h>

#include "ingest/image_decode.h"

typedef enum { HP_RESIZE_STRETCH = 0, HP_RESIZE_CENTER_CROP = 1 } hp_resize_mode;

/* "stretch" | "center_crop"; HP_ERR_CONFIG otherwise. */
int hp_resize_mode_parse(const char *s, hp_resize_mode *out);
const char *hp_resize_mode_name(hp_resize_mode m);

/* The source rectangle the mode uses for a W x H image. */
void hp_resize_source_rect(int64_t w, int64_t h, hp_resize_mode mode, int64_t *x0, int64_t *y0,
                           int64_t *cw, int64_t *ch);

/* Resize the region [x0, x0+sw) x [y0, y0+sh) of an RGB8 image with row stride `stride`
 * pixels (src points at the image's pixel (0,0)) to dw x dh, written to dst [dh][dw][3]. */
int hp_resize_rgb8(const uint8_t *src, int64_t stride, int64_t x0, int64_t y0, int64_t sw,
                   int64_t sh, int64_t dw, int64_t dh, uint8_t *dst);

/* Resize a decoded image to size x size with the aspect mode; dst [size][size][3]. */
int hp_image_resize(const hp_image *im, hp_resize_mode mode, int64_t size, uint8_t *dst);

#endif
