/* log.h — rank-aware logging, progress lines, timers.
 * Rank 0 logs to stdout ("[   1.23s] message"); warnings from any rank go to stderr with the
 * rank. hp_log_init must run after MPI_Init. */
#ifndef HP_BASE_LOG_H
#define HP_BASE_LOG_H

#include <stdint.h>
#include <mpi.h>

enum { HP_LOG_QUIET = 0, HP_LOG_INFO = 1, HP_LOG_DEBUG = 2 };

void hp_log_init(MPI_Comm comm);
void hp_log_set_level(int level);
/* Log lines to stderr instead of stdout (a command whose stdout is its answer: `hpclip query`). */
void hp_log_to_stderr(int on);
int hp_log_level(void);
int hp_log_rank(void);
int hp_log_size(void);

/* Rank 0 only. */
void hp_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hp_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Any rank, to stderr, prefixed with the rank. */
void hp_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Seconds between the progress lines of a long loop (run.log_every; default 10, 0 = every
 * update). Loops that print their own lines (the trainer's steps) ask hp_log_every(). */
void hp_log_set_every(double seconds);
double hp_log_every(void);

/* Wall clock in seconds (MPI_Wtime). */
double hp_now(void);

/* Progress of a long loop: prints "what: done/total (pct) rate unit/s, ETA" on rank 0 at most
 * every hp_log_every() seconds. `done` and `total` are global counts (callers scale local counts). */
typedef struct {
  const char *what;
  const char *unit;
  int64_t total;
  double t0, last, every;
} hp_progress;

void hp_progress_start(hp_progress *p, const char *what, const char *unit, int64_t total);
void hp_progress_update(hp_progress *p, int64_t done);
void hp_progress_end(hp_progress *p, int64_t done);

#endif
