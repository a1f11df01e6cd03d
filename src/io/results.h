/* results.h — results.h5, schema "hpclip.results" version 1 (hdf5-schemas/results.md).
 *
 * One group per evaluation stage (/search, /zeroshot, later /cluster, /caption) holding every
 * table the stage prints, stamped with the stage's own attributes (fingerprint, config, ...).
 * Several stages share the file: a stage rewrites it atomically — the other stages' groups are
 * copied from the current file into PATH.tmp, its own group is written, PATH.tmp is renamed.
 * The root `fingerprint` is a hash of the member groups' names and fingerprints, so a stage that
 * reads results.h5 (report) is invalidated by any change. The runner decides whether a stage
 * writing results.h5 is up to date from /STAGE's own `fingerprint` attribute.
 *
 * The file is small (tables), so rank 0 writes it with the serial driver (HDF5 can copy objects
 * between files only serially); the stages compute identical tables on every rank.
 * Usage (rank 0 only): hp_results_begin, any number of hp_results_* writes into the group,
 * hp_results_commit. hp_results_abort removes the temporary file.
 */
#ifndef HP_IO_RESULTS_H
#define HP_IO_RESULTS_H

#include <hdf5.h>
#include <stdint.h>

#define HP_RESULTS_SCHEMA "hpclip.results"
#define HP_RESULTS_VERSION 1

typedef struct {
  hid_t fid;
  char path[4096], tmp[4200], group[64];
} hp_results_w;

/* Start rewriting `path` for stage `group` ("search"): copies every other group of a valid
 * existing file (an invalid or foreign one is replaced, with a warning), creates /group. */
int hp_results_begin(const char *path, const char *group, hp_results_w *w);
/* Datasets in the group (`name` may contain '/' for subgroups, created as needed). */
int hp_results_f64(hp_results_w *w, const char *name, int ndims, const int64_t *dims, const double *data);
int hp_results_i64(hp_results_w *w, const char *name, int ndims, const int64_t *dims, const int64_t *data);
int hp_results_strings(hp_results_w *w, const char *name, int64_t n, const char *const *s);
/* Attributes of the group. */
int hp_results_attr_str(hp_results_w *w, const char *name, const char *value);
int hp_results_attr_i64(hp_results_w *w, const char *name, int64_t value);
int hp_results_attr_f64(hp_results_w *w, const char *name, double value);
/* Root attributes (config = the writing job's), close, rename. */
int hp_results_commit(hp_results_w *w, const char *config_text);
void hp_results_abort(hp_results_w *w);

#endif
