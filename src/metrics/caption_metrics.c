/* caption_metrics.c — see caption_metrics.h (definitions) and docs/captioning.md.
 *
 * An n-gram (n <= 4) of non-negative ids is a key of two uint64: ids 0..3 packed in pairs,
 * unused slots 0xFFFFFFFF (no real id has that value), so keys of different orders never
 * compare equal. n-grams containing a negative id are never keys: they are only counted. */
#include "metrics/caption_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

#define NMAX 4
#define CIDER_SIGMA 6.0

typedef struct {
  uint64_t a, b;
} ngkey;

typedef struct {
  ngkey k;
  int n;    /* order 1..4 */
  double w; /* count, then tf-idf weight */
} ngent;

static int key_cmp(const ngkey *x, const ngkey *y) {
  if (x->a != y->a) return x->a < y->a ? -1 : 1;
  if (x->b != y->b) return x->b < y->b ? -1 : 1;
  return 0;
}
static int key_cmp_v(const void *x, const void *y) { return key_cmp((const ngkey *)x, (const ngkey *)y); }
static int ent_cmp_v(const void *x, const void *y) { return key_cmp(&((const ngent *)x)->k, &((const ngent *)y)->k); }

/* key of tok[0..n); 0 if it contains a negative id (no key), else 1 */
static int make_key(const int32_t *tok, int n, ngkey *k) {
  uint32_t s[NMAX] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
  for (int j = 0; j < n; j++) {
    if (tok[j] < 0) return 0;
    s[j] = (uint32_t)tok[j];
  }
  k->a = ((uint64_t)s[0] << 32) | s[1];
  k->b = ((uint64_t)s[2] << 32) | s[3];
  return 1;
}

static int64_t npos(int64_t len, int n) { return len >= n ? len - n + 1 : 0; }

int hp_caption_corpus_check(const hp_caption_corpus *c) {
  if (!c) HP_ERROR(HP_ERR_INPUT, "caption metrics: NULL corpus");
  if (c->n < 1) HP_ERROR(HP_ERR_INPUT, "caption metrics: %lld images, at least 1 needed", (long long)c->n);
  if (!c->hyp_off || !c->ref_off || !c->img_ref_off)
    HP_ERROR(HP_ERR_INPUT, "caption metrics: NULL offset array (hyp_off, ref_off or img_ref_off)");
  if (c->hyp_off[0] != 0) HP_ERROR(HP_ERR_INPUT, "caption metrics: hyp_off[0] = %lld, must be 0", (long long)c->hyp_off[0]);
  for (int64_t i = 0; i < c->n; i++)
    if (c->hyp_off[i + 1] < c->hyp_off[i])
      HP_ERROR(HP_ERR_INPUT, "caption metrics: hyp_off decreases at image %lld (%lld -> %lld)", (long long)i,
               (long long)c->hyp_off[i], (long long)c->hyp_off[i + 1]);
  if (c->img_ref_off[0] != 0)
    HP_ERROR(HP_ERR_INPUT, "caption metrics: img_ref_off[0] = %lld, must be 0", (long long)c->img_ref_off[0]);
  for (int64_t i = 0; i < c->n; i++) {
    if (c->img_ref_off[i + 1] < c->img_ref_off[i])
      HP_ERROR(HP_ERR_INPUT, "caption metrics: img_ref_off decreases at image %lld (%lld -> %lld)", (long long)i,
               (long long)c->img_ref_off[i], (long long)c->img_ref_off[i + 1]);
    if (c->img_ref_off[i + 1] == c->img_ref_off[i])
      HP_ERROR(HP_ERR_INPUT, "caption metrics: image %lld has no reference caption (img_ref_off[%lld] = img_ref_off[%lld] = %lld)",
               (long long)i, (long long)i, (long long)(i + 1), (long long)c->img_ref_off[i]);
  }
  int64_t nref = c->img_ref_off[c->n];
  if (c->ref_off[0] != 0) HP_ERROR(HP_ERR_INPUT, "caption metrics: ref_off[0] = %lld, must be 0", (long long)c->ref_off[0]);
  for (int64_t r = 0; r < nref; r++)
    if (c->ref_off[r + 1] < c->ref_off[r])
      HP_ERROR(HP_ERR_INPUT, "caption metrics: ref_off decreases at reference %lld (%lld -> %lld)", (long long)r,
               (long long)c->ref_off[r], (long long)c->ref_off[r + 1]);
  if (c->hyp_off[c->n] > 0 && !c->hyp) HP_ERROR(HP_ERR_INPUT, "caption metrics: NULL hypothesis tokens");
  if (c->ref_off[nref] > 0 && !c->ref) HP_ERROR(HP_ERR_INPUT, "caption metrics: NULL reference tokens");
  return 0;
}

/* longest hypothesis / reference */
static int64_t max_len(const hp_caption_corpus *c) {
  int64_t m = 1;
  for (int64_t i = 0; i < c->n; i++)
    if (c->hyp_off[i + 1] - c->hyp_off[i] > m) m = c->hyp_off[i + 1] - c->hyp_off[i];
  int64_t nref = c->img_ref_off[c->n];
  for (int64_t r = 0; r < nref; r++)
    if (c->ref_off[r + 1] - c->ref_off[r] > m) m = c->ref_off[r + 1] - c->ref_off[r];
  return m;
}

/* sorted keys of the order-n n-grams (without negative ids) of tok[0..len); returns count */
static int64_t keys_of(const int32_t *tok, int64_t len, int n, ngkey *out) {
  int64_t m = 0;
  for (int64_t p = 0; p + n <= len; p++)
    if (make_key(tok + p, n, out + m)) m++;
  qsort(out, (size_t)m, sizeof *out, key_cmp_v);
  return m;
}

/* ---- BLEU ------------------------------------------------------------------------------------ */

int hp_bleu_corpus(const hp_caption_corpus *c, double bleu[4]) {
  if (!bleu) HP_ERROR(HP_ERR_INPUT, "BLEU: NULL output");
  HP_CALL(hp_caption_corpus_check(c));
  const int64_t L = max_len(c);
  ngkey *hk = NULL, *rk = NULL;
  int64_t *hc = NULL, *mc = NULL;
  HP_CALLOC(hk, L, "BLEU: hypothesis n-grams");
  HP_CALLOC(rk, L, "BLEU: reference n-grams");
  HP_CALLOC(hc, L, "BLEU: hypothesis counts");
  HP_CALLOC(mc, L, "BLEU: clip counts");
  int64_t num[NMAX] = {0, 0, 0, 0}, den[NMAX] = {0, 0, 0, 0};
  int64_t hyp_total = 0, ref_total = 0;
  for (int64_t i = 0; i < c->n; i++) {
    const int32_t *h = c->hyp + c->hyp_off[i];
    const int64_t hl = c->hyp_off[i + 1] - c->hyp_off[i];
    const int64_t r0 = c->img_ref_off[i], r1 = c->img_ref_off[i + 1];
    /* closest reference length, ties to the shorter */
    int64_t best = -1;
    for (int64_t r = r0; r < r1; r++) {
      int64_t rl = c->ref_off[r + 1] - c->ref_off[r];
      int64_t dr = rl > hl ? rl - hl : hl - rl, db = best > hl ? best - hl : hl - best;
      if (best < 0 || dr < db || (dr == db && rl < best)) best = rl;
    }
    hyp_total += hl;
    ref_total += best;
    for (int n = 1; n <= NMAX; n++) {
      int64_t tot = npos(hl, n);
      den[n - 1] += tot > 1 ? tot : 1;
      int64_t m = keys_of(h, hl, n, hk);
      /* unique with counts */
      int64_t u = 0;
      for (int64_t j = 0; j < m; j++) {
        if (u > 0 && key_cmp(&hk[u - 1], &hk[j]) == 0) {
          hc[u - 1]++;
        } else {
          hk[u] = hk[j];
          hc[u] = 1;
          u++;
        }
      }
      memset(mc, 0, (size_t)u * sizeof *mc);
      for (int64_t r = r0; r < r1; r++) {
        int64_t rm = keys_of(c->ref + c->ref_off[r], c->ref_off[r + 1] - c->ref_off[r], n, rk);
        int64_t a = 0, b = 0;
        while (a < u && b < rm) {
          int cmp = key_cmp(&hk[a], &rk[b]);
          if (cmp < 0) {
            a++;
          } else if (cmp > 0) {
            b++;
          } else {
            int64_t cnt = 0;
            while (b < rm && key_cmp(&hk[a], &rk[b]) == 0) cnt++, b++;
            if (cnt > mc[a]) mc[a] = cnt;
            a++;
          }
        }
      }
      for (int64_t j = 0; j < u; j++) num[n - 1] += hc[j] < mc[j] ? hc[j] : mc[j];
    }
  }
  free(hk);
  free(rk);
  free(hc);
  free(mc);
  double bp;
  if (hyp_total > ref_total)
    bp = 1.0;
  else if (hyp_total == 0)
    bp = 0.0;
  else
    bp = exp(1.0 - (double)ref_total / (double)hyp_total);
  for (int k = 1; k <= NMAX; k++) {
    int zero = 0;
    double s = 0;
    for (int n = 0; n < k; n++) {
      if (num[n] == 0) {
        zero = 1;
        break;
      }
      s += (1.0 / k) * log((double)num[n] / (double)den[n]);
    }
    bleu[k - 1] = zero ? 0.0 : bp * exp(s);
  }
  return 0;
}

/* ---- CIDEr-D --------------------------------------------------------------------------------- */

typedef struct {
  ngkey *key; /* sorted distinct reference n-grams */
  int64_t *df;
  int64_t m;
  double logN;
} df_table;

static int64_t df_of(const df_table *t, const ngkey *k) {
  int64_t lo = 0, hi = t->m;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    int cmp = key_cmp(&t->key[mid], k);
    if (cmp == 0) return t->df[mid];
    if (cmp < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return 0;
}

/* tf-idf vector of one sentence: sorted entries e[0..*m), norms[4] (including the n-grams with
 * negative ids, each its own n-gram of weight log N), *len = bigram positions */
static void sent_vec(const df_table *t, const int32_t *tok, int64_t len, ngent *e, int64_t *m,
                     double norm[NMAX], double *lenb) {
  int64_t k = 0;
  for (int n = 0; n < NMAX; n++) norm[n] = 0;
  for (int n = 1; n <= NMAX; n++)
    for (int64_t p = 0; p + n <= len; p++) {
      if (make_key(tok + p, n, &e[k].k)) {
        e[k].n = n;
        k++;
      } else {
        norm[n - 1] += t->logN * t->logN;
      }
    }
  qsort(e, (size_t)k, sizeof *e, ent_cmp_v);
  int64_t u = 0;
  for (int64_t j = 0; j < k; j++) {
    if (u > 0 && key_cmp(&e[u - 1].k, &e[j].k) == 0) {
      e[u - 1].w += 1;
    } else {
      e[u] = e[j];
      e[u].w = 1;
      u++;
    }
  }
  for (int64_t j = 0; j < u; j++) {
    int64_t df = df_of(t, &e[j].k);
    e[j].w = e[j].w * (t->logN - log(df > 1 ? (double)df : 1.0));
    norm[e[j].n - 1] += e[j].w * e[j].w;
  }
  for (int n = 0; n < NMAX; n++) norm[n] = sqrt(norm[n]);
  *m = u;
  *lenb = (double)(len > 1 ? len - 1 : 0);
}

int hp_cider_d(const hp_caption_corpus *c, double *score, double *per_image) {
  if (!score) HP_ERROR(HP_ERR_INPUT, "CIDEr-D: NULL output");
  HP_CALL(hp_caption_corpus_check(c));
  const int64_t L = max_len(c);
  const int64_t nref = c->img_ref_off[c->n];
  int64_t maxper = 0; /* n-grams of one image's references */
  for (int64_t i = 0; i < c->n; i++) {
    int64_t s = 0;
    for (int64_t r = c->img_ref_off[i]; r < c->img_ref_off[i + 1]; r++) s += c->ref_off[r + 1] - c->ref_off[r];
    if (s > maxper) maxper = s;
  }
  /* document frequencies: distinct n-grams of every image's reference set */
  int64_t gcap = 0;
  for (int64_t r = 0; r < nref; r++) gcap += c->ref_off[r + 1] - c->ref_off[r];
  gcap *= NMAX;
  ngkey *g = NULL, *tmp = NULL;
  HP_CALLOC(g, gcap > 0 ? gcap : 1, "CIDEr-D: reference n-grams");
  HP_CALLOC(tmp, maxper * NMAX > 0 ? maxper * NMAX : 1, "CIDEr-D: one image's n-grams");
  int64_t gm = 0;
  for (int64_t i = 0; i < c->n; i++) {
    int64_t k = 0;
    for (int64_t r = c->img_ref_off[i]; r < c->img_ref_off[i + 1]; r++) {
      const int32_t *tok = c->ref + c->ref_off[r];
      int64_t len = c->ref_off[r + 1] - c->ref_off[r];
      for (int n = 1; n <= NMAX; n++)
        for (int64_t p = 0; p + n <= len; p++)
          if (make_key(tok + p, n, &tmp[k])) k++;
    }
    qsort(tmp, (size_t)k, sizeof *tmp, key_cmp_v);
    for (int64_t j = 0; j < k; j++)
      if (j == 0 || key_cmp(&tmp[j - 1], &tmp[j]) != 0) g[gm++] = tmp[j];
  }
  free(tmp);
  qsort(g, (size_t)gm, sizeof *g, key_cmp_v);
  df_table t = {0};
  HP_CALLOC(t.df, gm > 0 ? gm : 1, "CIDEr-D: document frequencies");
  for (int64_t j = 0; j < gm; j++) {
    if (t.m > 0 && key_cmp(&g[t.m - 1], &g[j]) == 0) {
      t.df[t.m - 1]++;
    } else {
      g[t.m] = g[j];
      t.df[t.m] = 1;
      t.m++;
    }
  }
  t.key = g;
  t.logN = log((double)c->n);

  ngent *eh = NULL, *er = NULL;
  HP_CALLOC(eh, L * NMAX, "CIDEr-D: hypothesis vector");
  HP_CALLOC(er, L * NMAX, "CIDEr-D: reference vector");
  const double pen = 2.0 * CIDER_SIGMA * CIDER_SIGMA;
  double total = 0;
  for (int64_t i = 0; i < c->n; i++) {
    int64_t mh, mr;
    double nh[NMAX], nr[NMAX], lh, lr;
    sent_vec(&t, c->hyp + c->hyp_off[i], c->hyp_off[i + 1] - c->hyp_off[i], eh, &mh, nh, &lh);
    double acc[NMAX] = {0, 0, 0, 0};
    const int64_t r0 = c->img_ref_off[i], r1 = c->img_ref_off[i + 1];
    for (int64_t r = r0; r < r1; r++) {
      sent_vec(&t, c->ref + c->ref_off[r], c->ref_off[r + 1] - c->ref_off[r], er, &mr, nr, &lr);
      double val[NMAX] = {0, 0, 0, 0};
      int64_t a = 0, b = 0;
      while (a < mh && b < mr) {
        int cmp = key_cmp(&eh[a].k, &er[b].k);
        if (cmp < 0) {
          a++;
        } else if (cmp > 0) {
          b++;
        } else {
          double vh = eh[a].w, vr = er[b].w;
          val[eh[a].n - 1] += (vh < vr ? vh : vr) * vr;
          a++, b++;
        }
      }
      const double delta = lh - lr, gpen = exp(-(delta * delta) / pen);
      for (int n = 0; n < NMAX; n++) {
        if (nh[n] != 0 && nr[n] != 0) val[n] /= nh[n] * nr[n];
        acc[n] += val[n] * gpen;
      }
    }
    double s = (acc[0] + acc[1] + acc[2] + acc[3]) / NMAX;
    s = s / (double)(r1 - r0) * 10.0;
    if (per_image) per_image[i] = s;
    total += s;
  }
  free(eh);
  free(er);
  free(g);
  free(t.df);
  *score = total / (double)c->n;
  return 0;
}
