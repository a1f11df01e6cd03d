/* search_png.c — see search_png.h. PNG encoding by libpng's simplified write API. */
#include "stages/search_png.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/tmpfile.h"
#include "io/dataset.h"

static int64_t zoom(int64_t H, int64_t W) {
  int64_t m = H > W ? H : W;
  return m >= HP_PNG_TARGET ? 1 : (HP_PNG_TARGET + m - 1) / m;
}

void hp_search_png_size(int64_t H, int64_t W, int rows, int cols, int64_t *width, int64_t *height) {
  int64_t z = zoom(H, W);
  *width = cols * (W * z + 2 * HP_PNG_BORDER) + (cols + 1) * HP_PNG_GAP;
  *height = rows * (H * z + 2 * HP_PNG_BORDER) + (rows + 1) * HP_PNG_GAP;
}

static void fill(uint8_t *buf, int64_t stride, int64_t x0, int64_t y0, int64_t w, int64_t h, const uint8_t c[3]) {
  for (int64_t y = y0; y < y0 + h; y++)
    for (int64_t x = x0; x < x0 + w; x++) memcpy(buf + y * stride + x * 3, c, 3);
}

/* rank 0: compose and write */
static int write_png(const char *png, int64_t H, int64_t W, int rows, int cols, const int64_t *ids,
                     const uint8_t *rel, const uint8_t *img) {
  static const uint8_t white[3] = {255, 255, 255}, green[3] = {0, 170, 0}, red[3] = {220, 0, 0},
                       grey[3] = {160, 160, 160}, light[3] = {224, 224, 224};
  int64_t z = zoom(H, W), width, height;
  hp_search_png_size(H, W, rows, cols, &width, &height);
  if (width > 65535 || height > 65535) HP_ERROR(HP_ERR_INPUT, "%s: images of %lldx%lld too large for the grid", png, (long long)H, (long long)W);
  const int64_t stride = width * 3, cw = W * z + 2 * HP_PNG_BORDER, ch = H * z + 2 * HP_PNG_BORDER;
  uint8_t *buf = NULL;
  HP_CALLOC(buf, (size_t)(stride * height), "PNG grid pixels");
  fill(buf, stride, 0, 0, width, height, white);
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++) {
      int64_t x0 = HP_PNG_GAP + c * (cw + HP_PNG_GAP), y0 = HP_PNG_GAP + r * (ch + HP_PNG_GAP);
      int s = r * cols + c;
      fill(buf, stride, x0, y0, cw, ch, ids[s] < 0 ? grey : rel[s] ? green : red);
      x0 += HP_PNG_BORDER;
      y0 += HP_PNG_BORDER;
      if (ids[s] < 0) {
        fill(buf, stride, x0, y0, W * z, H * z, light);
        continue;
      }
      const uint8_t *src = img + (size_t)s * (size_t)(H * W * 3);
      for (int64_t y = 0; y < H * z; y++)
        for (int64_t x = 0; x < W * z; x++) memcpy(buf + (y0 + y) * stride + (x0 + x) * 3, src + ((y / z) * W + x / z) * 3, 3);
    }
  char tmp[4200];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", png) >= (int)sizeof tmp) HP_ERROR(HP_ERR_USAGE, "%s: path too long", png);
  png_image pi;
  memset(&pi, 0, sizeof pi);
  pi.version = PNG_IMAGE_VERSION;
  pi.width = (png_uint_32)width;
  pi.height = (png_uint_32)height;
  pi.format = PNG_FORMAT_RGB;
  hp_tmpfile_register(tmp);
  errno = 0;
  int ok = png_image_write_to_file(&pi, tmp, 0, buf, (png_int_32)stride, NULL);
  int e = errno; /* libpng's "Write Error" does not say why; the failed fwrite left errno */
  free(buf);
  if (!ok || PNG_IMAGE_FAILED(pi)) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s", pi.message);
    png_image_free(&pi);
    remove(tmp);
    hp_tmpfile_unregister(tmp);
    HP_ERROR(HP_ERR_IO, "cannot write %s: %s%s%s%s", tmp, msg[0] ? msg : "libpng failed", e ? " (" : "",
             e ? strerror(e) : "", e ? ")" : "");
  }
  png_image_free(&pi);
  if (rename(tmp, png) != 0) HP_ERROR(HP_ERR_IO, "cannot rename %s to %s: %s", tmp, png, strerror(errno));
  hp_tmpfile_unregister(tmp);
  return 0;
}

int hp_search_png(MPI_Comm comm, const char *dataset, const char *png, int rows, int cols, const int64_t *ids,
                  const uint8_t *rel) {
  int rank;
  HP_MPI(MPI_Comm_rank(comm, &rank));
  hp_dataset *ds = NULL;
  HP_CALL(hp_dataset_open(comm, dataset, &ds));
  hp_dataset_dims d = hp_dataset_get_dims(ds);
  const int n = rows * cols;
  const size_t one = (size_t)(d.height * d.width * 3);
  uint8_t *img = NULL;
  HP_CALLOC(img, (size_t)n * one, "top-k images");
  int err = 0;
  for (int s = 0; s < n && !err; s++) {
    if (ids[s] >= d.n_images) {
      err = HP_ERROR_SET(HP_ERR_INPUT,
                         "%s: image %lld retrieved by the search is beyond its %lld images (dataset.h5 and "
                         "embeddings.h5 do not match: rerun embed)",
                         dataset, (long long)ids[s], (long long)d.n_images);
      break;
    }
    if (ids[s] < 0) continue;
    /* collective: rank 0 reads the one row, the others nothing */
    err = hp_dataset_read_images(ds, rank == 0 ? ids[s] : 0, rank == 0 ? 1 : 0, img + (size_t)s * one);
  }
  if (!err && rank == 0) err = write_png(png, d.height, d.width, rows, cols, ids, rel, img);
  free(img);
  hp_dataset_close(ds);
  HP_CALL(hp_agree(comm, err));
  return 0;
}
