/* embed.c — the `embed` stage: every image and every caption of dataset.h5 through ckpt.h5's
 * encoders (eval mode) -> embeddings.h5 (schema hpclip.embeddings, hdf5-schemas/embeddings.md).
 *
 * Work distribution: images are cut into global batches of embed.batch rows (batch b = rows
 * [b*B, (b+1)*B)); each rank takes a contiguous range of whole batches (hp_shard_batches), so
 * every row goes through the encoders in the same batch, at the same position, for any rank
 * count. Every encoder computes each row independently of the others in eval mode
 * (LayerNorm per token, attention within a sequence, ResNet batch norm with its running
 * statistics), so the embeddings would be the same mathematically anyway; fixing the batch
 * composition makes them the same BITWISE, because the matrix products then see the same
 * shapes (BLAS may pick different kernels, hence roundings, for different row counts). The
 * remaining condition is the same OpenMP/BLAS thread count per rank. Captions likewise.
 * The shards are contiguous row ranges, written collectively with one hyperslab per rank.
 *
 * After an append (ingest.append) only the new rows are computed: the previous embeddings.h5
 * keeps its rows when it came from the same checkpoint and embed.* keys for an earlier version of
 * the dataset (find_reuse); the computed batches are spread evenly over the ranks and moved to
 * the rank that writes them (comm/move_rows.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "comm/move_rows.h"
#include "comm/shard.h"
#include "io/check.h"
#include "io/dataset.h"
#include "io/embeddings.h"
#include "io/h5.h"
#include "io/strtab.h"
#include "stages/clip_eval.h"
#include "stages/stage.h"

#define HP_EMBED_READ_BYTES ((int64_t)8 << 20)

static int embed_images(hp_stage_ctx *ctx, hp_dataset *ds, hp_clip_eval *ev, int64_t r0, int64_t rn,
                        int64_t rounds, int64_t total, float *out, double *secs) {
  hp_dataset_dims d = hp_dataset_get_dims(ds);
  const int64_t B = ev->batch, E = ev->m.cfg.embed_dim, row = d.height * d.width * 3;
  /* G batches per collective read (about HP_EMBED_READ_BYTES): a collective MPI-IO call costs
   * about a millisecond, so one per batch of 32-64 small images would bound the read rate */
  int64_t G = HP_EMBED_READ_BYTES / (B * row);
  if (G < 1) G = 1;
  uint8_t *img = NULL;
  HP_CALLOC(img, (size_t)(G * B) * (size_t)row, "image read block");
  hp_progress pr;
  double t0 = hp_now();
  hp_progress_start(&pr, "embed: images", "images", total);
  for (int64_t r = 0; r < rounds; r += G) { /* the same number of reads on every rank */
    int64_t a = r * B, len = rn - a < G * B ? rn - a : G * B;
    if (len < 0) len = 0;
    HP_CALL(hp_dataset_read_images(ds, len ? r0 + a : 0, len, img));
    for (int64_t k = 0; k < len; k += B) /* batches of B rows, as without the block: same results */
      HP_CALL(hp_clip_eval_images(ev, img + k * row, len - k < B ? len - k : B, out + (a + k) * E));
    int64_t done = (a + len) * ctx->size;
    hp_progress_update(&pr, done < total ? done : total);
  }
  HP_MPI(MPI_Barrier(ctx->comm));
  hp_progress_end(&pr, total);
  *secs = hp_now() - t0;
  free(img);
  return 0;
}

static int embed_captions(hp_stage_ctx *ctx, hp_dataset *ds, hp_clip_eval *ev, int64_t M, int64_t c0, int64_t cn,
                          int64_t rounds, float *out, double *secs) {
  const int64_t B = ev->batch, E = ev->m.cfg.embed_dim;
  hp_progress pr;
  double t0 = hp_now();
  hp_progress_start(&pr, "embed: captions", "captions", M);
  for (int64_t r = 0; r < rounds; r++) {
    int64_t a = r * B, len = cn - a < B ? cn - a : B;
    if (len < 0) len = 0;
    char **text = NULL;
    HP_CALL(hp_dataset_read_strings(ds, "captions/text", len ? c0 + a : 0, len, &text));
    int err = hp_clip_eval_texts(ev, (const char *const *)text, len, out + a * E);
    hp_strings_free(text, len);
    if (err) return hp_error_trace(err, __FILE__, __LINE__, __func__);
    int64_t done = (a + len) * ctx->size;
    hp_progress_update(&pr, done < M ? done : M);
  }
  HP_MPI(MPI_Barrier(ctx->comm));
  hp_progress_end(&pr, M);
  *secs = hp_now() - t0;
  return 0;
}

/* A previous embeddings.h5 whose leading rows stay: made by the same checkpoint and embed.* keys
 * for an earlier version of this dataset (its history: the dataset was appended to since, and the
 * rows of that version are unchanged). Only whole embed.batch batches are kept, so every row this
 * run computes goes through the encoders in the batch an embedding from scratch would give it:
 * the result is bitwise the same as embedding everything. */
typedef struct {
  int have;
  hp_embeddings old;
  int64_t images, captions; /* rows kept, multiples of the batch */
} embed_reuse;

/* the counts of version `fp` in a dataset's history ("FINGERPRINT N M" lines); 0 when absent */
static int history_counts(const char *history, const char *fp, int64_t *n, int64_t *m) {
  const char *line = history;
  while (line && *line) {
    char f[64];
    long long a, b;
    if (sscanf(line, "%63s %lld %lld", f, &a, &b) == 3 && strcmp(f, fp) == 0) {
      *n = a, *m = b;
      return 1;
    }
    line = strchr(line, '\n');
    if (line) line++;
  }
  return 0;
}

static int find_reuse(hp_stage_ctx *ctx, hp_dataset *ds, const char *opath, const hp_clip_eval *ev, const char *key,
                      int64_t B, embed_reuse *r) {
  memset(r, 0, sizeof *r);
  int missing = access(opath, R_OK) != 0, any = 0;
  HP_MPI(MPI_Allreduce(&missing, &any, 1, MPI_INT, MPI_MAX, ctx->comm));
  char *history = NULL, dfp[64] = "", okey[64] = "";
  if (!any) HP_CALL(hp_dataset_attr(ds, "history", &history)); /* none: never appended to */
  if (!history) return 0;
  int64_t n = 0, m = 0;
  int known = hp_h5_root_attr(ctx->comm, opath, "dataset_fingerprint", dfp, sizeof dfp) == 0 &&
              hp_h5_root_attr(ctx->comm, opath, "embed_key", okey, sizeof okey) == 0 &&
              history_counts(history, dfp, &n, &m);
  hp_error_clear();
  free(history);
  if (!known || strcmp(okey, key) != 0) return 0;
  if (hp_embeddings_open(ctx->comm, opath, &r->old) != 0) {
    hp_log_warn("embed: the previous %s is not usable (%s): embedding every row", opath, hp_error_message());
    hp_error_clear();
    return 0;
  }
  if (strcmp(r->old.model_fingerprint, ev->fingerprint) != 0 || r->old.n_images != n || r->old.n_captions != m ||
      r->old.embed_dim != ev->m.cfg.embed_dim) {
    hp_log_info("embed: the previous %s is of another checkpoint (%s, now %s): embedding every row", opath,
                r->old.model_fingerprint, ev->fingerprint);
    hp_embeddings_close(&r->old);
    return 0;
  }
  r->have = 1;
  r->images = n / B * B;
  r->captions = m / B * B;
  hp_log_info("embed: keeping the embeddings of images [0, %" PRId64 ") and captions [0, %" PRId64 ") from %s (the "
              "same checkpoint and embed.* keys; the dataset grew from %" PRId64 " images by ingest.append since)",
              r->images, r->captions, opath, n);
  return 0;
}

/* Rows [o0, o0 + on) of this rank's output: those below `kept` from the previous file, the rest
 * from the rows computed on the ranks ([q0, q0 + qn) here, in q). */
static int assemble(hp_stage_ctx *ctx, embed_reuse *r, int images, int64_t kept, int64_t o0, int64_t on, int64_t q0,
                    int64_t qn, const float *q, int64_t E, float *out) {
  int64_t k = kept - o0 < on ? kept - o0 : on;
  if (k < 0) k = 0;
  HP_CALL(images ? hp_embeddings_read_images(&r->old, k ? o0 : 0, k, out)
                 : hp_embeddings_read_captions(&r->old, k ? o0 : 0, k, out));
  HP_CALL(hp_move_rows(ctx->comm, q0, qn, q, o0, on, out, (size_t)E * sizeof(float)));
  return 0;
}

/* This rank's image and caption embeddings (rows [r0, +rn), captions [c0, +cn) of the output):
 * the kept rows read, the others computed in balanced whole batches and moved to their owners. */
static int embed_rows(hp_stage_ctx *ctx, hp_dataset *ds, hp_clip_eval *ev, embed_reuse *ru, int64_t r0, int64_t rn,
                      int64_t c0, int64_t cn, float *iemb, float *cemb) {
  hp_dataset_dims d = hp_dataset_get_dims(ds);
  const int64_t B = ev->batch, E = ev->m.cfg.embed_dim, N = d.n_images, M = d.n_captions;
  const int64_t RI = ru->have ? ru->images : 0, RC = ru->have ? ru->captions : 0;
  int64_t q0, qn, qr, k0, kn, kr;
  hp_shard_batches(N - RI, B, ctx->size, ctx->rank, &q0, &qn, &qr);
  hp_shard_batches(M - RC, B, ctx->size, ctx->rank, &k0, &kn, &kr);
  q0 += RI, k0 += RC; /* RI and RC are whole batches: the batches are those of an embedding from scratch */
  float *qi = iemb, *qc = cemb;
  if (ru->have) {
    HP_CALLOC(qi, (size_t)(qn > 0 ? qn : 1) * (size_t)E, "computed image embeddings");
    HP_CALLOC(qc, (size_t)(kn > 0 ? kn : 1) * (size_t)E, "computed caption embeddings");
  }
  double ti = 0.0, tc = 0.0;
  HP_CALL(embed_images(ctx, ds, ev, q0, qn, qr, N - RI, qi, &ti));
  HP_CALL(embed_captions(ctx, ds, ev, M - RC, k0, kn, kr, qc, &tc));
  hp_stage_rate(ctx, "images", (double)(N - RI), ti);
  hp_stage_rate(ctx, "captions", (double)(M - RC), tc);
  hp_log_info("embed: %" PRId64 " images in %.2f s (%.1f images/s), %" PRId64 " captions in %.2f s (%.1f captions/s)%s",
              N - RI, ti, ti > 0 ? (double)(N - RI) / ti : 0.0, M - RC, tc, tc > 0 ? (double)(M - RC) / tc : 0.0,
              ru->have ? "; the others kept" : "");
  if (ru->have) {
    HP_CALL(assemble(ctx, ru, 1, RI, r0, rn, q0, qn, qi, E, iemb));
    HP_CALL(assemble(ctx, ru, 0, RC, c0, cn, k0, kn, qc, E, cemb));
    free(qi);
    free(qc);
  }
  return 0;
}

int hp_stage_embed(hp_stage_ctx *ctx) {
  char dpath[4096], cpath[4096], opath[4096], dfp[64], key[32];
  HP_CALL(hp_run_path(ctx, HP_FILE_DATASET, dpath, sizeof dpath));
  HP_CALL(hp_run_path(ctx, HP_FILE_CKPT, cpath, sizeof cpath));
  HP_CALL(hp_run_path(ctx, HP_FILE_EMBEDDINGS, opath, sizeof opath));
  HP_CALL(hp_h5_root_attr(ctx->comm, dpath, "fingerprint", dfp, sizeof dfp));
  static const char *const embed_keys[] = {"embed.", NULL};
  snprintf(key, sizeof key, "%016" PRIx64, hp_config_fingerprint(ctx->cfg, embed_keys));
  hp_dataset *ds = NULL;
  HP_CALL(hp_dataset_open(ctx->comm, dpath, &ds));
  hp_dataset_dims d = hp_dataset_get_dims(ds);
  if (d.height != d.width)
    HP_ERROR(HP_ERR_INPUT, "%s: /images: %" PRId64 "x%" PRId64 " images; the encoders take square images", dpath,
             d.height, d.width);
  const int64_t B = hp_cfg_int(ctx->cfg, "embed.batch");
  hp_clip_eval ev;
  HP_CALL(hp_clip_eval_load(ctx->comm, ctx->cfg, cpath, d.height, (int)B, &ev));
  const int64_t E = ev.m.cfg.embed_dim, N = d.n_images, M = d.n_captions, L = d.n_labels;
  hp_log_info("embed: model %s (checkpoint fingerprint %s); %" PRId64 " images, %" PRId64
              " captions, batches of %" PRId64 " on %d rank%s", ev.m.desc, ev.fingerprint, N, M, B, ctx->size,
              ctx->size > 1 ? "s" : "");
  embed_reuse ru;
  HP_CALL(find_reuse(ctx, ds, opath, &ev, key, B, &ru));

  int64_t r0, rn, ir, c0, cn, cr;
  hp_shard_batches(N, B, ctx->size, ctx->rank, &r0, &rn, &ir);
  hp_shard_batches(M, B, ctx->size, ctx->rank, &c0, &cn, &cr);
  float *iemb = NULL, *cemb = NULL;
  uint8_t *split = NULL, *labels = NULL;
  int64_t *capimg = NULL;
  HP_CALLOC(iemb, (size_t)(rn > 0 ? rn : 1) * (size_t)E, "image embeddings");
  HP_CALLOC(cemb, (size_t)(cn > 0 ? cn : 1) * (size_t)E, "caption embeddings");
  HP_CALLOC(split, rn > 0 ? rn : 1, "split");
  HP_CALLOC(capimg, M > 0 ? M : 1, "caption images");
  if (L > 0) HP_CALLOC(labels, (size_t)(rn > 0 ? rn : 1) * (size_t)L, "label rows");
  HP_CALL(embed_rows(ctx, ds, &ev, &ru, r0, rn, c0, cn, iemb, cemb));
  if (ru.have) hp_embeddings_close(&ru.old); /* before the write: the new file replaces it */
  HP_CALL(hp_dataset_read_split(ds, r0, rn, split));
  HP_CALL(hp_dataset_read_caption_image(ds, capimg));
  char **names = NULL;
  if (L > 0) {
    HP_CALL(hp_dataset_read_labels(ds, r0, rn, labels));
    HP_CALL(hp_dataset_read_strings(ds, "labels/names", 0, L, &names));
  }
  hp_dataset_close(ds);

  char *config_text = NULL;
  HP_CALL(hp_config_dump(ctx->cfg, &config_text));
  hp_embeddings_meta meta = {.n_images = N, .n_captions = M, .embed_dim = E, .n_labels = L,
                             .label_names = (const char *const *)names, .image_size = d.height,
                             .config_text = config_text, .fingerprint = ctx->fingerprint, .model = ev.m.desc,
                             .model_fingerprint = ev.fingerprint, .dataset_fingerprint = dfp, .embed_key = key};
  hp_embeddings_shard sh = {.row0 = r0, .n = rn, .image_embedding = iemb, .split = split, .labels = labels,
                            .cap0 = c0, .n_captions = cn, .caption_embedding = cemb, .caption_image = capimg + c0};
  double tw = hp_now();
  HP_CALL(hp_embeddings_write(ctx->comm, opath, &meta, &sh));
  hp_log_info("embed: wrote %s (%.1f MiB of embeddings) in %.2f s", opath,
              (double)(N + M) * (double)E * 4.0 / 1048576.0, hp_now() - tw);
  if (names) hp_strings_free(names, L);
  free(config_text);
  free(iemb);
  free(cemb);
  free(split);
  free(capimg);
  free(labels);
  hp_clip_eval_free(&ev);
  return 0;
}
