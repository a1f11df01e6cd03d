/* resources.h — what a stage cost this process: wall time, peak resident memory, bytes read
 * and written, from Linux's /proc/self (status VmHWM, io rchar/wchar).
 *
 * hp_res_begin resets the peak (writing 5 to /proc/self/clear_refs, Linux >= 4.0) so that the
 * peak of each stage of `hpclip run` is its own; where the kernel refuses, the peak is the
 * process's since it started and `peak_since_start` says so. Bytes are those that went through
 * read()/write() and friends (rchar/wchar): files (HDF5, JPEG, JSON) and, between nodes,
 * sockets; page-cache hits count, so a rate from them is what the stage saw, not the disk. */
#ifndef HP_BASE_RESOURCES_H
#define HP_BASE_RESOURCES_H

#include <stdint.h>

typedef struct {
  double t0, seconds;
  double peak_rss_mib;     /* VmHWM at hp_res_end, MiB; -1 if unknown */
  int64_t read_bytes, written_bytes; /* since hp_res_begin; -1 if unknown */
  int peak_since_start;    /* 1: the kernel did not let us reset the peak */
  int64_t rchar0, wchar0;
} hp_res;

void hp_res_begin(hp_res *r);
/* This process's peak resident memory so far (VmHWM), MiB; -1 if unknown. */
double hp_res_peak_rss_mib(void);
/* Return the heap's free pages to the system (glibc malloc_trim): after freeing a large,
 * short-lived structure that later allocations sit above. */
void hp_res_release_free(void);
void hp_res_end(hp_res *r);

#endif
