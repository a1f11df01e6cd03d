/* caption_metrics.h — corpus captioning metrics over token ids (pure functions, no MPI).
 *
 * Input: n hypotheses (one generated caption per image) and, for every image, one or more
 * reference captions, all as token ids (hp_caption_corpus). Equal words have equal ids. An
 * id < 0 is a token that matches nothing — not another occurrence of itself, not another
 * negative id (the caller uses it for the decoder's unknown-word token) — but it counts toward
 * every length. Offsets: hyp_off[0] = 0, non-decreasing (hypothesis i is
 * hyp[hyp_off[i] .. hyp_off[i+1])); img_ref_off[0] = 0, strictly increasing (every image has
 * at least one reference); ref_off[0] = 0, non-decreasing over nref + 1 = img_ref_off[n] + 1
 * entries. Empty hypotheses and empty references are allowed.
 *
 * BLEU-k (k = 1..4) is exactly nltk's corpus_bleu(weights = (1/k, ..., 1/k), no smoothing):
 *   clipped n-gram counts summed over the corpus, every hypothesis adding max(1, #n-grams) to
 *   the denominator of p_n; brevity penalty from the summed hypothesis length c and the summed
 *   closest reference length r (closest to the hypothesis length, ties to the shorter):
 *   BP = 1 if c > r, 0 if c = 0, else exp(1 - r/c); BLEU-k = BP * exp(sum_n (1/k) log p_n).
 *   When some p_n (n <= k) is zero the score is 0 (nltk returns exp of (1/k) log(DBL_MIN),
 *   i.e. below 1e-77 — zero to any printed precision; it returns exactly 0 when p_1 = 0).
 *
 * CIDEr-D (Vedantam et al., as the coco-caption CIDEr-D scorer computes it): n-grams n = 1..4;
 *   for a sentence, g_n = tf(ngram) * (log N - log max(1, df(ngram))) with N = number of images
 *   and df = number of images whose reference set contains the n-gram (n-grams with a negative
 *   id: each occurrence a distinct n-gram never seen in the references, weight log N);
 *   sim_n(h, r) = sum_g min(g_h, g_r) g_r / (|g_h| |g_r|) (0 when a norm is 0)
 *                 * exp(-(l_h - l_r)^2 / (2 * 6^2)),
 *   with l the number of bigram positions of the sentence, max(0, len - 1) — the coco-caption
 *   scorer's length (it differs from the word count only for an empty sentence);
 *   CIDEr-D(i) = 10 * mean_n (mean over the image's references of sim_n);
 *   corpus score = mean over images. The document frequencies come from the references of the
 *   corpus being evaluated, as in coco-caption.
 *
 * Errors (HP_ERR_INPUT, the reason names the offset array and index): NULL arrays, n < 1,
 * malformed offsets, an image with no reference; HP_ERR_MEM on allocation failure.
 */
#ifndef HP_METRICS_CAPTION_METRICS_H
#define HP_METRICS_CAPTION_METRICS_H

#include <stdint.h>

typedef struct {
  int64_t n;                  /* images (hypotheses) */
  const int32_t *hyp;         /* all hypothesis tokens, concatenated */
  const int64_t *hyp_off;     /* [n+1] */
  const int32_t *ref;         /* all reference captions' tokens, concatenated */
  const int64_t *ref_off;     /* [nref+1], one entry per reference caption */
  const int64_t *img_ref_off; /* [n+1]: image i owns reference captions img_ref_off[i] .. img_ref_off[i+1]-1 */
} hp_caption_corpus;

/* BLEU-1..4 into bleu[0..3]. */
int hp_bleu_corpus(const hp_caption_corpus *c, double bleu[4]);
/* Corpus CIDEr-D into *score; per_image [n] (may be NULL) gets every image's CIDEr-D. */
int hp_cider_d(const hp_caption_corpus *c, double *score, double *per_image /* [n] or NULL */);
/* Validates the corpus (the checks both metrics run); 0 or HP_ERR_INPUT. */
int hp_caption_corpus_check(const hp_caption_corpus *c);

#endif
