/* h5.c — parallel HDF5 helpers: files, datasets, row I/O in bounded rounds, attributes. */
#include "io/h5.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/test_hooks.h"
#include "base/tmpfile.h"
#include "base/watchdog.h"

#define ROW_MAX_BYTES ((size_t)1 << 30) /* one row must fit one MPI-IO call comfortably */

static size_t g_round_bytes = (size_t)256 << 20;

void hp_h5_set_round_bytes(size_t bytes) { g_round_bytes = bytes ? bytes : 1; }
size_t hp_h5_round_bytes(void) { return g_round_bytes; }

/* ---- errors --------------------------------------------------------------------------------- */

typedef struct {
  char *buf;
  size_t n;
  int found;
} reason_ctx;

/* The innermost frame (where HDF5 first noticed the problem) says the most. */
static herr_t reason_cb(unsigned n, const H5E_error2_t *e, void *data) {
  reason_ctx *r = data;
  (void)n;
  if (r->found) return 0;
  char minor[128] = "";
  if (H5Eget_msg(e->min_num, NULL, minor, sizeof minor) < 0) minor[0] = 0;
  snprintf(r->buf, r->n, "%s%s%s", minor, minor[0] && e->desc && e->desc[0] ? ": " : "",
           e->desc ? e->desc : "");
  r->found = 1;
  return 0;
}

int hp_h5_error_(int code, const char *srcfile, int line, const char *func, const char *path,
                 const char *obj, const char *fmt, ...) {
  char what[1024], reason[384] = "";
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  reason_ctx r = {reason, sizeof reason, 0};
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, reason_cb, &r);
  H5Eclear2(H5E_DEFAULT);
  if (obj && obj[0])
    return hp_error_set(code, srcfile, line, func, "%s: %s: %s%s%s%s", path, obj, what,
                        reason[0] ? " (HDF5: " : "", reason, reason[0] ? ")" : "");
  return hp_error_set(code, srcfile, line, func, "%s: %s%s%s%s", path, what,
                      reason[0] ? " (HDF5: " : "", reason, reason[0] ? ")" : "");
}

/* ---- files ---------------------------------------------------------------------------------- */

/* MPI-IO access with collective metadata: every rank reads metadata in lockstep, so rank 0
 * reads it once and broadcasts instead of N ranks hammering the file system. */
static int parallel_fapl(MPI_Comm comm, const char *path, hid_t *fapl) {
  HP_H5(HP_ERR_IO, *fapl = H5Pcreate(H5P_FILE_ACCESS), path, "", "H5Pcreate failed");
  HP_H5(HP_ERR_IO, H5Pset_fapl_mpio(*fapl, comm, MPI_INFO_NULL), path, "", "cannot select the MPI-IO driver");
  HP_H5(HP_ERR_IO, H5Pset_all_coll_metadata_ops(*fapl, 1), path, "", "cannot enable collective metadata reads");
  HP_H5(HP_ERR_IO, H5Pset_coll_metadata_write(*fapl, 1), path, "", "cannot enable collective metadata writes");
  /* 1.8 format or newer: needed for attributes larger than 64 KiB (the config text). */
  HP_H5(HP_ERR_IO, H5Pset_libver_bounds(*fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST), path, "",
        "cannot set the file format version");
  return 0;
}

static int file_init(MPI_Comm comm, const char *path, hp_h5file *f) {
  memset(f, 0, sizeof *f);
  f->fid = H5I_INVALID_HID;
  f->comm = comm;
  HP_MPI(MPI_Comm_rank(comm, &f->rank));
  HP_MPI(MPI_Comm_size(comm, &f->size));
  if (snprintf(f->path, sizeof f->path, "%s", path) >= (int)sizeof f->path ||
      snprintf(f->tmp, sizeof f->tmp, "%s.tmp", path) >= (int)sizeof f->tmp)
    HP_ERROR(HP_ERR_USAGE, "%s: path too long", path);
  return 0;
}

int hp_h5_create(MPI_Comm comm, const char *path, hp_h5file *f) {
  hid_t fapl;
  const char *prev = hp_watch_enter("creating an HDF5 file (collective H5Fcreate)");
  HP_CALL(file_init(comm, path, f));
  HP_CALL(parallel_fapl(comm, path, &fapl));
  hp_tmpfile_register(f->tmp); /* every rank: whichever fails first cleans up */
  /* Checked before any cleanup call: every HDF5 call clears the error stack we report from. */
  hid_t fcpl;
  HP_H5(HP_ERR_IO, fcpl = H5Pcreate(H5P_FILE_CREATE), path, "", "H5Pcreate failed");
  HP_H5(HP_ERR_IO, H5Pset_obj_track_times(fcpl, 0), path, "/", "H5Pset_obj_track_times failed"); /* see create_dataset */
  HP_H5(HP_ERR_IO, f->fid = H5Fcreate(f->tmp, H5F_ACC_TRUNC, fcpl, fapl), f->tmp, "", "cannot create file");
  H5Pclose(fcpl);
  H5Pclose(fapl);
  f->creating = 1;
  hp_watch_leave(prev);
  return 0;
}

int hp_h5_commit(hp_h5file *f) {
  if (!f->creating) HP_ERROR(HP_ERR_INTERNAL, "%s: commit of a file not being created", f->path);
  int64_t kill_rank = hp_test_hook_int("KILL_BEFORE_COMMIT", -1);
  if (kill_rank >= 0) { /* a preemption with everything written, before the rename */
    MPI_Barrier(f->comm);
    if (kill_rank == f->rank) raise(SIGKILL);
  }
  /* Close is collective and flushes everything; only a fully closed file may be renamed. */
  int bad = H5Fclose(f->fid) < 0, anybad = 0;
  f->fid = H5I_INVALID_HID;
  f->creating = 0;
  H5Eclear2(H5E_DEFAULT);
  HP_MPI(MPI_Allreduce(&bad, &anybad, 1, MPI_INT, MPI_MAX, f->comm));
  if (anybad) {
    HP_ERROR_SET(HP_ERR_IO,
                 "%s: cannot complete writing the file (closing it failed: disk full?)", f->tmp);
    HP_CALL(hp_agree(f->comm, HP_ERR_IO));
  }
  int err = 0;
  if (f->rank == 0 && rename(f->tmp, f->path) != 0)
    err = HP_ERROR_SET(HP_ERR_IO, "cannot rename %s to %s: %s", f->tmp,
                       f->path, strerror(errno));
  HP_CALL(hp_agree_root(f->comm, err));
  hp_tmpfile_unregister(f->tmp);
  /* Nobody may look for the final file before it exists. */
  HP_MPI(MPI_Barrier(f->comm));
  return 0;
}

int hp_h5_open_read(MPI_Comm comm, const char *path, hp_h5file *f) {
  hid_t fapl;
  const char *prev = hp_watch_enter("opening an HDF5 file (collective H5Fopen)");
  HP_CALL(file_init(comm, path, f));
  HP_CALL(parallel_fapl(comm, path, &fapl));
  HP_H5(HP_ERR_INPUT, f->fid = H5Fopen(path, H5F_ACC_RDONLY, fapl), path, "", "cannot open for reading");
  H5Pclose(fapl);
  hp_watch_leave(prev);
  return 0;
}

int hp_h5_close(hp_h5file *f) {
  if (f->fid < 0) return 0;
  hid_t fid = f->fid;
  f->fid = H5I_INVALID_HID;
  HP_H5(HP_ERR_IO, H5Fclose(fid), f->path, "", "cannot close");
  return 0;
}

static int open_serial(const char *path, size_t sieve, hid_t *fid) {
  hid_t fapl;
  *fid = H5I_INVALID_HID;
  HP_H5(HP_ERR_IO, fapl = H5Pcreate(H5P_FILE_ACCESS), path, "", "H5Pcreate failed");
  HP_H5(HP_ERR_IO, H5Pset_fapl_sec2(fapl), path, "", "cannot select the sec2 driver");
  if (sieve) HP_H5(HP_ERR_IO, H5Pset_sieve_buf_size(fapl, sieve), path, "", "cannot set the sieve buffer");
  /* Strong close: closing the file also closes whatever an early error return left open. */
  HP_H5(HP_ERR_IO, H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG), path, "", "cannot set close degree");
  *fid = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  if (*fid < 0) HP_H5_ERROR(HP_ERR_INPUT, path, "", "cannot open as HDF5 (damaged or truncated file?)");
  return 0;
}

int hp_h5_open_serial(const char *path, hid_t *fid) { return open_serial(path, 0, fid); }
int hp_h5_open_serial_scattered(const char *path, hid_t *fid) { return open_serial(path, 4096, fid); }

/* ---- objects -------------------------------------------------------------------------------- */

int hp_h5_exists(hid_t fid, const char *path, const char *obj, int *exists) {
  char buf[HP_H5_PATH_MAX];
  size_t len = strlen(obj);
  *exists = 0;
  if (len == 0 || len >= sizeof buf || obj[0] != '/')
    HP_ERROR(HP_ERR_INTERNAL, "%s: bad object path '%s'", path, obj);
  if (len == 1) {
    *exists = 1;
    return 0;
  }
  memcpy(buf, obj, len + 1);
  /* H5Lexists only looks at the last component: check each prefix, intermediates as groups. */
  for (size_t i = 1; i <= len; i++) {
    if (buf[i] != '/' && buf[i] != 0) continue;
    char save = buf[i];
    buf[i] = 0;
    htri_t e = H5Lexists(fid, buf, H5P_DEFAULT);
    if (e < 0) HP_H5_ERROR(HP_ERR_INPUT, path, buf, "cannot look up link");
    if (e == 0) return 0;
    if (save == '/') {
      hid_t o;
      HP_H5(HP_ERR_INPUT, o = H5Oopen(fid, buf, H5P_DEFAULT), path, buf, "cannot open object");
      H5I_type_t t = H5Iget_type(o);
      H5Oclose(o);
      if (t != H5I_GROUP) return 0;
    }
    buf[i] = save;
  }
  *exists = 1;
  return 0;
}

static int create_parents(hp_h5file *f, const char *obj);

int hp_h5_create_group(hp_h5file *f, const char *obj) {
  hid_t lcpl, g;
  HP_CALL(create_parents(f, obj));
  HP_H5(HP_ERR_IO, lcpl = H5Pcreate(H5P_LINK_CREATE), f->path, obj, "H5Pcreate failed");
  hid_t gcpl;
  HP_H5(HP_ERR_IO, gcpl = H5Pcreate(H5P_GROUP_CREATE), f->path, obj, "H5Pcreate failed");
  HP_H5(HP_ERR_IO, H5Pset_obj_track_times(gcpl, 0), f->path, obj, "H5Pset_obj_track_times failed");
  HP_H5(HP_ERR_IO, g = H5Gcreate2(f->fid, obj, lcpl, gcpl, H5P_DEFAULT), f->path, obj, "cannot create group");
  H5Pclose(gcpl);
  H5Pclose(lcpl);
  HP_H5(HP_ERR_IO, H5Gclose(g), f->path, obj, "cannot close group");
  return 0;
}

/* Missing parent groups of `obj`, created one by one with our group properties rather than by
 * HDF5's intermediate-group option, whose groups would carry modification times. */
static int create_parents(hp_h5file *f, const char *obj) {
  char parent[HP_H5_PATH_MAX];
  if (snprintf(parent, sizeof parent, "%s", obj) >= (int)sizeof parent) HP_ERROR(HP_ERR_INTERNAL, "%s: path too long", obj);
  for (char *sl = strchr(parent + 1, '/'); sl; sl = strchr(sl + 1, '/')) {
    int exists;
    *sl = 0;
    HP_CALL(hp_h5_exists(f->fid, f->path, parent, &exists));
    if (!exists) HP_CALL(hp_h5_create_group(f, parent));
    *sl = '/';
  }
  return 0;
}

int hp_h5_create_dataset(hp_h5file *f, const char *obj, hid_t type, int ndims, const int64_t *dims) {
  hsize_t hd[H5S_MAX_RANK];
  hid_t lcpl, dcpl, space, d;
  if (ndims < 1 || ndims > H5S_MAX_RANK) HP_ERROR(HP_ERR_INTERNAL, "%s: %s: bad rank %d", f->path, obj, ndims);
  for (int i = 0; i < ndims; i++) {
    if (dims[i] < 0) HP_ERROR(HP_ERR_INTERNAL, "%s: %s: negative dimension", f->path, obj);
    hd[i] = (hsize_t)dims[i];
  }
  HP_CALL(create_parents(f, obj));
  HP_H5(HP_ERR_IO, lcpl = H5Pcreate(H5P_LINK_CREATE), f->path, obj, "H5Pcreate failed");
  HP_H5(HP_ERR_IO, dcpl = H5Pcreate(H5P_DATASET_CREATE), f->path, obj, "H5Pcreate failed");
  HP_H5(HP_ERR_IO, H5Pset_layout(dcpl, H5D_CONTIGUOUS), f->path, obj, "H5Pset_layout failed");
  /* No modification times in object headers: the same data make the same bytes, whatever
   * the rank count or the hour (outputs compare with cmp, not only h5diff). */
  HP_H5(HP_ERR_IO, H5Pset_obj_track_times(dcpl, 0), f->path, obj, "H5Pset_obj_track_times failed");
  /* The writer fills every byte: writing fill values first would double the I/O. */
  HP_H5(HP_ERR_IO, H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER), f->path, obj, "H5Pset_fill_time failed");
  HP_H5(HP_ERR_IO, space = H5Screate_simple(ndims, hd, NULL), f->path, obj, "cannot create dataspace");
  HP_H5(HP_ERR_IO, d = H5Dcreate2(f->fid, obj, type, space, lcpl, dcpl, H5P_DEFAULT), f->path, obj,
        "cannot create dataset");
  H5Sclose(space);
  H5Pclose(dcpl);
  H5Pclose(lcpl);
  HP_H5(HP_ERR_IO, H5Dclose(d), f->path, obj, "cannot close dataset");
  return 0;
}

int hp_h5_dims(hp_h5file *f, const char *obj, int max, int *ndims, int64_t *dims) {
  hid_t d, s;
  hsize_t hd[H5S_MAX_RANK];
  int code = f->creating ? HP_ERR_IO : HP_ERR_INPUT;
  HP_H5(code, d = H5Dopen2(f->fid, obj, H5P_DEFAULT), f->path, obj, "cannot open dataset");
  HP_H5(code, s = H5Dget_space(d), f->path, obj, "cannot get dataspace");
  int n = H5Sget_simple_extent_ndims(s);
  if (n < 0) HP_H5_ERROR(code, f->path, obj, "cannot get rank");
  if (n > max) HP_ERROR(code, "%s: %s: rank %d, expected at most %d", f->path, obj, n, max);
  HP_H5(code, H5Sget_simple_extent_dims(s, hd, NULL), f->path, obj, "cannot get dimensions");
  for (int i = 0; i < n; i++) {
    /* HDF5 sizes are unsigned 64-bit: one above INT64_MAX would turn negative here */
    if (hd[i] > (hsize_t)INT64_MAX)
      HP_ERROR(code, "%s: %s: dimension %d is %llu, beyond 2^63-1", f->path, obj, i, (unsigned long long)hd[i]);
    dims[i] = (int64_t)hd[i];
  }
  *ndims = n;
  H5Sclose(s);
  H5Dclose(d);
  return 0;
}

/* ---- row I/O -------------------------------------------------------------------------------- */

static int rows_io(hp_h5file *f, const char *obj, hid_t memtype, int64_t row0, int64_t n, void *buf,
                   int writing) {
  int code = writing ? HP_ERR_IO : HP_ERR_INPUT;
  hid_t d, fspace, mspace, xfer;
  hsize_t dims[H5S_MAX_RANK], start[H5S_MAX_RANK] = {0}, count[H5S_MAX_RANK];
  HP_H5(code, d = H5Dopen2(f->fid, obj, H5P_DEFAULT), f->path, obj, "cannot open dataset");
  HP_H5(code, fspace = H5Dget_space(d), f->path, obj, "cannot get dataspace");
  int nd = H5Sget_simple_extent_ndims(fspace);
  if (nd < 1) HP_H5_ERROR(code, f->path, obj, "not an array");
  HP_H5(code, H5Sget_simple_extent_dims(fspace, dims, NULL), f->path, obj, "cannot get dimensions");
  if (row0 < 0 || n < 0 || (uint64_t)row0 + (uint64_t)n > dims[0])
    HP_ERROR(HP_ERR_INTERNAL, "%s: %s: rows [%lld, %lld) outside [0, %llu)", f->path, obj,
             (long long)row0, (long long)(row0 + n), (unsigned long long)dims[0]);
  size_t elsize = H5Tget_size(memtype), rowelems = 1, rowbytes;
  if (elsize == 0) HP_H5_ERROR(HP_ERR_INTERNAL, f->path, obj, "bad memory type");
  for (int i = 1; i < nd; i++)
    if (hp_mul_size(rowelems, (size_t)dims[i], &rowelems))
      HP_ERROR(HP_ERR_MEM, "%s: %s: row size overflows", f->path, obj);
  if (hp_mul_size(rowelems, elsize, &rowbytes) || rowbytes > ROW_MAX_BYTES)
    HP_ERROR(HP_ERR_MEM, "%s: %s: one row is larger than %zu bytes", f->path, obj, ROW_MAX_BYTES);
  /* Same number of collective rounds on every rank; a rank that is done selects nothing. */
  int64_t per = rowbytes ? (int64_t)(g_round_bytes / rowbytes) : n;
  if (per < 1) per = 1;
  int64_t rounds = n > 0 ? (n + per - 1) / per : 0, all_rounds = 0;
  HP_MPI(MPI_Allreduce(&rounds, &all_rounds, 1, MPI_INT64_T, MPI_MAX, f->comm));
  HP_H5(code, xfer = H5Pcreate(H5P_DATASET_XFER), f->path, obj, "H5Pcreate failed");
  HP_H5(code, H5Pset_dxpl_mpio(xfer, H5FD_MPIO_COLLECTIVE), f->path, obj, "cannot request collective I/O");
  static unsigned char dummy[8]; /* HDF5 wants a non-NULL buffer even for empty selections */
  for (int64_t r = 0; r < all_rounds; r++) {
    int64_t first = r * per, cnt = n - first;
    if (cnt > per) cnt = per;
    if (cnt < 0) cnt = 0;
    hsize_t melems = (hsize_t)cnt * rowelems;
    if (cnt > 0) {
      start[0] = (hsize_t)(row0 + first);
      count[0] = (hsize_t)cnt;
      for (int i = 1; i < nd; i++) count[i] = dims[i];
      HP_H5(code, H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL), f->path, obj,
            "cannot select rows");
    }
    if (melems == 0) { /* nothing to move this round (rows of zero width count as nothing) */
      HP_H5(code, H5Sselect_none(fspace), f->path, obj, "H5Sselect_none failed");
    }
    hsize_t mdim = melems ? melems : 1;
    HP_H5(code, mspace = H5Screate_simple(1, &mdim, NULL), f->path, obj, "cannot create memory space");
    if (melems == 0) HP_H5(code, H5Sselect_none(mspace), f->path, obj, "H5Sselect_none failed");
    void *p = melems ? (char *)buf + (size_t)first * rowbytes : (void *)dummy;
    if (writing) {
      HP_H5(code, H5Dwrite(d, memtype, mspace, fspace, xfer, p), f->path, obj,
            "cannot write rows [%lld, %lld)", (long long)(row0 + first), (long long)(row0 + first + cnt));
    } else {
      HP_H5(code, H5Dread(d, memtype, mspace, fspace, xfer, p), f->path, obj,
            "cannot read rows [%lld, %lld)", (long long)(row0 + first), (long long)(row0 + first + cnt));
    }
    H5Sclose(mspace);
  }
  H5Pclose(xfer);
  H5Sclose(fspace);
  HP_H5(code, H5Dclose(d), f->path, obj, "cannot close dataset");
  return 0;
}

int hp_h5_write_rows(hp_h5file *f, const char *obj, hid_t memtype, int64_t row0, int64_t n,
                     const void *buf) {
  HP_CALL(rows_io(f, obj, memtype, row0, n, (void *)buf, 1));
  return 0;
}

int hp_h5_read_rows(hp_h5file *f, const char *obj, hid_t memtype, int64_t row0, int64_t n, void *buf) {
  HP_CALL(rows_io(f, obj, memtype, row0, n, buf, 0));
  return 0;
}

/* Bytes of one row (dims 1.. of `obj`) in memory type memtype. */
static int row_bytes(hp_h5file *f, const char *obj, hid_t memtype, size_t *out) {
  int nd;
  int64_t dims[H5S_MAX_RANK];
  size_t b = H5Tget_size(memtype);
  HP_CALL(hp_h5_dims(f, obj, H5S_MAX_RANK, &nd, dims));
  for (int i = 1; i < nd; i++)
    if (hp_mul_size(b, (size_t)dims[i], &b)) HP_ERROR(HP_ERR_MEM, "%s: %s: row size overflows", f->path, obj);
  *out = b;
  return 0;
}

int hp_h5_copy_rows(hp_h5file *dst, const char *dobj, int64_t drow0, hp_h5file *src, const char *sobj,
                    hid_t memtype, int64_t n, hp_h5_row_map map, void *ctx) {
  size_t sb = 0, db = 0;
  HP_CALL(row_bytes(dst, dobj, memtype, &db));
  if (src) HP_CALL(row_bytes(src, sobj, memtype, &sb));
  if (!map && (!src || sb != db))
    HP_ERROR(HP_ERR_INTERNAL, "%s: %s: copying rows of %zu bytes into rows of %zu without a map", dst->path, dobj,
             sb, db);
  size_t widest = sb > db ? sb : db;
  int64_t per = (int64_t)(HP_H5_COPY_BYTES / (widest ? widest : 1)), chunk;
  if (per < 1) per = 1;
  chunk = per * dst->size;
  unsigned char *in = NULL, *out = NULL;
  HP_CALLOC(in, (size_t)per * sb + 1, "row copy buffer");
  if (map) HP_CALLOC(out, (size_t)per * db + 1, "row copy buffer");
  int e = 0;
  for (int64_t a = 0; a < n && !e; a += chunk) { /* n and chunk are the same everywhere: same rounds */
    int64_t len = n - a < chunk ? n - a : chunk;
    int64_t r0 = len * dst->rank / dst->size, rn = len * (dst->rank + 1) / dst->size - r0;
    if (src) e = hp_h5_read_rows(src, sobj, memtype, a + r0, rn, in);
    if (!e && map) map(src ? in : NULL, out, rn, ctx);
    if (!e) e = hp_h5_write_rows(dst, dobj, memtype, drow0 + a + r0, rn, map ? out : in);
  }
  free(in);
  free(out);
  return e ? hp_error_trace(e, __FILE__, __LINE__, __func__) : 0;
}

/* ---- attributes ----------------------------------------------------------------------------- */

static int attr_write(hp_h5file *f, const char *obj, const char *name, hid_t type, const void *v) {
  hid_t space, a;
  HP_H5(HP_ERR_IO, space = H5Screate(H5S_SCALAR), f->path, obj, "cannot create dataspace");
  HP_H5(HP_ERR_IO, a = H5Acreate_by_name(f->fid, obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
        f->path, obj, "cannot create attribute '%s'", name);
  H5Sclose(space);
  HP_H5(HP_ERR_IO, H5Awrite(a, type, v), f->path, obj, "cannot write attribute '%s'", name);
  HP_H5(HP_ERR_IO, H5Aclose(a), f->path, obj, "cannot close attribute '%s'", name);
  return 0;
}

int hp_h5_attr_write_str(hp_h5file *f, const char *obj, const char *name, const char *value) {
  hid_t t;
  HP_H5(HP_ERR_IO, t = H5Tcopy(H5T_C_S1), f->path, obj, "H5Tcopy failed");
  HP_H5(HP_ERR_IO, H5Tset_size(t, strlen(value) + 1), f->path, obj, "H5Tset_size failed");
  HP_H5(HP_ERR_IO, H5Tset_strpad(t, H5T_STR_NULLTERM), f->path, obj, "H5Tset_strpad failed");
  HP_H5(HP_ERR_IO, H5Tset_cset(t, H5T_CSET_UTF8), f->path, obj, "H5Tset_cset failed");
  HP_CALL(attr_write(f, obj, name, t, value));
  H5Tclose(t);
  return 0;
}

int hp_h5_attr_write_int(hp_h5file *f, const char *obj, const char *name, int64_t value) {
  HP_CALL(attr_write(f, obj, name, H5T_STD_I64LE, &value));
  return 0;
}

static int attr_open(hid_t fid, const char *path, const char *obj, const char *name, hid_t *a,
                     hid_t *type) {
  htri_t e = H5Aexists_by_name(fid, obj, name, H5P_DEFAULT);
  if (e < 0) HP_H5_ERROR(HP_ERR_INPUT, path, obj, "cannot look up attribute '%s'", name);
  if (e == 0) HP_ERROR(HP_ERR_INPUT, "%s: %s: attribute '%s' is missing", path, obj, name);
  HP_H5(HP_ERR_INPUT, *a = H5Aopen_by_name(fid, obj, name, H5P_DEFAULT, H5P_DEFAULT), path, obj,
        "cannot open attribute '%s'", name);
  hid_t s;
  HP_H5(HP_ERR_INPUT, s = H5Aget_space(*a), path, obj, "attribute '%s': no dataspace", name);
  hssize_t npts = H5Sget_simple_extent_npoints(s);
  H5Sclose(s);
  if (npts != 1) HP_ERROR(HP_ERR_INPUT, "%s: %s: attribute '%s' must be a single value", path, obj, name);
  HP_H5(HP_ERR_INPUT, *type = H5Aget_type(*a), path, obj, "attribute '%s': no datatype", name);
  return 0;
}

int hp_h5_attr_read_str(hid_t fid, const char *path, const char *obj, const char *name,
                        size_t max_len, char **out) {
  hid_t a = H5I_INVALID_HID, t = H5I_INVALID_HID, mt;
  *out = NULL;
  HP_CALL(attr_open(fid, path, obj, name, &a, &t));
  if (H5Tget_class(t) != H5T_STRING)
    HP_ERROR(HP_ERR_INPUT, "%s: %s: attribute '%s' is not a string", path, obj, name);
  htri_t vl = H5Tis_variable_str(t);
  if (vl < 0) HP_H5_ERROR(HP_ERR_INPUT, path, obj, "attribute '%s': bad string type", name);
  if (vl) {
    char *s = NULL;
    HP_H5(HP_ERR_INPUT, mt = H5Tcopy(H5T_C_S1), path, obj, "H5Tcopy failed");
    HP_H5(HP_ERR_INPUT, H5Tset_size(mt, H5T_VARIABLE), path, obj, "H5Tset_size failed");
    /* Same character set as the file's (h5py writes UTF-8): HDF5 converts no ASCII <-> UTF-8. */
    H5T_cset_t cset = H5Tget_cset(t);
    if (cset < 0) HP_H5_ERROR(HP_ERR_INPUT, path, obj, "attribute '%s': bad character set", name);
    HP_H5(HP_ERR_INPUT, H5Tset_cset(mt, cset), path, obj, "H5Tset_cset failed");
    HP_H5(HP_ERR_INPUT, H5Aread(a, mt, &s), path, obj, "cannot read attribute '%s'", name);
    size_t len = s ? strlen(s) : 0;
    int ok = len <= max_len;
    if (ok) {
      HP_CALLOC(*out, len + 1, "string attribute");
      if (len) memcpy(*out, s, len);
    }
    hid_t sp = H5Screate(H5S_SCALAR);
    H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, &s);
    H5Sclose(sp);
    H5Tclose(mt);
    if (!ok) HP_ERROR(HP_ERR_INPUT, "%s: %s: attribute '%s' is longer than %zu bytes", path, obj, name, max_len);
  } else {
    size_t size = H5Tget_size(t);
    if (size == 0 || size - 1 > max_len)
      HP_ERROR(HP_ERR_INPUT, "%s: %s: attribute '%s' is longer than %zu bytes", path, obj, name, max_len);
    HP_CALLOC(*out, size + 1, "string attribute");
    /* Read with the file's own string type: raw bytes, then our own terminator. */
    HP_H5(HP_ERR_INPUT, H5Aread(a, t, *out), path, obj, "cannot read attribute '%s'", name);
  }
  H5Tclose(t);
  H5Aclose(a);
  return 0;
}

int hp_h5_attr_read_int(hid_t fid, const char *path, const char *obj, const char *name, int64_t *out) {
  hid_t a = H5I_INVALID_HID, t = H5I_INVALID_HID;
  HP_CALL(attr_open(fid, path, obj, name, &a, &t));
  if (H5Tget_class(t) != H5T_INTEGER)
    HP_ERROR(HP_ERR_INPUT, "%s: %s: attribute '%s' is not an integer", path, obj, name);
  HP_H5(HP_ERR_INPUT, H5Aread(a, H5T_NATIVE_INT64, out), path, obj, "cannot read attribute '%s'", name);
  H5Tclose(t);
  H5Aclose(a);
  return 0;
}
