/* optim.c — see optim.h. */
#include "nn/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "nn/nn_common.h"

void hp_optim_config_adamw(hp_optim_config *c) {
  memset(c, 0, sizeof *c);
  c->kind = HP_OPT_ADAMW;
  c->beta1 = 0.9f;
  c->beta2 = 0.999f;
  c->eps = 1e-8f;
  c->weight_decay = 0.01f;
  c->l2 = 1e-3f;
}

void hp_optim_config_sgd(hp_optim_config *c) {
  memset(c, 0, sizeof *c);
  c->kind = HP_OPT_SGD;
  c->momentum = 0.9f;
  c->l2 = 1e-3f;
}

void hp_optim_config_rmsprop(hp_optim_config *c) {
  memset(c, 0, sizeof *c);
  c->kind = HP_OPT_RMSPROP;
  c->alpha = 0.9f;
  c->eps = 1e-7f;
}

int hp_optim_init(hp_optim *o, const hp_optim_config *cfg, const hp_params *p, size_t lo, size_t hi) {
  memset(o, 0, sizeof *o);
  if (lo > hi || hi > p->total)
    HP_ERROR(HP_ERR_INTERNAL, "optimiser slice [%zu,%zu) outside the buffer of %zu", lo, hi, p->total);
  if (cfg->kind != HP_OPT_ADAMW && cfg->kind != HP_OPT_SGD && cfg->kind != HP_OPT_RMSPROP)
    HP_ERROR(HP_ERR_CONFIG, "unknown optimiser kind %d", cfg->kind);
  o->cfg = *cfg;
  o->lo = lo;
  o->hi = hi;
  HP_CALLOC(o->r, p->n ? p->n : 1, "optimiser ranges");
  for (int k = 0; k < p->n; k++) {
    const hp_tensor_info *t = &p->t[k];
    if (t->flags & (HP_PARAM_BUFFER | HP_PARAM_FROZEN)) continue; /* never updated */
    size_t a = t->offset > lo ? t->offset : lo, b = t->offset + t->numel < hi ? t->offset + t->numel : hi;
    if (a >= b) continue;
    /* merge with the previous range when adjacent with the same flags (packed tensors) */
    if (o->nr && o->r[o->nr - 1].hi == a - lo && o->r[o->nr - 1].flags == t->flags) {
      o->r[o->nr - 1].hi = b - lo;
      continue;
    }
    o->r[o->nr++] = (hp_optim_range){a - lo, b - lo, t->flags};
  }
  size_t n = hi - lo;
  HP_CALLOC(o->m, n ? n : 1, "optimiser first moment");
  if (cfg->kind == HP_OPT_ADAMW) HP_CALLOC(o->v, n ? n : 1, "optimiser second moment");
  return HP_OK;
}

void hp_optim_free(hp_optim *o) {
  free(o->r);
  free(o->m);
  free(o->v);
  memset(o, 0, sizeof *o);
}

void hp_optim_add_l2(const hp_optim *o, const float *w, float *g) {
  float c = 2.0f * o->cfg.l2;
  if (c == 0.0f) return;
  for (int k = 0; k < o->nr; k++) {
    if (!(o->r[k].flags & HP_PARAM_L2)) continue;
    size_t a = o->r[k].lo, b = o->r[k].hi;
    HP_OMP("omp parallel for if(b - a > HP_OMP_MIN_ELEMS)")
    for (size_t i = a; i < b; i++) g[i] += c * w[i];
  }
}

double hp_optim_l2_loss(const hp_optim *o, const float *w) {
  double s = 0.0;
  for (int k = 0; k < o->nr; k++) {
    if (!(o->r[k].flags & HP_PARAM_L2)) continue;
    for (size_t i = o->r[k].lo; i < o->r[k].hi; i++) s += (double)w[i] * w[i];
  }
  return (double)o->cfg.l2 * s;
}

double hp_optim_sqnorm(const hp_optim *o, const float *g) {
  double s = 0.0;
  for (int k = 0; k < o->nr; k++) {
    size_t a = o->r[k].lo, b = o->r[k].hi;
    double sk = 0.0;
    /* fixed static partition + ordered combination would be needed for bitwise thread
     * independence; the norm only scales the update, so a reduction is fine here */
    HP_OMP("omp parallel for reduction(+:sk) if(b - a > HP_OMP_MIN_ELEMS)")
    for (size_t i = a; i < b; i++) sk += (double)g[i] * g[i];
    s += sk;
  }
  return s;
}

float hp_clip_scale(double norm, float max_norm) {
  if (!(max_norm > 0.0f)) return 1.0f;
  double c = (double)max_norm / (norm + 1e-6);
  return c < 1.0 ? (float)c : 1.0f;
}

void hp_optim_step(hp_optim *o, float *w, const float *g, float lr, float scale) {
  const hp_optim_config *c = &o->cfg;
  o->t++;
  if (c->kind == HP_OPT_ADAMW) {
    float b1 = c->beta1, b2 = c->beta2, eps = c->eps;
    double bc1 = 1.0 - pow((double)b1, (double)o->t), bc2 = 1.0 - pow((double)b2, (double)o->t);
    float step = (float)(lr / bc1), rbc2 = (float)(1.0 / sqrt(bc2));
    float *m = o->m, *v = o->v;
    for (int k = 0; k < o->nr; k++) {
      size_t a = o->r[k].lo, b = o->r[k].hi;
      float decay = (o->r[k].flags & HP_PARAM_DECAY) ? 1.0f - lr * c->weight_decay : 1.0f;
      HP_OMP("omp parallel for if(b - a > HP_OMP_MIN_ELEMS)")
      for (size_t i = a; i < b; i++) {
        float gi = g[i] * scale;
        float wi = w[i] * decay;
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        w[i] = wi - step * m[i] / (sqrtf(v[i]) * rbc2 + eps);
      }
    }
  } else if (c->kind == HP_OPT_RMSPROP) {
    float al = c->alpha, eps = c->eps;
    float *sq = o->m;
    for (int k = 0; k < o->nr; k++) {
      size_t a = o->r[k].lo, b = o->r[k].hi;
      float wd = (o->r[k].flags & HP_PARAM_DECAY) ? c->weight_decay : 0.0f;
      HP_OMP("omp parallel for if(b - a > HP_OMP_MIN_ELEMS)")
      for (size_t i = a; i < b; i++) {
        float d = g[i] * scale + wd * w[i];
        sq[i] = al * sq[i] + (1.0f - al) * d * d;
        w[i] -= lr * d / (sqrtf(sq[i]) + eps);
      }
    }
  } else {
    float mu = c->momentum, damp = 1.0f - c->dampening;
    int first = o->t == 1, nest = c->nesterov;
    float *buf = o->m;
    for (int k = 0; k < o->nr; k++) {
      size_t a = o->r[k].lo, b = o->r[k].hi;
      float wd = (o->r[k].flags & HP_PARAM_DECAY) ? c->weight_decay : 0.0f;
      HP_OMP("omp parallel for if(b - a > HP_OMP_MIN_ELEMS)")
      for (size_t i = a; i < b; i++) {
        float d = g[i] * scale + wd * w[i];
        if (mu != 0.0f) {
          buf[i] = first ? d : mu * buf[i] + damp * d;
          d = nest ? d + mu * buf[i] : buf[i];
        }
        w[i] -= lr * d;
      }
    }
  }
}

float hp_lr_at(const hp_lr_schedule *s, int64_t step) {
  if (s->kind == HP_LR_CONSTANT) return s->base;
  if (step < s->warmup) return s->base * (float)(step + 1) / (float)s->warmup;
  int64_t span = s->total - s->warmup;
  double q = (double)(step - s->warmup) / (double)(span > 1 ? span : 1);
  if (q > 1.0) q = 1.0;
  if (q < 0.0) q = 0.0;
  return (float)((double)s->floor + ((double)s->base - s->floor) * 0.5 * (1.0 + cos(3.141592653589793 * q)));
}
