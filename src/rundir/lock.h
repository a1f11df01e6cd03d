/* lock.h — one job at a time in a run directory: RUN_DIR/.hpclip.lock, an advisory POSIX record
 * lock (fcntl, which NFS and Lustre honour) that rank 0 holds for the life of the process, the file
 * naming the holder (host, pid, start time, command). A second job stops at once with a message
 * naming the first. A job that ends (normally or by an error) empties the file; one that died
 * (SIGKILL, a lost node: the kernel releases its lock) leaves it, and the next job takes it over
 * and says so. */
#ifndef HP_RUNDIR_LOCK_H
#define HP_RUNDIR_LOCK_H

#include <mpi.h>

#define HP_RUN_LOCK_FILE ".hpclip.lock"

/* Collective: lock run_dir for this job (a no-op when this process holds it already). `what`
 * describes the job for the file ("hpclip run job.cfg"). HP_ERR_IO when another job holds it or
 * the lock cannot be taken; every rank returns the same verdict. */
int hp_run_lock(MPI_Comm comm, const char *run_dir, const char *what);

/* The end of the job, on rank 0 before any rank exits (a launcher ends the others as soon as one
 * exits non-zero): empty the lock files and release the locks. Also run at exit. */
void hp_run_unlock_all(void);

#endif
