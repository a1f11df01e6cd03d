/* html.c — escaped text, base64 and embedded PNG images for the HTML writers (see html.h). */
#include "stages/html.h"

#include <inttypes.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

void hp_html_text(FILE *f, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
      case '<': fputs("&lt;", f); break;
      case '>': fputs("&gt;", f); break;
      case '&': fputs("&amp;", f); break;
      case '"': fputs("&quot;", f); break;
      case '\'': fputs("&#39;", f); break;
      default: fputc(*s, f);
    }
  }
}

void hp_html_base64(FILE *f, const uint8_t *p, size_t n) {
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
    fputc(b64[v >> 18 & 63], f);
    fputc(b64[v >> 12 & 63], f);
    fputc(i + 1 < n ? b64[v >> 6 & 63] : '=', f);
    fputc(i + 2 < n ? b64[v & 63] : '=', f);
  }
}

int hp_png_encode(const uint8_t *rgb, int64_t H, int64_t W, uint8_t **out, size_t *n) {
  png_image pi;
  memset(&pi, 0, sizeof pi);
  pi.version = PNG_IMAGE_VERSION;
  pi.width = (png_uint_32)W;
  pi.height = (png_uint_32)H;
  pi.format = PNG_FORMAT_RGB;
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&pi, NULL, &size, 0, rgb, (png_int_32)(W * 3), NULL) || !size) {
    png_image_free(&pi);
    HP_ERROR(HP_ERR_INTERNAL, "PNG size of a %" PRId64 "x%" PRId64 " image", H, W);
  }
  HP_CALLOC(*out, size, "PNG image");
  if (!png_image_write_to_memory(&pi, *out, &size, 0, rgb, (png_int_32)(W * 3), NULL)) {
    png_image_free(&pi);
    HP_ERROR(HP_ERR_INTERNAL, "PNG encoding: %s", pi.message);
  }
  png_image_free(&pi);
  *n = size;
  return 0;
}

int hp_html_img(FILE *f, const uint8_t *rgb, int64_t H, int64_t W, const char *alt, const char *cls) {
  uint8_t *png = NULL;
  size_t n = 0;
  HP_CALL(hp_png_encode(rgb, H, W, &png, &n));
  fprintf(f, "<img class=\"%s\" alt=\"", cls ? cls : "");
  hp_html_text(f, alt);
  fprintf(f, "\" width=\"%" PRId64 "\" height=\"%" PRId64 "\" src=\"data:image/png;base64,", W, H);
  hp_html_base64(f, png, n);
  fputs("\">", f);
  free(png);
  return 0;
}
