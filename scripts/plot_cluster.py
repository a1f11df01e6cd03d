#!/usr/bin/python3
"""plot_cluster.py RUN_DIR/results.h5 [OUT.png] — draw the elbow curve of a cluster run.

Reads /cluster/elbow/k and /cluster/elbow/wcss (written by `hpclip cluster` when K is chosen by
the elbow method) and the chosen K (attribute k of /cluster); writes a PNG (default:
cluster_elbow.png beside results.h5, the name cluster.md links to). Debian 12: python3-h5py,
python3-matplotlib (Agg backend, no display needed)."""
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    path = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) == 3 else os.path.join(os.path.dirname(path) or ".", "cluster_elbow.png")
    with h5py.File(path, "r") as f:
        if "cluster" not in f:
            sys.exit(f"{path}: no /cluster group (run `hpclip cluster` first)")
        g = f["cluster"]
        if "elbow" not in g:
            sys.exit(f"{path}: /cluster has no elbow curve (K was fixed by cluster.k)")
        ks = g["elbow/k"][...]
        w = g["elbow/wcss"][...]
        k = int(g.attrs["k"])
        src = g.attrs.get("source", b"image")
        src = src.decode() if isinstance(src, bytes) else str(src)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(ks, w, "o-", color="tab:blue", label="WCSS")
    ax.plot([ks[0], ks[-1]], [w[0], w[-1]], "--", color="grey", label="chord")
    sel = list(ks).index(k) if k in list(ks) else None
    if sel is not None:
        ax.plot([k], [w[sel]], "o", color="tab:red", markersize=10, label=f"elbow K = {k}")
    ax.set_xlabel("K")
    ax.set_ylabel("within-cluster sum of squares")
    ax.set_title(f"Elbow curve ({src} embeddings)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
