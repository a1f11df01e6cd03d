/* classify.h — classification metrics from per-class counts (pure functions, no MPI).
 *
 * Counting (hp_cls_count, one prediction per item, possibly several true labels per item — the
 * COCO case): an item with true label set T (non-empty) predicted p adds
 *   TP[p] += 1 if p in T, else FP[p] += 1;   FN[t] += 1 for every t in T with t != p;
 *   support[t] += 1 for every t in T;  correct += (p in T);  items += 1.
 * Items without any true label are not counted (no ground truth); the caller reports how many.
 * This is scikit-learn's multi-label definition with a one-hot prediction (y_true multi-hot,
 * y_pred one-hot); for single-label data it is the ordinary multi-class one.
 *
 * Per class c: precision = TP/(TP+FP), recall = TP/(TP+FN), F1 = 2TP/(2TP+FP+FN); 0 when the
 * denominator is 0 (scikit-learn's zero_division=0).
 * Macro averages: unweighted mean over the ACTIVE classes, those with support > 0 or at least
 * one prediction (scikit-learn's label set for single-label targets); micro averages from the
 * summed counts; accuracy = correct / items (the fraction of items whose predicted label is one
 * of theirs: top-1 accuracy; equals scikit-learn's accuracy_score for single-label data, NOT its
 * multi-label exact-match "subset accuracy"). See docs/metrics.md.
 */
#ifndef HP_METRICS_CLASSIFY_H
#define HP_METRICS_CLASSIFY_H

#include <stdint.h>

typedef struct {
  int64_t tp, fp, fn, support;
} hp_cls_counts;

typedef struct {
  double precision, recall, f1;
} hp_cls_prf;

typedef struct {
  hp_cls_prf macro, micro;
  double accuracy;
  int64_t active;   /* classes in the macro average */
  int64_t items, correct;
} hp_cls_summary;

/* Add one item: labels [C] (0/1) of the item, predicted class p in [0, C). Returns 1 if the
 * item was counted, 0 if it has no true label. */
int hp_cls_count(hp_cls_counts *c, int64_t C, const uint8_t *labels, int64_t p, int64_t *items,
                 int64_t *correct);
hp_cls_prf hp_cls_class(const hp_cls_counts *c);
void hp_cls_summarise(const hp_cls_counts *c, int64_t C, int64_t items, int64_t correct, hp_cls_summary *out);

#endif
