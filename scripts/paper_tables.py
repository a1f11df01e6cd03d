#!/usr/bin/python3
"""paper_tables.py — assemble the study's Tables 1-3 from the grid's run directories.

    /usr/bin/python3 scripts/paper_tables.py RUNS [--reduced]

RUNS holds one run directory per job of conf/paper/ (RUNS/NAME, as scripts/reproduce.sh makes
them). Reads RUNS/NAME/results.h5 with h5py and writes RUNS/tables.md: Table 1 (retrieval on
COCO), Table 2 (zero-shot on COCO) and Table 3 (ROCO and Fashion queries) with the study's rows
and columns, the clustering figures of section 4.3.3, and one line per run (data, sizes, status).
Every figure comes from a results.h5; a run or table that is missing shows "—".
Tables 1 and 3 print the `retrieved` convention (row 1 of /search/table1 and /search/table3), the
study's (docs/metrics.md).
"""
import os
import sys

import h5py

DASH = "—"
TEXT = [(4, 256), (4, 512), (4, 768), (8, 256), (8, 512), (8, 768), (12, 256), (12, 512), (12, 768)]
T1_ROWS = [("Bert %d/%d, Resnet50" % lw, "coco-bert%d-%d-resnet50" % lw) for lw in TEXT] + [
    ("Bert 12/768, ViT16", "coco-bert12-768-vit16"), ("Bert 12/768, ViT32", "coco-bert12-768-vit32")]
T3_ROWS = [("Medical Field", "roco-bert12-768-vit16"), ("Fashion", "fashion-bert12-768-vit16")]
T1_COLS = ["P@1", "P@5", "P@10", "R@1", "R@5", "R@10", "NDCG@1", "NDCG@5", "NDCG@10",
           "MAP@1", "MAP@5", "MAP@10"]
T2_COLS = ["macro-P", "micro-P", "macro-R", "micro-R", "macro-F1", "micro-F1", "Accuracy"]
T3_COLS = ["P@1", "P@5", "P@10", "NDCG@1", "NDCG@5", "NDCG@10", "MAP@1", "MAP@5", "MAP@10"]


def s(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def open_results(runs, name):
    path = os.path.join(runs, name, "results.h5")
    if not os.path.exists(path):
        return None, "no results.h5"
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        return None, "unreadable results.h5 (%s)" % e
    if s(f.attrs.get("schema", "")) != "hpclip.results":
        f.close()
        return None, "results.h5 is not an hpclip results file"
    return f, ""


def row_of(f, dset, row, ncols):
    """The figures of one table row, or None when the run lacks them."""
    if f is None or dset not in f:
        return None
    d = f[dset][()]
    v = d[row] if d.ndim == 2 else d
    if len(v) != ncols:
        raise SystemExit("paper_tables.py: %s: %s has %d columns, expected %d" % (f.filename, dset, len(v), ncols))
    return [float(x) for x in v]


def fmt_row(label, vals, ncols):
    cells = [DASH] * ncols if vals is None else ["%.3f" % v for v in vals]
    return "| %s | %s |" % (label, " | ".join(cells))


def table(title, cols, rows):
    out = ["| Model | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    out += rows
    return ["### " + title, ""] + out + [""]


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) >= 2 else 2
    runs = argv[1]
    reduced = "--reduced" in argv[2:]
    if not os.path.isdir(runs):
        print("paper_tables.py: %s: no such directory" % runs, file=sys.stderr)
        return 2
    files, status = {}, {}
    for _, name in T1_ROWS + T3_ROWS:
        files[name], status[name] = open_results(runs, name)

    t1 = [fmt_row(lab, row_of(files[n], "search/table1", 1, 12), 12) for lab, n in T1_ROWS]
    t2 = [fmt_row(lab, row_of(files[n], "zeroshot/table2", 0, 7), 7) for lab, n in T1_ROWS]
    t3 = [fmt_row(lab, row_of(files[n], "search/table3", 1, 9), 9) for lab, n in T3_ROWS]

    out = ["# The study's tables, as reproduced by hpclip", ""]
    if reduced:
        out += ["**Reduced grid** (`scripts/reproduce.sh --reduced`): small data slices, 64×64 images, at most",
                "2 epochs — a test of the pipeline at full model size, not a reproduction of the study's",
                "figures (docs/reproduce.md).", ""]
    out += ["Assembled by `scripts/paper_tables.py` from `%s/NAME/results.h5`; \"%s\" = no run or no" % (runs, DASH),
            "such table in it. Tables 1 and 3: the `retrieved` convention (the study's; docs/metrics.md),",
            "averaged over the classes (Table 1) or queries (Table 3) with a relevant image in the split.", ""]
    out += table("Table 1. Image retrieval results on COCO dataset", T1_COLS, t1)
    out += table("Table 2. Zero shot results on COCO dataset", T2_COLS, t2)
    out += table("Table 3. Image retrieval results on ROCO and Fashion dataset for 8 relevant queries",
                 T3_COLS, t3)

    out += ["### Clustering (section 4.3.3, Bert 12/768 + ViT16)", "",
            "| K | chosen by | rows | WCSS | BCSS | silhouette |", "|---|---|---|---|---|---|"]
    f = files["coco-bert12-768-vit16"]
    if f is not None and "cluster/quality" in f:
        g, q = f["cluster"], f["cluster/quality"][()]
        out.append("| %d | %s | %d | %.4g | %.4g | %.4f |" % (int(g.attrs["k"]), s(g.attrs["k_chosen_by"]),
                                                            int(g.attrs["n_rows"]), q[0], q[1], q[4]))
    else:
        out.append("| %s | %s | %s | %s | %s | %s |" % ((DASH,) * 6))
    out.append("")

    out += ["### Runs", "", "| job | status | dataset split / evaluated images | best epoch |", "|---|---|---|---|"]
    for _, name in T1_ROWS + T3_ROWS:
        f = files[name]
        if f is None:
            out.append("| %s | %s | | |" % (name, status[name]))
            continue
        groups = ",".join(k for k in ("search", "zeroshot", "cluster") if k in f)
        info = []
        for k in ("search", "zeroshot"):
            if k in f:
                info.append("%s: %s split, %d images" % (k, s(f[k].attrs.get("split", "?")), int(f[k].attrs.get("n_images", 0))))
        best = DASH
        ck = os.path.join(runs, name, "ckpt.h5")
        if os.path.exists(ck):
            try:
                with h5py.File(ck, "r") as c:
                    if "history/val_loss" in c:
                        v = c["history/val_loss"][()]
                        best = "%d of %d (val loss %.4f)" % (int(v.argmin()) + 1, len(v), float(v.min()))
            except OSError:
                best = "unreadable ckpt.h5"
        out.append("| %s | results.h5: %s | %s | %s |" % (name, groups or "no groups", "; ".join(info), best))
        f.close()
    out.append("")
    path = os.path.join(runs, "tables.md")
    with open(path + ".tmp", "w") as o:
        o.write("\n".join(out))
    os.replace(path + ".tmp", path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
