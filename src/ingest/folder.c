/* folder.c — ingest.format = "folder" (see folder.h). */
#define _POSIX_C_SOURCE 200809L
#include "ingest/folder.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/error.h"
#include "ingest/util.h"

#define MAX_DEPTH 64
/* a sidecar holds a few captions; a larger file is not one */
#define MAX_SIDECAR_BYTES ((size_t)16 << 20)

typedef struct {
  char *path;    /* relative to the root */
  char *sidecar; /* relative to the root, NULL = none */
  int64_t label; /* index into the walk's first-level folder names, -1 = none */
  uint8_t split; /* of the walked sub-folder it is in */
} fimage;

typedef struct {
  const char *root;
  const hp_ingest_opts *o;
  hp_ingest_report *rep;
  fimage *img;
  int64_t n, cap;
  char **top;    /* first-level folder names below the walked directory, in walk order */
  int64_t ntop, captop;
  dev_t dev[MAX_DEPTH + 1]; /* the folders on the current path, for loop detection */
  ino_t ino[MAX_DEPTH + 1];
  struct fid { dev_t dev; ino_t ino; int used; } *seen; /* every folder walked (hash set) */
  int64_t nseen, capseen;
  uint8_t split;            /* of the sub-folder being walked */
} walk;

int hp_folder_is_image_name(const char *name) {
  const char *dot = strrchr(name, '.');
  if (!dot || dot == name) return 0;
  return !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png");
}

static int is_sidecar_name(const char *name) {
  size_t n = strlen(name);
  return n > 4 && strcmp(name + n - 4, ".txt") == 0;
}

static void free_names(char **v, int64_t n) {
  for (int64_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

/* The sorted non-hidden names of directory `full` ("where" names it in a report). 0 with *n = -1
 * when it cannot be listed (reported). */
static int list_dir(walk *w, const char *full, const char *where, char ***out, int64_t *n) {
  *out = NULL;
  *n = -1;
  DIR *d = opendir(full);
  if (!d) return hp_report_add(w->rep, where, "cannot list the folder: %s", strerror(errno));
  char **v = NULL;
  int64_t cnt = 0, cap = 0;
  int e = 0;
  for (;;) {
    errno = 0;
    struct dirent *de = readdir(d);
    if (!de) {
      if (errno) e = hp_report_add(w->rep, where, "cannot list the folder: %s", strerror(errno));
      break;
    }
    if (de->d_name[0] == '.') continue; /* ".", "..", hidden files */
    if ((e = hp_ingest_grow((void **)&v, &cap, cnt + 1, sizeof *v, "folder entries"))) break;
    if ((e = hp_ingest_strndup(de->d_name, strlen(de->d_name), &v[cnt]))) break;
    cnt++;
  }
  closedir(d);
  if (e) {
    free_names(v, cnt);
    return e;
  }
  if (cnt > 1) qsort(v, (size_t)cnt, sizeof *v, hp_ingest_cmp_str);
  *out = v;
  *n = cnt;
  return 0;
}

/* Marks the folder (dev, ino) walked; *again = 1 if it already was (a second link to it). */
static int seen_add(walk *w, dev_t dev, ino_t ino, int *again) {
  if (2 * (w->nseen + 1) > w->capseen) {
    int64_t cap = w->capseen ? 2 * w->capseen : 1024, oc = w->capseen;
    struct fid *s = calloc((size_t)cap, sizeof *s), *old = w->seen;
    if (!s) HP_ERROR(HP_ERR_MEM, "walked folders");
    w->seen = s;
    w->capseen = cap;
    w->nseen = 0;
    for (int64_t i = 0; i < oc; i++)
      if (old[i].used) {
        int a;
        HP_CALL(seen_add(w, old[i].dev, old[i].ino, &a));
      }
    free(old);
  }
  uint64_t h = ((uint64_t)ino * 0x9E3779B97F4A7C15ULL) ^ (uint64_t)dev;
  for (int64_t i = (int64_t)(h & (uint64_t)(w->capseen - 1));; i = (i + 1) & (w->capseen - 1)) {
    if (!w->seen[i].used) {
      w->seen[i] = (struct fid){dev, ino, 1};
      w->nseen++;
      *again = 0;
      return 0;
    }
    if (w->seen[i].dev == dev && w->seen[i].ino == ino) return *again = 1, 0;
  }
}

static int top_index(walk *w, const char *name, int64_t *out) {
  for (int64_t k = 0; k < w->ntop; k++)
    if (strcmp(w->top[k], name) == 0) return *out = k, 0;
  HP_CALL(hp_ingest_grow((void **)&w->top, &w->captop, w->ntop + 1, sizeof *w->top, "folder labels"));
  HP_CALL(hp_ingest_strndup(name, strlen(name), &w->top[w->ntop]));
  *out = w->ntop++;
  return 0;
}

static int add_image(walk *w, const char *rel, const char *sidecar_rel, int64_t label) {
  HP_CALL(hp_ingest_grow((void **)&w->img, &w->cap, w->n + 1, sizeof *w->img, "folder images"));
  fimage *f = &w->img[w->n];
  HP_CALL(hp_ingest_strndup(rel, strlen(rel), &f->path));
  w->n++; /* owned from here, freed by the caller */
  if (sidecar_rel) HP_CALL(hp_ingest_strndup(sidecar_rel, strlen(sidecar_rel), &f->sidecar));
  f->label = label;
  f->split = w->split;
  return 0;
}

/* Walk the folder rel (relative to the root, "" = the root) at depth `depth` below the walked
 * directory; `label` is the first-level folder index of everything in it (-1 at depth 0). */
static int walk_dir(walk *w, const char *rel, int depth, int64_t label) {
  char *full = NULL;
  HP_CALL(hp_ingest_join(w->root, rel, &full));
  char **v = NULL;
  int64_t n = 0;
  int e = list_dir(w, full, rel[0] ? rel : ".", &v, &n);
  uint8_t *used = NULL;
  if (!e && n > 0 && !(used = calloc((size_t)n, 1))) e = HP_ERROR_SET(HP_ERR_MEM, "%s: folder entries", full);
  char *crel = NULL, *cfull = NULL, *srel = NULL;
  int64_t images = 0;
  for (int64_t i = 0; !e && i < n; i++) {
    free(crel), free(cfull), crel = cfull = NULL;
    const char *why = NULL;
    if ((e = hp_ingest_join(rel, v[i], &crel)) || (e = hp_ingest_join(full, v[i], &cfull))) break;
    if (!hp_utf8_valid(v[i], strlen(v[i]), NULL)) {
      e = hp_report_add(w->rep, crel, "the name is not valid UTF-8");
      continue;
    }
    if (!hp_ingest_relpath_ok(crel, &why)) {
      e = hp_report_add(w->rep, crel, "%s", why);
      continue;
    }
    struct stat ls, st;
    if (lstat(cfull, &ls) != 0 || stat(cfull, &st) != 0) {
      int en = errno;
      /* a dangling link of another name is not the dataset's; a link loop or an unreadable
       * entry may be a folder of it */
      if (hp_folder_is_image_name(v[i]) || en != ENOENT) e = hp_report_add(w->rep, crel, "cannot read: %s", strerror(en));
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      if (S_ISLNK(ls.st_mode) && !w->o->follow_symlinks) {
        e = hp_report_add(w->rep, crel, "symbolic link to a folder, not followed (ingest.follow_symlinks = false)");
        continue;
      }
      int loop = 0;
      for (int k = 0; k <= depth && !loop; k++) loop = w->dev[k] == st.st_dev && w->ino[k] == st.st_ino;
      if (loop) {
        e = hp_report_add(w->rep, crel, "folder link loops back to a folder above it");
        continue;
      }
      if (depth + 1 > MAX_DEPTH) {
        e = hp_report_add(w->rep, crel, "more than %d folders deep", MAX_DEPTH);
        continue;
      }
      int again = 0;
      if ((e = seen_add(w, st.st_dev, st.st_ino, &again))) break;
      if (again) { /* two links to one folder would give its images twice */
        e = hp_report_add(w->rep, crel, "the same folder as one already read (another link to it): not read twice");
        continue;
      }
      int64_t lab = label;
      if (depth == 0 && (e = top_index(w, v[i], &lab))) break;
      w->dev[depth + 1] = st.st_dev;
      w->ino[depth + 1] = st.st_ino;
      e = walk_dir(w, crel, depth + 1, lab);
      continue;
    }
    if (!S_ISREG(st.st_mode) || !hp_folder_is_image_name(v[i])) continue;
    /* an image: its sidecar is the same name with .txt for the extension */
    const char *dot = strrchr(v[i], '.');
    size_t stem = (size_t)(dot - v[i]);
    free(srel), srel = NULL;
    char *side = malloc(stem + 5);
    if (!side) {
      e = HP_ERROR_SET(HP_ERR_MEM, "%s: sidecar name", crel);
      break;
    }
    memcpy(side, v[i], stem);
    memcpy(side + stem, ".txt", 5);
    int64_t s = hp_ingest_find_sorted(v, n, side);
    if (s >= 0) {
      used[s] = 1;
      e = hp_ingest_join(rel, side, &srel);
    }
    free(side);
    if (!e) e = add_image(w, crel, s >= 0 ? srel : NULL, label);
    images++;
  }
  /* sidecars nobody claimed, in a folder of images: a caption file whose image is gone (a
   * README.txt in a folder without images is not the dataset's) */
  for (int64_t i = 0; !e && images > 0 && i < n; i++) {
    if (used[i] || !is_sidecar_name(v[i])) continue;
    free(crel), free(cfull), crel = cfull = NULL;
    if ((e = hp_ingest_join(rel, v[i], &crel)) || (e = hp_ingest_join(full, v[i], &cfull))) break;
    struct stat st;
    if (stat(cfull, &st) == 0 && S_ISREG(st.st_mode) && hp_utf8_valid(v[i], strlen(v[i]), NULL))
      e = hp_report_add(w->rep, crel, "caption file without an image (no .jpg, .jpeg or .png of that name)");
  }
  free(crel);
  free(cfull);
  free(srel);
  free(used);
  free_names(v, n > 0 ? n : 0);
  free(full);
  return e;
}

/* The sidecar's non-empty lines as captions of `it`; a bad sidecar is reported and the image
 * kept without captions. */
static int read_sidecar(const char *root, const char *rel, int follow_symlinks, hp_ingest_list *l,
                        hp_ingest_item *it, hp_ingest_report *rep) {
  char *full = NULL, *buf = NULL;
  size_t len = 0;
  HP_CALL(hp_ingest_join(root, rel, &full));
  const char *why = NULL;
  if (!follow_symlinks && !hp_ingest_path_inside(root, full, &why)) {
    free(full);
    return hp_report_add(rep, rel, "caption file %s; the image is kept without captions", why);
  }
  int e = hp_ingest_read_file(full, MAX_SIDECAR_BYTES, 1, &buf, &len);
  free(full);
  if (e == HP_ERR_INPUT || e == HP_ERR_IO) return hp_report_add_error(rep, rel);
  HP_CALL(e);
  size_t skip = len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0; /* a UTF-8 byte order mark */
  memmove(buf, buf + skip, len - skip + 1);
  len -= skip;
  const char *bad = NULL;
  if (!hp_utf8_valid(buf, len, NULL)) bad = "the caption file is not valid UTF-8";
  for (size_t a = 0; !bad && a < len;) {
    size_t b = a;
    while (b < len && buf[b] != '\n') b++;
    if (b - a > HP_INGEST_MAX_CAPTION_BYTES) bad = "a caption longer than 64 KiB";
    a = b + 1;
  }
  for (size_t a = 0; !bad && !e && a < len;) {
    size_t b = a;
    while (b < len && buf[b] != '\n') b++;
    size_t n = b - a;
    const char *t = hp_ingest_trim(buf + a, &n);
    if (n > 0) e = hp_ingest_item_add_caption(l, it, t, n);
    a = b + 1;
  }
  free(buf);
  HP_CALL(e);
  if (bad) return hp_report_add(rep, rel, "%s; the image is kept without captions", bad);
  return 0;
}

static int emit(walk *w, const hp_folder_opts *f, hp_ingest_list *out) {
  int64_t *order = NULL; /* label index -> position in the sorted label set */
  if (f->labels && w->ntop > 0) {
    int used = 0;
    for (int64_t i = 0; i < w->n && !used; i++) used = w->img[i].label >= 0;
    if (used) {
      if (out->n > 0 || out->n_labels > 0)
        HP_ERROR(HP_ERR_INTERNAL, "folder: labels must be set on an empty record list");
      char **names = calloc((size_t)w->ntop, sizeof *names);
      int64_t nn = 0;
      uint8_t *has = calloc((size_t)w->ntop, 1);
      if (!names || !has) {
        free(names);
        free(has);
        HP_ERROR(HP_ERR_MEM, "folder labels");
      }
      for (int64_t i = 0; i < w->n; i++)
        if (w->img[i].label >= 0) has[w->img[i].label] = 1;
      for (int64_t k = 0; k < w->ntop; k++)
        if (has[k]) names[nn++] = w->top[k];
      qsort(names, (size_t)nn, sizeof *names, hp_ingest_cmp_str);
      int e = hp_ingest_list_set_labels(out, nn, (const char *const *)names);
      order = calloc((size_t)w->ntop, sizeof *order);
      if (!e && !order) e = HP_ERROR_SET(HP_ERR_MEM, "folder labels");
      for (int64_t k = 0; !e && k < w->ntop; k++) order[k] = has[k] ? hp_ingest_find_sorted(names, nn, w->top[k]) : -1;
      free(names);
      free(has);
      if (e) {
        free(order);
        HP_CALL(e);
      }
    }
  }
  int e = 0;
  for (int64_t i = 0; i < w->n && !e; i++) {
    char sid[64 + 4096];
    snprintf(sid, sizeof sid, "folder:%s", w->img[i].path);
    hp_ingest_item *it = NULL;
    if ((e = hp_ingest_list_add(out, w->img[i].path, sid, &it))) break;
    it->split = w->img[i].split;
    if (order && w->img[i].label >= 0) it->labels[order[w->img[i].label]] = 1;
    if (w->img[i].sidecar) e = read_sidecar(w->root, w->img[i].sidecar, w->o->follow_symlinks, out, it, w->rep);
  }
  free(order);
  return e;
}

/* One walked sub-folder ("" = the root). */
static int walk_sub(walk *w, const char *sub, uint8_t split) {
  const char *why = NULL;
  if (sub[0] && !hp_ingest_relpath_ok(sub, &why))
    HP_ERROR(HP_ERR_CONFIG, "%s: folder \"%s\": %s", w->root, sub, why);
  char *top = NULL;
  HP_CALL(hp_ingest_join(w->root, sub, &top));
  struct stat st;
  int bad = stat(top, &st) != 0 ? errno : !S_ISDIR(st.st_mode) ? -1 : 0;
  free(top);
  if (bad)
    HP_ERROR(HP_ERR_INPUT, "%s%s%s: %s (ingest.format = \"folder\" reads a folder of images)", w->root,
             sub[0] ? "/" : "", sub, bad > 0 ? strerror(bad) : "not a folder");
  int again = 0;
  HP_CALL(seen_add(w, st.st_dev, st.st_ino, &again));
  if (again)
    HP_ERROR(HP_ERR_CONFIG, "%s: folder \"%s\" was already read (named twice, or inside another folder of "
             "ingest.splits)", w->root, sub);
  w->dev[0] = st.st_dev;
  w->ino[0] = st.st_ino;
  w->split = split;
  return walk_dir(w, sub, 0, -1);
}

int hp_folder_parse(const char *root, int n_sub, const char *const *sub, const uint8_t *sub_split,
                    const hp_folder_opts *f, const hp_ingest_opts *opts, hp_ingest_list *out,
                    hp_ingest_report *rep) {
  hp_ingest_opts def = {1, HP_INGEST_DEFAULT_MAX_ANNOTATION_BYTES, 1};
  hp_folder_opts fdef = {0};
  if (!opts) opts = &def;
  if (!f) f = &fdef;
  walk w;
  memset(&w, 0, sizeof w);
  w.root = root;
  w.o = opts;
  w.rep = rep;
  int e = n_sub > 0 ? 0 : walk_sub(&w, "", HP_INGEST_SPLIT_NONE);
  for (int k = 0; k < n_sub && !e; k++) e = walk_sub(&w, sub[k], sub_split ? sub_split[k] : HP_INGEST_SPLIT_NONE);
  if (!e) e = emit(&w, f, out);
  for (int64_t i = 0; i < w.n; i++) {
    free(w.img[i].path);
    free(w.img[i].sidecar);
  }
  free(w.img);
  free(w.seen);
  free_names(w.top, w.ntop);
  HP_CALL(e);
  return 0;
}
