/* classify.c — see classify.h and docs/metrics.md. */
#include "metrics/classify.h"

int hp_cls_count(hp_cls_counts *c, int64_t C, const uint8_t *labels, int64_t p, int64_t *items,
                 int64_t *correct) {
  int64_t nl = 0;
  for (int64_t t = 0; t < C; t++) nl += labels[t] != 0;
  if (nl == 0) return 0;
  int hit = labels[p] != 0;
  if (hit)
    c[p].tp++;
  else
    c[p].fp++;
  for (int64_t t = 0; t < C; t++)
    if (labels[t]) {
      c[t].support++;
      if (t != p) c[t].fn++;
    }
  (*items)++;
  *correct += hit;
  return 1;
}

static double ratio(int64_t a, int64_t b) { return b > 0 ? (double)a / (double)b : 0.0; }

hp_cls_prf hp_cls_class(const hp_cls_counts *c) {
  hp_cls_prf r;
  r.precision = ratio(c->tp, c->tp + c->fp);
  r.recall = ratio(c->tp, c->tp + c->fn);
  r.f1 = ratio(2 * c->tp, 2 * c->tp + c->fp + c->fn);
  return r;
}

void hp_cls_summarise(const hp_cls_counts *c, int64_t C, int64_t items, int64_t correct, hp_cls_summary *out) {
  int64_t tp = 0, fp = 0, fn = 0, active = 0;
  double sp = 0.0, sr = 0.0, sf = 0.0;
  for (int64_t k = 0; k < C; k++) {
    tp += c[k].tp;
    fp += c[k].fp;
    fn += c[k].fn;
    if (c[k].support == 0 && c[k].tp + c[k].fp == 0) continue;
    hp_cls_prf r = hp_cls_class(&c[k]);
    sp += r.precision;
    sr += r.recall;
    sf += r.f1;
    active++;
  }
  out->active = active;
  out->macro.precision = active ? sp / (double)active : 0.0;
  out->macro.recall = active ? sr / (double)active : 0.0;
  out->macro.f1 = active ? sf / (double)active : 0.0;
  out->micro.precision = ratio(tp, tp + fp);
  out->micro.recall = ratio(tp, tp + fn);
  double s = out->micro.precision + out->micro.recall;
  out->micro.f1 = s > 0.0 ? 2.0 * out->micro.precision * out->micro.recall / s : 0.0;
  out->items = items;
  out->correct = correct;
  out->accuracy = ratio(correct, items);
}
