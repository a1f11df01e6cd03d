/* util.h — small helpers shared by the ingest parsers: checked growth of arrays, reading a whole
 * file with a size limit, joining paths, the "stays inside the root" check for file names that
 * come from annotation files.
 *
 * Errors follow base/error.h: HP_ERR_MEM for allocation/size overflow, HP_ERR_IO for system I/O,
 * HP_ERR_INPUT for input data, each message naming the file. */
#ifndef HP_INGEST_UTIL_H
#define HP_INGEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* UTF-8 validation is the io layer's hp_utf8_valid (strict: no overlong forms, surrogates,
 * code points > U+10FFFF or NUL bytes). */
#include "io/strtab.h"

/* Make *arr (elements of elem_size bytes, capacity *cap) hold at least `need` elements, growing
 * geometrically; new elements are zeroed. `what` names the array in an error. */
int hp_ingest_grow(void **arr, int64_t *cap, int64_t need, size_t elem_size, const char *what);

/* Copy of s[0..n) with a terminating NUL. */
int hp_ingest_strndup(const char *s, size_t n, char **out);

/* Read the whole file into a NUL-terminated buffer (the NUL is not counted in *len).
 * Fails with "PATH: cannot open: ..." (HP_ERR_IO, or HP_ERR_INPUT when missing_is_input is set
 * and the file does not exist) and "PATH: N bytes exceeds the limit of M bytes" (HP_ERR_INPUT)
 * before allocating anything for a file larger than max_bytes. */
int hp_ingest_read_file(const char *path, size_t max_bytes, int missing_is_input, char **data,
                        size_t *len);

/* dir + "/" + rel (either may be empty). Caller frees. */
int hp_ingest_join(const char *dir, const char *rel, char **out);

/* 1 if `rel` is a safe relative file name: non-empty, not absolute, no "." or ".." component,
 * no empty component ("a//b"), no backslash, no control bytes. Else 0 and *why says why. */
int hp_ingest_relpath_ok(const char *rel, const char **why);

/* Trim ASCII white space (space, \t, \r, \n, \v, \f) from both ends of s[0..*n): returns the
 * new start and updates *n. */
const char *hp_ingest_trim(const char *s, size_t *n);

/* Containment of a file named by an annotation file: 1 if `path` (root + a checked relative
 * name) does not exist (the caller reports it missing) or its real path (every symlink
 * resolved) lies inside the real path of `root`; 0 if it resolves outside the root (a symlink
 * out of the dataset), *why then says so. hp_ingest_relpath_ok rejects "../" and absolute names
 * textually; this catches links. A root that is itself a symlink is fine (it is resolved too). */
int hp_ingest_path_inside(const char *root, const char *path, const char **why);

/* qsort comparator of strings (char *), byte order (strcmp, never the locale). */
int hp_ingest_cmp_str(const void *a, const void *b);
/* Index of s in v[0..n) sorted by hp_ingest_cmp_str, -1 when absent (binary search). */
int64_t hp_ingest_find_sorted(char *const *v, int64_t n, const char *s);

/* 1 if the file exists and is a regular file (follows symlinks). */
int hp_ingest_file_exists(const char *path);

#endif
