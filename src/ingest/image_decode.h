/* image_decode.h — decode JPEG and PNG files to 8-bit RGB, robustly.
 *
 * The format is detected from the first bytes (magic numbers), never from the file name, so PNG
 * data in a ".jpg" file decodes as PNG. Decoders: libjpeg-turbo and libpng, each with an error
 * handler that turns every library error into an ordinary HP_ERR_INPUT error (setjmp/longjmp),
 * so corrupt input never ends the process. Messages are "NAME: reason", e.g.
 *   "val2017/1.jpg: truncated JPEG data (Premature end of JPEG file)".
 *
 * Conversions to RGB8:
 *   JPEG  YCbCr/RGB -> RGB; greyscale -> R=G=B; CMYK and YCCK -> RGB by
 *         R = (255-C)(255-K)/255 (same for G/M, B/Y), where files with an Adobe APP14 marker
 *         (Photoshop and most CMYK writers) store inverted values, R = C*K/255.
 *         Corrupt entropy-coded data (libjpeg's "Corrupt JPEG data" warnings about bad codes,
 *         resynchronisation, premature end of data) is an error, not a grey-filled image.
 *         Harmless warnings (extraneous bytes before a marker, unknown JFIF revision) are not.
 *   PNG   palette -> RGB; greyscale of 1/2/4 bits -> 8 bits; 16-bit -> 8-bit by rounding
 *         (png_set_scale_16); tRNS -> alpha; alpha (and grey+alpha) is composited over WHITE:
 *         out = (c*a + 255*(255-a) + 127) / 255. Interlaced images are supported. No gamma or
 *         ICC colour management (values as stored, like common ML loaders).
 * Limits (checked from the header, before any pixel memory is allocated): width and height
 * <= max_side, width*height <= max_pixels, file size <= max_file_bytes, at most max_scans
 * progressive JPEG scans (a tiny file with thousands of scans is a decompression bomb).
 */
#ifndef HP_INGEST_IMAGE_DECODE_H
#define HP_INGEST_IMAGE_DECODE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { HP_IMG_UNKNOWN = 0, HP_IMG_JPEG = 1, HP_IMG_PNG = 2 } hp_image_format;

typedef struct {
  int64_t width, height;
  uint8_t *rgb; /* [height][width][3], row-major */
} hp_image;

typedef struct {
  int64_t max_side;       /* default 30000 */
  int64_t max_pixels;     /* default 50e6 */
  size_t max_file_bytes;  /* default 256 MiB */
  int max_scans;          /* default 1000 progressive JPEG scans */
  /* Speed hint, 0 = off (default): a JPEG may be decoded at 1/2, 1/4 or 1/8 scale in the DCT
   * domain (libjpeg scale_denom), choosing the smallest scale whose shorter side is still
   * >= min_side pixels. ingest sets it to 2 x data.image_size, so a 2400x1800 photo headed for
   * 128x128 is decoded at 300x225 and then filtered (like PIL's draft mode). The size limits
   * above always apply to the full, unscaled size. PNG ignores it. */
  int64_t min_side;
} hp_decode_limits;

void hp_decode_limits_default(hp_decode_limits *lim);

/* Format from the first bytes (needs 8 bytes for PNG, 3 for JPEG). */
hp_image_format hp_image_sniff(const uint8_t *data, size_t n);

/* Decode data[0..n) (name is used in messages). lim NULL = defaults. On failure out is empty
 * and the error is HP_ERR_INPUT (bad data) or HP_ERR_MEM. */
int hp_image_decode_mem(const uint8_t *data, size_t n, const char *name,
                        const hp_decode_limits *lim, hp_image *out);

/* Read and decode a file; messages name `path`. A missing file is HP_ERR_INPUT. */
int hp_image_decode_file(const char *path, const hp_decode_limits *lim, hp_image *out);

void hp_image_free(hp_image *im);

#endif
