/* alloc.c — checked allocation and size arithmetic (see alloc.h). */
#include "base/alloc.h"

#include <stdint.h>
#include <stdlib.h>

int hp_mul_size(size_t a, size_t b, size_t *out) {
  if (a && b > SIZE_MAX / a) return HP_ERR_MEM;
  *out = a * b;
  return 0;
}

int hp_mul_i64(int64_t a, int64_t b, int64_t *out) {
  if (a < 0 || b < 0) return HP_ERR_MEM;
  if (a && b > INT64_MAX / a) return HP_ERR_MEM;
  *out = a * b;
  return 0;
}

int hp_calloc_(void **out, size_t count, size_t size, const char *what, const char *file, int line,
               const char *func) {
  size_t bytes;
  *out = NULL;
  if (hp_mul_size(count, size, &bytes))
    return hp_error_set(HP_ERR_MEM, file, line, func, "%s: size overflow (%zu x %zu bytes)", what,
                        count, size);
  if (bytes == 0) bytes = 1;
  void *p = calloc(1, bytes);
  if (!p)
    return hp_error_set(HP_ERR_MEM, file, line, func, "%s: cannot allocate %.1f MiB", what,
                        (double)bytes / 1048576.0);
  *out = p;
  return 0;
}

