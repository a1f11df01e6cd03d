#!/usr/bin/python3
"""h5same.py A.h5 B.h5 [GROUP...] — exit 0 when every dataset (under the given groups, or all)
holds the same bytes in both files; attributes (which carry the run directory in the stored
config) and timing datasets (under a `timing` group or named *seconds*) are not compared.
Prints the differing dataset names otherwise. Used by scripts/soak.sh."""
import sys
import h5py

def datasets(g, prefix, out):
    for k, v in g.items():
        name = prefix + "/" + k
        if isinstance(v, h5py.Dataset):
            if "/timing/" in name + "/" or "seconds" in k:
                continue
            out[name] = v
        else:
            datasets(v, name, out)

def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
    groups = sys.argv[3:] or ["/"]
    bad = []
    for grp in groups:
        da, db = {}, {}
        datasets(a[grp], grp.rstrip("/"), da)
        datasets(b[grp], grp.rstrip("/"), db)
        for k in sorted(set(da) | set(db)):
            if k not in da or k not in db:
                bad.append(k + " (missing)")
                continue
            x, y = da[k][()], db[k][()]
            if getattr(x, "tobytes", None) and getattr(y, "tobytes", None):
                same = x.shape == y.shape and x.dtype == y.dtype and x.tobytes() == y.tobytes()
            else:
                same = x == y
            if not same:
                bad.append(k)
    if bad:
        print("differ: " + ", ".join(bad))
        sys.exit(1)
    print("same")

main()
