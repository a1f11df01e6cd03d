/* cluster.c — the `cluster` stage: k-means over image (or caption) embeddings, K fixed or chosen
 * by the elbow method, cluster quality -> results.h5 /cluster, cluster.md.
 *
 * Rows (cluster.source, cluster.split) are sharded over the ranks in dataset order; the k-means
 * layer (cluster/kmeans.h) gives identical figures for any rank count. With cluster.k = 0 every
 * K of k_min, k_min + k_step, ..., k_max is clustered, the WCSS curve is stored, and K is the
 * elbow: the point of the curve farthest from the chord joining its end points, both axes
 * scaled to [0, 1] (docs/cluster.md). The chosen K is then clustered again (the same seeded run)
 * for the labels, centres and quality figures. The elbow curve is drawn by
 * scripts/plot_cluster.py from results.h5.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/memory.h"
#include "base/log.h"
#include "cluster/analysis.h"
#include "cluster/kmeans.h"
#include "comm/shard.h"
#include "stages/eval_common.h"

typedef struct {
  const char *source, *split, *chosen_by;
  int64_t N, E, k, iters, converged, repaired, nk, sil_n, max_iter;
  uint64_t seed;
  double tol;
  int64_t *ks, *labels, *sizes; /* [nk], [N] (rank 0), [k] */
  double *wcss_curve, *centers; /* [nk], [k,E] */
  hp_km_quality q;
  double seconds;
  /* analytics (cluster.analysis) */
  int analysis, probe_done, gap_done;
  hp_pca pca;
  double *proj; /* [N,3] rank 0 */
  hp_gap gap;
  hp_probe probe;
  double ridge;
} cl_out;

static int write_group(hp_results_w *w, void *arg) {
  cl_out *o = arg;
  HP_CALL(hp_results_attr_str(w, "source", o->source));
  HP_CALL(hp_results_attr_str(w, "split", o->split));
  HP_CALL(hp_results_attr_i64(w, "n_rows", o->N));
  HP_CALL(hp_results_attr_i64(w, "k", o->k));
  HP_CALL(hp_results_attr_str(w, "k_chosen_by", o->chosen_by));
  HP_CALL(hp_results_attr_i64(w, "iterations", o->iters));
  HP_CALL(hp_results_attr_i64(w, "converged", o->converged));
  HP_CALL(hp_results_attr_i64(w, "repaired", o->repaired));
  HP_CALL(hp_results_attr_i64(w, "silhouette_rows", o->sil_n));
  HP_CALL(hp_results_attr_str(w, "quality_columns", "WCSS,BCSS,TSS,Calinski-Harabasz,silhouette"));
  double qv[5] = {o->q.wcss, o->q.bcss, o->q.tss, o->q.ch, o->q.silhouette};
  int64_t d5 = 5, dce[2] = {o->k, o->E};
  HP_CALL(hp_results_f64(w, "quality", 1, &d5, qv));
  HP_CALL(hp_results_i64(w, "sizes", 1, &o->k, o->sizes));
  HP_CALL(hp_results_f64(w, "centers", 2, dce, o->centers));
  HP_CALL(hp_results_i64(w, "labels", 1, &o->N, o->labels));
  if (o->nk > 0) {
    HP_CALL(hp_results_i64(w, "elbow/k", 1, &o->nk, o->ks));
    HP_CALL(hp_results_f64(w, "elbow/wcss", 1, &o->nk, o->wcss_curve));
  }
  if (o->analysis) {
    int64_t d3[2] = {o->N, 3}, dc[2] = {3, o->E}, d3v = 3;
    HP_CALL(hp_results_f64(w, "pca/eigenvalues", 1, &o->E, o->pca.eig));
    HP_CALL(hp_results_f64(w, "pca/components", 2, dc, o->pca.components));
    HP_CALL(hp_results_f64(w, "pca/projection", 2, d3, o->proj));
    if (o->gap_done) {
      double g[5] = {o->gap.gap, o->gap.cosine, o->gap.share, (double)o->gap.n_images, (double)o->gap.n_captions};
      HP_CALL(hp_results_f64(w, "modality_gap", 1, &d5, g));
      HP_CALL(hp_results_attr_str(w, "modality_gap_columns", "gap,centroid_cosine,variance_share,n_images,n_captions"));
    }
    if (o->probe_done) {
      double pr[3] = {o->probe.accuracy, (double)o->probe.n_train, (double)o->probe.n_test};
      HP_CALL(hp_results_f64(w, "probe", 1, &d3v, pr));
      HP_CALL(hp_results_attr_str(w, "probe_columns", "accuracy,n_train,n_test"));
      HP_CALL(hp_results_attr_f64(w, "probe_ridge", o->ridge));
    }
  }
  return 0;
}

static void markdown(FILE *f, void *arg) {
  cl_out *o = arg;
  fprintf(f, "## Clustering (`cluster`)\n\nk-means over %" PRId64 " %s embeddings (split `%s`, dimension %" PRId64
          "); K = %" PRId64 " (%s); %" PRId64 " Lloyd iterations, %s; %" PRId64 " empty clusters re-seeded.\n\n",
          o->N, o->source, o->split, o->E, o->k, o->chosen_by, o->iters, o->converged ? "converged" : "iteration cap reached",
          o->repaired);
  fprintf(f, "| K | WCSS | BCSS | BCSS / TSS | Calinski-Harabasz | silhouette |\n|---:|---:|---:|---:|---:|---:|\n");
  fprintf(f, "| %" PRId64 " | %.6g | %.6g | %.4f | %.6g | %.4f |\n\n", o->k, o->q.wcss, o->q.bcss,
          o->q.tss > 0 ? o->q.bcss / o->q.tss : 0.0, o->q.ch, o->q.silhouette);
  fprintf(f, "Silhouette over %s (%" PRId64 " rows).\n\n", o->sil_n == o->N ? "all rows (exact)" : "a seeded sample",
          o->sil_n);
  if (o->nk > 0) {
    fprintf(f, "Elbow curve (chosen K: the point farthest from the chord):\n\n| K | WCSS |\n|---:|---:|\n");
    for (int64_t i = 0; i < o->nk; i++)
      fprintf(f, "| %" PRId64 "%s | %.6g |\n", o->ks[i], o->ks[i] == o->k ? " (elbow)" : "", o->wcss_curve[i]);
    fprintf(f, "\nThe curve is drawn in `report.html` (the report stage; `scripts/plot_cluster.py RUN_DIR/results.h5` "
               "draws `" HP_FILE_CLUSTER_ELBOW_PNG "` too).\n\n");
  }
  if (o->analysis) {
    double r3 = 0;
    for (int64_t j = 0; j < 3 && j < o->E; j++) r3 += o->pca.total > 0 ? o->pca.eig[j] / o->pca.total : 0;
    fprintf(f, "PCA (ScaLAPACK pdsyevd): the first three components explain %.1f%% of the variance (%.1f%%, %.1f%%, "
            "%.1f%%). The 3-D view, coloured by cluster and rotatable, is in `report.html` (`scripts/plot_cluster.py` draws "
            "`" HP_FILE_CLUSTER_PCA_PNG "` too).\n\n",
            100 * r3, 100 * o->pca.eig[0] / (o->pca.total > 0 ? o->pca.total : 1),
            100 * (o->E > 1 ? o->pca.eig[1] : 0) / (o->pca.total > 0 ? o->pca.total : 1),
            100 * (o->E > 2 ? o->pca.eig[2] : 0) / (o->pca.total > 0 ? o->pca.total : 1));
    if (o->gap_done)
      fprintf(f, "| modality gap | centroid cosine | variance share along the gap | images | captions |\n"
              "|---:|---:|---:|---:|---:|\n| %.4f | %.4f | %.4f | %" PRId64 " | %" PRId64 " |\n\n",
              o->gap.gap, o->gap.cosine, o->gap.share, o->gap.n_images, o->gap.n_captions);
    else
      fprintf(f, "Modality gap: skipped (the split has no captions).\n\n");
    if (o->probe_done)
      fprintf(f, "Linear probe (ridge %g, ScaLAPACK pdposv): top-1 accuracy %.4f on %" PRId64 " test images "
              "(trained on %" PRId64 ").\n\n", o->ridge, o->probe.accuracy, o->probe.n_test, o->probe.n_train);
    else
      fprintf(f, "Linear probe: skipped (no labels in embeddings.h5).\n\n");
  }
  fprintf(f, "Cluster sizes:");
  for (int64_t c = 0; c < o->k; c++) fprintf(f, " %" PRId64, o->sizes[c]);
  fprintf(f, "\n\n");
}

/* This rank's rows: image embeddings of the split (as the evaluation stages), or the captions
 * of those images. Global order = dataset order (rank r's rows precede rank r+1's). */
static int load_rows(hp_stage_ctx *ctx, hp_embeddings *em, const char *source, int split, float **x, int64_t *n) {
  const int64_t E = em->embed_dim;
  if (strcmp(source, "image") == 0) {
    hp_eval_images im;
    HP_CALL(hp_eval_load_images(ctx, em, split, 0, &im));
    *x = im.emb;
    *n = im.n;
    im.emb = NULL;
    hp_eval_images_free(&im);
    return 0;
  }
  const int64_t N = em->n_images, M = em->n_captions;
  uint8_t *sp = NULL;
  int64_t *ci = NULL;
  HP_CALLOC(sp, N > 0 ? N : 1, "image splits");
  HP_CALLOC(ci, M > 0 ? M : 1, "caption images");
  HP_CALL(hp_embeddings_read_split(em, 0, N, sp));
  HP_CALL(hp_embeddings_read_caption_image(em, ci));
  int64_t k0, m;
  hp_shard_range(M, ctx->size, ctx->rank, &k0, &m);
  float *buf = NULL;
  HP_CALLOC(buf, (size_t)(m > 0 ? m : 1) * (size_t)E, "caption embeddings");
  HP_CALL(hp_embeddings_read_captions(em, k0, m, buf));
  int64_t k = 0;
  for (int64_t i = 0; i < m; i++) {
    int64_t img = ci[k0 + i];
    if (split >= 0 && (img < 0 || img >= N || sp[img] != split)) continue;
    if (k != i) memmove(buf + k * E, buf + i * E, (size_t)E * sizeof(float));
    k++;
  }
  free(sp);
  free(ci);
  *x = buf;
  *n = k;
  return 0;
}

/* cluster.* -> o and the elbow range [*kmin, *kmax] step *kstep, the silhouette sample; checks
 * what does not depend on the data (K >= 2, the range not inverted). */
static int read_options(const hp_config *cfg, cl_out *o, int64_t *kmin, int64_t *kmax, int64_t *kstep,
                        int64_t *sample) {
  o->source = hp_cfg_str(cfg, "cluster.source");
  o->split = hp_cfg_str(cfg, "cluster.split");
  o->k = hp_cfg_int(cfg, "cluster.k");
  o->max_iter = hp_cfg_int(cfg, "cluster.max_iter");
  o->tol = hp_cfg_float(cfg, "cluster.tol");
  o->seed = (uint64_t)hp_cfg_int(cfg, "run.seed");
  *kmin = hp_cfg_int(cfg, "cluster.k_min");
  *kmax = hp_cfg_int(cfg, "cluster.k_max");
  *kstep = hp_cfg_int(cfg, "cluster.k_step");
  *sample = hp_cfg_int(cfg, "cluster.silhouette_sample");
  const char *cf = hp_config_path(cfg);
  if (o->k == 1) HP_ERROR(HP_ERR_CONFIG, "%s: cluster.k = 1: at least 2 clusters are needed (0 = choose K by the elbow)", cf);
  if (o->k == 0 && *kmin < 2) HP_ERROR(HP_ERR_CONFIG, "%s: cluster.k_min = %" PRId64 ": the elbow range starts at 2 or more", cf, *kmin);
  if (o->k == 0 && *kmin > *kmax)
    HP_ERROR(HP_ERR_CONFIG, "%s: cluster.k_min = %" PRId64 " > cluster.k_max = %" PRId64 ": the elbow range is inverted", cf,
             *kmin, *kmax);
  o->chosen_by = o->k > 0 ? "cluster.k" : "elbow";
  return 0;
}

/* Collective: peak memory per rank against run.memory_limit — its n rows (held), the exact
 * silhouette's copy of every row (or the sample's), Lloyd's distance tiles and the centres for
 * up to top clusters (base/memory.h). */
static int require_memory(hp_stage_ctx *ctx, const cl_out *o, int64_t n, int64_t top, int64_t sample) {
  const int64_t sil_rows = sample > 0 && sample < o->N ? sample : o->N;
  size_t rows = (size_t)n * (size_t)o->E * sizeof(float), all = (size_t)sil_rows * (size_t)o->E * sizeof(float);
  size_t cent = (size_t)top * (size_t)o->E * sizeof(double) * 4 + (size_t)n * (size_t)top * sizeof(float);
  char detail[256];
  snprintf(detail, sizeof detail, "this rank's %" PRId64 " rows %.1f MiB, %s silhouette rows %.1f MiB, centres and "
           "distances %.1f MiB", n, rows / 1048576.0, sil_rows == o->N ? "exact: all" : "sampled", all / 1048576.0,
           cent / 1048576.0);
  HP_CALL(hp_mem_require(ctx->comm, "cluster", hp_cfg_float(ctx->cfg, "run.memory_limit"), rows + all + cent, rows,
                         detail, "cluster.silhouette_sample (the exact silhouette holds every row on every rank), "
                         "more ranks, cluster.k / cluster.k_max"));
  return 0;
}

/* cluster.k = 0: cluster every K of kmin, kmin + kstep, ..., kmax (the WCSS curve -> o->ks,
 * o->wcss_curve) and set o->k to the elbow of the curve. */
static int elbow_search(const hp_km_data *d, hp_km_opts *opt, cl_out *o, int64_t kmin, int64_t kmax, int64_t kstep) {
  hp_km_result r;
  o->nk = (kmax - kmin) / kstep + 1 + ((kmax - kmin) % kstep != 0);
  HP_CALLOC(o->ks, o->nk, "elbow K values");
  HP_CALLOC(o->wcss_curve, o->nk, "elbow WCSS");
  for (int64_t i = 0; i < o->nk; i++) {
    o->ks[i] = i == o->nk - 1 ? kmax : kmin + i * kstep;
    opt->k = (int)o->ks[i];
    double ts = hp_now();
    HP_CALL(hp_kmeans(d, opt, NULL, &r));
    o->wcss_curve[i] = r.wcss;
    hp_log_info("cluster: K = %" PRId64 ": WCSS %.6g, %d iterations%s (%.2f s)", o->ks[i], r.wcss, r.iters,
                r.converged ? "" : ", not converged", hp_now() - ts);
    hp_km_result_free(&r);
  }
  o->k = o->ks[hp_km_elbow(o->ks, o->wcss_curve, (int)o->nk)];
  hp_log_info("cluster: elbow at K = %" PRId64, o->k);
  return 0;
}

/* cluster.analysis, collective: PCA of this rank's n rows x (3-D projection gathered on rank 0
 * with the label counts rc / displacements rd, scaled here by 3), the modality gap against the
 * other modality of the split, and the linear probe when embeddings.h5 has labels. */
static int run_analysis(hp_stage_ctx *ctx, hp_embeddings *em, cl_out *o, const float *x, int64_t n, int *rc, int *rd,
                        int solver_ranks) {
  double ta = hp_now();
  HP_CALL(hp_pca_run(ctx->comm, x, n, o->E, solver_ranks, &o->pca));
  for (int p = 0; p < ctx->size; p++) {
    rc[p] *= 3;
    rd[p] *= 3;
  }
  if (ctx->rank == 0) HP_CALLOC(o->proj, (size_t)o->N * 3, "projection");
  HP_MPI(MPI_Gatherv(o->pca.proj, (int)(3 * n), MPI_DOUBLE, o->proj, rc, rd, MPI_DOUBLE, 0, ctx->comm));
  /* the other modality of the same split */
  float *y = NULL;
  int64_t ny = 0;
  int ssplit = hp_eval_split_code(o->split);
  HP_CALL(load_rows(ctx, em, strcmp(o->source, "image") == 0 ? "caption" : "image", ssplit, &y, &ny));
  int64_t nx_all = n, ny_all = ny; /* a folder of uncaptioned images: no caption side, no gap */
  HP_MPI(MPI_Allreduce(&n, &nx_all, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  HP_MPI(MPI_Allreduce(&ny, &ny_all, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  o->gap_done = nx_all > 0 && ny_all > 0;
  if (o->gap_done && strcmp(o->source, "image") == 0)
    HP_CALL(hp_gap_run(ctx->comm, x, n, y, ny, o->E, &o->gap));
  else if (o->gap_done)
    HP_CALL(hp_gap_run(ctx->comm, y, ny, x, n, o->E, &o->gap));
  free(y);
  if (em->n_labels > 0) {
    hp_eval_images tr, te;
    HP_CALL(hp_eval_load_images(ctx, em, 0, 1, &tr));
    HP_CALL(hp_eval_load_images(ctx, em, 2, 1, &te));
    HP_CALL(hp_probe_run(ctx->comm, tr.emb, tr.labels, tr.n, te.emb, te.labels, te.n, o->E, em->n_labels, o->ridge,
                         solver_ranks, &o->probe));
    o->probe_done = 1;
    hp_eval_images_free(&tr);
    hp_eval_images_free(&te);
  }
  hp_log_info("cluster: PCA top-3 variance %.3f, modality gap %.4f (variance share %.4f), probe accuracy %s%.4f "
              "(%.2f s)", (o->pca.eig[0] + (o->E > 1 ? o->pca.eig[1] : 0) + (o->E > 2 ? o->pca.eig[2] : 0)) /
              (o->pca.total > 0 ? o->pca.total : 1), o->gap.gap, o->gap.share, o->probe_done ? "" : "(none) ",
              o->probe.accuracy, hp_now() - ta);
  return 0;
}

int hp_stage_cluster(hp_stage_ctx *ctx) {
  const hp_config *cfg = ctx->cfg;
  cl_out o;
  memset(&o, 0, sizeof o);
  int64_t kmin, kmax, kstep, sample;
  HP_CALL(read_options(cfg, &o, &kmin, &kmax, &kstep, &sample));
  const char *cf = hp_config_path(cfg);

  char epath[4096];
  HP_CALL(hp_run_path(ctx, HP_FILE_EMBEDDINGS, epath, sizeof epath));
  hp_embeddings em;
  HP_CALL(hp_embeddings_open(ctx->comm, epath, &em));
  double t0 = hp_now();
  float *x = NULL;
  int64_t n = 0;
  HP_CALL(load_rows(ctx, &em, o.source, hp_eval_split_code(o.split), &x, &n));
  hp_km_data d;
  HP_CALL(hp_km_data_init(ctx->comm, x, n, em.embed_dim, &d));
  o.N = d.N;
  o.E = d.E;
  if (o.N < 2) HP_ERROR(HP_ERR_INPUT, "%s: %" PRId64 " %s rows in split '%s' (cluster.split): k-means needs at least 2", epath, o.N, o.source, o.split);
  const int64_t top = o.k > 0 ? o.k : kmax;
  if (top > o.N)
    HP_ERROR(HP_ERR_CONFIG, "%s: %s = %" PRId64 " exceeds the %" PRId64 " %s rows of split '%s' in %s", cf,
             o.k > 0 ? "cluster.k" : "cluster.k_max", top, o.N, o.source, o.split, epath);
  HP_CALL(require_memory(ctx, &o, n, top, sample));
  hp_km_opts opt = {.k = 0, .max_iter = (int)o.max_iter, .tol = o.tol, .seed = o.seed};
  hp_km_result r;
  if (o.k == 0) HP_CALL(elbow_search(&d, &opt, &o, kmin, kmax, kstep));
  opt.k = (int)o.k;
  double tk = hp_now();
  HP_CALL(hp_kmeans(&d, &opt, NULL, &r));
  /* rows x iterations: the distance work of Lloyd's loop (each costs K x dim multiply-adds) */
  hp_stage_rate(ctx, "row-iterations (k-means)", (double)o.N * r.iters, hp_now() - tk);
  o.iters = r.iters;
  o.converged = r.converged;
  o.repaired = r.repaired;
  o.centers = r.centers;
  o.sizes = r.counts;
  HP_CALL(hp_km_sums_of_squares(&d, (int)o.k, r.label, &o.q));
  HP_CALL(hp_km_silhouette(&d, (int)o.k, r.label, sample, o.seed, &o.q.silhouette, &o.sil_n));
  /* labels in global row order on rank 0 */
  int *rc = NULL, *rd = NULL;
  HP_CALLOC(rc, ctx->size, "label counts");
  HP_CALLOC(rd, ctx->size, "label displacements");
  for (int p = 0; p < ctx->size; p++) {
    rc[p] = (int)(d.offs[p + 1] - d.offs[p]);
    rd[p] = (int)d.offs[p];
  }
  if (ctx->rank == 0) HP_CALLOC(o.labels, o.N, "labels");
  HP_MPI(MPI_Gatherv(r.label, (int)n, MPI_INT64_T, o.labels, rc, rd, MPI_INT64_T, 0, ctx->comm));
  o.analysis = hp_cfg_bool(cfg, "cluster.analysis");
  o.ridge = hp_cfg_float(cfg, "cluster.probe_ridge");
  const int solver_ranks = (int)hp_cfg_int(cfg, "cluster.solver_ranks");
  if (o.analysis) HP_CALL(run_analysis(ctx, &em, &o, x, n, rc, rd, solver_ranks));
  o.seconds = hp_now() - t0;
  hp_log_info("cluster: %" PRId64 " %s rows, K = %" PRId64 " (%s): WCSS %.6g, BCSS %.6g, silhouette %.4f over %" PRId64
              " rows, %" PRId64 " iterations, %.2f s", o.N, o.source, o.k, o.chosen_by, o.q.wcss, o.q.bcss,
              o.q.silhouette, o.sil_n, o.iters, o.seconds);
  HP_CALL(hp_eval_write_results(ctx, "cluster", &em, write_group, &o));
  HP_CALL(hp_eval_write_markdown(ctx, HP_FILE_STAGE_MD("cluster"), markdown, &o));
  free(rc);
  free(rd);
  free(o.labels);
  free(o.proj);
  hp_pca_free(&o.pca);
  free(o.ks);
  free(o.wcss_curve);
  hp_km_result_free(&r);
  hp_km_data_free(&d);
  free(x);
  hp_embeddings_close(&em);
  return 0;
}
