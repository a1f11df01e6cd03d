/* results.c — results.h5 writer (see results.h). */
#include "io/results.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/tmpfile.h"
#include "base/log.h"
#include "io/check.h"
#include "io/h5.h"

static int obj_path(hp_results_w *w, const char *name, char *buf, size_t n) {
  if (snprintf(buf, n, "/%s/%s", w->group, name) >= (int)n)
    HP_ERROR(HP_ERR_INTERNAL, "%s: object name too long: %s", w->path, name);
  return 0;
}

static hid_t lcpl_parents(void) {
  hid_t l = H5Pcreate(H5P_LINK_CREATE);
  if (l >= 0) H5Pset_create_intermediate_group(l, 1);
  return l;
}

typedef struct {
  hp_results_w *w;
  hid_t src;
  int err;
} copy_ctx;

static herr_t copy_member(hid_t g, const char *name, const H5L_info_t *info, void *user) {
  copy_ctx *c = user;
  (void)g;
  (void)info;
  if (strcmp(name, c->w->group) == 0) return 0;
  if (H5Ocopy(c->src, name, c->w->fid, name, H5P_DEFAULT, H5P_DEFAULT) < 0) {
    c->err = hp_h5_error_(HP_ERR_IO, __FILE__, __LINE__, __func__, c->w->tmp, name,
                          "cannot copy group /%s from %s", name, c->w->path);
    return -1;
  }
  return 0;
}

int hp_results_begin(const char *path, const char *group, hp_results_w *w) {
  memset(w, 0, sizeof *w);
  w->fid = H5I_INVALID_HID;
  if (snprintf(w->path, sizeof w->path, "%s", path) >= (int)sizeof w->path ||
      snprintf(w->tmp, sizeof w->tmp, "%s.tmp", path) >= (int)sizeof w->tmp ||
      snprintf(w->group, sizeof w->group, "%s", group) >= (int)sizeof w->group)
    HP_ERROR(HP_ERR_USAGE, "%s: path too long", path);
  hid_t fcpl, fapl;
  HP_H5(HP_ERR_IO, fcpl = H5Pcreate(H5P_FILE_CREATE), path, "", "H5Pcreate failed");
  HP_H5(HP_ERR_IO, H5Pset_obj_track_times(fcpl, 0), path, "/", "H5Pset_obj_track_times failed");
  HP_H5(HP_ERR_IO, fapl = H5Pcreate(H5P_FILE_ACCESS), path, "", "H5Pcreate failed");
  HP_H5(HP_ERR_IO, H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST), path, "", "cannot set the format");
  /* Built in memory (results are small tables) and written to PATH.tmp in one piece when the
   * file is complete: a full disk or a file-size limit then fails in the driver's final write,
   * after HDF5 has flushed everything to memory. With the sec2 driver the same failure happens
   * in the metadata flush of H5Fclose, which leaves HDF5 1.10 a half-closed file that crashes
   * the library's shutdown in MPI_Finalize. */
  HP_H5(HP_ERR_IO, H5Pset_fapl_core(fapl, (size_t)1 << 20, 1), path, "", "cannot select the core driver");
  hp_tmpfile_register(w->tmp);
  HP_H5(HP_ERR_IO, w->fid = H5Fcreate(w->tmp, H5F_ACC_TRUNC, fcpl, fapl), w->tmp, "", "cannot create file");
  H5Pclose(fcpl);
  H5Pclose(fapl);
  if (access(path, F_OK) == 0) {
    if (hp_check_file_local(path) != 0) {
      hp_log_warn("%s is not a valid results file (%s): replacing it", path, hp_error_message());
      hp_error_clear();
    } else {
      hid_t src;
      HP_CALL(hp_h5_open_serial(path, &src));
      copy_ctx c = {w, src, 0};
      hsize_t idx = 0;
      herr_t r = H5Literate(src, H5_INDEX_NAME, H5_ITER_INC, &idx, copy_member, &c);
      H5Fclose(src);
      if (c.err) return hp_error_trace(c.err, __FILE__, __LINE__, __func__);
      if (r < 0) HP_H5_ERROR(HP_ERR_INPUT, path, "/", "cannot list the groups");
    }
  }
  hid_t gcpl, g;
  HP_H5(HP_ERR_IO, gcpl = H5Pcreate(H5P_GROUP_CREATE), w->tmp, group, "H5Pcreate failed");
  HP_H5(HP_ERR_IO, H5Pset_obj_track_times(gcpl, 0), w->tmp, group, "H5Pset_obj_track_times failed");
  HP_H5(HP_ERR_IO, g = H5Gcreate2(w->fid, group, H5P_DEFAULT, gcpl, H5P_DEFAULT), w->tmp, group, "cannot create");
  H5Gclose(g);
  H5Pclose(gcpl);
  return 0;
}

static int write_ds(hp_results_w *w, const char *name, hid_t ftype, hid_t mtype, int ndims, const int64_t *dims,
                    const void *data) {
  char obj[512];
  hsize_t hd[4];
  HP_CALL(obj_path(w, name, obj, sizeof obj));
  if (ndims < 1 || ndims > 4) HP_ERROR(HP_ERR_INTERNAL, "%s: %s: rank %d", w->path, obj, ndims);
  for (int i = 0; i < ndims; i++) hd[i] = (hsize_t)dims[i];
  hid_t sp, dcpl, lcpl, d;
  HP_H5(HP_ERR_IO, sp = H5Screate_simple(ndims, hd, NULL), w->tmp, obj, "cannot create a dataspace");
  HP_H5(HP_ERR_IO, dcpl = H5Pcreate(H5P_DATASET_CREATE), w->tmp, obj, "H5Pcreate failed");
  HP_H5(HP_ERR_IO, H5Pset_obj_track_times(dcpl, 0), w->tmp, obj, "H5Pset_obj_track_times failed");
  HP_H5(HP_ERR_IO, lcpl = lcpl_parents(), w->tmp, obj, "H5Pcreate failed");
  HP_H5(HP_ERR_IO, d = H5Dcreate2(w->fid, obj, ftype, sp, lcpl, dcpl, H5P_DEFAULT), w->tmp, obj, "cannot create");
  int64_t total = 1;
  for (int i = 0; i < ndims; i++) total *= dims[i];
  if (total > 0) HP_H5(HP_ERR_IO, H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), w->tmp, obj, "cannot write");
  H5Dclose(d);
  H5Pclose(lcpl);
  H5Pclose(dcpl);
  H5Sclose(sp);
  return 0;
}

int hp_results_f64(hp_results_w *w, const char *name, int ndims, const int64_t *dims, const double *data) {
  HP_CALL(write_ds(w, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, ndims, dims, data));
  return 0;
}

int hp_results_i64(hp_results_w *w, const char *name, int ndims, const int64_t *dims, const int64_t *data) {
  HP_CALL(write_ds(w, name, H5T_STD_I64LE, H5T_NATIVE_INT64, ndims, dims, data));
  return 0;
}

int hp_results_strings(hp_results_w *w, const char *name, int64_t n, const char *const *s) {
  uint64_t *off = NULL;
  HP_CALLOC(off, n + 1, "string offsets");
  for (int64_t i = 0; i < n; i++) off[i + 1] = off[i] + strlen(s[i]);
  char *bytes = NULL;
  HP_CALLOC(bytes, off[n] + 1, "string bytes");
  for (int64_t i = 0; i < n; i++) memcpy(bytes + off[i], s[i], off[i + 1] - off[i]);
  char sub[512];
  int64_t nb = (int64_t)off[n], no = n + 1;
  snprintf(sub, sizeof sub, "%s/bytes", name);
  HP_CALL(write_ds(w, sub, H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, &nb, bytes));
  snprintf(sub, sizeof sub, "%s/offsets", name);
  HP_CALL(write_ds(w, sub, H5T_STD_U64LE, H5T_NATIVE_UINT64, 1, &no, off));
  free(off);
  free(bytes);
  return 0;
}

static int attr(hp_results_w *w, const char *obj, const char *name, hid_t type, const void *v) {
  hid_t sp, a;
  HP_H5(HP_ERR_IO, sp = H5Screate(H5S_SCALAR), w->tmp, obj, "cannot create a dataspace");
  HP_H5(HP_ERR_IO, a = H5Acreate_by_name(w->fid, obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), w->tmp,
        obj, "cannot create attribute '%s'", name);
  HP_H5(HP_ERR_IO, H5Awrite(a, type, v), w->tmp, obj, "cannot write attribute '%s'", name);
  H5Aclose(a);
  H5Sclose(sp);
  return 0;
}

static int attr_str(hp_results_w *w, const char *obj, const char *name, const char *value) {
  hid_t t;
  HP_H5(HP_ERR_IO, t = H5Tcopy(H5T_C_S1), w->tmp, obj, "H5Tcopy failed");
  HP_H5(HP_ERR_IO, H5Tset_size(t, strlen(value) + 1), w->tmp, obj, "H5Tset_size failed");
  H5Tset_cset(t, H5T_CSET_UTF8);
  HP_CALL(attr(w, obj, name, t, value));
  H5Tclose(t);
  return 0;
}

int hp_results_attr_str(hp_results_w *w, const char *name, const char *value) {
  char obj[80];
  snprintf(obj, sizeof obj, "/%s", w->group);
  HP_CALL(attr_str(w, obj, name, value));
  return 0;
}

int hp_results_attr_i64(hp_results_w *w, const char *name, int64_t value) {
  char obj[80];
  snprintf(obj, sizeof obj, "/%s", w->group);
  HP_CALL(attr(w, obj, name, H5T_NATIVE_INT64, &value));
  return 0;
}

int hp_results_attr_f64(hp_results_w *w, const char *name, double value) {
  char obj[80];
  snprintf(obj, sizeof obj, "/%s", w->group);
  HP_CALL(attr(w, obj, name, H5T_NATIVE_DOUBLE, &value));
  return 0;
}

typedef struct {
  hp_results_w *w;
  uint64_t h;
  int err;
} fp_ctx;

/* FNV-1a over "name=fingerprint;" of every group, in name order. */
static herr_t fp_member(hid_t g, const char *name, const H5L_info_t *info, void *user) {
  fp_ctx *c = user;
  char *fp = NULL;
  (void)g;
  (void)info;
  char obj[300];
  snprintf(obj, sizeof obj, "/%s", name);
  c->err = hp_h5_attr_read_str(c->w->fid, c->w->tmp, obj, "fingerprint", 256, &fp);
  if (c->err) return -1;
  for (const char *p = name; *p; p++) c->h = (c->h ^ (uint8_t)*p) * 0x100000001b3ULL;
  c->h = (c->h ^ '=') * 0x100000001b3ULL;
  for (const char *p = fp; *p; p++) c->h = (c->h ^ (uint8_t)*p) * 0x100000001b3ULL;
  c->h = (c->h ^ ';') * 0x100000001b3ULL;
  free(fp);
  return 0;
}

int hp_results_commit(hp_results_w *w, const char *config_text) {
  fp_ctx c = {w, 0xcbf29ce484222325ULL, 0};
  hsize_t idx = 0;
  herr_t r = H5Literate(w->fid, H5_INDEX_NAME, H5_ITER_INC, &idx, fp_member, &c);
  if (c.err) return hp_error_trace(c.err, __FILE__, __LINE__, __func__);
  if (r < 0) HP_H5_ERROR(HP_ERR_IO, w->tmp, "/", "cannot list the groups");
  char fp[32];
  int64_t version = HP_RESULTS_VERSION;
  snprintf(fp, sizeof fp, "%016" PRIx64, c.h);
  HP_CALL(attr_str(w, "/", "schema", HP_RESULTS_SCHEMA));
  HP_CALL(attr(w, "/", "schema_version", H5T_NATIVE_INT64, &version));
  HP_CALL(attr_str(w, "/", "config", config_text));
  HP_CALL(attr_str(w, "/", "fingerprint", fp));
  HP_CALL(attr_str(w, "/", "created_by", "hpclip " HPCLIP_VERSION));
  hid_t fid = w->fid;
  w->fid = H5I_INVALID_HID;
  HP_H5(HP_ERR_IO, H5Fclose(fid), w->tmp, "", "cannot complete writing the file (disk full?)");
  if (rename(w->tmp, w->path) != 0) HP_ERROR(HP_ERR_IO, "cannot rename %s to %s", w->tmp, w->path);
  hp_tmpfile_unregister(w->tmp);
  return 0;
}

void hp_results_abort(hp_results_w *w) {
  if (w->fid >= 0) H5Fclose(w->fid);
  w->fid = H5I_INVALID_HID;
  if (w->tmp[0]) unlink(w->tmp);
  H5Eclear2(H5E_DEFAULT);
}
