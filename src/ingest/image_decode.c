/* image_decode.c — see image_decode.h.
 *
 * setjmp discipline: each decoder keeps ALL state that is changed after setjmp in a struct that
 * belongs to the calling function (passed by pointer), so nothing is indeterminate after a
 * longjmp; the function containing setjmp only returns a status, and its caller cleans up. */
#define _POSIX_C_SOURCE 200809L
#include "ingest/image_decode.h"

#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include "base/error.h"
#include "ingest/util.h"

void hp_decode_limits_default(hp_decode_limits *lim) {
  lim->max_side = 30000;
  lim->max_pixels = 50000000;
  lim->max_file_bytes = (size_t)256 << 20;
  lim->max_scans = 1000;
  lim->min_side = 0;
}

void hp_image_free(hp_image *im) {
  if (!im) return;
  free(im->rgb);
  memset(im, 0, sizeof *im);
}

hp_image_format hp_image_sniff(const uint8_t *d, size_t n) {
  static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return HP_IMG_JPEG;
  if (n >= 8 && memcmp(d, png_magic, 8) == 0) return HP_IMG_PNG;
  return HP_IMG_UNKNOWN;
}

static const char *other_format_name(const uint8_t *d, size_t n) {
  if (n >= 4 && memcmp(d, "GIF8", 4) == 0) return "GIF";
  if (n >= 2 && d[0] == 'B' && d[1] == 'M') return "BMP";
  if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0) return "WebP";
  if (n >= 4 && (memcmp(d, "II*\0", 4) == 0 || memcmp(d, "MM\0*", 4) == 0)) return "TIFF";
  if (n >= 2 && d[0] == 0xFF && d[1] == 0xD8) return "damaged JPEG (SOI not followed by a marker)";
  if (n >= 4 && d[0] == 0x89 && d[1] == 'P' && d[2] == 'N' && d[3] == 'G')
    return "damaged PNG signature";
  if (n >= 5 && (memcmp(d, "<?xml", 5) == 0 || memcmp(d, "<html", 5) == 0 ||
                 memcmp(d, "<!DOC", 5) == 0))
    return "text/HTML/XML";
  return NULL;
}

/* Shared size check from the header; fills why and returns 0 if too large. */
static int dims_ok(int64_t w, int64_t h, const hp_decode_limits *lim, char *why, size_t nwhy) {
  if (w <= 0 || h <= 0) {
    snprintf(why, nwhy, "invalid image size %lldx%lld", (long long)w, (long long)h);
    return 0;
  }
  if (w > lim->max_side || h > lim->max_side) {
    snprintf(why, nwhy, "image size %lldx%lld exceeds the limit of %lld pixels per side",
             (long long)w, (long long)h, (long long)lim->max_side);
    return 0;
  }
  if (w > lim->max_pixels / h) {
    snprintf(why, nwhy, "image size %lldx%lld exceeds the limit of %lld pixels", (long long)w,
             (long long)h, (long long)lim->max_pixels);
    return 0;
  }
  size_t t;
  if (hp_mul_size((size_t)w * (size_t)h, 4, &t)) {
    snprintf(why, nwhy, "image size %lldx%lld overflows memory sizes", (long long)w,
             (long long)h);
    return 0;
  }
  return 1;
}

/* ============================================ JPEG ============================================ */

enum { ST_OK = 0, ST_LIBERR = 1, ST_LIMIT = 2, ST_NOMEM = 3, ST_FORMAT = 4 };

typedef struct {
  struct jpeg_error_mgr pub;
  jmp_buf jb;
  char msg[JMSG_LENGTH_MAX];
  int fatal_warning; /* a warning that means the pixel data is corrupt */
  int warn_code;
  char warn[JMSG_LENGTH_MAX];
} jerr_mgr;

typedef struct {
  struct jpeg_decompress_struct cinfo;
  jerr_mgr err;
  struct jpeg_progress_mgr progress;
  int created;
  int max_scans;
  uint8_t *rgb;
  uint8_t *row;
  int64_t w, h;
  char why[256];
} jdec;

static void j_error_exit(j_common_ptr c) {
  jerr_mgr *e = (jerr_mgr *)c->err;
  (*c->err->format_message)(c, e->msg);
  longjmp(e->jb, 1);
}

static void j_output_message(j_common_ptr c) { (void)c; }

static int j_warning_is_fatal(int code) {
  switch (code) {
    case JWRN_JPEG_EOF:          /* premature end: the rest would be grey */
    case JWRN_HIT_MARKER:        /* corrupt data: premature end of data segment */
    case JWRN_MUST_RESYNC:       /* corrupt data: found marker instead of RST */
    case JWRN_HUFF_BAD_CODE:     /* bad Huffman code */
    case JWRN_ARITH_BAD_CODE:    /* bad arithmetic code */
    case JWRN_NOT_SEQUENTIAL:    /* scans out of order */
    case JWRN_BOGUS_PROGRESSION: /* inconsistent progression sequence */
      return 1;
    default:
      return 0;
  }
}

static void j_emit_message(j_common_ptr c, int level) {
  if (level >= 0) return; /* trace messages */
  jerr_mgr *e = (jerr_mgr *)c->err;
  c->err->num_warnings++;
  if (!e->fatal_warning && j_warning_is_fatal(c->err->msg_code)) {
    e->fatal_warning = 1;
    e->warn_code = c->err->msg_code;
    (*c->err->format_message)(c, e->warn);
  }
}

static void j_progress(j_common_ptr c) {
  jdec *d = (jdec *)((char *)c->progress - offsetof(jdec, progress));
  if (c->is_decompressor) {
    j_decompress_ptr di = (j_decompress_ptr)c;
    if (di->input_scan_number > d->max_scans) {
      snprintf(d->err.msg, sizeof d->err.msg,
               "more than %d progressive scans (decompression bomb?)", d->max_scans);
      longjmp(d->err.jb, 1);
    }
  }
}

/* Contains the setjmp: only touches *d. */
static int jpeg_run(jdec *d, const uint8_t *data, size_t n, const hp_decode_limits *lim) {
  d->cinfo.err = jpeg_std_error(&d->err.pub);
  d->err.pub.error_exit = j_error_exit;
  d->err.pub.emit_message = j_emit_message;
  d->err.pub.output_message = j_output_message;
  if (setjmp(d->err.jb)) return ST_LIBERR;
  jpeg_create_decompress(&d->cinfo);
  d->created = 1;
  d->progress.progress_monitor = j_progress;
  d->cinfo.progress = &d->progress;
  d->max_scans = lim->max_scans;
  jpeg_mem_src(&d->cinfo, data, (unsigned long)n);
  jpeg_read_header(&d->cinfo, TRUE);
  d->w = (int64_t)d->cinfo.image_width;
  d->h = (int64_t)d->cinfo.image_height;
  if (!dims_ok(d->w, d->h, lim, d->why, sizeof d->why)) return ST_LIMIT;
  int cmyk = 0, grey = 0;
  switch (d->cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
      d->cinfo.out_color_space = JCS_GRAYSCALE;
      grey = 1;
      break;
    case JCS_CMYK:
    case JCS_YCCK:
      d->cinfo.out_color_space = JCS_CMYK;
      cmyk = 1;
      break;
    case JCS_YCbCr:
    case JCS_RGB:
      d->cinfo.out_color_space = JCS_RGB;
      break;
    default:
      snprintf(d->why, sizeof d->why, "unsupported JPEG colour space (%d components)",
               d->cinfo.num_components);
      return ST_FORMAT;
  }
  if (lim->min_side > 0) {
    int64_t m = d->w < d->h ? d->w : d->h;
    unsigned den = 8;
    while (den > 1 && (m + den - 1) / den < lim->min_side) den /= 2;
    d->cinfo.scale_num = 1;
    d->cinfo.scale_denom = den;
  }
  jpeg_start_decompress(&d->cinfo);
  int comps = d->cinfo.output_components;
  int64_t ow = (int64_t)d->cinfo.output_width, oh = (int64_t)d->cinfo.output_height;
  if (ow <= 0 || oh <= 0 || ow > d->w || oh > d->h || comps != (grey ? 1 : cmyk ? 4 : 3)) {
    snprintf(d->why, sizeof d->why, "unexpected decoder output (%ux%u, %d components)",
             d->cinfo.output_width, d->cinfo.output_height, comps);
    return ST_FORMAT;
  }
  d->w = ow; /* the decoded (possibly DCT-scaled) size */
  d->h = oh;
  size_t w = (size_t)d->w, h = (size_t)d->h;
  d->rgb = malloc(w * h * 3);
  d->row = malloc(w * 4);
  if (!d->rgb || !d->row) return ST_NOMEM;
  int inverted = cmyk && d->cinfo.saw_Adobe_marker;
  while (d->cinfo.output_scanline < d->cinfo.output_height) {
    size_t y = d->cinfo.output_scanline;
    JSAMPROW rows[1] = {d->row};
    if (jpeg_read_scanlines(&d->cinfo, rows, 1) != 1) {
      snprintf(d->err.msg, sizeof d->err.msg, "decoder returned no scanline %zu", y);
      return ST_LIBERR;
    }
    uint8_t *o = d->rgb + y * w * 3;
    const uint8_t *s = d->row;
    if (grey) {
      for (size_t x = 0; x < w; x++) o[3 * x] = o[3 * x + 1] = o[3 * x + 2] = s[x];
    } else if (cmyk) {
      for (size_t x = 0; x < w; x++) {
        unsigned c = s[4 * x], m = s[4 * x + 1], yy = s[4 * x + 2], k = s[4 * x + 3];
        if (!inverted) { c = 255 - c; m = 255 - m; yy = 255 - yy; k = 255 - k; }
        /* now c = 255 - C etc.: R = (255-C)(255-K)/255, rounded */
        o[3 * x] = (uint8_t)((c * k + 127) / 255);
        o[3 * x + 1] = (uint8_t)((m * k + 127) / 255);
        o[3 * x + 2] = (uint8_t)((yy * k + 127) / 255);
      }
    } else {
      memcpy(o, s, w * 3);
    }
  }
  jpeg_finish_decompress(&d->cinfo);
  return ST_OK;
}

static int decode_jpeg(const uint8_t *data, size_t n, const char *name, const hp_decode_limits *lim,
                       hp_image *out) {
  if (n > ULONG_MAX) HP_ERROR(HP_ERR_INPUT, "%s: file too large for the JPEG decoder", name);
  jdec *d = NULL;
  HP_CALLOC(d, 1, "JPEG decoder state");
  int st = jpeg_run(d, data, n, lim);
  if (d->created) jpeg_destroy_decompress(&d->cinfo);
  free(d->row);
  if (st == ST_OK && d->err.fatal_warning) {
    free(d->rgb);
    int eof = d->err.warn_code == JWRN_JPEG_EOF;
    char msg[JMSG_LENGTH_MAX];
    memcpy(msg, d->err.warn, sizeof msg);
    free(d);
    HP_ERROR(HP_ERR_INPUT, "%s: %s (%s)", name, eof ? "truncated JPEG data" : "corrupt JPEG data",
             msg);
  }
  if (st != ST_OK) {
    free(d->rgb);
    char msg[JMSG_LENGTH_MAX + 256];
    int eof = d->err.fatal_warning && d->err.warn_code == JWRN_JPEG_EOF;
    if (st == ST_LIBERR) snprintf(msg, sizeof msg, "%s", d->err.msg);
    else snprintf(msg, sizeof msg, "%s", d->why);
    free(d);
    if (st == ST_NOMEM) HP_ERROR(HP_ERR_MEM, "%s: cannot allocate the decoded image", name);
    if (st == ST_LIBERR && eof)
      HP_ERROR(HP_ERR_INPUT, "%s: truncated JPEG data (premature end of file: %s)", name, msg);
    if (st == ST_LIBERR) HP_ERROR(HP_ERR_INPUT, "%s: invalid JPEG data (%s)", name, msg);
    HP_ERROR(HP_ERR_INPUT, "%s: %s", name, msg);
  }
  out->width = d->w;
  out->height = d->h;
  out->rgb = d->rgb;
  free(d);
  return 0;
}

/* ============================================ PNG ============================================= */

typedef struct {
  png_structp png;
  png_infop info;
  const uint8_t *data;
  size_t n, pos;
  char msg[256];
  char why[256];
  uint8_t *rgba;
  png_bytep *rows;
  int64_t w, h;
} pdec;

static void p_error(png_structp png, png_const_charp m) {
  pdec *d = png_get_error_ptr(png);
  snprintf(d->msg, sizeof d->msg, "%s", m ? m : "unknown libpng error");
  png_longjmp(png, 1);
}

static void p_warning(png_structp png, png_const_charp m) {
  (void)png;
  (void)m;
}

static void p_read(png_structp png, png_bytep out, size_t len) {
  pdec *d = png_get_io_ptr(png);
  if (len > d->n - d->pos) png_error(png, "truncated PNG data (premature end of file)");
  memcpy(out, d->data + d->pos, len);
  d->pos += len;
}

static int png_run(pdec *d, const hp_decode_limits *lim) {
  if (setjmp(png_jmpbuf(d->png))) return ST_LIBERR;
  uint32_t side = lim->max_side > 0x7fffffff ? 0x7fffffffu : (uint32_t)lim->max_side;
  png_set_user_limits(d->png, side, side);
  png_set_chunk_malloc_max(d->png, (png_alloc_size_t)64 << 20);
  png_set_read_fn(d->png, d, p_read);
  png_read_info(d->png, d->info);
  png_uint_32 w = 0, h = 0;
  int bit_depth = 0, color_type = 0, interlace = 0;
  png_get_IHDR(d->png, d->info, &w, &h, &bit_depth, &color_type, &interlace, NULL, NULL);
  d->w = (int64_t)w;
  d->h = (int64_t)h;
  if (!dims_ok(d->w, d->h, lim, d->why, sizeof d->why)) return ST_LIMIT;
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(d->png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(d->png);
  if (png_get_valid(d->png, d->info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(d->png);
  if (bit_depth == 16) png_set_scale_16(d->png);
  if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA)
    png_set_gray_to_rgb(d->png);
  if (!(color_type & PNG_COLOR_MASK_ALPHA) && !png_get_valid(d->png, d->info, PNG_INFO_tRNS))
    png_set_filler(d->png, 0xFF, PNG_FILLER_AFTER);
  (void)png_set_interlace_handling(d->png);
  png_read_update_info(d->png, d->info);
  size_t rowbytes = png_get_rowbytes(d->png, d->info);
  if (png_get_bit_depth(d->png, d->info) != 8 || png_get_channels(d->png, d->info) != 4 ||
      rowbytes != (size_t)w * 4) {
    snprintf(d->why, sizeof d->why, "unexpected PNG transform result (%d bits, %d channels)",
             png_get_bit_depth(d->png, d->info), png_get_channels(d->png, d->info));
    return ST_FORMAT;
  }
  d->rgba = malloc((size_t)w * (size_t)h * 4);
  d->rows = malloc((size_t)h * sizeof *d->rows);
  if (!d->rgba || !d->rows) return ST_NOMEM;
  for (size_t y = 0; y < h; y++) d->rows[y] = d->rgba + y * (size_t)w * 4;
  png_read_image(d->png, d->rows);
  png_read_end(d->png, NULL);
  return ST_OK;
}

static int decode_png(const uint8_t *data, size_t n, const char *name, const hp_decode_limits *lim,
                      hp_image *out) {
  pdec *d = NULL;
  HP_CALLOC(d, 1, "PNG decoder state");
  d->data = data;
  d->n = n;
  d->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, d, p_error, p_warning);
  if (!d->png) {
    free(d);
    HP_ERROR(HP_ERR_MEM, "%s: cannot create the PNG decoder", name);
  }
  d->info = png_create_info_struct(d->png);
  int st = d->info ? png_run(d, lim) : ST_NOMEM;
  png_destroy_read_struct(&d->png, d->info ? &d->info : NULL, NULL);
  free(d->rows);
  if (st != ST_OK) {
    free(d->rgba);
    char msg[256];
    snprintf(msg, sizeof msg, "%s", st == ST_LIBERR ? d->msg : d->why);
    free(d);
    if (st == ST_NOMEM) HP_ERROR(HP_ERR_MEM, "%s: cannot allocate the decoded image", name);
    if (st == ST_LIBERR) HP_ERROR(HP_ERR_INPUT, "%s: invalid PNG data (%s)", name, msg);
    HP_ERROR(HP_ERR_INPUT, "%s: %s", name, msg);
  }
  size_t np = (size_t)d->w * (size_t)d->h;
  uint8_t *rgb = malloc(np * 3);
  if (!rgb) {
    free(d->rgba);
    free(d);
    HP_ERROR(HP_ERR_MEM, "%s: cannot allocate the decoded image", name);
  }
  const uint8_t *s = d->rgba;
  for (size_t i = 0; i < np; i++) {
    unsigned a = s[4 * i + 3];
    for (int c = 0; c < 3; c++)
      rgb[3 * i + c] = (uint8_t)((s[4 * i + c] * a + 255u * (255u - a) + 127u) / 255u);
  }
  out->width = d->w;
  out->height = d->h;
  out->rgb = rgb;
  free(d->rgba);
  free(d);
  return 0;
}

/* ========================================= dispatch =========================================== */

int hp_image_decode_mem(const uint8_t *data, size_t n, const char *name,
                        const hp_decode_limits *lim, hp_image *out) {
  hp_decode_limits def;
  if (!lim) {
    hp_decode_limits_default(&def);
    lim = &def;
  }
  memset(out, 0, sizeof *out);
  if (n == 0) HP_ERROR(HP_ERR_INPUT, "%s: empty file", name);
  switch (hp_image_sniff(data, n)) {
    case HP_IMG_JPEG: HP_CALL(decode_jpeg(data, n, name, lim, out)); return 0;
    case HP_IMG_PNG: HP_CALL(decode_png(data, n, name, lim, out)); return 0;
    default: break;
  }
  const char *other = other_format_name(data, n);
  if (other) HP_ERROR(HP_ERR_INPUT, "%s: not a JPEG or PNG image (%s)", name, other);
  char hex[3 * 8 + 1] = "";
  for (size_t i = 0; i < n && i < 8; i++)
    snprintf(hex + 3 * i, sizeof hex - 3 * i, "%02x ", data[i]);
  HP_ERROR(HP_ERR_INPUT, "%s: not a JPEG or PNG image (first bytes: %s)", name, hex);
}

int hp_image_decode_file(const char *path, const hp_decode_limits *lim, hp_image *out) {
  hp_decode_limits def;
  if (!lim) {
    hp_decode_limits_default(&def);
    lim = &def;
  }
  memset(out, 0, sizeof *out);
  char *buf = NULL;
  size_t n = 0;
  HP_CALL(hp_ingest_read_file(path, lim->max_file_bytes, 1, &buf, &n));
  int e = hp_image_decode_mem((const uint8_t *)buf, n, path, lim, out);
  free(buf);
  HP_CALL(e);
  return 0;
}
