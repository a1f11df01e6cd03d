/* alloc.h — checked allocation (HP_CALLOC) and size arithmetic with overflow detection.
 * Failures are recorded as HP_ERR_MEM errors (base/error.h), naming what was being allocated. */
#ifndef HP_BASE_ALLOC_H
#define HP_BASE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Checked allocation: *out = malloc(count*size), zeroed; overflow and failure are
 * HP_ERR_MEM errors naming what was being allocated. */
int hp_calloc_(void **out, size_t count, size_t size, const char *what, const char *file,
               int line, const char *func);
#define HP_CALLOC(ptr, count, what)                                                     \
  HP_CALL(hp_calloc_((void **)&(ptr), (size_t)(count), sizeof(*(ptr)), (what), __FILE__, \
                     __LINE__, __func__))

/* size arithmetic with overflow detection: returns 0 and sets *out, or HP_ERR_MEM. */
int hp_mul_size(size_t a, size_t b, size_t *out);
int hp_mul_i64(int64_t a, int64_t b, int64_t *out);

#endif
