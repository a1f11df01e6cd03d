/* preflight.c — checks of a job before it runs (see preflight.h). */
#define _DEFAULT_SOURCE
#include "stages/preflight.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/error.h"
#include "data/split.h"
#include "ingest/coco.h"
#include "ingest/roco.h"
#include "ingest/folder.h"
#include "ingest/webdataset.h"

typedef struct {
  char text[8192];
  size_t used;
  int n, config; /* problems; any of them a configuration (not a data location) problem */
} problems;

static void add(problems *p, int config, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add(problems *p, int config, const char *fmt, ...) {
  p->n++;
  p->config |= config;
  if (p->used >= sizeof p->text - 64) return;
  p->used += (size_t)snprintf(p->text + p->used, sizeof p->text - p->used, "\n  %d. ", p->n);
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(p->text + p->used, sizeof p->text - p->used, fmt, ap);
  va_end(ap);
  if (w > 0) p->used += (size_t)w;
  if (p->used > sizeof p->text - 1) p->used = sizeof p->text - 1;
}

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int has_suffix(const char *s, const char *suf) {
  size_t n = strlen(s), m = strlen(suf);
  return n >= m && strcasecmp(s + n - m, suf) == 0;
}

/* 1 if dir has an entry whose name starts with pre and ends with suf */
static int dir_has(const char *dir, const char *pre, const char *suf) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int found = 0;
  for (struct dirent *e; !found && (e = readdir(d));)
    found = strncmp(e->d_name, pre, strlen(pre)) == 0 && has_suffix(e->d_name, suf);
  closedir(d);
  return found;
}

/* 1 if dir, or a folder up to `depth` levels below it (train/cats/), holds a .jpg/.jpeg/.png */
static int dir_has_images(const char *dir, int depth) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int found = 0;
  char p[4200];
  for (struct dirent *e; !found && (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    found = hp_folder_is_image_name(e->d_name);
    if (!found && depth > 0 && snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < (int)sizeof p && is_dir(p))
      found = dir_has_images(p, depth - 1);
  }
  closedir(d);
  return found;
}

const char *hp_preflight_guess_layout(const char *path, const char **format) {
  const char *fmt = NULL, *what = NULL;
  char p[4200];
  if (is_file(path)) {
    if (has_suffix(path, ".csv") || has_suffix(path, ".tsv") || has_suffix(path, ".tab")) fmt = "csv", what = "a CSV/TSV table";
    else if (has_suffix(path, ".tar") || has_suffix(path, ".tar.gz")) fmt = "webdataset", what = "webdataset shards";
  } else if (is_dir(path)) {
    snprintf(p, sizeof p, "%s/annotations", path);
    if (dir_has(p, "captions_", ".json")) fmt = "coco", what = "COCO";
    snprintf(p, sizeof p, "%s/styles.csv", path);
    if (!fmt && is_file(p)) fmt = "fashion", what = "Fashion Product";
    snprintf(p, sizeof p, "%s/data", path);
    if (!fmt && is_dir(p)) {
      static const char *const roco[] = {"train/radiology", "validation/radiology", "test/radiology"};
      for (int k = 0; k < 3 && !fmt; k++) {
        snprintf(p, sizeof p, "%s/data/%s/captions.txt", path, roco[k]);
        if (is_file(p)) fmt = "roco", what = "ROCO";
      }
    }
    if (!fmt && dir_has(path, "", ".tar")) fmt = "webdataset", what = "webdataset shards (give them as DIR/*.tar)";
    if (!fmt && (dir_has(path, "", ".csv") || dir_has(path, "", ".tsv")))
      fmt = "csv", what = "a folder with a CSV/TSV table (give the table's path)";
    if (!fmt && dir_has_images(path, 2)) fmt = "folder", what = "a folder of images";
  }
  if (format) *format = fmt;
  return what;
}

/* "; this folder looks like X (ingest.format = "x")" when it looks like another format */
static const char *looks_like(const char *root, const char *format, char *buf, size_t n) {
  const char *fmt = NULL, *what = hp_preflight_guess_layout(root, &fmt);
  buf[0] = 0;
  if (what && strcmp(fmt, format) != 0) snprintf(buf, n, "; it looks like %s (ingest.format = \"%s\")", what, fmt);
  return buf;
}

static void check_file(problems *pr, const char *root, const char *rel, const char *format, const char *what) {
  char p[4200], hint[256];
  snprintf(p, sizeof p, "%s/%s", root, rel);
  if (!is_file(p))
    add(pr, 0, "ingest.root = \"%s\": no %s (%s) for ingest.format = \"%s\"%s", root, rel, what, format,
        looks_like(root, format, hint, sizeof hint));
}

static void check_ingest(problems *pr, const hp_config *cfg) {
  const char *format = hp_cfg_str(cfg, "ingest.format"), *root = hp_cfg_str(cfg, "ingest.root"),
             *split = hp_cfg_str(cfg, "ingest.split");
  static const char *const parts[3] = {"train", "val", "test"};
  const char *src[64];
  char src_key[64][32];
  int ns = 0;
  for (int s = 0; s < 3; s++) {
    char key[32];
    snprintf(key, sizeof key, "ingest.splits.%s", parts[s]);
    for (int j = 0; j < hp_cfg_list_len(cfg, key) && ns < 64; j++) {
      snprintf(src_key[ns], sizeof src_key[ns], "%s", key);
      src[ns++] = hp_cfg_list_str(cfg, key, j);
    }
  }
  if (ns == 0 && split[0]) {
    snprintf(src_key[ns], sizeof src_key[ns], "ingest.split");
    src[ns++] = split;
  }
  char hint[256];
  if (strcmp(format, "webdataset") == 0) {
    int from_splits = ns > 0 && !split[0];
    for (int k = 0; k < (from_splits ? ns : 1); k++) {
      const char *pat = from_splits ? src[k] : root;
      if (!pat[0]) continue; /* the stage names what is missing */
      char **names = NULL;
      int64_t n = 0;
      if (hp_wds_expand(pat, &names, &n)) add(pr, 0, "%s", hp_error_message());
      else hp_wds_free_names(names, n);
    }
    return;
  }
  if (!root[0]) return; /* the stage's own message says what to set */
  if (strcmp(format, "csv") == 0) {
    if (is_dir(root))
      add(pr, 0, "ingest.root = \"%s\": a folder; ingest.format = \"csv\" reads a CSV/TSV table file%s", root,
          looks_like(root, format, hint, sizeof hint));
    else if (!is_file(root))
      add(pr, 0, "ingest.root = \"%s\": no such file (ingest.format = \"csv\" reads a CSV/TSV table)", root);
    return;
  }
  if (!is_dir(root)) {
    add(pr, 0, "ingest.root = \"%s\": no such folder (ingest.format = \"%s\")%s", root, format,
        is_file(root) ? looks_like(root, format, hint, sizeof hint) : "");
    return;
  }
  for (int k = 0; k < ns; k++) /* split names (the ingest stage refuses them too, later) */
    if ((strcmp(format, "coco") == 0 && !hp_coco_split_ok(src[k])) || (strcmp(format, "roco") == 0 && !hp_roco_split_ok(src[k]))) {
      add(pr, 1, "%s: \"%s\" is not a %s split (%s)", src_key[k], src[k], strcmp(format, "coco") == 0 ? "COCO" : "ROCO",
          strcmp(format, "coco") == 0 ? "train2014, val2014, train2017 or val2017"
                                      : "train/radiology, validation/radiology or test/radiology");
      return;
    }
  const char *kp = hp_cfg_str(cfg, "ingest.karpathy");
  if (kp[0] && !is_file(kp)) add(pr, 0, "ingest.karpathy = \"%s\": no such file", kp);
  char rel[4200];
  if (strcmp(format, "fashion") == 0) {
    check_file(pr, root, "styles.csv", format, "the product table");
  } else if (strcmp(format, "coco") == 0) {
    for (int k = 0; k < ns; k++) {
      snprintf(rel, sizeof rel, "annotations/captions_%s.json", src[k]);
      check_file(pr, root, rel, format, "the captions of that split");
    }
  } else if (strcmp(format, "roco") == 0) {
    for (int k = 0; k < ns; k++) {
      snprintf(rel, sizeof rel, "data/%s/captions.txt", src[k]);
      check_file(pr, root, rel, format, "the captions of that split");
    }
  } else if (strcmp(format, "folder") == 0) {
    for (int k = 0; k < ns; k++) {
      snprintf(rel, sizeof rel, "%s/%s", root, src[k]);
      if (!is_dir(rel)) add(pr, 0, "%s = \"%s\": no folder %s (ingest.format = \"folder\" reads sub-folders of "
                            "ingest.root)", src_key[k], src[k], rel);
    }
  }
}

static int has_stage(const hp_stage *const *stages, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (strcmp(stages[i]->name, name) == 0) return 1;
  return 0;
}

int hp_preflight(const hp_config *cfg, int np, int check_data, const hp_stage *const *stages, int n) {
  problems pr = {.used = 0, .n = 0, .config = 0};
  const char *f = hp_config_path(cfg);
  if (check_data && has_stage(stages, n, "ingest")) check_ingest(&pr, cfg);
  /* sizes known before any data is read: the synthetic dataset's */
  int64_t N = has_stage(stages, n, "synth") ? hp_cfg_int(cfg, "synth.num_images") : -1, nt = -1, nv = -1, nx;
  if (N > 0) hp_split_counts(N, hp_cfg_float(cfg, "data.train_frac"), hp_cfg_float(cfg, "data.val_frac"), &nt, &nv, &nx);
  if (has_stage(stages, n, "train")) {
    int64_t B = hp_cfg_int(cfg, "train.batch");
    if (np > 0 && B % np != 0)
      add(&pr, 1, "train.batch = %" PRId64 " is not divisible by the %d ranks of this job (every rank takes an equal "
          "share of the global batch): use %" PRId64 " or %" PRId64, B, np, B / np * np > 0 ? B / np * np : np,
          (B / np + 1) * np);
    if (nt >= 0 && B > nt)
      add(&pr, 1, "train.batch = %" PRId64 " is larger than the %" PRId64 " training images of synth.num_images = %" PRId64
          " (data.train_frac): lower train.batch or make more images", B, nt, N);
    if (nv == 0)
      add(&pr, 1, "no validation images among synth.num_images = %" PRId64 " (data.val_frac): early stopping and the "
          "best checkpoint need some", N);
  }
  if (has_stage(stages, n, "cluster")) {
    int64_t k = hp_cfg_int(cfg, "cluster.k"), k0 = hp_cfg_int(cfg, "cluster.k_min"), k1 = hp_cfg_int(cfg, "cluster.k_max");
    if (k == 0 && k0 < 2) add(&pr, 1, "cluster.k_min = %" PRId64 ": the elbow range starts at 2 or more", k0);
    if (k == 0 && k0 > k1)
      add(&pr, 1, "cluster.k_min = %" PRId64 " > cluster.k_max = %" PRId64 ": the elbow range is inverted", k0, k1);
    int64_t top = k > 0 ? k : k1;
    if (N > 0 && top > N)
      add(&pr, 1, "%s = %" PRId64 " exceeds the %" PRId64 " images of synth.num_images", k > 0 ? "cluster.k" : "cluster.k_max",
          top, N);
  }
  if (pr.n == 0) return 0;
  HP_ERROR(pr.config ? HP_ERR_CONFIG : HP_ERR_INPUT, "%s: %d problem%s found before running anything:%s", f, pr.n,
           pr.n > 1 ? "s" : "", pr.text);
}
