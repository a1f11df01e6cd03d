/* lock.c — the run directory's lock (see lock.h). */
#define _POSIX_C_SOURCE 200809L
#include "rundir/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "base/preempt.h"

enum { MAX_HELD = 16 };
static char g_held[MAX_HELD][4096]; /* run directories this process holds (the fds stay open) */
static int g_nheld, g_fd[MAX_HELD], g_nfd;

/* At a normal end (an error exit too): empty the lock files, so that the next job finds a
 * non-empty one only after a holder that died (SIGKILL, a lost node) */
/* from the preemption handler: ftruncate only (async-signal-safe); the process ends next */
static void unlock_in_handler(void) {
  for (int i = 0; i < g_nfd; i++) (void)ftruncate(g_fd[i], 0);
}

void hp_run_unlock_all(void) {
  for (int i = 0; i < g_nfd; i++)
    if (ftruncate(g_fd[i], 0) == 0) close(g_fd[i]);
  g_nfd = 0;
}

/* Rank 0: take the lock, or say who has it. */
static int lock_local(const char *run_dir, const char *what) {
  char path[4200], old[1024] = "";
  if (snprintf(path, sizeof path, "%s/%s", run_dir, HP_RUN_LOCK_FILE) >= (int)sizeof path)
    HP_ERROR(HP_ERR_USAGE, "%s: path too long", run_dir);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0664);
  if (fd < 0) HP_ERROR(HP_ERR_IO, "%s: cannot open the run directory's lock file: %s", path, strerror(errno));
  ssize_t n = pread(fd, old, sizeof old - 1, 0);
  old[n > 0 ? n : 0] = 0;
  old[strcspn(old, "\n")] = 0;
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
  if (fcntl(fd, F_SETLK, &fl) != 0) {
    int en = errno;
    close(fd);
    if (en == EACCES || en == EAGAIN)
      HP_ERROR(HP_ERR_IO, "run directory %s is in use by another hpclip job (%s): two jobs in one run directory "
               "would overwrite each other's files; wait for it to end, or give this job another --run-dir",
               run_dir, old[0] ? old : "holder unknown");
    HP_ERROR(HP_ERR_IO, "%s: cannot lock the run directory: %s (a file system without POSIX locks?)", path,
             strerror(en));
  }
  if (old[0]) hp_log_info("run directory %s: the lock of a job that is no longer running (%s) is taken over", run_dir, old);
  char host[256] = "?", line[1400];
  gethostname(host, sizeof host - 1);
  time_t now = time(NULL);
  struct tm tm;
  char when[32] = "?";
  if (gmtime_r(&now, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  int len = snprintf(line, sizeof line, "host %s, pid %ld, since %s: %s\n", host, (long)getpid(), when, what);
  if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)len, 0) != len)
    hp_log_warn("%s: cannot record this job in the lock file: %s (the lock holds)", path, strerror(errno));
  if (g_nfd == 0) {
    atexit(hp_run_unlock_all);
    hp_preempt_at_exit(unlock_in_handler);
  }
  if (g_nfd < MAX_HELD) g_fd[g_nfd++] = fd;
  return 0; /* fd stays open: closing any descriptor of the file would release the lock */
}

int hp_run_lock(MPI_Comm comm, const char *run_dir, const char *what) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  for (int i = 0; i < g_nheld; i++)
    if (strcmp(g_held[i], run_dir) == 0) return 0; /* the same on every rank: same arguments */
  int e = rank == 0 ? lock_local(run_dir, what) : 0;
  HP_CALL(hp_agree_root(comm, e));
  if (g_nheld < MAX_HELD) snprintf(g_held[g_nheld++], sizeof g_held[0], "%s", run_dir);
  return 0;
}
