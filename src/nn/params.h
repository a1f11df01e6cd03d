/* params.h — a model's parameters: one contiguous float buffer described by a table of named
 * tensors (llm.c style), and a gradient buffer of the same layout. One buffer means one
 * (bucketed) allreduce moves every gradient and one HDF5 loop writes every tensor.
 *
 * Build in two passes: hp_params_add() every tensor (records name, shape, offset), then
 * hp_params_alloc() once; models keep offsets and resolve pointers after allocation.
 * Names follow the PyTorch state-dict names of the reference implementations (Hugging Face
 * BERT, timm ViT, torchvision ResNet50) under a tower prefix, e.g. "text.encoder.layer.0.
 * attention.self.query.weight"; the layout of each tensor is documented where it differs from
 * PyTorch's (conv weights are [OC,KH,KW,IC], NHWC, see nn/conv.h).
 */
#ifndef HP_NN_PARAMS_H
#define HP_NN_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#define HP_PARAM_NAME_MAX 128
#define HP_PARAM_MAXDIM 4

/* What an optimiser may do to a tensor. */
enum {
  HP_PARAM_DECAY = 1,    /* weight decay applies (matrices; not biases, norms, embeddings) */
  HP_PARAM_L2 = 2,       /* the explicit L2 kernel penalty applies (projection heads, 1e-3) */
  HP_PARAM_BUFFER = 4,   /* not trained: running statistics (batch norm); never in gradients */
  HP_PARAM_FROZEN = 8    /* not trained: a locked tower (train.freeze); its gradient is computed but
                          * neither clipped, decayed nor applied */
};

typedef struct {
  char name[HP_PARAM_NAME_MAX];
  int ndim;
  int shape[HP_PARAM_MAXDIM];
  size_t offset;  /* in floats, into data/grad */
  size_t numel;
  int flags;      /* HP_PARAM_* */
} hp_tensor_info;

typedef struct {
  int n, cap;
  hp_tensor_info *t;
  size_t total;   /* floats */
  float *data;    /* [total], 64-byte aligned */
  float *grad;    /* [total], 64-byte aligned, zero after alloc; NULL after hp_params_alloc_data */
} hp_params;

/* Gradient hand-off during backward: a tower calls fn(arg, lo) when every gradient in
 * [lo, total) is final (parameters are laid out input layer first, so a backward pass finishes
 * them from the end of the buffer towards its start) — the hook of comm/allreduce.h's
 * hp_bar_ready, which starts the buckets that became complete. fn == NULL: no hand-off. The
 * first failure is kept in err and stops further calls; the caller checks it after backward. */
typedef int (*hp_grad_ready_fn)(void *arg, size_t lo);
typedef struct {
  hp_grad_ready_fn fn;
  void *arg;
  int err;
} hp_grad_hook;

static inline void hp_grad_hook_call(hp_grad_hook *h, size_t lo) {
  if (h && h->fn && !h->err) h->err = h->fn(h->arg, lo);
}

void hp_params_init(hp_params *p);
/* Register a tensor; *offset receives its offset. Fails on a duplicate name, bad shape or
 * size overflow. Offsets are rounded up to 16 floats so every tensor starts 64-byte aligned. */
int hp_params_add(hp_params *p, const char *name, int ndim, const int *shape, int flags, size_t *offset);
/* As hp_params_add, but the tensor starts right after the previously added one (no alignment
 * rounding), so consecutive packed tensors form ONE contiguous array: e.g. BERT's query, key
 * and value weights [D,D] x3 are one fused [3D,D] matrix while keeping their own names. */
int hp_params_add_packed(hp_params *p, const char *name, int ndim, const int *shape, int flags,
                         size_t *offset);
int hp_params_alloc(hp_params *p);
/* The parameters alone (grad = NULL), for a model that only runs forward (the evaluation
 * stages): half the memory of hp_params_alloc. */
int hp_params_alloc_data(hp_params *p);
void hp_params_free(hp_params *p);
const hp_tensor_info *hp_params_find(const hp_params *p, const char *name);
void hp_params_zero_grad(hp_params *p);

/* Seeded initialisation, independent of the rank count: element e of tensor k gets a value
 * from hp_hash4(seed, HP_STREAM_INIT, k, e). */
void hp_params_fill_normal(hp_params *p, size_t offset, size_t numel, float std, uint64_t seed, int k);
void hp_params_fill_uniform(hp_params *p, size_t offset, size_t numel, float bound, uint64_t seed, int k);
void hp_params_fill_const(hp_params *p, size_t offset, size_t numel, float value);

/* Number of trainable floats (flags without HP_PARAM_BUFFER). */
size_t hp_params_trainable(const hp_params *p);

#endif
