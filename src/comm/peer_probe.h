/* peer_probe.h — which ranks still answer, asked without MPI.
 *
 * When the watchdog ends a job stuck in a collective, the useful fact is which peer is gone: a
 * node whose link went down, a process frozen (SIGSTOP, a debugger, a swapped-out node) or
 * killed. MPI cannot be asked (it is what hangs), so each rank also answers small UDP probes
 * from a thread of its own; a stopped or unreachable process does not. The watchdog thread
 * sends one probe to every other rank and names those that stay silent.
 *
 * hp_peer_probe_start is collective (an MPI_Allgather of every rank's host name, IPv4 addresses
 * and UDP port) and idempotent; it registers hp_peer_probe_report as the watchdog's diagnosis.
 * Probes carry a per-job token: a rank answers only its own job. A cluster whose nodes drop UDP
 * between them makes every peer look silent; the report says that possibility. */
#ifndef HP_COMM_PEER_PROBE_H
#define HP_COMM_PEER_PROBE_H

#include <mpi.h>
#include <stddef.h>

int hp_peer_probe_start(MPI_Comm comm);
void hp_peer_probe_stop(void);

/* Probe every other rank (no MPI calls; safe from the watchdog thread); writes one line into
 * buf naming the ranks (and hosts) that did not answer within timeout_s seconds. Returns the
 * number of silent ranks, or -1 when probing is not running. */
int hp_peer_probe_report(char *buf, size_t n, double timeout_s);

/* This rank failed alone and is about to MPI_Abort: tell every other rank first, so that the
 * SIGTERM the launcher then sends them ends them quietly with this error code
 * (hp_preempt_peer_failed) instead of reading as a preemption. Waits up to timeout_s for the
 * acknowledgements; returns how many ranks did not acknowledge, -1 when probing is not running. */
int hp_peer_probe_announce_failure(int code, double timeout_s);

/* This rank's host name as gathered (for messages). */
const char *hp_peer_probe_host(void);

#endif
