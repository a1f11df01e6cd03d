#!/usr/bin/python3
"""report_check.py SUMMARY.md RUN_DIR MODE — check that summary.md (hpclip report) holds the
headings and the figures of RUN_DIR/results.h5 and RUN_DIR/ckpt.h5, read with h5py.
MODE "fragment": the tables come from search.md / zeroshot.md (3 decimals);
MODE "generic": they are listed from results.h5 (4 decimals, tables named by *_rows/_columns)."""
import os
import sys

import h5py


def main():
    md_path, run, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    text = open(md_path, encoding="utf-8").read()
    # the within-2x-of-chance marks (stages/markdown.h) follow a figure; the figures are checked
    lines = set(l.replace(" ⚠", "") for l in text.splitlines())
    missing = []

    def need(line):
        if line not in lines:
            missing.append(line)

    def need_prefix(line):  # the CLIP protocol rows go on with the chance columns
        if not any(l.startswith(line) for l in lines):
            missing.append(line + " ...")

    for h in ("## Dataset (`dataset.h5`)", "## Training (`ckpt.h5`)", "## Table 1 — retrieval (`search`)",
              "## Table 2 — zero-shot classification (`zeroshot`)"):
        need(h)
    with h5py.File(os.path.join(run, "results.h5"), "r") as f:
        t1 = f["search/table1"][...]
        cr = f["search/clip_recall"][...]
        t2 = f["zeroshot/table2"][...]
    if mode == "fragment":
        for row, name in enumerate(("relevant", "retrieved")):
            need(f"| this model ({name}) | " + " | ".join(f"{v:.3f}" for v in t1[row]) + " |")
        for row, name in enumerate(("image → caption", "caption → image")):
            need_prefix(f"| {name} | " + " | ".join(f"{v:.3f}" for v in cr[row]) + " |")
        need("| this model | " + " | ".join(f"{v:.3f}" for v in t2) + " |")
    else:
        for row, name in enumerate(("relevant", "retrieved")):
            need(f"| {name} | " + " | ".join(f"{v:.4f}" for v in t1[row]) + " |")
        for row, name in enumerate(("image->caption", "caption->image")):
            need(f"| {name} | " + " | ".join(f"{v:.4f}" for v in cr[row]) + " |")
        need("| " + " | ".join(f"{v:.4f}" for v in t2) + " |")
    with h5py.File(os.path.join(run, "ckpt.h5"), "r") as f:
        tr = f["history/train_loss"][...]
        va = f["history/val_loss"][...]
        state = f.attrs["state"]
        state = state.decode() if isinstance(state, bytes) else str(state)
    kv = dict(w.split("=", 1) for w in state.split() if "=" in w)
    best = int(kv["best_epoch"])
    for e in range(len(tr)):
        b = "**" if e + 1 == best else ""
        need(f"| {b}{e + 1}{b} | {tr[e]:.4f} | {b}{va[e]:.4f}{b} |")
    need("| image → caption | " + " | ".join(kv[k] for k in ("i2t_r1", "i2t_r5", "i2t_r10")) + " |")
    if "timing" in text.lower() and "<!-- timing" in text:
        missing.append("(a timing block is in summary.md)")
    if missing:
        print("missing from summary.md:\n  " + "\n  ".join(missing))
        return 1
    print(f"{mode}: Table 1 {t1[0][0]:.3f}..., Table 2 {t2[0]:.3f}..., {len(tr)} epochs (best {best}) found")
    return 0


if __name__ == "__main__":
    sys.exit(main())
