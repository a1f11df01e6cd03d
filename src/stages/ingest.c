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
#include "ingest/roco.h"
#include "ingest/table.h"
#include "ingest/util.h"
#include "ingest/webdataset.h"
#include "data/dataset_build.h"
#include "data/split.h"
#include "stages/stage.h"
#include "text/tokenizer.h"


typedef struct {
  const char *format, *root, *split, *aspect, *policy;
  int nterms;
  const char **terms;
  int64_t image_size, vocab_size, max_pixels;
  int follow_symlinks;
  hp_table_opts table;
  double train_frac, val_frac, test_frac;
  uint64_t seed;
} ingest_params;

static int check_params(const hp_config *cfg, const ingest_params *p) {
  const char *f = hp_config_path(cfg);
  if (!p->root[0])
    HP_ERROR(HP_ERR_CONFIG, "%s: ingest.root is not set: give the folder that holds the %s data "
             "in its original layout", f, p->format);
  if (strcmp(p->format, "coco") == 0 && !hp_coco_split_ok(p->split))
    HP_ERROR(HP_ERR_CONFIG, "%s: ingest.split = \"%s\": for COCO use train2014, val2014, "
             "train2017 or val2017", f, p->split);
  if (strcmp(p->format, "roco") == 0 && !hp_roco_split_ok(p->split))
    HP_ERROR(HP_ERR_CONFIG, "%s: ingest.split = \"%s\": for ROCO use train/radiology, "
             "validation/radiology or test/radiology", f, p->split);
  if ((strcmp(p->format, "csv") == 0 || strcmp(p->format, "webdataset") == 0) && p->split[0])
    HP_ERROR(HP_ERR_CONFIG, "%s: ingest.split = \"%s\": a %s has no splits; leave ingest.split "
             "empty (data.*_frac make the splits)", f, p->split,
             strcmp(p->format, "csv") == 0 ? "CSV table" : "set of webdataset shards");
  if (strcmp(p->format, "fashion") == 0 && p->split[0])
    HP_ERROR(HP_ERR_CONFIG, "%s: ingest.split = \"%s\": the Fashion Product data has no splits; "
             "leave ingest.split empty (data.*_frac make the splits)", f, p->split);
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

static int parse_on_root(const ingest_params *p, hp_ingest_list *l, hp_ingest_report *rep) {
  /* Missing image files are found by the decoders, spread over the ranks. */
  hp_ingest_opts o = {0, HP_INGEST_DEFAULT_MAX_ANNOTATION_BYTES, p->follow_symlinks};
  if (strcmp(p->format, "coco") == 0) HP_CALL(hp_coco_parse(p->root, p->split, &o, l, rep));
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

static int run_ingest(hp_stage_ctx *ctx, const ingest_params *p) {
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
    HP_CALL(hp_wds_decode(ctx->comm, p->root, &io, &sh, &rep, &n_shards));
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
  hp_report_free(&rep);
  HP_CALL(hp_agree(ctx->comm, e));

  /* splits, vocabulary, write */
  uint8_t *split = NULL;
  HP_CALLOC(split, sh.n ? sh.n : 1, "ingest splits");
  HP_CALL(hp_agree(ctx->comm, hp_split_assign(p->seed, sh.n_total, p->train_frac, p->val_frac,
                                              sh.row0, sh.n, split)));
  hp_dataset_shard shard = {
      .row0 = sh.row0,
      .n = sh.n,
      .images = sh.images,
      .split = split,
      .source_id = (const char *const *)sh.source_id,
      .labels = sh.labels,
      .n_captions = sh.n_captions,
      .captions = (const char *const *)sh.captions,
      .caption_image = sh.caption_image,
  };
  hp_vocab *vocab = NULL;
  HP_CALL(hp_data_train_vocab(ctx->comm, &shard, p->vocab_size, &vocab));

  /* label names are identical on every rank (broadcast with the list) */
  int64_t n_train, n_val, n_test;
  hp_split_counts(sh.n_total, p->train_frac, p->val_frac, &n_train, &n_val, &n_test);
  hp_log_info("ingest: %lld images %lldx%lld (%s), %lld captions, split %lld/%lld/%lld, %lld labels, "
              "vocabulary %lld", (long long)sh.n_total, (long long)p->image_size,
              (long long)p->image_size, p->aspect, (long long)sh.n_captions_total,
              (long long)n_train, (long long)n_val, (long long)n_test, (long long)sh.n_labels,
              (long long)hp_vocab_size(vocab));
  hp_data_desc desc = {.n_images = sh.n_total, .image_size = p->image_size, .n_labels = sh.n_labels,
                       .label_names = (const char *const *)sh.label_names};
  char path[4096];
  HP_CALL(hp_run_path(ctx, HP_FILE_DATASET, path, sizeof path));
  HP_CALL(hp_data_write(ctx->comm, path, &desc, vocab, ctx->cfg, ctx->fingerprint, &shard));
  hp_vocab_free(vocab);
  free(split);
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
      .table = {.image_key = hp_cfg_str(cfg, "ingest.csv_image_key"),
                .caption_key = hp_cfg_str(cfg, "ingest.csv_caption_key"),
                .label_key = hp_cfg_str(cfg, "ingest.csv_label_key")},
      .train_frac = hp_cfg_float(cfg, "data.train_frac"),
      .val_frac = hp_cfg_float(cfg, "data.val_frac"),
      .test_frac = hp_cfg_float(cfg, "data.test_frac"),
      .seed = (uint64_t)hp_cfg_int(cfg, "run.seed"),
  };
  const char *sep = hp_cfg_str(cfg, "ingest.csv_separator");
  p.table.sep = strcmp(sep, "comma") == 0 ? ',' : strcmp(sep, "tab") == 0 ? '\t' : strcmp(sep, "semicolon") == 0 ? ';' : 0;
  HP_CALLOC(p.terms, p.nterms > 0 ? p.nterms : 1, "ROCO terms");
  for (int t = 0; t < p.nterms; t++) p.terms[t] = hp_cfg_list_str(cfg, "ingest.roco_terms", t);
  HP_CALL(hp_agree(ctx->comm, check_params(cfg, &p)));
  HP_CALL(run_ingest(ctx, &p));
  free(p.terms);
  return 0;
}
