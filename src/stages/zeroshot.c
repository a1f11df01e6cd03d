/* zeroshot.c — the `zeroshot` stage: zero-shot classification -> results.h5 /zeroshot,
 * zeroshot.md.
 *
 * Every label name, put through zeroshot.prompt, is text-encoded (every rank encodes all of
 * them, in the same batches: identical class embeddings everywhere); every image of
 * zeroshot.split is assigned the label of highest cosine similarity (ties: lowest label index).
 * Counting and metrics: docs/metrics.md (per-class TP/FP/FN with multi-label truth, micro/macro
 * P/R/F1, top-1 accuracy). Images are sharded over the ranks; the integer counts are summed
 * across ranks, so every figure is the same for any rank count. Also written for report.html:
 * the confusion matrix (true label x predicted class, L <= ZS_CONFUSION_MAX) and
 * the predictions of the split's first ZS_EXAMPLES images.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "metrics/classify.h"
#include "stages/markdown.h"
#include "stages/eval_common.h"
#include "index/index.h"

#define ZS_CONFUSION_MAX 2000 /* classes: the confusion matrix is L^2 counts on every rank */
#define ZS_EXAMPLES 8

typedef struct {
  int64_t L, unlabelled, n_images;
  char **names;
  hp_cls_counts *c;
  hp_cls_summary s;
  double *p, *r, *f1;
  const char *prompt, *split, *model;
  int nt;                    /* zeroshot.templates: 0 = the single prompt */
  int64_t E;
  const float *q;            /* [L,E] the class embeddings (the zero-shot classifier's weights) */
  const char **templates;
  int64_t *confusion;        /* [L,L] true label x predicted class (NULL: L > ZS_CONFUSION_MAX) */
  int64_t examples[ZS_EXAMPLES][2]; /* the split's first images: (image, predicted class), id -1 = none */
} zs_out;

static int write_group(hp_results_w *w, void *arg) {
  zs_out *o = arg;
  HP_CALL(hp_results_attr_str(w, "prompt", o->prompt));
  if (o->nt > 0) {
    int64_t nt = o->nt;
    HP_CALL(hp_results_strings(w, "templates", nt, o->templates));
  }
  double *qd = NULL;
  HP_CALLOC(qd, (size_t)(o->L * o->E), "class embeddings");
  for (int64_t k = 0; k < o->L * o->E; k++) qd[k] = o->q[k];
  int64_t dq[2] = {o->L, o->E};
  int e = hp_results_f64(w, "class_embeddings", 2, dq, qd);
  free(qd);
  HP_CALL(e);
  HP_CALL(hp_results_attr_str(w, "split", o->split));
  HP_CALL(hp_results_attr_i64(w, "n_images", o->n_images));
  HP_CALL(hp_results_attr_i64(w, "n_unlabelled", o->unlabelled));
  HP_CALL(hp_results_attr_i64(w, "n_counted", o->s.items));
  HP_CALL(hp_results_attr_i64(w, "classes_averaged", o->s.active));
  HP_CALL(hp_results_attr_str(w, "table2_columns", "macro-P,micro-P,macro-R,micro-R,macro-F1,micro-F1,Accuracy"));
  double t2[7] = {o->s.macro.precision, o->s.micro.precision, o->s.macro.recall, o->s.micro.recall,
                  o->s.macro.f1,        o->s.micro.f1,        o->s.accuracy};
  int64_t d7 = 7;
  HP_CALL(hp_results_f64(w, "table2", 1, &d7, t2));
  int64_t *v = NULL;
  HP_CALLOC(v, o->L, "count column");
  HP_CALL(hp_results_strings(w, "per_class/names", o->L, (const char *const *)o->names));
  const char *cn[4] = {"tp", "fp", "fn", "support"};
  for (int k = 0; k < 4; k++) {
    for (int64_t c = 0; c < o->L; c++)
      v[c] = k == 0 ? o->c[c].tp : k == 1 ? o->c[c].fp : k == 2 ? o->c[c].fn : o->c[c].support;
    char name[64];
    snprintf(name, sizeof name, "per_class/%s", cn[k]);
    HP_CALL(hp_results_i64(w, name, 1, &o->L, v));
  }
  free(v);
  HP_CALL(hp_results_f64(w, "per_class/precision", 1, &o->L, o->p));
  HP_CALL(hp_results_f64(w, "per_class/recall", 1, &o->L, o->r));
  HP_CALL(hp_results_f64(w, "per_class/f1", 1, &o->L, o->f1));
  int64_t dc[2] = {o->L, o->L}, de[2] = {ZS_EXAMPLES, 2};
  if (o->confusion) HP_CALL(hp_results_i64(w, "confusion", 2, dc, o->confusion));
  HP_CALL(hp_results_i64(w, "examples", 2, de, &o->examples[0][0]));
  return 0;
}

static void markdown(FILE *f, void *arg) {
  zs_out *o = arg;
  fprintf(f, "## Zero-shot classification (`zeroshot`)\n\nModel `%s`; split `%s`; ", o->model, o->split);
  if (o->nt > 0) {
    fprintf(f, "class embeddings averaged over %d prompt templates (\"", o->nt);
    hp_md_text(f, o->templates[0], 200);
    fprintf(f, "\"%s)", o->nt > 1 ? ", ..." : "");
  } else {
    fprintf(f, "prompt \"");
    hp_md_text(f, o->prompt, 200);
    fprintf(f, "\"");
  }
  fprintf(f, "; %" PRId64 " images counted (%" PRId64 " without labels skipped); macro averages over %" PRId64
          " classes.\n\n", o->s.items, o->unlabelled, o->s.active);
  /* chance: a uniform guess over the classes, and always guessing the most frequent one */
  int64_t most = 0;
  for (int64_t c = 0; c < o->L; c++) most = o->c[c].support > most ? o->c[c].support : most;
  double uniform = o->s.active > 0 ? 1.0 / (double)o->s.active : 0.0,
         majority = o->s.items > 0 ? (double)most / (double)o->s.items : 0.0;
  const char *flag = o->s.accuracy <= majority && o->s.items > 0 ? " ⚠" : hp_md_flag(o->s.accuracy, uniform);
  fprintf(f, "Chance: accuracy %.3f for a uniform guess over the %" PRId64 " classes, %.3f for always the most frequent "
          "class; ⚠ marks an accuracy within 2x of the first or not above the second.%s\n\n", uniform, o->s.active,
          majority,
          o->s.items < 20 ? " ⚠ Fewer than 20 images were classified: the figures rest on very few." : "");
  fprintf(f, "| Model | macro-P | micro-P | macro-R | micro-R | macro-F1 | micro-F1 | Accuracy |\n");
  fprintf(f, "|---|---:|---:|---:|---:|---:|---:|---:|\n");
  fprintf(f, "| this model | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f%s |\n\n", o->s.macro.precision,
          o->s.micro.precision, o->s.macro.recall, o->s.micro.recall, o->s.macro.f1, o->s.micro.f1, o->s.accuracy, flag);
  fprintf(f, "Per class:\n\n| class | support | TP | FP | FN | P | R | F1 |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (int64_t c = 0; c < o->L; c++) {
    fprintf(f, "| ");
    hp_md_text(f, o->names[c], 200);
    fprintf(f, " | %" PRId64 " | %" PRId64 " | %" PRId64 " | %" PRId64 " | %.3f | %.3f | %.3f |\n", o->c[c].support,
            o->c[c].tp, o->c[c].fp, o->c[c].fn, o->p[c], o->r[c], o->f1[c]);
  }
  fprintf(f, "\n");
}

int hp_stage_zeroshot(hp_stage_ctx *ctx) {
  char epath[4096], cpath[4096];
  HP_CALL(hp_run_path(ctx, HP_FILE_EMBEDDINGS, epath, sizeof epath));
  HP_CALL(hp_run_path(ctx, HP_FILE_CKPT, cpath, sizeof cpath));
  hp_embeddings em;
  HP_CALL(hp_embeddings_open(ctx->comm, epath, &em));
  zs_out o;
  memset(&o, 0, sizeof o);
  o.prompt = hp_cfg_str(ctx->cfg, "zeroshot.prompt");
  o.nt = hp_cfg_list_len(ctx->cfg, "zeroshot.templates");
  if (o.nt > 0 && strcmp(o.prompt, "{}") != 0)
    HP_ERROR(HP_ERR_CONFIG, "%s: both zeroshot.prompt and zeroshot.templates are set: give one prompt, or the "
             "templates to average", hp_config_path(ctx->cfg));
  HP_CALLOC(o.templates, o.nt > 0 ? o.nt : 1, "zeroshot templates");
  for (int t = 0; t < o.nt; t++) o.templates[t] = hp_cfg_list_str(ctx->cfg, "zeroshot.templates", t);
  o.split = hp_cfg_str(ctx->cfg, "zeroshot.split");
  o.model = em.model;
  o.L = em.n_labels;
  o.names = em.label_names;
  if (o.L == 0)
    HP_ERROR(HP_ERR_INPUT, "%s: /labels: missing; zero-shot classification needs labelled images (remove 'zeroshot' "
             "from run.stages for this dataset)", epath);
  double t0 = hp_now();
  hp_eval_images im;
  HP_CALL(hp_eval_load_images(ctx, &em, hp_eval_split_code(o.split), 1, &im));
  if (im.total == 0) HP_ERROR(HP_ERR_INPUT, "%s: no images in the '%s' split (zeroshot.split)", epath, o.split);
  o.n_images = im.total;
  hp_clip_eval ev;
  HP_CALL(hp_clip_eval_load(ctx->comm, ctx->cfg, cpath, em.image_size, (int)hp_cfg_int(ctx->cfg, "embed.batch"), &ev));
  if (strcmp(ev.m.desc, em.model) != 0 || strcmp(ev.fingerprint, em.model_fingerprint) != 0)
    HP_ERROR(HP_ERR_INPUT, "%s: embeddings of model %s (checkpoint %s), but %s holds %s (checkpoint %s): rerun embed",
             epath, em.model, em.model_fingerprint, cpath, ev.m.desc, ev.fingerprint);
  const int64_t E = em.embed_dim, L = o.L;
  float *q = NULL;
  HP_CALLOC(q, (size_t)L * (size_t)E, "class embeddings");
  if (o.nt > 0) HP_CALL(hp_eval_label_queries_ensemble(&ev, o.templates, o.nt, o.names, L, q));
  else HP_CALL(hp_eval_label_queries(&ev, o.prompt, o.names, L, q));
  hp_clip_eval_free(&ev);
  o.q = q;
  o.E = E;
  HP_CALLOC(o.c, L, "class counts");
  int64_t items = 0, correct = 0, (*ex)[2] = NULL;
  if (L <= ZS_CONFUSION_MAX) HP_CALLOC(o.confusion, (size_t)(L * L), "confusion matrix");
  HP_CALLOC(ex, (size_t)ZS_EXAMPLES * (size_t)ctx->size, "examples");
  for (int64_t i = 0; i < ZS_EXAMPLES * ctx->size; i++) ex[i][0] = -1, ex[i][1] = -1;
  for (int64_t i = 0; i < im.n; i++) {
    int64_t best = 0;
    float bs = hp_index_dot(im.emb + i * E, q, E);
    for (int64_t c = 1; c < L; c++) {
      float s = hp_index_dot(im.emb + i * E, q + c * E, E);
      if (s > bs) {
        bs = s;
        best = c;
      }
    }
    hp_cls_count(o.c, L, im.labels + i * L, best, &items, &correct);
    /* right: the diagonal cell of the predicted class; wrong: a count in every true label's row */
    if (o.confusion && im.labels[i * L + best]) o.confusion[best * L + best]++;
    for (int64_t c = 0; o.confusion && !im.labels[i * L + best] && c < L; c++)
      if (im.labels[i * L + c]) o.confusion[c * L + best]++;
    if (i < ZS_EXAMPLES) ex[ctx->rank * ZS_EXAMPLES + i][0] = im.ids[i], ex[ctx->rank * ZS_EXAMPLES + i][1] = best;
  }
  if (o.confusion) HP_MPI(MPI_Allreduce(MPI_IN_PLACE, o.confusion, (int)(L * L), MPI_INT64_T, MPI_SUM, ctx->comm));
  /* the split's first images: each rank's first ones, in rank (= image) order */
  HP_MPI(MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, ex, 2 * ZS_EXAMPLES, MPI_INT64_T, ctx->comm));
  for (int j = 0; j < ZS_EXAMPLES; j++) o.examples[j][0] = o.examples[j][1] = -1;
  for (int64_t i = 0, k = 0; i < ZS_EXAMPLES * ctx->size && k < ZS_EXAMPLES; i++)
    if (ex[i][0] >= 0) o.examples[k][0] = ex[i][0], o.examples[k][1] = ex[i][1], k++;
  /* hp_cls_counts is four int64 per class: sum them as a flat array */
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, o.c, (int)(4 * L), MPI_INT64_T, MPI_SUM, ctx->comm));
  int64_t tot[2] = {items, correct};
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, tot, 2, MPI_INT64_T, MPI_SUM, ctx->comm));
  hp_cls_summarise(o.c, L, tot[0], tot[1], &o.s);
  o.unlabelled = im.total - tot[0];
  HP_CALLOC(o.p, L, "per-class precision");
  HP_CALLOC(o.r, L, "per-class recall");
  HP_CALLOC(o.f1, L, "per-class F1");
  for (int64_t c = 0; c < L; c++) {
    hp_cls_prf r = hp_cls_class(&o.c[c]);
    o.p[c] = r.precision;
    o.r[c] = r.recall;
    o.f1[c] = r.f1;
  }
  hp_stage_rate(ctx, "images classified", (double)im.total, hp_now() - t0);
  hp_log_info("zeroshot: %" PRId64 " '%s' images (%" PRId64 " unlabelled skipped), %" PRId64 " classes in %.2f s: "
              "accuracy %.3f, micro-F1 %.3f, macro-F1 %.3f", im.total, o.split, o.unlabelled, L, hp_now() - t0,
              o.s.accuracy, o.s.micro.f1, o.s.macro.f1);
  HP_CALL(hp_eval_write_results(ctx, "zeroshot", &em, write_group, &o));
  HP_CALL(hp_eval_write_markdown(ctx, HP_FILE_STAGE_MD("zeroshot"), markdown, &o));
  free(q);
  free(ex);
  free(o.confusion);
  free(o.c);
  free(o.p);
  free(o.r);
  free(o.f1);
  free(o.templates);
  hp_eval_images_free(&im);
  hp_embeddings_close(&em);
  return 0;
}
