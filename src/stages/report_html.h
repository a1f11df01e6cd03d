/* report_html.h — report.html: the run as one self-contained web page, drawn by hpclip (inline
 * SVG plots, the dataset's images embedded as PNG, a few lines of inline JavaScript for sortable
 * tables and the rotating PCA view; no network, no other file). Written by the report stage
 * beside summary.md, from whatever the run directory holds: a section whose files are absent is
 * left out, never drawn broken.
 *
 * Sections: the run (files and fingerprints, per-stage time, peak memory per rank and I/O from
 * stage_resources.tsv), the dataset, training (per-epoch losses with the best epoch marked, the
 * test-split retrieval), retrieval (Table 1, CLIP recall, AP@10 per class, the best and worst
 * classes' top-5 images with rank, score and relevance, each search.queries query's top 5),
 * zero-shot (Table 2, per-class F1), clustering (elbow with the chosen K, sizes, the 3-D PCA view,
 * modality gap, probe), captioning (scores, examples with their images), the configuration.
 *
 * When the page has loaded, its script checks itself: every <img> decoded (naturalWidth > 0) and
 * every <svg> holding drawn elements; the verdict is the <body> attribute data-check ("ok" or what
 * failed), which the browser test reads (tests/eval/cli_report_html.sh). */
#ifndef HP_STAGES_REPORT_HTML_H
#define HP_STAGES_REPORT_HTML_H

#include "stages/stage.h"

/* Rank 0 alone: RUN_DIR/report.html, atomically (report.html.tmp renamed). results_path is the
 * run's results.h5 (validated by the caller). */
int hp_report_html(hp_stage_ctx *ctx, const char *results_path);

#endif
