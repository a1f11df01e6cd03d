/* strtab.c — collective string tables (see strtab.h). */
#include "io/strtab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

int hp_utf8_valid(const char *str, size_t n, size_t *bad_at) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    size_t len;
    unsigned cp, min;
    if (c == 0) goto bad;
    if (c < 0x80) {
      i++;
      continue;
    }
    if ((c & 0xe0) == 0xc0) len = 2, cp = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0) len = 3, cp = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0) len = 4, cp = c & 0x07, min = 0x10000;
    else goto bad;
    if (n - i < len) goto bad;
    for (size_t j = 1; j < len; j++) {
      if ((s[i + j] & 0xc0) != 0x80) goto bad;
      cp = (cp << 6) | (s[i + j] & 0x3f);
    }
    /* Overlong forms, UTF-16 surrogates and values past Unicode are not UTF-8. */
    if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) goto bad;
    i += len;
  }
  return 1;
bad:
  if (bad_at) *bad_at = i;
  return 0;
}

static int obj_name(const hp_h5file *f, const char *group, const char *leaf, char *buf, size_t n) {
  if (snprintf(buf, n, "%s/%s", group, leaf) >= (int)n)
    HP_ERROR(HP_ERR_INTERNAL, "%s: %s: object path too long", f->path, group);
  return 0;
}

int hp_strtab_write(hp_h5file *f, const char *group, int64_t n, const char *const *s) {
  return hp_strtab_write_after(f, group, NULL, NULL, n, s);
}

int hp_strtab_write_after(hp_h5file *f, const char *group, hp_h5file *src, const char *sgroup, int64_t n,
                          const char *const *s) {
  char obytes[512], ooffs[512], sbytes[512] = "", soffs[512] = "";
  int64_t k_old = 0, b_old = 0;
  if (src) {
    int nd;
    HP_CALL(obj_name(src, sgroup, "bytes", sbytes, sizeof sbytes));
    HP_CALL(obj_name(src, sgroup, "offsets", soffs, sizeof soffs));
    HP_CALL(hp_strtab_count(src, sgroup, &k_old));
    HP_CALL(hp_h5_dims(src, sbytes, 1, &nd, &b_old));
  }
  HP_CALL(obj_name(f, group, "bytes", obytes, sizeof obytes));
  HP_CALL(obj_name(f, group, "offsets", ooffs, sizeof ooffs));
  /* Validate locally, then agree: nobody may enter the collective writes alone. */
  int err = 0;
  int64_t nbytes = 0;
  for (int64_t i = 0; i < n && !err; i++) {
    size_t len = strlen(s[i]), bad;
    if (len > HP_STRTAB_MAX_LEN)
      err = HP_ERROR_SET(HP_ERR_INPUT,
                         "%s: %s: local string %lld is %zu bytes long (limit %zu)", f->path, group,
                         (long long)i, len, HP_STRTAB_MAX_LEN);
    else if (!hp_utf8_valid(s[i], len, &bad))
      err = HP_ERROR_SET(HP_ERR_INPUT,
                         "%s: %s: local string %lld is not valid UTF-8 (byte %zu)", f->path, group,
                         (long long)i, bad);
    nbytes += (int64_t)len;
  }
  HP_CALL(hp_agree(f->comm, err));

  int64_t mine[2] = {n, nbytes}, before[2] = {0, 0}, total[2];
  HP_MPI(MPI_Exscan(mine, before, 2, MPI_INT64_T, MPI_SUM, f->comm));
  if (f->rank == 0) before[0] = before[1] = 0; /* Exscan leaves rank 0's result undefined */
  HP_MPI(MPI_Allreduce(mine, total, 2, MPI_INT64_T, MPI_SUM, f->comm));
  before[0] += k_old;
  before[1] += b_old;

  int64_t dims_b[1] = {b_old + total[1]}, dims_o[1] = {k_old + total[0] + 1};
  HP_CALL(hp_h5_create_dataset(f, obytes, H5T_STD_U8LE, 1, dims_b));
  HP_CALL(hp_h5_create_dataset(f, ooffs, H5T_STD_U64LE, 1, dims_o));
  if (src) { /* src's offsets [0, K) are ours unchanged: its strings come first */
    HP_CALL(hp_h5_copy_rows(f, obytes, 0, src, sbytes, H5T_NATIVE_UINT8, b_old, NULL, NULL));
    HP_CALL(hp_h5_copy_rows(f, ooffs, 0, src, soffs, H5T_NATIVE_UINT64, k_old, NULL, NULL));
  }

  char *cat = NULL;
  uint64_t *off = NULL;
  int last = f->rank == f->size - 1; /* writes the closing offsets[K] = B, exactly once */
  HP_CALLOC(cat, (size_t)nbytes, "string table bytes");
  HP_CALLOC(off, (size_t)n + 1, "string table offsets");
  uint64_t pos = (uint64_t)before[1];
  for (int64_t i = 0; i < n; i++) {
    size_t len = strlen(s[i]);
    off[i] = pos;
    memcpy(cat + (pos - (uint64_t)before[1]), s[i], len);
    pos += len;
  }
  off[n] = pos;
  HP_CALL(hp_h5_write_rows(f, obytes, H5T_NATIVE_UINT8, before[1], nbytes, cat));
  HP_CALL(hp_h5_write_rows(f, ooffs, H5T_NATIVE_UINT64, before[0], n + last, off));
  free(cat);
  free(off);
  return 0;
}

int hp_strtab_count(hp_h5file *f, const char *group, int64_t *k) {
  char ooffs[512];
  int nd;
  int64_t dims[1];
  HP_CALL(obj_name(f, group, "offsets", ooffs, sizeof ooffs));
  HP_CALL(hp_h5_dims(f, ooffs, 1, &nd, dims));
  if (nd != 1 || dims[0] < 1) HP_ERROR(HP_ERR_INPUT, "%s: %s: must be a 1-D array of K+1 entries", f->path, ooffs);
  *k = dims[0] - 1;
  return 0;
}

int hp_strtab_read(hp_h5file *f, const char *group, int64_t k0, int64_t n, char ***out) {
  char obytes[512], ooffs[512];
  int nd;
  int64_t k, bdims[1];
  *out = NULL;
  HP_CALL(obj_name(f, group, "bytes", obytes, sizeof obytes));
  HP_CALL(obj_name(f, group, "offsets", ooffs, sizeof ooffs));
  HP_CALL(hp_strtab_count(f, group, &k));
  HP_CALL(hp_h5_dims(f, obytes, 1, &nd, bdims));
  if (k0 < 0 || n < 0 || k0 > k - n)
    HP_ERROR(HP_ERR_INTERNAL, "%s: %s: entries [%lld, %lld) outside [0, %lld)", f->path, group,
             (long long)k0, (long long)(k0 + n), (long long)k);
  uint64_t *off = NULL;
  char *bytes = NULL, **s = NULL;
  HP_CALLOC(off, (size_t)n + 1, "string offsets");
  HP_CALL(hp_h5_read_rows(f, ooffs, H5T_NATIVE_UINT64, k0, n > 0 ? n + 1 : 0, off));
  /* The file was validated on open; still never trust offsets with memory. */
  for (int64_t i = 0; i < n; i++)
    if (off[i + 1] < off[i] || off[i + 1] - off[i] > HP_STRTAB_MAX_LEN || off[i + 1] > (uint64_t)bdims[0])
      HP_ERROR(HP_ERR_INPUT, "%s: %s: bad offsets at entry %lld", f->path, ooffs, (long long)(k0 + i));
  int64_t len = n > 0 ? (int64_t)(off[n] - off[0]) : 0;
  HP_CALLOC(bytes, (size_t)len, "string bytes");
  HP_CALL(hp_h5_read_rows(f, obytes, H5T_NATIVE_UINT8, n > 0 ? (int64_t)off[0] : 0, len, bytes));
  HP_CALLOC(s, (size_t)n + 1, "string array");
  for (int64_t i = 0; i < n; i++) {
    size_t l = (size_t)(off[i + 1] - off[i]);
    HP_CALLOC(s[i], l + 1, "string");
    memcpy(s[i], bytes + (off[i] - off[0]), l);
  }
  free(off);
  free(bytes);
  *out = s;
  return 0;
}
