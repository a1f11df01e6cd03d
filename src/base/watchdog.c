/* watchdog.c — the watchdog thread (see watchdog.h); the beats and labels it reads are in
 * heartbeat.c, which error.c's hp_agree uses without depending on this file. */
#define _POSIX_C_SOURCE 200809L
#include "base/watchdog.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/tmpfile.h"

static atomic_llong g_limit_ms;           /* 0 = off */
static atomic_int g_running;
static int g_rank;
static pthread_t g_thread;
static _Atomic(hp_watchdog_diagnosis_fn) g_diagnosis;

void hp_watchdog_set_diagnosis(hp_watchdog_diagnosis_fn fn) { atomic_store(&g_diagnosis, fn); }

/* One line to stderr with write(2) (no stdio in this thread); nothing to do if stderr is gone. */
static void write_line(const char *msg, int n, size_t cap) {
  if (n <= 0) return;
  ssize_t w = write(STDERR_FILENO, msg, (size_t)n < cap ? (size_t)n : cap - 1);
  (void)w;
}

static void *watch_loop(void *arg) {
  (void)arg;
  while (atomic_load(&g_running)) {
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
    long long limit = atomic_load(&g_limit_ms);
    if (limit <= 0) continue;
    long long idle = hp_watch_idle_ms_();
    if (idle < limit) continue;
    const char *st, *what;
    hp_watch_labels_(&st, &what);
    char msg[1024];
    int n = snprintf(msg, sizeof msg,
                     "hpclip: watchdog [rank %d]: no progress for %.0f s in stage %s while %s; ending the job "
                     "(run.watchdog = %.0f s)\n",
                     g_rank, (double)idle / 1000.0, st ? st : "(none)", what ? what : "working",
                     (double)limit / 1000.0);
    write_line(msg, n, sizeof msg);
    hp_watchdog_diagnosis_fn diagnose = atomic_load(&g_diagnosis);
    if (diagnose) {
      char d[768];
      d[0] = '\0';
      diagnose(d, sizeof d);
      if (d[0]) write_line(msg, snprintf(msg, sizeof msg, "hpclip: watchdog [rank %d]: %s\n", g_rank, d), sizeof msg);
    }
    hp_tmpfile_remove_all();
    _exit(HP_ERR_WATCHDOG);
  }
  return NULL;
}

int hp_watchdog_start(int rank, double seconds) {
  g_rank = rank;
  hp_watch_beat();
  atomic_store(&g_limit_ms, seconds > 0 ? (long long)(seconds * 1000.0) : 0);
  if (seconds <= 0 || atomic_load(&g_running)) return 0;
  atomic_store(&g_running, 1);
  int e = pthread_create(&g_thread, NULL, watch_loop, NULL);
  if (e != 0) {
    atomic_store(&g_running, 0);
    HP_ERROR(HP_ERR_GENERIC, "cannot start the watchdog thread: %s", strerror(e));
  }
  return 0;
}

void hp_watchdog_stop(void) {
  if (!atomic_load(&g_running)) return;
  atomic_store(&g_running, 0);
  pthread_join(g_thread, NULL);
}
