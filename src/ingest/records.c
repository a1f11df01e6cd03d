/* records.c — see records.h. */
#include "ingest/records.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "ingest/util.h"

void hp_ingest_list_init(hp_ingest_list *l) { memset(l, 0, sizeof *l); }

static void item_free(hp_ingest_item *it) {
  free(it->path);
  free(it->source_id);
  for (int64_t k = 0; k < it->n_captions; k++) free(it->captions[k]);
  free(it->captions);
  free(it->labels);
  memset(it, 0, sizeof *it);
}

void hp_ingest_list_free(hp_ingest_list *l) {
  for (int64_t i = 0; i < l->n; i++) item_free(&l->items[i]);
  free(l->items);
  for (int64_t k = 0; k < l->n_labels; k++) free(l->label_names[k]);
  free(l->label_names);
  memset(l, 0, sizeof *l);
}

int hp_ingest_list_add(hp_ingest_list *l, const char *path, const char *source_id,
                       hp_ingest_item **out) {
  HP_CALL(hp_ingest_grow((void **)&l->items, &l->cap, l->n + 1, sizeof *l->items,
                         "ingest record list"));
  hp_ingest_item *it = &l->items[l->n];
  memset(it, 0, sizeof *it);
  it->split = HP_INGEST_SPLIT_NONE;
  HP_CALL(hp_ingest_strndup(path, strlen(path), &it->path));
  HP_CALL(hp_ingest_strndup(source_id, strlen(source_id), &it->source_id));
  if (l->n_labels > 0) HP_CALLOC(it->labels, l->n_labels, "record labels");
  l->n++;
  *out = it;
  return 0;
}

int hp_ingest_item_add_caption(hp_ingest_list *l, hp_ingest_item *it, const char *text, size_t n) {
  /* Captions per image are few: grow one at a time with an exact-size realloc. */
  if (it->n_captions >= INT64_MAX / 2) HP_ERROR(HP_ERR_MEM, "captions: size overflow");
  size_t bytes;
  if (hp_mul_size((size_t)it->n_captions + 1, sizeof *it->captions, &bytes))
    HP_ERROR(HP_ERR_MEM, "captions: size overflow");
  char **c = realloc(it->captions, bytes);
  if (!c) HP_ERROR(HP_ERR_MEM, "captions of %s: cannot allocate", it->path);
  it->captions = c;
  HP_CALL(hp_ingest_strndup(text, n, &it->captions[it->n_captions]));
  it->n_captions++;
  l->n_captions++;
  return 0;
}

void hp_ingest_list_pop(hp_ingest_list *l) {
  if (l->n <= 0) return;
  hp_ingest_item *it = &l->items[l->n - 1];
  l->n_captions -= it->n_captions;
  item_free(it);
  l->n--;
}

int hp_ingest_list_set_labels(hp_ingest_list *l, int64_t n, const char *const *names) {
  if (l->n > 0) HP_ERROR(HP_ERR_INTERNAL, "label names set after records were added");
  for (int64_t k = 0; k < l->n_labels; k++) free(l->label_names[k]);
  free(l->label_names);
  l->label_names = NULL;
  l->n_labels = 0;
  if (n <= 0) return 0;
  HP_CALLOC(l->label_names, n, "label names");
  for (int64_t k = 0; k < n; k++) {
    HP_CALL(hp_ingest_strndup(names[k], strlen(names[k]), &l->label_names[k]));
    l->n_labels = k + 1;
  }
  return 0;
}

void hp_ingest_list_keep(hp_ingest_list *l, const uint8_t *keep) {
  int64_t u = 0;
  for (int64_t i = 0; i < l->n; i++) {
    if (keep[i]) {
      if (u != i) l->items[u] = l->items[i];
      u++;
    } else {
      l->n_captions -= l->items[i].n_captions;
      item_free(&l->items[i]);
    }
  }
  l->n = u;
}
