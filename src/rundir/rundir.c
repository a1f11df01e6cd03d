/* rundir.c — run-directory paths and Markdown stamps (see rundir.h). */
#include "rundir/rundir.h"

#include <stdio.h>
#include <string.h>

#include "base/error.h"

const char *hp_run_file_key(const char *file) {
  if (strcmp(file, "dataset.h5") == 0) return "run.dataset";
  if (strcmp(file, "ckpt.h5") == 0) return "run.checkpoint";
  return NULL;
}

int hp_run_file(const hp_config *cfg, const char *run_dir, const char *file, char *buf, size_t n) {
  const char *key = cfg ? hp_run_file_key(file) : NULL, *moved = key ? hp_cfg_str(cfg, key) : "";
  int len = moved[0] ? snprintf(buf, n, "%s", moved) : snprintf(buf, n, "%s/%s", run_dir, file);
  if (len < 0 || (size_t)len >= n) HP_ERROR(HP_ERR_USAGE, "path too long: %s/%s", run_dir, file);
  return 0;
}

int hp_run_path(const hp_stage_ctx *ctx, const char *file, char *buf, size_t n) {
  return hp_run_file(ctx->cfg, ctx->run_dir, file, buf, n);
}

int hp_md_stamp_read(const char *path, const char *stage, char *fp, size_t n) {
  char line[256], pre[128];
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char *got = fgets(line, sizeof line, f);
  fclose(f);
  int len = snprintf(pre, sizeof pre, "<!-- hpclip %s fingerprint=", stage);
  if (!got || len < 0 || (size_t)len >= sizeof pre || strncmp(line, pre, (size_t)len) != 0) return 0;
  const char *h = line + len;
  size_t k = strspn(h, "0123456789abcdef");
  if (k == 0 || k >= n || strncmp(h + k, " -->", 4) != 0) return 0;
  memcpy(fp, h, k);
  fp[k] = 0;
  return 1;
}

void hp_stage_rate(hp_stage_ctx *ctx, const char *unit, double count, double seconds) {
  if (ctx->nrates >= (int)(sizeof ctx->rates / sizeof ctx->rates[0])) return;
  snprintf(ctx->rates[ctx->nrates].unit, sizeof ctx->rates[0].unit, "%s", unit);
  ctx->rates[ctx->nrates].count = count;
  ctx->rates[ctx->nrates].seconds = seconds;
  ctx->nrates++;
}
