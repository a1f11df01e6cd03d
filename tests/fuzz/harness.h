/* harness.h — shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.c).
 *
 * Each harness defines LLVMFuzzerTestOneInput. Built two ways:
 *   - with clang -fsanitize=fuzzer,address,undefined (cmake -DHPCLIP_FUZZ=ON, scripts/fuzz.sh);
 *   - with the normal compiler and replay_main.c as a plain "replay" executable that runs the
 *     committed seed and regression inputs (tests/fuzz/corpus, tests/fuzz/regress) in ctest.
 * Inputs reach the code under test through files in one private temporary directory (the
 * readers take paths), created once per process and removed at exit. */
#ifndef HP_FUZZ_HARNESS_H
#define HP_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The private directory (created on first use; MPI initialised once, single process). */
const char *hp_fuzz_dir(void);
/* Write data to hp_fuzz_dir()/rel (parent directories created); returns the full path in a
 * static buffer, or NULL on failure (the harness then returns). */
const char *hp_fuzz_write(const char *rel, const void *data, size_t size);
/* Remove hp_fuzz_dir()/rel if it exists. */
void hp_fuzz_unlink(const char *rel);

#endif
