/* strtab.h — string tables: K strings stored as  GROUP/bytes uint8 [B]  (concatenated, no NULs)
 * and  GROUP/offsets uint64 [K+1]  (string k = bytes[offsets[k] .. offsets[k+1])). Two fixed-size
 * datasets instead of variable-length strings because parallel HDF5 can write and read those
 * collectively, each rank its own range. */
#ifndef HP_IO_STRTAB_H
#define HP_IO_STRTAB_H

#include <stddef.h>
#include <stdint.h>

#include "io/h5.h"

/* Longest single string accepted when writing and when validating (sanity bound). */
#define HP_STRTAB_MAX_LEN ((size_t)1 << 20)

/* 1 if s[0..n) is valid UTF-8 (no overlongs, surrogates or code points > U+10FFFF) without NUL
 * bytes; otherwise 0 and *bad_at = offset of the first offending byte. */
int hp_utf8_valid(const char *s, size_t n, size_t *bad_at);

/* Collective: each rank writes its n local strings; they land at the rank's global position
 * (ranks in order). A rank may have n = 0. Fails (on every rank) if any string is invalid. */
int hp_strtab_write(hp_h5file *f, const char *group, int64_t n, const char *const *s);
/* The same after a copy of the K strings of table `sgroup` in src (NULL: none): the table holds
 * src's strings, then the ranks' new ones (copied in bounded rounds, hp_h5_copy_rows). */
int hp_strtab_write_after(hp_h5file *f, const char *group, hp_h5file *src, const char *sgroup, int64_t n,
                          const char *const *s);

/* Number of strings K (from the offsets length). Collective when f is a parallel file. */
int hp_strtab_count(hp_h5file *f, const char *group, int64_t *k);

/* Collective: read strings [k0, k0+n) (n may be 0) into a new array of new NUL-terminated
 * strings (free each, then the array). */
int hp_strtab_read(hp_h5file *f, const char *group, int64_t k0, int64_t n, char ***out);

#endif
