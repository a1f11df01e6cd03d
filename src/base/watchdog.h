/* watchdog.h — end the job when a rank stops making progress.
 *
 * A collective that a vanished peer never joins, or I/O stuck on a dead file system, would
 * otherwise hang a batch job until its time limit. Each rank runs one watchdog thread (no MPI
 * calls in it): work loops call hp_watch_beat() (hp_progress_update does), and code about to
 * block names what it waits for with hp_watch_doing("..."). When no beat arrives for the
 * configured time (`run.watchdog`, seconds; 0 = off), the thread prints
 *   hpclip: watchdog [rank R]: no progress for S s in stage STAGE while WHAT; ending the job
 * removes this rank's temporary files and calls _exit(HP_ERR_WATCHDOG): mpirun/srun then end
 * every rank. Labels must be string literals (or otherwise live for the whole run). */
#ifndef HP_BASE_WATCHDOG_H
#define HP_BASE_WATCHDOG_H

#include <stddef.h>

/* Start (or re-arm with a new timeout) the watchdog of this rank; seconds <= 0 stops it. */
int hp_watchdog_start(int rank, double seconds);
void hp_watchdog_stop(void);

/* A diagnosis the watchdog thread runs after its message and before ending the job (e.g.
 * which peers still answer, comm/peer_probe.h): it writes one line into buf, makes no MPI calls
 * and returns within a few seconds. NULL removes it. */
typedef void (*hp_watchdog_diagnosis_fn)(char *buf, size_t n);
void hp_watchdog_set_diagnosis(hp_watchdog_diagnosis_fn fn);

/* Progress: resets the timer. */
void hp_watch_beat(void);
/* Names what this rank does or waits for now (a literal), and beats. */
void hp_watch_doing(const char *what);
/* Around a blocking call: names it, returns the previous label for hp_watch_leave. */
const char *hp_watch_enter(const char *what);
void hp_watch_leave(const char *previous);
/* Names the current stage (a literal or a string that outlives the stage), and beats. */
void hp_watch_stage(const char *stage);

/* For the watchdog thread (watchdog.c): milliseconds since the last beat; the current stage
 * and activity labels (NULL when unset). */
long long hp_watch_idle_ms_(void);
void hp_watch_labels_(const char **stage, const char **doing);

#endif
