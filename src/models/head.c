/* head.c — see head.h. */
#include "models/head.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "nn/l2norm.h"
#include "nn/linear.h"

#define HEAD_EPS 1e-12f

int hp_head_build(hp_head *h, const char *prefix, int in, int out, int bias, hp_params *p) {
  memset(h, 0, sizeof *h);
  if (in < 1 || out < 1) HP_ERROR(HP_ERR_CONFIG, "%s: sizes %d -> %d", prefix, in, out);
  h->in = in;
  h->out = out;
  h->first_tensor = p->n;
  char n[HP_PARAM_NAME_MAX];
  snprintf(n, sizeof n, "%s.weight", prefix);
  HP_CALL(hp_params_add(p, n, 2, (int[]){out, in}, HP_PARAM_DECAY | HP_PARAM_L2, &h->w));
  h->bias = bias;
  if (bias) {
    snprintf(n, sizeof n, "%s.bias", prefix);
    HP_CALL(hp_params_add(p, n, 1, (int[]){out}, 0, &h->b));
  }
  return HP_OK;
}

void hp_head_init(const hp_head *h, hp_params *p, uint64_t seed) {
  hp_params_fill_normal(p, h->w, (size_t)h->out * h->in, 0.02f, seed, h->first_tensor);
  if (h->bias) hp_params_fill_const(p, h->b, (size_t)h->out, 0.0f);
}

int hp_head_alloc_acts(hp_head *h, int B, size_t *bytes) {
  if (B < 1) HP_ERROR(HP_ERR_CONFIG, "head: batch %d", B);
  free(h->act);
  h->act = NULL;
  size_t BE = (size_t)B * h->out, nf = 3 * BE + (size_t)B;
  HP_CALLOC(h->act, nf, "projection head activations");
  h->y = h->act;
  h->z = h->y + BE;
  h->dy = h->z + BE;
  h->norm = h->dy + BE;
  h->Bmax = B;
  if (bytes) *bytes = nf * sizeof(float);
  return HP_OK;
}

void hp_head_free(hp_head *h) {
  free(h->act);
  memset(h, 0, sizeof *h);
}

int hp_head_forward(hp_head *h, const hp_params *p, const float *x, int B, const float **emb) {
  if (!h->act || B < 1 || B > h->Bmax) HP_ERROR(HP_ERR_INTERNAL, "head: batch %d, allocated %d", B, h->Bmax);
  h->B = B;
  h->x = x;
  hp_linear_forward(h->y, x, p->data + h->w, h->bias ? p->data + h->b : NULL, B, h->in, h->out);
  hp_l2norm_forward(h->z, h->norm, h->y, B, h->out, HEAD_EPS);
  *emb = h->z;
  return HP_OK;
}

void hp_head_backward(hp_head *h, const hp_params *p, float *grad, const float *demb, float *dx) {
  int B = h->B;
  memset(h->dy, 0, (size_t)B * h->out * sizeof(float));
  hp_l2norm_backward(h->dy, demb, h->z, h->norm, B, h->out, HEAD_EPS);
  hp_linear_backward(dx, grad + h->w, h->bias ? grad + h->b : NULL, h->dy, h->x, p->data + h->w, B, h->in, h->out);
}
