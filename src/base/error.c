/* error.c — error recording, tracing and collective agreement (see error.h). */
#include "base/error.h"
#include "base/watchdog.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HP_MSG_MAX 2048
#define HP_TRACE_MAX 4096

static char g_msg[HP_MSG_MAX];
static char g_trace[HP_TRACE_MAX];
static int g_collective = 0;
static int g_report = 1;

int hp_error_set(int code, const char *file, int line, const char *func, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_msg, sizeof g_msg, fmt, ap);
  va_end(ap);
  snprintf(g_trace, sizeof g_trace, "  at %s (%s:%d)\n", func, file, line);
  g_collective = 0;
  g_report = 1;
  return code;
}

int hp_error_trace(int code, const char *file, int line, const char *func) {
  size_t used = strlen(g_trace);
  if (used < sizeof g_trace - 1)
    snprintf(g_trace + used, sizeof g_trace - used, "  from %s (%s:%d)\n", func, file, line);
  return code;
}

const char *hp_error_message(void) { return g_msg; }
const char *hp_error_trace_text(void) { return g_trace; }

void hp_error_clear(void) {
  g_msg[0] = 0;
  g_trace[0] = 0;
  g_collective = 0;
  g_report = 1;
}

const char *hp_error_name(int code) {
  switch (code) {
    case HP_OK: return "ok";
    case HP_ERR_GENERIC: return "error";
    case HP_ERR_USAGE: return "usage error";
    case HP_ERR_CONFIG: return "config error";
    case HP_ERR_INPUT: return "input error";
    case HP_ERR_IO: return "I/O error";
    case HP_ERR_MEM: return "memory error";
    case HP_ERR_MPI: return "MPI error";
    case HP_ERR_NUMERIC: return "numerical error";
    case HP_ERR_NOTIMPL: return "not implemented";
    case HP_ERR_INTERNAL: return "internal error";
    case HP_ERR_PREEMPTED: return "preempted";
    case HP_ERR_WATCHDOG: return "watchdog";
    default: return "error";
  }
}

int hp_agree(MPI_Comm comm, int err) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  /* (code, rank) pairs: the max code wins; among failing ranks the lowest reports. */
  int local[2] = {err, err ? -rank : -size};
  int global[2];
  const char *prev = hp_watch_enter("waiting for the other ranks to agree on errors (hp_agree)");
  int mpi = MPI_Allreduce(local, global, 2, MPI_INT, MPI_MAX, comm);
  hp_watch_leave(prev);
  HP_CHECK(mpi == MPI_SUCCESS, HP_ERR_MPI, "error agreement failed");
  if (global[0] == 0) return 0;
  int reporter = -global[1];
  if (!err) {
    HP_ERROR_SET(global[0], "rank %d failed", reporter);
  }
  g_collective = 1;
  g_report = (err && rank == reporter);
  return global[0];
}

int hp_agree_root(MPI_Comm comm, int err) {
  int rank = 0;
  char msg[2048] = "";
  MPI_Comm_rank(comm, &rank);
  HP_MPI(MPI_Bcast(&err, 1, MPI_INT, 0, comm));
  if (!err) return 0;
  if (rank == 0) snprintf(msg, sizeof msg, "%s", hp_error_message());
  HP_MPI(MPI_Bcast(msg, sizeof msg, MPI_CHAR, 0, comm));
  if (rank != 0) HP_ERROR_SET(err, "%s", msg);
  HP_CALL(hp_agree(comm, err));
  return err;
}

int hp_error_should_report(void) { return g_report; }
int hp_error_is_collective(void) { return g_collective; }
