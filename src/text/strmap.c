/* strmap.c — see strmap.h. */
#include "text/strmap.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"

typedef struct {
  char *key; /* NULL = empty slot */
  size_t len;
  uint64_t hash;
  int32_t value;
} slot;

struct hp_strmap {
  slot *s;
  int64_t cap, n; /* cap a power of two, load <= 1/2 */
};

static uint64_t fnv1a(const char *k, size_t len) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)k[i]) * 0x100000001b3ULL;
  return h;
}

int hp_strmap_create(int64_t expected, hp_strmap **out) {
  hp_strmap *m = calloc(1, sizeof *m);
  if (!m) HP_ERROR(HP_ERR_MEM, "string map");
  m->cap = 16;
  while (m->cap < 2 * expected) m->cap *= 2;
  m->s = calloc((size_t)m->cap, sizeof *m->s);
  if (!m->s) {
    free(m);
    HP_ERROR(HP_ERR_MEM, "string map of %lld slots", (long long)(expected * 2));
  }
  *out = m;
  return 0;
}

void hp_strmap_free(hp_strmap *m) {
  if (!m) return;
  for (int64_t i = 0; i < m->cap; i++) free(m->s[i].key);
  free(m->s);
  free(m);
}

static slot *find(const hp_strmap *m, const char *k, size_t len, uint64_t h) {
  for (int64_t i = (int64_t)(h & (uint64_t)(m->cap - 1));; i = (i + 1) & (m->cap - 1)) {
    slot *s = &m->s[i];
    if (!s->key || (s->hash == h && s->len == len && memcmp(s->key, k, len) == 0)) return s;
  }
}

static int grow(hp_strmap *m) {
  int64_t cap = m->cap * 2;
  slot *old = m->s, *s = calloc((size_t)cap, sizeof *s);
  if (!s) HP_ERROR(HP_ERR_MEM, "string map of %lld slots", (long long)cap);
  int64_t oc = m->cap;
  m->s = s;
  m->cap = cap;
  for (int64_t i = 0; i < oc; i++)
    if (old[i].key) *find(m, old[i].key, old[i].len, old[i].hash) = old[i];
  free(old);
  return 0;
}

int hp_strmap_put(hp_strmap *m, const char *key, size_t len, int32_t value, int *had) {
  if (value < 0) HP_ERROR(HP_ERR_INTERNAL, "string map: negative value %d", value);
  if (2 * (m->n + 1) > m->cap) HP_CALL(grow(m));
  uint64_t h = fnv1a(key, len);
  slot *s = find(m, key, len, h);
  if (had) *had = s->key != NULL;
  if (!s->key) {
    s->key = malloc(len + 1);
    if (!s->key) HP_ERROR(HP_ERR_MEM, "string map key");
    memcpy(s->key, key, len);
    s->key[len] = 0;
    s->len = len;
    s->hash = h;
    m->n++;
  }
  s->value = value;
  return 0;
}

int32_t hp_strmap_get(const hp_strmap *m, const char *key, size_t len) {
  const slot *s = find(m, key, len, fnv1a(key, len));
  return s->key ? s->value : -1;
}

int64_t hp_strmap_size(const hp_strmap *m) { return m->n; }
