/* eval_common.c — see eval_common.h. */
#include "stages/eval_common.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/tmpfile.h"
#include "base/log.h"
#include "base/test_hooks.h"
#include "comm/shard.h"

int hp_eval_split_code(const char *name) {
  if (strcmp(name, "train") == 0) return 0;
  if (strcmp(name, "val") == 0) return 1;
  if (strcmp(name, "test") == 0) return 2;
  return -1;
}

int hp_eval_load_images(hp_stage_ctx *ctx, hp_embeddings *em, int split, int with_labels, hp_eval_images *out) {
  int64_t r0, n;
  hp_shard_range(em->n_images, ctx->size, ctx->rank, &r0, &n);
  HP_CALL(hp_eval_load_image_rows(ctx, em, split, with_labels, 1, r0, n, out));
  return 0;
}

/* Rows are read in rounds of about this many bytes of embeddings and the selected ones kept, so
 * a split that keeps 10% of the rows costs 10% of them, plus one round. */
#define ROUND_BYTES ((size_t)8 << 20)

int hp_eval_load_image_rows(hp_stage_ctx *ctx, hp_embeddings *em, int split, int with_labels, int with_emb,
                            int64_t r0, int64_t n, hp_eval_images *out) {
  memset(out, 0, sizeof *out);
  const int64_t E = em->embed_dim, L = with_labels ? em->n_labels : 0;
  uint8_t *sp = NULL, *lb = NULL;
  float *eb = NULL;
  HP_CALLOC(sp, n > 0 ? n : 1, "split shard");
  HP_CALL(hp_embeddings_read_split(em, r0, n, sp));
  int64_t k = 0;
  for (int64_t i = 0; i < n; i++) k += split < 0 || sp[i] == split;
  HP_CALLOC(out->ids, k > 0 ? k : 1, "selected image ids");
  if (with_emb) HP_CALLOC(out->emb, (size_t)(k > 0 ? k : 1) * (size_t)E, "image embeddings");
  if (L > 0) HP_CALLOC(out->labels, (size_t)(k > 0 ? k : 1) * (size_t)L, "label rows");
  int64_t per = hp_test_hook_int("ROUND_ROWS", (int64_t)(ROUND_BYTES / ((size_t)E * sizeof(float)))), rounds, all = 0;
  if (per < 1) per = 1;
  rounds = (n + per - 1) / per;
  HP_MPI(MPI_Allreduce(&rounds, &all, 1, MPI_INT64_T, MPI_MAX, ctx->comm));
  if (with_emb) HP_CALLOC(eb, (size_t)per * (size_t)E, "image embedding round");
  if (L > 0) HP_CALLOC(lb, (size_t)per * (size_t)L, "label round");
  int64_t j = 0;
  for (int64_t r = 0; r < all; r++) { /* the same number of collective reads on every rank */
    int64_t a = r * per, m = n - a < per ? n - a : per;
    if (m < 0) m = 0;
    int64_t at = m > 0 ? r0 + a : 0; /* a rank that is done reads nothing, from a valid row */
    if (with_emb) HP_CALL(hp_embeddings_read_images(em, at, m, eb));
    if (L > 0) HP_CALL(hp_embeddings_read_labels(em, at, m, lb));
    for (int64_t i = 0; i < m; i++) {
      if (split >= 0 && sp[a + i] != split) continue;
      out->ids[j] = r0 + a + i;
      if (with_emb) memcpy(out->emb + j * E, eb + i * E, (size_t)E * sizeof(float));
      if (L > 0) memcpy(out->labels + j * L, lb + i * L, (size_t)L);
      j++;
    }
  }
  out->n = k;
  free(sp);
  free(eb);
  free(lb);
  HP_MPI(MPI_Allreduce(&k, &out->total, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  return 0;
}

void hp_eval_images_free(hp_eval_images *im) {
  free(im->ids);
  free(im->emb);
  free(im->labels);
  memset(im, 0, sizeof *im);
}

int hp_eval_label_queries(hp_clip_eval *ev, const char *prompt, char *const *names, int64_t L, float *out) {
  char **text = NULL;
  HP_CALLOC(text, L > 0 ? L : 1, "label prompts");
  for (int64_t i = 0; i < L; i++) HP_CALL(hp_clip_prompt(prompt, names[i], &text[i]));
  int err = hp_clip_eval_texts(ev, (const char *const *)text, L, out);
  for (int64_t i = 0; i < L; i++) free(text[i]);
  free(text);
  if (err) return hp_error_trace(err, __FILE__, __LINE__, __func__);
  return 0;
}

int hp_eval_label_queries_ensemble(hp_clip_eval *ev, const char *const *templates, int nt, char *const *names,
                                   int64_t L, float *out) {
  if (nt == 1) return hp_eval_label_queries(ev, templates[0], names, L, out);
  const int64_t E = ev->m.cfg.embed_dim;
  float *one = NULL;
  double *sum = NULL;
  HP_CALLOC(one, (size_t)(L > 0 ? L : 1) * (size_t)E, "template embeddings");
  HP_CALLOC(sum, (size_t)(L > 0 ? L : 1) * (size_t)E, "template embedding sums");
  int err = 0;
  for (int t = 0; t < nt && !err; t++) {
    err = hp_eval_label_queries(ev, templates[t], names, L, one);
    for (int64_t k = 0; !err && k < L * E; k++) sum[k] += one[k];
  }
  for (int64_t c = 0; !err && c < L; c++) {
    double n2 = 0;
    for (int64_t j = 0; j < E; j++) n2 += sum[c * E + j] * sum[c * E + j];
    double inv = n2 > 0 ? 1.0 / sqrt(n2) : 0.0;
    for (int64_t j = 0; j < E; j++) out[c * E + j] = (float)(sum[c * E + j] * inv);
  }
  free(one);
  free(sum);
  if (err) return hp_error_trace(err, __FILE__, __LINE__, __func__);
  return 0;
}

static int write_rank0(hp_stage_ctx *ctx, const char *group, const hp_embeddings *em, hp_eval_write_fn fn,
                       void *arg) {
  char path[4096];
  char *config = NULL;
  HP_CALL(hp_run_path(ctx, HP_FILE_RESULTS, path, sizeof path));
  HP_CALL(hp_config_dump(ctx->cfg, &config));
  hp_results_w w;
  int err = hp_results_begin(path, group, &w);
  if (!err) err = hp_results_attr_str(&w, "fingerprint", ctx->fingerprint);
  if (!err) err = hp_results_attr_str(&w, "config", config);
  if (!err) err = hp_results_attr_str(&w, "created_by", "hpclip " HPCLIP_VERSION);
  if (!err) err = hp_results_attr_str(&w, "model", em->model);
  if (!err) err = hp_results_attr_str(&w, "model_fingerprint", em->model_fingerprint);
  if (!err) err = hp_results_attr_str(&w, "embeddings_fingerprint", em->fingerprint);
  if (!err) err = fn(&w, arg);
  if (!err) err = hp_results_commit(&w, config);
  if (err) hp_results_abort(&w);
  free(config);
  if (err) return hp_error_trace(err, __FILE__, __LINE__, __func__);
  hp_log_info("%s: results in %s (group /%s)", group, path, group);
  return 0;
}

int hp_eval_write_results(hp_stage_ctx *ctx, const char *group, const hp_embeddings *em, hp_eval_write_fn fn,
                          void *arg) {
  int err = ctx->rank == 0 ? write_rank0(ctx, group, em, fn, arg) : 0;
  HP_CALL(hp_agree_root(ctx->comm, err));
  return 0;
}

int hp_eval_write_markdown(hp_stage_ctx *ctx, const char *name, hp_eval_md_fn fn, void *arg) {
  int err = 0;
  if (ctx->rank == 0) {
    char path[4096], tmp[4200];
    err = hp_run_path(ctx, name, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = err ? NULL : fopen(tmp, "w");
    if (!err && !f) err = HP_ERROR_SET(HP_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
    if (f) {
      hp_tmpfile_register(tmp);
      /* the stamp (stage.h) lets `report` include this file only while it matches /STAGE */
      char stage[64];
      snprintf(stage, sizeof stage, "%.*s", (int)(strcspn(name, ".") < 63 ? strcspn(name, ".") : 63), name);
      fprintf(f, HP_MD_STAMP_FMT, stage, ctx->fingerprint);
      fn(f, arg);
      /* a failed fprintf (disk full, file-size limit) sets the error flag; fclose flushes the rest */
      int bad = ferror(f), e = 0;
      if (fclose(f) != 0) {
        if (!bad) e = errno;
        bad = 1;
      }
      if (bad)
        err = HP_ERROR_SET(HP_ERR_IO, "cannot write %s: %s", tmp,
                           e ? strerror(e) : "write error (disk full or file-size limit?)");
      else if (rename(tmp, path) != 0)
        err = HP_ERROR_SET(HP_ERR_IO, "cannot rename %s to %s: %s", tmp, path,
                           strerror(errno));
      if (err) remove(tmp);
      hp_tmpfile_unregister(tmp);
    }
    /* a table can run to hundreds of lines (one per class): the log of a long job names the
     * file and prints the table itself only when asked */
    if (!err && hp_log_level() >= HP_LOG_DEBUG) {
      fn(stdout, arg);
      fflush(stdout);
    } else if (!err) {
      hp_log_info("tables in %s (run.log_level = \"debug\" also prints them here)", path);
    }
  }
  HP_CALL(hp_agree_root(ctx->comm, err));
  return 0;
}
