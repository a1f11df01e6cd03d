/* rundir.c — run-directory paths and Markdown stamps (see rundir.h). */
#include "rundir/rundir.h"

#include <stdio.h>
#include <string.h>

#include "base/error.h"

int hp_run_path(const hp_stage_ctx *ctx, const char *file, char *buf, size_t n) {
  int len = snprintf(buf, n, "%s/%s", ctx->run_dir, file);
  if (len < 0 || (size_t)len >= n) HP_ERROR(HP_ERR_USAGE, "run directory path too long: %s", ctx->run_dir);
  return 0;
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
