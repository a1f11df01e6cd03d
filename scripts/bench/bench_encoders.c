/* bench_encoders.c — hpclip side of scripts/bench/bench_encoders.sh: time of one training step
 * (zero gradients, forward, backward, AdamW update of every trainable tensor) of one model,
 * median over repetitions after warm-up, in ONE process per model so that the peak resident
 * memory (getrusage ru_maxrss) is that model's.
 *
 *   bench_encoders MODEL [--batch B] [--image S] [--tokens T] [--warmup W] [--reps R] [--infer]
 * --infer: inference instead of a training step — the forward pass alone in eval mode (no
 * dropout; ResNet batch norm with running statistics; CLIP models through hp_clip_encode_text /
 * hp_clip_encode_image as the embed stage runs them), with the embed stage's memory: parameters
 * without gradients (hp_params_alloc_data, hp_clip_build_infer) and the towers' inference
 * activations (hp_*_alloc_infer), no optimiser; FLOPs are the
 * forward terms below (the transformer's 1x, patch embedding 2*B*Np*3P^2*D, every conv 1x).
 *   MODEL: sgemm            cblas_sgemm, square N = 3072 (the machine's GEMM peak)
 *          bert-4-256       BERT L=4 D=256 H=4 F=1024, V=15000, T tokens (tower alone)
 *          bert-12-768      BERT L=12 D=768 H=12 F=3072, V=15000
 *          vit-b16, vit-b32 ViT L=12 D=768 H=12 F=3072, patch 16 / 32, S x S uint8 images
 *          resnet50         torchvision ResNet50 without fc (BN in training mode)
 *          clip-bert4-vitb16, clip-bert4-resnet50
 *                           the CLIP model (clip.h): BERT-4/256 + image tower + projection
 *                           heads (E = 512)
 * Defaults: B = 32, S = 128, T = 20 (every token valid), W = 2, R = 5. Threads: OpenMP and the
 * OpenMP build of OpenBLAS follow OMP_NUM_THREADS / OPENBLAS_NUM_THREADS (set by the caller).
 * No dropout; towers are trained on loss = sum(pooled * G) (CLIP: sum over both embeddings),
 * i.e. the upstream gradient is a fixed random G, so no loss kernel is timed.
 *
 * FLOPs per step, counted analytically (multiply-add = 2; GEMM-class work only: layer norms,
 * softmax, GELU, batch norm, pooling and the optimiser are not counted):
 *   transformer, per layer: forward 2*N*(4D^2 + 2DF) + 4*B*T^2*D  (N = B*T tokens; qkv, proj,
 *     fc1, fc2; Q.K^T and P.V), training = 3x forward (input and weight gradients);
 *   ViT patch embedding: 2*B*Np*(3P^2)*D forward + the same for the weight gradient (no image
 *     gradient) = 4*B*Np*3P^2*D;  BERT embeddings: lookups, 0;
 *   ResNet conv: forward 2*B*OH*OW*OC*IC*K^2, training 3x (the stem conv 2x: no image gradient);
 *   projection head: 6*B*Din*E.
 * Output: one JSON line on stdout (median/min seconds, all times, FLOPs, GFLOP/s, peak RSS).
 */
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "base/error.h"
#include "models/bert.h"
#include "models/clip.h"
#include "nn/params.h"
#include "models/resnet50.h"
#include "models/vit.h"
#include "nn/optim.h"

#define MAX_REPS 100

enum { K_SGEMM, K_BERT, K_VIT, K_RESNET, K_CLIP };

typedef struct {
  const char *model;
  int kind, B, S, T, warmup, reps, infer;
  int text_L, text_D, vit_P, image_resnet; /* model shape */
  hp_params own;                           /* towers alone */
  hp_params *p;                            /* own or clip.p */
  hp_bert bert;
  hp_vit vit;
  hp_resnet res;
  hp_clip clip;
  hp_optim opt;
  int32_t *ids;
  uint8_t *valid, *img;
  float *G, *G2, *feat;
  float *a, *b, *c; /* sgemm */
  int n;            /* sgemm size */
  double flops;
} bench;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void bert_cfg(hp_bert_config *c, int L, int D, int T) {
  hp_bert_config_default(c);
  c->layers = L;
  c->width = D;
  c->heads = D / 64;
  c->ffn = 4 * D;
  c->max_len = T;
  c->dropout = 0.0f;
}

static void vit_cfg(hp_vit_config *c, int S, int P) {
  hp_vit_config_default(c);
  c->image = S;
  c->patch = P;
}

static int g_infer; /* --infer: count forward FLOPs only */

static double tblock_flops(int B, int T, int L, int D, int F) {
  double N = (double)B * T;
  double fwd = 2.0 * N * (4.0 * D * D + 2.0 * D * F) + 4.0 * B * (double)T * T * D;
  return (g_infer ? 1.0 : 3.0) * fwd * L;
}

static double bert_flops(const hp_bert_config *c, int B, int T) {
  return tblock_flops(B, T, c->layers, c->width, c->ffn ? c->ffn : 4 * c->width);
}

static double vit_flops(const hp_vit_config *c, int B) {
  int Np = (c->image / c->patch) * (c->image / c->patch);
  double pe = (g_infer ? 2.0 : 4.0) * B * Np * (3.0 * c->patch * c->patch) * c->width;
  return pe + tblock_flops(B, Np + 1, c->layers, c->width, c->mlp ? c->mlp : 4 * c->width);
}

static double resnet_flops(const hp_resnet *m, int B) {
  double f = 0;
  for (int i = 0; i < m->nconv; i++) {
    const hp_resnet_conv *u = &m->convs[i];
    double fwd = 2.0 * B * u->oh * u->ow * (double)u->oc * u->ic * u->k * u->k;
    f += (g_infer ? 1.0 : i == 0 ? 2.0 : 3.0) * fwd;
  }
  return f;
}

static int fill_random(bench *b, int feat) {
  size_t nimg = (size_t)b->B * b->S * b->S * 3;
  HP_CALLOC(b->ids, (size_t)b->B * b->T, "ids");
  HP_CALLOC(b->valid, (size_t)b->B * b->T, "mask");
  HP_CALLOC(b->img, nimg, "images");
  HP_CALLOC(b->G, (size_t)b->B * feat, "upstream gradient");
  HP_CALLOC(b->G2, (size_t)b->B * feat, "upstream gradient");
  uint64_t s = 88172645463325252ull;
#define XS() (s ^= s << 13, s ^= s >> 7, s ^= s << 17, s)
  for (int i = 0; i < b->B * b->T; i++) {
    b->ids[i] = 1 + (int32_t)(XS() % 14999u);
    b->valid[i] = 1;
  }
  for (size_t i = 0; i < nimg; i++) b->img[i] = (uint8_t)(XS() >> 56);
  for (int i = 0; i < b->B * feat; i++) {
    b->G[i] = (float)((double)(XS() >> 11) / 9007199254740992.0 - 0.5) * 0.02f;
    b->G2[i] = (float)((double)(XS() >> 11) / 9007199254740992.0 - 0.5) * 0.02f;
  }
#undef XS
  return 0;
}

static int setup(bench *b) {
  const char *m = b->model;
  hp_params_init(&b->own);
  b->p = &b->own;
  if (strcmp(m, "sgemm") == 0) {
    b->kind = K_SGEMM;
    b->n = 3072;
    size_t nn = (size_t)b->n * b->n;
    HP_CALLOC(b->a, nn, "A");
    HP_CALLOC(b->b, nn, "B");
    HP_CALLOC(b->c, nn, "C");
    for (size_t i = 0; i < nn; i++) {
      b->a[i] = (float)((i * 7919) % 1000) * 1e-3f;
      b->b[i] = (float)((i * 104729) % 1000) * 1e-3f;
    }
    b->flops = 2.0 * b->n * (double)b->n * b->n;
    return 0;
  }
  if (strncmp(m, "bert-", 5) == 0) {
    int L, D;
    if (sscanf(m, "bert-%d-%d", &L, &D) != 2) HP_ERROR(HP_ERR_USAGE, "model %s: expected bert-L-D", m);
    hp_bert_config c;
    bert_cfg(&c, L, D, b->T);
    b->kind = K_BERT;
    HP_CALL(hp_bert_build(&b->bert, &c, b->p));
    HP_CALL(b->infer ? hp_params_alloc_data(b->p) : hp_params_alloc(b->p));
    hp_bert_init(&b->bert, b->p, 1);
    HP_CALL(b->infer ? hp_bert_alloc_infer(&b->bert, b->B, NULL) : hp_bert_alloc_acts(&b->bert, b->B, NULL));
    HP_CALL(fill_random(b, D));
    b->flops = bert_flops(&c, b->B, b->T);
  } else if (strcmp(m, "vit-b16") == 0 || strcmp(m, "vit-b32") == 0) {
    hp_vit_config c;
    vit_cfg(&c, b->S, m[5] == '1' ? 16 : 32);
    b->kind = K_VIT;
    HP_CALL(hp_vit_build(&b->vit, &c, b->p));
    HP_CALL(b->infer ? hp_params_alloc_data(b->p) : hp_params_alloc(b->p));
    hp_vit_init(&b->vit, b->p, 1);
    HP_CALL(b->infer ? hp_vit_alloc_infer(&b->vit, b->B, NULL) : hp_vit_alloc_acts(&b->vit, b->B, NULL));
    HP_CALL(fill_random(b, c.width));
    b->flops = vit_flops(&c, b->B);
  } else if (strcmp(m, "resnet50") == 0) {
    hp_resnet_config c;
    hp_resnet_config_resnet50(&c, b->S);
    b->kind = K_RESNET;
    HP_CALL(hp_resnet_build(&b->res, &c, b->p));
    HP_CALL(b->infer ? hp_params_alloc_data(b->p) : hp_params_alloc(b->p));
    hp_resnet_init(&b->res, b->p, 1);
    HP_CALL(b->infer ? hp_resnet_alloc_infer(&b->res, b->B) : hp_resnet_alloc_acts(&b->res, b->B));
    HP_CALL(fill_random(b, b->res.feat_dim));
    HP_CALLOC(b->feat, (size_t)b->B * b->res.feat_dim, "features");
    b->flops = resnet_flops(&b->res, b->B);
  } else if (strcmp(m, "clip-bert4-vitb16") == 0 || strcmp(m, "clip-bert4-resnet50") == 0) {
    hp_clip_config c;
    memset(&c, 0, sizeof c);
    bert_cfg(&c.text, 4, 256, b->T);
    c.embed_dim = 512;
    c.temperature = 0.07f;
    c.learn_temperature = 1;
    if (strstr(m, "vit")) {
      c.image_kind = HP_CLIP_IMAGE_VIT;
      vit_cfg(&c.vit, b->S, 16);
    } else {
      c.image_kind = HP_CLIP_IMAGE_RESNET;
      hp_resnet_config_resnet50(&c.resnet, b->S);
    }
    b->kind = K_CLIP;
    HP_CALL(b->infer ? hp_clip_build_infer(&b->clip, &c) : hp_clip_build(&b->clip, &c));
    hp_clip_init(&b->clip, 1);
    HP_CALL(hp_clip_alloc_acts(&b->clip, b->B, NULL));
    b->p = &b->clip.p;
    HP_CALL(fill_random(b, c.embed_dim));
    int E = c.embed_dim;
    const double hm = g_infer ? 2.0 : 6.0; /* projection heads */
    b->flops = bert_flops(&b->clip.cfg.text, b->B, b->T) + hm * b->B * 256.0 * E +
               hm * b->B * (double)b->clip.image_feat * E +
               (c.image_kind == HP_CLIP_IMAGE_VIT ? vit_flops(&b->clip.cfg.vit, b->B) : resnet_flops(&b->clip.resnet, b->B));
  } else {
    HP_ERROR(HP_ERR_USAGE, "unknown model '%s'", m);
  }
  if (b->infer) return 0; /* no optimiser state */
  hp_optim_config oc;
  hp_optim_config_adamw(&oc);
  HP_CALL(hp_optim_init(&b->opt, &oc, b->p, 0, b->p->total));
  return 0;
}

static int step(bench *b) {
  const float *out, *out2;
  if (b->kind == K_SGEMM) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b->n, b->n, b->n, 1.0f, b->a, b->n, b->b, b->n, 0.0f,
                b->c, b->n);
    return 0;
  }
  if (b->infer) {
    switch (b->kind) {
      case K_BERT:
        HP_CALL(hp_bert_forward(&b->bert, b->p, b->ids, b->valid, b->B, b->T, NULL, &out));
        break;
      case K_VIT:
        HP_CALL(hp_vit_forward(&b->vit, b->p, NULL, b->img, b->B, NULL, &out));
        break;
      case K_RESNET:
        HP_CALL(hp_resnet_forward_u8(&b->res, b->p, b->img, b->B, 0, b->feat));
        break;
      default:
        HP_CALL(hp_clip_encode_text(&b->clip, b->ids, b->valid, b->B, b->T, NULL, &out));
        HP_CALL(hp_clip_encode_image(&b->clip, b->img, b->B, 0, NULL, &out2));
        break;
    }
    return 0;
  }
  hp_params_zero_grad(b->p);
  switch (b->kind) {
    case K_BERT:
      HP_CALL(hp_bert_forward(&b->bert, b->p, b->ids, b->valid, b->B, b->T, NULL, &out));
      hp_bert_backward(&b->bert, b->p, b->p->grad, b->G);
      break;
    case K_VIT:
      HP_CALL(hp_vit_forward(&b->vit, b->p, NULL, b->img, b->B, NULL, &out));
      hp_vit_backward(&b->vit, b->p, b->p->grad, b->G);
      break;
    case K_RESNET:
      HP_CALL(hp_resnet_forward_u8(&b->res, b->p, b->img, b->B, 1, b->feat));
      HP_CALL(hp_resnet_backward(&b->res, b->p, b->p->grad, b->G));
      break;
    default:
      HP_CALL(hp_clip_encode_text(&b->clip, b->ids, b->valid, b->B, b->T, NULL, &out));
      HP_CALL(hp_clip_encode_image(&b->clip, b->img, b->B, 1, NULL, &out2));
      HP_CALL(hp_clip_backward(&b->clip, b->G2, b->G, 0.0, NULL, NULL));
      break;
  }
  hp_optim_step(&b->opt, b->p->data, b->p->grad, 1e-4f, 1.0f);
  return 0;
}

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, c = *(const double *)y;
  return (a > c) - (a < c);
}

static int run(bench *b) {
  double t0 = now();
  HP_CALL(setup(b));
  double t_setup = now() - t0;
  for (int i = 0; i < b->warmup; i++) HP_CALL(step(b));
  double times[MAX_REPS], sorted[MAX_REPS];
  for (int i = 0; i < b->reps; i++) {
    double s = now();
    HP_CALL(step(b));
    times[i] = now() - s;
  }
  memcpy(sorted, times, sizeof(double) * (size_t)b->reps);
  qsort(sorted, (size_t)b->reps, sizeof(double), cmp_double);
  double med = b->reps % 2 ? sorted[b->reps / 2] : 0.5 * (sorted[b->reps / 2 - 1] + sorted[b->reps / 2]);
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) HP_ERROR(HP_ERR_IO, "getrusage failed");
  int threads = 1;
#ifdef _OPENMP
  threads = omp_get_max_threads();
#endif
  printf("{\"impl\": \"hpclip\", \"mode\": \"%s\", \"model\": \"%s\", \"threads\": %d, \"blas_threads\": %d, \"batch\": %d, "
         "\"image\": %d, \"tokens\": %d, \"params\": %zu, \"flops\": %.6g, \"median_s\": %.6f, \"min_s\": %.6f, "
         "\"gflops\": %.3f, \"per_s\": %.4f, \"maxrss_mb\": %.1f, \"setup_s\": %.2f, \"times\": [",
         b->infer ? "infer" : "train", b->model, threads, openblas_get_num_threads(), b->kind == K_SGEMM ? 0 : b->B, b->S, b->T,
         b->kind == K_SGEMM ? (size_t)0 : hp_params_trainable(b->p), b->flops, med, sorted[0], b->flops / med * 1e-9,
         b->kind == K_SGEMM ? 1.0 / med : (double)b->B / med, (double)ru.ru_maxrss / 1024.0, t_setup);
  for (int i = 0; i < b->reps; i++) printf("%s%.5f", i ? ", " : "", times[i]);
  printf("]}\n");
  return 0;
}

static int parse_int(const char *s, int lo, int hi, const char *what, int *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (!*s || *end || v < lo || v > hi) HP_ERROR(HP_ERR_USAGE, "%s = '%s': expected an integer in [%d,%d]", what, s, lo, hi);
  *out = (int)v;
  return 0;
}

int main(int argc, char **argv) {
  bench b;
  memset(&b, 0, sizeof b);
  b.B = 32;
  b.S = 128;
  b.T = 20;
  b.warmup = 2;
  b.reps = 5;
  int err = argc < 2 ? HP_ERROR_SET(HP_ERR_USAGE,
                                    "usage: bench_encoders MODEL [--batch B] [--image S] [--tokens T] "
                                    "[--warmup W] [--reps R] [--infer]")
                     : 0;
  if (!err) b.model = argv[1];
  for (int i = 2; i < argc && !err; i += 2) {
    if (strcmp(argv[i], "--infer") == 0) {
      b.infer = g_infer = 1;
      i--;
      continue;
    }
    if (i + 1 >= argc) {
      err = HP_ERROR_SET(HP_ERR_USAGE, "%s needs a value", argv[i]);
      break;
    }
    const char *o = argv[i], *v = argv[i + 1];
    if (strcmp(o, "--batch") == 0)
      err = parse_int(v, 1, 4096, o, &b.B);
    else if (strcmp(o, "--image") == 0)
      err = parse_int(v, 32, 1024, o, &b.S);
    else if (strcmp(o, "--tokens") == 0)
      err = parse_int(v, 1, 512, o, &b.T);
    else if (strcmp(o, "--warmup") == 0)
      err = parse_int(v, 0, 100, o, &b.warmup);
    else if (strcmp(o, "--reps") == 0)
      err = parse_int(v, 1, MAX_REPS, o, &b.reps);
    else
      err = HP_ERROR_SET(HP_ERR_USAGE, "unknown option %s", o);
  }
  if (!err) err = run(&b);
  if (err) {
    fprintf(stderr, "bench_encoders: %s: %s\n%s", hp_error_name(err), hp_error_message(), hp_error_trace_text());
    return 1;
  }
  return 0;
}
