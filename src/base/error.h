/* error.h — one error discipline for all of hpclip (PETSc's PetscCall style).
 *
 * Every function that can fail returns int: 0 on success, an hp_err code otherwise.
 *   HP_ERROR(code, fmt, ...)        records the reason (with file/function/line) and returns code.
 *   HP_CHECK(cond, code, fmt, ...)  HP_ERROR(code, fmt, ...) when cond is false.
 *   HP_ERROR_SET(code, fmt, ...)    records the reason and does NOT return: an expression worth
 *                                   code, for paths that clean up or agree before returning
 *                                   (`err = HP_ERROR_SET(...)`, `hp_agree(comm, HP_ERROR_SET(...))`).
 *   HP_CALL(expr)                   runs expr; on failure appends this frame to the trace, returns.
 *   HP_MPI(expr)                    same for an MPI call, with MPI's own error string.
 * Never call hp_error_set with __FILE__/__LINE__/__func__ by hand: these macros do it.
 * The first HP_ERROR on a rank sets the message; HP_CALL frames add the "called from" trace.
 * The top level (cli/main.c) prints the message with the rank and ends the whole job:
 * MPI_Abort for a failure on some ranks, a clean collective exit when all ranks agreed
 * (see hp_agree) — never a hang. Error paths may leak: the process is about to end.
 */
#ifndef HP_BASE_ERROR_H
#define HP_BASE_ERROR_H

#include <stddef.h>
#include <stdint.h>
#include <mpi.h>

typedef enum {
  HP_OK = 0,
  HP_ERR_GENERIC = 1,   /* none of the below (e.g. the watchdog thread cannot start) */
  HP_ERR_USAGE = 2,     /* command line */
  HP_ERR_CONFIG = 3,    /* job configuration */
  HP_ERR_INPUT = 4,     /* bad input file or data (HDF5, images, captions) */
  HP_ERR_IO = 5,        /* system I/O: cannot open, write, rename, disk full */
  HP_ERR_MEM = 6,       /* allocation failure or size overflow */
  HP_ERR_MPI = 7,       /* MPI failure */
  HP_ERR_NUMERIC = 8,   /* NaN/Inf and friends */
  HP_ERR_NOTIMPL = 9,   /* stage or feature not implemented yet */
  HP_ERR_INTERNAL = 10, /* a bug: an invariant that should hold did not */
  /* 11 is not used (it was a never-returned "another rank failed"): codes are exit statuses,
   * so a number is not reused. The usage text (cli/main.c) and docs/errors.md list every code
   * here; tests/cli/cli_exit_codes.sh checks both. */
  HP_ERR_PREEMPTED = 12, /* SIGUSR1/SIGTERM: state checkpointed (or stage not started), requeue me */
  HP_ERR_WATCHDOG = 13  /* a rank made no progress for run.watchdog seconds (base/watchdog.h) */
} hp_err;

/* Record a new error; returns code. printf-style reason. */
int hp_error_set(int code, const char *file, int line, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Append a "called from" frame; returns code unchanged. */
int hp_error_trace(int code, const char *file, int line, const char *func);
/* The recorded message (first line = reason) and trace; "" when none. */
const char *hp_error_message(void);
const char *hp_error_trace_text(void);
void hp_error_clear(void);
/* Short name of a code ("config error", ...). */
const char *hp_error_name(int code);

#define HP_ERROR_SET(code, ...) hp_error_set((code), __FILE__, __LINE__, __func__, __VA_ARGS__)
#define HP_ERROR(code, ...) return HP_ERROR_SET((code), __VA_ARGS__)
#define HP_CHECK(cond, code, ...)                                            \
  do {                                                                       \
    if (!(cond)) HP_ERROR((code), __VA_ARGS__);                              \
  } while (0)

#define HP_CALL(expr)                                                        \
  do {                                                                       \
    int hp_e_ = (expr);                                                      \
    if (hp_e_) return hp_error_trace(hp_e_, __FILE__, __LINE__, __func__);   \
  } while (0)

#define HP_MPI(expr)                                                         \
  do {                                                                       \
    int hp_m_ = (expr);                                                      \
    if (hp_m_ != MPI_SUCCESS) {                                              \
      char hp_s_[MPI_MAX_ERROR_STRING];                                      \
      int hp_l_ = 0;                                                         \
      MPI_Error_string(hp_m_, hp_s_, &hp_l_);                                \
      HP_ERROR(HP_ERR_MPI, "%s failed: %s", #expr, hp_s_);                   \
    }                                                                        \
  } while (0)

/* Collective agreement on an error: every rank of comm passes its local code; all get
 * the same non-zero code (the highest) if any rank failed, so every rank exits with it.
 * Ranks that did not fail record the message "rank N failed"; the lowest failing rank is
 * the one that reports. Use at points every rank reaches (after config load, after
 * validation) so that errors everybody sees end the job cleanly, without MPI_Abort. */
int hp_agree(MPI_Comm comm, int err);
/* Collective, for work only rank 0 does (rank 0 passes its result, the others 0): rank 0's
 * verdict AND message become every rank's, then hp_agree; returns that verdict. */
int hp_agree_root(MPI_Comm comm, int err);
/* 1 if this rank should print the error after hp_agree (it failed itself and is the
 * lowest failing rank), or when no agreement has happened (local failure). */
int hp_error_should_report(void);
/* 1 if the error is known to every rank (hp_agree ran). */
int hp_error_is_collective(void);

#endif

/* Checked allocation (HP_CALLOC) and size arithmetic live in base/alloc.h; every user of
 * error.h gets them, as before the split. */
#include "base/alloc.h"
