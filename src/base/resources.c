/* resources.c — per-stage wall time, peak RSS and I/O bytes from /proc/self (see resources.h). */
#include "base/resources.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"

static void read_io(int64_t *rchar, int64_t *wchar) {
  *rchar = *wchar = -1;
  FILE *f = fopen("/proc/self/io", "r");
  if (!f) return;
  char line[128];
  long long v;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "rchar: %lld", &v) == 1) *rchar = v;
    if (sscanf(line, "wchar: %lld", &v) == 1) *wchar = v;
  }
  fclose(f);
}

double hp_res_peak_rss_mib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long long kb = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %lld kB", &kb) == 1) break;
  fclose(f);
  return kb < 0 ? -1 : kb / 1024.0;
}

void hp_res_release_free(void) { malloc_trim(0); }

void hp_res_begin(hp_res *r) {
  memset(r, 0, sizeof *r);
  /* hand freed heap back first, so a stage's peak does not start from the previous stage's */
  malloc_trim(0);
  FILE *f = fopen("/proc/self/clear_refs", "w");
  r->peak_since_start = !f || fputs("5", f) < 0;
  if (f && fclose(f) != 0) r->peak_since_start = 1;
  read_io(&r->rchar0, &r->wchar0);
  r->t0 = hp_now();
}

void hp_res_end(hp_res *r) {
  r->seconds = hp_now() - r->t0;
  r->peak_rss_mib = hp_res_peak_rss_mib();
  int64_t rc, wc;
  read_io(&rc, &wc);
  r->read_bytes = rc >= 0 && r->rchar0 >= 0 ? rc - r->rchar0 : -1;
  r->written_bytes = wc >= 0 && r->wchar0 >= 0 ? wc - r->wchar0 : -1;
}
