/* fuzz_config.c — the job-file loader and its -s overrides (hp_config_load with the real key
 * table). Input: the job file, then optionally a line "--" followed by one override
 * "key=value" per line (at most 16). A loaded config is also dumped (hp_config_dump). */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "config/config.h"
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = 0;
  size_t cfg_len = size;
  const char *ov[16];
  int nov = 0;
  char *sep = strstr(text, "\n--\n");
  if (sep) {
    cfg_len = (size_t)(sep - text) + 1;
    char *p = sep + 4;
    while (*p && nov < 16) {
      char *nl = strchr(p, '\n');
      if (nl) *nl = 0;
      ov[nov++] = p;
      if (!nl) break;
      p = nl + 1;
    }
  }
  const char *path = hp_fuzz_write("job.cfg", text, cfg_len);
  if (path) {
    hp_config *cfg = NULL;
    if (hp_config_load(path, nov, ov, &cfg) == 0) {
      char *dump = NULL;
      if (hp_config_dump(cfg, &dump) == 0) free(dump);
      hp_config_free(cfg);
    }
    hp_error_clear();
  }
  free(text);
  return 0;
}
