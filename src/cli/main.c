/* main.c — the hpclip command line: argument parsing, stage dispatch, `run`, `check`, `config`.
 *
 *   hpclip STAGE JOB.cfg [--run-dir DIR] [--force] [-s key=value]...
 *   hpclip run JOB.cfg [--run-dir DIR] [--stages a,b,...] [--force] [-s key=value]...
 *   hpclip synth-coco JOB.cfg [--run-dir DIR] [--force] [-s key=value]...
 *   hpclip query JOB.cfg [--run-dir DIR] | RUN_DIR (--text T | --image F | --queries F)... [options]
 *   hpclip check FILE.h5
 *   hpclip config --doc | --check JOB.cfg [--np N] [--no-data] [-s key=value]... | --print JOB.cfg [-s ...]...
 *   hpclip STAGE --help | run --help
 *   hpclip --help | --version
 *
 * Every rank parses the same arguments, so usage and config errors are found by all ranks at
 * once and end the job cleanly (hp_agree); a failure on some ranks only ends it with MPI_Abort.
 */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <errno.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rundir/lock.h"
#include "base/error.h"
#include "base/tmpfile.h"
#include "base/preempt.h"
#include "base/watchdog.h"
#include "comm/allreduce.h"
#include "comm/peer_probe.h"
#include "base/log.h"
#include "config/config.h"
#include "io/check.h"
#include "io/h5.h"
#include "stages/preflight.h"
#include "stages/query.h"
#include "stages/stage.h"

#define MAX_OVERRIDES 256
#define MAX_QUERY_ARGS 256

typedef struct {
  const char *command; /* stage name, "run", "synth-coco", "check", "config" */
  const char *job;     /* JOB.cfg or FILE.h5 */
  const char *run_dir;
  const char *stages;  /* --stages a,b */
  int force, doc, check, print, help, no_data;
  int np;              /* config --check --np N (0 = not given) */
  int noverrides;
  const char *overrides[MAX_OVERRIDES];
  /* query */
  int ntext, nimage, k, captions, query_opt; /* query_opt: an option only `query` takes was given */
  const char *text[MAX_QUERY_ARGS], *image[MAX_QUERY_ARGS];
  const char *queries, *index, *format, *out, *split;
} cli_args;

static void usage(FILE *f) {
  fprintf(f,
          "hpclip %s — CLIP-style image-text training and evaluation on MPI clusters\n"
          "\n"
          "usage:\n"
          "  hpclip STAGE JOB.cfg [--run-dir DIR] [--force] [-s key=value]...   run one stage\n"
          "  hpclip run JOB.cfg [--run-dir DIR] [--stages a,b,...] [--force] [-s key=value]...\n"
          "                                         run the job's stages (run.stages) in order\n"
          "  hpclip synth-coco JOB.cfg [--run-dir DIR] [--force] [-s key=value]...\n"
          "                                         the synthetic scenes as a folder in COCO 2017's layout\n"
          "                                         (synth.coco_*; the input of ingest, docs/stages.md)\n"
          "  hpclip query JOB.cfg [--run-dir DIR] | RUN_DIR  (--text \"...\" | --image FILE | --queries FILE)...\n"
          "               [-k 10] [--index exact|forest] [--split all|train|val|test] [--captions]\n"
          "               [--format table|tsv|json|html] [--out FILE] [-s key=value]...\n"
          "                                         search a finished run's images (and captions) with\n"
          "                                         texts or image files (docs/query.md)\n"
          "  hpclip check FILE.h5                   validate an hpclip file against its schema\n"
          "  hpclip config --doc                    print the configuration reference (Markdown)\n"
          "  hpclip config --check JOB.cfg [--np N] [--no-data] [-s key=value]...\n"
          "                                         validate a job file and what can be checked of its\n"
          "                                         data (not with --no-data) and batch sizes for N ranks\n"
          "  hpclip config --print JOB.cfg [-s key=value]...   the effective configuration\n"
          "  hpclip STAGE --help                    what a stage reads, writes, and its keys\n"
          "  hpclip --help | --version\n"
          "\n"
          "stages:\n",
          HPCLIP_VERSION);
  for (int i = 0; i < hp_nstages; i++)
    fprintf(f, "  %-13s %s%s\n", hp_stages[i].name, hp_stages[i].doc,
            hp_stages[i].run ? "" : " (not implemented yet)");
  fprintf(f,
          "\n"
          "Run under mpirun for more than one rank, e.g.\n"
          "  mpirun -np 2 build/hpclip run conf/quickstart.cfg --run-dir runs/demo\n"
          "Outputs in the run directory: dataset.h5, ckpt.h5, embeddings.h5, results.h5, summary.md.\n"
          "Exit status (docs/errors.md): 0 ok, 1 other error, 2 usage, 3 config, 4 bad input, 5 I/O,\n"
          "  6 memory, 7 MPI, 8 numerical (NaN/Inf), 9 not implemented, 10 internal error (a bug),\n"
          "  12 preempted (state saved: rerun to resume), 13 watchdog (a rank made no progress).\n");
}

static int parse_args(int argc, char **argv, cli_args *a) {
  memset(a, 0, sizeof *a);
  if (argc < 2) HP_ERROR(HP_ERR_USAGE, "no command given (try hpclip --help)");
  a->command = argv[1];
  a->k = 10;
  a->index = "exact";
  a->format = "table";
  a->split = "all";
  for (int i = 2; i < argc; i++) {
    const char *s = argv[i];
    static const char *const qopts[] = {"--text", "--image", "--queries", "-k", "--index", "--format", "--out", "--split"};
    int qo = -1;
    for (int j = 0; j < 8; j++)
      if (strcmp(s, qopts[j]) == 0) qo = j;
    if (qo >= 0) {
      if (i + 1 >= argc) HP_ERROR(HP_ERR_USAGE, "%s needs a value", s);
      const char *v = argv[++i];
      a->query_opt = 1;
      if (qo <= 1) {
        int *n = qo ? &a->nimage : &a->ntext;
        if (*n == MAX_QUERY_ARGS) HP_ERROR(HP_ERR_USAGE, "too many %s (max %d; use --queries FILE)", s, MAX_QUERY_ARGS);
        (qo ? a->image : a->text)[(*n)++] = v;
      } else if (qo == 2) {
        a->queries = v;
      } else if (qo == 3) {
        char *end = NULL;
        long k = strtol(v, &end, 10);
        if (!*v || *end || k < 1 || k > 10000) HP_ERROR(HP_ERR_USAGE, "-k %s: expected a count in [1, 10000]", v);
        a->k = (int)k;
      } else {
        *(qo == 4 ? &a->index : qo == 5 ? &a->format : qo == 6 ? &a->out : &a->split) = v;
      }
      continue;
    }
    if (strcmp(s, "--captions") == 0) {
      a->captions = a->query_opt = 1;
      continue;
    }
    if (strcmp(s, "--run-dir") == 0 || strcmp(s, "--stages") == 0 || strcmp(s, "-s") == 0) {
      if (i + 1 >= argc) HP_ERROR(HP_ERR_USAGE, "%s needs a value", s);
      const char *v = argv[++i];
      if (strcmp(s, "--run-dir") == 0) {
        if (!*v) HP_ERROR(HP_ERR_USAGE, "--run-dir needs a non-empty directory");
        a->run_dir = v;
      } else if (strcmp(s, "--stages") == 0) {
        a->stages = v;
      } else {
        if (a->noverrides == MAX_OVERRIDES) HP_ERROR(HP_ERR_USAGE, "too many -s overrides (max %d)", MAX_OVERRIDES);
        if (!strchr(v, '=')) HP_ERROR(HP_ERR_USAGE, "-s %s: expected key=value", v);
        a->overrides[a->noverrides++] = v;
      }
    } else if (strncmp(s, "--run-dir=", 10) == 0) {
      a->run_dir = s + 10;
    } else if (strncmp(s, "--stages=", 9) == 0) {
      a->stages = s + 9;
    } else if (strcmp(s, "--force") == 0) {
      a->force = 1;
    } else if (strcmp(s, "--doc") == 0) {
      a->doc = 1;
    } else if (strcmp(s, "--check") == 0) {
      a->check = 1;
    } else if (strcmp(s, "--no-data") == 0) {
      a->no_data = 1;
    } else if (strcmp(s, "--print") == 0) {
      a->print = 1;
    } else if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
      a->help = 1;
    } else if (strcmp(s, "--np") == 0 || strncmp(s, "--np=", 5) == 0) {
      const char *v = s[4] == '=' ? s + 5 : (i + 1 < argc ? argv[++i] : NULL);
      char *end = NULL;
      long k = v ? strtol(v, &end, 10) : 0;
      if (!v || !*v || *end || k < 1 || k > 10000000) HP_ERROR(HP_ERR_USAGE, "--np needs a rank count (1 or more)");
      a->np = (int)k;
    } else if (s[0] == '-' && s[1]) {
      HP_ERROR(HP_ERR_USAGE, "unknown option '%s' (try hpclip --help)", s);
    } else if (!a->job) {
      a->job = s;
    } else {
      HP_ERROR(HP_ERR_USAGE, "unexpected argument '%s' (one job file per command)", s);
    }
  }
  return 0;
}

/* --run-dir DIR is the last override "run.dir=DIR", validated like any -s. */
static int load_job(const cli_args *a, hp_config **cfg) {
  if (!a->job) HP_ERROR(HP_ERR_USAGE, "%s: missing JOB.cfg argument", a->command);
  const char *ov[MAX_OVERRIDES + 1];
  static char run_dir_ov[4200];
  int n = a->noverrides;
  memcpy(ov, a->overrides, (size_t)n * sizeof ov[0]);
  if (a->run_dir) {
    if (snprintf(run_dir_ov, sizeof run_dir_ov, "run.dir=%s", a->run_dir) >= (int)sizeof run_dir_ov)
      HP_ERROR(HP_ERR_USAGE, "--run-dir: path too long");
    ov[n++] = run_dir_ov;
  }
  HP_CALL(hp_config_load(a->job, n, ov, cfg));
  /* Job-wide runtime settings. */
  const char *level = hp_cfg_str(*cfg, "run.log_level");
  hp_log_set_level(strcmp(level, "quiet") == 0 ? HP_LOG_QUIET : strcmp(level, "debug") == 0 ? HP_LOG_DEBUG : HP_LOG_INFO);
  hp_log_set_every(hp_cfg_float(*cfg, "run.log_every"));
  int64_t threads = hp_cfg_int(*cfg, "run.blas_threads");
  if (threads > 0) openblas_set_num_threads((int)threads); /* 0: OPENBLAS_NUM_THREADS decides */
  return 0;
}

static int cmd_config(MPI_Comm comm, const cli_args *a) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  if (a->doc) {
    if (rank == 0) hp_config_print_doc(stdout);
    return 0;
  }
  if (!a->check && !a->print) HP_ERROR(HP_ERR_USAGE, "config: expected --doc, --check JOB.cfg or --print JOB.cfg");
  hp_config *cfg = NULL;
  HP_CALL(hp_agree(comm, load_job(a, &cfg)));
  if (a->print) {
    char *text = NULL;
    int e = hp_config_dump(cfg, &text);
    if (!e && rank == 0) fputs(text, stdout);
    free(text);
    hp_config_free(cfg);
    return e;
  }
  const hp_stage *list[64];
  int n = 0;
  for (int i = 0; i < hp_cfg_list_len(cfg, "run.stages") && i < 64; i++)
    list[n++] = hp_stage_find(hp_cfg_list_str(cfg, "run.stages", i));
  int e = hp_agree_root(comm, rank == 0 ? hp_preflight(cfg, a->np, !a->no_data, list, n) : 0);
  if (!e && rank == 0)
    printf("%s: valid%s%s\n", a->job, a->no_data ? " (data locations not checked)" : "",
           a->np ? "" : "; --np N also checks the batch sizes against N ranks");
  hp_config_free(cfg);
  return e;
}

/* `hpclip STAGE --help`: what it reads and writes, and the keys its output depends on. */
static void stage_help(const hp_stage *st) {
  printf("hpclip %s — %s\n\nusage: mpirun -np N hpclip %s JOB.cfg [--run-dir DIR] [--force] [-s key=value]...\n\n",
         st->name, st->doc, st->name);
  printf("reads (in the run directory):");
  if (!st->inputs[0]) printf(" nothing");
  for (int i = 0; i < 4 && st->inputs[i]; i++) /* "?": optional; "^": its first version (runner.c) */
    printf(" %s%s", st->inputs[i] + (st->inputs[i][0] == '?' || st->inputs[i][0] == '^'),
           st->inputs[i][0] == '?' ? " (if present)" : "");
  printf("\nwrites: %s (atomically; skipped when complete and up to date, --force reruns it)\n\n", st->output);
  printf("configuration keys its output depends on (docs/config.md has them all):\n");
  hp_config_print_keys(stdout, st->config_prefixes);
}

static const char *command_suggestion(const char *word, char *buf, size_t n) {
  const char *cands[80];
  int k = 0;
  for (int i = 0; i < hp_nstages && k < 75; i++) cands[k++] = hp_stages[i].name;
  cands[k++] = "run";
  cands[k++] = "check";
  cands[k++] = "config";
  cands[k++] = "synth-coco";
  cands[k++] = "query";
  return hp_config_suggest_word(word, cands, k, buf, n);
}

static int cmd_check(MPI_Comm comm, const cli_args *a) {
  if (!a->job) HP_ERROR(HP_ERR_USAGE, "check: missing FILE.h5 argument");
  int rank;
  MPI_Comm_rank(comm, &rank);
  HP_CALL(hp_check_file(comm, a->job));
  if (rank == 0) printf("%s: valid\n", a->job);
  return 0;
}

/* Split "a,b,c" into stage names; each must exist. */
static int stage_list(const char *spec, const hp_stage **out, int *n) {
  char buf[1024];
  if (snprintf(buf, sizeof buf, "%s", spec) >= (int)sizeof buf) HP_ERROR(HP_ERR_USAGE, "--stages: list too long");
  *n = 0;
  for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    while (*t == ' ') t++;
    const hp_stage *st = hp_stage_find(t);
    char hint[96];
    if (!st) HP_ERROR(HP_ERR_USAGE, "--stages: unknown stage '%s'%s", t, command_suggestion(t, hint, sizeof hint));
    if (*n == 64) HP_ERROR(HP_ERR_USAGE, "--stages: too many stages");
    out[(*n)++] = st;
  }
  if (*n == 0) HP_ERROR(HP_ERR_USAGE, "--stages: empty list");
  return 0;
}

static int cmd_run(MPI_Comm comm, const cli_args *a) {
  hp_config *cfg = NULL;
  const hp_stage *list[64];
  int n = 0;
  int err = load_job(a, &cfg);
  if (!err) {
    if (a->stages) {
      err = stage_list(a->stages, list, &n);
    } else {
      for (int i = 0; i < hp_cfg_list_len(cfg, "run.stages") && i < 64; i++)
        list[n++] = hp_stage_find(hp_cfg_list_str(cfg, "run.stages", i)); /* validated on load */
      if (n == 0) err = HP_ERROR_SET(HP_ERR_CONFIG, "%s: run.stages is empty", a->job);
    }
  }
  /* Every planned stage must exist before anything runs. */
  for (int i = 0; !err && i < n; i++)
    if (!list[i]->run)
      err = HP_ERROR_SET(HP_ERR_NOTIMPL,
                         "%s: stage '%s' (%s) is not implemented yet in hpclip %s", a->job, list[i]->name,
                         list[i]->doc, HPCLIP_VERSION);
  HP_CALL(hp_agree(comm, err));
  /* what can be checked before the first stage: not minutes into the job (on rank 0 alone: a
   * glob over 10^5 shards from every rank would be a metadata storm) */
  HP_CALL(hp_agree_root(comm, hp_log_rank() == 0 ? hp_preflight(cfg, hp_log_size(), 1, list, n) : 0));
  const char *dir = hp_cfg_str(cfg, "run.dir");
  hp_log_info("hpclip %s: job %s, %d rank%s, run directory %s", HPCLIP_VERSION, a->job, hp_log_size(),
              hp_log_size() > 1 ? "s" : "", dir);
  for (int i = 0; i < n; i++) HP_CALL(hp_stage_run(comm, cfg, dir, list[i], a->force));
  hp_log_info("job %s: all %d stage%s complete; outputs in %s", a->job, n, n > 1 ? "s" : "", dir);
  hp_config_free(cfg);
  return 0;
}

static int cmd_stage(MPI_Comm comm, const cli_args *a, const hp_stage *st) {
  hp_config *cfg = NULL;
  int err = load_job(a, &cfg);
  if (!err && !st->run)
    err = HP_ERROR_SET(HP_ERR_NOTIMPL,
                       "stage '%s' (%s) is not implemented yet in hpclip %s", st->name, st->doc, HPCLIP_VERSION);
  HP_CALL(hp_agree(comm, err));
  HP_CALL(hp_agree_root(comm, hp_log_rank() == 0 ? hp_preflight(cfg, hp_log_size(), 1, &st, 1) : 0));
  HP_CALL(hp_stage_run(comm, cfg, hp_cfg_str(cfg, "run.dir"), st, a->force));
  hp_config_free(cfg);
  return 0;
}

/* `hpclip query JOB.cfg [--run-dir DIR]`, or `hpclip query RUN_DIR`: then the job is the run's own
 * (the configuration embeddings.h5 records, which embed ran with), with run.dir = RUN_DIR */
static int cmd_query(MPI_Comm comm, const cli_args *a) {
  hp_config *cfg = NULL;
  hp_log_to_stderr(1); /* stdout is the answer (tsv, json, html can be piped) */
  struct stat st;
  int err = 0;
  if (a->job && stat(a->job, &st) == 0 && S_ISDIR(st.st_mode)) {
    if (a->run_dir) HP_CALL(hp_agree(comm, HP_ERROR_SET(HP_ERR_USAGE, "query %s: a run directory and --run-dir", a->job)));
    char epath[4200], tmpl[] = "/tmp/hpclip-query-XXXXXX";
    snprintf(epath, sizeof epath, "%s/embeddings.h5", a->job);
    char *text = NULL;
    hid_t fid = -1;
    err = hp_h5_open_serial(epath, &fid);
    if (!err) err = hp_h5_attr_read_str(fid, epath, "/", "config", (size_t)64 << 20, &text);
    if (fid >= 0) H5Fclose(fid);
    int fd = err ? -1 : mkstemp(tmpl);
    if (!err && fd < 0) err = HP_ERROR_SET(HP_ERR_IO, "query: a temporary file for %s's configuration: %s", epath, strerror(errno));
    if (!err) {
      FILE *f = fdopen(fd, "w");
      if (!f) close(fd);
      int bad = !f || fputs(text, f) < 0;
      if (f && fclose(f) != 0) bad = 1;
      if (bad) err = HP_ERROR_SET(HP_ERR_IO, "query: writing %s", tmpl);
      cli_args b = *a;
      b.job = tmpl;
      b.run_dir = a->job;
      if (!err) err = load_job(&b, &cfg);
      unlink(tmpl);
    }
    free(text);
  } else {
    err = load_job(a, &cfg);
  }
  err = hp_agree(comm, err);
  if (err) {
    hp_config_free(cfg);
    return err;
  }
  hp_query_opts o = {.ntext = a->ntext, .nimage = a->nimage, .text = a->text, .image = a->image, .queries_file = a->queries,
                     .k = a->k, .index = a->index, .split = a->split, .captions = a->captions, .format = a->format,
                     .out = a->out};
  err = hp_query(comm, cfg, &o);
  hp_config_free(cfg);
  return err;
}

static int cmd_synth_coco(MPI_Comm comm, const cli_args *a) {
  hp_config *cfg = NULL;
  HP_CALL(hp_agree(comm, load_job(a, &cfg)));
  HP_CALL(hp_synth_coco(comm, cfg, a->force));
  hp_config_free(cfg);
  return 0;
}

static int dispatch(MPI_Comm comm, int argc, char **argv) {
  cli_args a;
  int rank;
  MPI_Comm_rank(comm, &rank);
  HP_CALL(hp_agree(comm, parse_args(argc, argv, &a)));
  if (strcmp(a.command, "--help") == 0 || strcmp(a.command, "-h") == 0 || strcmp(a.command, "help") == 0) {
    if (rank == 0) usage(stdout);
    return 0;
  }
  if (strcmp(a.command, "--version") == 0) {
    if (rank == 0) printf("hpclip %s\n", HPCLIP_VERSION);
    return 0;
  }
  if (a.help) {
    const hp_stage *st = hp_stage_find(a.command);
    if (rank == 0) {
      if (st) stage_help(st);
      else usage(stdout);
    }
    return 0;
  }
  if (a.query_opt && strcmp(a.command, "query") != 0)
    HP_CALL(hp_agree(comm, HP_ERROR_SET(HP_ERR_USAGE, "--text, --image, --queries, -k, --index, --split, --captions, "
                                        "--format and --out are options of `hpclip query`, not of '%s'", a.command)));
  if (strcmp(a.command, "query") == 0) return cmd_query(comm, &a);
  if (strcmp(a.command, "config") == 0) return cmd_config(comm, &a);
  if (strcmp(a.command, "check") == 0) return cmd_check(comm, &a);
  if (strcmp(a.command, "run") == 0) return cmd_run(comm, &a);
  if (strcmp(a.command, "synth-coco") == 0) return cmd_synth_coco(comm, &a);
  const hp_stage *st = hp_stage_find(a.command);
  if (st) return cmd_stage(comm, &a, st);
  char hint[96];
  HP_CALL(hp_agree(comm, HP_ERROR_SET(HP_ERR_USAGE, "unknown command '%s'%s (try hpclip --help)", a.command,
                                      command_suggestion(a.command, hint, sizeof hint))));
  return 0;
}

int main(int argc, char **argv) {
  /* A file-size limit (ulimit -f, a batch system's file-size cap) must be an error we report,
   * naming the file, not a silent kill: with SIGXFSZ ignored, the write that crosses the limit
   * fails with EFBIG and takes the normal error path (temporary file removed, earlier outputs
   * untouched). Set before MPI_Init so that no thread of MPI's starts with the default. */
  signal(SIGXFSZ, SIG_IGN);
  /* HDF5 is shut down by us (H5close below, while MPI is alive), not by its atexit handler:
   * after a failed H5Fclose (disk full) that handler closes the broken file again and crashes
   * (seen with HDF5 1.10 on a write that hit the file-size limit). On the error path the
   * library is left as it is: the process is about to end and its temporaries are removed. */
  H5dont_atexit();
  hp_bar_preinit(); /* the gradient allreduce's algorithm (comm/allreduce.h) */
  MPI_Init(&argc, &argv);
  MPI_Comm comm = MPI_COMM_WORLD;
  /* Errors come back to us as return codes; MPI must not abort on its own. */
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* HDF5 reports through our messages, not its stack */
  hp_log_init(comm);
  if (getenv("HPCLIP_DEBUG")) hp_log_set_level(HP_LOG_DEBUG);
  int rank0 = 0;
  MPI_Comm_rank(comm, &rank0);
  hp_preempt_install(rank0); /* SIGUSR1/SIGTERM: checkpoint and requeue (base/preempt.h) */

  int err = dispatch(comm, argc, argv);
  hp_watchdog_stop();
  /* A failure on this rank alone ends in MPI_Abort below, and the launcher then SIGTERMs the
   * others: told first, they end quietly with this code instead of reporting a preemption. */
  if (err && !hp_error_is_collective()) (void)hp_peer_probe_announce_failure(err, 0.5);
  hp_peer_probe_stop();
  hp_preempt_uninstall(); /* the outcome is decided: mpirun's SIGTERM to a failed job's ranks ends them quietly */
  if (err) {
    int rank;
    MPI_Comm_rank(comm, &rank);
    if (hp_error_should_report()) {
      fprintf(stderr, "hpclip: %s [rank %d]: %s\n", hp_error_name(err), rank, hp_error_message());
      if (getenv("HPCLIP_TRACE")) fputs(hp_error_trace_text(), stderr);
      if (err == HP_ERR_USAGE) fprintf(stderr, "(hpclip --help shows the usage)\n");
      fflush(stderr);
    }
    /* A collective error: every rank is here. No rank ends before the reporter has written the
     * message: launchers end the other ranks as soon as one exits non-zero (srun
     * --kill-on-bad-exit, mpirun), and under SLURM the reporter's message was lost that way
     * (docs/jobs.md, "Verified under SLURM"). */
    hp_run_unlock_all(); /* before the barrier: no rank has exited yet */
    if (hp_error_is_collective()) MPI_Barrier(comm);
    hp_tmpfile_remove_all();
    if (!hp_error_is_collective()) MPI_Abort(comm, err); /* ends every rank: no hang */
    MPI_Finalize();
    return err;
  }
  hp_run_unlock_all();
  H5close();
  MPI_Finalize();
  return 0;
}
