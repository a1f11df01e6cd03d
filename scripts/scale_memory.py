#!/usr/bin/python3
"""scale_memory.py SMALL_RUN LARGE_RUN — does peak RSS per rank grow with the dataset as the
per-stage memory formulas of docs/scale.md say?

Both arguments are run directories of scripts/scale.sh (same job, same rank count, different
--images). For every stage and rank the formula's terms that grow with the data (bytes per
image, caption, test image ... at this job's E, L, T, S, P, read from the runs' files) predict
the growth from the small run to the large one; the prediction for the large run is the small
run's measured peak plus that growth. The terms that do not grow (process, model, activations,
fixed buffers) are what the small run measured. Prints a Markdown table; exit 1 when a stage's
measured large-run peak is off the prediction by more than 15 % of the prediction plus 40 MiB."""
import csv, sys
import h5py
import numpy as np

MiB = 1048576.0


def sizes(run):
    d = h5py.File(run + "/dataset.h5", "r")
    e = h5py.File(run + "/embeddings.h5", "r")
    split = d["/split"][()]
    capimg = d["/captions/image"][()]
    cs = split[capimg]
    z = dict(N=len(split), M=len(capimg), S=d["/images"].shape[1], L=d["/labels/matrix"].shape[1] if "labels" in d else 0,
             E=e["/images/embedding"].shape[1], T=20,
             N_te=int((split == 2).sum()), M_tr=int((cs == 0).sum()), M_va=int((cs == 1).sum()), M_te=int((cs == 2).sum()))
    rows = list(csv.DictReader(open(run + "/stage_resources.tsv"), delimiter="\t"))
    return z, {r["stage"]: r for r in rows}


def growth(st, z, P, rank):
    """Bytes on `rank` that the stage holds in proportion to the data (docs/scale.md)."""
    N, M, S, L, E, T = z["N"], z["M"], z["S"], z["L"], z["E"], z["T"]
    N_te, M_tr, M_va, M_te = z["N_te"], z["M_tr"], z["M_va"], z["M_te"]
    if st == "ingest":  # record list on every rank + this rank's decoded block and captions
        return 600 * N + 3 * S * S * N / P + 88 * M / P
    if st == "train":   # token ids, split/links/permutation; test retrieval gathered at the end
        return 4 * T * M + 47 * N + 4 * E * (N_te + M_te) + 8 * (3 * M_te + 2 * N_te) + 1024 * M_te
    if st == "embed":   # own embedding rows, split and labels; caption links of every caption
        return 4 * E * (N + M) / P + (1 + L) * N / P + 8 * M
    if st == "search":  # the split's index rows (+ forest), own image ids/labels, split and links of all
        return (4 * E + 8 + 176) * (N_te + M_te) / P + (8 + L) * N_te / P + N + 8 * M
    if st == "zeroshot":  # the split's own image rows (read in rounds)
        return (4 * E + 8 + L) * N_te / P
    if st == "cluster":  # own image rows, the captions' rows for the modality gap; rank 0 gathers labels
        return (4 * E + 24) * N / P + 4 * E * M / P + 16 * (N + M) / P + (32 * N if rank == 0 else 0)
    if st == "caption-train":  # token ids, caption lists and permutation (embeddings read per step)
        return 4 * T * M + 8 * (M_tr + M_va) + 24 * M_tr + 41 * N
    if st == "caption":  # links, the test images' two conditionings, own support-memory block;
        # rank 0: a flag per caption and the scored captions' texts (~100 B each) for BLEU/CIDEr-D
        return (17 * N + 8 * M + 8 * M_tr + 8 * N_te + 2 * 4 * E * N_te + 4 * E * M / P
                + (M + 100 * M_te if rank == 0 else 0))
    return 0.0  # synth-coco, report: nothing grows


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    (zs, rs), (zl, rl) = sizes(sys.argv[1]), sizes(sys.argv[2])
    print("| stage | rank | small run MiB (N = %d) | growth predicted MiB | large run predicted MiB (N = %d) | measured MiB | measured / predicted |"
          % (zs["N"], zl["N"]))
    print("|---|---:|---:|---:|---:|---:|---:|")
    bad = []
    for st in [s for s in rs if s in rl]:
        small = [float(x) for x in rs[st]["peak_rss_mib_per_rank"].split(",")]
        large = [float(x) for x in rl[st]["peak_rss_mib_per_rank"].split(",")]
        P = len(small)
        for r in range(min(len(small), len(large))):
            g = (growth(st, zl, P, r) - growth(st, zs, P, r)) / MiB
            pred = small[r] + g
            print("| %s | %d | %.0f | %+.0f | %.0f | %.0f | %.2f |" % (st, r, small[r], g, pred, large[r], large[r] / pred))
            if abs(large[r] - pred) > 0.15 * pred + 40:
                bad.append("%s rank %d" % (st, r))
    if bad:
        print("\nOff the prediction by more than 15 %% + 40 MiB: %s." % ", ".join(bad))
        sys.exit(1)
    print("\nEvery stage within 15 % + 40 MiB of the prediction.")


main()
