/* log.c — rank-aware logging and progress lines (see log.h). */
#include "base/log.h"
#include "base/watchdog.h"

#include <stdarg.h>
#include <stdio.h>

static int g_rank = 0, g_size = 1, g_level = HP_LOG_INFO;
static double g_t0 = 0.0;
static double log_every = 10.0;
static FILE *g_out = NULL; /* NULL = stdout */

void hp_log_init(MPI_Comm comm) {
  MPI_Comm_rank(comm, &g_rank);
  MPI_Comm_size(comm, &g_size);
  g_t0 = MPI_Wtime();
}

void hp_log_set_level(int level) { g_level = level; }
void hp_log_to_stderr(int on) { g_out = on ? stderr : NULL; }
int hp_log_level(void) { return g_level; }
int hp_log_rank(void) { return g_rank; }
int hp_log_size(void) { return g_size; }
double hp_now(void) { return MPI_Wtime(); }
void hp_log_set_every(double seconds) { log_every = seconds >= 0 ? seconds : 0; }
double hp_log_every(void) { return log_every; }

static void vlog(int level, const char *fmt, va_list ap) {
  if (g_rank != 0 || level > g_level) return;
  FILE *f = g_out ? g_out : stdout;
  fprintf(f, "[%8.2fs] ", MPI_Wtime() - g_t0);
  vfprintf(f, fmt, ap);
  fputc('\n', f);
  fflush(f);
}

void hp_log_info(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(HP_LOG_INFO, fmt, ap);
  va_end(ap);
}

void hp_log_debug(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(HP_LOG_DEBUG, fmt, ap);
  va_end(ap);
}

void hp_log_warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "hpclip: warning [rank %d]: ", g_rank);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  fflush(stderr);
  va_end(ap);
}

void hp_progress_start(hp_progress *p, const char *what, const char *unit, int64_t total) {
  p->what = what;
  p->unit = unit;
  p->total = total;
  p->t0 = p->last = MPI_Wtime();
  p->every = log_every;
}

static void progress_print(hp_progress *p, int64_t done, int final) {
  double now = MPI_Wtime(), dt = now - p->t0;
  double rate = dt > 0 ? (double)done / dt : 0.0;
  double pct = p->total > 0 ? 100.0 * (double)done / (double)p->total : 100.0;
  if (final) {
    hp_log_info("%s: %lld %s in %.2f s (%.1f %s/s)", p->what, (long long)done, p->unit, dt, rate,
                p->unit);
  } else {
    double eta = rate > 0 ? (double)(p->total - done) / rate : 0.0;
    hp_log_info("%s: %lld/%lld %s (%.0f%%), %.1f %s/s, ETA %.0f s", p->what, (long long)done,
                (long long)p->total, p->unit, pct, rate, p->unit, eta);
  }
}

void hp_progress_update(hp_progress *p, int64_t done) {
  hp_watch_beat();
  double now = MPI_Wtime();
  if (now - p->last < p->every) return;
  p->last = now;
  progress_print(p, done, 0);
}

void hp_progress_end(hp_progress *p, int64_t done) { progress_print(p, done, 1); }
