/* preempt.c — see preempt.h. */
#define _POSIX_C_SOURCE 200809L
#include "base/preempt.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/tmpfile.h"

static volatile sig_atomic_t g_sig = 0;
static volatile sig_atomic_t g_polling = 0;
/* composed at install time: the handler only writes them. Not "hpclip: ..." at the start of the
 * line, which marks an error report: when mpirun ends a failing job it SIGTERMs the other ranks
 * too, and their note must not read as a second error. */
static char g_msg_term[160], g_msg_usr1[160];

static void put(const char *s) {
  ssize_t w = write(STDERR_FILENO, s, strlen(s)); /* strlen and write are async-signal-safe */
  (void)w;
}

static volatile sig_atomic_t g_peer_code = 0;
static void (*volatile g_at_exit)(void) = NULL;

void hp_preempt_at_exit(void (*fn)(void)) { g_at_exit = fn; }

static void on_signal(int sig) {
  if (g_peer_code) { /* the job failed elsewhere: nothing to checkpoint, nothing to requeue */
    hp_tmpfile_remove_all();
    if (g_at_exit) g_at_exit();
    _exit(g_peer_code);
  }
  g_sig = sig;
  if (g_polling) return;
  put(sig == SIGTERM ? g_msg_term : g_msg_usr1);
  hp_tmpfile_remove_all(); /* unlink() and stores only: async-signal-safe */
  if (g_at_exit) g_at_exit();
  _exit(HP_ERR_PREEMPTED);
}

void hp_preempt_install(int rank) {
  snprintf(g_msg_term, sizeof g_msg_term,
           "[hpclip rank %d] SIGTERM: stopping this stage (it cannot checkpoint mid-way; it reruns on requeue)\n", rank);
  snprintf(g_msg_usr1, sizeof g_msg_usr1,
           "[hpclip rank %d] SIGUSR1: stopping this stage (it cannot checkpoint mid-way; it reruns on requeue)\n", rank);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART; /* MPI and HDF5 calls in progress continue */
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

void hp_preempt_uninstall(void) {
  signal(SIGUSR1, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
}

void hp_preempt_peer_failed(int code) { g_peer_code = code > 0 && code < 256 ? code : 1; }

void hp_preempt_polling(int on) { g_polling = on ? 1 : 0; }

int hp_preempt_signal(void) { return (int)g_sig; }

int hp_preempt_agree(MPI_Comm comm, int *stop, int *sig) {
  int mine = (int)g_sig, any = 0;
  HP_MPI(MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, comm));
  *stop = any != 0;
  if (sig) *sig = any;
  return 0;
}
