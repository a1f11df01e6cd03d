/* memory.h — refuse a stage that would not fit, before it allocates.
 *
 * Each stage estimates its peak memory per rank from the config and the input sizes and calls
 * hp_mem_require() before its large allocations. The limit of a rank is the smallest of
 *  - run.memory_limit (MiB per rank; 0 = not set),
 *  - the address-space limit (ulimit -v, RLIMIT_AS) minus what the process already maps,
 *  - the node's MemAvailable shared by the ranks on that node.
 * Above it, every rank ends with HP_ERR_MEM and one message: what the stage needs and for what,
 * what is allowed and why, and which keys lower it. An estimate is not exact: the check catches
 * the configurations that cannot fit; an allocation that still fails is a clean HP_ERR_MEM
 * ("cannot allocate ... MiB") from HP_CALLOC, never a crash. */
#ifndef HP_BASE_MEMORY_H
#define HP_BASE_MEMORY_H

#include <mpi.h>
#include <stddef.h>

/* What this rank may still allocate, in bytes (SIZE_MAX = no limit known), from ulimit -v and
 * MemAvailable, with a short reason. */
int hp_mem_limit(MPI_Comm comm, size_t *limit, char *why, size_t whylen);

/* Collective. need = this rank's peak estimate in bytes, of which `allocated` are already
 * allocated (and so already count against ulimit -v); detail = what it is made of; keys = the
 * config keys (or actions) that lower it. */
int hp_mem_require(MPI_Comm comm, const char *stage, double limit_mib, size_t need, size_t allocated,
                   const char *detail, const char *keys);

#endif
