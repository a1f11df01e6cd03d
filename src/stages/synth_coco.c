/* synth_coco.c — `hpclip synth-coco JOB.cfg`: the synthetic scenes written as a folder in MS
 * COCO 2017's original layout (data/synth_coco.h), the input of a real `ingest` at any size.
 * Not a stage of the table: its output is a folder that `ingest` reads through ingest.root,
 * possibly outside the run directory and shared by several jobs (docs/stages.md).
 *
 *   1. every rank reads and checks the keys (same config, same verdict: a clean collective exit);
 *   2. rank 0 looks at the output folder (synth.coco_root; "" = RUN_DIR/coco): absent or empty ->
 *      generate; it carries our manifest (HP_FILE_COCO_MANIFEST) with the current fingerprint and
 *      all its files -> skip (--force regenerates); our manifest with another fingerprint -> an
 *      error unless --force (then replaced); anything else (a file, a non-empty folder without the
 *      manifest) -> an error, and it is never touched;
 *   3. rank 0 creates ROOT.tmp-XXXXXX beside it with train2017/, val2017/, annotations/; every
 *      rank checks that it sees it (a shared file system);
 *   4. every rank renders and writes its block (hp_shard_range) of the train then val images;
 *   5. rank 0 writes the four JSON files (computed from (seed, index) alone, nothing gathered),
 *      the manifest last, and renames the folder into place.
 * Every file is a function of the configuration: byte-identical for any rank count. On a
 * collective error the temporary folder is removed; one left by a killed job can be deleted.
 */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

#include "base/error.h"
#include "base/log.h"
#include "base/watchdog.h"
#include "comm/peer_probe.h"
#include "comm/shard.h"
#include "config/config.h"
#include "data/synth_coco.h"
#include "stages/stage.h"

#define PATH_CAP 4096

/* The keys the folder's content depends on (not synth.coco_root: where it is written). */
static const char *const coco_keys[] = {"run.seed",
                                        "synth.captions_per_image",
                                        "synth.max_shapes",
                                        "synth.noise",
                                        "synth.coco_train_images",
                                        "synth.coco_val_images",
                                        "synth.coco_long_side",
                                        "synth.coco_jpeg_quality",
                                        NULL};
#define COCO_FORMAT_VERSION 1ULL /* bump when the bytes written for the same keys change */

typedef struct {
  hp_coco_gen g;
  char root[PATH_CAP]; /* the output folder, no trailing '/' */
  char what[PATH_CAP + 64]; /* how messages name it */
  char fp[32];
} coco_job;

enum { OUT_ABSENT, OUT_EMPTY, OUT_CURRENT, OUT_OURS_OTHER };

static int job_from_config(const hp_config *cfg, coco_job *j) {
  memset(j, 0, sizeof *j);
  j->g = (hp_coco_gen){
      .seed = (uint64_t)hp_cfg_int(cfg, "run.seed"),
      .n_train = hp_cfg_int(cfg, "synth.coco_train_images"),
      .n_val = hp_cfg_int(cfg, "synth.coco_val_images"),
      .long_side = hp_cfg_int(cfg, "synth.coco_long_side"),
      .quality = hp_cfg_int(cfg, "synth.coco_jpeg_quality"),
      .captions_per_image = hp_cfg_int(cfg, "synth.captions_per_image"),
      .max_shapes = hp_cfg_int(cfg, "synth.max_shapes"),
      .noise = hp_cfg_float(cfg, "synth.noise"),
  };
  if (hp_coco_gen_check(&j->g)) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", hp_error_message());
    HP_ERROR(HP_ERR_CONFIG, "%s: %s", hp_config_path(cfg), msg);
  }
  const char *root = hp_cfg_str(cfg, "synth.coco_root");
  int n;
  if (root[0]) {
    n = snprintf(j->root, sizeof j->root, "%s", root);
    snprintf(j->what, sizeof j->what, "synth.coco_root = \"%s\"", root);
  } else {
    n = snprintf(j->root, sizeof j->root, "%s/%s", hp_cfg_str(cfg, "run.dir"), HP_FILE_COCO_DIR);
    snprintf(j->what, sizeof j->what, "%s (synth.coco_root unset: RUN_DIR/%s)", j->root, HP_FILE_COCO_DIR);
  }
  if (n >= (int)sizeof j->root - 32)
    HP_ERROR(HP_ERR_CONFIG, "%s: %s: path too long", hp_config_path(cfg), j->what);
  for (size_t l = strlen(j->root); l > 1 && j->root[l - 1] == '/'; l--) j->root[l - 1] = 0;
  if (strcmp(j->root, "/") == 0 || strcmp(j->root, ".") == 0 || strcmp(j->root, "..") == 0)
    HP_ERROR(HP_ERR_CONFIG, "%s: %s: give a folder of its own", hp_config_path(cfg), j->what);
  uint64_t fp = hp_config_fingerprint(cfg, coco_keys) ^ (0x9e3779b97f4a7c15ULL * COCO_FORMAT_VERSION);
  snprintf(j->fp, sizeof j->fp, "%016" PRIx64, fp);
  return 0;
}

/* ---- the output folder (rank 0) ------------------------------------------------------------- */

static int join(char *buf, size_t n, const char *a, const char *b) {
  if (snprintf(buf, n, "%s/%s", a, b) >= (int)n) HP_ERROR(HP_ERR_IO, "%s/%s: path too long", a, b);
  return 0;
}

/* Number of entries of a folder but . and .., -1 if it cannot be read. */
static int64_t count_entries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int64_t n = 0;
  for (struct dirent *e; (e = readdir(d));)
    n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  closedir(d);
  return n;
}

/* The manifest's fingerprint into fp ("" when unreadable), and whether every file it promises
 * is there (the four JSON files, the image counts). */
static void read_manifest(const coco_job *j, char *fp, size_t n, int *complete) {
  char path[PATH_CAP + 64];
  fp[0] = 0;
  *complete = 0;
  snprintf(path, sizeof path, "%s/%s", j->root, HP_FILE_COCO_MANIFEST);
  FILE *f = fopen(path, "r");
  if (!f) return;
  char buf[8192];
  size_t len = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[len] = 0;
  cJSON *m = cJSON_Parse(buf);
  cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "fingerprint");
  if (cJSON_IsString(v)) snprintf(fp, n, "%s", v->valuestring);
  int ok = fp[0] != 0;
  for (int s = 0; s < 2 && ok; s++) {
    cJSON *c = cJSON_GetObjectItemCaseSensitive(m, hp_coco_split_dir(s));
    snprintf(path, sizeof path, "%s/%s", j->root, hp_coco_split_dir(s));
    ok = cJSON_IsNumber(c) && count_entries(path) == (int64_t)c->valuedouble;
    const char *kind[2] = {"captions", "instances"};
    for (int k = 0; k < 2 && ok; k++) {
      snprintf(path, sizeof path, "%s/annotations/%s_%s.json", j->root, kind[k], hp_coco_split_dir(s));
      ok = access(path, R_OK) == 0;
    }
  }
  cJSON_Delete(m);
  *complete = ok;
}

/* mkdir -p of the folder that holds root. */
static int make_parent(const coco_job *j) {
  char p[PATH_CAP];
  snprintf(p, sizeof p, "%s", j->root);
  char *slash = strrchr(p, '/');
  if (!slash || slash == p) return 0;
  *slash = 0;
  for (char *c = p + 1; *c; c++) {
    if (*c != '/') continue;
    *c = 0;
    if (mkdir(p, 0775) && errno != EEXIST) HP_ERROR(HP_ERR_IO, "%s: cannot create %s: %s", j->what, p, strerror(errno));
    *c = '/';
  }
  if (mkdir(p, 0775) && errno != EEXIST) HP_ERROR(HP_ERR_IO, "%s: cannot create %s: %s", j->what, p, strerror(errno));
  struct stat sb;
  if (stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode)) HP_ERROR(HP_ERR_IO, "%s: %s is not a folder", j->what, p);
  return 0;
}

static int inspect(const coco_job *j, int force, int *state) {
  struct stat sb;
  if (stat(j->root, &sb) != 0) {
    if (errno != ENOENT) HP_ERROR(HP_ERR_IO, "%s: cannot create it: %s", j->what, strerror(errno));
    *state = OUT_ABSENT;
    HP_CALL(make_parent(j));
    return 0;
  }
  if (!S_ISDIR(sb.st_mode)) HP_ERROR(HP_ERR_IO, "%s exists and is not a folder: remove it or choose another", j->what);
  int64_t n = count_entries(j->root);
  if (n < 0) HP_ERROR(HP_ERR_IO, "%s: cannot read the folder: %s", j->what, strerror(errno));
  if (n == 0) {
    *state = OUT_EMPTY;
    return 0;
  }
  char have[64];
  int complete;
  read_manifest(j, have, sizeof have, &complete);
  if (!have[0])
    HP_ERROR(HP_ERR_IO, "%s exists, is not empty and was not written by hpclip synth-coco (no %s): not touched; "
             "choose another folder or empty it", j->what, HP_FILE_COCO_MANIFEST);
  *state = complete && strcmp(have, j->fp) == 0 ? OUT_CURRENT : OUT_OURS_OTHER;
  if (*state == OUT_OURS_OTHER && !force)
    HP_ERROR(HP_ERR_IO, "%s holds a COCO folder written %s (fingerprint %s, now %s): --force replaces it, or "
             "choose another folder", j->what, complete ? "with other settings" : "incompletely (files missing)",
             have, j->fp);
  return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb; (void)flag; (void)ftw;
  return remove(path) != 0 ? -1 : 0;
}

static void remove_tree(const char *dir) {
  if (dir[0] && nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
    hp_log_warn("synth-coco: could not remove %s completely (%s): delete it by hand", dir, strerror(errno));
}

static int make_tmp(const coco_job *j, char *tmp, size_t n) {
  if (snprintf(tmp, n, "%s.tmp-XXXXXX", j->root) >= (int)n) HP_ERROR(HP_ERR_IO, "%s: path too long", j->what);
  if (!mkdtemp(tmp)) {
    int e = errno;
    tmp[0] = 0;
    HP_ERROR(HP_ERR_IO, "%s: cannot create a temporary folder beside it: %s", j->what, strerror(e));
  }
  const char *sub[3] = {"train2017", "val2017", "annotations"};
  char p[PATH_CAP + 64];
  for (int s = 0; s < 3; s++) {
    HP_CALL(join(p, sizeof p, tmp, sub[s]));
    if (mkdir(p, 0775) != 0) HP_ERROR(HP_ERR_IO, "%s: cannot create %s: %s", j->what, p, strerror(errno));
  }
  return 0;
}

/* ---- the files ------------------------------------------------------------------------------ */

static int write_images(const coco_job *j, const char *tmp, int rank, int size) {
  int64_t N = j->g.n_train + j->g.n_val, row0, n;
  hp_shard_range(N, size, rank, &row0, &n);
  uint8_t *rgb = NULL;
  HP_CALLOC(rgb, hp_coco_max_pixels(&j->g) * 3, "synth-coco image");
  char dir[2][PATH_CAP + 64];
  for (int s = 0; s < 2; s++) HP_CALL(join(dir[s], sizeof dir[s], tmp, hp_coco_split_dir(s)));
  hp_progress prog;
  hp_progress_start(&prog, "synth-coco: writing JPEG files", "images", N);
  int e = 0;
  for (int64_t r = 0; r < n && !e; r++) {
    int64_t i = row0 + r;
    int split = i >= j->g.n_train;
    e = hp_coco_write_image(&j->g, split, split ? i - j->g.n_train : i, dir[split], rgb);
    if ((r & 15) == 15) hp_progress_update(&prog, (r + 1) * size);
  }
  free(rgb);
  HP_CALL(e);
  hp_watch_doing("waiting for the other ranks' images");
  hp_progress_end(&prog, N);
  return 0;
}

static int write_manifest(const coco_job *j, const char *tmp) {
  char path[PATH_CAP + 64];
  HP_CALL(join(path, sizeof path, tmp, HP_FILE_COCO_MANIFEST));
  cJSON *m = cJSON_CreateObject();
  int ok = m && cJSON_AddStringToObject(m, "generator", "hpclip synth-coco (docs/stages.md)") &&
           cJSON_AddStringToObject(m, "fingerprint", j->fp) &&
           cJSON_AddNumberToObject(m, "seed", (double)j->g.seed) &&
           cJSON_AddNumberToObject(m, "train2017", (double)j->g.n_train) &&
           cJSON_AddNumberToObject(m, "val2017", (double)j->g.n_val) &&
           cJSON_AddNumberToObject(m, "captions_per_image", (double)j->g.captions_per_image) &&
           cJSON_AddNumberToObject(m, "max_shapes", (double)j->g.max_shapes) &&
           cJSON_AddNumberToObject(m, "noise", j->g.noise) &&
           cJSON_AddNumberToObject(m, "long_side", (double)j->g.long_side) &&
           cJSON_AddNumberToObject(m, "jpeg_quality", (double)j->g.quality);
  char *text = ok ? cJSON_Print(m) : NULL;
  cJSON_Delete(m);
  if (!text) HP_ERROR(HP_ERR_MEM, "%s: out of memory", path);
  FILE *f = fopen(path, "w");
  int e = 0;
  if (!f) e = HP_ERROR_SET(HP_ERR_IO, "cannot create %s: %s", path, strerror(errno));
  if (f && (fputs(text, f) == EOF || fputs("\n", f) == EOF)) e = HP_ERROR_SET(HP_ERR_IO, "cannot write %s: %s", path, strerror(errno));
  if (f && fclose(f) != 0 && !e) e = HP_ERROR_SET(HP_ERR_IO, "cannot write %s: %s", path, strerror(errno));
  cJSON_free(text);
  HP_CALL(e);
  return 0;
}

/* Rank 0: the JSON files, then the manifest (last: a folder with it is complete). */
static int write_annotations(const coco_job *j, const char *tmp) {
  char path[PATH_CAP + 128];
  double t0 = hp_now();
  for (int s = 0; s < 2; s++) {
    hp_watch_doing("writing the annotation files");
    snprintf(path, sizeof path, "%s/annotations/captions_%s.json", tmp, hp_coco_split_dir(s));
    HP_CALL(hp_coco_write_captions(&j->g, s, path));
    snprintf(path, sizeof path, "%s/annotations/instances_%s.json", tmp, hp_coco_split_dir(s));
    HP_CALL(hp_coco_write_instances(&j->g, s, path));
  }
  HP_CALL(write_manifest(j, tmp));
  hp_log_info("synth-coco: annotations written in %.1f s", hp_now() - t0);
  return 0;
}

/* Rank 0: tmp -> root; an old folder of ours (--force) is moved aside first, then removed. */
static int install(const coco_job *j, const char *tmp, int state) {
  char old[PATH_CAP + 16] = "";
  if (state == OUT_CURRENT || state == OUT_OURS_OTHER) {
    snprintf(old, sizeof old, "%s.old", tmp);
    if (rename(j->root, old) != 0) HP_ERROR(HP_ERR_IO, "%s: cannot move the old folder aside: %s", j->what, strerror(errno));
  }
  if (rename(tmp, j->root) != 0) {
    int e = errno;
    if (old[0] && rename(old, j->root) != 0) hp_log_warn("synth-coco: the old folder is now %s", old);
    HP_ERROR(HP_ERR_IO, "%s: cannot rename %s to it: %s", j->what, tmp, strerror(e));
  }
  if (old[0]) remove_tree(old);
  return 0;
}

static int generate(MPI_Comm comm, const coco_job *j, int state, char *tmp) {
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  HP_CALL(hp_agree_root(comm, rank == 0 ? make_tmp(j, tmp, PATH_CAP) : 0));
  HP_MPI(MPI_Bcast(tmp, PATH_CAP, MPI_CHAR, 0, comm));
  struct stat sb;
  int seen = stat(tmp, &sb) == 0 && S_ISDIR(sb.st_mode);
  HP_CALL(hp_agree(comm, seen ? 0 : HP_ERROR_SET(HP_ERR_IO, "%s: rank %d does not see the folder %s that rank 0 "
                                                 "created (not on a shared file system?)", j->what, rank, tmp)));
  double t0 = hp_now();
  HP_CALL(hp_agree(comm, write_images(j, tmp, rank, size)));
  double dt = hp_now() - t0;
  int64_t N = j->g.n_train + j->g.n_val;
  hp_log_info("synth-coco: %lld JPEG files in %.1f s (%.1f images/s on %d rank%s)", (long long)N, dt,
              dt > 0 ? (double)N / dt : 0.0, size, size > 1 ? "s" : "");
  if (rank != 0) hp_watch_doing("waiting for rank 0's annotation files");
  HP_CALL(hp_agree_root(comm, rank == 0 ? write_annotations(j, tmp) : 0));
  HP_CALL(hp_agree_root(comm, rank == 0 ? install(j, tmp, state) : 0));
  return 0;
}

int hp_synth_coco(MPI_Comm comm, hp_config *cfg, int force) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  coco_job j;
  HP_CALL(hp_agree(comm, job_from_config(cfg, &j)));
  int state = OUT_ABSENT;
  HP_CALL(hp_agree_root(comm, rank == 0 ? inspect(&j, force, &state) : 0));
  HP_MPI(MPI_Bcast(&state, 1, MPI_INT, 0, comm));
  if (state == OUT_CURRENT && !force) {
    hp_log_info("synth-coco: %s is complete and up to date (fingerprint %s): skipping (--force rewrites it)",
                j.root, j.fp);
    return 0;
  }
  HP_CALL(hp_watchdog_start(rank, hp_cfg_float(cfg, "run.watchdog")));
  if (hp_cfg_float(cfg, "run.watchdog") > 0) HP_CALL(hp_peer_probe_start(comm));
  hp_watch_stage("synth-coco");
  hp_log_info("synth-coco: %lld train2017 + %lld val2017 images (long side %lld, JPEG quality %lld), %lld captions "
              "each, seed %llu -> %s (%d rank%s)", (long long)j.g.n_train, (long long)j.g.n_val,
              (long long)j.g.long_side, (long long)j.g.quality, (long long)j.g.captions_per_image,
              (unsigned long long)j.g.seed, j.root, hp_log_size(), hp_log_size() > 1 ? "s" : "");
  double t0 = hp_now();
  hp_res res;
  hp_res_begin(&res);
  char tmp[PATH_CAP] = "";
  int e = generate(comm, &j, state, tmp);
  if (e && rank == 0) remove_tree(tmp); /* "" when it was never made */
  HP_CALL(e);
  hp_watch_doing("between stages");
  hp_res_end(&res);
  hp_log_info("synth-coco: done in %.1f s -> %s (fingerprint %s)", hp_now() - t0, j.root, j.fp);
  hp_stage_ctx ctx = {.comm = comm, .rank = rank, .size = hp_log_size(), .cfg = cfg,
                      .run_dir = hp_cfg_str(cfg, "run.dir")};
  hp_stage_rate(&ctx, "JPEG images written", (double)(j.g.n_train + j.g.n_val), res.seconds);
  HP_CALL(hp_stage_report_resources(&ctx, "synth-coco", &res));
  return 0;
}
