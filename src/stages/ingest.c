/* ingest.c — the `ingest` stage: an original COCO / ROCO / Fashion Product distribution ->
 * dataset.h5 (io/dataset.h), plus ingest_report.tsv listing every bad record.
 *
 *   1. every rank checks the ingest.* keys (same config, same verdict: a clean collective exit);
 *   2. rank 0 parses the annotations (src/ingest/coco|roco|fashion) and broadcasts the records;
 *   3. each rank decodes and resizes its block of images (src/ingest/distribute.h); images that
 *      fail are bad records; the good ones are numbered in record order, so the dataset is the
 *      same for any rank count;
 *   4. rank 0 gathers all bad records and writes RUN/ingest_report.tsv ("where<TAB>why" lines,
 *      always written, empty when all is well); with ingest.on_bad_record = "reject" any bad
 *      record fails the run (after the report is written);
 *   5. splits by the seeded helper (data/split.h) over data.*_frac, vocabulary from the
 *      training captions and one collective write of dataset.h5 (data/dataset_build.h).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/resources.h"
#include "base/tmpfile.h"
#include "base/log.h"
#include "config/config.h"
#include "ingest/coco.h"
#include "ingest/distribute.h"
#include "ingest/fashion.h"
#include "ingest/folder.h"
#include "ingest/karpathy.h"
#include "ingest/roco.h"
#include "ingest/table.h"
#include "ingest/util.h"
#include "ingest/webdataset.h"
#include "data/dataset_build.h"
#include "data/split.h"
#include "stages/ingest_append.h"
#include "stages/stage.h"
#include "base/rng.h"
#include "text/tokenizer.h"


typedef struct {
  const char *format, *root, *split, *aspect, *policy;
  int nterms;
  const char **terms;
  int64_t image_size, vocab_size, max_pixels;
  int follow_symlinks, folder_labels;
  int append, per_image; /* ingest.append; data.split_rule = "per_image" */
  hp_table_opts table;
  double train_frac, val_frac, test_frac;
  uint64_t seed;
  /* ingest.splits: the sources of each split, in the order train, val, test (none: one source,
   * ingest.split / ingest.root, and the splits are drawn with data.*_frac) */
  int n_sources;
  const char **source;
  uint8_t *source_split;
  const char *karpathy; /* COCO: the Karpathy split file, "" = none */
} ingest_params;

static const char *const g_split_names[3] = {"train", "val", "test"};

static int check_params(const hp_config *cfg, const ingest_params *p) {
  const char *f = hp_config_path(cfg);
  int wds_splits = strcmp(p->format, "webdataset") == 0 && p->n_sources > 0;
  if (wds_splits && p->root[0])
    HP_ERROR(HP_ERR_CONFIG, "%s: both ingest.root and ingest.splits name webdataset shards: give them in one place "
             "(ingest.splits for the dataset's own splits)", f);
  if (!p->root[0] && !wds_splits)
    HP_ERROR(HP_ERR_CONFIG, "%s: ingest.root is not set: give the folder that holds the %s data "
             "in its original layout", f, p->format);
  if ((strcmp(p->format, "csv") == 0 || strcmp(p->format, "webdataset") == 0) && p->split[0])
    HP_ERROR(HP_ERR_CONFIG, "%s: ingest.split = \"%s\": a %s has no splits; leave ingest.split "
             "empty (data.*_frac make the splits)", f, p->split,
             strcmp(p->format, "csv") == 0 ? "CSV table" : "set of webdataset shards");
  if (strcmp(p->format, "fashion") == 0 && p->split[0])
    HP_ERROR(HP_ERR_CONFIG, "%s: ingest.split = \"%s\": the Fashion Product data has no splits; "
             "leave ingest.split empty (data.*_frac make the splits)", f, p->split);
  if (p->folder_labels && strcmp(p->format, "folder") != 0)
    HP_ERROR(HP_ERR_CONFIG, "%s: ingest.folder_labels is for ingest.format = \"folder\" (the format is \"%s\")", f,
             p->format);
  if (p->karpathy[0]) {
    if (strcmp(p->format, "coco") != 0)
      HP_ERROR(HP_ERR_CONFIG, "%s: ingest.karpathy is COCO's split file; ingest.format is \"%s\"", f, p->format);
    if (p->split[0] || p->n_sources > 0)
      HP_ERROR(HP_ERR_CONFIG, "%s: ingest.karpathy names the folders and the splits itself: leave ingest.split and "
               "ingest.splits empty", f);
  } else if (p->n_sources > 0) {
    if (p->split[0])
      HP_ERROR(HP_ERR_CONFIG, "%s: both ingest.split (\"%s\") and ingest.splits are set: give one source in "
               "ingest.split, or the sources of each split in ingest.splits", f, p->split);
    if (strcmp(p->format, "fashion") == 0)
      HP_ERROR(HP_ERR_CONFIG, "%s: ingest.splits: the Fashion Product data has no splits (data.*_frac make them)", f);
    if (strcmp(p->format, "csv") == 0)
      HP_ERROR(HP_ERR_CONFIG, "%s: ingest.splits: a CSV table gives its splits in a column: set "
               "ingest.csv_split_key to its header name", f);
    for (int k = 0; k < p->n_sources; k++) {
      const char *s = p->source[k], *sp = g_split_names[p->source_split[k]];
      if (strcmp(p->format, "coco") == 0 && !hp_coco_split_ok(s))
        HP_ERROR(HP_ERR_CONFIG, "%s: ingest.splits.%s: \"%s\" is not a COCO split folder (train2014, val2014, "
                 "train2017 or val2017)", f, sp, s);
      if (strcmp(p->format, "roco") == 0 && !hp_roco_split_ok(s))
        HP_ERROR(HP_ERR_CONFIG, "%s: ingest.splits.%s: \"%s\" is not a ROCO split (train/radiology, "
                 "validation/radiology or test/radiology)", f, sp, s);
      for (int j = 0; j < k; j++)
        if (strcmp(p->source[j], s) == 0)
          HP_ERROR(HP_ERR_CONFIG, "%s: ingest.splits: \"%s\" is named twice (in %s and %s)", f, s,
                   g_split_names[p->source_split[j]], sp);
    }
  } else {
    if (strcmp(p->format, "coco") == 0 && !hp_coco_split_ok(p->split))
      HP_ERROR(HP_ERR_CONFIG, "%s: ingest.split = \"%s\": for COCO use train2014, val2014, "
               "train2017 or val2017 (or ingest.splits for several)", f, p->split);
    if (strcmp(p->format, "roco") == 0 && !hp_roco_split_ok(p->split))
      HP_ERROR(HP_ERR_CONFIG, "%s: ingest.split = \"%s\": for ROCO use train/radiology, "
               "validation/radiology or test/radiology (or ingest.splits for several)", f, p->split);
  }
  if (strcmp(p->format, "roco") == 0) {
    int e = hp_roco_check_terms(p->nterms, p->terms);
    if (e) {
      char msg[1024];
      snprintf(msg, sizeof msg, "%s", hp_error_message());
      HP_ERROR(HP_ERR_CONFIG, "%s: ingest.roco_terms: %s", f, msg);
    }
  }
  double fr[3] = {p->train_frac, p->val_frac, p->test_frac};
  if (fabs(fr[0] + fr[1] + fr[2] - 1.0) > 1e-6)
    HP_ERROR(HP_ERR_CONFIG, "%s: data.train_frac + data.val_frac + data.test_frac = %g + %g + %g "
             "= %g: must sum to 1", f, fr[0], fr[1], fr[2], fr[0] + fr[1] + fr[2]);
  return 0;
}

/* Moves every record of src to the end of dst with split tag `split`; the label sets must be the
 * same (names and order: COCO's categories and ROCO's terms are). `what` names src. */
static int append_source(hp_ingest_list *dst, hp_ingest_list *src, uint8_t split, const char *root, const char *what) {
  if (dst->n == 0 && dst->n_labels == 0 && src->n_labels > 0)
    HP_CALL(hp_ingest_list_set_labels(dst, src->n_labels, (const char *const *)src->label_names));
  int same = dst->n_labels == src->n_labels;
  for (int64_t k = 0; same && k < src->n_labels; k++) same = strcmp(dst->label_names[k], src->label_names[k]) == 0;
  if (!same)
    HP_ERROR(HP_ERR_INPUT, "%s: %s has %lld labels, the sources before it %lld (or other names): the sources of "
             "ingest.splits must have the same label set (a missing instances file?)", root, what,
             (long long)src->n_labels, (long long)dst->n_labels);
  HP_CALL(hp_ingest_grow((void **)&dst->items, &dst->cap, dst->n + src->n, sizeof *dst->items, "ingest record list"));
  for (int64_t i = 0; i < src->n; i++) {
    dst->items[dst->n] = src->items[i]; /* the strings and labels move with it */
    dst->items[dst->n].split = split;
    dst->n_captions += src->items[i].n_captions;
    dst->n++;
  }
  src->n = 0;
  src->n_captions = 0;
  return 0;
}

static int parse_one(const ingest_params *p, const char *split, const hp_ingest_opts *o, hp_ingest_list *l,
                     hp_ingest_report *rep) {
  if (strcmp(p->format, "coco") == 0) return hp_coco_parse(p->root, split, o, l, rep);
  return hp_roco_parse(p->root, split, p->nterms, p->terms, o, l, rep);
}

/* One source (a COCO or ROCO split folder) appended to l with split tag `split`. */
static int parse_source(const ingest_params *p, const char *source, uint8_t split, const hp_ingest_opts *o,
                        hp_ingest_list *l, hp_ingest_report *rep) {
  hp_ingest_list one;
  hp_ingest_list_init(&one);
  int e = parse_one(p, source, o, &one, rep);
  if (!e) e = append_source(l, &one, split, p->root, source);
  hp_ingest_list_free(&one);
  return e;
}

static int parse_on_root(const ingest_params *p, hp_ingest_list *l, hp_ingest_report *rep) {
  /* Missing image files are found by the decoders, spread over the ranks. */
  hp_ingest_opts o = {0, HP_INGEST_DEFAULT_MAX_ANNOTATION_BYTES, p->follow_symlinks};
  if (p->karpathy[0]) { /* its folders, then its split of every image */
    hp_karpathy k;
    HP_CALL(hp_karpathy_read(p->karpathy, o.max_annotation_bytes, &k));
    int e = 0;
    for (int f = 0; f < k.nfolders && !e; f++) e = parse_source(p, k.folder[f], HP_INGEST_SPLIT_NONE, &o, l, rep);
    if (!e) e = hp_karpathy_apply(&k, p->karpathy, l, rep);
    hp_karpathy_free(&k);
    HP_CALL(e);
  } else if (strcmp(p->format, "folder") == 0) { /* the sub-folders of ingest.splits, or ingest.split, or all */
    hp_folder_opts fo = {.labels = p->folder_labels};
    if (p->n_sources > 0) HP_CALL(hp_folder_parse(p->root, p->n_sources, p->source, p->source_split, &fo, &o, l, rep));
    else HP_CALL(hp_folder_parse(p->root, p->split[0] ? 1 : 0, &p->split, NULL, &fo, &o, l, rep));
  } else if (p->n_sources > 0) { /* coco or roco: each source is one of its split folders */
    for (int k = 0; k < p->n_sources; k++) HP_CALL(parse_source(p, p->source[k], p->source_split[k], &o, l, rep));
  } else if (strcmp(p->format, "coco") == 0) HP_CALL(hp_coco_parse(p->root, p->split, &o, l, rep));
  else if (strcmp(p->format, "roco") == 0)
    HP_CALL(hp_roco_parse(p->root, p->split, p->nterms, p->terms, &o, l, rep));
  else if (strcmp(p->format, "csv") == 0) HP_CALL(hp_table_parse(p->root, &p->table, &o, l, rep));
  else HP_CALL(hp_fashion_parse(p->root, &o, l, rep));
  return 0;
}

/* Rank 0: write the report atomically. */
static int write_report(const char *path, const hp_ingest_report *rep) {
  char tmp[4200];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
    HP_ERROR(HP_ERR_USAGE, "%s: path too long", path);
  FILE *f = fopen(tmp, "w");
  if (!f) HP_ERROR(HP_ERR_IO, "%s: cannot create the bad-record report", tmp);
  hp_tmpfile_register(tmp);
  int e = 0;
  if (fputs("where\twhy\n", f) == EOF)
    e = HP_ERROR_SET(HP_ERR_IO, "%s: write failed", tmp);
  if (!e) e = hp_report_write(rep, f, tmp);
  if (fclose(f) != 0 && !e)
    e = HP_ERROR_SET(HP_ERR_IO, "%s: write failed", tmp);
  if (!e && rename(tmp, path) != 0)
    e = HP_ERROR_SET(HP_ERR_IO, "%s: cannot rename to %s", tmp, path);
  if (e) {
    remove(tmp);
    hp_tmpfile_unregister(tmp);
    HP_CALL(e);
  }
  hp_tmpfile_unregister(tmp);
  return 0;
}

/* The formats with annotation files: rank 0 parses them into a record list, every rank decodes
 * its block of the records. *n_parse_bad = the bad annotation records (in rep on rank 0). */
static int read_annotated(hp_stage_ctx *ctx, const ingest_params *p, const hp_ingest_image_opts *io,
                          hp_ingest_shard *sh, hp_ingest_report *rep, int64_t *n_parse_bad, int64_t *n_records) {
  hp_ingest_list l;
  hp_ingest_list_init(&l);
  double t0 = hp_now();
  HP_CALL(hp_agree(ctx->comm, ctx->rank == 0 ? parse_on_root(p, &l, rep) : 0));
  /* the parsed annotation JSON (~6 KB an image, freed) lies under the record list: without this
   * its pages stay resident on rank 0 through the whole decode */
  hp_res_release_free();
  HP_CALL(hp_ingest_list_bcast(ctx->comm, 0, &l));
  *n_parse_bad = rep->n;
  HP_MPI(MPI_Bcast(n_parse_bad, 1, MPI_INT64_T, 0, ctx->comm));
  hp_log_info("ingest: %s %s%s%s: %lld records, %lld captions, %lld labels, %lld bad annotation "
              "records (%.1f s)", p->format, p->root, p->split[0] ? " " : "", p->split,
              (long long)l.n, (long long)l.n_captions, (long long)l.n_labels,
              (long long)*n_parse_bad, hp_now() - t0);
  *n_records = l.n;
  /* a table's image paths are relative to its folder; the other formats' to the root */
  char *img_root = NULL;
  HP_CALL(strcmp(p->format, "csv") == 0 ? hp_table_image_root(p->root, &img_root)
                                        : hp_ingest_strndup(p->root, strlen(p->root), &img_root));
  int de = hp_ingest_decode_shard(ctx->comm, img_root, &l, io, sh, rep);
  free(img_root);
  hp_ingest_list_free(&l);
  return de;
}

/* The split of every row of this rank, in place in sh->split: drawn with data.*_frac
 * (hp_split_assign) when the input gave none; else the sources' splits, and when no source is the
 * validation split, each train row becomes validation with probability val_frac / (train_frac +
 * val_frac), by a keyed hash of (seed, row), so that the same rows are chosen at any rank count.
 * method: what was done. */
static int assign_splits(hp_stage_ctx *ctx, const ingest_params *p, hp_ingest_shard *sh, char *method, size_t mn) {
  int64_t have[4] = {0, 0, 0, 0}; /* rows tagged train, val, test, none */
  for (int64_t i = 0; i < sh->n; i++) have[sh->split[i] <= HP_SPLIT_TEST ? sh->split[i] : 3]++;
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, have, 4, MPI_INT64_T, MPI_SUM, ctx->comm));
  if (have[0] + have[1] + have[2] == 0) {
    /* images without a caption (format folder) cannot be trained on: all go to test, where they
     * are searched; the captioned ones keep the seeded draw of their row */
    uint8_t *has_cap = NULL;
    HP_CALLOC(has_cap, sh->n > 0 ? sh->n : 1, "captioned rows");
    for (int64_t c = 0; c < sh->n_captions; c++) has_cap[sh->caption_image[c] - sh->row0] = 1;
    int64_t bare = 0;
    for (int64_t i = 0; i < sh->n; i++) bare += !has_cap[i];
    HP_MPI(MPI_Allreduce(MPI_IN_PLACE, &bare, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
    /* an append draws per image: the rows before it keep their splits, and an image's split then
     * does not depend on how many images came with it */
    int per_image = p->per_image || p->append;
    int n = snprintf(method, mn, "random %.3g/%.3g/%.3g of the images (data.train_frac, val_frac, test_frac)%s, seed %llu",
                     p->train_frac, p->val_frac, p->test_frac, per_image ? " drawn per image" : "",
                     (unsigned long long)p->seed);
    if (bare > 0 && n > 0 && (size_t)n < mn)
      snprintf(method + n, mn - (size_t)n, "; the %lld images without a caption all in test (they cannot be trained on)",
               (long long)bare);
    int e = 0;
    if (per_image) hp_split_assign_per_image(p->seed, p->train_frac, p->val_frac, sh->row0, sh->n, sh->split);
    else e = hp_split_assign(p->seed, sh->n_total, p->train_frac, p->val_frac, sh->row0, sh->n, sh->split);
    for (int64_t i = 0; !e && i < sh->n; i++)
      if (!has_cap[i]) sh->split[i] = HP_SPLIT_TEST;
    free(has_cap);
    return hp_agree(ctx->comm, e);
  }
  if (have[3] > 0)
    HP_CALL(hp_agree(ctx->comm, HP_ERROR_SET(HP_ERR_INTERNAL, "ingest: %lld images without a split among %lld with one",
                                             (long long)have[3], (long long)(have[0] + have[1] + have[2]))));
  size_t u = 0;
  if (strcmp(p->format, "csv") == 0) {
    u += (size_t)snprintf(method + u, mn - u, "given by the column \"%s\" of %s", p->table.split_key, p->root);
  } else if (p->karpathy[0]) {
    u += (size_t)snprintf(method + u, mn - u, "the Karpathy split of %s (train and restval -> train)", p->karpathy);
  } else {
    u += (size_t)snprintf(method + u, mn - u, "given by ingest.splits:");
    for (int s = 0; s < 3 && u < mn; s++) {
      int first = 1;
      for (int k = 0; k < p->n_sources && u < mn; k++)
        if (p->source_split[k] == s) {
          u += (size_t)snprintf(method + u, mn - u, "%s%s%s", first ? " " : ", ", first ? g_split_names[s] : "",
                                first ? " = " : "");
          u += u < mn ? (size_t)snprintf(method + u, mn - u, "%s", p->source[k]) : 0;
          first = 0;
        }
      if (!first && u < mn) u += (size_t)snprintf(method + u, mn - u, ";");
    }
  }
  double q = p->train_frac + p->val_frac > 0 ? p->val_frac / (p->train_frac + p->val_frac) : 0.0;
  int draw_val = have[1] == 0 && have[0] > 0 && q > 0;
  if (draw_val && u < mn)
    snprintf(method + u, mn - u, " validation drawn from the train images, each with probability %.3g "
             "(data.val_frac / (train_frac + val_frac)), seed %llu", q, (unsigned long long)p->seed);
  for (int64_t i = 0; draw_val && i < sh->n; i++)
    if (sh->split[i] == HP_SPLIT_TRAIN) {
      uint64_t h = hp_hash4(p->seed, HP_STREAM_SPLIT, (uint64_t)(sh->row0 + i), 1);
      if ((double)(h >> 11) * 0x1.0p-53 < q) sh->split[i] = HP_SPLIT_VAL;
    }
  return 0;
}

/* Splits, vocabulary (a new dataset's, from its training captions; an append keeps the old one)
 * and the one collective write of dataset.h5 (after the old rows when appending). */
static int write_dataset(hp_stage_ctx *ctx, const ingest_params *p, hp_ingest_shard *sh, hp_ingest_append *ap) {
  char method[1024];
  HP_CALL(assign_splits(ctx, p, sh, method, sizeof method));
  hp_dataset_shard shard = {
      .row0 = sh->row0,
      .n = sh->n,
      .images = sh->images,
      .split = sh->split,
      .source_id = (const char *const *)sh->source_id,
      .labels = sh->labels,
      .n_captions = sh->n_captions,
      .captions = (const char *const *)sh->captions,
      .caption_image = sh->caption_image,
  };
  hp_vocab *vocab = NULL;
  if (!ap) HP_CALL(hp_data_train_vocab(ctx->comm, &shard, p->vocab_size, &vocab));

  int64_t cnt[3] = {0, 0, 0};
  for (int64_t i = 0; i < sh->n; i++) cnt[sh->split[i]]++;
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, cnt, 3, MPI_INT64_T, MPI_SUM, ctx->comm));
  const hp_vocab *kept = ap ? ap->vocab : vocab;
  hp_log_info("ingest: splits: %s", method);
  hp_log_info("ingest: %lld %simages %lldx%lld (%s), %lld captions, split %lld/%lld/%lld, %lld labels, "
              "vocabulary %lld%s", (long long)sh->n_total, ap ? "new " : "", (long long)p->image_size,
              (long long)p->image_size, p->aspect, (long long)sh->n_captions_total, (long long)cnt[0],
              (long long)cnt[1], (long long)cnt[2], (long long)(ap ? ap->n_union : sh->n_labels),
              (long long)(kept ? hp_vocab_size(kept) : 0), ap ? " (the dataset's, kept)" : "");
  /* label names are identical on every rank (broadcast with the list) */
  hp_data_desc desc = {.n_images = sh->n_total, .image_size = p->image_size, .n_labels = sh->n_labels,
                       .label_names = (const char *const *)sh->label_names, .split_method = method};
  char fp[32];
  snprintf(fp, sizeof fp, "%s", ctx->fingerprint);
  if (ap) {
    HP_CALL(hp_ingest_append_describe(ap, ctx, method, sh->n_total, &desc, fp));
    desc.n_images += ap->n_images;
    hp_log_info("ingest: appended rows %lld..%lld after the dataset's %lld: %lld images, %lld captions in all",
                (long long)ap->n_images, (long long)(ap->n_images + sh->n_total - 1), (long long)ap->n_images,
                (long long)desc.n_images, (long long)(ap->n_captions + sh->n_captions_total));
  }
  char path[4096];
  HP_CALL(hp_run_path(ctx, HP_FILE_DATASET, path, sizeof path));
  HP_CALL(hp_data_write(ctx->comm, path, &desc, kept, ctx->cfg, fp, &shard));
  hp_vocab_free(vocab);
  return 0;
}

static int run_ingest(hp_stage_ctx *ctx, const ingest_params *p, hp_ingest_append *ap) {
  hp_ingest_report rep;
  hp_report_init(&rep);
  hp_ingest_image_opts io = {.size = p->image_size};
  HP_CALL(hp_agree(ctx->comm, hp_resize_mode_parse(p->aspect, &io.mode)));
  hp_decode_limits_default(&io.limits);
  io.limits.max_pixels = p->max_pixels;
  io.follow_symlinks = p->follow_symlinks;
  io.limits.min_side = 2 * p->image_size; /* JPEG DCT-domain pre-scaling, see image_decode.h */
  hp_ingest_shard sh;
  double td = hp_now();
  int64_t n_parse_bad = 0, n_records = 0;
  if (strcmp(p->format, "webdataset") == 0) {
    /* no annotation file: the shards are the records, read where they are decoded */
    int64_t n_shards = 0;
    uint8_t none = HP_INGEST_SPLIT_NONE;
    if (p->n_sources > 0)
      HP_CALL(hp_wds_decode(ctx->comm, p->n_sources, p->source, p->source_split, &io, &sh, &rep, &n_shards));
    else
      HP_CALL(hp_wds_decode(ctx->comm, 1, &p->root, &none, &io, &sh, &rep, &n_shards));
    int64_t bad = (int64_t)rep.n, all_bad = 0;
    HP_MPI(MPI_Allreduce(&bad, &all_bad, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
    n_records = sh.n_total + all_bad;
    hp_log_info("ingest: webdataset %s: %lld shards, %lld samples with an image and a caption, %lld bad (%.1f s)",
                p->root, (long long)n_shards, (long long)sh.n_total, (long long)all_bad, hp_now() - td);
  } else {
    HP_CALL(read_annotated(ctx, p, &io, &sh, &rep, &n_parse_bad, &n_records));
  }
  /* the slowest rank's decoding is the stage's; a rank far behind the others (a slow disk or
   * node, a starved process) shows here */
  struct { double s; int r; } mine = {hp_now() - td, ctx->rank}, lo, hi;
  HP_MPI(MPI_Allreduce(&mine, &lo, 1, MPI_DOUBLE_INT, MPI_MINLOC, ctx->comm));
  HP_MPI(MPI_Allreduce(&mine, &hi, 1, MPI_DOUBLE_INT, MPI_MAXLOC, ctx->comm));
  hp_stage_rate(ctx, "images decoded", (double)n_records, hi.s);
  if (ctx->size > 1)
    hp_log_info("ingest: decoding took %.1f s on the fastest rank (%d), %.1f s on the slowest (%d)", lo.s, lo.r, hi.s,
                hi.r);

  /* The report: parse entries (rank 0) then decode entries in rank = record order. */
  HP_CALL(hp_report_gather(ctx->comm, 0, &rep));
  char rpath[4096];
  HP_CALL(hp_run_path(ctx, HP_FILE_INGEST_REPORT, rpath, sizeof rpath));
  int64_t n_bad = rep.n;
  HP_MPI(MPI_Bcast(&n_bad, 1, MPI_INT64_T, 0, ctx->comm));
  HP_CALL(hp_agree(ctx->comm, ctx->rank == 0 ? write_report(rpath, &rep) : 0));
  if (n_bad > 0)
    hp_log_info("ingest: %lld bad records (%lld annotation, %lld image) listed in %s", (long long)n_bad,
                (long long)n_parse_bad, (long long)(n_bad - n_parse_bad), rpath);
  int e = 0;
  if (n_bad > 0 && strcmp(p->policy, "reject") == 0 && ctx->rank == 0)
    e = HP_ERROR_SET(HP_ERR_INPUT,
                     "ingest: %lld bad records and ingest.on_bad_record = \"reject\"; the first: "
                     "%s: %s (all are listed in %s; set ingest.on_bad_record = \"skip\" to skip "
                     "them)", (long long)n_bad, rep.items[0].where, rep.items[0].why, rpath);
  if (!e && sh.n_total == 0 && ctx->rank == 0)
    e = HP_ERROR_SET(HP_ERR_INPUT,
                     "ingest: no usable image in %s (%lld bad records listed in %s)", p->root,
                     (long long)n_bad, rpath);
  if (!e && sh.n_total > 0 && sh.n_captions_total == 0 && ctx->rank == 0)
    e = HP_ERROR_SET(HP_ERR_INPUT,
                     "ingest: none of the %lld images in %s has a caption: hpclip trains its model from image-caption "
                     "pairs (format folder: put the captions of NAME.jpg in NAME.txt beside it, one per line)",
                     (long long)sh.n_total, p->root);
  hp_report_free(&rep);
  HP_CALL(hp_agree(ctx->comm, e));

  if (p->append) HP_CALL(hp_ingest_append_rows(ap, &sh));
  HP_CALL(write_dataset(ctx, p, &sh, p->append ? ap : NULL));
  hp_ingest_shard_free(&sh);
  return 0;
}

int hp_stage_ingest(hp_stage_ctx *ctx) {
  const hp_config *cfg = ctx->cfg;
  ingest_params p = {
      .format = hp_cfg_str(cfg, "ingest.format"),
      .root = hp_cfg_str(cfg, "ingest.root"),
      .split = hp_cfg_str(cfg, "ingest.split"),
      .aspect = hp_cfg_str(cfg, "ingest.aspect"),
      .policy = hp_cfg_str(cfg, "ingest.on_bad_record"),
      .nterms = hp_cfg_list_len(cfg, "ingest.roco_terms"),
      .image_size = hp_cfg_int(cfg, "data.image_size"),
      .vocab_size = hp_cfg_int(cfg, "data.vocab_size"),
      .max_pixels = hp_cfg_int(cfg, "ingest.max_image_pixels"),
      .follow_symlinks = hp_cfg_bool(cfg, "ingest.follow_symlinks"),
      .folder_labels = hp_cfg_bool(cfg, "ingest.folder_labels"),
      .append = hp_cfg_bool(cfg, "ingest.append"),
      .per_image = strcmp(hp_cfg_str(cfg, "data.split_rule"), "per_image") == 0,
      .table = {.image_key = hp_cfg_str(cfg, "ingest.csv_image_key"),
                .caption_key = hp_cfg_str(cfg, "ingest.csv_caption_key"),
                .label_key = hp_cfg_str(cfg, "ingest.csv_label_key"),
                .split_key = hp_cfg_str(cfg, "ingest.csv_split_key")},
      .train_frac = hp_cfg_float(cfg, "data.train_frac"),
      .val_frac = hp_cfg_float(cfg, "data.val_frac"),
      .test_frac = hp_cfg_float(cfg, "data.test_frac"),
      .seed = (uint64_t)hp_cfg_int(cfg, "run.seed"),
      .karpathy = hp_cfg_str(cfg, "ingest.karpathy"),
  };
  const char *sep = hp_cfg_str(cfg, "ingest.csv_separator");
  p.table.sep = strcmp(sep, "comma") == 0 ? ',' : strcmp(sep, "tab") == 0 ? '\t' : strcmp(sep, "semicolon") == 0 ? ';' : 0;
  int ns[3];
  for (int s = 0; s < 3; s++) {
    char key[64];
    snprintf(key, sizeof key, "ingest.splits.%s", g_split_names[s]);
    ns[s] = hp_cfg_list_len(cfg, key);
    p.n_sources += ns[s];
  }
  HP_CALLOC(p.source, p.n_sources > 0 ? p.n_sources : 1, "ingest sources");
  HP_CALLOC(p.source_split, p.n_sources > 0 ? p.n_sources : 1, "ingest sources");
  for (int s = 0, k = 0; s < 3; s++)
    for (int j = 0; j < ns[s]; j++, k++) {
      char key[64];
      snprintf(key, sizeof key, "ingest.splits.%s", g_split_names[s]);
      p.source[k] = hp_cfg_list_str(cfg, key, j);
      p.source_split[k] = (uint8_t)s;
    }
  HP_CALLOC(p.terms, p.nterms > 0 ? p.nterms : 1, "ROCO terms");
  for (int t = 0; t < p.nterms; t++) p.terms[t] = hp_cfg_list_str(cfg, "ingest.roco_terms", t);
  HP_CALL(hp_agree(ctx->comm, check_params(cfg, &p)));
  hp_ingest_append ap;
  memset(&ap, 0, sizeof ap);
  /* before any decoding: a missing or mismatched dataset fails in a second, not after an hour */
  if (p.append) HP_CALL(hp_ingest_append_open(ctx, p.image_size, &ap));
  int e = run_ingest(ctx, &p, &ap);
  hp_ingest_append_free(&ap);
  HP_CALL(e);
  free(p.terms);
  free(p.source);
  free(p.source_split);
  return 0;
}
