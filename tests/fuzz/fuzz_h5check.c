/* fuzz_h5check.c — the HDF5 schema validator (hp_check_file_local, what `hpclip check` and every
 * reader run first). Input: the bytes of a file, written to a temporary file and validated. */
#include "base/error.h"
#include "harness.h"
#include "io/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = hp_fuzz_write("input.h5", data, size);
  if (!path) return 0;
  hp_check_file_local(path);
  hp_error_clear();
  return 0;
}
