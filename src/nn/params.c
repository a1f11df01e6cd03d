/* params.c — the contiguous parameter buffer and its name table (see params.h). */
#include "nn/params.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/rng.h"

void hp_params_init(hp_params *p) { memset(p, 0, sizeof *p); }

static int params_add(hp_params *p, const char *name, int ndim, const int *shape, int flags,
                      size_t *offset, int packed) {
  if (p->data) HP_ERROR(HP_ERR_INTERNAL, "%s: tensor added after hp_params_alloc", name);
  if (strlen(name) >= HP_PARAM_NAME_MAX) HP_ERROR(HP_ERR_INTERNAL, "%s: tensor name too long", name);
  if (ndim < 1 || ndim > HP_PARAM_MAXDIM) HP_ERROR(HP_ERR_INTERNAL, "%s: bad rank %d", name, ndim);
  if (hp_params_find(p, name)) HP_ERROR(HP_ERR_INTERNAL, "%s: duplicate tensor name", name);
  size_t numel = 1;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] <= 0) HP_ERROR(HP_ERR_INTERNAL, "%s: dimension %d is %d", name, d, shape[d]);
    if (hp_mul_size(numel, (size_t)shape[d], &numel)) HP_ERROR(HP_ERR_MEM, "%s: size overflow", name);
  }
  if (p->n == p->cap) {
    int cap = p->cap ? 2 * p->cap : 64;
    hp_tensor_info *t = realloc(p->t, (size_t)cap * sizeof *t);
    if (!t) HP_ERROR(HP_ERR_MEM, "%s: cannot grow the parameter table", name);
    p->t = t;
    p->cap = cap;
  }
  hp_tensor_info *t = &p->t[p->n++];
  memset(t, 0, sizeof *t);
  strcpy(t->name, name);
  t->ndim = ndim;
  memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
  t->numel = numel;
  t->flags = flags;
  t->offset = packed ? p->total : (p->total + 15) & ~(size_t)15;
  if (t->offset + numel < t->offset) HP_ERROR(HP_ERR_MEM, "%s: size overflow", name);
  p->total = t->offset + numel;
  if (offset) *offset = t->offset;
  return 0;
}

int hp_params_add(hp_params *p, const char *name, int ndim, const int *shape, int flags, size_t *offset) {
  return params_add(p, name, ndim, shape, flags, offset, 0);
}

int hp_params_add_packed(hp_params *p, const char *name, int ndim, const int *shape, int flags,
                         size_t *offset) {
  return params_add(p, name, ndim, shape, flags, offset, 1);
}

static int params_alloc(hp_params *p, int with_grad) {
  size_t bytes;
  if (hp_mul_size(p->total + 16, sizeof(float), &bytes)) HP_ERROR(HP_ERR_MEM, "parameter buffer size overflow");
  bytes = (bytes + 63) & ~(size_t)63;
  p->data = aligned_alloc(64, bytes);
  p->grad = with_grad ? aligned_alloc(64, bytes) : NULL;
  if (!p->data || (with_grad && !p->grad))
    HP_ERROR(HP_ERR_MEM, "cannot allocate parameters%s: %d x %.1f MiB", with_grad ? " and gradients" : "",
             with_grad ? 2 : 1, (double)bytes / 1048576.0);
  memset(p->data, 0, bytes);
  if (p->grad) memset(p->grad, 0, bytes);
  return 0;
}

int hp_params_alloc(hp_params *p) { return params_alloc(p, 1); }
int hp_params_alloc_data(hp_params *p) { return params_alloc(p, 0); }

void hp_params_free(hp_params *p) {
  free(p->t);
  free(p->data);
  free(p->grad);
  memset(p, 0, sizeof *p);
}

const hp_tensor_info *hp_params_find(const hp_params *p, const char *name) {
  for (int i = 0; i < p->n; i++)
    if (strcmp(p->t[i].name, name) == 0) return &p->t[i];
  return NULL;
}

void hp_params_zero_grad(hp_params *p) {
  if (p->grad) memset(p->grad, 0, p->total * sizeof(float));
}

void hp_params_fill_normal(hp_params *p, size_t offset, size_t numel, float std, uint64_t seed, int k) {
  float *x = p->data + offset;
  for (size_t e = 0; e < numel; e++) {
    /* Box-Muller on two independent keyed uniforms: value depends on (seed, k, e) only. */
    uint64_t h1 = hp_hash4(seed, HP_STREAM_INIT, (uint64_t)k, 2 * e);
    uint64_t h2 = hp_hash4(seed, HP_STREAM_INIT, (uint64_t)k, 2 * e + 1);
    double u1 = ((double)(h1 >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    double u2 = (double)(h2 >> 11) * (1.0 / 9007199254740992.0);
    x[e] = (float)(std * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
  }
}

void hp_params_fill_uniform(hp_params *p, size_t offset, size_t numel, float bound, uint64_t seed, int k) {
  float *x = p->data + offset;
  for (size_t e = 0; e < numel; e++) {
    uint64_t h = hp_hash4(seed, HP_STREAM_INIT, (uint64_t)k, e);
    double u = (double)(h >> 11) * (1.0 / 9007199254740992.0);
    x[e] = (float)((2.0 * u - 1.0) * bound);
  }
}

void hp_params_fill_const(hp_params *p, size_t offset, size_t numel, float value) {
  for (size_t e = 0; e < numel; e++) p->data[offset + e] = value;
}

size_t hp_params_trainable(const hp_params *p) {
  size_t n = 0;
  for (int i = 0; i < p->n; i++)
    if (!(p->t[i].flags & (HP_PARAM_BUFFER | HP_PARAM_FROZEN))) n += p->t[i].numel;
  return n;
}
