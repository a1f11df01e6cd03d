/* html.h — what the HTML writers (hpclip query --format html, report.html) share: escaped text,
 * base64, and dataset images as embedded PNGs (a page that opens anywhere, without its files). */
#ifndef HP_STAGES_HTML_H
#define HP_STAGES_HTML_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Text with &, <, >, " and ' escaped (for element text and attribute values). */
void hp_html_text(FILE *f, const char *s);

/* Base64 of p[0..n). */
void hp_html_base64(FILE *f, const uint8_t *p, size_t n);

/* PNG (8-bit RGB) of an H x W image, row-major RGB, as a new buffer of *n bytes. */
int hp_png_encode(const uint8_t *rgb, int64_t H, int64_t W, uint8_t **out, size_t *n);

/* <img> of an H x W RGB image embedded as a PNG data URI, with alt text and class. */
int hp_html_img(FILE *f, const uint8_t *rgb, int64_t H, int64_t W, const char *alt, const char *cls);

#endif
