#!/usr/bin/python3
"""make_cluster_fixtures.py — write tests/data/cluster/fixture.txt, the scikit-learn reference
for tests/cluster/test_kmeans.c (Debian 12: python3-sklearn, python3-numpy). Run once; the
fixture is committed, so the tests never need scikit-learn.

Data: 300 float32 rows of dimension 8 from 4 Gaussian blobs (seeded).
Case 1: scikit-learn KMeans (algorithm="lloyd", n_init=1, tol=0) from given initial centres
        -> labels and inertia; quality of those labels.
Case 2: random labels in [0, 5) (a poor clustering) -> quality.
Quality: WCSS and BCSS around the label means (numpy, float64), Calinski-Harabasz and the
silhouette (sklearn.metrics on the float64 copy of the float32 data).

Format (whitespace separated): N E K / N*E data / K*E init / N labels / inertia /
K2 / N labels2 / for case 1 then case 2: wcss bcss ch silhouette."""
import os
import sys

import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import calinski_harabasz_score, silhouette_score


def sums(X, lab):
    mean = X.mean(axis=0)
    w = b = 0.0
    for c in np.unique(lab):
        P = X[lab == c]
        m = P.mean(axis=0)
        w += ((P - m) ** 2).sum()
        b += len(P) * ((m - mean) ** 2).sum()
    return w, b


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "data",
                                                             "cluster", "fixture.txt")
    X, _ = make_blobs(n_samples=300, n_features=8, centers=4, cluster_std=1.5, random_state=3)
    X = X.astype(np.float32)
    Xd = X.astype(np.float64)
    K = 4
    init = Xd[[0, 1, 2, 3]]
    km = KMeans(n_clusters=K, init=init, n_init=1, algorithm="lloyd", tol=0.0, max_iter=300).fit(Xd)
    lab1 = km.labels_
    rng = np.random.default_rng(11)
    K2 = 5
    lab2 = rng.integers(0, K2, size=len(X))
    with open(out, "w") as f:
        f.write(f"{len(X)} {X.shape[1]} {K}\n")
        for r in X:
            f.write(" ".join(f"{v:.9g}" for v in r) + "\n")
        for r in init:
            f.write(" ".join(f"{v:.17g}" for v in r) + "\n")
        f.write(" ".join(str(int(v)) for v in lab1) + "\n")
        f.write(f"{km.inertia_:.17g}\n{K2}\n")
        f.write(" ".join(str(int(v)) for v in lab2) + "\n")
        for lab in (lab1, lab2):
            w, b = sums(Xd, lab)
            f.write(f"{w:.17g} {b:.17g} {calinski_harabasz_score(Xd, lab):.17g} {silhouette_score(Xd, lab):.17g}\n")
    print(f"wrote {out}: inertia {km.inertia_:.6f}, iterations {km.n_iter_}")


if __name__ == "__main__":
    main()
