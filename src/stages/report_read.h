/* report_read.h — rank 0's serial reads of the run's HDF5 files for the report stage (summary.md
 * and report.html): dimensions, whole or partial datasets, string-table entries, optional
 * attributes. Errors name the file and object. */
#ifndef HP_STAGES_REPORT_READ_H
#define HP_STAGES_REPORT_READ_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

int hp_rr_dims(hid_t fid, const char *path, const char *obj, int *nd, int64_t *dims /* [8] */);
/* Elements [start, start+count) of a 1-D dataset, or the whole dataset (count < 0). */
int hp_rr_read(hid_t fid, const char *path, const char *obj, hid_t mtype, int64_t start, int64_t count, void *buf);
/* Rows [row0, row0+n) along dimension 0 of an N-D dataset (every other dimension whole). */
int hp_rr_read_rows(hid_t fid, const char *path, const char *obj, hid_t mtype, int64_t row0, int64_t n, void *buf);
/* A whole numeric dataset of at most max values as doubles (a new array): *n values, its shape. */
int hp_rr_read_all(hid_t fid, const char *path, const char *obj, int64_t max, double **out, int64_t *n, int *nd,
                   int64_t *dims /* [8] */);
/* 1 if the object exists (0 also when the question fails). */
int hp_rr_exists(hid_t fid, const char *path, const char *obj);
/* String k of string table `grp` (a new string); the table's count. */
int hp_rr_strtab_get(hid_t fid, const char *path, const char *grp, int64_t k, char **out);
int hp_rr_strtab_count(hid_t fid, const char *path, const char *grp, int64_t *k);
int hp_rr_is_strtab(hid_t fid, const char *path, const char *grp);
/* Optional attributes: NULL / def when absent or unreadable. */
char *hp_rr_attr_str(hid_t fid, const char *path, const char *obj, const char *name);
int64_t hp_rr_attr_int(hid_t fid, const char *path, const char *obj, const char *name, int64_t def);
/* Value of `key=` in a "key=value key=value" text into buf; 1 if found. */
int hp_rr_state_value(const char *state, const char *key, char *buf, size_t n);

#endif
