/* h5.h — parallel HDF5 helpers shared by every hpclip file format.
 *
 * A file is opened by all ranks of a communicator with the MPI-IO driver; metadata operations
 * are collective (every rank calls the same functions in the same order, with the same
 * arguments) and raw data transfers are H5FD_MPIO_COLLECTIVE. Row I/O along dimension 0 is
 * split into bounded rounds (every rank doing the same number of rounds) so that no single
 * MPI-IO call comes near the 2 GiB count limit.
 *
 * Every failure is an hp_err with "FILE: OBJECT: what (HDF5: reason)". Callers are expected
 * to have silenced HDF5's own error printing (H5Eset_auto2(H5E_DEFAULT, NULL, NULL)).
 */
#ifndef HP_IO_H5_H
#define HP_IO_H5_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>
#include <mpi.h>

#define HP_H5_PATH_MAX 4096

typedef struct {
  hid_t fid;
  MPI_Comm comm;
  int rank, size;
  int creating;               /* 1 between hp_h5_create and hp_h5_commit */
  char path[HP_H5_PATH_MAX];  /* the final file name (used in messages) */
  char tmp[HP_H5_PATH_MAX];   /* PATH.tmp while creating */
} hp_h5file;

/* Record an error "PATH: OBJ: <formatted> (HDF5: innermost reason)" and return code. */
int hp_h5_error_(int code, const char *srcfile, int line, const char *func, const char *path,
                 const char *obj, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
#define HP_H5_ERROR(code, path, obj, ...) \
  return hp_h5_error_((code), __FILE__, __LINE__, __func__, (path), (obj), __VA_ARGS__)
/* Check an HDF5 call (negative herr_t / hid_t / htri_t = failure). */
#define HP_H5(code, expr, path, obj, ...)                          \
  do {                                                             \
    if ((expr) < 0) HP_H5_ERROR((code), (path), (obj), __VA_ARGS__); \
  } while (0)

/* Atomic creation, collective: writes PATH.tmp (registered with hp_tmpfile_register so a
 * failed job removes it); hp_h5_commit closes it on every rank and renames it to PATH. */
int hp_h5_create(MPI_Comm comm, const char *path, hp_h5file *f);
int hp_h5_commit(hp_h5file *f);
/* Collective read-only open / close. */
int hp_h5_open_read(MPI_Comm comm, const char *path, hp_h5file *f);
int hp_h5_close(hp_h5file *f);

/* Create dataset `obj` ("/a/b/c", intermediate groups created) of file type `type`, rank
 * `ndims`, contiguous, never filled (every byte is written by the caller). */
int hp_h5_create_dataset(hp_h5file *f, const char *obj, hid_t type, int ndims, const int64_t *dims);
int hp_h5_create_group(hp_h5file *f, const char *obj);

/* Collective write / read of rows [row0, row0+n) along dim 0 of dataset `obj`; the buffer holds
 * n full rows of `memtype`. n may be 0 on any rank. */
int hp_h5_write_rows(hp_h5file *f, const char *obj, hid_t memtype, int64_t row0, int64_t n,
                     const void *buf);
int hp_h5_read_rows(hp_h5file *f, const char *obj, hid_t memtype, int64_t row0, int64_t n, void *buf);
/* Collective copy of rows [0, n) of dataset `sobj` in src to rows [drow0, drow0 + n) of `dobj` in
 * dst (both open on the same communicator), in rounds of at most HP_H5_COPY_BYTES per rank, each
 * rank moving its share of a round: the rows are never held whole (a dataset grown by new rows
 * copies its old ones this way). map (optional) turns n source rows `in` into destination rows
 * `out` (a column remap); without it the row sizes must be equal. src NULL: no source, map makes
 * the rows from nothing (in = NULL). */
typedef void (*hp_h5_row_map)(const void *in, void *out, int64_t n, void *ctx);
#define HP_H5_COPY_BYTES ((size_t)64 << 20)
int hp_h5_copy_rows(hp_h5file *dst, const char *dobj, int64_t drow0, hp_h5file *src, const char *sobj,
                    hid_t memtype, int64_t n, hp_h5_row_map map, void *ctx);
/* Dims of dataset `obj` (at most `max` of them); *ndims gets the rank. */
int hp_h5_dims(hp_h5file *f, const char *obj, int max, int *ndims, int64_t *dims);
/* 1 if the link `obj` exists (every intermediate group too), 0 if not. */
int hp_h5_exists(hid_t fid, const char *path, const char *obj, int *exists);

/* Bytes moved per rank per collective round (default 256 MiB). Tests lower it to force many
 * rounds with small data. */
void hp_h5_set_round_bytes(size_t bytes);
size_t hp_h5_round_bytes(void);

/* Attributes on object `obj` ("/" for the root). Writes are collective, same value on every
 * rank. Strings are fixed-length, NUL-terminated, UTF-8. */
int hp_h5_attr_write_str(hp_h5file *f, const char *obj, const char *name, const char *value);
int hp_h5_attr_write_int(hp_h5file *f, const char *obj, const char *name, int64_t value);
/* Read a string attribute of any string type (fixed or variable length) into a new
 * NUL-terminated buffer (caller frees). `path` names the file in messages. Errors are
 * HP_ERR_INPUT: missing attribute, not a string, not scalar, longer than max_len. */
int hp_h5_attr_read_str(hid_t fid, const char *path, const char *obj, const char *name,
                        size_t max_len, char **out);
int hp_h5_attr_read_int(hid_t fid, const char *path, const char *obj, const char *name, int64_t *out);

/* Serial read-only open (sec2 driver, every object closed with the file): for validation and
 * for single-process tools. */
int hp_h5_open_serial(const char *path, hid_t *fid);
/* The same for reads of scattered rows (a training step's batch): HDF5's data sieve buffer is
 * one 4 KiB page instead of 64 KiB, since a sieve fills from each scattered row's offset and
 * would read up to 128x the bytes asked for (rows of 512 B). */
int hp_h5_open_serial_scattered(const char *path, hid_t *fid);

#endif
