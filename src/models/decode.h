/* decode.h — greedy and beam-search decoding of any autoregressive model given as a callback
 * (docs/captioning.md, "Decoding").
 *
 * Scores are sums of natural-log softmax probabilities of the logits the callback returns
 * (log-softmax in double over the whole vocabulary; forbidden tokens are only never chosen).
 *
 * Greedy (beam == 1): at each step the highest-logit allowed token, ties to the lowest token
 * id; eos ends the caption (not stored), max_len tokens end it too.
 *
 * Beam search (beam = B > 1), per item: B live hypotheses (one, empty, at the start). Each step
 * scores every expansion (live hypothesis + allowed token; score = parent score + log p) and
 * walks them best first — ties: lowest parent beam index (parents are kept best first), then
 * lowest token id — until B non-eos expansions are taken: an eos expansion met on the way
 * finishes its parent (eos not stored, its log p counted); a non-eos one becomes live, or
 * finishes if it reaches max_len tokens. Finished hypotheses are ranked by
 * score / max(1, len)^length_penalty (len = stored tokens; length_penalty 0 = raw sum of
 * log-probs); the result is the best finished one, ties to the one finished first. The item
 * stops when no hypothesis is live, when B have finished, or — length_penalty 0 only, where it
 * is exact since log p <= 0 — when the best live score is not above the best finished score.
 * A beam at least as large as the number of hypotheses is an exhaustive search (tested).
 *
 * forbid[0..nforbid) are never emitted (pad, unk, bos...); eos may be forbidden too (then every
 * caption runs to max_len).
 * Batching: one callback call per step carries every live sequence of every item of a chunk —
 * item order, then beam order (cond_index tells the item). Items are decoded in chunks whose
 * logits take at most 2^24 floats (64 MiB); an item's result does not depend on the chunking
 * when the callback's logits for a sequence do not depend on the rest of its batch.
 */
#ifndef HP_MODELS_DECODE_H
#define HP_MODELS_DECODE_H

#include <stdint.h>

/* Fill logits[nseq, vocab] for the next token of each sequence. prefix[s*max_len .. +t) are
 * the tokens so far of sequence s (t tokens each, all sequences the same length t >= 1,
 * prefix[...0] = bos); cond_index[s] says which conditioning vector (0..nb-1) sequence s
 * belongs to. Return 0 or an hp_err. */
typedef int (*hp_next_logits_fn)(void *ctx, const int32_t *prefix, int max_len, int t,
                                 const int64_t *cond_index, int64_t nseq, float *logits);

typedef struct {
  int beam;             /* >= 1; 1 = greedy */
  int max_len;          /* >= 1: tokens generated at most (bos not counted); prefix rows hold max_len */
  int32_t bos, eos;     /* in [0, vocab) */
  int32_t forbid[4];    /* tokens never emitted */
  int nforbid;          /* 0..4 */
  float length_penalty; /* finished hypotheses ranked by sum log p / len^length_penalty */
} hp_decode_opts;

/* out_tokens [nb, max_len] (without bos; eos not stored; padded with -1), out_len [nb],
 * out_logprob [nb] may be NULL (sum of log-probs of the stored tokens and of eos when it was
 * emitted). beam == 1 is greedy. Errors (HP_ERR_INTERNAL, caller bugs): NULL arguments, nb < 0,
 * vocab < 1, beam < 1, max_len < 1, bos/eos/forbid out of range, nforbid outside 0..4, every
 * token forbidden; HP_ERR_NUMERIC for NaN logits; the callback's errors are passed on. */
int hp_decode(hp_next_logits_fn fn, void *ctx, int64_t nb, int vocab, const hp_decode_opts *o,
              int32_t *out_tokens, int *out_len, float *out_logprob);

#endif
