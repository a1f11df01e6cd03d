#!/usr/bin/python3
"""bench_search_faiss.py — the FAISS side of scripts/bench/bench_search.sh.

  flat  BASE QUERIES DIM K REPS [IDS_OUT]   exact IndexFlatIP: median seconds of REPS searches
                                            (after one warm-up); ids written as int64 for a
                                            cross-check against hpclip's exact ids
  hnsw  BASE QUERIES DIM K GT M EFC efs...  IndexHNSWFlat (inner product): build time, then
                                            q/s and recall@K against GT (int64 ids) per efSearch
Threads: OMP_NUM_THREADS (run with OMP_WAIT_POLICY=PASSIVE). Lines starting with RESULT."""
import resource
import statistics
import sys
import time

import numpy as np
import faiss


def load(path, dim):
    return np.fromfile(path, dtype=np.float32).reshape(-1, dim)


def hwm_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def flat(base, queries, dim, k, reps, ids_out=None):
    xb, xq = load(base, dim), load(queries, dim)
    index = faiss.IndexFlatIP(dim)
    index.add(xb)
    del xb
    index.search(xq, k)  # warm-up
    times, cpus = [], []
    for _ in range(reps):
        c0 = time.process_time()
        t0 = time.perf_counter()
        _, ids = index.search(xq, k)
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    med, cmed = statistics.median(times), statistics.median(cpus)
    n = index.ntotal
    print(f"RESULT faiss_flat n={n} dim={dim} nq={len(xq)} k={k} threads={faiss.omp_get_max_threads()} "
          f"median_s={med:.4f} best_s={min(times):.4f} qps={len(xq) / med:.1f} "
          f"gflops={2.0 * n * len(xq) * dim / med / 1e9:.1f} cpu_s={cmed:.3f} "
          f"gflops_per_core={2.0 * n * len(xq) * dim / cmed / 1e9:.1f} vmhwm_MiB={hwm_mib():.1f}", flush=True)
    if ids_out:
        ids.astype(np.int64).tofile(ids_out)


def hnsw(base, queries, dim, k, gt_path, m, efc, efs_list):
    xb, xq = load(base, dim), load(queries, dim)
    gt = np.fromfile(gt_path, dtype=np.int64).reshape(len(xq), -1)[:, :k]
    index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = efc
    t0 = time.perf_counter()
    index.add(xb)
    tb = time.perf_counter() - t0
    print(f"RESULT faiss_hnsw_build n={len(xb)} M={m} efConstruction={efc} "
          f"threads={faiss.omp_get_max_threads()} build_s={tb:.2f}", flush=True)
    for efs in efs_list:
        index.hnsw.efSearch = efs
        index.search(xq, k)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            _, ids = index.search(xq, k)
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        rec = np.mean([len(set(ids[i]) & set(gt[i])) / k for i in range(len(xq))])
        print(f"RESULT faiss_hnsw efSearch={efs} qps={len(xq) / med:.1f} recall@{k}={rec:.4f}", flush=True)


if __name__ == "__main__":
    a = sys.argv
    if a[1] == "flat":
        flat(a[2], a[3], int(a[4]), int(a[5]), int(a[6]), a[7] if len(a) > 7 else None)
    elif a[1] == "hnsw":
        hnsw(a[2], a[3], int(a[4]), int(a[5]), a[6], int(a[7]), int(a[8]), [int(v) for v in a[9:]])
    else:
        sys.exit("usage: bench_search_faiss.py flat|hnsw ...")
