/* strmap.h — a byte string -> int32 map (open addressing, linear probing, FNV-1a), for the
 * vocabularies and merge ranks of the pretrained tokenizers. Keys are copied. */
#ifndef HP_TEXT_STRMAP_H
#define HP_TEXT_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct hp_strmap hp_strmap;

int hp_strmap_create(int64_t expected, hp_strmap **out);
void hp_strmap_free(hp_strmap *m);
/* Set key -> value. *had (may be NULL) = 1 if the key was already present (its value is then
 * replaced). */
int hp_strmap_put(hp_strmap *m, const char *key, size_t len, int32_t value, int *had);
/* The value of key, or -1 when absent (values are never negative). */
int32_t hp_strmap_get(const hp_strmap *m, const char *key, size_t len);
int64_t hp_strmap_size(const hp_strmap *m);

#endif
