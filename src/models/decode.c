/* decode.c — see decode.h (definitions, tie-breaking) and docs/captioning.md. */
#include "models/decode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

/* floats of logits per callback call at most (items are decoded in chunks of this budget;
 * every item's result is independent of the chunking) */
#define DEC_LOGIT_BUDGET ((int64_t)1 << 24)

/* log-sum-exp of one row, double; non-finite logits other than -inf are errors */
static int row_lse(const float *x, int V, int64_t seq, double *lse) {
  double m = -INFINITY;
  for (int k = 0; k < V; k++) {
    if (isnan(x[k]) || x[k] == INFINITY)
      HP_ERROR(HP_ERR_NUMERIC, "decoding: logit %d of sequence %lld is %g", k, (long long)seq, (double)x[k]);
    if (x[k] > m) m = x[k];
  }
  if (m == -INFINITY) HP_ERROR(HP_ERR_NUMERIC, "decoding: every logit of sequence %lld is -inf", (long long)seq);
  double s = 0;
  for (int k = 0; k < V; k++) s += exp((double)x[k] - m);
  *lse = m + log(s);
  return 0;
}

typedef struct {
  double score; /* parent score + log p */
  double logp;
  int parent;
  int32_t tok;
} cand;

/* score desc, parent asc, token asc */
static int cand_before(const cand *a, const cand *b) {
  if (a->score != b->score) return a->score > b->score;
  if (a->parent != b->parent) return a->parent < b->parent;
  return a->tok < b->tok;
}
static int cand_cmp(const void *x, const void *y) {
  const cand *a = x, *b = y;
  return cand_before(a, b) ? -1 : (cand_before(b, a) ? 1 : 0);
}

static double normed(double raw, int len, float lp) {
  if (lp == 0) return raw;
  return raw / pow(len > 1 ? (double)len : 1.0, (double)lp);
}

typedef struct {
  hp_next_logits_fn fn;
  void *ctx;
  int V, B, L;
  const hp_decode_opts *o;
  const uint8_t *allowed;
} dec;

/* greedy over items [i0, i0+C) */
static int greedy_chunk(const dec *D, int64_t i0, int64_t C, int32_t *out_tokens, int *out_len, double *lp,
                        int32_t *pre, int64_t *cond, float *logits, int64_t *live) {
  const int L = D->L, V = D->V;
  int64_t nlive = C;
  for (int64_t c = 0; c < C; c++) {
    live[c] = c;
    out_len[i0 + c] = 0;
    lp[c] = 0;
  }
  for (int t = 1; t <= L && nlive > 0; t++) {
    for (int64_t s = 0; s < nlive; s++) {
      const int64_t c = live[s];
      pre[s * L] = D->o->bos;
      memcpy(pre + s * L + 1, out_tokens + (i0 + c) * L, (size_t)(t - 1) * sizeof *pre);
      cond[s] = i0 + c;
    }
    HP_CALL(D->fn(D->ctx, pre, L, t, cond, nlive, logits));
    int64_t keep = 0;
    for (int64_t s = 0; s < nlive; s++) {
      const int64_t c = live[s];
      const float *x = logits + s * V;
      double lse;
      HP_CALL(row_lse(x, V, i0 + c, &lse));
      int best = -1;
      for (int k = 0; k < V; k++)
        if (D->allowed[k] && (best < 0 || x[k] > x[best])) best = k;
      lp[c] += (double)x[best] - lse;
      if (best == D->o->eos) continue;
      out_tokens[(i0 + c) * L + t - 1] = best;
      out_len[i0 + c] = t;
      if (t < L) live[keep++] = c;
    }
    nlive = keep;
  }
  return 0;
}

typedef struct {
  int32_t *ltok;   /* [C][B][L] live hypotheses' tokens */
  double *lscore;  /* [C][B] */
  int *nlive;      /* [C] */
  int32_t *ntok;   /* [C][B][L] next step's live tokens */
  double *nscore;  /* [C][B] */
  int32_t *btok;   /* best finished [C][L] */
  int *blen;       /* [C] */
  double *braw, *bnorm;
  int *nfin;       /* [C] finished so far */
  cand *cd;        /* [B*(B+1)] one item's candidates */
  cand *top;       /* [B+1] one beam's best */
} beam_state;

static void finish(const dec *D, beam_state *S, int64_t c, const int32_t *tok, int len, double raw) {
  const int L = D->L;
  double nv = normed(raw, len, D->o->length_penalty);
  if (S->nfin[c] == 0 || nv > S->bnorm[c]) {
    memcpy(S->btok + c * L, tok, (size_t)len * sizeof *tok);
    S->blen[c] = len;
    S->braw[c] = raw;
    S->bnorm[c] = nv;
  }
  S->nfin[c]++;
}

static int beam_chunk(const dec *D, beam_state *S, int64_t i0, int64_t C, int32_t *pre, int64_t *cond,
                      float *logits, uint8_t *active) {
  const int L = D->L, V = D->V, B = D->B;
  const int K = B + 1 < V ? B + 1 : V; /* candidates kept per beam */
  for (int64_t c = 0; c < C; c++) {
    S->nlive[c] = 1;
    S->lscore[c * B] = 0;
    S->nfin[c] = 0;
    S->blen[c] = 0;
    active[c] = 1;
  }
  for (int t = 1; t <= L; t++) {
    int64_t nseq = 0;
    for (int64_t c = 0; c < C; c++) {
      if (!active[c]) continue;
      for (int k = 0; k < S->nlive[c]; k++, nseq++) {
        pre[nseq * L] = D->o->bos;
        memcpy(pre + nseq * L + 1, S->ltok + (c * B + k) * L, (size_t)(t - 1) * sizeof *pre);
        cond[nseq] = i0 + c;
      }
    }
    if (nseq == 0) break;
    HP_CALL(D->fn(D->ctx, pre, L, t, cond, nseq, logits));
    int64_t s0 = 0;
    for (int64_t c = 0; c < C; c++) {
      if (!active[c]) continue;
      int nc = 0;
      for (int k = 0; k < S->nlive[c]; k++) {
        const float *x = logits + (s0 + k) * V;
        double lse;
        HP_CALL(row_lse(x, V, i0 + c, &lse));
        const double ps = S->lscore[c * B + k];
        int nt = 0;
        for (int v = 0; v < V; v++) {
          if (!D->allowed[v]) continue;
          cand e = {ps + ((double)x[v] - lse), (double)x[v] - lse, k, v};
          if (nt == K && !cand_before(&e, &S->top[K - 1])) continue;
          int p = nt < K ? nt++ : K - 1;
          while (p > 0 && cand_before(&e, &S->top[p - 1])) {
            S->top[p] = S->top[p - 1];
            p--;
          }
          S->top[p] = e;
        }
        memcpy(S->cd + nc, S->top, (size_t)nt * sizeof *S->cd);
        nc += nt;
      }
      s0 += S->nlive[c];
      qsort(S->cd, (size_t)nc, sizeof *S->cd, cand_cmp);
      int sel = 0, picks = 0; /* live slots filled; non-eos candidates taken (live or finished at max_len) */
      for (int j = 0; j < nc && picks < B; j++) {
        const cand *e = &S->cd[j];
        const int32_t *ptok = S->ltok + (c * B + e->parent) * L;
        if (e->tok == D->o->eos) {
          finish(D, S, c, ptok, t - 1, e->score);
          continue;
        }
        picks++;
        int32_t *nt = S->ntok + (c * B + sel) * L;
        memcpy(nt, ptok, (size_t)(t - 1) * sizeof *nt);
        nt[t - 1] = e->tok;
        if (t == L) {
          finish(D, S, c, nt, t, e->score); /* reached max_len: finished, no live slot */
          continue;
        }
        S->nscore[c * B + sel] = e->score;
        sel++;
      }
      memcpy(S->ltok + c * B * L, S->ntok + c * B * L, (size_t)sel * L * sizeof *S->ltok);
      memcpy(S->lscore + c * B, S->nscore + c * B, (size_t)sel * sizeof *S->lscore);
      S->nlive[c] = t == L ? 0 : sel;
      if (S->nlive[c] == 0 || S->nfin[c] >= B ||
          (D->o->length_penalty == 0 && S->nfin[c] > 0 && S->lscore[c * B] <= S->bnorm[c]))
        active[c] = 0;
    }
  }
  return 0;
}

int hp_decode(hp_next_logits_fn fn, void *ctx, int64_t nb, int vocab, const hp_decode_opts *o,
              int32_t *out_tokens, int *out_len, float *out_logprob) {
  if (!fn || !o) HP_ERROR(HP_ERR_INTERNAL, "decoding: NULL %s", !fn ? "callback" : "options");
  if (nb < 0) HP_ERROR(HP_ERR_INTERNAL, "decoding: %lld items, must be >= 0", (long long)nb);
  if (vocab < 1) HP_ERROR(HP_ERR_INTERNAL, "decoding: vocabulary of %d tokens, must be >= 1", vocab);
  if (o->beam < 1) HP_ERROR(HP_ERR_INTERNAL, "decoding: beam %d, must be >= 1", o->beam);
  if (o->max_len < 1) HP_ERROR(HP_ERR_INTERNAL, "decoding: max_len %d, must be >= 1", o->max_len);
  if (o->bos < 0 || o->bos >= vocab) HP_ERROR(HP_ERR_INTERNAL, "decoding: bos %d outside the vocabulary [0, %d)", (int)o->bos, vocab);
  if (o->eos < 0 || o->eos >= vocab) HP_ERROR(HP_ERR_INTERNAL, "decoding: eos %d outside the vocabulary [0, %d)", (int)o->eos, vocab);
  if (o->nforbid < 0 || o->nforbid > 4) HP_ERROR(HP_ERR_INTERNAL, "decoding: nforbid %d, must be 0..4", o->nforbid);
  if (!isfinite(o->length_penalty)) HP_ERROR(HP_ERR_INTERNAL, "decoding: length_penalty is not finite");
  if (nb > 0 && (!out_tokens || !out_len)) HP_ERROR(HP_ERR_INTERNAL, "decoding: NULL output");
  uint8_t *allowed = NULL;
  HP_CALLOC(allowed, vocab, "decoding: allowed tokens");
  memset(allowed, 1, (size_t)vocab);
  for (int k = 0; k < o->nforbid; k++) {
    if (o->forbid[k] < 0 || o->forbid[k] >= vocab)
      HP_ERROR(HP_ERR_INTERNAL, "decoding: forbidden token %d outside the vocabulary [0, %d)", (int)o->forbid[k], vocab);
    allowed[o->forbid[k]] = 0;
  }
  int nallowed = 0;
  for (int k = 0; k < vocab; k++) nallowed += allowed[k];
  if (nallowed == 0) HP_ERROR(HP_ERR_INTERNAL, "decoding: every token of the vocabulary (%d) is forbidden", vocab);
  if (nb == 0) {
    free(allowed);
    return 0;
  }
  const int L = o->max_len, B = o->beam;
  int64_t C = DEC_LOGIT_BUDGET / ((int64_t)B * vocab);
  if (C < 1) C = 1;
  if (C > nb) C = nb;
  const int64_t S = C * B; /* sequences per call at most */
  int32_t *pre = NULL;
  int64_t *cond = NULL, *live = NULL;
  float *logits = NULL;
  double *lp = NULL;
  HP_CALLOC(pre, S * L, "decoding: prefixes");
  HP_CALLOC(cond, S, "decoding: conditioning indices");
  HP_CALLOC(logits, S * vocab, "decoding: logits");
  HP_CALLOC(lp, C, "decoding: log-probabilities");
  HP_CALLOC(live, C, "decoding: live items");
  dec D = {fn, ctx, vocab, B, L, o, allowed};
  beam_state st;
  memset(&st, 0, sizeof st);
  uint8_t *active = NULL;
  if (B > 1) {
    HP_CALLOC(st.ltok, S * L, "beam search: live tokens");
    HP_CALLOC(st.ntok, S * L, "beam search: next tokens");
    HP_CALLOC(st.lscore, S, "beam search: scores");
    HP_CALLOC(st.nscore, S, "beam search: next scores");
    HP_CALLOC(st.nlive, C, "beam search: live counts");
    HP_CALLOC(st.btok, C * L, "beam search: best tokens");
    HP_CALLOC(st.blen, C, "beam search: best lengths");
    HP_CALLOC(st.braw, C, "beam search: best scores");
    HP_CALLOC(st.bnorm, C, "beam search: best normalised scores");
    HP_CALLOC(st.nfin, C, "beam search: finished counts");
    HP_CALLOC(st.cd, (int64_t)B * (B + 1), "beam search: candidates");
    HP_CALLOC(st.top, B + 1, "beam search: best of a beam");
    HP_CALLOC(active, C, "beam search: active items");
  }
  for (int64_t k = 0; k < nb * L; k++) out_tokens[k] = -1;
  for (int64_t i0 = 0; i0 < nb; i0 += C) {
    const int64_t c = nb - i0 < C ? nb - i0 : C;
    if (B == 1) {
      HP_CALL(greedy_chunk(&D, i0, c, out_tokens, out_len, lp, pre, cond, logits, live));
      if (out_logprob)
        for (int64_t j = 0; j < c; j++) out_logprob[i0 + j] = (float)lp[j];
    } else {
      HP_CALL(beam_chunk(&D, &st, i0, c, pre, cond, logits, active));
      for (int64_t j = 0; j < c; j++) {
        memcpy(out_tokens + (i0 + j) * L, st.btok + j * L, (size_t)st.blen[j] * sizeof *out_tokens);
        out_len[i0 + j] = st.blen[j];
        if (out_logprob) out_logprob[i0 + j] = (float)st.braw[j];
      }
    }
  }
  free(allowed);
  free(pre);
  free(cond);
  free(logits);
  free(lp);
  free(live);
  free(st.ltok);
  free(st.ntok);
  free(st.lscore);
  free(st.nscore);
  free(st.nlive);
  free(st.btok);
  free(st.blen);
  free(st.braw);
  free(st.bnorm);
  free(st.nfin);
  free(st.cd);
  free(st.top);
  free(active);
  return 0;
}
