#!/usr/bin/python3
"""make_caption_metric_fixtures.py - reference values for tests/metrics/test_caption_metrics.c,
computed once and committed (tests/data/metrics/caption.txt); CI needs neither nltk nor this
script.

BLEU-1..4: nltk's corpus_bleu (Debian python3-nltk), uniform weights (1/k, ..., 1/k), no
smoothing. CIDEr-D: the independent implementation below, written from the definition of
Vedantam et al. with the choices of the coco-caption CIDEr-D scorer (document frequencies over
the evaluated corpus's references, idf log(N) - log(max(1, df)), clipped min(hyp, ref) products,
Gaussian length penalty sigma = 6 on the bigram-position length, x10, mean over references).

Token ids < 0 match nothing: each occurrence becomes a distinct word here.

File format, per case:
  case N
  then per image: "h L t_1 .. t_L" (the hypothesis), "r R", and R lines "L t_1 .. t_L"
  bleu B1 B2 B3 B4
  cider C
  per c_0 .. c_{N-1}
Run: /usr/bin/python3 scripts/make_caption_metric_fixtures.py tests/data/metrics
"""
import math
import random
import sys
import warnings
from collections import Counter

import nltk
from nltk.translate.bleu_score import corpus_bleu

warnings.filterwarnings("ignore")  # nltk warns about zero n-gram overlaps

_unk = [0]


def words(tokens):
    """ids -> words; every negative id a fresh word that matches nothing"""
    out = []
    for t in tokens:
        if t < 0:
            _unk[0] += 1
            out.append("<unk%d>" % _unk[0])
        else:
            out.append("w%d" % t)
    return out


def ngram_counts(ws):
    c = Counter()
    for n in range(1, 5):
        for p in range(len(ws) - n + 1):
            c[tuple(ws[p:p + n])] += 1
    return c


def cider_d(hyps, refs, sigma=6.0):
    """hyps: list of word lists; refs: list of lists of word lists. Returns (mean, per image)."""
    N = len(hyps)
    df = Counter()
    for rs in refs:
        seen = set()
        for r in rs:
            seen.update(ngram_counts(r).keys())
        for g in seen:
            df[g] += 1
    logN = math.log(N)

    def vector(ws):
        v = {}
        norm2 = [0.0] * 4
        for g, tf in ngram_counts(ws).items():
            w = tf * (logN - math.log(max(1.0, df.get(g, 0))))
            v[g] = w
            norm2[len(g) - 1] += w * w
        # the scorer's length: the number of bigram positions
        return v, [math.sqrt(x) for x in norm2], max(0, len(ws) - 1)

    per = []
    for h, rs in zip(hyps, refs):
        vh, nh, lh = vector(h)
        tot = [0.0] * 4
        for r in rs:
            vr, nr, lr = vector(r)
            for n in range(4):
                s = 0.0
                for g, w in vh.items():
                    if len(g) == n + 1 and g in vr:
                        s += min(w, vr[g]) * vr[g]
                if nh[n] != 0 and nr[n] != 0:
                    s /= nh[n] * nr[n]
                tot[n] += s * math.exp(-((lh - lr) ** 2) / (2 * sigma * sigma))
        per.append(sum(tot) / 4 / len(rs) * 10.0)
    return sum(per) / N, per


def emit(f, case):
    hyps_ids, refs_ids = case
    hyps = [words(h) for h in hyps_ids]
    refs = [[words(r) for r in rs] for rs in refs_ids]
    bleu = [corpus_bleu(refs, hyps, weights=tuple([1.0 / k] * k)) for k in range(1, 5)]
    c, per = cider_d(hyps, refs)
    f.write("case %d\n" % len(hyps_ids))
    for h, rs in zip(hyps_ids, refs_ids):
        f.write("h %d%s\n" % (len(h), "".join(" %d" % t for t in h)))
        f.write("r %d\n" % len(rs))
        for r in rs:
            f.write("%d%s\n" % (len(r), "".join(" %d" % t for t in r)))
    f.write("bleu %s\n" % " ".join(repr(float(b)) for b in bleu))
    f.write("cider %r\n" % c)
    f.write("per %s\n" % " ".join(repr(x) for x in per))


def hand_cases():
    cs = []
    # exact match, one image (log N = 0: CIDEr-D 0)
    cs.append(([[1, 2, 3, 4, 5]], [[[1, 2, 3, 4, 5]]]))
    # repeated words (clipping), several references of different lengths
    cs.append(([[7, 7, 7, 7, 7, 7], [1, 2, 1, 2]],
               [[[7, 8, 7], [7, 7, 9, 10, 11]], [[1, 2], [2, 1, 2, 1, 2, 1], [3]]]))
    # short hypotheses (1, 2, 3 words), ties in reference length (4 and 6 around 5)
    cs.append(([[1], [2, 3], [4, 5, 6], [1, 2, 3, 4, 5]],
               [[[1, 9]], [[2, 3, 4]], [[4, 5, 6, 7, 8, 9]], [[1, 2, 3, 4], [1, 2, 3, 4, 5, 6]]]))
    # empty hypothesis among others, empty reference among others
    cs.append(([[], [1, 2, 3], [4, 4]],
               [[[1, 2]], [[1, 2, 3], []], [[4, 4, 4], [5]]]))
    # all hypotheses empty: BLEU 0, CIDEr-D 0
    cs.append(([[], []], [[[1, 2]], [[3]]]))
    # negative ids: never match, not even each other; they count in lengths and norms
    cs.append(([[-1, 1, 2, -1], [-1, -1], [3, -2, 4]],
               [[[-1, 1, 2, -1]], [[-1, -1], [5, 6]], [[3, -2, 4], [3, 4]]]))
    # hypothesis longer than every reference (BP 1)
    cs.append(([[1, 2, 3, 4, 5, 6, 7, 8, 9], [2, 3, 4, 5, 6, 7, 8]],
               [[[1, 2, 3]], [[2, 3, 4, 5]]]))
    # no 4-gram overlap anywhere but unigram overlap: BLEU-4 ~ 0, BLEU-1 > 0
    cs.append(([[1, 2, 3, 1, 3, 2], [4, 5, 6]], [[[1, 3, 2, 2, 1]], [[6, 5, 4]]]))
    # no overlap at all: BLEU 0
    cs.append(([[1, 2, 3]], [[[4, 5, 6]]]))
    # twenty identical images (df = N: idf 0 for shared n-grams)
    cs.append(([[1, 2, 3, 4]] * 20, [[[1, 2, 3, 4]]] * 20))
    return cs


def random_case(rng, nimg, vocab, maxlen, pneg):
    def sent(lo):
        L = rng.randint(lo, maxlen)
        return [(-rng.randint(1, 3) if rng.random() < pneg else rng.randrange(vocab)) for _ in range(L)]
    hyps, refs = [], []
    for _ in range(nimg):
        rs = [sent(0 if rng.random() < 0.05 else 1) for _ in range(rng.randint(1, 5))]
        if rng.random() < 0.5:  # the hypothesis borrows a stretch of a reference
            r = rs[rng.randrange(len(rs))]
            a = rng.randint(0, len(r))
            b = rng.randint(a, len(r))
            h = r[a:b] + sent(0)[: rng.randint(0, 4)]
        else:
            h = sent(0)
        hyps.append(h)
        refs.append(rs)
    return hyps, refs


def main():
    out = sys.argv[1]
    rng = random.Random(20261128)
    cases = hand_cases()
    for i in range(300):
        nimg = rng.randint(1, 6) if i < 280 else rng.randint(30, 60)
        cases.append(random_case(rng, nimg, rng.choice([3, 6, 12, 40]), rng.choice([4, 8, 14]),
                                 rng.choice([0.0, 0.0, 0.05, 0.2])))
    with open(f"{out}/caption.txt", "w") as f:
        f.write("# generated by scripts/make_caption_metric_fixtures.py (nltk %s)\n" % nltk.__version__)
        for c in cases:
            emit(f, c)


main()
