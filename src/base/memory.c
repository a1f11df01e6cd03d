/* memory.c — see memory.h. */
#define _GNU_SOURCE
#include "base/memory.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"

/* bytes this process maps now (VmSize) */
static size_t mapped_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long pages = 0;
  if (!f) return 0;
  if (fscanf(f, "%lu", &pages) != 1) pages = 0;
  fclose(f);
  return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

static size_t mem_available(void) {
  FILE *f = fopen("/proc/meminfo", "r");
  char line[256];
  unsigned long kb = 0;
  if (!f) return SIZE_MAX;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "MemAvailable: %lu kB", &kb) == 1) break;
  fclose(f);
  return kb ? (size_t)kb * 1024 : SIZE_MAX;
}

int hp_mem_limit(MPI_Comm comm, size_t *limit, char *why, size_t whylen) {
  *limit = SIZE_MAX;
  snprintf(why, whylen, "no limit");
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    size_t used = mapped_bytes(), cap = (size_t)rl.rlim_cur;
    size_t left = cap > used ? cap - used : 0;
    if (left < *limit) {
      *limit = left;
      snprintf(why, whylen, "ulimit -v %zu KiB, of which %.0f MiB are already mapped", cap / 1024,
               (double)used / 1048576.0);
    }
  }
  /* MemAvailable of this node, shared by the ranks on it */
  MPI_Comm node;
  int local = 1;
  HP_MPI(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
  MPI_Comm_size(node, &local);
  MPI_Comm_free(&node);
  size_t avail = mem_available();
  if (avail != SIZE_MAX && avail / (size_t)local < *limit) {
    *limit = avail / (size_t)local;
    snprintf(why, whylen, "MemAvailable %.0f MiB on this node shared by its %d rank(s)", (double)avail / 1048576.0,
             local);
  }
  return 0;
}

int hp_mem_require(MPI_Comm comm, const char *stage, double limit_mib, size_t need, size_t allocated,
                   const char *detail, const char *keys) {
  size_t limit;
  char why[256];
  int rank;
  MPI_Comm_rank(comm, &rank);
  HP_CALL(hp_mem_limit(comm, &limit, why, sizeof why));
  int err = 0;
  if (allocated > need) allocated = need;
  /* run.memory_limit caps the whole peak; the system limits what is still to be allocated */
  size_t more = need - allocated;
  int over = limit_mib > 0 && (double)need > limit_mib * 1048576.0;
  if (over)
    err = HP_ERROR_SET(HP_ERR_MEM,
                       "stage %s needs about %.1f MiB per rank (%s), above run.memory_limit = %.1f MiB; lower it "
                       "with %s, or raise the limit",
                       stage, (double)need / 1048576.0, detail, limit_mib, keys);
  else if (more > limit)
    err = HP_ERROR_SET(HP_ERR_MEM,
                       "stage %s needs about %.1f MiB per rank (%s); the %.1f MiB still to allocate exceed rank %d's "
                       "remaining %.1f MiB (%s); lower it with %s, or raise the limit",
                       stage, (double)need / 1048576.0, detail, (double)more / 1048576.0, rank,
                       (double)limit / 1048576.0, why, keys);
  else
    hp_log_debug("%s: memory estimate %.0f MiB per rank (%s); limit %s%.0f MiB (%s)", stage,
                 (double)need / 1048576.0, detail, limit == SIZE_MAX ? "none: " : "",
                 limit == SIZE_MAX ? 0.0 : (double)limit / 1048576.0, why);
  HP_CALL(hp_agree(comm, err));
  return 0;
}
