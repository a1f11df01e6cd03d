#!/usr/bin/python3
"""plot_scaling.py — speed-up and efficiency of scripts/scaling.sh's timings.

    /usr/bin/python3 scripts/plot_scaling.py DIR/scaling.csv

Adds the columns speedup and efficiency to the CSV (rewritten in place), writes the same table to
DIR/scaling.h5 (one group per mode, one subgroup per stage: ranks, threads, oversubscribed,
images, batch, seconds, wall_seconds, throughput, speedup, efficiency; attributes: the throughput
unit) and draws DIR/scaling_strong.png and DIR/scaling_weak.png: speed-up (with the ideal line)
and efficiency against ranks, one line per stage; oversubscribed points (more ranks x threads
than cores) are hollow and labelled "oversubscribed".
Reference = the smallest rank count P0 of each (mode, stage): strong S = T(P0)/T(P) x P0, E = S/P;
weak E = T(P0)/T(P), S = E x P. T = `seconds` (the stage's own time from hpclip's log).
"""
import csv
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    path = argv[1]
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        print("plot_scaling.py: %s has no rows" % path, file=sys.stderr)
        return 1
    need = ["mode", "stage", "ranks", "threads", "oversubscribed", "images", "batch", "seconds", "wall_seconds",
            "throughput", "throughput_unit"]
    missing = [c for c in need if c not in rows[0]]
    if missing:
        print("plot_scaling.py: %s lacks the columns %s" % (path, ", ".join(missing)), file=sys.stderr)
        return 1
    groups = {}
    for r in rows:
        groups.setdefault((r["mode"], r["stage"]), []).append(r)
    for (mode, _), rs in groups.items():
        rs.sort(key=lambda r: int(r["ranks"]))
        p0, t0 = int(rs[0]["ranks"]), float(rs[0]["seconds"])
        for r in rs:
            p, t = int(r["ranks"]), float(r["seconds"])
            if mode == "strong":
                s = t0 / t * p0 if t > 0 else float("nan")
                e = s / p
            else:
                e = t0 / t if t > 0 else float("nan")
                s = e * p / p0
            r["speedup"], r["efficiency"] = "%.4f" % s, "%.4f" % e
    out_dir = os.path.dirname(os.path.abspath(path))
    cols = need + ["speedup", "efficiency"]
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for key in sorted(groups):
            w.writerows(groups[key])
    os.replace(tmp, path)

    h5 = os.path.join(out_dir, "scaling.h5")
    with h5py.File(h5 + ".tmp", "w") as f:
        f.attrs["schema"] = "hpclip.scaling"
        f.attrs["source"] = os.path.basename(path)
        f.attrs["cores"] = os.cpu_count() or 0
        for (mode, stage), rs in sorted(groups.items()):
            g = f.require_group(mode).create_group(stage)
            for c in ("ranks", "threads", "oversubscribed", "images", "batch"):
                g[c] = np.array([int(r[c]) for r in rs], dtype=np.int64)
            for c in ("seconds", "wall_seconds", "throughput", "speedup", "efficiency"):
                g[c] = np.array([float(r[c]) if r[c] != "" else np.nan for r in rs], dtype=np.float64)
            g.attrs["throughput_unit"] = rs[0]["throughput_unit"]
    os.replace(h5 + ".tmp", h5)

    for mode in sorted({m for m, _ in groups}):
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
        allp, overp = set(), set()
        for (m, stage), rs in sorted(groups.items()):
            if m != mode:
                continue
            p = np.array([int(r["ranks"]) for r in rs])
            s = np.array([float(r["speedup"]) for r in rs])
            e = np.array([float(r["efficiency"]) for r in rs])
            ov = np.array([r["oversubscribed"] == "1" for r in rs])
            allp.update(p.tolist())
            line, = ax1.plot(p, s, "-", label=stage)
            ax2.plot(p, e, "-", color=line.get_color(), label=stage)
            for ax, y in ((ax1, s), (ax2, e)):
                ax.plot(p[~ov], y[~ov], "o", color=line.get_color())
                ax.plot(p[ov], y[ov], "o", mfc="white", color=line.get_color())
            overp.update(p[ov].tolist())
        ps = sorted(allp)
        p0 = ps[0]
        ax1.plot(ps, [x / p0 if mode == "strong" else x / p0 for x in ps], "k:", label="ideal")
        ax2.axhline(1.0, color="k", ls=":", label="ideal")
        for ax, lab in ((ax1, "speed-up" if mode == "strong" else "scaled speed-up"), (ax2, "efficiency")):
            ax.set_xlabel("MPI ranks")
            ax.set_ylabel(lab)
            ax.set_xticks(ps)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        ax2.set_ylim(0, max(1.2, ax2.get_ylim()[1]))
        if overp:  # shade the oversubscribed rank counts, labelled once per panel
            lo = min(overp)
            for ax in (ax1, ax2):
                ax.axvspan(lo - 0.3, max(ps) + 0.3, color="0.85", alpha=0.5, zorder=0)
                ax.text(lo - 0.25, ax.get_ylim()[1] * 0.95, "oversubscribed", fontsize=8, va="top")
        fig.suptitle("hpclip %s scaling (hollow = oversubscribed: ranks x threads > %d cores)"
                     % (mode, os.cpu_count() or 0), fontsize=10)
        fig.tight_layout()
        png = os.path.join(out_dir, "scaling_%s.png" % mode)
        fig.savefig(png + ".tmp.png", dpi=100)
        os.replace(png + ".tmp.png", png)
        plt.close(fig)
        print("plot_scaling.py: wrote %s" % png)
    print("plot_scaling.py: wrote %s and %s" % (h5, path))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
