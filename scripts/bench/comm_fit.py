#!/usr/bin/python3
"""comm_fit.py LOG [--out DIR] [--t-pair S] — fit the communication model of comm_model.py to the
collectives measured across emulated nodes (scripts/bench/bench_comm.sh writes LOG), show
measured beside modelled, and project to many nodes with the fitted model.

Model, per link rate (p nodes, one rank each, S bytes per rank):
  allreduce (ring)    T = 2 (p-1) alpha + 2 (p-1)/p * S / beta
  bucketed allreduce  T = k * 2 (p-1) alpha + 2 (p-1)/p * S / beta      (k buckets of 25 MiB)
  all-gather, twice   T = 2 [ (p-1) alpha + (p-1) * s / beta ]          (s bytes per rank each)
alpha and beta are fitted by least squares on the relative error of the plain allreduce points
of hpclip's bucketed allreduce (every size, every node count) at that rate; Open MPI's plain
MPI_Allreduce (its own algorithm choice) and the all-gathers are then predicted with the same
alpha and beta, not fitted. A measurement is the minimum over the rounds
of each round's minimum over repetitions. Writes DIR/comm_model.md (tables) and
DIR/comm_model.png (matplotlib, if present)."""
import argparse
import collections
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import comm_model  # noqa: E402

BUCKET = 25 * 1048576
# tbf lets a burst of 1 ms of the rate (at least 64 KiB; 1.25 MB at 10 Gbit/s) through at full
# speed: messages below a few bursts measure the emulator's token bucket, not the link. They are
# shown, not fitted.
FIT_MIN_BYTES = 4 * 1048576
RATE_BITS = {"kbit": 1e3, "mbit": 1e6, "gbit": 1e9, "bit": 1.0}


def rate_bytes(rate):
    for unit in ("kbit", "mbit", "gbit", "bit"):
        if rate.endswith(unit):
            return float(rate[: -len(unit)]) * RATE_BITS[unit] / 8.0
    raise ValueError("rate %r" % rate)


def load(path):
    """{(rate, op, tag, p, bytes): [t_min of each round]}"""
    m = collections.defaultdict(list)
    load.rss = {}
    for line in open(path):
        f = line.split()
        if len(f) != 11 or f[0] != "RESULT":
            continue
        _, rnd, rate, tag, op, p, nbytes, reps, tmin, tmed, rss = f
        key = (rate, op, tag, int(p), int(nbytes))
        m[key].append(float(tmin))
        load.rss[key] = max(load.rss.get(key, 0.0), float(rss))
    return m


def model(op, p, nbytes, alpha, beta):
    if op == "allreduce":
        return 2 * (p - 1) * alpha + 2 * (p - 1) / p * nbytes / beta
    if op == "bucketed":
        k = math.ceil(nbytes / BUCKET)
        return k * 2 * (p - 1) * alpha + 2 * (p - 1) / p * nbytes / beta
    if op == "allgather":  # nbytes = both gathers' payload per rank
        s = nbytes / 2
        return 2 * ((p - 1) * alpha + (p - 1) * s / beta)
    raise ValueError(op)


def fit(points):
    """points: [(p, S, t)] of the bucketed allreduce; least squares of (model - t) / t over
    alpha >= 0, 1/beta > 0 (k buckets of 25 MiB: k latency terms)."""
    rows = [((2 * (p - 1) * math.ceil(S / BUCKET)) / t, (2 * (p - 1) / p * S) / t) for p, S, t in points]
    saa = sum(a * a for a, _ in rows)
    sab = sum(a * b for a, b in rows)
    sbb = sum(b * b for _, b in rows)
    sa = sum(a for a, _ in rows)
    sb = sum(b for _, b in rows)
    det = saa * sbb - sab * sab
    alpha = (sa * sbb - sb * sab) / det
    inv_beta = (saa * sb - sab * sa) / det
    if alpha < 0:  # no latency term: fit the bandwidth alone
        alpha, inv_beta = 0.0, sb / sbb
    return alpha, 1.0 / inv_beta


def step_model(row, fits, overlap, params=183471361, embed=768):
    """(modelled step, modelled exposed communication, measured compute) of one training row."""
    rate, mode, p, dtype, batch, step, share, rss = row
    p, batch, step, share = int(p), int(batch), float(step), float(share)
    alpha, beta = fits[rate]
    S = params * (2 if dtype == "bfloat16" else 4)
    k = math.ceil(params * 4 / BUCKET)
    tc = step * (1 - share)
    tar = k * 2 * (p - 1) * alpha + 2 * (p - 1) / p * S / beta
    tag = model("allgather", p, 2 * (batch / p) * embed * 4, alpha, beta)
    comm = tag + max(0.0, tar - overlap * 2.0 / 3.0 * tc)
    return tc + comm, comm, tc


def fit_overlap(rows, fits):
    """The share of the backward pass the allreduce overlaps, fitted (least squares of the
    relative step error, grid of 0.01) to the measured steps."""
    rows = [r for r in rows if r[0] in fits]
    if not rows:
        return None
    return min((sum((step_model(r, fits, f / 100)[0] / float(r[5]) - 1) ** 2 for r in rows), f / 100)
               for f in range(0, 101))[1]


def train_table(path, fits, tol, params=183471361, embed=768):
    """Training steps (bench_train_nodes.sh) beside the model: the measured compute part
    (step x (1 - communication share)) plus the modelled exposed communication, with the
    overlap share fitted to these steps."""
    rows = []
    for line in open(path):
        f = line.split()
        if len(f) == 9 and f[0] == "RESULT":
            rows.append(f[1:])
    overlap = fit_overlap(rows, fits)
    train_table.overlap = overlap
    if overlap is None:
        return ["(no training steps at a fitted rate)", ""]
    out = ["Training steps (`bench_train_nodes.sh`): BERT-12/768 + ViT-B/16, one rank per node. "
           "Model = measured compute + all-gather + the allreduce's excess over the overlapped share "
           "of the backward pass (2/3 of compute), alpha and beta fitted at that rate; the overlapped "
           "share, fitted to these steps: **%.2f** (the nominal model assumed 0.90):" % overlap, "",
           "| link rate | scaling | nodes | payload | global batch | step s | compute s | comm s measured | "
           "comm s model | step model / measured | peak RSS MiB (max rank) |",
           "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        rate, mode, p, dtype, batch, step, share, rss = row
        p, batch, step, share = int(p), int(batch), float(step), float(share)
        if rate not in fits:
            out.append("| %s | %s | %d | %s | %d | %.2f | | | no fit at this rate | | %s |" % (rate, mode, p, dtype, batch, step, rss))
            continue
        tstep, comm, tc = step_model(row, fits, overlap, params, embed)
        ratio = tstep / step
        flag = "" if abs(ratio - 1) <= tol else " **miss**"
        out.append("| %s | %s | %d | %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f%s | %s |"
                   % (rate, mode, p, dtype, batch, step, tc, step * share, comm, ratio, flag, rss))
    out.append("")
    return out


def human(n):
    for unit, k in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= k:
            return "%.4g %s" % (n / k, unit)
    return "%d B" % n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--out", default=".")
    ap.add_argument("--t-pair", type=float, default=0.418,
                    help="seconds per training pair on one node (docs/benchmarks.md: BERT-12/768 + ViT-B/16)")
    ap.add_argument("--tolerance", type=float, default=0.25)
    ap.add_argument("--train", help="bench_train_nodes.sh's log: training steps beside the model")
    a = ap.parse_args()
    m = load(a.log)
    if not m:
        sys.exit("comm_fit.py: no RESULT lines in %s" % a.log)
    rates = sorted({k[0] for k in m}, key=rate_bytes)
    best = {k: min(v) for k, v in m.items()}
    spread = {k: max(v) / min(v) for k, v in m.items()}
    rounds = max(len(v) for v in m.values())
    out = ["<!-- generated by scripts/bench/comm_fit.py from %s; do not edit -->" % os.path.basename(a.log), ""]
    fits = {}
    misses = []
    table = ["| link rate | op | nodes | bytes per rank | measured s | model s | model / measured | rounds' spread | peak RSS MiB (max rank) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for rate in rates:
        pts = [(p, n, t) for (r, op, tag, p, n), t in best.items()
               if r == rate and op == "bucketed" and n >= FIT_MIN_BYTES]
        if len(pts) < 2:
            continue
        alpha, beta = fit(pts)
        fits[rate] = (alpha, beta)
        for (r, op, tag, p, n), t in sorted(best.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][3], kv[0][4])):
            if r != rate:
                continue
            mt = model(op, p, n, alpha, beta)
            ratio = mt / t
            name = {"bucketed": "hpclip bucketed (fitted)", "allreduce": "MPI_Allreduce, Open MPI's choice"}.get(op, op)
            if tag != "plain":
                name = "%s (%s)" % (name, tag)
            flag = "" if abs(ratio - 1) <= a.tolerance else " **miss**"
            if n < FIT_MIN_BYTES:
                flag += " (burst)"
            elif flag:
                misses.append((rate, op, p, n, ratio))
            table.append("| %s | %s | %d | %s | %.4g | %.4g | %.2f%s | %.2f | %.0f |"
                         % (rate, name, p, human(n), t, mt, ratio, flag, spread[(r, op, tag, p, n)],
                            load.rss[(r, op, tag, p, n)]))
    out.append("Fitted parameters (hpclip's bucketed allreduce, sizes of 4 MiB and more, both node counts, at each rate; "
               "%d round%s, the minimum of each point taken):" % (rounds, "s" if rounds > 1 else ""))
    out.append("")
    out.append("| link rate | alpha (latency) | beta (bandwidth) | beta / link rate |")
    out.append("|---|---:|---:|---:|")
    for rate, (alpha, beta) in fits.items():
        out.append("| %s | %.1f us | %.3f GB/s | %.2f |" % (rate, alpha * 1e6, beta / 1e9, beta / rate_bytes(rate)))
    out.append("")
    out.append("Measured beside modelled (the plain MPI_Allreduce and the all-gathers predicted with the same alpha and beta, not fitted; "
               "**miss** = outside +/-%.0f %%):" % (100 * a.tolerance))
    out.append("")
    out += table
    out.append("")
    for op, name in (("bucketed", "hpclip's bucketed allreduce"), ("allreduce", "MPI_Allreduce")):
        for rate in fits:
            for p in sorted({k[3] for k in best}):
                n_all = sum(1 for k in best if k[0] == rate and k[1] == op and k[3] == p and k[4] >= FIT_MIN_BYTES)
                n_miss = sum(1 for m in misses if m[0] == rate and m[1] == op and m[2] == p)
                if n_all:
                    out.append("- %s, %s, %d nodes: %d of %d points of %d MiB and more outside +/-%.0f %%"
                               % (name, rate, p, n_miss, n_all, FIT_MIN_BYTES >> 20, 100 * a.tolerance))
    out.append("")
    out.append("(burst) = below %d MiB, within a few token-bucket bursts of the shaped link: shown, not "
               "fitted, not counted." % (FIT_MIN_BYTES >> 20))
    out.append("")
    overlap = 0.9
    if a.train:
        out += train_table(a.train, fits, a.tolerance)
        if train_table.overlap is not None:
            overlap = train_table.overlap
    # projection: the fitted latency and the fitted share of the link rate, applied to real links
    if fits:
        low = min(fits, key=rate_bytes)  # the slowest link: the link, not the CPU, limits there
        eff = fits[low][1] / rate_bytes(low)
        alpha_fit = max(alpha for alpha, beta in fits.values())
        links = [("%s x %.2f" % (name, eff), max(alpha, alpha_fit), beta * eff)
                 for name, alpha, beta in comm_model.LINKS]
        out.append("**Projection, not a measurement**: the fitted model applied to real link rates: "
                   "the bandwidth share fitted at %s (%.2f of the link rate, where the link and not the "
                   "CPU limits), the larger of the link's nominal latency and the fitted one (%.0f us); "
                   "t_pair = %.3f s per pair on one node (measured, docs/benchmarks.md); BERT-12/768 + "
                   "ViT-B/16 (183.5 M parameters), float32 gradients; the allreduce overlaps %.2f of the "
                   "backward pass (%s)." % (low, eff, alpha_fit * 1e6, a.t_pair, overlap,
                                           "fitted to the training steps" if a.train else "nominal"))
        out.append("")
        out += comm_model.project(183471361, a.t_pair, links, [8, 64, 512], [1.0, 32.0], overlap=overlap)
    with open(os.path.join(a.out, "comm_model.md"), "w") as f:
        f.write("\n".join(out) + "\n")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("comm_fit.py: no matplotlib: no plot")
        return
    fig, axes = plt.subplots(1, len(fits), figsize=(5 * len(fits), 4), squeeze=False)
    for ax, (rate, (alpha, beta)) in zip(axes[0], fits.items()):
        for p, mark in ((2, "o"), (4, "s"), (3, "^"), (8, "D")):
            pts = sorted((n, t) for (r, op, tag, pp, n), t in best.items() if r == rate and op == "bucketed" and pp == p)
            if not pts:
                continue
            xs = [n for n, _ in pts]
            ax.loglog(xs, [t for _, t in pts], mark, label="measured, %d nodes" % p)
            grid = [xs[0] * (xs[-1] / xs[0]) ** (i / 50) for i in range(51)]
            ax.loglog(grid, [model("bucketed", p, n, alpha, beta) for n in grid], "-", label="model, %d nodes" % p)
        ax.set_title("hpclip allreduce at %s: alpha %.0f us, beta %.2f GB/s" % (rate, alpha * 1e6, beta / 1e9), fontsize=9)
        ax.set_xlabel("bytes per rank")
        ax.set_ylabel("seconds")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(a.out, "comm_model.png"), dpi=110)
    print("comm_fit.py: wrote %s and %s" % (os.path.join(a.out, "comm_model.md"), os.path.join(a.out, "comm_model.png")))


if __name__ == "__main__":
    main()
