/* svg.h — the plots of report.html as inline SVG: line charts and bar charts with a title, axis
 * labels and "nice" ticks (integers on an integer axis), written straight into an HTML file. */
#ifndef HP_STAGES_SVG_H
#define HP_STAGES_SVG_H

#include <stdint.h>
#include <stdio.h>

typedef struct {
  const char *name;  /* legend text */
  const double *y;   /* [n] (NaN: no point) */
} hp_svg_series;

typedef struct {
  const char *title, *xlabel, *ylabel;
  const double *x;   /* [n], increasing */
  int64_t n;
  int x_integer;     /* integer x ticks only (epochs, K) */
  double mark_x;     /* a vertical marker at this x (NaN: none) ... */
  const char *mark_label; /* ... labelled so (inside the plot, never cut at its edge) */
  int log_y;         /* logarithmic y axis (values > 0) */
} hp_svg_plot;

/* One chart of ns series over the shared x; NaN values leave gaps. */
void hp_svg_lines(FILE *f, const hp_svg_plot *p, const hp_svg_series *s, int ns);

/* Horizontal bars: label[i] and value[i] (>= 0), the value printed at each bar's end with
 * `decimals` decimals; xlabel names the value axis. */
void hp_svg_hbars(FILE *f, const char *title, const char *xlabel, const char *const *label, const double *value,
                  int64_t n, int decimals);

/* Vertical bars over integer categories 0..n-1 named label[i] (NULL: the index). */
void hp_svg_vbars(FILE *f, const char *title, const char *xlabel, const char *ylabel, const char *const *label,
                  const double *value, int64_t n);

/* A heat map of an n x n matrix v (row-major, >= 0) with its row and column names: each cell's
 * shade is its value over its row's largest; the value is printed in the cell. */
void hp_svg_heatmap(FILE *f, const char *title, const char *rowlabel, const char *collabel, const char *const *name,
                    const double *v, int64_t n);

/* Tick positions from lo to hi: a step of 1, 2 or 5 times a power of ten giving about `want`
 * ticks (at least 1 when integer). Writes at most max ticks, returns how many. */
int hp_svg_ticks(double lo, double hi, int want, int integer, double *tick, int max);

#endif
