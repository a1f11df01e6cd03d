/* decode.h — greedy and beam-search decoding of any autoregressive model given as a callback
 * (docs/captioning.md, "Decoding").
 *
 * Scores are sums of natural-log softmax probabilities of the logits the callback returns
 * (log-softmax in double). Greedy (beam == 1): at each step the highest-probability allowed
 * token, ties to the lowest token id. Beam search (beam = B > 1): every item keeps B live
 * hypotheses; each step expands every live hypothesis by every allowed token, and the B best
 * expansions by score survive (ties: lowest parent beam index, then lowest token id). An
 * expansion by eos finishes the hypothesis (eos not stored); a hypothesis reaching max_len
 * tokens finishes too. Finished hypotheses are ranked by score / len^length_penalty (len =
 * stored tokens, at least 1 in the divisor; length_penalty 0 = raw sum of log-probs); an
 * item stops when B hypotheses have finished or no live one can still beat its worst
 * finished one under length_penalty 0 (with length_penalty != 0: when B have finished, or
 * at max_len). The result is the best finished hypothesis (ties: the earliest finished).
 * forbid[0..nforbid) are never emitted (pad, unk, bos...); eos can be forbidden too (then
 * every caption runs to max_len).
 * All live sequences of all items go to the callback in one call per step (the caller's
 * forward pass is a batched model). Sequences are passed in a stable order: item 0's live
 * beams, then item 1's... (cond_index tells the item).
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
