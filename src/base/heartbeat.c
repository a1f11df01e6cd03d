/* heartbeat.c — the progress beats and "what this rank is doing" labels of watchdog.h: plain
 * atomics, no dependencies, so that base/error.c (hp_agree labels its wait) does not depend on
 * the watchdog thread (watchdog.c), which records errors and removes temporary files. */
#define _POSIX_C_SOURCE 200809L
#include "base/watchdog.h"

#include <stdatomic.h>
#include <time.h>

static atomic_llong g_beat_ms;            /* monotonic ms of the last beat */
static _Atomic(const char *) g_doing = NULL;
static _Atomic(const char *) g_stage = NULL;

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void hp_watch_beat(void) { atomic_store_explicit(&g_beat_ms, now_ms(), memory_order_relaxed); }

void hp_watch_doing(const char *what) {
  atomic_store(&g_doing, what);
  hp_watch_beat();
}

const char *hp_watch_enter(const char *what) {
  const char *prev = atomic_exchange(&g_doing, what);
  hp_watch_beat();
  return prev;
}

void hp_watch_leave(const char *previous) {
  atomic_store(&g_doing, previous);
  hp_watch_beat();
}

void hp_watch_stage(const char *stage) {
  atomic_store(&g_stage, stage);
  atomic_store(&g_doing, "starting");
  hp_watch_beat();
}

long long hp_watch_idle_ms_(void) { return now_ms() - atomic_load_explicit(&g_beat_ms, memory_order_relaxed); }

void hp_watch_labels_(const char **stage, const char **doing) {
  *stage = atomic_load(&g_stage);
  *doing = atomic_load(&g_doing);
}
