/* report.c — the `report` stage: RUN_DIR/summary.md, the run's one Markdown summary.
 *
 * Every rank checks results.h5 (hp_check_file: rank 0 validates, the verdict is agreed) and its
 * schema; rank 0 then writes summary.md.tmp and renames it, and its verdict is shared, so a
 * failure anywhere ends every rank with rank 0's message. Sections, in order:
 *   files      dataset.h5 / ckpt.h5 / embeddings.h5 / results.h5 (+ each group): fingerprint
 *              (hash of the config keys and inputs it depends on) and writer;
 *   dataset    dataset.h5: images and size, captions, split sizes, labels, first source id;
 *   training   ckpt.h5: model, steps, the /history loss table with the best epoch, the test-split
 *              retrieval figures of the `state` attribute, the curve PNG (curves.png) if drawn;
 *   one section per results.h5 group, pipeline order (search = Table 1, zeroshot = Table 2,
 *              then cluster, caption, then unknown groups by name). The stage's own fragment
 *              RUN_DIR/GROUP.md is included when its stamp (stage.h) carries the group's
 *              fingerprint — the stage's formatting is not duplicated here; otherwise (missing or
 *              stale fragment, a stage that writes none) the group is listed generically from
 *              results.h5: attributes, and every small numeric dataset as a table (row labels
 *              from a `names` string table beside it or a `NAME_rows` attribute, column labels
 *              from `NAME_columns` or `k`). Every group also gets its dataset list (name, type,
 *              shape). Blocks between `<!-- timing -->` and `<!-- /timing -->` and datasets under
 *              `timing/` (measurements) are left out: summary.md is identical at any rank count.
 *   figures    every *.png of the run directory not already shown by an included fragment;
 *   config     the effective configuration stored in results.h5 (without run.dir).
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "base/error.h"
#include "base/tmpfile.h"
#include "base/log.h"
#include "io/check.h"
#include "io/h5.h"
#include "io/results.h"
#include "stages/markdown.h"
#include "stages/report_html.h"
#include "stages/report_read.h"
#include "stages/stage.h"

#define MAX_VALUES 256   /* a dataset with more values is listed by shape only */
#define MAX_PNG 64

typedef struct {
  hp_stage_ctx *ctx;
  FILE *f;
  char shown[MAX_PNG][256]; /* PNG names already shown by an included fragment */
  int nshown;
} report;

/* ---- serial HDF5 reading (rank 0) ---------------------------------------------------------- */

/* ---- sections -------------------------------------------------------------------------------- */

static int file_row(report *r, const char *name, const char *what) {
  char path[4096];
  HP_CALL(hp_run_path(r->ctx, name, path, sizeof path));
  if (access(path, R_OK) != 0) {
    fprintf(r->f, "| `%s` | %s | – | (not in the run directory) |\n", name, what);
    return 0;
  }
  hid_t fid;
  HP_CALL(hp_h5_open_serial(path, &fid));
  char *fp = hp_rr_attr_str(fid, path, "/", "fingerprint"), *by = hp_rr_attr_str(fid, path, "/", "created_by");
  fprintf(r->f, "| `%s` | %s | `%s` | %s |\n", name, what, fp ? fp : "?", by ? by : "?");
  free(fp);
  free(by);
  H5Fclose(fid);
  return 0;
}

static int section_dataset(report *r) {
  char path[4096];
  HP_CALL(hp_run_path(r->ctx, HP_FILE_DATASET, path, sizeof path));
  if (access(path, R_OK) != 0) return 0;
  hid_t fid;
  int nd;
  int64_t d[8], m[8];
  HP_CALL(hp_h5_open_serial(path, &fid));
  HP_CALL(hp_rr_dims(fid, path, "/images", &nd, d));
  if (nd != 4) HP_H5_ERROR(HP_ERR_INPUT, path, "/images", "expected [N,H,W,3], rank %d", nd);
  HP_CALL(hp_rr_dims(fid, path, "/captions/image", &nd, m));
  int64_t n = d[0], cnt[3] = {0, 0, 0};
  uint8_t *sp = NULL;
  const int64_t chunk = 1 << 20;
  HP_CALLOC(sp, n < chunk ? (n > 0 ? n : 1) : chunk, "split chunk");
  for (int64_t i = 0; i < n; i += chunk) {
    int64_t c = n - i < chunk ? n - i : chunk;
    HP_CALL(hp_rr_read(fid, path, "/split", H5T_NATIVE_UINT8, i, c, sp));
    for (int64_t j = 0; j < c; j++)
      if (sp[j] < 3) cnt[sp[j]]++;
  }
  free(sp);
  fprintf(r->f, "## Dataset (`dataset.h5`)\n\n| | |\n|---|---|\n");
  fprintf(r->f, "| images | %" PRId64 " (%" PRId64 "×%" PRId64 " RGB) |\n", n, d[1], d[2]);
  fprintf(r->f, "| captions | %" PRId64 " (%.2f per image) |\n", m[0], n > 0 ? (double)m[0] / (double)n : 0.0);
  fprintf(r->f, "| split (train / val / test images) | %" PRId64 " / %" PRId64 " / %" PRId64 " |\n", cnt[0], cnt[1],
          cnt[2]);
  char *how = hp_rr_attr_str(fid, path, "/", "split");
  if (how) {
    fprintf(r->f, "| how the split was made | ");
    hp_md_text(r->f, how, 400);
    fprintf(r->f, " |\n");
    free(how);
  }
  if (hp_rr_exists(fid, path, "/labels/names")) {
    int64_t L;
    HP_CALL(hp_rr_strtab_count(fid, path, "/labels/names", &L));
    fprintf(r->f, "| label classes | %" PRId64 ":", L);
    for (int64_t i = 0; i < L && i < 40; i++) {
      char *s;
      HP_CALL(hp_rr_strtab_get(fid, path, "/labels/names", i, &s));
      fprintf(r->f, "%s ", i ? "," : "");
      hp_md_text(r->f, s, 80);
      free(s);
    }
    fprintf(r->f, "%s |\n", L > 40 ? ", …" : "");
  } else {
    fprintf(r->f, "| label classes | none |\n");
  }
  if (n > 0) {
    char *s;
    HP_CALL(hp_rr_strtab_get(fid, path, "/source_id", 0, &s));
    fprintf(r->f, "| source (first image's id) | `");
    hp_md_text(r->f, s, 200);
    fprintf(r->f, "` |\n");
    free(s);
  }
  fprintf(r->f, "\n");
  H5Fclose(fid);
  return 0;
}

static int png_exists(report *r, const char *name) {
  char path[4096];
  if (hp_run_path(r->ctx, name, path, sizeof path) != 0) {
    hp_error_clear();
    return 0;
  }
  return access(path, R_OK) == 0;
}

static void mark_shown(report *r, const char *name) {
  for (int i = 0; i < r->nshown; i++)
    if (strcmp(r->shown[i], name) == 0) return;
  if (r->nshown < MAX_PNG) snprintf(r->shown[r->nshown++], sizeof r->shown[0], "%s", name);
}

static int section_training(report *r) {
  char path[4096];
  HP_CALL(hp_run_path(r->ctx, HP_FILE_CKPT, path, sizeof path));
  if (access(path, R_OK) != 0) return 0;
  hid_t fid;
  HP_CALL(hp_h5_open_serial(path, &fid));
  char *model = hp_rr_attr_str(fid, path, "/", "model"), *opt = hp_rr_attr_str(fid, path, "/", "optimizer");
  char *state = hp_rr_attr_str(fid, path, "/", "state");
  int64_t step = hp_rr_attr_int(fid, path, "/", "step", -1), epoch = hp_rr_attr_int(fid, path, "/", "epoch", -1);
  char *tok = hp_rr_attr_str(fid, path, "/", "tokenizer"); /* absent in files from before it: the word tokenizer */
  fprintf(r->f, "## Training (`ckpt.h5`)\n\nModel `%s`; tokenizer `%s`; optimiser `%s`; steps: %" PRId64
          ", epochs completed: %" PRId64 ".\n\n", model ? model : "?", tok ? tok : "word", opt ? opt : "?", step, epoch);
  free(tok);
  char v[64];
  int64_t best = 0;
  if (state && hp_rr_state_value(state, "best_epoch", v, sizeof v)) best = strtoll(v, NULL, 10);
  if (hp_rr_exists(fid, path, "/history/train_loss") && hp_rr_exists(fid, path, "/history/val_loss")) {
    int nd;
    int64_t d[8], d2[8];
    HP_CALL(hp_rr_dims(fid, path, "/history/train_loss", &nd, d));
    HP_CALL(hp_rr_dims(fid, path, "/history/val_loss", &nd, d2));
    if (d[0] != d2[0]) HP_H5_ERROR(HP_ERR_INPUT, path, "/history", "train_loss and val_loss lengths differ");
    double *tl = NULL, *vl = NULL;
    HP_CALLOC(tl, d[0] + 1, "loss history");
    HP_CALLOC(vl, d[0] + 1, "loss history");
    if (d[0] > 0) {
      HP_CALL(hp_rr_read(fid, path, "/history/train_loss", H5T_NATIVE_DOUBLE, 0, -1, tl));
      HP_CALL(hp_rr_read(fid, path, "/history/val_loss", H5T_NATIVE_DOUBLE, 0, -1, vl));
    }
    if (best <= 0)
      for (int64_t e = 0; e < d[0]; e++)
        if (best == 0 || vl[e] < vl[best - 1]) best = e + 1;
    fprintf(r->f, "Per-epoch losses (`/history`); the checkpoint holds the best validation epoch, %" PRId64 ":\n\n",
            best);
    fprintf(r->f, "| epoch | training loss | validation loss |\n|---:|---:|---:|\n");
    for (int64_t e = 0; e < d[0]; e++) {
      const char *b = e + 1 == best ? "**" : "";
      fprintf(r->f, "| %s%" PRId64 "%s | %.4f | %s%.4f%s |\n", b, e + 1, b, tl[e], b, vl[e], b);
    }
    fprintf(r->f, "\n");
    free(tl);
    free(vl);
  } else {
    fprintf(r->f, "No `/history` in the checkpoint (no completed epoch recorded).\n\n");
  }
  static const char *const keys[2][3] = {{"i2t_r1", "i2t_r5", "i2t_r10"}, {"t2i_r1", "t2i_r5", "t2i_r10"}};
  if (state && hp_rr_state_value(state, "i2t_r1", v, sizeof v)) {
    char ni[32] = "?", nc[32] = "?", nic[32] = "";
    hp_rr_state_value(state, "test_images", ni, sizeof ni);
    hp_rr_state_value(state, "test_captions", nc, sizeof nc);
    char with[128] = "";
    if (hp_rr_state_value(state, "test_captioned_images", nic, sizeof nic) && strcmp(nic, ni) != 0)
      snprintf(with, sizeof with, " (%s with captions: image → caption's queries)", nic);
    fprintf(r->f, "Test-split retrieval of the best epoch's model, as measured by `train` (%s images%s, %s captions):\n\n"
            "| direction | R@1 | R@5 | R@10 |\n|---|---:|---:|---:|\n", ni, with, nc);
    for (int dir = 0; dir < 2; dir++) {
      fprintf(r->f, "| %s", dir ? "caption → image" : "image → caption");
      for (int k = 0; k < 3; k++) {
        if (hp_rr_state_value(state, keys[dir][k], v, sizeof v)) fprintf(r->f, " | %s", v);
        else fprintf(r->f, " | –");
      }
      fprintf(r->f, " |\n");
    }
    fprintf(r->f, "\n");
  }
  if (png_exists(r, HP_FILE_CURVES_PNG)) {
    fprintf(r->f, "![training curves](" HP_FILE_CURVES_PNG ")\n\n");
    mark_shown(r, HP_FILE_CURVES_PNG);
  } else {
    fprintf(r->f, "The training curves are drawn in [report.html](" HP_FILE_REPORT_HTML "#training) (a PNG for Markdown "
            "viewers: `/usr/bin/python3 scripts/plot_training.py RUN_DIR/ckpt.h5`, then `hpclip report JOB.cfg --force`).\n\n");
  }
  free(model);
  free(opt);
  free(state);
  H5Fclose(fid);
  return 0;
}

/* ---- results.h5 groups ------------------------------------------------------------------------ */

typedef struct {
  char (*names)[256];
  int n, cap;
  int err;
} name_list;

static herr_t list_member(hid_t g, const char *name, const H5L_info_t *info, void *user) {
  name_list *l = user;
  (void)g;
  (void)info;
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 16;
    void *p = realloc(l->names, (size_t)cap * sizeof l->names[0]);
    if (!p) {
      l->err = HP_ERROR_SET(HP_ERR_MEM, "out of memory listing results.h5");
      return -1;
    }
    l->names = p;
    l->cap = cap;
  }
  snprintf(l->names[l->n++], sizeof l->names[0], "%s", name);
  return 0;
}

static int list_links(hid_t fid, const char *path, const char *obj, name_list *l) {
  memset(l, 0, sizeof *l);
  hsize_t idx = 0;
  herr_t e = H5Literate_by_name(fid, obj, H5_INDEX_NAME, H5_ITER_INC, &idx, list_member, l, H5P_DEFAULT);
  if (l->err) return hp_error_trace(l->err, __FILE__, __LINE__, __func__);
  if (e < 0) HP_H5_ERROR(HP_ERR_INPUT, path, obj, "cannot list the members");
  return 0;
}

static int is_group(hid_t fid, const char *obj) {
  H5O_info_t oi;
  if (H5Oget_info_by_name(fid, obj, &oi, H5P_DEFAULT) < 0) return 0;
  return oi.type == H5O_TYPE_GROUP;
}

static const char *type_name(hid_t fid, const char *obj) {
  hid_t d = H5Dopen2(fid, obj, H5P_DEFAULT);
  if (d < 0) return "?";
  hid_t t = H5Dget_type(d);
  const char *s = "other";
  H5T_class_t c = H5Tget_class(t);
  size_t sz = H5Tget_size(t);
  if (c == H5T_FLOAT) s = sz == 8 ? "float64" : "float32";
  else if (c == H5T_INTEGER) {
    int u = H5Tget_sign(t) == H5T_SGN_NONE;
    s = sz == 1 ? (u ? "uint8" : "int8") : sz == 8 ? (u ? "uint64" : "int64") : sz == 4 ? (u ? "uint32" : "int32") : "integer";
  } else if (c == H5T_STRING) s = "string";
  H5Tclose(t);
  H5Dclose(d);
  return s;
}

/* Split a comma list into at most max items (pointers into buf). */
static int split_list(char *buf, char **items, int max) {
  int n = 0;
  for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save)) items[n++] = t;
  return n;
}

/* One dataset's values as a Markdown table (small numeric datasets, rank 1 or 2). */
static int values_table(report *r, hid_t fid, const char *path, const char *gobj, const char *parent,
                        const char *leaf, const char *obj, int nd, const int64_t *d) {
  int64_t rows = d[0], cols = nd == 2 ? d[1] : 1;
  int integer = strncmp(type_name(fid, obj), "int", 3) == 0 || strncmp(type_name(fid, obj), "uint", 4) == 0;
  double *v = NULL;
  HP_CALLOC(v, rows * cols + 1, "values");
  if (rows * cols > 0) {
    hid_t ds;
    HP_H5(HP_ERR_INPUT, ds = H5Dopen2(fid, obj, H5P_DEFAULT), path, obj, "cannot open");
    HP_H5(HP_ERR_INPUT, H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), path, obj, "cannot read");
    H5Dclose(ds);
  }
  /* labels: NAME_columns / NAME_rows attributes of the stage group, a `names` string table beside */
  char an[300], *cb = NULL, *rb = NULL, *citems[64], *ritems[64];
  int nc = 0, nr = 0, at_k = 0;
  int64_t want = nd == 2 ? cols : rows;
  snprintf(an, sizeof an, "%s_columns", leaf);
  if ((cb = hp_rr_attr_str(fid, path, gobj, an))) nc = split_list(cb, citems, 64);
  if (nc != want) {
    free(cb);
    nc = 0;
    if (nd == 2 && (cb = hp_rr_attr_str(fid, path, gobj, "k"))) { /* "1,5,10": columns @1 @5 @10 */
      nc = split_list(cb, citems, 64);
      if (nc == cols) at_k = 1;
      else nc = 0;
    }
  }
  snprintf(an, sizeof an, "%s_rows", leaf);
  if ((rb = hp_rr_attr_str(fid, path, gobj, an))) nr = split_list(rb, ritems, 64);
  char **names = NULL;
  int64_t nn = 0;
  char nobj[600];
  snprintf(nobj, sizeof nobj, "%s/names", parent);
  if (nr != rows && hp_rr_is_strtab(fid, path, nobj) && hp_rr_strtab_count(fid, path, nobj, &nn) == 0 && nn == rows) {
    HP_CALLOC(names, rows, "row names");
    for (int64_t i = 0; i < rows; i++) HP_CALL(hp_rr_strtab_get(fid, path, nobj, i, &names[i]));
  }
  hp_error_clear();
  int one_row = nd == 1 && nc == rows; /* a 1-D row with named columns (table2) */
  if (one_row) {
    fprintf(r->f, "|");
    for (int i = 0; i < nc; i++) fprintf(r->f, " %s |", citems[i]);
    fprintf(r->f, "\n|");
    for (int i = 0; i < nc; i++) fprintf(r->f, "---:|");
    fprintf(r->f, "\n|");
    for (int64_t i = 0; i < rows; i++) integer ? fprintf(r->f, " %.0f |", v[i]) : fprintf(r->f, " %.4f |", v[i]);
    fprintf(r->f, "\n\n");
  } else {
    fprintf(r->f, "| row |");
    for (int64_t j = 0; j < cols; j++) {
      if (nc == cols) fprintf(r->f, " %s%s |", at_k ? "@" : "", citems[j]);
      else if (nd == 1) fprintf(r->f, " %s |", leaf);
      else fprintf(r->f, " [%" PRId64 "] |", j);
    }
    fprintf(r->f, "\n|---|");
    for (int64_t j = 0; j < cols; j++) fprintf(r->f, "---:|");
    fprintf(r->f, "\n");
    for (int64_t i = 0; i < rows; i++) {
      if (nr == rows) fprintf(r->f, "| %s |", ritems[i]);
      else if (names) {
        fprintf(r->f, "| ");
        hp_md_text(r->f, names[i], 80);
        fprintf(r->f, " |");
      } else fprintf(r->f, "| %" PRId64 " |", i);
      for (int64_t j = 0; j < cols; j++)
        integer ? fprintf(r->f, " %.0f |", v[i * cols + j]) : fprintf(r->f, " %.4f |", v[i * cols + j]);
      fprintf(r->f, "\n");
    }
    fprintf(r->f, "\n");
  }
  if (names)
    for (int64_t i = 0; i < rows; i++) free(names[i]);
  free(names);
  free(cb);
  free(rb);
  free(v);
  return 0;
}

/* Walk group `obj` (relative name `rel`): list every dataset (table row), or, values = 1,
 * print small numeric datasets' values. String tables count as one object. */
static int walk(report *r, hid_t fid, const char *path, const char *gobj, const char *obj, const char *rel, int values) {
  name_list l;
  HP_CALL(list_links(fid, path, obj, &l));
  for (int i = 0; i < l.n; i++) {
    char child[1024], crel[1024];
    snprintf(child, sizeof child, "%s/%s", obj, l.names[i]);
    snprintf(crel, sizeof crel, "%s%s%s", rel, *rel ? "/" : "", l.names[i]);
    int timing = strcmp(l.names[i], "timing") == 0 || strstr(rel, "timing") == rel;
    if (is_group(fid, child)) {
      if (hp_rr_is_strtab(fid, path, child)) {
        int64_t k = 0;
        HP_CALL(hp_rr_strtab_count(fid, path, child, &k));
        if (!values) fprintf(r->f, "| `%s` | string table | [%" PRId64 "] |\n", crel, k);
      } else if (!(values && timing)) {
        HP_CALL(walk(r, fid, path, gobj, child, crel, values));
      }
      continue;
    }
    int nd;
    int64_t d[8];
    HP_CALL(hp_rr_dims(fid, path, child, &nd, d));
    if (!values) {
      fprintf(r->f, "| `%s` | %s | [", crel, type_name(fid, child));
      for (int j = 0; j < nd; j++) fprintf(r->f, "%s%" PRId64, j ? "," : "", d[j]);
      fprintf(r->f, "] |\n");
      continue;
    }
    const char *t = type_name(fid, child);
    int numeric = strcmp(t, "string") != 0 && strcmp(t, "other") != 0 && strcmp(t, "?") != 0;
    int64_t total = 1;
    for (int j = 0; j < nd; j++) total *= d[j];
    if (timing || !numeric || nd < 1 || nd > 2 || total > MAX_VALUES || total == 0) continue;
    fprintf(r->f, "`%s`:\n\n", crel);
    HP_CALL(values_table(r, fid, path, gobj, obj, l.names[i], child, nd, d));
  }
  free(l.names);
  return 0;
}

typedef struct {
  report *r;
  hid_t fid;
  const char *path, *obj;
} attr_walk;

static herr_t attr_row(hid_t loc, const char *name, const H5A_info_t *info, void *user) {
  attr_walk *a = user;
  (void)loc;
  (void)info;
  if (strcmp(name, "config") == 0 || strcmp(name, "fingerprint") == 0 || strcmp(name, "created_by") == 0) return 0;
  if (strstr(name, "timing")) return 0;
  char *s = hp_rr_attr_str(a->fid, a->path, a->obj, name);
  if (s) {
    fprintf(a->r->f, "| %s | ", name);
    hp_md_text(a->r->f, s, 200);
    fprintf(a->r->f, " |\n");
    free(s);
    return 0;
  }
  hid_t at = H5Aopen(loc, name, H5P_DEFAULT);
  if (at < 0) return 0;
  hid_t sp = H5Aget_space(at), t = H5Aget_type(at);
  if (H5Sget_simple_extent_npoints(sp) == 1) {
    if (H5Tget_class(t) == H5T_INTEGER) {
      int64_t v = 0;
      if (H5Aread(at, H5T_NATIVE_INT64, &v) >= 0) fprintf(a->r->f, "| %s | %" PRId64 " |\n", name, v);
    } else if (H5Tget_class(t) == H5T_FLOAT) {
      double v = 0;
      if (H5Aread(at, H5T_NATIVE_DOUBLE, &v) >= 0) fprintf(a->r->f, "| %s | %.6g |\n", name, v);
    }
  }
  H5Tclose(t);
  H5Sclose(sp);
  H5Aclose(at);
  return 0;
}

/* Include RUN_DIR/G.md without its stamp and timing blocks, its first heading replaced by `title`
 * unless keep_heading (a stage this file has no title for keeps its own); 1 if included. */
static int include_fragment(report *r, const char *group, const char *fp, const char *title, int keep_heading) {
  char name[300], path[4096], have[64];
  snprintf(name, sizeof name, HP_FILE_STAGE_MD("%s"), group);
  if (hp_run_path(r->ctx, name, path, sizeof path) != 0) {
    hp_error_clear();
    return 0;
  }
  int st = hp_md_stamp_read(path, group, have, sizeof have);
  if (st != 1 || strcmp(have, fp) != 0) {
    if (st < 0) fprintf(r->f, "%s\n\n*`%s` is not in the run directory: the figures below are listed from "
                        "`results.h5`.*\n\n", title, name);
    else fprintf(r->f, "%s\n\n*`%s` does not carry the fingerprint of `/%s` (`%s`; stale, or written by other "
                 "means): not included ([%s](%s)); the figures below are listed from `results.h5`.*\n\n",
                 title, name, group, fp, name, name);
    return 0;
  }
  FILE *in = fopen(path, "r");
  if (!in) return 0;
  char *line = NULL;
  size_t cap = 0;
  int first = 1, skip = 0, heading_done = 0, blank = 1; /* blank: the last line written was empty */
  while (getline(&line, &cap, in) >= 0) {
    if (first) { /* the stamp */
      first = 0;
      continue;
    }
    if (strcmp(line, "<!-- timing -->\n") == 0) skip = 1;
    if (skip) {
      if (strcmp(line, "<!-- /timing -->\n") == 0) skip = 0;
      continue;
    }
    if (!heading_done && line[0] == '#') {
      if (keep_heading) fputs(line, r->f);
      else fprintf(r->f, "%s\n", title);
      heading_done = 1;
      blank = 0;
      continue;
    }
    if (!heading_done && line[0] != '\n') {
      fprintf(r->f, "%s\n\n", title);
      heading_done = 1;
    }
    for (char *p = strstr(line, "]("); p; p = strstr(p + 2, "](")) {
      size_t l = strcspn(p + 2, ")");
      if (l > 4 && l < 256 && strncmp(p + 2 + l - 4, ".png", 4) == 0) {
        char png[256];
        snprintf(png, sizeof png, "%.*s", (int)l, p + 2);
        mark_shown(r, png);
      }
    }
    if (line[0] == '\n' && blank) continue; /* one empty line between blocks (timing blocks leave two) */
    blank = line[0] == '\n';
    fputs(line, r->f);
  }
  free(line);
  fclose(in);
  if (!heading_done) fprintf(r->f, "%s\n\n", title);
  if (!blank) fprintf(r->f, "\n");
  return 1;
}

static int section_group(report *r, hid_t fid, const char *path, const char *group) {
  char obj[300], title[400];
  snprintf(obj, sizeof obj, "/%s", group);
  char *fp = hp_rr_attr_str(fid, path, obj, "fingerprint");
  if (strcmp(group, "search") == 0) snprintf(title, sizeof title, "## Table 1 — retrieval (`search`)");
  else if (strcmp(group, "zeroshot") == 0)
    snprintf(title, sizeof title, "## Table 2 — zero-shot classification (`zeroshot`)");
  else snprintf(title, sizeof title, "## `%s`", group);
  int known = strcmp(group, "search") == 0 || strcmp(group, "zeroshot") == 0;
  if (!include_fragment(r, group, fp ? fp : "", title, !known)) {
    fprintf(r->f, "| attribute | value |\n|---|---|\n");
    attr_walk a = {r, fid, path, obj};
    hsize_t idx = 0;
    H5Aiterate_by_name(fid, obj, H5_INDEX_NAME, H5_ITER_INC, &idx, attr_row, &a, H5P_DEFAULT);
    fprintf(r->f, "\n");
    HP_CALL(walk(r, fid, path, obj, obj, "", 1));
  }
  fprintf(r->f, "<details><summary>datasets of <code>/%s</code> in results.h5 (fingerprint <code>%s</code>)"
          "</summary>\n\n| dataset | type | shape |\n|---|---|---|\n", group, fp ? fp : "?");
  HP_CALL(walk(r, fid, path, obj, obj, "", 0));
  fprintf(r->f, "\n</details>\n\n");
  free(fp);
  return 0;
}

static int section_results(report *r, const char *path) {
  hid_t fid;
  name_list l;
  HP_CALL(hp_h5_open_serial(path, &fid));
  HP_CALL(list_links(fid, path, "/", &l));
  char *done = NULL;
  HP_CALLOC(done, l.n + 1, "group flags");
  /* pipeline order first (the stage table), then the groups no stage is known for, by name */
  for (int s = 0; s <= hp_nstages; s++)
    for (int i = 0; i < l.n; i++) {
      if (done[i] || (s < hp_nstages && strcmp(l.names[i], hp_stages[s].name) != 0)) continue;
      char obj[300];
      snprintf(obj, sizeof obj, "/%s", l.names[i]);
      if (!is_group(fid, obj)) continue;
      done[i] = 1;
      HP_CALL(section_group(r, fid, path, l.names[i]));
    }
  free(done);
  free(l.names);
  H5Fclose(fid);
  return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int section_figures(report *r) {
  DIR *d = opendir(r->ctx->run_dir);
  if (!d) HP_ERROR(HP_ERR_IO, "cannot list the run directory %s: %s", r->ctx->run_dir, strerror(errno));
  char *names[MAX_PNG];
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) && n < MAX_PNG;) {
    size_t l = strlen(e->d_name);
    if (l < 5 || strcmp(e->d_name + l - 4, ".png") != 0 || e->d_name[0] == '.') continue;
    int shown = 0;
    for (int i = 0; i < r->nshown; i++) shown |= strcmp(r->shown[i], e->d_name) == 0;
    if (!shown && (names[n] = strdup(e->d_name))) n++;
  }
  closedir(d);
  qsort(names, (size_t)n, sizeof names[0], cmp_str);
  if (n) fprintf(r->f, "## Figures\n\n");
  for (int i = 0; i < n; i++) {
    fprintf(r->f, "`%s`:\n\n![%s](%s)\n\n", names[i], names[i], names[i]);
    free(names[i]);
  }
  return 0;
}

static int section_config(report *r, const char *rpath) {
  hid_t fid;
  HP_CALL(hp_h5_open_serial(rpath, &fid));
  char *cfg = hp_rr_attr_str(fid, rpath, "/", "config");
  H5Fclose(fid);
  if (!cfg) return 0;
  fprintf(r->f, "## Configuration\n\n<details><summary>the effective configuration of the last stage that wrote "
          "results.h5 (every key; <code>run.dir</code> left out)</summary>\n\n```\n");
  int in_run = 0;
  for (char *save = NULL, *t = strtok_r(cfg, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
    const char *s = t + strspn(t, " ");
    if (strncmp(s, "run", 3) == 0 && (s[3] == ' ' || s[3] == ':' || s[3] == '=')) in_run = 1;
    else if (t[0] != ' ' && s[0] != '}') in_run = 0;
    if (in_run && strncmp(s, "dir", 3) == 0 && (s[3] == ' ' || s[3] == '=' || s[3] == ':')) continue;
    if (strncmp(s, "run.dir", 7) == 0) continue;
    fprintf(r->f, "%s\n", t);
  }
  fprintf(r->f, "```\n\n</details>\n");
  free(cfg);
  return 0;
}

static int write_summary(hp_stage_ctx *ctx, const char *rpath) {
  char path[4096], tmp[4200];
  HP_CALL(hp_run_path(ctx, HP_FILE_SUMMARY, path, sizeof path));
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  hp_tmpfile_register(tmp);
  report r = {.ctx = ctx};
  r.f = fopen(tmp, "w");
  if (!r.f) HP_ERROR(HP_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
  FILE *f = r.f;
  fprintf(f, HP_MD_STAMP_FMT, "report", ctx->fingerprint);
  fprintf(f, "# Run summary: %s\n\n", hp_cfg_str(ctx->cfg, "run.name"));
  fprintf(f, "Written by `hpclip report` (hpclip %s) from the files of this run directory; every figure comes from "
          "them (each stage's own Markdown, `STAGE.md`, is included while it matches its `results.h5` group). "
          "Summary fingerprint `%s`. The same as a web page, with its plots and images: [report.html](" HP_FILE_REPORT_HTML
          ").\n\n", HPCLIP_VERSION, ctx->fingerprint);
  fprintf(f, "## Files\n\nEach file's fingerprint hashes the configuration keys and the input files it depends on "
          "(the effective configuration of the stage that wrote it).\n\n| file | content | fingerprint | written by |\n"
          "|---|---|---|---|\n");
  HP_CALL(file_row(&r, HP_FILE_DATASET, "images and captions"));
  HP_CALL(file_row(&r, HP_FILE_CKPT, "trained model"));
  HP_CALL(file_row(&r, HP_FILE_EMBEDDINGS, "image and caption embeddings"));
  HP_CALL(file_row(&r, HP_FILE_RESULTS, "evaluation tables"));
  {
    hid_t fid;
    name_list l;
    HP_CALL(hp_h5_open_serial(rpath, &fid));
    HP_CALL(list_links(fid, rpath, "/", &l));
    for (int i = 0; i < l.n; i++) {
      char obj[300];
      snprintf(obj, sizeof obj, "/%s", l.names[i]);
      char *fp = hp_rr_attr_str(fid, rpath, obj, "fingerprint"), *by = hp_rr_attr_str(fid, rpath, obj, "created_by");
      fprintf(f, "| `results.h5` `/%s` | `%s` stage | `%s` | %s |\n", l.names[i], l.names[i], fp ? fp : "?",
              by ? by : "?");
      free(fp);
      free(by);
    }
    free(l.names);
    H5Fclose(fid);
  }
  fprintf(f, "\n");
  HP_CALL(section_dataset(&r));
  HP_CALL(section_training(&r));
  HP_CALL(section_results(&r, rpath));
  HP_CALL(section_figures(&r));
  HP_CALL(section_config(&r, rpath));
  r.f = NULL;
  if (ferror(f) | fclose(f)) HP_ERROR(HP_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
  if (rename(tmp, path) != 0) HP_ERROR(HP_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
  hp_tmpfile_unregister(tmp);
  return 0;
}

int hp_stage_report(hp_stage_ctx *ctx) {
  char rpath[4096], schema[64];
  HP_CALL(hp_run_path(ctx, HP_FILE_RESULTS, rpath, sizeof rpath));
  HP_CALL(hp_check_file_as(ctx->comm, rpath, "hpclip.results")); /* collective, the message names the file */
  HP_CALL(hp_h5_root_attr(ctx->comm, rpath, "schema", schema, sizeof schema));
  int err = 0;
  if (strcmp(schema, HP_RESULTS_SCHEMA) != 0)
    err = HP_ERROR_SET(HP_ERR_INPUT,
                       "%s: schema is '%s', expected '%s' (not a results file)", rpath, schema, HP_RESULTS_SCHEMA);
  HP_CALL(hp_agree(ctx->comm, err)); /* every rank read the same schema: all agree */
  if (ctx->rank == 0) {
    err = hp_report_html(ctx, rpath); /* first: summary.md, the stage's output, is the last file written */
    if (!err) err = write_summary(ctx, rpath);
    if (err) {
      char tmp[4200];
      snprintf(tmp, sizeof tmp, "%s/summary.md.tmp", ctx->run_dir);
      unlink(tmp);
    }
  }
  HP_CALL(hp_agree_root(ctx->comm, err));
  hp_log_info("report: %s/summary.md and %s written", ctx->run_dir, HP_FILE_REPORT_HTML);
  return 0;
}
