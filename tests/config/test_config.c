/* test_config.c — the configuration layer: loading, every error case, overrides, getters,
 * dump round trip, fingerprint, doc, getter aborts and the key table's self-check.
 * Job files are written to the current directory (the test's build directory). */
#define _POSIX_C_SOURCE 200809L /* fork, mkdir, dup2 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/error.h"
#include "config/config.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static void write_file(const char *name, const char *text) {
  FILE *f = fopen(name, "w");
  assert_non_null(f);
  assert_int_equal(fputs(text, f) >= 0, 1);
  assert_int_equal(fclose(f), 0);
}

static char *read_all(FILE *f) {
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  assert_non_null(buf);
  size_t n;
  while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
    len += n;
    if (len + 1 == cap) {
      cap *= 2;
      buf = realloc(buf, cap);
      assert_non_null(buf);
    }
  }
  buf[len] = 0;
  return buf;
}

/* rc must be a config error whose message contains every needle (and not `absent`). */
static void expect_config_error(int rc, const char *const *needles, const char *absent) {
  const char *msg = hp_error_message();
  if (rc != HP_ERR_CONFIG) fail_msg("expected HP_ERR_CONFIG (3), got %d: %s", rc, msg);
  for (int i = 0; needles[i]; i++)
    if (!strstr(msg, needles[i])) fail_msg("message \"%s\" lacks \"%s\"", msg, needles[i]);
  if (absent && strstr(msg, absent)) fail_msg("message \"%s\" should not contain \"%s\"", msg, absent);
}

/* Load `text` written to `name` with overrides; returns the code, *cfg NULL on failure. */
static int load_text(const char *name, const char *text, int nov, const char *const *ov, hp_config **cfg) {
  write_file(name, text);
  hp_error_clear();
  int rc = hp_config_load(name, nov, ov, cfg);
  if (rc) assert_null(*cfg);
  return rc;
}

/* Load defaults + overrides (+ run.dir) and return the config; fails the test on error. */
static hp_config *load_ov(int nov, const char *const *ov) {
  hp_config *cfg = NULL;
  const char *all[32];
  assert_true(nov < 31);
  all[0] = "run.dir=runs/t";
  for (int i = 0; i < nov; i++) all[i + 1] = ov[i];
  int rc = hp_config_load(NULL, nov + 1, all, &cfg);
  if (rc) fail_msg("load failed (%d): %s", rc, hp_error_message());
  assert_non_null(cfg);
  return cfg;
}

/* One override expected to fail with a message containing the needles. */
static void expect_override_error(const char *ov, const char *n1, const char *n2) {
  hp_config *cfg = NULL;
  const char *all[2] = {"run.dir=runs/t", ov};
  char head[600];
  snprintf(head, sizeof head, "-s %s: ", ov);
  const char *needles[] = {head, n1, n2, NULL};
  if (!n2) needles[2] = NULL;
  hp_error_clear();
  int rc = hp_config_load(NULL, 2, all, &cfg);
  assert_null(cfg);
  expect_config_error(rc, needles, NULL);
}

/* ---- a valid file, getters, defaults ------------------------------------------------------- */

static void test_valid_file(void **state) {
  (void)state;
  hp_config *cfg = NULL;
  int rc = load_text("valid.cfg",
                     "# a complete job file\n"
                     "run = {\n"
                     "  name = \"demo\";\n"
                     "  dir = \"runs/demo\";\n"
                     "  stages = (\"synth\", \"ingest\");  // a list works like an array\n"
                     "  seed = 4611686018427387904L;\n"
                     "  log_level = \"debug\";\n"
                     "};\n"
                     "data = {\n"
                     "  image_size = 64;\n"
                     "  train_frac = 1;   # integers are fine for floats\n"
                     "  val_frac = 0;\n"
                     "  test_frac = 0.0;\n"
                     "};\n"
                     "synth: { noise = 0.25; };\n",
                     0, NULL, &cfg);
  if (rc) fail_msg("%s", hp_error_message());
  assert_string_equal(hp_config_path(cfg), "valid.cfg");
  assert_string_equal(hp_cfg_str(cfg, "run.name"), "demo");
  assert_string_equal(hp_cfg_str(cfg, "run.dir"), "runs/demo");
  assert_int_equal(hp_cfg_list_len(cfg, "run.stages"), 2);
  assert_string_equal(hp_cfg_list_str(cfg, "run.stages", 0), "synth");
  assert_string_equal(hp_cfg_list_str(cfg, "run.stages", 1), "ingest");
  assert_true(hp_cfg_int(cfg, "run.seed") == INT64_C(4611686018427387904));
  assert_string_equal(hp_cfg_str(cfg, "run.log_level"), "debug");
  assert_int_equal(hp_cfg_int(cfg, "data.image_size"), 64);
  assert_true(hp_cfg_float(cfg, "data.train_frac") == 1.0);
  assert_true(hp_cfg_float(cfg, "synth.noise") == 0.25);
  /* defaults */
  assert_int_equal(hp_cfg_int(cfg, "data.caption_len"), 20);
  assert_int_equal(hp_cfg_int(cfg, "data.vocab_size"), 15000);
  assert_int_equal(hp_cfg_int(cfg, "synth.num_images"), 2000);
  assert_int_equal(hp_cfg_int(cfg, "run.blas_threads"), 0);
  assert_int_equal(hp_cfg_is_set(cfg, "data.image_size"), 1);
  assert_int_equal(hp_cfg_is_set(cfg, "data.caption_len"), 0);
  hp_config_free(cfg);
}

static void test_defaults_only(void **state) {
  (void)state;
  hp_config *cfg = load_ov(0, NULL);
  assert_string_equal(hp_config_path(cfg), "(none)");
  assert_string_equal(hp_cfg_str(cfg, "run.name"), "hpclip");
  assert_string_equal(hp_cfg_str(cfg, "run.dir"), "runs/t");
  assert_int_equal(hp_cfg_is_set(cfg, "run.dir"), 1);
  assert_int_equal(hp_cfg_is_set(cfg, "run.name"), 0);
  assert_int_equal(hp_cfg_list_len(cfg, "run.stages"), 1);
  assert_string_equal(hp_cfg_list_str(cfg, "run.stages", 0), "synth");
  assert_int_equal(hp_cfg_int(cfg, "run.seed"), 1234);
  assert_string_equal(hp_cfg_str(cfg, "run.log_level"), "info");
  assert_int_equal(hp_cfg_int(cfg, "data.image_size"), 128);
  assert_true(hp_cfg_float(cfg, "data.train_frac") == 0.70);
  assert_true(hp_cfg_float(cfg, "data.val_frac") == 0.15);
  assert_true(hp_cfg_float(cfg, "data.test_frac") == 0.15);
  assert_int_equal(hp_cfg_int(cfg, "synth.captions_per_image"), 5);
  assert_int_equal(hp_cfg_int(cfg, "synth.max_shapes"), 3);
  assert_true(hp_cfg_float(cfg, "synth.noise") == 0.05);
  hp_config_free(cfg);
}

/* @include is relative to the job file's directory, and errors inside an included file name
 * that file and its line. */
static void test_include(void **state) {
  (void)state;
  mkdir("incdir", 0775);
  write_file("incdir/part.cfg", "data = {\n  image_size = 32;\n};\n");
  write_file("incdir/main.cfg", "run = { dir = \"runs/inc\"; };\n@include \"part.cfg\"\n");
  hp_config *cfg = NULL;
  hp_error_clear();
  int rc = hp_config_load("incdir/main.cfg", 0, NULL, &cfg);
  if (rc) fail_msg("%s", hp_error_message());
  assert_int_equal(hp_cfg_int(cfg, "data.image_size"), 32);
  hp_config_free(cfg);

  write_file("incdir/badpart.cfg", "data = {\n  imagesize = 32;\n};\n");
  write_file("incdir/main2.cfg", "run = { dir = \"runs/inc\"; };\n@include \"badpart.cfg\"\n");
  hp_error_clear();
  rc = hp_config_load("incdir/main2.cfg", 0, NULL, &cfg);
  expect_config_error(rc, (const char *[]){"badpart.cfg:2: data.imagesize", "did you mean 'data.image_size'", NULL},
                      NULL);

  write_file("incdir/main3.cfg", "run = { dir = \"runs/inc\"; };\n@include \"nothere.cfg\"\n");
  hp_error_clear();
  rc = hp_config_load("incdir/main3.cfg", 0, NULL, &cfg);
  expect_config_error(rc, (const char *[]){"incdir/main3.cfg:2", "include", NULL}, NULL);
}

/* ---- every error case of a job file --------------------------------------------------------- */

typedef struct {
  const char *file;
  const char *text;
  const char *needles[6];
  const char *absent;
} err_case;

static const err_case file_errors[] = {
    {"e_syntax.cfg", "run = { dir = \"x\"; };\ndata = { image_size = ; };\n",
     {"e_syntax.cfg:2", "syntax error", NULL}, NULL},
    {"e_duplicate.cfg", "run = { dir = \"x\";\n  dir = \"y\"; };\n", {"e_duplicate.cfg:2", "duplicate", NULL}, NULL},
    {"e_unknown_key.cfg", "run = { dir = \"x\"; };\ndata = {\n  imagesize = 64;\n};\n",
     {"e_unknown_key.cfg:3: data.imagesize: unknown key", "(did you mean 'data.image_size'?)", NULL}, NULL},
    {"e_unknown_far.cfg", "run = { dir = \"x\"; };\ndata = { zzzzzzzzzz = 1; };\n",
     {"e_unknown_far.cfg:2: data.zzzzzzzzzz: unknown key", NULL}, "did you mean"},
    {"e_group_typo.cfg", "run = { dir = \"x\"; };\n\ndta = {\n  image_size = 64;\n};\n",
     {"e_group_typo.cfg:3: dta: unknown group", "(did you mean 'data'?)", NULL}, NULL},
    {"e_group_case.cfg", "Data = { image_size = 64; };\n", {"e_group_case.cfg:1: Data", "did you mean 'data'", NULL},
     NULL},
    {"e_wrong_group.cfg", "synth = { image_size = 64; };\n",
     {"e_wrong_group.cfg:1: synth.image_size: unknown key", "did you mean 'data.image_size'", NULL}, NULL},
    {"e_top_level.cfg", "\n\nseed = 5;\n", {"e_top_level.cfg:3: seed: unknown key", "did you mean 'run.seed'", NULL},
     NULL},
    {"e_group_for_value.cfg", "run = {\n  dir = { x = 1; };\n};\n",
     {"e_group_for_value.cfg:2: run.dir", "expected a string", "got a group", NULL}, NULL},
    {"e_value_for_group.cfg", "run = { dir = \"x\"; };\ndata = 5;\n",
     {"e_value_for_group.cfg:2: data", "is a group of keys", "got an integer (5)", NULL}, NULL},
    {"e_string_for_int.cfg", "data = { image_size = \"big\"; };\n",
     {"e_string_for_int.cfg:1: data.image_size", "expected an integer", "got a string (\"big\")", NULL}, NULL},
    {"e_float_for_int.cfg", "synth = {\n  num_images = 2.5;\n};\n",
     {"e_float_for_int.cfg:2: synth.num_images", "expected an integer", "got a float (2.5)", NULL}, NULL},
    {"e_string_for_float.cfg", "synth = { noise = \"lots\"; };\n",
     {"e_string_for_float.cfg:1: synth.noise", "expected a number", "got a string (\"lots\")", NULL}, NULL},
    {"e_int_for_string.cfg", "run = { name = 5; };\n",
     {"e_int_for_string.cfg:1: run.name", "expected a string, got an integer (5)", NULL}, NULL},
    {"e_bool_for_int.cfg", "run = { seed = true; };\n",
     {"e_bool_for_int.cfg:1: run.seed", "expected an integer, got a boolean (true)", NULL}, NULL},
    {"e_int_range.cfg", "run = { dir = \"x\"; };\ndata = {\n  image_size = 8;\n};\n",
     {"e_int_range.cfg:3: data.image_size", "8 is out of range [16, 1024]", NULL}, NULL},
    {"e_float_range.cfg", "synth = { noise = 1.5; };\n",
     {"e_float_range.cfg:1: synth.noise", "1.5 is out of range [0, 1]", NULL}, NULL},
    {"e_int64_range.cfg", "run = { seed = 4611686018427387905L; };\n",
     {"e_int64_range.cfg:1: run.seed", "4611686018427387905 is out of range [0, 4611686018427387904]", NULL}, NULL},
    {"e_int_truncated.cfg", "run = {\n  seed = 4611686018427387904;\n};\n",
     {"e_int_truncated.cfg:2: run.seed", "L suffix", NULL}, NULL},
    {"e_enum.cfg", "run = { log_level = \"loud\"; };\n",
     {"e_enum.cfg:1: run.log_level", "'loud' is not one of: quiet, info, debug", NULL}, NULL},
    {"e_enum_type.cfg", "run = { log_level = 2; };\n",
     {"e_enum_type.cfg:1: run.log_level", "one of: quiet, info, debug", "got an integer (2)", NULL}, NULL},
    {"e_list_choice.cfg", "run = { stages = [\"synth\", \"trian\"]; };\n",
     {"e_list_choice.cfg:1: run.stages", "item 2 'trian' is not one of: synth, ingest, train", NULL}, NULL},
    {"e_list_item_type.cfg", "run = { stages = (\"synth\", 3); };\n",
     {"e_list_item_type.cfg:1: run.stages", "item 2: expected a string, got an integer (3)", NULL}, NULL},
    {"e_list_scalar.cfg", "run = { stages = \"synth\"; };\n",
     {"e_list_scalar.cfg:1: run.stages", "expected a list of strings", "got a string (\"synth\")", NULL}, NULL},
    {"e_empty_required.cfg", "run = {\n  dir = \"\";\n};\n",
     {"e_empty_required.cfg:2: run.dir", "empty string", NULL}, NULL},
    {"e_missing_required.cfg", "data = { image_size = 64; };\n",
     {"e_missing_required.cfg", "missing required key run.dir (or give --run-dir)", NULL}, NULL},
    {"e_fractions.cfg", "run = { dir = \"x\"; };\ndata = {\n  train_frac = 0.8;\n};\n",
     {"e_fractions.cfg:3: data.train_frac", "data.train_frac + data.val_frac + data.test_frac", "must be 1", NULL},
     NULL},
};

static void test_file_errors(void **state) {
  (void)state;
  int n = (int)(sizeof file_errors / sizeof file_errors[0]);
  assert_true(n >= 15);
  for (int i = 0; i < n; i++) {
    hp_config *cfg = NULL;
    int rc = load_text(file_errors[i].file, file_errors[i].text, 0, NULL, &cfg);
    print_message("  %-26s -> %s\n", file_errors[i].file, hp_error_message());
    expect_config_error(rc, file_errors[i].needles, file_errors[i].absent);
  }
}

static void test_unreadable_file(void **state) {
  (void)state;
  hp_config *cfg = NULL;
  unlink("no_such_job.cfg");
  hp_error_clear();
  int rc = hp_config_load("no_such_job.cfg", 0, NULL, &cfg);
  assert_null(cfg);
  expect_config_error(rc, (const char *[]){"cannot read no_such_job.cfg", "No such file", NULL}, NULL);

  mkdir("dir_job.cfg", 0775);
  hp_error_clear();
  rc = hp_config_load("dir_job.cfg", 0, NULL, &cfg);
  expect_config_error(rc, (const char *[]){"cannot read dir_job.cfg", "directory", NULL}, NULL);
}

/* Defaults, then the file, then overrides in order: later wins. */
static void test_override_precedence(void **state) {
  (void)state;
  hp_config *cfg = NULL;
  const char *ov[] = {"synth.num_images=10", "synth.num_images=20", "run.dir=runs/from_cli"};
  int rc = load_text("prec.cfg", "run = { dir = \"runs/file\"; };\nsynth = { num_images = 5; };\n", 3, ov, &cfg);
  if (rc) fail_msg("%s", hp_error_message());
  assert_int_equal(hp_cfg_int(cfg, "synth.num_images"), 20);
  assert_string_equal(hp_cfg_str(cfg, "run.dir"), "runs/from_cli");
  hp_config_free(cfg);
  /* an override also fixes a file that lacks a required key */
  const char *ov2[] = {"run.dir=runs/x"};
  rc = load_text("prec2.cfg", "synth = { num_images = 5; };\n", 1, ov2, &cfg);
  if (rc) fail_msg("%s", hp_error_message());
  hp_config_free(cfg);
}

/* ---- overrides: every type ------------------------------------------------------------------ */

static void test_override_values(void **state) {
  (void)state;
  const char *ov[] = {
      "synth.num_images=64",
      "synth.noise=1",                     /* an integer for a float */
      "data.train_frac=7e-1",
      "run.name=my run, with = sign",      /* raw: everything after the first '=' */
      "run.log_level=debug",
      "run.stages=synth,train",
      " run.seed =42",                     /* spaces around the key are trimmed */
  };
  hp_config *cfg = load_ov(7, ov);
  assert_int_equal(hp_cfg_int(cfg, "synth.num_images"), 64);
  assert_true(hp_cfg_float(cfg, "synth.noise") == 1.0);
  assert_true(hp_cfg_float(cfg, "data.train_frac") == 0.7);
  assert_string_equal(hp_cfg_str(cfg, "run.name"), "my run, with = sign");
  assert_string_equal(hp_cfg_str(cfg, "run.log_level"), "debug");
  assert_int_equal(hp_cfg_list_len(cfg, "run.stages"), 2);
  assert_string_equal(hp_cfg_list_str(cfg, "run.stages", 1), "train");
  assert_int_equal(hp_cfg_int(cfg, "run.seed"), 42);
  assert_int_equal(hp_cfg_is_set(cfg, "run.seed"), 1);
  hp_config_free(cfg);

  const char *ov2[] = {"run.name=\"a \\\"q\\\" \\\\ b\"", "run.stages=[synth, ingest ,train]"};
  cfg = load_ov(2, ov2);
  assert_string_equal(hp_cfg_str(cfg, "run.name"), "a \"q\" \\ b");
  assert_int_equal(hp_cfg_list_len(cfg, "run.stages"), 3);
  assert_string_equal(hp_cfg_list_str(cfg, "run.stages", 1), "ingest");
  hp_config_free(cfg);

  const char *ov3[] = {"run.stages=[\"synth\",\"report\"]"};
  cfg = load_ov(1, ov3);
  assert_int_equal(hp_cfg_list_len(cfg, "run.stages"), 2);
  assert_string_equal(hp_cfg_list_str(cfg, "run.stages", 1), "report");
  hp_config_free(cfg);

  const char *ov4[] = {"run.stages=[]"};
  cfg = load_ov(1, ov4);
  assert_int_equal(hp_cfg_list_len(cfg, "run.stages"), 0);
  hp_config_free(cfg);
}

static void test_override_errors(void **state) {
  (void)state;
  expect_override_error("synth.num_images=abc", "expected an integer, got 'abc'", NULL);
  expect_override_error("synth.num_images=2.5", "expected an integer, got '2.5'", NULL);
  expect_override_error("synth.num_images=", "expected an integer", NULL);
  expect_override_error("synth.num_images=12x", "expected an integer", NULL);
  expect_override_error("run.seed=99999999999999999999", "does not fit in 64 bits", NULL);
  expect_override_error("synth.num_images=0", "0 is out of range [1, 100000000]", NULL);
  expect_override_error("synth.noise=x", "expected a number, got 'x'", NULL);
  expect_override_error("synth.noise=0.5x", "expected a number", NULL);
  expect_override_error("synth.noise=nan", "not a finite number", NULL);
  expect_override_error("synth.noise=inf", "not a finite number", NULL);
  expect_override_error("synth.noise=-0.5", "-0.5 is out of range [0, 1]", NULL);
  expect_override_error("run.log_level=loud", "'loud' is not one of: quiet, info, debug", NULL);
  expect_override_error("run.stages=synth,,train", "item 2 is empty", NULL);
  expect_override_error("run.stages=synth,foo", "item 2 'foo' is not one of: synth, ingest", NULL);
  expect_override_error("run.stages=[synth", "does not end with ']'", NULL);
  expect_override_error("run.stages=[\"synth\" x]", "item 1: unexpected text after the closing quote", NULL);
  expect_override_error("run.name=\"abc", "unterminated quoted string", NULL);
  expect_override_error("run.name=\"a\\qb\"", "unknown escape", NULL);
  expect_override_error("run.name=\"a\"b", "unexpected text after the closing quote", NULL);
  expect_override_error("run.dir=", "empty string", NULL);
  expect_override_error("synth.num_image=5", "unknown key 'synth.num_image'", "(did you mean 'synth.num_images'?)");
  expect_override_error("foo.bar=5", "unknown key 'foo.bar'", NULL);
  expect_override_error("data=5", "'data' is a group", "e.g. data.");
  expect_override_error("=5", "the key is empty", NULL);
  expect_override_error("synth.noise", "expected KEY=VALUE", NULL);
  expect_override_error("data.val_frac=0.3", "data.train_frac + data.val_frac + data.test_frac", "must be 1");
  /* no suggestion when nothing is close */
  hp_config *cfg = NULL;
  const char *ov[] = {"run.dir=x", "qqqqqq.zzzzzz=1"};
  hp_error_clear();
  expect_config_error(hp_config_load(NULL, 2, ov, &cfg), (const char *[]){"qqqqqq.zzzzzz", NULL}, "did you mean");
}

/* hp_config_set: validated like -s; a rejected value leaves the config unchanged. */
static void test_config_set(void **state) {
  (void)state;
  hp_config *cfg = load_ov(0, NULL);
  assert_int_equal(hp_config_set(cfg, "run.dir", "runs/other"), 0);
  assert_string_equal(hp_cfg_str(cfg, "run.dir"), "runs/other");
  hp_error_clear();
  expect_config_error(hp_config_set(cfg, "data.image_size", "4"),
                      (const char *[]){"-s data.image_size=4", "out of range", NULL}, NULL);
  assert_int_equal(hp_cfg_int(cfg, "data.image_size"), 128);
  hp_error_clear();
  expect_config_error(hp_config_set(cfg, "data.test_frac", "0.5"), (const char *[]){"must be 1", NULL}, NULL);
  assert_true(hp_cfg_float(cfg, "data.test_frac") == 0.15);
  assert_int_equal(hp_cfg_is_set(cfg, "data.test_frac"), 0);
  hp_error_clear();
  expect_config_error(hp_config_set(cfg, "run.dri", "x"), (const char *[]){"did you mean 'run.dir'", NULL}, NULL);
  hp_config_free(cfg);
}

/* ---- a test table: BOOL keys, deeper groups ------------------------------------------------- */

static const hp_cfg_key test_keys[] = {
    {"a.flag", HP_T_BOOL, "false", 1, 0, NULL, "a flag"},
    {"a.seed", HP_T_INT, "7", 0, 100, NULL, "covered by the fingerprint prefix 'a.seed'"},
    {"a.seed_x", HP_T_INT, "1", 0, 100, NULL, "not covered by 'a.seed'"},
    {"a.b.deep", HP_T_INT, "1", 1, 0, NULL, "a key in a nested group"},
    {"a.b.name", HP_T_STRING, "x", 1, 0, NULL, "a nested string"},
    {"z.list", HP_T_STRLIST, "", 1, 0, NULL, "a free list, empty by default"},
    {"z.ratio", HP_T_FLOAT, "0.5", 1, 0, NULL, "an unbounded float"},
};
static const int n_test_keys = (int)(sizeof test_keys / sizeof test_keys[0]);

static void test_bool_and_nested(void **state) {
  (void)state;
  const char *yes[] = {"true", "TRUE", "yes", "1", " true "};
  const char *no[] = {"false", "No", "0"};
  char ov[64];
  for (int i = 0; i < 5 + 3; i++) {
    hp_config *cfg = NULL;
    snprintf(ov, sizeof ov, "a.flag=%s", i < 5 ? yes[i] : no[i - 5]);
    const char *o[] = {"a.flag=true", ov}; /* flip first, so "false" is really parsed */
    if (i < 5) o[0] = "a.flag=false";
    int rc = hp_config_load_keys(test_keys, n_test_keys, NULL, 2, o, &cfg);
    if (rc) fail_msg("%s: %s", ov, hp_error_message());
    assert_int_equal(hp_cfg_bool(cfg, "a.flag"), i < 5);
    hp_config_free(cfg);
  }
  hp_config *cfg = NULL;
  const char *bad[] = {"a.flag=maybe"};
  hp_error_clear();
  expect_config_error(hp_config_load_keys(test_keys, n_test_keys, NULL, 1, bad, &cfg),
                      (const char *[]){"-s a.flag=maybe", "expected true/false", NULL}, NULL);

  write_file("nested.cfg", "a = {\n  flag = true;\n  b = {\n    deep = -3;\n    name = \"n\";\n  };\n};\n"
                           "z = { list = [\"p\", \"q\"]; ratio = -1e300; };\n");
  hp_error_clear();
  int rc = hp_config_load_keys(test_keys, n_test_keys, "nested.cfg", 0, NULL, &cfg);
  if (rc) fail_msg("%s", hp_error_message());
  assert_int_equal(hp_cfg_bool(cfg, "a.flag"), 1);
  assert_int_equal(hp_cfg_int(cfg, "a.b.deep"), -3);
  assert_string_equal(hp_cfg_str(cfg, "a.b.name"), "n");
  assert_int_equal(hp_cfg_list_len(cfg, "z.list"), 2);
  assert_true(hp_cfg_float(cfg, "z.ratio") == -1e300);
  hp_config_free(cfg);

  write_file("nested_bad.cfg", "a = {\n  flag = 1;\n};\n");
  hp_error_clear();
  expect_config_error(hp_config_load_keys(test_keys, n_test_keys, "nested_bad.cfg", 0, NULL, &cfg),
                      (const char *[]){"nested_bad.cfg:2: a.flag", "expected a boolean", "got an integer (1)", NULL},
                      NULL);
  write_file("nested_bad2.cfg", "a = {\n  b = {\n    deeep = 2;\n  };\n};\n");
  hp_error_clear();
  expect_config_error(hp_config_load_keys(test_keys, n_test_keys, "nested_bad2.cfg", 0, NULL, &cfg),
                      (const char *[]){"nested_bad2.cfg:3: a.b.deeep", "did you mean 'a.b.deep'", NULL}, NULL);
}

/* ---- dump: libconfig text that loads back to the same dump ---------------------------------- */

static char *dump_of(const hp_config *cfg) {
  char *text = NULL;
  int rc = hp_config_dump(cfg, &text);
  if (rc) fail_msg("%s", hp_error_message());
  assert_non_null(text);
  return text;
}

static void test_dump_round_trip(void **state) {
  (void)state;
  const char *ov[] = {
      "run.name=\"q\\\"uote \\\\ back\\nnew\\tline\"",
      "run.seed=4611686018427387904", /* needs the L suffix in libconfig text */
      "synth.noise=0.1",
      "data.train_frac=0.6", "data.val_frac=0.2", "data.test_frac=0.2",
      "run.stages=synth,ingest,train",
  };
  hp_config *cfg = load_ov(7, ov);
  assert_int_equal(hp_config_set(cfg, "run.dir", "runs/caf\xc3\xa9 \x01 dir"), 0); /* UTF-8, control byte */
  char *d1 = dump_of(cfg);
  print_message("%s", d1);
  assert_non_null(strstr(d1, "run = {\n"));
  assert_non_null(strstr(d1, "  seed = 4611686018427387904L;\n"));
  assert_non_null(strstr(d1, "  noise = 0.1;\n"));
  assert_non_null(strstr(d1, "  stages = [\"synth\", \"ingest\", \"train\"];\n"));
  /* keys sorted: groups data < run < synth, and blas_threads < dir inside run */
  assert_true(strstr(d1, "data = {") < strstr(d1, "run = {"));
  assert_true(strstr(d1, "run = {") < strstr(d1, "synth = {"));
  assert_true(strstr(d1, "blas_threads") < strstr(d1, "  dir ="));
  write_file("roundtrip.cfg", d1);
  hp_config *back = NULL;
  hp_error_clear();
  int rc = hp_config_load("roundtrip.cfg", 0, NULL, &back);
  if (rc) fail_msg("%s", hp_error_message());
  char *d2 = dump_of(back);
  assert_string_equal(d1, d2);
  assert_string_equal(hp_cfg_str(back, "run.name"), "q\"uote \\ back\nnew\tline");
  assert_string_equal(hp_cfg_str(back, "run.dir"), "runs/caf\xc3\xa9 \x01 dir");
  assert_true(hp_cfg_int(back, "run.seed") == INT64_C(4611686018427387904));
  assert_true(hp_cfg_float(back, "synth.noise") == 0.1);
  assert_true(hp_config_fingerprint(cfg, NULL) == hp_config_fingerprint(back, NULL));
  free(d1);
  free(d2);
  hp_config_free(cfg);
  hp_config_free(back);

  /* nested groups and an empty list, with the test table */
  const char *ov2[] = {"a.b.deep=-5", "z.ratio=1e-300"};
  hp_error_clear();
  rc = hp_config_load_keys(test_keys, n_test_keys, NULL, 2, ov2, &cfg);
  if (rc) fail_msg("%s", hp_error_message());
  d1 = dump_of(cfg);
  print_message("%s", d1);
  assert_non_null(strstr(d1, "a = {\n  b = {\n    deep = -5;\n    name = \"x\";\n  };\n  flag = false;\n"));
  assert_non_null(strstr(d1, "  list = [];\n"));
  write_file("roundtrip2.cfg", d1);
  hp_error_clear();
  rc = hp_config_load_keys(test_keys, n_test_keys, "roundtrip2.cfg", 0, NULL, &back);
  if (rc) fail_msg("%s", hp_error_message());
  d2 = dump_of(back);
  assert_string_equal(d1, d2);
  assert_true(hp_cfg_float(back, "z.ratio") == 1e-300);
  free(d1);
  free(d2);
  hp_config_free(cfg);
  hp_config_free(back);
}

/* ---- fingerprint ------------------------------------------------------------------------------ */

static uint64_t fp_with(const char *ov, const char *const *prefixes) {
  hp_config *cfg = load_ov(ov ? 1 : 0, ov ? (const char *[]){ov} : NULL);
  uint64_t fp = hp_config_fingerprint(cfg, prefixes);
  hp_config_free(cfg);
  return fp;
}

static void test_fingerprint(void **state) {
  (void)state;
  const char *const pre[] = {"run.seed", "data.", NULL};
  uint64_t base = fp_with(NULL, pre);
  assert_true(base == fp_with(NULL, pre)); /* deterministic */
  assert_true(base == fp_with("run.seed=1234", pre)); /* the default, given explicitly */
  assert_true(base != fp_with("run.seed=1235", pre));
  assert_true(base != fp_with("data.image_size=64", pre));
  assert_true(base != fp_with("data.caption_len=21", pre));
  assert_true(base == fp_with("synth.noise=0.5", pre));
  assert_true(base == fp_with("run.name=other", pre));
  assert_true(base == fp_with("run.blas_threads=4", pre));
  const char *const none[] = {NULL};
  assert_true(fp_with(NULL, none) == fp_with("data.image_size=64", none));
  assert_true(fp_with(NULL, NULL) != fp_with("run.name=other", NULL)); /* NULL: every key */

  /* "a.seed" is that key only, not a.seed_x */
  const char *const p2[] = {"a.seed", NULL};
  hp_config *c1 = NULL, *c2 = NULL, *c3 = NULL;
  assert_int_equal(hp_config_load_keys(test_keys, n_test_keys, NULL, 0, NULL, &c1), 0);
  assert_int_equal(hp_config_load_keys(test_keys, n_test_keys, NULL, 1, (const char *[]){"a.seed_x=9"}, &c2), 0);
  assert_int_equal(hp_config_load_keys(test_keys, n_test_keys, NULL, 1, (const char *[]){"a.seed=9"}, &c3), 0);
  assert_true(hp_config_fingerprint(c1, p2) == hp_config_fingerprint(c2, p2));
  assert_true(hp_config_fingerprint(c1, p2) != hp_config_fingerprint(c3, p2));
  /* "a.seed_" covers a.seed_x, not a.seed */
  const char *const p4[] = {"a.seed_", NULL};
  assert_true(hp_config_fingerprint(c1, p4) != hp_config_fingerprint(c2, p4));
  assert_true(hp_config_fingerprint(c1, p4) == hp_config_fingerprint(c3, p4));
  assert_true(hp_config_prefix_selects("a.seed_", "a.seed_x") && !hp_config_prefix_selects("a.seed_", "a.seed"));
  /* "a.b." covers the nested group only */
  const char *const p3[] = {"a.b.", NULL};
  assert_true(hp_config_fingerprint(c1, p3) == hp_config_fingerprint(c3, p3));
  hp_config_free(c1);
  hp_config_free(c2);
  hp_config_free(c3);
}

/* ---- doc -------------------------------------------------------------------------------------- */

static void test_doc(void **state) {
  (void)state;
  FILE *f = tmpfile();
  assert_non_null(f);
  hp_config_print_doc(f);
  rewind(f);
  char *doc = read_all(f);
  fclose(f);
  assert_non_null(strstr(doc, "hpclip config --doc"));
  assert_non_null(strstr(doc, "| key | type | default | allowed | description |"));
  char want[600];
  for (int i = 0; i < hp_cfg_nkeys; i++) {
    snprintf(want, sizeof want, "| `%s` |", hp_cfg_keys[i].key);
    if (!strstr(doc, want)) fail_msg("doc lacks key %s", hp_cfg_keys[i].key);
    if (!strstr(doc, hp_cfg_keys[i].doc)) fail_msg("doc lacks the description of %s", hp_cfg_keys[i].key);
    size_t gl = (size_t)(strchr(hp_cfg_keys[i].key, '.') - hp_cfg_keys[i].key);
    snprintf(want, sizeof want, "\n## %.*s\n", (int)gl, hp_cfg_keys[i].key);
    if (!strstr(doc, want)) fail_msg("doc lacks the section of %s", hp_cfg_keys[i].key);
  }
  assert_non_null(strstr(doc, "*required*"));
  assert_non_null(strstr(doc, "16 to 1024"));
  assert_non_null(strstr(doc, "`quiet`, `info`, `debug`"));
  free(doc);
}

/* ---- getters abort on a programming error ------------------------------------------------------ */

typedef enum { BAD_KEY, BAD_TYPE, BAD_INDEX, BAD_IS_SET } misuse;

static void expect_abort(misuse m, const char *needle) {
  hp_config *cfg = load_ov(0, NULL);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    FILE *e = freopen("abort_msg.txt", "w", stderr);
    if (!e) _exit(2);
    switch (m) {
      case BAD_KEY: (void)hp_cfg_int(cfg, "no.such_key"); break;
      case BAD_TYPE: (void)hp_cfg_int(cfg, "synth.noise"); break;
      case BAD_INDEX: (void)hp_cfg_list_str(cfg, "run.stages", 5); break;
      case BAD_IS_SET: (void)hp_cfg_is_set(cfg, "run.nope"); break;
    }
    _exit(0); /* reaching here is the failure */
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  hp_config_free(cfg);
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT) fail_msg("misuse %d did not abort", (int)m);
  FILE *f = fopen("abort_msg.txt", "r");
  assert_non_null(f);
  char *msg = read_all(f);
  fclose(f);
  if (!strstr(msg, "hpclip: internal error: config key '") || !strstr(msg, needle))
    fail_msg("abort message \"%s\" lacks \"%s\"", msg, needle);
  free(msg);
}

static void test_getter_aborts(void **state) {
  (void)state;
  expect_abort(BAD_KEY, "'no.such_key' is not in the key table");
  expect_abort(BAD_TYPE, "'synth.noise' is of type float, but was read with hp_cfg_int");
  expect_abort(BAD_INDEX, "'run.stages' has 1 items, item 5 was read");
  expect_abort(BAD_IS_SET, "'run.nope' is not in the key table");
}

/* ---- the table checks itself ------------------------------------------------------------------- */

static void expect_bad_table(const hp_cfg_key *keys, int n, const char *needle) {
  hp_config *cfg = NULL;
  hp_error_clear();
  int rc = hp_config_load_keys(keys, n, NULL, 0, NULL, &cfg);
  assert_null(cfg);
  if (rc != HP_ERR_INTERNAL) fail_msg("bad table accepted (rc %d): %s", rc, hp_error_message());
  if (!strstr(hp_error_message(), needle)) fail_msg("message \"%s\" lacks \"%s\"", hp_error_message(), needle);
}

static void test_table_checks(void **state) {
  (void)state;
  /* the real table: every default valid, every row documented */
  hp_config *cfg = load_ov(0, NULL);
  char *d = dump_of(cfg);
  free(d);
  hp_config_free(cfg);
  for (int i = 0; i < hp_cfg_nkeys; i++) {
    assert_non_null(hp_cfg_keys[i].doc);
    assert_true(strlen(hp_cfg_keys[i].doc) > 10);
  }
  const hp_cfg_key dup[] = {{"a.x", HP_T_INT, "1", 1, 0, NULL, "x"}, {"a.x", HP_T_INT, "1", 1, 0, NULL, "x"}};
  expect_bad_table(dup, 2, "appears twice");
  const hp_cfg_key grp[] = {{"a.x", HP_T_INT, "1", 1, 0, NULL, "x"}, {"a.x.y", HP_T_INT, "1", 1, 0, NULL, "x"}};
  expect_bad_table(grp, 2, "cannot also be a group");
  const hp_cfg_key rng[] = {{"a.x", HP_T_INT, "50", 0, 10, NULL, "x"}};
  expect_bad_table(rng, 1, "out of range");
  const hp_cfg_key enm[] = {{"a.x", HP_T_ENUM, "a", 1, 0, NULL, "x"}};
  expect_bad_table(enm, 1, "ENUM without choices");
  const hp_cfg_key ech[] = {{"a.x", HP_T_ENUM, "d", 1, 0, "a|b", "x"}};
  expect_bad_table(ech, 1, "not one of");
  const hp_cfg_key path[] = {{"nodot", HP_T_INT, "1", 1, 0, NULL, "x"}};
  expect_bad_table(path, 1, "bad path");
  const hp_cfg_key upper[] = {{"A.x", HP_T_INT, "1", 1, 0, NULL, "x"}};
  expect_bad_table(upper, 1, "bad path");
  const hp_cfg_key nodoc[] = {{"a.x", HP_T_INT, "1", 1, 0, NULL, ""}};
  expect_bad_table(nodoc, 1, "no doc");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_file),
      cmocka_unit_test(test_defaults_only),
      cmocka_unit_test(test_include),
      cmocka_unit_test(test_file_errors),
      cmocka_unit_test(test_unreadable_file),
      cmocka_unit_test(test_override_precedence),
      cmocka_unit_test(test_override_values),
      cmocka_unit_test(test_override_errors),
      cmocka_unit_test(test_config_set),
      cmocka_unit_test(test_bool_and_nested),
      cmocka_unit_test(test_dump_round_trip),
      cmocka_unit_test(test_fingerprint),
      cmocka_unit_test(test_doc),
      cmocka_unit_test(test_getter_aborts),
      cmocka_unit_test(test_table_checks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
