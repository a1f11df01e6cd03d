/* preempt.h — checkpoint-and-requeue on SIGUSR1 / SIGTERM.
 *
 * A batch system warns a job before it ends it (SLURM: `#SBATCH --signal=USR1@120`, SIGTERM at
 * the time limit or on preemption). hpclip catches both:
 *  - while a stage that can checkpoint runs (training marks itself with hp_preempt_polling(1)),
 *    the handler only sets a flag; the training loop asks hp_preempt_agree() after each step
 *    (one MPI_Allreduce of an int), and when any rank saw a signal every rank stops at the same
 *    step, the restart state is written atomically and the job ends with HP_ERR_PREEMPTED
 *    (exit code 12: "checkpointed, requeue me"). `hpclip run` later resumes bitwise equal;
 *  - elsewhere (a stage that cannot checkpoint mid-way) the handler removes this rank's
 *    temporary files and exits at once with the same code: the stage reruns from its start on
 *    requeue, complete stages are skipped, and no file that looks complete is left behind;
 *  - between stages the runner asks hp_preempt_agree() too, so a signal that arrives during a
 *    polling stage's last step does not start the next stage.
 * A second signal while a checkpoint is being written is not lost: the flag stays set. */
#ifndef HP_BASE_PREEMPT_H
#define HP_BASE_PREEMPT_H

#include <mpi.h>

void hp_preempt_install(int rank);
/* The job is ending (its result decided): default dispositions again, so the SIGTERM mpirun
 * sends to the remaining ranks of a failed job ends them quietly. */
void hp_preempt_uninstall(void);
/* 1: the running code polls the flag (checkpointable); 0: exit at once on a signal. */
void hp_preempt_polling(int on);
/* Another rank failed and said so (comm/peer_probe.h) before its MPI_Abort: a SIGTERM or SIGUSR1
 * from now on is the launcher ending the failed job, not a preemption, so the handler exits
 * quietly with that rank's error code (not "requeue me") and removes this rank's temporaries.
 * Async-signal-safe; called from the probe thread. */
/* A function the signal handler calls before it ends the process (async-signal-safe calls only:
 * the run directory's lock file is emptied this way, rundir/lock.h). One; NULL = none. */
void hp_preempt_at_exit(void (*fn)(void));

void hp_preempt_peer_failed(int code);
/* The signal number seen on this rank (0 = none). */
int hp_preempt_signal(void);
/* Collective: *stop = 1 on every rank when any rank saw a signal; *sig = the largest signal. */
int hp_preempt_agree(MPI_Comm comm, int *stop, int *sig);

#endif
