/* test_hooks.h — the fault-injection switches the tests set through the environment, read in
 * one place so that no stage calls getenv for them.
 *
 * Every hook is off unless its variable is set; production runs never set them. The tests
 * (tests/train, tests/cli) document what each one simulates:
 *   HPCLIP_TEST_NAN_GRAD=STEP:TENSOR          rank 0 poisons TENSOR's gradient at step STEP
 *   HPCLIP_TEST_CRASH_AT_STEP=STEP            the last rank SIGKILLs itself after step STEP
 *   HPCLIP_TEST_SIGNAL_AT_STEP=STEP           the last rank SIGUSR1s itself after step STEP
 *   HPCLIP_TEST_FAIL_AFTER_EPOCH=E            a trainer fails after epoch E's state is written
 *   HPCLIP_TEST_STALL=RANK:STAGE              that rank stops making progress in STAGE
 *   HPCLIP_TEST_FAIL=RANK:STAGE               that rank fails alone at the start of STAGE
 *   HPCLIP_TEST_KILL_BEFORE_COMMIT=RANK       that rank SIGKILLs itself when an .h5 file is
 *                                             written whole but not yet renamed into place
 *   HPCLIP_TEST_ROUND_ROWS=R                  the evaluation stages read embeddings R rows a
 *                                             round (many rounds on tiny data)
 */
#ifndef HP_BASE_TEST_HOOKS_H
#define HP_BASE_TEST_HOOKS_H

#include <stddef.h>
#include <stdint.h>

/* The hook's text ("HPCLIP_TEST_" + name), or NULL when it is off. */
const char *hp_test_hook(const char *name);

/* An integer hook: its value, or `off` when unset or not a whole number. */
int64_t hp_test_hook_int(const char *name, int64_t off);

/* A "NUMBER:WORD" hook: 1 and the parts when set and well formed, else 0. */
int hp_test_hook_pair(const char *name, int64_t *number, char *word, size_t n);

#endif
