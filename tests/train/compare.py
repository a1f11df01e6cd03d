#!/usr/bin/python3
"""compare.py A.h5 B.h5 MODE [GROUP...] — compare the tensors of two checkpoints (h5py, written
independently of hpclip's own HDF5 code).

MODE "bitwise": every tensor byte-identical. MODE "tol=X": max |a-b| / (1 + max|a|) <= X per
tensor. GROUPs default to "params"; "history" compares /history datasets too. Prints the worst
tensor; exit 0 when equal, 1 otherwise."""
import sys
import h5py
import numpy as np

a_path, b_path, mode = sys.argv[1:4]
groups = sys.argv[4:] or ["params"]
tol = None if mode == "bitwise" else float(mode.split("=", 1)[1])
worst, worst_name, n = 0.0, "", 0
with h5py.File(a_path, "r") as fa, h5py.File(b_path, "r") as fb:
    for g in groups:
        names = sorted(fa[g].keys())
        if names != sorted(fb[g].keys()):
            print(f"/{g}: different tensor names")
            sys.exit(1)
        for k in names:
            x, y = fa[g][k][...], fb[g][k][...]
            if x.shape != y.shape:
                print(f"/{g}/{k}: shapes {x.shape} vs {y.shape}")
                sys.exit(1)
            n += 1
            if tol is None:
                if x.tobytes() != y.tobytes():
                    d = float(np.max(np.abs(x.astype(np.float64) - y)))
                    print(f"/{g}/{k}: not bitwise equal (max diff {d:.3g})")
                    sys.exit(1)
            else:
                if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
                    print(f"/{g}/{k}: non-finite values")
                    sys.exit(1)
                d = float(np.max(np.abs(x.astype(np.float64) - y)) / (1.0 + np.max(np.abs(x)))) if x.size else 0.0
                if d > worst:
                    worst, worst_name = d, f"/{g}/{k}"
if tol is not None and worst > tol:
    print(f"{worst_name}: relative difference {worst:.3g} > {tol}")
    sys.exit(1)
print(f"{n} tensors equal ({mode}); worst {worst:.3g} {worst_name}")
