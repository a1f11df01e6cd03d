/* runner.c — the stage table, fingerprints and the skip-if-complete rule (see stage.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/preempt.h"
#include "base/resources.h"
#include "base/watchdog.h"
#include "comm/peer_probe.h"
#include "base/log.h"
#include "base/test_hooks.h"
#include "io/check.h"
#include "rundir/lock.h"
#include "stages/stage.h"

/* Pipeline order. Stages whose `run` is NULL are planned but not implemented yet: asking for
 * them is an error, never a silent no-op. An input named "?FILE" is optional: read (and its
 * fingerprint folded in) when it exists, "FILE absent" folded in when it does not. */
const hp_stage hp_stages[] = {
    /* synth: the synth.* keys of dataset.h5, not synth.coco_* (`hpclip synth-coco`'s folder) */
    {"synth", HP_FILE_DATASET, {NULL},
     {"run.seed", "data.", "synth.num_images", "synth.captions_per_image", "synth.max_shapes", "synth.noise", NULL},
     hp_stage_synth,
     "generate the synthetic image-caption dataset"},
    {"ingest", HP_FILE_DATASET, {NULL}, {"run.seed", "data.", "ingest.", NULL}, hp_stage_ingest,
     "convert COCO / ROCO / Fashion Product into the dataset schema"},
    /* "^": the data a model was trained on is the dataset's first version (base_fingerprint): an
     * append (ingest.append) re-embeds and re-searches, it does not retrain by itself */
    {"train", HP_FILE_CKPT, {"^" HP_FILE_DATASET, NULL}, {"run.seed", "model.", "train.", NULL}, hp_stage_train,
     "data-parallel contrastive training"},
    {"embed", HP_FILE_EMBEDDINGS, {HP_FILE_DATASET, HP_FILE_CKPT, NULL}, {"embed.", NULL}, hp_stage_embed,
     "embed every image and caption"},
    {"search", HP_FILE_RESULTS, {HP_FILE_EMBEDDINGS, HP_FILE_CKPT, HP_FILE_DATASET, NULL}, {"search.", NULL}, hp_stage_search,
     "sharded nearest-neighbour search and retrieval metrics"},
    {"zeroshot", HP_FILE_RESULTS, {HP_FILE_EMBEDDINGS, HP_FILE_CKPT, NULL}, {"zeroshot.", NULL}, hp_stage_zeroshot,
     "zero-shot classification"},
    {"cluster", HP_FILE_RESULTS, {HP_FILE_EMBEDDINGS, NULL}, {"run.seed", "cluster.", NULL}, hp_stage_cluster,
     "parallel k-means, elbow, cluster quality"},
    {"caption-train", HP_FILE_CAPTION_CKPT, {HP_FILE_EMBEDDINGS, HP_FILE_DATASET, NULL},
     {"run.seed", "caption.width", "caption.ffn", "caption.heads", "caption.layers", "caption.dropout",
      "caption.block_dropout", "caption.train_", NULL},
     hp_stage_caption_train, "train the caption decoder on frozen caption embeddings (caption_ckpt.h5)"},
    {"caption", HP_FILE_RESULTS, {HP_FILE_EMBEDDINGS, HP_FILE_CAPTION_CKPT, HP_FILE_DATASET, NULL},
     {"caption.beam", "caption.length_penalty", "caption.renorm", "caption.split", "caption.examples", NULL},
     hp_stage_caption, "captioning of the images from their embeddings, direct and through the support memory"},
    {"report", HP_FILE_SUMMARY, {HP_FILE_RESULTS, "?" HP_FILE_CKPT, "?" HP_FILE_DATASET, NULL}, {"run.name", "report.", NULL},
     hp_stage_report, "Markdown summary of the run directory (summary.md)"},
};
const int hp_nstages = (int)(sizeof hp_stages / sizeof hp_stages[0]);

const hp_stage *hp_stage_find(const char *name) {
  for (int i = 0; i < hp_nstages; i++)
    if (strcmp(hp_stages[i].name, name) == 0) return &hp_stages[i];
  return NULL;
}

/* mkdir -p on rank 0, which reports for everybody; then every rank checks that it sees the
 * directory too (a run directory must be on a file system all nodes share). */
static int make_run_dir(MPI_Comm comm, const char *dir) {
  int rank, err = 0;
  char why[4608] = "";
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) {
    char path[4096];
    struct stat sb;
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
      err = HP_ERR_USAGE;
      snprintf(why, sizeof why, "path too long");
    }
    for (char *p = path + 1; !err && *p; p++) {
      if (*p != '/') continue;
      *p = 0;
      if (mkdir(path, 0775) && errno != EEXIST) {
        err = HP_ERR_IO;
        snprintf(why, sizeof why, "cannot create %s: %s", path, strerror(errno));
      }
      *p = '/';
    }
    if (!err && mkdir(path, 0775) && errno != EEXIST) {
      err = HP_ERR_IO;
      snprintf(why, sizeof why, "cannot create it: %s", strerror(errno));
    }
    if (!err && (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))) {
      err = HP_ERR_IO;
      snprintf(why, sizeof why, "exists but is not a directory");
    }
    if (!err && access(path, W_OK | X_OK) != 0) {
      err = HP_ERR_IO;
      snprintf(why, sizeof why, "not writable: %s", strerror(errno));
    }
  }
  if (err) err = HP_ERROR_SET(err, "run directory %s: %s", dir, why); /* rank 0 only */
  HP_CALL(hp_agree_root(comm, err));
  struct stat sb;
  int ok = stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) && access(dir, W_OK | X_OK) == 0;
  if (!ok)
    HP_ERROR_SET(HP_ERR_IO,
                 "run directory %s: rank 0 created it but rank %d cannot use it (not on a shared file system?)", dir, rank);
  HP_CALL(hp_agree(comm, ok ? 0 : HP_ERR_IO));
  return 0;
}

static int stage_fingerprint(MPI_Comm comm, hp_config *cfg, const char *run_dir,
                             const hp_stage *st, char *hex, size_t n) {
  uint64_t fp = hp_config_fingerprint(cfg, st->config_prefixes);
  fp ^= 0x9e3779b97f4a7c15ULL * (uint64_t)(st - hp_stages + 1);
  for (int i = 0; st->inputs[i]; i++) {
    char path[4096], attr[64];
    const char *name = st->inputs[i];
    int optional = name[0] == '?', base = name[0] == '^';
    if (optional || base) name++;
    HP_CALL(hp_run_file(cfg, run_dir, name, path, sizeof path)); /* run.dataset, run.checkpoint */
    /* every rank looks; the verdict is agreed, so a missing input ends the job cleanly */
    int missing = access(path, R_OK) != 0, any = 0;
    HP_MPI(MPI_Allreduce(&missing, &any, 1, MPI_INT, MPI_MAX, comm));
    if (any && optional) {
      for (const char *c = name; *c; c++) fp = (fp ^ (uint8_t)*c) * 0x100000001b3ULL;
      fp = (fp ^ '-') * 0x100000001b3ULL;
      continue;
    }
    if (any) {
      int e = 0;
      if (missing)
        e = HP_ERROR_SET(HP_ERR_INPUT,
                         "stage %s needs %s, which does not exist (run the stage that makes it first)", st->name,
                         path);
      HP_CALL(hp_agree(comm, e));
    }
    if (!base || hp_h5_root_attr(comm, path, "base_fingerprint", attr, sizeof attr) != 0) {
      hp_error_clear(); /* the same answer on every rank: rank 0 reads, broadcasts */
      HP_CALL(hp_h5_root_attr(comm, path, "fingerprint", attr, sizeof attr));
    }
    /* FNV-1a of the input's fingerprint folded in: any change upstream invalidates us. */
    for (const char *c = attr; *c; c++) fp = (fp ^ (uint8_t)*c) * 0x100000001b3ULL;
  }
  snprintf(hex, n, "%016" PRIx64, fp);
  return 0;
}

/* 1 if dataset.h5 `path` was grown by appends (ingest.append) from what configuration fingerprint
 * fp makes, or by the append fp describes: its base_fingerprint or one line of its appends. Then
 * the ingest that would make or append it again is done already. */
static int made_by_lineage(MPI_Comm comm, const char *path, const char *fp) {
  char base[64] = "", *appends = NULL;
  size_t n = (size_t)1 << 16;
  int made = hp_h5_root_attr(comm, path, "base_fingerprint", base, sizeof base) == 0 && strcmp(base, fp) == 0;
  hp_error_clear();
  if (!made && (appends = calloc(n, 1)) && hp_h5_root_attr(comm, path, "appends", appends, n) == 0)
    for (char *line = strtok(appends, "\n"); line && !made; line = strtok(NULL, "\n")) made = strcmp(line, fp) == 0;
  hp_error_clear();
  free(appends);
  if (made) hp_log_info("%s holds the data of this configuration, grown by appends since (ingest.append)", path);
  return made;
}

/* 1 if `path` exists, validates, and carries fingerprint `fp` — on the root, or for results.h5
 * (shared by several stages, one group each) on the stage's group /STAGE. */
static int output_is_current(MPI_Comm comm, const char *path, const char *fp, const hp_stage *st) {
  int exists = access(path, F_OK) == 0, rank;
  MPI_Comm_rank(comm, &rank);
  MPI_Bcast(&exists, 1, MPI_INT, 0, comm);
  if (!exists) return 0;
  char have[64] = "";
  char obj[80] = "/";
  size_t ol = strlen(st->output);
  if (ol < 3 || strcmp(st->output + ol - 3, ".h5") != 0) {
    /* a Markdown output (summary.md): its first line is the stamp hp_md_stamp_read reads;
     * written atomically, so a file carrying the stamp is complete */
    int cur = 0;
    if (rank == 0) cur = hp_md_stamp_read(path, st->name, have, sizeof have) == 1 && strcmp(have, fp) == 0;
    MPI_Bcast(&cur, 1, MPI_INT, 0, comm);
    return cur;
  }
  if (strcmp(st->output, HP_FILE_RESULTS) == 0) snprintf(obj, sizeof obj, "/%s", st->name);
  if (hp_h5_obj_attr(comm, path, obj, "fingerprint", have, sizeof have) != 0) {
    hp_error_clear();
    return 0;
  }
  /* only dataset.h5 grows by appends: no other output carries lineage attributes to read */
  if (strcmp(have, fp) != 0 && (strcmp(st->output, HP_FILE_DATASET) != 0 || !made_by_lineage(comm, path, fp))) return 0;
  if (hp_check_file(comm, path) != 0) {
    hp_log_info("%s exists but is not valid (%s): rerunning", path, hp_error_message());
    hp_error_clear();
    return 0;
  }
  return 1;
}

/* HPCLIP_TEST_STALL=RANK:STAGE (tests only, unset = off): that rank stops making progress at
 * the start of that stage, as if stuck in I/O, so the watchdog can be tested. */
static void test_stall(const hp_stage_ctx *ctx, const hp_stage *st) {
  int64_t r = -1;
  char name[64] = "";
  if (!hp_test_hook_pair("STALL", &r, name, sizeof name) || r != ctx->rank || strcmp(name, st->name) != 0) return;
  hp_log_warn("HPCLIP_TEST_STALL: rank %d stalls at the start of stage %s (test hook)", (int)r, st->name);
  hp_watch_doing("stalled on purpose (HPCLIP_TEST_STALL)");
  for (;;) pause();
}

/* HPCLIP_TEST_FAIL=RANK:STAGE (tests only): that rank fails alone at the start of that stage
 * while the others wait in its first collective, as a rank-local error (a bad file, a failed
 * allocation) would. */
static int test_fail(const hp_stage_ctx *ctx, const hp_stage *st) {
  int64_t r = -1;
  char name[64] = "";
  if (!hp_test_hook_pair("FAIL", &r, name, sizeof name) || r != ctx->rank || strcmp(name, st->name) != 0) return 0;
  HP_ERROR(HP_ERR_INTERNAL, "HPCLIP_TEST_FAIL: rank %d fails alone at the start of stage %s (test hook)", (int)r,
           st->name);
}

/* "1.23 GB" / "456 MB" / "7.8 kB" */
static void fmt_bytes(double b, char *buf, size_t n) {
  if (b < 0) snprintf(buf, n, "?");
  else if (b >= 1e9) snprintf(buf, n, "%.2f GB", b / 1e9);
  else if (b >= 1e6) snprintf(buf, n, "%.1f MB", b / 1e6);
  else snprintf(buf, n, "%.1f kB", b / 1e3);
}

int hp_stage_report_resources(hp_stage_ctx *ctx, const char *stage, const hp_res *res) {
  enum { LISTED = 128 }; /* ranks whose peak is listed one by one; beyond, min and max */
  double mine[2] = {res->read_bytes > 0 ? (double)res->read_bytes : 0,
                    res->written_bytes > 0 ? (double)res->written_bytes : 0},
         io[2], peak[LISTED], lo, hi;
  HP_MPI(MPI_Reduce(mine, io, 2, MPI_DOUBLE, MPI_SUM, 0, ctx->comm));
  HP_MPI(MPI_Reduce(&res->peak_rss_mib, &lo, 1, MPI_DOUBLE, MPI_MIN, 0, ctx->comm));
  HP_MPI(MPI_Reduce(&res->peak_rss_mib, &hi, 1, MPI_DOUBLE, MPI_MAX, 0, ctx->comm));
  if (ctx->size <= LISTED) HP_MPI(MPI_Gather(&res->peak_rss_mib, 1, MPI_DOUBLE, peak, 1, MPI_DOUBLE, 0, ctx->comm));
  if (ctx->rank != 0) return 0;
  char rss[LISTED * 8 + 32] = "", rates[512] = "", rd[32], wr[32];
  double rsum = io[0], wsum = io[1], rmax = hi;
  size_t k = 0;
  for (int r = 0; r < ctx->size && ctx->size <= LISTED; r++)
    k += (size_t)snprintf(rss + k, sizeof rss - k, "%s%.0f", r ? "," : "", peak[r]);
  if (ctx->size > LISTED) snprintf(rss, sizeof rss, "%.0f..%.0f", lo, hi);
  k = 0;
  for (int i = 0; i < ctx->nrates && k < sizeof rates; i++) {
    double rate = ctx->rates[i].seconds > 0 ? ctx->rates[i].count / ctx->rates[i].seconds : 0;
    k += (size_t)snprintf(rates + k, sizeof rates - k, "%s%s %.1f/s (%.0f in %.2f s)", i ? "; " : "",
                          ctx->rates[i].unit, rate, ctx->rates[i].count, ctx->rates[i].seconds);
  }
  fmt_bytes(rsum, rd, sizeof rd);
  fmt_bytes(wsum, wr, sizeof wr);
  hp_log_info("stage %s: peak RSS per rank %s MiB%s; read %s, written %s (all ranks)%s%s", stage, rss,
              res->peak_since_start ? " (since the process started: the kernel refused to reset it)" : "", rd, wr,
              ctx->nrates ? "; " : "", rates);
  char path[4096];
  FILE *f = NULL;
  if (access(ctx->run_dir, W_OK) != 0) return 0; /* synth-coco into a root outside any run directory */
  if (hp_run_path(ctx, HP_FILE_STAGE_RESOURCES, path, sizeof path) == 0) {
    int fresh = access(path, F_OK) != 0;
    f = fopen(path, "a");
    if (f && fresh)
      fprintf(f, "stage\tranks\tseconds\tpeak_rss_mib_max\tpeak_rss_mib_per_rank\tread_bytes\twritten_bytes\t"
                 "throughput\n");
    if (f)
      fprintf(f, "%s\t%d\t%.3f\t%.1f\t%s\t%.0f\t%.0f\t%s\n", stage, ctx->size, res->seconds, rmax, rss, rsum,
              wsum, rates);
  }
  if (!f || fclose(f) != 0) {
    hp_error_clear();
    hp_log_warn("cannot append to %s/%s: %s (the run goes on)", ctx->run_dir, HP_FILE_STAGE_RESOURCES,
                strerror(errno));
  }
  return 0;
}

int hp_stage_run(MPI_Comm comm, hp_config *cfg, const char *run_dir, const hp_stage *st, int force) {
  if (!st->run)
    HP_ERROR(HP_ERR_NOTIMPL, "stage '%s' (%s) is not implemented yet in hpclip %s", st->name, st->doc,
             HPCLIP_VERSION);
  hp_stage_ctx ctx = {.comm = comm, .cfg = cfg, .run_dir = run_dir};
  MPI_Comm_rank(comm, &ctx.rank);
  MPI_Comm_size(comm, &ctx.size);
  HP_CALL(make_run_dir(comm, run_dir));
  char what[4400];
  snprintf(what, sizeof what, "hpclip %s %s", st->name, hp_config_path(cfg));
  HP_CALL(hp_run_lock(comm, run_dir, what)); /* one job at a time here (held until the process ends) */
  const char *moved = hp_run_file_key(st->output);
  if (moved && hp_cfg_str(cfg, moved)[0])
    HP_CALL(hp_agree(comm, HP_ERROR_SET(HP_ERR_CONFIG, "%s = \"%s\" names an existing %s for the later stages, and "
                                        "stage %s would write it: run %s in that file's own run directory, or leave "
                                        "%s unset", moved, hp_cfg_str(cfg, moved), st->output, st->name, st->name,
                                        moved)));
  HP_CALL(stage_fingerprint(comm, cfg, run_dir, st, ctx.fingerprint, sizeof ctx.fingerprint));
  char out[4096];
  HP_CALL(hp_run_path(&ctx, st->output, out, sizeof out));
  if (!force && output_is_current(comm, out, ctx.fingerprint, st)) {
    hp_log_info("stage %s: %s is complete and up to date (fingerprint %s): skipping (--force reruns it)",
                st->name, out, ctx.fingerprint);
    return 0;
  }
  double t0 = hp_now();
  hp_log_info("stage %s: start (%d rank%s) -> %s", st->name, ctx.size, ctx.size > 1 ? "s" : "", out);
  HP_CALL(hp_watchdog_start(ctx.rank, hp_cfg_float(cfg, "run.watchdog")));
  /* collective, once per job: the watchdog can then name a dead or frozen peer */
  if (hp_cfg_float(cfg, "run.watchdog") > 0) HP_CALL(hp_peer_probe_start(comm));
  hp_watch_stage(st->name);
  test_stall(&ctx, st);
  HP_CALL(test_fail(&ctx, st));
  hp_res res;
  hp_res_begin(&res);
  HP_CALL(st->run(&ctx));
  hp_res_end(&res);
  hp_watch_doing("between stages");
  hp_log_info("stage %s: done in %.2f s -> %s", st->name, hp_now() - t0, out);
  HP_CALL(hp_stage_report_resources(&ctx, st->name, &res));
  /* a signal during the stage's last moments: stop before the next stage starts */
  int stop = 0, sig = 0;
  HP_CALL(hp_preempt_agree(comm, &stop, &sig));
  if (stop)
    HP_CALL(hp_agree(comm, HP_ERROR_SET(HP_ERR_PREEMPTED,
                                        "signal %d after stage %s completed (%s is complete): stopping before the "
                                        "next stage; rerun `hpclip run` (a requeue) to continue",
                                        sig, st->name, out)));
  return 0;
}
