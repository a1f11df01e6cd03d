#!/usr/bin/python3
"""plot_cluster.py RUN_DIR/results.h5 [OUT_DIR] — draw the figures of a cluster run.

cluster_elbow.png: /cluster/elbow/k and /cluster/elbow/wcss (written by `hpclip cluster` when K
is chosen by the elbow method) with the chosen K (attribute k of /cluster) and the chord.
cluster_pca3d.png: /cluster/pca/projection [N,3] (cluster.analysis) coloured by /cluster/labels,
the study's figure 7. Both go to OUT_DIR (default: beside results.h5, where cluster.md links to
them); a figure whose data is absent is skipped with a note. Debian 12: python3-h5py,
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
    outdir = sys.argv[2] if len(sys.argv) == 3 else (os.path.dirname(path) or ".")
    os.makedirs(outdir, exist_ok=True)
    with h5py.File(path, "r") as f:
        if "cluster" not in f:
            sys.exit(f"{path}: no /cluster group (run `hpclip cluster` first)")
        g = f["cluster"]
        k = int(g.attrs["k"])
        src = g.attrs.get("source", b"image")
        src = src.decode() if isinstance(src, bytes) else str(src)
        labels = g["labels"][...]
        if "elbow" in g:
            elbow(g["elbow/k"][...], g["elbow/wcss"][...], k, src, os.path.join(outdir, "cluster_elbow.png"))
        else:
            print("no elbow curve (K was fixed by cluster.k): cluster_elbow.png skipped")
        if "pca" in g:
            ev = g["pca/eigenvalues"][...]
            pca3d(g["pca/projection"][...], labels, k, ev, src, os.path.join(outdir, "cluster_pca3d.png"))
        else:
            print("no PCA (cluster.analysis = false): cluster_pca3d.png skipped")


def pca3d(p, labels, k, ev, src, out):
    fig = plt.figure(figsize=(7, 6))
    ax = fig.add_subplot(projection="3d")
    sc = ax.scatter(p[:, 0], p[:, 1], p[:, 2], c=labels, cmap="tab20" if k <= 20 else "nipy_spectral", s=4,
                    depthshade=False)
    tot = ev.sum() if ev.sum() > 0 else 1.0
    ax.set_xlabel(f"PC1 ({100 * ev[0] / tot:.1f}%)")
    ax.set_ylabel(f"PC2 ({100 * ev[1] / tot:.1f}%)" if len(ev) > 1 else "PC2")
    ax.set_zlabel(f"PC3 ({100 * ev[2] / tot:.1f}%)" if len(ev) > 2 else "PC3")
    ax.set_title(f"{src} embeddings, {k} k-means clusters (PCA 3-D view)")
    fig.colorbar(sc, ax=ax, shrink=0.6, label="cluster")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    print(f"wrote {out}")


def elbow(ks, w, k, src, out):
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
    plt.close(fig)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
