/* row_reader.c — independent reads of arbitrary rows of one dataset (see row_reader.h). */
#include "io/row_reader.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "io/h5.h"

struct hp_row_reader {
  char path[4096], obj[256];
  hid_t fid, dset, memtype;
  int ndims;
  hsize_t dims[8];
  size_t row_bytes;
  int64_t cap;
  int64_t *order; /* [2*cap] (row, position in the call) sorted by row */
  uint8_t *tmp;   /* [cap, row_bytes] the distinct rows in ascending order */
};

int hp_row_reader_open(const char *path, const char *obj, hid_t memtype, int64_t max_rows, hp_row_reader **out) {
  hp_row_reader *r = NULL;
  HP_CALLOC(r, 1, "row reader");
  *out = r;
  r->fid = r->dset = H5I_INVALID_HID;
  r->memtype = memtype;
  snprintf(r->path, sizeof r->path, "%s", path);
  snprintf(r->obj, sizeof r->obj, "%s", obj);
  HP_CALL(hp_h5_open_serial_scattered(path, &r->fid));
  HP_H5(HP_ERR_INPUT, r->dset = H5Dopen2(r->fid, obj, H5P_DEFAULT), path, obj, "cannot open");
  hid_t sp = H5Dget_space(r->dset);
  if (sp < 0) HP_H5_ERROR(HP_ERR_INPUT, path, obj, "cannot get the dataspace");
  r->ndims = H5Sget_simple_extent_ndims(sp);
  if (r->ndims < 1 || r->ndims > 8) {
    H5Sclose(sp);
    HP_H5_ERROR(HP_ERR_INPUT, path, obj, "%d dimensions (1 to 8 expected)", r->ndims);
  }
  H5Sget_simple_extent_dims(sp, r->dims, NULL);
  H5Sclose(sp);
  r->row_bytes = H5Tget_size(memtype);
  for (int d = 1; d < r->ndims; d++) r->row_bytes *= (size_t)r->dims[d];
  r->cap = max_rows > 0 ? max_rows : 1;
  HP_CALLOC(r->order, (size_t)r->cap * 2, "row read order");
  HP_CALLOC(r->tmp, (size_t)r->cap * r->row_bytes, "row staging buffer");
  return 0;
}

int64_t hp_row_reader_rows(const hp_row_reader *r) { return (int64_t)r->dims[0]; }
size_t hp_row_reader_row_bytes(const hp_row_reader *r) { return r->row_bytes; }

static int cmp_pair(const void *a, const void *b) {
  const int64_t *x = a, *y = b;
  return (x[0] > y[0]) - (x[0] < y[0]);
}

int hp_row_reader_read(hp_row_reader *r, const int64_t *rows, int64_t n, void *out) {
  if (n <= 0) return 0;
  if (n > r->cap) HP_ERROR(HP_ERR_INTERNAL, "%s: %s: read of %lld rows, capacity %lld", r->path, r->obj, (long long)n,
                           (long long)r->cap);
  for (int64_t i = 0; i < n; i++) {
    if (rows[i] < 0 || (hsize_t)rows[i] >= r->dims[0])
      HP_ERROR(HP_ERR_INPUT, "%s: %s: row %lld out of range (%llu rows)", r->path, r->obj, (long long)rows[i],
               (unsigned long long)r->dims[0]);
    r->order[2 * i] = rows[i];
    r->order[2 * i + 1] = i;
  }
  qsort(r->order, (size_t)n, 2 * sizeof(int64_t), cmp_pair);
  hid_t fs = H5Dget_space(r->dset);
  if (fs < 0) HP_H5_ERROR(HP_ERR_INPUT, r->path, r->obj, "cannot get the dataspace");
  /* distinct rows, runs of consecutive ones one hyperslab each */
  int64_t distinct = 0;
  for (int64_t i = 0; i < n;) {
    int64_t j = i + 1, len = 1;
    while (j < n && r->order[2 * j] <= r->order[2 * (j - 1)] + 1) {
      len += r->order[2 * j] != r->order[2 * (j - 1)];
      j++;
    }
    hsize_t start[8] = {(hsize_t)r->order[2 * i]}, count[8] = {(hsize_t)len};
    for (int d = 1; d < r->ndims; d++) count[d] = r->dims[d];
    if (H5Sselect_hyperslab(fs, distinct ? H5S_SELECT_OR : H5S_SELECT_SET, start, NULL, count, NULL) < 0) {
      H5Sclose(fs);
      HP_H5_ERROR(HP_ERR_INPUT, r->path, r->obj, "cannot select row %lld", (long long)r->order[2 * i]);
    }
    distinct += len;
    i = j;
  }
  hsize_t mdims[2] = {(hsize_t)distinct, (hsize_t)(r->row_bytes / H5Tget_size(r->memtype))};
  hid_t ms = H5Screate_simple(2, mdims, NULL);
  herr_t e = ms < 0 ? -1 : H5Dread(r->dset, r->memtype, ms, fs, H5P_DEFAULT, r->tmp);
  if (ms >= 0) H5Sclose(ms);
  H5Sclose(fs);
  if (e < 0) HP_H5_ERROR(HP_ERR_IO, r->path, r->obj, "cannot read %lld rows", (long long)n);
  /* scatter: the k-th distinct row serves every call position that asked for it */
  int64_t k = -1;
  for (int64_t i = 0; i < n; i++) {
    if (i == 0 || r->order[2 * i] != r->order[2 * (i - 1)]) k++;
    memcpy((uint8_t *)out + (size_t)r->order[2 * i + 1] * r->row_bytes, r->tmp + (size_t)k * r->row_bytes,
           r->row_bytes);
  }
  return 0;
}

void hp_row_reader_close(hp_row_reader *r) {
  if (!r) return;
  if (r->dset >= 0) H5Dclose(r->dset);
  if (r->fid >= 0) H5Fclose(r->fid);
  free(r->order);
  free(r->tmp);
  free(r);
}
