/* make_images.c — regenerates the image fixtures of tests/data/ingest (not part of the build).
 *
 *   cc -std=c11 -O2 make_images.c -o make_images $(pkg-config --cflags --libs libjpeg libpng)
 *   ./make_images shrink SRC.jpg DST.jpg W H        tiny copy of a real sample (box filter;
 *                                                    greyscale sources stay greyscale), q 85
 *   ./make_images special SRC.jpg OUTDIR            the hand-made good/bad cases (see
 *                                                    tests/data/ingest/PROVENANCE.md)
 * Uses libjpeg/libpng directly (not hpclip's decoder), so the fixtures test the decoder
 * against an independent encoder. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

static void die(const char *m, const char *a) {
  fprintf(stderr, "make_images: %s %s\n", m, a ? a : "");
  exit(1);
}

typedef struct { int w, h, c; unsigned char *p; } img;

static img load_jpeg(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) die("cannot open", path);
  struct jpeg_decompress_struct ci;
  struct jpeg_error_mgr je;
  ci.err = jpeg_std_error(&je);
  jpeg_create_decompress(&ci);
  jpeg_stdio_src(&ci, f);
  jpeg_read_header(&ci, TRUE);
  ci.out_color_space = ci.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&ci);
  img im = {(int)ci.output_width, (int)ci.output_height, ci.output_components, NULL};
  im.p = malloc((size_t)im.w * im.h * im.c);
  while (ci.output_scanline < ci.output_height) {
    JSAMPROW r = im.p + (size_t)ci.output_scanline * im.w * im.c;
    jpeg_read_scanlines(&ci, &r, 1);
  }
  jpeg_finish_decompress(&ci);
  jpeg_destroy_decompress(&ci);
  fclose(f);
  return im;
}

static img box(img s, int w, int h) {
  img d = {w, h, s.c, calloc((size_t)w * h * s.c, 1)};
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      int x0 = x * s.w / w, x1 = (x + 1) * s.w / w, y0 = y * s.h / h, y1 = (y + 1) * s.h / h;
      if (x1 <= x0) x1 = x0 + 1;
      if (y1 <= y0) y1 = y0 + 1;
      for (int c = 0; c < s.c; c++) {
        long sum = 0, n = 0;
        for (int yy = y0; yy < y1; yy++)
          for (int xx = x0; xx < x1; xx++, n++) sum += s.p[((size_t)yy * s.w + xx) * s.c + c];
        d.p[((size_t)y * w + x) * s.c + c] = (unsigned char)((sum + n / 2) / n);
      }
    }
  return d;
}

/* cs: JCS_RGB / JCS_GRAYSCALE / JCS_CMYK; adobe: write the Adobe marker (CMYK only) */
static void save_jpeg(const char *path, img im, J_COLOR_SPACE cs, int adobe, int progressive) {
  FILE *f = fopen(path, "wb");
  if (!f) die("cannot write", path);
  struct jpeg_compress_struct ci;
  struct jpeg_error_mgr je;
  ci.err = jpeg_std_error(&je);
  jpeg_create_compress(&ci);
  jpeg_stdio_dest(&ci, f);
  ci.image_width = (JDIMENSION)im.w;
  ci.image_height = (JDIMENSION)im.h;
  ci.input_components = im.c;
  ci.in_color_space = cs;
  jpeg_set_defaults(&ci);
  if (cs == JCS_CMYK) {
    jpeg_set_colorspace(&ci, JCS_CMYK);
    ci.write_Adobe_marker = adobe ? TRUE : FALSE;
  }
  jpeg_set_quality(&ci, 85, TRUE);
  if (progressive) jpeg_simple_progression(&ci);
  jpeg_start_compress(&ci, TRUE);
  while (ci.next_scanline < ci.image_height) {
    JSAMPROW r = im.p + (size_t)ci.next_scanline * im.w * im.c;
    jpeg_write_scanlines(&ci, &r, 1);
  }
  jpeg_finish_compress(&ci);
  jpeg_destroy_compress(&ci);
  fclose(f);
}

static void save_png(const char *path, int w, int h, int bit_depth, int color_type,
                     const unsigned char *data, int rowbytes, int interlace,
                     const png_color *pal, int npal, const png_byte *trns, int ntrns) {
  FILE *f = fopen(path, "wb");
  if (!f) die("cannot write", path);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) die("png write failed", path);
  png_init_io(png, f);
  png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, bit_depth, color_type,
               interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (pal) png_set_PLTE(png, info, pal, npal);
  if (trns) png_set_tRNS(png, info, trns, ntrns, NULL);
  png_write_info(png, info);
  png_bytep *rows = malloc(sizeof *rows * (size_t)h);
  for (int y = 0; y < h; y++) rows[y] = (png_bytep)data + (size_t)y * rowbytes;
  png_write_image(png, rows);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  free(rows);
  fclose(f);
}

static unsigned char *slurp(const char *path, long *n) {
  FILE *f = fopen(path, "rb");
  if (!f) die("cannot open", path);
  fseek(f, 0, SEEK_END);
  *n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc((size_t)*n);
  if (fread(b, 1, (size_t)*n, f) != (size_t)*n) die("short read", path);
  fclose(f);
  return b;
}

static void spit(const char *path, const unsigned char *b, long n) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(b, 1, (size_t)n, f) != (size_t)n) die("cannot write", path);
  fclose(f);
}

static const char *P(const char *dir, const char *name) {
  static char buf[4096];
  snprintf(buf, sizeof buf, "%s/%s", dir, name);
  return buf;
}

int main(int argc, char **argv) {
  if (argc == 6 && strcmp(argv[1], "shrink") == 0) {
    img s = load_jpeg(argv[2]);
    img d = box(s, atoi(argv[4]), atoi(argv[5]));
    save_jpeg(argv[3], d, d.c == 1 ? JCS_GRAYSCALE : JCS_RGB, 0, 0);
    return 0;
  }
  if (argc != 4 || strcmp(argv[1], "special") != 0) die("usage: see the header comment", NULL);
  const char *o = argv[3];
  img s = load_jpeg(argv[2]);
  if (s.c != 3) die("special needs an RGB source", argv[2]);
  img rgb = box(s, 24, 16);
  save_jpeg(P(o, "rgb.jpg"), rgb, JCS_RGB, 0, 0);
  save_jpeg(P(o, "progressive.jpg"), rgb, JCS_RGB, 0, 1);
  /* greyscale JPEG: luma of rgb */
  img g = {24, 16, 1, malloc(24 * 16)};
  for (int i = 0; i < 24 * 16; i++)
    g.p[i] = (unsigned char)((299 * rgb.p[3 * i] + 587 * rgb.p[3 * i + 1] +
                              114 * rgb.p[3 * i + 2] + 500) / 1000);
  save_jpeg(P(o, "grey.jpg"), g, JCS_GRAYSCALE, 0, 0);
  /* CMYK: C = 255-R etc. with K = 0 (so RGB comes back exactly, up to JPEG loss).
   * Plain: stored as is, no Adobe marker. Adobe-inverted: stored inverted (like Photoshop)
   * with the Adobe marker. */
  img cm = {24, 16, 4, malloc(24 * 16 * 4)}, ci = {24, 16, 4, malloc(24 * 16 * 4)};
  for (int i = 0; i < 24 * 16; i++) {
    for (int c = 0; c < 3; c++) {
      cm.p[4 * i + c] = (unsigned char)(255 - rgb.p[3 * i + c]);
      ci.p[4 * i + c] = rgb.p[3 * i + c];
    }
    cm.p[4 * i + 3] = 0;
    ci.p[4 * i + 3] = 255;
  }
  save_jpeg(P(o, "cmyk_plain.jpg"), cm, JCS_CMYK, 0, 0);
  save_jpeg(P(o, "cmyk_adobe.jpg"), ci, JCS_CMYK, 1, 0);
  /* PNG data in a .jpg file (RGB, 8 bit) */
  save_png(P(o, "png_in.jpg"), 24, 16, 8, PNG_COLOR_TYPE_RGB, rgb.p, 24 * 3, 0, NULL, 0, NULL, 0);
  save_png(P(o, "interlaced.png"), 24, 16, 8, PNG_COLOR_TYPE_RGB, rgb.p, 24 * 3, 1, NULL, 0, NULL,
           0);
  /* 16-bit RGB PNG: value v*257 so scaling back gives v exactly */
  unsigned char *p16 = malloc(24 * 16 * 6);
  for (int i = 0; i < 24 * 16 * 3; i++) p16[2 * i] = p16[2 * i + 1] = rgb.p[i];
  save_png(P(o, "rgb16.png"), 24, 16, 16, PNG_COLOR_TYPE_RGB, p16, 24 * 6, 0, NULL, 0, NULL, 0);
  /* palette PNG, 4 colours, 2 bits per pixel, colour 3 fully transparent via tRNS */
  png_color pal[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}};
  png_byte trns[4] = {255, 255, 255, 0};
  unsigned char pp[4 * 2]; /* 8x4 pixels, 2 bpp = 2 bytes per row */
  for (int y = 0; y < 4; y++) {
    /* row: indices 0,1,2,3,0,1,2,3 */
    pp[2 * y] = (0 << 6) | (1 << 4) | (2 << 2) | 3;
    pp[2 * y + 1] = pp[2 * y];
  }
  save_png(P(o, "palette.png"), 8, 4, 2, PNG_COLOR_TYPE_PALETTE, pp, 2, 0, pal, 4, trns, 4);
  /* grey + alpha: grey 0 with alpha 0, 128, 255 */
  unsigned char ga[3 * 2] = {0, 0, 0, 128, 0, 255};
  save_png(P(o, "grey_alpha.png"), 3, 1, 8, PNG_COLOR_TYPE_GRAY_ALPHA, ga, 6, 0, NULL, 0, NULL, 0);
  /* 1-bit greyscale: 8 pixels 10101010 */
  unsigned char g1[1] = {0xAA};
  save_png(P(o, "grey1.png"), 8, 1, 1, PNG_COLOR_TYPE_GRAY, g1, 1, 0, NULL, 0, NULL, 0);
  /* bad cases from rgb.jpg / png_in.jpg */
  long n;
  unsigned char *j = slurp(P(o, "rgb.jpg"), &n);
  spit(P(o, "truncated.jpg"), j, n - 100);      /* inside the entropy-coded data */
  spit(P(o, "truncated_header.jpg"), j, n / 2); /* inside the header tables */
  /* corrupt entropy data: overwrite the middle of the scan with 0xFF 0xD9-free junk */
  unsigned char *jc = malloc((size_t)n);
  memcpy(jc, j, (size_t)n);
  for (long i = n - 120; i < n - 40; i++) jc[i] = (unsigned char)(0xFF - (i & 0x0F));
  spit(P(o, "corrupt.jpg"), jc, n);
  /* header claiming 60000x60000: patch the SOF0 marker's height/width */
  unsigned char *jh = malloc((size_t)n);
  memcpy(jh, j, (size_t)n);
  for (long i = 2; i + 9 < n; i++)
    if (jh[i] == 0xFF && jh[i + 1] == 0xC0) {
      jh[i + 5] = 0xEA; jh[i + 6] = 0x60; jh[i + 7] = 0xEA; jh[i + 8] = 0x60;
      break;
    }
  spit(P(o, "huge_dims.jpg"), jh, n);
  long pn;
  unsigned char *pb = slurp(P(o, "png_in.jpg"), &pn);
  spit(P(o, "truncated.png"), pb, pn - 30);
  unsigned char *pc = malloc((size_t)pn);
  memcpy(pc, pb, (size_t)pn);
  pc[60] ^= 0x55; /* inside the IDAT data: CRC mismatch */
  spit(P(o, "bad_crc.png"), pc, pn);
  spit(P(o, "empty.jpg"), (const unsigned char *)"", 0);
  const char *html = "<html><body>404 Not Found</body></html>\n";
  spit(P(o, "html.jpg"), (const unsigned char *)html, (long)strlen(html));
  return 0;
}
