/* karpathy.c — see karpathy.h. */
#include "ingest/karpathy.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "ingest/coco.h"
#include "ingest/util.h"
#include "io/dataset.h"

typedef struct {
  int64_t id;
  uint8_t split;
} entry;

static int cmp_entry(const void *a, const void *b) {
  int64_t x = ((const entry *)a)->id, y = ((const entry *)b)->id;
  return (x > y) - (x < y);
}

static int split_code(const char *s) {
  if (!strcmp(s, "train") || !strcmp(s, "restval")) return HP_SPLIT_TRAIN;
  if (!strcmp(s, "val")) return HP_SPLIT_VAL;
  if (!strcmp(s, "test")) return HP_SPLIT_TEST;
  return -1;
}

static int read_entries(const char *path, const cJSON *imgs, entry *e, hp_karpathy *k) {
  int64_t i = 0;
  for (const cJSON *im = imgs->child; im; im = im->next, i++) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(im, "cocoid"),
                *sp = cJSON_GetObjectItemCaseSensitive(im, "split"),
                *fp = cJSON_GetObjectItemCaseSensitive(im, "filepath");
    if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble > 9007199254740992.0 ||
        id->valuedouble != (double)(int64_t)id->valuedouble)
      HP_ERROR(HP_ERR_INPUT, "%s: images[%" PRId64 "]: no integer \"cocoid\"", path, i);
    int c = cJSON_IsString(sp) ? split_code(sp->valuestring) : -1;
    if (c < 0)
      HP_ERROR(HP_ERR_INPUT, "%s: images[%" PRId64 "]: \"split\" is not train, restval, val or test", path, i);
    if (!cJSON_IsString(fp) || !hp_coco_split_ok(fp->valuestring))
      HP_ERROR(HP_ERR_INPUT, "%s: images[%" PRId64 "]: \"filepath\" is not a COCO split folder (train2014, val2014, "
               "train2017 or val2017)", path, i);
    int f = 0;
    while (f < k->nfolders && strcmp(k->folder[f], fp->valuestring) != 0) f++;
    if (f == k->nfolders) {
      if (k->nfolders == 8) HP_ERROR(HP_ERR_INPUT, "%s: more than 8 folders", path);
      HP_CALL(hp_ingest_strndup(fp->valuestring, strlen(fp->valuestring), &k->folder[k->nfolders]));
      k->nfolders++;
    }
    e[i].id = (int64_t)id->valuedouble;
    e[i].split = (uint8_t)c;
  }
  return 0;
}

int hp_karpathy_read(const char *path, size_t max_bytes, hp_karpathy *k) {
  memset(k, 0, sizeof *k);
  char *buf = NULL;
  size_t len = 0;
  HP_CALL(hp_ingest_read_file(path, max_bytes, 1, &buf, &len));
  cJSON *root = NULL;
  int e = hp_json_parse(buf, len, path, &root);
  free(buf);
  HP_CALL(e);
  const cJSON *imgs = cJSON_GetObjectItemCaseSensitive(root, "images");
  if (!cJSON_IsArray(imgs)) {
    cJSON_Delete(root);
    HP_ERROR(HP_ERR_INPUT, "%s: no \"images\" array: not a Karpathy split file (dataset_coco.json)", path);
  }
  int64_t n = cJSON_GetArraySize(imgs);
  entry *en = calloc((size_t)(n > 0 ? n : 1), sizeof *en);
  if (!en) e = HP_ERROR_SET(HP_ERR_MEM, "%s: %" PRId64 " entries", path, n);
  if (!e) e = read_entries(path, imgs, en, k);
  cJSON_Delete(root);
  if (!e) {
    qsort(en, (size_t)n, sizeof *en, cmp_entry);
    for (int64_t i = 1; i < n && !e; i++)
      if (en[i].id == en[i - 1].id) e = HP_ERROR_SET(HP_ERR_INPUT, "%s: cocoid %" PRId64 " is listed twice", path, en[i].id);
  }
  if (!e) {
    k->cocoid = malloc((size_t)(n > 0 ? n : 1) * sizeof *k->cocoid);
    k->split = malloc((size_t)(n > 0 ? n : 1));
    if (!k->cocoid || !k->split) e = HP_ERROR_SET(HP_ERR_MEM, "%s: split table", path);
  }
  for (int64_t i = 0; !e && i < n; i++) {
    k->cocoid[i] = en[i].id;
    k->split[i] = en[i].split;
  }
  free(en);
  if (e) {
    hp_karpathy_free(k);
    return e;
  }
  k->n = n;
  return 0;
}

void hp_karpathy_free(hp_karpathy *k) {
  free(k->cocoid);
  free(k->split);
  for (int f = 0; f < k->nfolders; f++) free(k->folder[f]);
  memset(k, 0, sizeof *k);
}

int hp_karpathy_split(const hp_karpathy *k, int64_t cocoid) {
  int64_t lo = 0, hi = k->n - 1;
  while (lo <= hi) {
    int64_t m = lo + (hi - lo) / 2;
    if (k->cocoid[m] == cocoid) return k->split[m];
    if (k->cocoid[m] < cocoid) lo = m + 1;
    else hi = m - 1;
  }
  return -1;
}

int hp_karpathy_apply(const hp_karpathy *k, const char *path, hp_ingest_list *l, hp_ingest_report *rep) {
  uint8_t *keep = NULL;
  HP_CALLOC(keep, (size_t)(l->n > 0 ? l->n : 1), "Karpathy selection");
  int e = 0;
  for (int64_t i = 0; i < l->n && !e; i++) {
    const char *sid = l->items[i].source_id, *c = strrchr(sid, ':');
    long long id = -1;
    if (strncmp(sid, "coco:", 5) != 0 || !c || sscanf(c + 1, "%lld", &id) != 1)
      e = HP_ERROR_SET(HP_ERR_INTERNAL, "Karpathy split: record %s is not a COCO image", sid);
    int s = e ? -1 : hp_karpathy_split(k, id);
    if (s >= 0) {
      l->items[i].split = (uint8_t)s;
      keep[i] = 1;
    } else if (!e) {
      e = hp_report_add(rep, l->items[i].path, "COCO image %lld is not in the Karpathy split file %s", id, path);
    }
  }
  if (!e) hp_ingest_list_keep(l, keep);
  free(keep);
  return e;
}
