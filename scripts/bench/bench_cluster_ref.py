#!/usr/bin/python3
"""bench_cluster_ref.py — the references of scripts/bench/bench_cluster.sh on the same raw
float32 file: scikit-learn's Lloyd k-means, FAISS k-means, scikit-learn's silhouette_score.

  bench_cluster_ref.py lloyd DATA N DIM K ITERS        sklearn KMeans(algorithm="lloyd", n_init=1,
                                                      tol=0, max_iter=ITERS, init=K random rows) and
                                                      faiss.Kmeans(niter=ITERS, all N points)
  bench_cluster_ref.py silhouette DATA N DIM LABELS    sklearn silhouette_score (exact) with the
                                                      labels hpclip wrote (int64)
Threads: set OMP_NUM_THREADS / OPENBLAS_NUM_THREADS and OMP_WAIT_POLICY=PASSIVE outside.
Debian 12: python3-sklearn, python3-faiss, python3-numpy."""
import sys
import time

import numpy as np


def main():
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    mode, path, n, dim = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    X = np.fromfile(path, dtype=np.float32, count=n * dim).reshape(n, dim)
    if mode == "lloyd":
        from sklearn.cluster import KMeans
        k, iters = int(sys.argv[5]), int(sys.argv[6])
        rng = np.random.default_rng(1)
        init = X[rng.choice(n, k, replace=False)]
        km = KMeans(n_clusters=k, init=init, n_init=1, algorithm="lloyd", tol=0.0, max_iter=iters)
        t = time.perf_counter()
        km.fit(X)
        dt = time.perf_counter() - t
        print(f"RESULT ref=sklearn_lloyd n={n} dim={dim} k={k} iters={km.n_iter_} s_per_iter={dt / km.n_iter_:.5f} "
              f"gflops={2.0 * n * dim * k / (dt / km.n_iter_) * 1e-9:.1f} inertia={km.inertia_:.6f}", flush=True)
        try:
            import faiss
        except ImportError:
            print("RESULT ref=faiss_kmeans skipped (python3-faiss not installed)")
            return
        fk = faiss.Kmeans(dim, k, niter=iters, seed=1, max_points_per_centroid=n, verbose=False)
        t = time.perf_counter()
        fk.train(X)
        dt = time.perf_counter() - t
        print(f"RESULT ref=faiss_kmeans n={n} dim={dim} k={k} iters={iters} s_per_iter={dt / iters:.5f} "
              f"gflops={2.0 * n * dim * k / (dt / iters) * 1e-9:.1f} obj={fk.obj[-1]:.6f}", flush=True)
    elif mode == "silhouette":
        from sklearn.metrics import silhouette_score
        labels = np.fromfile(sys.argv[5], dtype=np.int64)
        t = time.perf_counter()
        s = silhouette_score(X, labels)
        dt = time.perf_counter() - t
        print(f"RESULT ref=sklearn_silhouette n={n} dim={dim} silhouette={s:.6f} seconds={dt:.3f}", flush=True)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
