/* coco.c — see coco.h. */
#include "ingest/coco.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "base/error.h"
#include "ingest/util.h"

static const char *const coco_splits[] = {"train2014", "val2014", "train2017", "val2017"};

int hp_coco_split_ok(const char *split) {
  for (size_t i = 0; i < sizeof coco_splits / sizeof *coco_splits; i++)
    if (strcmp(split, coco_splits[i]) == 0) return 1;
  return 0;
}

int hp_json_parse(const char *buf, size_t len, const char *name, cJSON **out) {
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
  if (!j) {
    size_t off = (end && end >= buf && end <= buf + len) ? (size_t)(end - buf) : 0;
    long long line = 1, col = 1;
    for (size_t i = 0; i < off; i++) {
      if (buf[i] == '\n') { line++; col = 1; } else col++;
    }
    if (off >= len)
      HP_ERROR(HP_ERR_INPUT, "%s: malformed JSON: unexpected end of file (line %lld, column %lld)",
               name, line, col);
    HP_ERROR(HP_ERR_INPUT, "%s: malformed JSON at line %lld, column %lld (byte %zu)", name, line,
             col, off);
  }
  /* Anything but white space after the value is also malformed. */
  size_t off = (size_t)(end - buf);
  while (off < len && (buf[off] == ' ' || buf[off] == '\t' || buf[off] == '\r' || buf[off] == '\n'))
    off++;
  if (off < len && buf[off] != 0) {
    cJSON_Delete(j);
    HP_ERROR(HP_ERR_INPUT, "%s: malformed JSON: unexpected data after the top-level value (byte %zu)",
             name, off);
  }
  *out = j;
  return 0;
}

/* Integer-valued JSON number in [0, 2^53]. */
static int json_id(const cJSON *v, int64_t *out) {
  if (!cJSON_IsNumber(v)) return 0;
  double d = v->valuedouble;
  if (!(d >= 0.0) || d > 9007199254740992.0 || floor(d) != d) return 0;
  *out = (int64_t)d;
  return 1;
}

typedef struct {
  int64_t id, k;        /* image id, index in "images" */
  const char *file;     /* file_name (inside the tree) */
  int ok;
  int64_t ncap;
} cimg;

typedef struct {
  int64_t img, k;       /* index into imgs, annotation index */
  const char *text;
  size_t len;
} ccap;

typedef struct {
  int64_t id, idx; /* image id, index into imgs (= index in "images") */
} idkey;

static int cmp_idkey(const void *a, const void *b) {
  const idkey *x = a, *y = b;
  if (x->id != y->id) return x->id < y->id ? -1 : 1;
  return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

static int cmp_cap(const void *a, const void *b) {
  const ccap *x = a, *y = b;
  if (x->img != y->img) return x->img < y->img ? -1 : 1;
  return x->k < y->k ? -1 : (x->k > y->k);
}

/* index into imgs of the (first, good) image with this id, -1 if none */
static int64_t find_img(const cimg *imgs, const idkey *order, int64_t n, int64_t id) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (order[mid].id < id) lo = mid + 1;
    else hi = mid;
  }
  for (int64_t i = lo; i < n && order[i].id == id; i++)
    if (imgs[order[i].idx].ok) return order[i].idx;
  return -1;
}

typedef struct {
  cJSON *cap_json, *ins_json;
  char *cap_buf, *ins_buf;
  char *cap_path, *ins_path;
  cimg *imgs;
  idkey *order;
  ccap *caps;
  int64_t ncaps, capcap;
  uint8_t *labels; /* [nimg][L] */
  int64_t *cat_ids;
  const char **cat_names;
  char *where, *file_path;
  size_t where_cap;
} coco_state;

static void state_free(coco_state *s) {
  cJSON_Delete(s->cap_json);
  cJSON_Delete(s->ins_json);
  free(s->cap_buf);
  free(s->ins_buf);
  free(s->cap_path);
  free(s->ins_path);
  free(s->imgs);
  free(s->order);
  free(s->caps);
  free(s->labels);
  free(s->cat_ids);
  free(s->cat_names);
  free(s->where);
  free(s->file_path);
}

/* s->where = "<file>: <array>[k]" */
static int set_where(coco_state *s, const char *file, const char *arr, int64_t k) {
  int n = snprintf(NULL, 0, "%s: %s[%lld]", file, arr, (long long)k);
  if (n < 0) HP_ERROR(HP_ERR_INTERNAL, "snprintf failed");
  if ((size_t)n + 1 > s->where_cap) {
    free(s->where);
    s->where = NULL;
    s->where_cap = 0;
    HP_CALLOC(s->where, (size_t)n + 1, "report location");
    s->where_cap = (size_t)n + 1;
  }
  snprintf(s->where, s->where_cap, "%s: %s[%lld]", file, arr, (long long)k);
  return 0;
}

static int parse_instances(coco_state *s, const char *ins_rel, int64_t nimg,
                           hp_ingest_list *out, hp_ingest_report *rep, int64_t *nlab) {
  cJSON *cats = cJSON_GetObjectItemCaseSensitive(s->ins_json, "categories");
  cJSON *anns = cJSON_GetObjectItemCaseSensitive(s->ins_json, "annotations");
  if (!cJSON_IsArray(cats))
    HP_ERROR(HP_ERR_INPUT, "%s: no \"categories\" array", s->ins_path);
  if (!cJSON_IsArray(anns))
    HP_ERROR(HP_ERR_INPUT, "%s: no \"annotations\" array", s->ins_path);
  int64_t L = cJSON_GetArraySize(cats);
  if (L <= 0) HP_ERROR(HP_ERR_INPUT, "%s: \"categories\" is empty", s->ins_path);
  HP_CALLOC(s->cat_ids, L, "COCO categories");
  HP_CALLOC(s->cat_names, L, "COCO categories");
  int64_t k = 0;
  cJSON *c;
  cJSON_ArrayForEach(c, cats) {
    cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id");
    cJSON *nm = cJSON_GetObjectItemCaseSensitive(c, "name");
    int64_t v;
    if (!cJSON_IsObject(c) || !json_id(id, &v) || !cJSON_IsString(nm) || !nm->valuestring[0])
      HP_ERROR(HP_ERR_INPUT, "%s: categories[%lld]: needs an integer \"id\" and a non-empty "
               "\"name\"", s->ins_path, (long long)k);
    if (strlen(nm->valuestring) > HP_INGEST_MAX_LABEL_BYTES)
      HP_ERROR(HP_ERR_INPUT, "%s: categories[%lld]: name longer than %zu bytes", s->ins_path,
               (long long)k, HP_INGEST_MAX_LABEL_BYTES);
    if (!hp_utf8_valid(nm->valuestring, strlen(nm->valuestring), NULL))
      HP_ERROR(HP_ERR_INPUT, "%s: categories[%lld]: name is not valid UTF-8", s->ins_path,
               (long long)k);
    /* insertion sort by id (80 entries) */
    int64_t j = k;
    while (j > 0 && s->cat_ids[j - 1] > v) {
      s->cat_ids[j] = s->cat_ids[j - 1];
      s->cat_names[j] = s->cat_names[j - 1];
      j--;
    }
    if (j > 0 && s->cat_ids[j - 1] == v)
      HP_ERROR(HP_ERR_INPUT, "%s: categories[%lld]: duplicate category id %lld", s->ins_path,
               (long long)k, (long long)v);
    s->cat_ids[j] = v;
    s->cat_names[j] = nm->valuestring;
    k++;
  }
  size_t nl;
  if (hp_mul_size((size_t)(nimg ? nimg : 1), (size_t)L, &nl))
    HP_ERROR(HP_ERR_MEM, "COCO labels: size overflow");
  HP_CALLOC(s->labels, nl, "COCO labels");
  k = 0;
  cJSON *a;
  cJSON_ArrayForEach(a, anns) {
    int64_t iid, cid;
    const char *why = NULL;
    if (!cJSON_IsObject(a)) why = "not an object";
    else if (!json_id(cJSON_GetObjectItemCaseSensitive(a, "image_id"), &iid))
      why = "image_id is missing or not a non-negative integer";
    else if (!json_id(cJSON_GetObjectItemCaseSensitive(a, "category_id"), &cid))
      why = "category_id is missing or not a non-negative integer";
    if (why) {
      HP_CALL(set_where(s, ins_rel, "annotations", k));
      HP_CALL(hp_report_add(rep, s->where, "%s", why));
      k++;
      continue;
    }
    int64_t im = find_img(s->imgs, s->order, nimg, iid);
    int64_t lo = 0, hi = L;
    while (lo < hi) {
      int64_t mid = lo + (hi - lo) / 2;
      if (s->cat_ids[mid] < cid) lo = mid + 1;
      else hi = mid;
    }
    if (lo >= L || s->cat_ids[lo] != cid) {
      HP_CALL(set_where(s, ins_rel, "annotations", k));
      HP_CALL(hp_report_add(rep, s->where, "category_id %lld is not in \"categories\"",
                            (long long)cid));
    } else if (im < 0) {
      /* An instance of an image the captions file does not list (or listed as bad): the
       * annotation cannot be used. */
      HP_CALL(set_where(s, ins_rel, "annotations", k));
      HP_CALL(hp_report_add(rep, s->where, "image_id %lld is not a (good) image of the captions "
                            "file", (long long)iid));
    } else {
      s->labels[(size_t)im * (size_t)L + (size_t)lo] = 1;
    }
    k++;
  }
  HP_CALL(hp_ingest_list_set_labels(out, L, s->cat_names));
  *nlab = L;
  return 0;
}

/* Reads and parses the captions file; its "images" and "annotations" arrays -> *images, *anns. */
static int open_captions(coco_state *s, const char *root, const char *cap_rel, const char *ins_rel,
                         const hp_ingest_opts *o, cJSON **images_out, cJSON **anns_out) {
  HP_CALL(hp_ingest_join(root, cap_rel, &s->cap_path));
  HP_CALL(hp_ingest_join(root, ins_rel, &s->ins_path));
  size_t len = 0;
  HP_CALL(hp_ingest_read_file(s->cap_path, o->max_annotation_bytes, 1, &s->cap_buf, &len));
  HP_CALL(hp_json_parse(s->cap_buf, len, s->cap_path, &s->cap_json));
  free(s->cap_buf);
  s->cap_buf = NULL;
  if (!cJSON_IsObject(s->cap_json))
    HP_ERROR(HP_ERR_INPUT, "%s: the top level is not a JSON object", s->cap_path);
  cJSON *images = cJSON_GetObjectItemCaseSensitive(s->cap_json, "images");
  cJSON *anns = cJSON_GetObjectItemCaseSensitive(s->cap_json, "annotations");
  if (!cJSON_IsArray(images)) HP_ERROR(HP_ERR_INPUT, "%s: no \"images\" array", s->cap_path);
  if (!cJSON_IsArray(anns)) HP_ERROR(HP_ERR_INPUT, "%s: no \"annotations\" array", s->cap_path);
  *images_out = images;
  *anns_out = anns;
  return 0;
}

/* s->imgs / s->order from "images" (nimg entries): each entry good or bad (why_img[k] = why),
 * s->order sorted by id; of the good entries sharing an id, all but the first in file order
 * become bad. Bad-image reasons are reported later, in file order. */
static void check_images(coco_state *s, cJSON *images, int64_t nimg, const char **why_img) {
  int64_t k = 0;
  cJSON *im;
  cJSON_ArrayForEach(im, images) {
    cimg *ci = &s->imgs[k];
    ci->k = k;
    ci->ok = 0;
    cJSON *fn = cJSON_GetObjectItemCaseSensitive(im, "file_name");
    const char *why = NULL;
    if (!cJSON_IsObject(im)) why = "not an object";
    else if (!json_id(cJSON_GetObjectItemCaseSensitive(im, "id"), &ci->id))
      why = "id is missing or not a non-negative integer";
    else if (!cJSON_IsString(fn)) why = "file_name is missing or not a string";
    else if (!hp_ingest_relpath_ok(fn->valuestring, &why)) { /* why set */ }
    else if (!hp_utf8_valid(fn->valuestring, strlen(fn->valuestring), NULL))
      why = "file_name is not valid UTF-8";
    else {
      ci->file = fn->valuestring;
      ci->ok = 1;
    }
    why_img[k] = why;
    s->order[k] = (idkey){ci->id, k};
    k++;
  }
  if (nimg > 1) qsort(s->order, (size_t)nimg, sizeof *s->order, cmp_idkey);
  /* duplicates: among good images with the same id, all but the first in file order */
  for (int64_t i = 0; i < nimg;) {
    int64_t j = i;
    int seen = 0;
    while (j < nimg && s->order[j].id == s->order[i].id) {
      cimg *ci = &s->imgs[s->order[j].idx];
      if (ci->ok) {
        if (seen) {
          ci->ok = 0;
          why_img[ci->k] = "duplicate image id (an earlier entry has it)";
        }
        seen = 1;
      }
      j++;
    }
    i = j;
  }
}

/* The good captions of "annotations" -> s->caps (counted per image); the bad ones -> the
 * report. Returns the error code without a trace frame (the caller frees its own buffers). */
static int collect_captions(coco_state *s, cJSON *anns, int64_t nimg, const char *cap_rel,
                            hp_ingest_report *rep) {
  int64_t k = 0;
  cJSON *a;
  int e = 0;
  cJSON_ArrayForEach(a, anns) {
    int64_t iid = 0, ix = -1;
    cJSON *cap = cJSON_GetObjectItemCaseSensitive(a, "caption");
    const char *why = NULL;
    size_t n = 0;
    const char *t = NULL;
    if (!cJSON_IsObject(a)) why = "not an object";
    else if (!json_id(cJSON_GetObjectItemCaseSensitive(a, "image_id"), &iid))
      why = "image_id is missing or not a non-negative integer";
    else if ((ix = find_img(s->imgs, s->order, nimg, iid)) < 0) why = NULL; /* below */
    else if (!cJSON_IsString(cap)) why = "caption is missing or not a string";
    else {
      n = strlen(cap->valuestring);
      t = hp_ingest_trim(cap->valuestring, &n);
      if (n == 0) why = "empty caption";
      else if (n > HP_INGEST_MAX_CAPTION_BYTES) why = "caption longer than 64 KiB";
      else if (!hp_utf8_valid(t, n, NULL)) why = "caption is not valid UTF-8";
    }
    if (why || ix < 0) {
      if ((e = set_where(s, cap_rel, "annotations", k))) break;
      if (why) e = hp_report_add(rep, s->where, "%s", why);
      else e = hp_report_add(rep, s->where, "image_id %lld is not a (good) entry of \"images\"",
                             (long long)iid);
      if (e) break;
    } else {
      if ((e = hp_ingest_grow((void **)&s->caps, &s->capcap, s->ncaps + 1, sizeof *s->caps,
                              "COCO captions")))
        break;
      s->caps[s->ncaps++] = (ccap){ix, k, t, n};
      s->imgs[ix].ncap++;
    }
    k++;
  }
  return e;
}

/* The optional instances file -> the labels (parse_instances), *L = their number (0 when the
 * file is absent). Returns the error code without a trace frame, as collect_captions. */
static int read_instances(coco_state *s, const char *ins_rel, int64_t nimg, const hp_ingest_opts *o,
                          hp_ingest_list *out, hp_ingest_report *rep, int64_t *L) {
  int e = 0;
  size_t len = 0;
  if (hp_ingest_file_exists(s->ins_path)) {
    e = hp_ingest_read_file(s->ins_path, o->max_annotation_bytes, 1, &s->ins_buf, &len);
    if (!e) e = hp_json_parse(s->ins_buf, len, s->ins_path, &s->ins_json);
    free(s->ins_buf);
    s->ins_buf = NULL;
    if (!e && !cJSON_IsObject(s->ins_json))
      e = HP_ERROR_SET(HP_ERR_INPUT,
                       "%s: the top level is not a JSON object", s->ins_path);
    if (!e) e = parse_instances(s, ins_rel, nimg, out, rep, L);
  }
  return e;
}

/* In "images" order: a bad image, one without a good caption or (o->check_files) without its
 * file -> the report; a good one -> an item with its captions and labels. Returns the error
 * code without a trace frame, as collect_captions. */
static int emit_images(coco_state *s, const char *root, const char *split, const char *cap_rel, int64_t nimg,
                       int64_t L, const char **why_img, const hp_ingest_opts *o, hp_ingest_list *out,
                       hp_ingest_report *rep) {
  int e = 0;
  int64_t c0 = 0;
  for (int64_t k = 0; k < nimg && !e; k++) {
    cimg *ci = &s->imgs[k];
    while (c0 < s->ncaps && s->caps[c0].img < k) c0++;
    if (!ci->ok) {
      if ((e = set_where(s, cap_rel, "images", k))) break;
      e = hp_report_add(rep, s->where, "%s", why_img[k] ? why_img[k] : "bad entry");
      continue;
    }
    char *rel = NULL;
    if ((e = hp_ingest_join(split, ci->file, &rel))) break;
    if (ci->ncap == 0) {
      if (!(e = set_where(s, cap_rel, "images", k)))
        e = hp_report_add(rep, s->where, "image id %lld (%s) has no good caption",
                          (long long)ci->id, rel);
      free(rel);
      continue;
    }
    if (o->check_files) {
      free(s->file_path);
      s->file_path = NULL;
      if ((e = hp_ingest_join(root, rel, &s->file_path))) { free(rel); break; }
      if (!hp_ingest_file_exists(s->file_path)) {
        e = hp_report_add(rep, rel, "image file is missing (%s)", s->file_path);
        free(rel);
        continue;
      }
      const char *out_why;
      if (!o->follow_symlinks && !hp_ingest_path_inside(root, s->file_path, &out_why)) {
        e = hp_report_add(rep, rel, "image file %s", out_why);
        free(rel);
        continue;
      }
    }
    char sid[96];
    snprintf(sid, sizeof sid, "coco:%s:%lld", split, (long long)ci->id);
    hp_ingest_item *it = NULL;
    e = hp_ingest_list_add(out, rel, sid, &it);
    free(rel);
    if (e) break;
    for (int64_t c = c0; c < s->ncaps && s->caps[c].img == k && !e; c++)
      e = hp_ingest_item_add_caption(out, it, s->caps[c].text, s->caps[c].len);
    if (L > 0 && !e) memcpy(it->labels, s->labels + (size_t)k * (size_t)L, (size_t)L);
  }
  return e;
}

static int coco_run(coco_state *s, const char *root, const char *split, const hp_ingest_opts *o,
                    hp_ingest_list *out, hp_ingest_report *rep) {
  char cap_rel[64], ins_rel[64];
  snprintf(cap_rel, sizeof cap_rel, "annotations/captions_%s.json", split);
  snprintf(ins_rel, sizeof ins_rel, "annotations/instances_%s.json", split);
  cJSON *images = NULL, *anns = NULL;
  HP_CALL(open_captions(s, root, cap_rel, ins_rel, o, &images, &anns));

  /* images */
  int64_t nimg = cJSON_GetArraySize(images);
  HP_CALLOC(s->imgs, nimg ? nimg : 1, "COCO images");
  HP_CALLOC(s->order, nimg ? nimg : 1, "COCO images");
  /* bad-image reasons are reported in file order after duplicate detection */
  const char **why_img = NULL;
  HP_CALLOC(why_img, nimg ? nimg : 1, "COCO image checks");
  check_images(s, images, nimg, why_img);
  /* captions */
  int e = collect_captions(s, anns, nimg, cap_rel, rep);
  if (e) {
    free(why_img);
    HP_CALL(e);
  }
  if (s->ncaps > 1) qsort(s->caps, (size_t)s->ncaps, sizeof *s->caps, cmp_cap); /* caps is NULL when empty */

  /* instances (optional) */
  int64_t L = 0;
  e = read_instances(s, ins_rel, nimg, o, out, rep, &L);
  if (e) {
    free(why_img);
    HP_CALL(e);
  }

  /* emit, in "images" order */
  e = emit_images(s, root, split, cap_rel, nimg, L, why_img, o, out, rep);
  free(why_img);
  HP_CALL(e);
  return 0;
}

int hp_coco_parse(const char *root, const char *split, const hp_ingest_opts *opts,
                  hp_ingest_list *out, hp_ingest_report *rep) {
  hp_ingest_opts def = {1, HP_INGEST_DEFAULT_MAX_ANNOTATION_BYTES, 1};
  if (!opts) opts = &def;
  if (!hp_coco_split_ok(split))
    HP_ERROR(HP_ERR_CONFIG, "COCO split \"%s\": expected train2014, val2014, train2017 or val2017",
             split);
  coco_state s;
  memset(&s, 0, sizeof s);
  int e = coco_run(&s, root, split, opts, out, rep);
  state_free(&s);
  HP_CALL(e);
  return 0;
}
