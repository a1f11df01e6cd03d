/* test_stage_table.c — the runner's stage table against the config key table: every fingerprint
 * prefix of every stage selects at least one key (a prefix that selects none, such as a misspelt
 * one, would let a changed setting reuse a stale output), and changing a key a stage reads
 * changes that stage's fingerprint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "config/config.h"
#include "stages/stage.h"

static const hp_stage *stage_named(const char *name) {
  for (int s = 0; s < hp_nstages; s++)
    if (strcmp(hp_stages[s].name, name) == 0) return &hp_stages[s];
  fail_msg("no stage '%s' in the table", name);
  return NULL;
}

static void test_every_prefix_selects_a_key(void **state) {
  (void)state;
  for (int s = 0; s < hp_nstages; s++)
    for (int p = 0; hp_stages[s].config_prefixes[p]; p++) {
      const char *pre = hp_stages[s].config_prefixes[p];
      if (strcmp(pre, "report.") == 0) continue; /* a group kept for report options to come: none yet */
      int n = 0;
      for (int k = 0; k < hp_cfg_nkeys; k++) n += hp_config_prefix_selects(pre, hp_cfg_keys[k].key);
      if (n == 0) fail_msg("stage %s: fingerprint prefix '%s' selects no config key", hp_stages[s].name, pre);
    }
}

static uint64_t fp(const char *stage, const char *override) {
  hp_config *c = NULL;
  const char *ov[] = {"run.dir=.", override};
  if (hp_config_load(NULL, override ? 2 : 1, ov, &c)) fail_msg("%s: %s", override ? override : "defaults", hp_error_message());
  uint64_t f = hp_config_fingerprint(c, stage_named(stage)->config_prefixes);
  hp_config_free(c);
  return f;
}

/* Every caption.train_* key changes caption-train's fingerprint (the prefix "caption.train_"
 * once selected none of them), and a decoding-only key does not. */
static void test_caption_train_fingerprint(void **state) {
  (void)state;
  const uint64_t base = fp("caption-train", NULL);
  const char *changed[] = {"caption.train_lr=0.5", "caption.train_batch=8", "caption.train_epochs=3",
                           "caption.train_patience=5", "caption.train_optimizer=adamw",
                           "caption.train_weight_decay=0.1", "caption.train_max_steps=7", "caption.width=64",
                           "run.seed=99"};
  for (size_t i = 0; i < sizeof changed / sizeof changed[0]; i++)
    if (fp("caption-train", changed[i]) == base) fail_msg("caption-train: '%s' leaves its fingerprint unchanged", changed[i]);
  assert_true(fp("caption-train", "caption.beam=3") == base);
  assert_true(fp("caption", "caption.beam=3") != fp("caption", NULL));
  assert_true(fp("train", "train.lr=0.5") != fp("train", NULL));
  assert_true(fp("train", "caption.train_lr=0.5") == fp("train", NULL));
}

/* synth lists its synth.* keys one by one (synth.coco_* belong to `hpclip synth-coco`'s folder):
 * every other synth.* key of the table must be among them, and a coco key must not rerun it. */
static void test_synth_fingerprint(void **state) {
  (void)state;
  const hp_stage *st = stage_named("synth");
  for (int k = 0; k < hp_cfg_nkeys; k++) {
    const char *key = hp_cfg_keys[k].key;
    if (strncmp(key, "synth.", 6) != 0) continue;
    int sel = 0;
    for (int p = 0; st->config_prefixes[p]; p++) sel |= hp_config_prefix_selects(st->config_prefixes[p], key);
    if (sel != (strncmp(key, "synth.coco_", 11) != 0))
      fail_msg("synth stage: key %s %s its fingerprint", key, sel ? "is in" : "is missing from");
  }
  const uint64_t base = fp("synth", NULL);
  assert_true(fp("synth", "synth.noise=0.2") != base);
  assert_true(fp("synth", "synth.coco_train_images=7") == base);
  assert_true(fp("synth", "synth.coco_root=/x") == base);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_prefix_selects_a_key),
      cmocka_unit_test(test_caption_train_fingerprint),
      cmocka_unit_test(test_synth_fingerprint),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
