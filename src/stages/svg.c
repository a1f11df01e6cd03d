/* svg.c — inline SVG charts for report.html (see svg.h). */
#include "stages/svg.h"

#include "stages/html.h"

#include <math.h>
#include <string.h>

enum { W = 640, H = 320, ML = 78, MR = 20, MT = 40, MB = 50, MAXT = 32 };
static const char *const g_colour[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"};
#define NCOLOUR ((int)(sizeof g_colour / sizeof g_colour[0]))

int hp_svg_ticks(double lo, double hi, int want, int integer, double *tick, int max) {
  if (!(hi > lo)) hi = lo + 1;
  double raw = (hi - lo) / (want > 1 ? want : 1), mag = pow(10, floor(log10(raw))), step = mag;
  if (raw / mag > 5) step = 10 * mag;
  else if (raw / mag > 2) step = 5 * mag;
  else if (raw / mag > 1) step = 2 * mag;
  if (integer && step < 1) step = 1;
  int n = 0;
  for (double t = ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9 && n < max; t += step) tick[n++] = fabs(t) < step * 1e-9 ? 0 : t;
  return n;
}

/* decimals that show a tick step exactly */
static int decimals_of(const double *t, int n) {
  if (n < 2) return 2;
  double step = fabs(t[1] - t[0]);
  int d = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
  return d > 6 ? 6 : d;
}

typedef struct {
  double x0, x1, y0, y1;
  int log_y;
} frame;

static double px(const frame *fr, double x) { return ML + (x - fr->x0) / (fr->x1 - fr->x0) * (W - ML - MR); }
static double py(const frame *fr, double y) {
  double v = fr->log_y ? log10(y) : y;
  return H - MB - (v - fr->y0) / (fr->y1 - fr->y0) * (H - MT - MB);
}

static void axes(FILE *f, const frame *fr, const char *title, const char *xlabel, const char *ylabel, int x_integer) {
  double t[MAXT];
  fprintf(f, "<svg class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
             "role=\"img\">\n<title>", W, H, W, H);
  hp_html_text(f, title);
  fprintf(f, "</title>\n<text x=\"%d\" y=\"22\" text-anchor=\"middle\" class=\"t\">", W / 2);
  hp_html_text(f, title);
  fprintf(f, "</text>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"frame\"/>\n", ML, MT, W - ML - MR,
          H - MT - MB);
  int n = hp_svg_ticks(fr->x0, fr->x1, 8, x_integer, t, MAXT), d = x_integer ? 0 : decimals_of(t, n);
  for (int i = 0; i < n; i++)
    fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" class=\"grid\"/><text x=\"%.1f\" y=\"%d\" "
               "text-anchor=\"middle\">%.*f</text>\n", px(fr, t[i]), MT, px(fr, t[i]), H - MB, px(fr, t[i]), H - MB + 16,
            d, t[i]);
  if (fr->log_y) { /* 1, 2 and 5 times the powers of ten inside the range */
    n = 0;
    for (double dec = floor(fr->y0); dec <= ceil(fr->y1) && n < MAXT - 3; dec++)
      for (int m = 0; m < 3; m++) {
        double v = dec + log10(m == 0 ? 1 : m == 1 ? 2 : 5);
        if (v >= fr->y0 && v <= fr->y1) t[n++] = v;
      }
  } else {
    n = hp_svg_ticks(fr->y0, fr->y1, 6, 0, t, MAXT);
  }
  d = decimals_of(t, n);
  double big = 0;
  for (int i = 0; i < n; i++) big = fabs(fr->log_y ? pow(10, t[i]) : t[i]) > big ? fabs(fr->log_y ? pow(10, t[i]) : t[i]) : big;
  int sci = fr->log_y || big < 1e-2 || big >= 1e6; /* 2.5e-04, not 0.000250 */
  for (int i = 0; i < n; i++) {
    double y = H - MB - (t[i] - fr->y0) / (fr->y1 - fr->y0) * (H - MT - MB), v = fr->log_y ? pow(10, t[i]) : t[i];
    fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"grid\"/><text x=\"%d\" y=\"%.1f\" "
               "text-anchor=\"end\">", ML, y, W - MR, y, ML - 6, y + 4);
    if (sci) fprintf(f, "%.1e</text>\n", v);
    else fprintf(f, "%.*f</text>\n", d, v);
  }
  fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (ML + W - MR) / 2, H - 12);
  hp_html_text(f, xlabel);
  fprintf(f, "</text>\n<text transform=\"translate(16 %d) rotate(-90)\" text-anchor=\"middle\">", (MT + H - MB) / 2);
  hp_html_text(f, ylabel);
  fprintf(f, "</text>\n");
}

void hp_svg_lines(FILE *f, const hp_svg_plot *p, const hp_svg_series *s, int ns) {
  frame fr = {0, 1, INFINITY, -INFINITY, p->log_y};
  if (p->n > 0) fr.x0 = p->x[0], fr.x1 = p->x[p->n - 1];
  if (!(fr.x1 > fr.x0)) fr.x1 = fr.x0 + 1;
  for (int k = 0; k < ns; k++)
    for (int64_t i = 0; i < p->n; i++) {
      double v = s[k].y[i];
      if (!isfinite(v) || (p->log_y && v <= 0)) continue;
      v = p->log_y ? log10(v) : v;
      fr.y0 = v < fr.y0 ? v : fr.y0;
      fr.y1 = v > fr.y1 ? v : fr.y1;
    }
  if (!(fr.y1 >= fr.y0)) fr.y0 = 0, fr.y1 = 1;
  double pad = (fr.y1 - fr.y0) * 0.08;
  if (pad == 0) pad = fabs(fr.y0) * 0.1 + 0.1;
  fr.y0 -= pad, fr.y1 += pad;
  axes(f, &fr, p->title, p->xlabel, p->ylabel, p->x_integer);
  for (int k = 0; k < ns; k++) {
    const char *c = g_colour[k % NCOLOUR];
    int open = 0;
    for (int64_t i = 0; i < p->n; i++) {
      double v = s[k].y[i];
      int ok = isfinite(v) && !(p->log_y && v <= 0);
      if (ok && !open) fprintf(f, "<polyline class=\"line\" stroke=\"%s\" points=\"", c), open = 1;
      if (ok) fprintf(f, "%.1f,%.1f ", px(&fr, p->x[i]), py(&fr, v));
      if (!ok && open) fprintf(f, "\"/>\n"), open = 0;
    }
    if (open) fprintf(f, "\"/>\n");
    for (int64_t i = 0; p->n <= 60 && i < p->n; i++)
      if (isfinite(s[k].y[i]) && !(p->log_y && s[k].y[i] <= 0))
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n", px(&fr, p->x[i]), py(&fr, s[k].y[i]), c);
    /* legend, top right inside the frame */
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"3\" fill=\"%s\"/><text x=\"%d\" y=\"%d\" "
               "text-anchor=\"end\" class=\"legend\">", W - MR - 16, MT + 12 + 16 * k, c, W - MR - 22, MT + 16 + 16 * k);
    hp_html_text(f, s[k].name);
    fprintf(f, "</text>\n");
  }
  if (isfinite(p->mark_x) && p->mark_x >= fr.x0 && p->mark_x <= fr.x1) {
    double x = px(&fr, p->mark_x);
    int right = x > (ML + W - MR) / 2.0; /* the label goes inward: never cut at the frame's edge */
    fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" class=\"mark\"/><text x=\"%.1f\" y=\"%d\" "
               "text-anchor=\"%s\" class=\"marktext\">", x, MT, x, H - MB, right ? x - 4 : x + 4, (MT + H - MB) / 2,
            right ? "end" : "start");
    hp_html_text(f, p->mark_label ? p->mark_label : "");
    fprintf(f, "</text>\n");
  }
  fprintf(f, "</svg>\n");
}

void hp_svg_hbars(FILE *f, const char *title, const char *xlabel, const char *const *label, const double *value,
                  int64_t n, int decimals) {
  const int row = 18, lw = 200, top = 36, h = top + row * (int)n + 40, right = W - 60;
  double mx = 0;
  for (int64_t i = 0; i < n; i++) mx = isfinite(value[i]) && value[i] > mx ? value[i] : mx;
  if (mx <= 0) mx = 1;
  fprintf(f, "<svg class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
             "role=\"img\">\n<title>", W, h, W, h);
  hp_html_text(f, title);
  fprintf(f, "</title>\n<text x=\"%d\" y=\"22\" text-anchor=\"middle\" class=\"t\">", W / 2);
  hp_html_text(f, title);
  fprintf(f, "</text>\n");
  for (int64_t i = 0; i < n; i++) {
    double v = isfinite(value[i]) && value[i] > 0 ? value[i] : 0, w = v / mx * (right - lw);
    int y = top + row * (int)i;
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", lw - 6, y + 13);
    hp_html_text(f, label[i]);
    fprintf(f, "</text><rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/><text x=\"%.1f\" y=\"%d\">",
            lw, y + 2, w, row - 4, g_colour[0], lw + w + 4, y + 13);
    if (isfinite(value[i])) fprintf(f, "%.*f", decimals, value[i]);
    else fprintf(f, "–");
    fprintf(f, "</text>\n");
  }
  fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/><text x=\"%d\" y=\"%d\" "
             "text-anchor=\"middle\">", lw, top, lw, top + row * (int)n, (lw + right) / 2, h - 12);
  hp_html_text(f, xlabel);
  fprintf(f, "</text>\n</svg>\n");
}

void hp_svg_vbars(FILE *f, const char *title, const char *xlabel, const char *ylabel, const char *const *label,
                  const double *value, int64_t n) {
  frame fr = {-0.5, n - 0.5, 0, 1, 0};
  for (int64_t i = 0; i < n; i++) fr.y1 = isfinite(value[i]) && value[i] > fr.y1 ? value[i] : fr.y1;
  fr.y1 *= 1.08;
  axes(f, &fr, title, xlabel, ylabel, 1);
  double bw = (W - ML - MR) / (double)(n > 0 ? n : 1) * 0.8;
  for (int64_t i = 0; i < n; i++) {
    double v = isfinite(value[i]) ? value[i] : 0, x = px(&fr, (double)i), y = py(&fr, v);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>", x - bw / 2, y, bw,
            H - MB - y, g_colour[i % NCOLOUR]);
    if (label) hp_html_text(f, label[i]);
    else fprintf(f, "%lld", (long long)i);
    fprintf(f, ": %g</title></rect>\n", v);
  }
  fprintf(f, "</svg>\n");
}

void hp_svg_heatmap(FILE *f, const char *title, const char *rowlabel, const char *collabel, const char *const *name,
                    const double *v, int64_t n) {
  const int cell = 34, left = 150, top = 150, w = left + cell * (int)n + 20, h = top + cell * (int)n + 40;
  fprintf(f, "<svg class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
             "role=\"img\">\n<title>", w, h, w, h);
  hp_html_text(f, title);
  fprintf(f, "</title>\n<text x=\"%d\" y=\"22\" text-anchor=\"middle\" class=\"t\">", w / 2);
  hp_html_text(f, title);
  fprintf(f, "</text>\n<text x=\"%d\" y=\"44\" text-anchor=\"middle\">", left + cell * (int)n / 2);
  hp_html_text(f, collabel);
  fprintf(f, "</text>\n<text transform=\"translate(16 %d) rotate(-90)\" text-anchor=\"middle\">", top + cell * (int)n / 2);
  hp_html_text(f, rowlabel);
  fputs("</text>\n", f);
  for (int64_t j = 0; j < n; j++) {
    fprintf(f, "<text transform=\"translate(%d %d) rotate(-60)\">", left + cell * (int)j + cell / 2, top - 6);
    hp_html_text(f, name[j]);
    fprintf(f, "</text><text x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 6, top + cell * (int)j + cell / 2 + 4);
    hp_html_text(f, name[j]);
    fputs("</text>\n", f);
  }
  for (int64_t i = 0; i < n; i++) {
    double mx = 0;
    for (int64_t j = 0; j < n; j++) mx = v[i * n + j] > mx ? v[i * n + j] : mx;
    for (int64_t j = 0; j < n; j++) {
      double a = mx > 0 ? v[i * n + j] / mx : 0;
      fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"rgb(%d,%d,%d)\" stroke=\"#fff\"/>"
                 "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\"%s>%.0f</text>\n", left + cell * (int)j,
              top + cell * (int)i, cell, cell, (int)(255 - a * 255), (int)(255 - a * 141), (int)(255 - a * 77),
              left + cell * (int)j + cell / 2, top + cell * (int)i + cell / 2 + 4, a > 0.6 ? " style=\"fill:#fff\"" : "",
              v[i * n + j]);
    }
  }
  fputs("</svg>\n", f);
}
