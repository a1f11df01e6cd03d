/* report_read.c — rank 0's serial reads of the run's HDF5 files for the report (see report_read.h). */
#include "stages/report_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "io/h5.h"

int hp_rr_dims(hid_t fid, const char *path, const char *obj, int *nd, int64_t *dims) {
  hid_t d, sp;
  hsize_t hd[8];
  HP_H5(HP_ERR_INPUT, d = H5Dopen2(fid, obj, H5P_DEFAULT), path, obj, "cannot open the dataset");
  HP_H5(HP_ERR_INPUT, sp = H5Dget_space(d), path, obj, "cannot read the dataspace");
  int n = H5Sget_simple_extent_ndims(sp);
  if (n < 0 || n > 8) HP_H5_ERROR(HP_ERR_INPUT, path, obj, "unsupported rank %d", n);
  H5Sget_simple_extent_dims(sp, hd, NULL);
  *nd = n;
  for (int i = 0; i < n; i++) dims[i] = (int64_t)hd[i];
  H5Sclose(sp);
  H5Dclose(d);
  return 0;
}

/* Elements [start, start+count) of a 1-D dataset, or the whole dataset (count < 0). */
int hp_rr_read(hid_t fid, const char *path, const char *obj, hid_t mtype, int64_t start, int64_t count,
                   void *buf) {
  hid_t d, fs, ms = H5S_ALL;
  HP_H5(HP_ERR_INPUT, d = H5Dopen2(fid, obj, H5P_DEFAULT), path, obj, "cannot open the dataset");
  HP_H5(HP_ERR_INPUT, fs = H5Dget_space(d), path, obj, "cannot read the dataspace");
  if (count >= 0) {
    hsize_t st = (hsize_t)start, ct = (hsize_t)count;
    HP_H5(HP_ERR_INPUT, H5Sselect_hyperslab(fs, H5S_SELECT_SET, &st, NULL, &ct, NULL), path, obj, "bad selection");
    HP_H5(HP_ERR_INPUT, ms = H5Screate_simple(1, &ct, NULL), path, obj, "cannot create a dataspace");
  }
  HP_H5(HP_ERR_INPUT, H5Dread(d, mtype, ms, count >= 0 ? fs : H5S_ALL, H5P_DEFAULT, buf), path, obj, "cannot read");
  if (count >= 0) H5Sclose(ms);
  H5Sclose(fs);
  H5Dclose(d);
  return 0;
}

int hp_rr_exists(hid_t fid, const char *path, const char *obj) {
  int e = 0;
  if (hp_h5_exists(fid, path, obj, &e) != 0) {
    hp_error_clear();
    return 0;
  }
  return e;
}

/* String k of string table `grp` (a new string). */
int hp_rr_strtab_get(hid_t fid, const char *path, const char *grp, int64_t k, char **out) {
  char o[512], b[512];
  uint64_t off[2];
  snprintf(o, sizeof o, "%s/offsets", grp);
  snprintf(b, sizeof b, "%s/bytes", grp);
  HP_CALL(hp_rr_read(fid, path, o, H5T_NATIVE_UINT64, k, 2, off));
  if (off[1] < off[0] || off[1] - off[0] > ((uint64_t)1 << 20)) HP_H5_ERROR(HP_ERR_INPUT, path, o, "bad offsets");
  char *s = NULL;
  HP_CALLOC(s, off[1] - off[0] + 1, "string");
  if (off[1] > off[0]) HP_CALL(hp_rr_read(fid, path, b, H5T_NATIVE_UINT8, (int64_t)off[0], (int64_t)(off[1] - off[0]), s));
  *out = s;
  return 0;
}

int hp_rr_strtab_count(hid_t fid, const char *path, const char *grp, int64_t *k) {
  char o[512];
  int nd;
  int64_t d[8];
  snprintf(o, sizeof o, "%s/offsets", grp);
  HP_CALL(hp_rr_dims(fid, path, o, &nd, d));
  if (nd != 1 || d[0] < 1) HP_H5_ERROR(HP_ERR_INPUT, path, o, "not a string table's offsets");
  *k = d[0] - 1;
  return 0;
}

int hp_rr_is_strtab(hid_t fid, const char *path, const char *grp) {
  char o[512], b[512];
  snprintf(o, sizeof o, "%s/offsets", grp);
  snprintf(b, sizeof b, "%s/bytes", grp);
  return hp_rr_exists(fid, path, o) && hp_rr_exists(fid, path, b);
}

/* Optional string attribute: NULL when absent. */
char *hp_rr_attr_str(hid_t fid, const char *path, const char *obj, const char *name) {
  char *s = NULL;
  if (H5Aexists_by_name(fid, obj, name, H5P_DEFAULT) <= 0) return NULL;
  if (hp_h5_attr_read_str(fid, path, obj, name, 1 << 20, &s) != 0) {
    hp_error_clear();
    return NULL;
  }
  return s;
}

int64_t hp_rr_attr_int(hid_t fid, const char *path, const char *obj, const char *name, int64_t def) {
  int64_t v = def;
  if (H5Aexists_by_name(fid, obj, name, H5P_DEFAULT) <= 0) return def;
  if (hp_h5_attr_read_int(fid, path, obj, name, &v) != 0) {
    hp_error_clear();
    return def;
  }
  return v;
}

/* Value of `key=` in a "key=value key=value" text into buf; 1 if found. */
int hp_rr_state_value(const char *state, const char *key, char *buf, size_t n) {
  size_t kl = strlen(key);
  for (const char *p = state; p && *p;) {
    while (*p == ' ') p++;
    if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
      size_t l = strcspn(p + kl + 1, " ");
      snprintf(buf, n, "%.*s", (int)l, p + kl + 1);
      return 1;
    }
    p = strchr(p, ' ');
  }
  return 0;
}

int hp_rr_read_all(hid_t fid, const char *path, const char *obj, int64_t max, double **out, int64_t *n, int *nd,
                   int64_t *dims) {
  *out = NULL;
  *n = 0;
  HP_CALL(hp_rr_dims(fid, path, obj, nd, dims));
  int64_t total = 1;
  for (int i = 0; i < *nd && total > 0; i++) {
    if (dims[i] > 0 && total > max / dims[i]) HP_H5_ERROR(HP_ERR_INPUT, path, obj, "more than %lld values", (long long)max);
    total *= dims[i];
  }
  HP_CALLOC(*out, (size_t)total + 1, "report values");
  if (total > 0) HP_CALL(hp_rr_read(fid, path, obj, H5T_NATIVE_DOUBLE, 0, -1, *out));
  *n = total;
  return 0;
}

int hp_rr_read_rows(hid_t fid, const char *path, const char *obj, hid_t mtype, int64_t row0, int64_t n, void *buf) {
  int nd;
  int64_t dims[8];
  HP_CALL(hp_rr_dims(fid, path, obj, &nd, dims));
  if (nd < 1 || row0 < 0 || n < 0 || row0 + n > dims[0])
    HP_H5_ERROR(HP_ERR_INPUT, path, obj, "rows [%lld, %lld) outside the dataset", (long long)row0, (long long)(row0 + n));
  hsize_t st[8] = {0}, ct[8];
  st[0] = (hsize_t)row0;
  ct[0] = (hsize_t)n;
  for (int i = 1; i < nd; i++) ct[i] = (hsize_t)dims[i];
  hid_t d, fs, ms;
  HP_H5(HP_ERR_INPUT, d = H5Dopen2(fid, obj, H5P_DEFAULT), path, obj, "cannot open the dataset");
  HP_H5(HP_ERR_INPUT, fs = H5Dget_space(d), path, obj, "cannot read the dataspace");
  HP_H5(HP_ERR_INPUT, H5Sselect_hyperslab(fs, H5S_SELECT_SET, st, NULL, ct, NULL), path, obj, "bad selection");
  HP_H5(HP_ERR_INPUT, ms = H5Screate_simple(nd, ct, NULL), path, obj, "cannot create a dataspace");
  HP_H5(HP_ERR_INPUT, H5Dread(d, mtype, ms, fs, H5P_DEFAULT, buf), path, obj, "cannot read");
  H5Sclose(ms);
  H5Sclose(fs);
  H5Dclose(d);
  return 0;
}
