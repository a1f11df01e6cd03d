/* ingest_append.c — ingest.append (see ingest_append.h). */
#define _POSIX_C_SOURCE 200809L
#include "stages/ingest_append.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "ingest/util.h"
#include "io/dataset.h"

int hp_ingest_append_open(hp_stage_ctx *ctx, int64_t image_size, hp_ingest_append *a) {
  memset(a, 0, sizeof *a);
  char path[4096];
  HP_CALL(hp_run_path(ctx, HP_FILE_DATASET, path, sizeof path));
  int missing = access(path, R_OK) != 0, any = 0;
  HP_MPI(MPI_Allreduce(&missing, &any, 1, MPI_INT, MPI_MAX, ctx->comm));
  if (any)
    HP_CALL(hp_agree(ctx->comm, HP_ERROR_SET(HP_ERR_INPUT, "ingest.append = true: %s does not exist (or is not "
                                             "readable on every rank): ingest the first data without ingest.append",
                                             path)));
  HP_CALL(hp_dataset_open(ctx->comm, path, &a->old));
  hp_dataset_dims d = hp_dataset_get_dims(a->old);
  if (d.height != image_size || d.width != image_size)
    HP_ERROR(HP_ERR_CONFIG, "%s: ingest.append: its images are %" PRId64 "x%" PRId64 ", data.image_size is %" PRId64
             ": appended images must have the dataset's size", hp_config_path(ctx->cfg), d.height, d.width, image_size);
  a->n_images = d.n_images;
  a->n_captions = d.n_captions;
  a->n_labels = d.n_labels;
  HP_CALL(hp_dataset_attr(a->old, "fingerprint", &a->fingerprint));
  HP_CALL(hp_dataset_attr(a->old, "base_fingerprint", &a->base));
  HP_CALL(hp_dataset_attr(a->old, "history", &a->history));
  HP_CALL(hp_dataset_attr(a->old, "appends", &a->appends));
  HP_CALL(hp_dataset_attr(a->old, "split", &a->split));
  if (!a->fingerprint) HP_ERROR(HP_ERR_INPUT, "%s: no fingerprint attribute", path);
  if (d.n_labels > 0) HP_CALL(hp_dataset_read_strings(a->old, "labels/names", 0, d.n_labels, &a->label_names));
  a->n_union = d.n_labels;
  HP_CALLOC(a->old_col, d.n_labels > 0 ? d.n_labels : 1, "label columns");
  for (int64_t j = 0; j < d.n_labels; j++) a->old_col[j] = j;
  if (d.n_vocab > 0) {
    char **words = NULL;
    HP_CALL(hp_dataset_read_strings(a->old, "vocab", 0, d.n_vocab, &words));
    HP_CALL(hp_vocab_from_words((const char *const *)words, d.n_vocab, &a->vocab));
    hp_strings_free(words, d.n_vocab);
  }
  hp_log_info("ingest: appending to %s (%" PRId64 " images, %" PRId64 " captions, %" PRId64 " labels)", path,
              d.n_images, d.n_captions, d.n_labels);
  return 0;
}

int hp_ingest_append_rows(hp_ingest_append *a, hp_ingest_shard *sh) {
  sh->row0 += a->n_images;
  for (int64_t c = 0; c < sh->n_captions; c++) sh->caption_image[c] += a->n_images;
  /* the union: the old names, then each new name the old ones lack, in the input's order */
  int64_t *col = NULL;
  HP_CALLOC(col, sh->n_labels > 0 ? sh->n_labels : 1, "label columns");
  char **u = realloc(a->label_names, (size_t)(a->n_labels + sh->n_labels + 1) * sizeof *u);
  if (!u) HP_ERROR(HP_ERR_MEM, "out of memory for %" PRId64 " label names", a->n_labels + sh->n_labels);
  a->label_names = u;
  for (int64_t j = 0; j < sh->n_labels; j++) {
    int64_t k = 0;
    while (k < a->n_union && strcmp(a->label_names[k], sh->label_names[j]) != 0) k++;
    if (k == a->n_union) HP_CALL(hp_ingest_strndup(sh->label_names[j], strlen(sh->label_names[j]), &a->label_names[a->n_union++]));
    col[j] = k;
  }
  if (a->n_union > 0) {
    uint8_t *m = NULL;
    HP_CALLOC(m, (size_t)(sh->n > 0 ? sh->n : 1) * (size_t)a->n_union, "label rows");
    for (int64_t i = 0; i < sh->n; i++)
      for (int64_t j = 0; j < sh->n_labels; j++) m[i * a->n_union + col[j]] = sh->labels[i * sh->n_labels + j];
    free(sh->labels);
    sh->labels = m;
  }
  free(col);
  return 0;
}

/* FNV-1a over the old fingerprint, a separator and this append's: the new file's fingerprint */
static void fold(const char *a, const char *b, char *out) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const char *c = a; *c; c++) h = (h ^ (uint8_t)*c) * 0x100000001b3ULL;
  h = (h ^ '+') * 0x100000001b3ULL;
  for (const char *c = b; *c; c++) h = (h ^ (uint8_t)*c) * 0x100000001b3ULL;
  snprintf(out, 17, "%016" PRIx64, h);
}

/* *s = *s (or "") + the formatted line, newly allocated */
static int add_line(char **s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int add_line(char **s, const char *fmt, ...) {
  char line[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  size_t n = *s ? strlen(*s) : 0, m = strlen(line);
  char *t = realloc(*s, n + m + 1);
  if (!t) HP_ERROR(HP_ERR_MEM, "out of memory for a lineage attribute");
  memcpy(t + n, line, m + 1);
  *s = t;
  return 0;
}

int hp_ingest_append_describe(hp_ingest_append *a, const hp_stage_ctx *ctx, const char *method, int64_t n_new,
                              hp_data_desc *d, char *fingerprint) {
  fold(a->fingerprint, ctx->fingerprint, fingerprint);
  if (!a->base) HP_CALL(hp_ingest_strndup(a->fingerprint, strlen(a->fingerprint), &a->base));
  HP_CALL(add_line(&a->history, "%s %" PRId64 " %" PRId64 "\n", a->fingerprint, a->n_images, a->n_captions));
  HP_CALL(add_line(&a->appends, "%s\n", ctx->fingerprint));
  HP_CALL(add_line(&a->split, "%srows %" PRId64 "..%" PRId64 " appended: %s", a->split ? "; " : "", a->n_images,
                   a->n_images + n_new - 1, method));
  d->prefix = a->old;
  d->prefix_label_col = a->old_col;
  d->n_labels = a->n_union;
  d->label_names = (const char *const *)a->label_names;
  d->base_fingerprint = a->base;
  d->history = a->history;
  d->appends = a->appends;
  d->split_method = a->split;
  return 0;
}

void hp_ingest_append_free(hp_ingest_append *a) {
  if (a->old) hp_dataset_close(a->old);
  for (int64_t j = 0; a->label_names && j < a->n_union; j++) free(a->label_names[j]);
  free(a->label_names);
  free(a->old_col);
  if (a->vocab) hp_vocab_free(a->vocab);
  free(a->fingerprint);
  free(a->base);
  free(a->history);
  free(a->appends);
  free(a->split);
  memset(a, 0, sizeof *a);
}
