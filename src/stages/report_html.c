/* report_html.c — report.html (see report_html.h). Rank 0 reads the run's files serially. */
#define _POSIX_C_SOURCE 200809L
#include "stages/report_html.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "base/error.h"
#include "base/tmpfile.h"
#include "io/dataset.h"
#include "io/h5.h"
#include "stages/html.h"
#include "stages/report_read.h"
#include "stages/svg.h"

#define THUMB 96 /* the longest side of an image on the page; larger images are box-averaged down */

typedef struct {
  hp_stage_ctx *ctx;
  FILE *f;
  hid_t ds; /* dataset.h5 (serial), or -1 */
  char dpath[4096];
  int64_t N, H, W;
  int nimg, nsvg; /* drawn, for the log */
} page;

static const char g_style[] =
    "body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:0 16px;color:#222}"
    "h1{margin-top:24px}h2{border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:32px}"
    "nav a{margin-right:12px}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px}"
    "th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "table.sortable th{cursor:pointer}table.sortable th:after{content:' \\2195';color:#999}"
    "svg.plot{max-width:100%;height:auto;display:block;margin:8px 0}svg text{font:12px sans-serif;fill:#222}"
    "svg text.t{font-size:14px;font-weight:600}svg .frame{fill:none;stroke:#888}svg .grid{stroke:#eee}"
    "svg .axis{stroke:#888}svg .line{fill:none;stroke-width:2}svg .mark{stroke:#c00;stroke-dasharray:4 3}"
    "svg text.marktext{fill:#c00}svg text.legend{font-size:11px}"
    ".grid5{display:flex;gap:8px;flex-wrap:wrap;margin:6px 0 14px}"
    "figure{margin:0;text-align:center;font-size:12px}figure img{width:96px;height:96px;object-fit:contain;"
    "image-rendering:pixelated;border:4px solid #aaa}figure.rel img{border-color:#0a0}figure.irr img{border-color:#d00}"
    ".cap{display:flex;gap:12px;align-items:flex-start;margin:8px 0}.cap img{width:96px;image-rendering:pixelated}"
    "pre{background:#f8f8f8;padding:8px;overflow:auto;max-height:400px}#pca{border:1px solid #ccc;cursor:grab}"
    ".legend span{display:inline-block;margin-right:10px}.legend i{display:inline-block;width:10px;height:10px;"
    "margin-right:4px}";

/* Sortable tables (click a heading), the PCA view, and the page's self-check (report_html.h). */
static const char g_script[] =
    "window.onerror=function(m){document.body.setAttribute('data-errors',String(m));};\n"
    "document.querySelectorAll('table.sortable').forEach(function(t){t.querySelectorAll('th').forEach(function(th,i){"
    "th.addEventListener('click',function(){var b=t.tBodies[0],r=Array.prototype.slice.call(b.rows),"
    "up=th.getAttribute('data-up')!=='1';r.sort(function(x,y){var a=x.cells[i].getAttribute('data-v'),"
    "c=y.cells[i].getAttribute('data-v');if(a!==null&&c!==null)return up?a-c:c-a;a=x.cells[i].textContent;"
    "c=y.cells[i].textContent;return up?a.localeCompare(c):c.localeCompare(a);});r.forEach(function(x){b.appendChild(x);});"
    "th.setAttribute('data-up',up?'1':'0');});});});\n"
    "(function(){var c=document.getElementById('pca');if(!c)return;var d=JSON.parse(document.getElementById("
    "'pca-data').textContent),g=c.getContext('2d'),ax=0.5,ay=-0.4,drag=null,pal=d.colours;"
    "function draw(){g.clearRect(0,0,c.width,c.height);var ca=Math.cos(ax),sa=Math.sin(ax),cb=Math.cos(ay),"
    "sb=Math.sin(ay),s=c.height*0.42/d.scale,pts=[];for(var i=0;i<d.p.length;i+=3){var x=d.p[i],y=d.p[i+1],"
    "z=d.p[i+2],x1=ca*x+sa*z,z1=-sa*x+ca*z,y1=cb*y-sb*z1,z2=sb*y+cb*z1;pts.push([z2,x1,y1,d.c[i/3]]);}"
    "pts.sort(function(a,b){return a[0]-b[0];});pts.forEach(function(q){g.fillStyle=pal[q[3]%pal.length];"
    "g.fillRect(c.width/2+q[1]*s-2,c.height/2-q[2]*s-2,4,4);});c.setAttribute('data-points',pts.length);}"
    "c.addEventListener('mousedown',function(e){drag=[e.clientX,e.clientY];});"
    "window.addEventListener('mouseup',function(){drag=null;});c.addEventListener('mousemove',function(e){"
    "if(!drag)return;ax+=(e.clientX-drag[0])*0.01;ay+=(e.clientY-drag[1])*0.01;drag=[e.clientX,e.clientY];draw();});"
    "draw();})();\n"
    "window.addEventListener('load',function(){var bad=[],im=document.images,sv=document.querySelectorAll('svg');"
    "for(var i=0;i<im.length;i++)if(!(im[i].complete&&im[i].naturalWidth>0))bad.push('image '+im[i].alt);"
    "sv.forEach(function(s,k){if(!s.querySelector('polyline,rect,circle,line'))bad.push('empty plot '+k);});"
    "var c=document.getElementById('pca');if(c&&!(c.getAttribute('data-points')>0))bad.push('PCA view not drawn');"
    "document.body.setAttribute('data-check',bad.length?bad.join('; '):'ok '+im.length+' images, '+sv.length+"
    "' plots');});\n";

/* ---- small writers ---------------------------------------------------------------------------- */

static void num_cell(FILE *f, double v, int decimals) {
  if (isfinite(v)) fprintf(f, "<td class=\"n\" data-v=\"%.17g\">%.*f</td>", v, decimals, v);
  else fprintf(f, "<td class=\"n\">–</td>");
}

static void text_cell(FILE *f, const char *s) {
  fputs("<td>", f);
  hp_html_text(f, s);
  fputs("</td>", f);
}

/* an image of the dataset (row id) as an embedded PNG, at most THUMB pixels a side */
static int thumb(page *p, int64_t id, const char *alt) {
  if (p->ds < 0 || id < 0 || id >= p->N) return 0;
  size_t bytes = (size_t)(p->H * p->W * 3);
  uint8_t *px = NULL, *small = NULL;
  HP_CALLOC(px, bytes, "image");
  HP_CALL(hp_rr_read_rows(p->ds, p->dpath, "/images", H5T_NATIVE_UINT8, id, 1, px));
  int64_t side = p->H > p->W ? p->H : p->W, z = side > THUMB ? (side + THUMB - 1) / THUMB : 1, h = p->H, w = p->W;
  if (z > 1) { /* box average of z x z pixels */
    h = p->H / z, w = p->W / z;
    HP_CALLOC(small, (size_t)(h * w * 3), "image");
    for (int64_t y = 0; y < h; y++)
      for (int64_t x = 0; x < w; x++)
        for (int c = 0; c < 3; c++) {
          int64_t s = 0;
          for (int64_t a = 0; a < z; a++)
            for (int64_t b = 0; b < z; b++) s += px[((y * z + a) * p->W + x * z + b) * 3 + c];
          small[(y * w + x) * 3 + c] = (uint8_t)((s + z * z / 2) / (z * z));
        }
  }
  int e = hp_html_img(p->f, small ? small : px, h, w, alt, NULL);
  free(px);
  free(small);
  HP_CALL(e);
  p->nimg++;
  return 0;
}

static void heading(page *p, const char *id, const char *title) {
  fprintf(p->f, "<h2 id=\"%s\">", id);
  hp_html_text(p->f, title);
  fputs("</h2>\n", p->f);
}

/* ---- the run ---------------------------------------------------------------------------------- */

static void file_row(page *p, const char *name, const char *what) {
  char path[4096];
  hid_t fid;
  if (hp_run_path(p->ctx, name, path, sizeof path) != 0 || access(path, R_OK) != 0 ||
      hp_h5_open_serial(path, &fid) != 0) {
    hp_error_clear();
    return;
  }
  char *fp = hp_rr_attr_str(fid, path, "/", "fingerprint"), *by = hp_rr_attr_str(fid, path, "/", "created_by");
  fprintf(p->f, "<tr><td><code>%s</code></td><td>%s</td><td><code>%s</code></td><td>%s</td></tr>\n", name, what,
          fp ? fp : "?", by ? by : "?");
  free(fp);
  free(by);
  H5Fclose(fid);
}

/* stage_resources.tsv: the last line of each stage (the file keeps every run of every stage) */
static int sec_resources(page *p) {
  char path[4096], line[8192];
  HP_CALL(hp_run_path(p->ctx, HP_FILE_STAGE_RESOURCES, path, sizeof path));
  FILE *in = fopen(path, "r");
  if (!in) return 0;
  enum { MAXS = 32 };
  char stage[MAXS][64], row[MAXS][8][256];
  int n = 0;
  if (!fgets(line, sizeof line, in)) n = -1;
  while (n >= 0 && fgets(line, sizeof line, in)) {
    char *col[8] = {0}, *save = NULL;
    line[strcspn(line, "\n")] = 0;
    int k = 0;
    for (char *t = strtok_r(line, "\t", &save); t && k < 8; t = strtok_r(NULL, "\t", &save)) col[k++] = t;
    if (k < 7) continue;
    int j = 0;
    while (j < n && strcmp(stage[j], col[0]) != 0) j++;
    if (j == n && n == MAXS) continue;
    if (j == n) n++;
    snprintf(stage[j], sizeof stage[j], "%s", col[0]);
    for (int c = 0; c < 8; c++) snprintf(row[j][c], sizeof row[j][c], "%s", col[c] ? col[c] : "");
  }
  fclose(in);
  if (n <= 0) return 0;
  fprintf(p->f, "<h3>Stages</h3>\n<p>The last run of each stage (<code>%s</code>): wall time, peak resident memory "
                "per rank, bytes read and written by all ranks, the main loop's rate.</p>\n<table class=\"sortable\" "
                "id=\"stages\"><thead><tr><th>stage</th><th>ranks</th><th>seconds</th><th>peak RSS MiB (max)</th>"
                "<th>peak RSS MiB per rank</th><th>read MB</th><th>written MB</th><th>throughput</th></tr></thead><tbody>\n",
          HP_FILE_STAGE_RESOURCES);
  double secs[MAXS];
  const char *names[MAXS];
  for (int j = 0; j < n; j++) {
    fputs("<tr>", p->f);
    text_cell(p->f, row[j][0]);
    num_cell(p->f, atof(row[j][1]), 0);
    num_cell(p->f, secs[j] = atof(row[j][2]), 2);
    num_cell(p->f, atof(row[j][3]), 0);
    text_cell(p->f, row[j][4]);
    num_cell(p->f, atof(row[j][5]) / 1e6, 1);
    num_cell(p->f, atof(row[j][6]) / 1e6, 1);
    text_cell(p->f, row[j][7]);
    fputs("</tr>\n", p->f);
    names[j] = stage[j];
  }
  fputs("</tbody></table>\n", p->f);
  hp_svg_hbars(p->f, "Wall time per stage", "seconds", names, secs, n, 2);
  p->nsvg++;
  return 0;
}

static int sec_run(page *p, const char *rpath) {
  fputs("<h2 id=\"run\">The run</h2>\n<table><thead><tr><th>file</th><th>content</th><th>fingerprint</th>"
        "<th>written by</th></tr></thead><tbody>\n", p->f);
  file_row(p, HP_FILE_DATASET, "images and captions");
  file_row(p, HP_FILE_CKPT, "trained model");
  file_row(p, HP_FILE_EMBEDDINGS, "embeddings");
  file_row(p, HP_FILE_CAPTION_CKPT, "caption decoder");
  file_row(p, HP_FILE_RESULTS, "evaluation results");
  fputs("</tbody></table>\n", p->f);
  (void)rpath;
  HP_CALL(sec_resources(p));
  return 0;
}

/* ---- dataset and training --------------------------------------------------------------------- */

static int sec_dataset(page *p) {
  if (p->ds < 0) return 0;
  uint8_t *sp = NULL;
  int64_t cnt[3] = {0, 0, 0}, M = 0, L = 0;
  HP_CALLOC(sp, (size_t)p->N + 1, "splits");
  HP_CALL(hp_rr_read(p->ds, p->dpath, "/split", H5T_NATIVE_UINT8, 0, -1, sp));
  for (int64_t i = 0; i < p->N; i++) cnt[sp[i] < 3 ? sp[i] : 2]++;
  free(sp);
  HP_CALL(hp_rr_strtab_count(p->ds, p->dpath, "/captions/text", &M));
  if (hp_rr_exists(p->ds, p->dpath, "/labels/names")) HP_CALL(hp_rr_strtab_count(p->ds, p->dpath, "/labels/names", &L));
  heading(p, "dataset", "Dataset");
  fprintf(p->f, "<table id=\"dataset\"><tbody><tr><th>images</th><td class=\"n\">%" PRId64 "</td></tr><tr><th>image size"
                "</th><td class=\"n\">%" PRId64 " × %" PRId64 "</td></tr><tr><th>captions</th><td class=\"n\">%" PRId64
                "</td></tr><tr><th>train / validation / test</th><td class=\"n\">%" PRId64 " / %" PRId64 " / %" PRId64
                "</td></tr><tr><th>labels</th><td class=\"n\">%" PRId64 "</td></tr></tbody></table>\n",
          p->N, p->H, p->W, M, cnt[0], cnt[1], cnt[2], L);
  char *how = hp_rr_attr_str(p->ds, p->dpath, "/", "split");
  if (how) {
    fputs("<p>Splits: ", p->f);
    hp_html_text(p->f, how);
    fputs(".</p>\n", p->f);
    free(how);
  }
  fputs("<div class=\"grid5\">", p->f);
  for (int64_t i = 0; i < p->N && i < 8; i++) {
    char alt[64];
    snprintf(alt, sizeof alt, "image %" PRId64, i);
    fputs("<figure>", p->f);
    HP_CALL(thumb(p, i, alt));
    fprintf(p->f, "<figcaption>%s</figcaption></figure>", alt);
  }
  fputs("</div>\n", p->f);
  return 0;
}

/* The optional curves beside the losses: the model's accuracy and the learning rate per epoch. */
static int training_curves(page *p, hid_t fid, const char *path, const double *x, int64_t n, int64_t best,
                           const char *mark) {
  double *c[3] = {NULL, NULL, NULL};
  static const char *const obj[3] = {"/history/train_metric", "/history/val_metric", "/history/lr"};
  for (int k = 0; k < 3; k++) {
    int64_t m = 0, d[8];
    int nd;
    if (hp_rr_exists(fid, path, obj[k])) HP_CALL(hp_rr_read_all(fid, path, obj[k], 1 << 20, &c[k], &m, &nd, d));
    if (c[k] && m < n) free(c[k]), c[k] = NULL;
  }
  if (c[0] && n > 0) {
    hp_svg_series s[2] = {{"training (in-batch top-1)", c[0]}, {"validation", c[1]}};
    hp_svg_plot pl = {"Accuracy per epoch", "epoch", "accuracy (fraction)", x, n, 1, best > 0 ? (double)best : NAN,
                      mark, 0};
    hp_svg_lines(p->f, &pl, s, c[1] ? 2 : 1), p->nsvg++;
  }
  if (c[2] && n > 0) {
    double lo = INFINITY, hi = 0; /* a log axis when the rate spans more than a decade */
    for (int64_t e = 0; e < n; e++) lo = c[2][e] < lo ? c[2][e] : lo, hi = c[2][e] > hi ? c[2][e] : hi;
    int pos = lo > 0 && hi / lo > 10;
    hp_svg_series s = {"learning rate", c[2]};
    hp_svg_plot pl = {"Learning rate at the end of each epoch", "epoch", "learning rate", x, n, 1, NAN, NULL, pos};
    hp_svg_lines(p->f, &pl, &s, 1), p->nsvg++;
  }
  for (int k = 0; k < 3; k++) free(c[k]);
  return 0;
}

static int sec_training(page *p) {
  char path[4096];
  HP_CALL(hp_run_path(p->ctx, HP_FILE_CKPT, path, sizeof path));
  hid_t fid;
  if (access(path, R_OK) != 0) return 0;
  HP_CALL(hp_h5_open_serial(path, &fid));
  heading(p, "training", "Training");
  char *model = hp_rr_attr_str(fid, path, "/", "model"), *state = hp_rr_attr_str(fid, path, "/", "state");
  fputs("<p>Model <code>", p->f);
  hp_html_text(p->f, model ? model : "?");
  fprintf(p->f, "</code>; %" PRId64 " steps.</p>\n", hp_rr_attr_int(fid, path, "/", "step", -1));
  char v[64];
  int64_t best = state && hp_rr_state_value(state, "best_epoch", v, sizeof v) ? strtoll(v, NULL, 10) : 0;
  if (hp_rr_exists(fid, path, "/history/train_loss") && hp_rr_exists(fid, path, "/history/val_loss")) {
    double *tl = NULL, *vl = NULL, *x = NULL;
    int64_t n = 0, n2 = 0, d[8];
    int nd;
    HP_CALL(hp_rr_read_all(fid, path, "/history/train_loss", 1 << 20, &tl, &n, &nd, d));
    HP_CALL(hp_rr_read_all(fid, path, "/history/val_loss", 1 << 20, &vl, &n2, &nd, d));
    if (n2 < n) n = n2;
    HP_CALLOC(x, (size_t)n + 1, "epochs");
    for (int64_t e = 0; e < n; e++) x[e] = (double)(e + 1);
    if (best <= 0)
      for (int64_t e = 0; e < n; e++)
        if (best == 0 || vl[e] < vl[best - 1]) best = e + 1;
    char mark[64];
    snprintf(mark, sizeof mark, "best epoch %" PRId64 " (kept)", best);
    hp_svg_series s[2] = {{"training loss", tl}, {"validation loss", vl}};
    hp_svg_plot pl = {"Contrastive loss per epoch", "epoch", "loss (InfoNCE, nats)", x, n, 1, best > 0 ? (double)best : NAN,
                      mark, 0};
    if (n > 0) hp_svg_lines(p->f, &pl, s, 2), p->nsvg++;
    HP_CALL(training_curves(p, fid, path, x, n, best, mark));
    if (n > 10) fprintf(p->f, "<details><summary>The %" PRId64 " epochs' losses</summary>\n", n);
    fputs("<table class=\"sortable\" id=\"history\"><thead><tr><th>epoch</th><th>training loss</th><th>validation loss"
          "</th></tr></thead><tbody>\n", p->f);
    for (int64_t e = 0; e < n; e++) {
      fprintf(p->f, "<tr%s>", e + 1 == best ? " style=\"font-weight:600\"" : "");
      num_cell(p->f, (double)(e + 1), 0);
      num_cell(p->f, tl[e], 4);
      num_cell(p->f, vl[e], 4);
      fputs("</tr>\n", p->f);
    }
    fputs(n > 10 ? "</tbody></table></details>\n" : "</tbody></table>\n", p->f);
    free(tl), free(vl), free(x);
  }
  static const char *const keys[2][3] = {{"i2t_r1", "i2t_r5", "i2t_r10"}, {"t2i_r1", "t2i_r5", "t2i_r10"}};
  if (state && hp_rr_state_value(state, "i2t_r1", v, sizeof v)) {
    fputs("<p>Test-split retrieval of the kept model, as measured by <code>train</code>:</p><table><thead><tr><th>"
          "direction</th><th>R@1</th><th>R@5</th><th>R@10</th></tr></thead><tbody>\n", p->f);
    for (int dir = 0; dir < 2; dir++) {
      fprintf(p->f, "<tr><td>%s</td>", dir ? "caption → image" : "image → caption");
      for (int k = 0; k < 3; k++) num_cell(p->f, hp_rr_state_value(state, keys[dir][k], v, sizeof v) ? atof(v) : NAN, 4);
      fputs("</tr>\n", p->f);
    }
    fputs("</tbody></table>\n", p->f);
  }
  free(model);
  free(state);
  H5Fclose(fid);
  return 0;
}

/* ---- retrieval -------------------------------------------------------------------------------- */

typedef struct {
  hid_t fid;
  const char *path;
} h5src;

/* the strings of a string table (a new array of k new strings) */
static int strings(h5src *r, const char *grp, int64_t *k, char ***out) {
  *out = NULL;
  HP_CALL(hp_rr_strtab_count(r->fid, r->path, grp, k));
  HP_CALLOC(*out, (size_t)*k + 1, "strings");
  for (int64_t i = 0; i < *k; i++) HP_CALL(hp_rr_strtab_get(r->fid, r->path, grp, i, &(*out)[i]));
  return 0;
}

/* A [rows, cols] dataset of doubles (NULL, 0 when absent). */
static int matrix(h5src *r, const char *obj, double **out, int64_t *rows, int64_t *cols) {
  int nd;
  int64_t n, d[8];
  *out = NULL, *rows = *cols = 0;
  if (!hp_rr_exists(r->fid, r->path, obj)) return 0;
  HP_CALL(hp_rr_read_all(r->fid, r->path, obj, (int64_t)1 << 26, out, &n, &nd, d));
  *rows = nd >= 1 ? d[0] : 1;
  *cols = nd >= 2 ? d[1] : 1;
  return 0;
}

/* a table of a [rows, cols] matrix with row and column names; id = the element id */
static void matrix_table(page *p, const char *id, const char *corner, const char *const *rown, const char *const *coln,
                         const double *v, int64_t rows, int64_t cols, int decimals) {
  fprintf(p->f, "<table id=\"%s\"><thead><tr><th>", id);
  hp_html_text(p->f, corner);
  fputs("</th>", p->f);
  for (int64_t c = 0; c < cols; c++) {
    fputs("<th>", p->f);
    hp_html_text(p->f, coln[c]);
    fputs("</th>", p->f);
  }
  fputs("</tr></thead><tbody>\n", p->f);
  for (int64_t r = 0; r < rows; r++) {
    fputs("<tr>", p->f);
    text_cell(p->f, rown[r]);
    for (int64_t c = 0; c < cols; c++) num_cell(p->f, v[r * cols + c], decimals);
    fputs("</tr>\n", p->f);
  }
  fputs("</tbody></table>\n", p->f);
}

/* the first `cols` of row `row` of a ranked list: ids, scores, relevance (rel_obj may be absent) */
static int ranked(page *p, h5src *r, const char *ids_obj, const char *sc_obj, const char *rel_obj, int64_t row, int cols) {
  int64_t ids[10], rel[10];
  double sc[10];
  int have_rel = hp_rr_exists(r->fid, r->path, rel_obj);
  HP_CALL(hp_rr_read_rows(r->fid, r->path, ids_obj, H5T_NATIVE_INT64, row, 1, ids));
  HP_CALL(hp_rr_read_rows(r->fid, r->path, sc_obj, H5T_NATIVE_DOUBLE, row, 1, sc));
  if (have_rel) HP_CALL(hp_rr_read_rows(r->fid, r->path, rel_obj, H5T_NATIVE_INT64, row, 1, rel));
  fputs("<div class=\"grid5\">", p->f);
  for (int j = 0; j < cols && ids[j] >= 0; j++) {
    char alt[96];
    snprintf(alt, sizeof alt, "rank %d: image %" PRId64, j + 1, ids[j]);
    fprintf(p->f, "<figure class=\"%s\">", !have_rel ? "" : rel[j] ? "rel" : "irr");
    HP_CALL(thumb(p, ids[j], alt));
    fprintf(p->f, "<figcaption>#%d · %.3f%s<br>image %" PRId64 "</figcaption></figure>", j + 1, sc[j],
            !have_rel ? "" : rel[j] ? " · ✓" : " · ✗", ids[j]);
  }
  fputs("</div>\n", p->f);
  return 0;
}

static int per_class(page *p, h5src *r) {
  int64_t L = 0, rows, cols;
  char **names = NULL;
  double *rel = NULL, *m[4] = {NULL, NULL, NULL, NULL};
  static const char *const mo[4] = {"/search/per_class/precision", "/search/per_class/recall", "/search/per_class/ndcg",
                                    "/search/per_class/ap"};
  HP_CALL(strings(r, "/search/per_class/names", &L, &names));
  HP_CALL(matrix(r, "/search/per_class/relevant", &rel, &rows, &cols));
  for (int k = 0; k < 4; k++) HP_CALL(matrix(r, mo[k], &m[k], &rows, &cols));
  int ok = rel && m[3] && cols == 3 && rows == L;
  if (ok) {
    double *ap = NULL;
    const char **lab = NULL;
    int64_t *ord = NULL, n = 0;
    HP_CALLOC(ap, (size_t)L + 1, "AP");
    HP_CALLOC(lab, (size_t)L + 1, "names");
    HP_CALLOC(ord, (size_t)L + 1, "order");
    for (int64_t c = 0; c < L; c++) ord[c] = c;
    for (int64_t a = 1; a < L; a++) /* AP@10 descending, insertion sort (L is the label count) */
      for (int64_t b = a; b > 0 && m[3][ord[b] * 3 + 2] > m[3][ord[b - 1] * 3 + 2]; b--) {
        int64_t t = ord[b];
        ord[b] = ord[b - 1], ord[b - 1] = t;
      }
    for (int64_t i = 0; i < L; i++) /* the 20 best and the 20 worst when there are many */
      if (rel[ord[i]] > 0 && (L <= 40 || i < 20 || i >= L - 20)) lab[n] = names[ord[i]], ap[n++] = m[3][ord[i] * 3 + 2];
    if (n > 0) hp_svg_hbars(p->f, L <= 40 ? "AP@10 per class" : "AP@10: the 20 best and the 20 worst classes", "AP@10",
                            lab, ap, n, 3), p->nsvg++;
    fputs("<table class=\"sortable\" id=\"per_class\"><thead><tr><th>class</th><th>relevant</th><th>P@10</th><th>R@10"
          "</th><th>NDCG@10</th><th>AP@10</th></tr></thead><tbody>\n", p->f);
    for (int64_t c = 0; c < L; c++) {
      fputs("<tr>", p->f);
      text_cell(p->f, names[c]);
      num_cell(p->f, rel[c], 0);
      for (int k = 0; k < 4; k++) num_cell(p->f, m[k] ? m[k][c * 3 + 2] : NAN, 3);
      fputs("</tr>\n", p->f);
    }
    fputs("</tbody></table>\n", p->f);
    free(ap), free(lab), free(ord);
  }
  int64_t cls[2] = {hp_rr_attr_int(r->fid, r->path, "/search", "top5_best_class", -1),
                    hp_rr_attr_int(r->fid, r->path, "/search", "top5_worst_class", -1)};
  for (int b = 0; b < 2 && hp_rr_exists(r->fid, r->path, "/search/per_class/top_ids"); b++) {
    if (cls[b] < 0 || cls[b] >= L) continue;
    fprintf(p->f, "<h3>%s class: ", b ? "Worst" : "Best");
    hp_html_text(p->f, names[cls[b]]);
    fprintf(p->f, " (AP@10 %.3f)</h3>\n", ok ? m[3][cls[b] * 3 + 2] : NAN);
    HP_CALL(ranked(p, r, "/search/per_class/top_ids", "/search/per_class/top_scores", "/search/per_class/top_relevant",
                   cls[b], 5));
  }
  hp_strings_free(names, L);
  free(rel);
  for (int k = 0; k < 4; k++) free(m[k]);
  return 0;
}

static int queries(page *p, h5src *r) {
  if (!hp_rr_exists(r->fid, r->path, "/search/queries/top_ids")) return 0;
  int64_t Q = 0;
  char **text = NULL;
  HP_CALL(strings(r, "/search/queries/text", &Q, &text));
  fputs("<h3>The queries of <code>search.queries</code> (Table 3): top 5</h3>\n", p->f);
  for (int64_t q = 0; q < Q; q++) {
    fputs("<p><b>", p->f);
    hp_html_text(p->f, text[q]);
    fputs("</b></p>\n", p->f);
    HP_CALL(ranked(p, r, "/search/queries/top_ids", "/search/queries/top_scores", "/search/queries/top_relevant", q, 5));
  }
  hp_strings_free(text, Q);
  return 0;
}

static int sec_search(page *p, h5src *r) {
  if (!hp_rr_exists(r->fid, r->path, "/search")) return 0;
  heading(p, "retrieval", "Retrieval");
  char *split = hp_rr_attr_str(r->fid, r->path, "/search", "split");
  fputs("<p>Within the split <code>", p->f);
  hp_html_text(p->f, split ? split : "?");
  fputs("</code>; scores are inner products of unit embeddings.</p>\n", p->f);
  free(split);
  double *v = NULL;
  int64_t rows, cols;
  static const char *const dirs[2] = {"image → caption", "caption → image"}, *const rk[3] = {"R@1", "R@5", "R@10"};
  HP_CALL(matrix(r, "/search/clip_recall", &v, &rows, &cols));
  if (v && rows == 2 && cols == 3) matrix_table(p, "clip_recall", "CLIP protocol", dirs, rk, v, 2, 3, 4);
  free(v);
  HP_CALL(matrix(r, "/search/table1", &v, &rows, &cols));
  static const char *const t1[12] = {"P@1", "P@5", "P@10", "R@1", "R@5", "R@10", "NDCG@1", "NDCG@5", "NDCG@10", "MAP@1",
                                     "MAP@5", "MAP@10"},
                           *const conv[2] = {"relevant", "retrieved"};
  if (v && rows == 2 && cols == 12) {
    fputs("<h3>Table 1: label queries</h3>\n", p->f);
    matrix_table(p, "table1", "convention", conv, t1, v, 2, 12, 4);
  }
  free(v);
  if (hp_rr_exists(r->fid, r->path, "/search/per_class/names")) HP_CALL(per_class(p, r));
  HP_CALL(queries(p, r));
  return 0;
}

/* ---- zero-shot, clustering, captioning -------------------------------------------------------- */

/* The most confused pairs of classes (off-diagonal counts: a wrongly classified image counts in
 * each of its labels' rows), and a heat map over the classes they involve (at most 10). */
static int zs_confusion(page *p, h5src *r, char *const *names, int64_t L) {
  double *cm = NULL;
  int64_t rows, cols;
  HP_CALL(matrix(r, "/zeroshot/confusion", &cm, &rows, &cols));
  if (!cm || rows != L || cols != L) return free(cm), 0;
  enum { TOP = 10 };
  int64_t pair[TOP][2], np = 0;
  for (int k = 0; k < TOP; k++) { /* the TOP largest off-diagonal cells, largest first, ties by index */
    int64_t bi = -1, bj = -1;
    for (int64_t i = 0; i < L; i++)
      for (int64_t j = 0; j < L; j++) {
        if (i == j || cm[i * L + j] <= 0 || (bi >= 0 && cm[i * L + j] <= cm[bi * L + bj])) continue;
        int taken = 0;
        for (int64_t q = 0; q < np; q++) taken |= pair[q][0] == i && pair[q][1] == j;
        if (!taken) bi = i, bj = j;
      }
    if (bi < 0) break;
    pair[np][0] = bi, pair[np][1] = bj, np++;
  }
  if (np > 0) {
    fputs("<h3>Most confused classes</h3>\n<table id=\"zeroshot_confusion\"><thead><tr><th>true class</th><th>predicted"
          "</th><th>images</th><th>share of the row</th></tr></thead><tbody>\n", p->f);
    int64_t cls[2 * TOP], nc = 0;
    for (int64_t q = 0; q < np; q++) {
      double row = 0;
      for (int64_t j = 0; j < L; j++) row += cm[pair[q][0] * L + j];
      fputs("<tr>", p->f);
      text_cell(p->f, names[pair[q][0]]);
      text_cell(p->f, names[pair[q][1]]);
      num_cell(p->f, cm[pair[q][0] * L + pair[q][1]], 0);
      num_cell(p->f, row > 0 ? cm[pair[q][0] * L + pair[q][1]] / row : NAN, 3);
      fputs("</tr>\n", p->f);
      for (int e = 0; e < 2; e++) {
        int seen = 0;
        for (int64_t c = 0; c < nc; c++) seen |= cls[c] == pair[q][e];
        if (!seen && nc < 10) cls[nc++] = pair[q][e];
      }
    }
    fputs("</tbody></table>\n", p->f);
    double sub[100];
    const char *sn[10];
    for (int64_t i = 0; i < nc; i++) {
      sn[i] = names[cls[i]];
      for (int64_t j = 0; j < nc; j++) sub[i * nc + j] = cm[cls[i] * L + cls[j]];
    }
    hp_svg_heatmap(p->f, "Confusion among the most confused classes", "true label",
                   "predicted class", sn, sub, nc), p->nsvg++;
  }
  free(cm);
  return 0;
}

/* The split's first images with their true labels and the predicted class. */
static int zs_examples(page *p, h5src *r, char *const *names, int64_t L) {
  int64_t ex[8][2];
  if (!hp_rr_exists(r->fid, r->path, "/zeroshot/examples") || p->ds < 0 ||
      !hp_rr_exists(p->ds, p->dpath, "/labels/matrix"))
    return 0;
  HP_CALL(hp_rr_read_rows(r->fid, r->path, "/zeroshot/examples", H5T_NATIVE_INT64, 0, 8, ex));
  uint8_t *lab = NULL;
  HP_CALLOC(lab, (size_t)L + 1, "label row");
  fputs("<h3>Examples</h3>\n<div class=\"grid5\">", p->f);
  for (int k = 0; k < 8 && ex[k][0] >= 0 && ex[k][0] < p->N; k++) {
    if (ex[k][1] < 0 || ex[k][1] >= L) continue;
    HP_CALL(hp_rr_read_rows(p->ds, p->dpath, "/labels/matrix", H5T_NATIVE_UINT8, ex[k][0], 1, lab));
    char alt[64];
    snprintf(alt, sizeof alt, "zero-shot example: image %" PRId64, ex[k][0]);
    fprintf(p->f, "<figure class=\"%s\">", lab[ex[k][1]] ? "rel" : "irr");
    HP_CALL(thumb(p, ex[k][0], alt));
    fputs("<figcaption>predicted: <b>", p->f);
    hp_html_text(p->f, names[ex[k][1]]);
    fputs("</b><br>true:", p->f);
    for (int64_t c = 0, n = 0; c < L && n < 4; c++)
      if (lab[c]) {
        fputs(n++ ? ", " : " ", p->f);
        hp_html_text(p->f, names[c]);
      }
    fputs("</figcaption></figure>", p->f);
  }
  fputs("</div>\n", p->f);
  free(lab);
  return 0;
}

static int sec_zeroshot(page *p, h5src *r) {
  if (!hp_rr_exists(r->fid, r->path, "/zeroshot/table2")) return 0;
  heading(p, "zeroshot", "Zero-shot classification");
  double *t2 = NULL, *f1 = NULL, *pr = NULL, *rc = NULL, *sup = NULL;
  int64_t rows, cols, L = 0;
  static const char *const c2[7] = {"macro-P", "micro-P", "macro-R", "micro-R", "macro-F1", "micro-F1", "accuracy"},
                           *const row[1] = {"Table 2"};
  HP_CALL(matrix(r, "/zeroshot/table2", &t2, &rows, &cols));
  if (rows * cols == 7) matrix_table(p, "table2", "", row, c2, t2, 1, 7, 4);
  char **names = NULL;
  if (hp_rr_exists(r->fid, r->path, "/zeroshot/per_class/names")) {
    HP_CALL(strings(r, "/zeroshot/per_class/names", &L, &names));
    HP_CALL(matrix(r, "/zeroshot/per_class/f1", &f1, &rows, &cols));
    HP_CALL(matrix(r, "/zeroshot/per_class/precision", &pr, &rows, &cols));
    HP_CALL(matrix(r, "/zeroshot/per_class/recall", &rc, &rows, &cols));
    HP_CALL(matrix(r, "/zeroshot/per_class/support", &sup, &rows, &cols));
  }
  if (names && f1 && pr && rc && sup) {
    if (L <= 60) hp_svg_hbars(p->f, "F1 per class", "F1", (const char *const *)names, f1, L, 3), p->nsvg++;
    fputs("<table class=\"sortable\" id=\"zeroshot_classes\"><thead><tr><th>class</th><th>support</th><th>precision"
          "</th><th>recall</th><th>F1</th></tr></thead><tbody>\n", p->f);
    for (int64_t c = 0; c < L; c++) {
      fputs("<tr>", p->f);
      text_cell(p->f, names[c]);
      num_cell(p->f, sup[c], 0);
      num_cell(p->f, pr[c], 3);
      num_cell(p->f, rc[c], 3);
      num_cell(p->f, f1[c], 3);
      fputs("</tr>\n", p->f);
    }
    fputs("</tbody></table>\n", p->f);
    HP_CALL(zs_confusion(p, r, names, L));
    HP_CALL(zs_examples(p, r, names, L));
  }
  hp_strings_free(names, L);
  free(t2), free(f1), free(pr), free(rc), free(sup);
  return 0;
}

static const char *const g_pal[10] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00",
                                      "#56B4E9", "#F0E442", "#000000", "#999999", "#8B4513"};

/* The 3-D PCA view: a canvas drawn by the page's script from the points below (at most 4000, an
 * even stride over the rows), coloured by cluster, with a legend of the clusters. */
static int pca_view(page *p, h5src *r, const double *sizes, int64_t K) {
  double *pj = NULL, *lab = NULL;
  int64_t n, c3, nl, one;
  HP_CALL(matrix(r, "/cluster/pca/projection", &pj, &n, &c3));
  HP_CALL(matrix(r, "/cluster/labels", &lab, &nl, &one));
  if (!pj || !lab || c3 != 3 || nl != n || n == 0) {
    free(pj), free(lab);
    return 0;
  }
  int64_t stride = n > 4000 ? (n + 3999) / 4000 : 1;
  double scale = 0;
  for (int64_t i = 0; i < n * 3; i++) scale = fabs(pj[i]) > scale ? fabs(pj[i]) : scale;
  fprintf(p->f, "<h3>3-D PCA of the clustered rows</h3><p>Drag to rotate; %" PRId64 " of %" PRId64 " rows drawn.</p>\n"
                "<canvas id=\"pca\" width=\"640\" height=\"480\"></canvas>\n<p class=\"legend\">", (n + stride - 1) / stride, n);
  for (int64_t k = 0; k < K; k++)
    fprintf(p->f, "<span><i style=\"background:%s\"></i>cluster %" PRId64 " (%.0f)</span>", g_pal[k % 10], k, sizes[k]);
  fprintf(p->f, "</p>\n<script type=\"application/json\" id=\"pca-data\">{\"scale\":%.6g,\"colours\":[", scale > 0 ? scale : 1);
  for (int k = 0; k < 10; k++) fprintf(p->f, "%s\"%s\"", k ? "," : "", g_pal[k]);
  fputs("],\"p\":[", p->f);
  for (int64_t i = 0, m = 0; i < n; i += stride, m++)
    fprintf(p->f, "%s%.4g,%.4g,%.4g", m ? "," : "", pj[i * 3], pj[i * 3 + 1], pj[i * 3 + 2]);
  fputs("],\"c\":[", p->f);
  for (int64_t i = 0, m = 0; i < n; i += stride, m++) fprintf(p->f, "%s%.0f", m ? "," : "", lab[i]);
  fputs("]}</script>\n", p->f);
  free(pj), free(lab);
  return 0;
}

static int sec_cluster(page *p, h5src *r) {
  if (!hp_rr_exists(r->fid, r->path, "/cluster/sizes")) return 0;
  heading(p, "clustering", "Clustering");
  int64_t K = hp_rr_attr_int(r->fid, r->path, "/cluster", "k", 0), rows, cols;
  char *by = hp_rr_attr_str(r->fid, r->path, "/cluster", "k_chosen_by"),
       *src = hp_rr_attr_str(r->fid, r->path, "/cluster", "source");
  fprintf(p->f, "<p>k-means over the %s embeddings, K = %" PRId64 " (chosen by <code>%s</code>).</p>\n", src ? src : "?", K,
          by ? by : "?");
  free(by), free(src);
  double *q = NULL, *sz = NULL, *ek = NULL, *ew = NULL;
  static const char *const qc[5] = {"WCSS", "BCSS", "TSS", "Calinski-Harabasz", "silhouette"}, *const qr[1] = {"quality"};
  HP_CALL(matrix(r, "/cluster/quality", &q, &rows, &cols));
  if (q && rows * cols == 5) matrix_table(p, "cluster_quality", "", qr, qc, q, 1, 5, 4);
  HP_CALL(matrix(r, "/cluster/elbow/k", &ek, &rows, &cols));
  int64_t ne = rows;
  HP_CALL(matrix(r, "/cluster/elbow/wcss", &ew, &rows, &cols));
  if (ek && ew && rows == ne && ne > 0) {
    char mark[64];
    snprintf(mark, sizeof mark, "chosen K = %" PRId64, K);
    hp_svg_series s = {"WCSS", ew};
    hp_svg_plot pl = {"Elbow: within-cluster sum of squares against K", "K (clusters)", "WCSS", ek, ne, 1, (double)K,
                      mark, 0};
    hp_svg_lines(p->f, &pl, &s, 1), p->nsvg++;
  }
  HP_CALL(matrix(r, "/cluster/sizes", &sz, &rows, &cols));
  if (sz && rows == K && K > 0) {
    hp_svg_vbars(p->f, "Cluster sizes", "cluster", "rows", NULL, sz, K), p->nsvg++;
    HP_CALL(pca_view(p, r, sz, K));
  }
  free(q), free(sz), free(ek), free(ew);
  double *v = NULL;
  static const char *const mg[5] = {"centroid distance", "centroid cosine", "variance share", "images", "captions"},
                           *const pc[3] = {"top-1 accuracy", "train rows", "test rows"}, *const gr[1] = {"modality gap"},
                           *const prr[1] = {"linear probe"};
  HP_CALL(matrix(r, "/cluster/modality_gap", &v, &rows, &cols));
  if (v && rows * cols == 5) matrix_table(p, "modality_gap", "", gr, mg, v, 1, 5, 4);
  free(v);
  HP_CALL(matrix(r, "/cluster/probe", &v, &rows, &cols));
  if (v && rows * cols == 3) matrix_table(p, "probe", "", prr, pc, v, 1, 3, 4);
  free(v);
  return 0;
}

static int sec_caption(page *p, h5src *r) {
  if (!hp_rr_exists(r->fid, r->path, "/caption/scores")) return 0;
  heading(p, "captioning", "Captioning");
  double *v = NULL, *img = NULL;
  int64_t rows, cols, n = 0, nd_ = 0, np_ = 0, nr = 0;
  static const char *const sc[5] = {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "CIDEr-D"},
                           *const sr[2] = {"(a) direct", "(b) projected"};
  HP_CALL(matrix(r, "/caption/scores", &v, &rows, &cols));
  if (v && rows == 2 && cols == 5) matrix_table(p, "caption_scores", "decoding", sr, sc, v, 2, 5, 4);
  free(v);
  char **dir = NULL, **pro = NULL, **ref = NULL;
  HP_CALL(matrix(r, "/caption/images", &img, &n, &cols));
  if (hp_rr_exists(r->fid, r->path, "/caption/example_references") && img) {
    HP_CALL(strings(r, "/caption/captions/direct", &nd_, &dir));
    HP_CALL(strings(r, "/caption/captions/projected", &np_, &pro));
    HP_CALL(strings(r, "/caption/example_references", &nr, &ref));
    fputs("<h3>Examples</h3>\n", p->f);
    for (int64_t i = 0; i < nr && i < n && i < nd_ && i < np_ && i < 8; i++) {
      char alt[64];
      snprintf(alt, sizeof alt, "captioned image %.0f", img[i]);
      fputs("<div class=\"cap\">", p->f);
      HP_CALL(thumb(p, (int64_t)img[i], alt));
      fputs("<div><b>references:</b> ", p->f);
      hp_html_text(p->f, ref[i]);
      fputs("<br><b>direct:</b> ", p->f);
      hp_html_text(p->f, dir[i]);
      fputs("<br><b>projected:</b> ", p->f);
      hp_html_text(p->f, pro[i]);
      fputs("</div></div>\n", p->f);
    }
  }
  hp_strings_free(dir, nd_), hp_strings_free(pro, np_), hp_strings_free(ref, nr);
  free(img);
  return 0;
}

/* ---- the page --------------------------------------------------------------------------------- */

static int write_page(page *p, const char *rpath) {
  h5src r = {-1, rpath};
  HP_CALL(hp_h5_open_serial(rpath, &r.fid));
  const char *name = hp_cfg_str(p->ctx->cfg, "run.name");
  fputs("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>hpclip run: ", p->f);
  hp_html_text(p->f, name);
  fprintf(p->f, "</title><style>%s</style></head>\n<body>\n<h1>Run: ", g_style);
  hp_html_text(p->f, name);
  fprintf(p->f, "</h1>\n<p>Written by <code>hpclip report</code> (hpclip %s) from the files of this run directory. "
                "Every number comes from them.</p>\n<nav><a href=\"#run\">run</a><a href=\"#dataset\">dataset</a>"
                "<a href=\"#training\">training</a><a href=\"#retrieval\">retrieval</a><a href=\"#zeroshot\">zero-shot</a>"
                "<a href=\"#clustering\">clustering</a><a href=\"#captioning\">captioning</a><a href=\"#config\">"
                "configuration</a></nav>\n", HPCLIP_VERSION);
  int e = sec_run(p, rpath);
  if (!e) e = sec_dataset(p);
  if (!e) e = sec_training(p);
  if (!e) e = sec_search(p, &r);
  if (!e) e = sec_zeroshot(p, &r);
  if (!e) e = sec_cluster(p, &r);
  if (!e) e = sec_caption(p, &r);
  char *cfg = e ? NULL : hp_rr_attr_str(r.fid, rpath, "/", "config");
  if (cfg) {
    heading(p, "config", "Configuration");
    fputs("<pre>", p->f);
    hp_html_text(p->f, cfg);
    fputs("</pre>\n", p->f);
    free(cfg);
  }
  fprintf(p->f, "<script>\n%s</script>\n</body></html>\n", g_script);
  H5Fclose(r.fid);
  return e;
}

int hp_report_html(hp_stage_ctx *ctx, const char *rpath) {
  char path[4096], tmp[4200];
  HP_CALL(hp_run_path(ctx, HP_FILE_REPORT_HTML, path, sizeof path));
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  page p = {.ctx = ctx, .ds = -1};
  HP_CALL(hp_run_path(ctx, HP_FILE_DATASET, p.dpath, sizeof p.dpath));
  if (access(p.dpath, R_OK) == 0) {
    int nd;
    int64_t d[8];
    HP_CALL(hp_h5_open_serial(p.dpath, &p.ds));
    HP_CALL(hp_rr_dims(p.ds, p.dpath, "/images", &nd, d));
    if (nd != 4) HP_H5_ERROR(HP_ERR_INPUT, p.dpath, "/images", "not [N,H,W,3]");
    p.N = d[0], p.H = d[1], p.W = d[2];
  }
  hp_tmpfile_register(tmp);
  p.f = fopen(tmp, "w");
  if (!p.f) HP_ERROR(HP_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
  int e = write_page(&p, rpath);
  if ((ferror(p.f) | fclose(p.f)) && !e) e = HP_ERROR_SET(HP_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
  if (p.ds >= 0) H5Fclose(p.ds);
  if (!e && rename(tmp, path) != 0) e = HP_ERROR_SET(HP_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
  if (e) remove(tmp);
  hp_tmpfile_unregister(tmp);
  HP_CALL(e);
  return 0;
}
