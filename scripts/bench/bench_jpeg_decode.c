/* bench_jpeg_decode.c — the JPEG-decoding limit of the ingest stage: libjpeg alone, one thread.
 *
 *   bench_jpeg_decode [--min-side S] [--reps R] FILE...
 *
 * Reads every FILE into memory once (the timing excludes the file system), then decodes all of
 * them R times with libjpeg (jpeg_mem_src, output RGB or grey as stored) and prints the best
 * round's images/s:
 *   full    decoding at full size;
 *   scaled  with the DCT-domain reduction the ingest stage asks for (scale 1/8, 1/4, 1/2 or 1:
 *           the largest that keeps the shorter side >= S; ingest uses S = 2 x data.image_size),
 *           printed only with --min-side.
 * Files that are not decodable JPEGs are counted and skipped (PNG data in a .jpg, say).
 * Output: "RESULT jpeg_decode files=N pixels=P full_ips=X [scaled_ips=Y min_side=S]".
 */
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jpeglib.h>

typedef struct {
  struct jpeg_error_mgr pub;
  jmp_buf jb;
} err_mgr;

static void on_error(j_common_ptr c) {
  err_mgr *e = (err_mgr *)c->err;
  longjmp(e->jb, 1);
}
static void on_message(j_common_ptr c) { (void)c; }

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Decode one buffer; 0 = ok. min_side 0 = full size. Adds output pixels to *px. */
static int decode(const unsigned char *buf, size_t n, int min_side, unsigned char **row, size_t *rowcap,
                  uint64_t *px) {
  struct jpeg_decompress_struct ci;
  err_mgr em;
  ci.err = jpeg_std_error(&em.pub);
  em.pub.error_exit = on_error;
  em.pub.output_message = on_message;
  if (setjmp(em.jb)) {
    jpeg_destroy_decompress(&ci);
    return 1;
  }
  jpeg_create_decompress(&ci);
  jpeg_mem_src(&ci, buf, (unsigned long)n);
  jpeg_read_header(&ci, TRUE);
  if (ci.jpeg_color_space == JCS_CMYK || ci.jpeg_color_space == JCS_YCCK) ci.out_color_space = JCS_CMYK;
  else if (ci.num_components == 1) ci.out_color_space = JCS_GRAYSCALE;
  else ci.out_color_space = JCS_RGB;
  if (min_side > 0) {
    unsigned m = ci.image_width < ci.image_height ? ci.image_width : ci.image_height, den = 8;
    while (den > 1 && (m + den - 1) / den < (unsigned)min_side) den /= 2;
    ci.scale_num = 1;
    ci.scale_denom = den;
  }
  jpeg_start_decompress(&ci);
  size_t need = (size_t)ci.output_width * (size_t)ci.output_components;
  if (need > *rowcap) {
    unsigned char *r = realloc(*row, need);
    if (!r) {
      jpeg_destroy_decompress(&ci);
      return 1;
    }
    *row = r;
    *rowcap = need;
  }
  while (ci.output_scanline < ci.output_height) {
    JSAMPROW rp = *row;
    jpeg_read_scanlines(&ci, &rp, 1);
  }
  *px += (uint64_t)ci.output_width * ci.output_height;
  jpeg_finish_decompress(&ci);
  jpeg_destroy_decompress(&ci);
  return 0;
}

int main(int argc, char **argv) {
  int min_side = 0, reps = 3, a = 1;
  for (; a < argc && strncmp(argv[a], "--", 2) == 0; a += 2) {
    if (a + 1 >= argc) {
      fprintf(stderr, "bench_jpeg_decode: %s needs a value\n", argv[a]);
      return 2;
    }
    if (strcmp(argv[a], "--min-side") == 0) min_side = atoi(argv[a + 1]);
    else if (strcmp(argv[a], "--reps") == 0) reps = atoi(argv[a + 1]);
    else {
      fprintf(stderr, "bench_jpeg_decode: unknown option %s\n", argv[a]);
      return 2;
    }
  }
  int nf = argc - a;
  if (nf <= 0 || reps <= 0 || min_side < 0) {
    fprintf(stderr, "usage: bench_jpeg_decode [--min-side S] [--reps R] FILE...\n");
    return 2;
  }
  unsigned char **buf = calloc((size_t)nf, sizeof *buf);
  size_t *len = calloc((size_t)nf, sizeof *len);
  if (!buf || !len) {
    fprintf(stderr, "bench_jpeg_decode: out of memory\n");
    return 1;
  }
  for (int i = 0; i < nf; i++) {
    FILE *f = fopen(argv[a + i], "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0) {
      fprintf(stderr, "bench_jpeg_decode: cannot read %s\n", argv[a + i]);
      return 1;
    }
    long n = ftell(f);
    rewind(f);
    buf[i] = malloc(n > 0 ? (size_t)n : 1);
    if (n < 0 || !buf[i] || fread(buf[i], 1, (size_t)n, f) != (size_t)n) {
      fprintf(stderr, "bench_jpeg_decode: cannot read %s\n", argv[a + i]);
      return 1;
    }
    len[i] = (size_t)n;
    fclose(f);
  }
  unsigned char *row = NULL;
  size_t rowcap = 0;
  double best[2] = {1e300, 1e300};
  uint64_t px[2] = {0, 0};
  int bad = 0;
  for (int mode = 0; mode < (min_side > 0 ? 2 : 1); mode++)
    for (int r = 0; r < reps; r++) {
      uint64_t p = 0;
      int nb = 0;
      double t0 = now();
      for (int i = 0; i < nf; i++) nb += decode(buf[i], len[i], mode ? min_side : 0, &row, &rowcap, &p);
      double dt = now() - t0;
      if (dt < best[mode]) best[mode] = dt;
      px[mode] = p;
      bad = nb;
    }
  int good = nf - bad;
  printf("RESULT jpeg_decode files=%d undecodable=%d pixels=%llu full_ips=%.1f", nf, bad, (unsigned long long)px[0],
         good / best[0]);
  if (min_side > 0) printf(" scaled_ips=%.1f min_side=%d scaled_pixels=%llu", good / best[1], min_side,
                           (unsigned long long)px[1]);
  printf("\n");
  for (int i = 0; i < nf; i++) free(buf[i]);
  free(buf);
  free(len);
  free(row);
  return 0;
}
