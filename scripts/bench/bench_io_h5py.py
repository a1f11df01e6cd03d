#!/usr/bin/python3
"""bench_io_h5py.py — the h5py anchor of scripts/bench/bench_io.sh.

  bench_io_h5py.py write FILE GIB     write GIB GiB of uint8 rows [n, 64, 64, 3] to FILE:/images
                                      in 64 MiB blocks, flush and fsync; then evict FILE from the
                                      page cache and read it back cold in 64 MiB blocks
  bench_io_h5py.py read FILE [ROWS]   evict FILE and read its /images cold, ROWS rows at a time
Prints "RESULT h5py-write|h5py-read bytes seconds GB/s peak_rss_mib"."""
import os, resource, sys, time
import h5py
import numpy as np

def evict(path):
    fd = os.open(path, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)

def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

def cold_read(path, rows):
    evict(path)
    t0 = time.perf_counter()
    with h5py.File(path, "r") as f:
        d = f["images"]
        n = d.shape[0]
        buf = np.empty((rows,) + d.shape[1:], d.dtype)
        for a in range(0, n, rows):
            k = min(rows, n - a)
            d.read_direct(buf, np.s_[a:a + k], np.s_[0:k])
        nbytes = d.size * d.dtype.itemsize
    dt = time.perf_counter() - t0
    print("RESULT h5py-read %d %.4f %.4f %.1f" % (nbytes, dt, nbytes / dt / 1e9, rss()), flush=True)

def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("write", "read"):
        sys.exit(__doc__)
    path = sys.argv[2]
    if sys.argv[1] == "read":
        cold_read(path, int(sys.argv[3]) if len(sys.argv) > 3 else 256)
        return
    row = 64 * 64 * 3
    n = int(float(sys.argv[3]) * 2**30) // row
    per = (64 << 20) // row
    block = np.random.default_rng(1).integers(0, 256, (per, 64, 64, 3), dtype=np.uint8)
    t0 = time.perf_counter()
    with h5py.File(path, "w") as f:
        d = f.create_dataset("images", (n, 64, 64, 3), np.uint8)
        for a in range(0, n, per):
            k = min(per, n - a)
            d.write_direct(block, np.s_[0:k], np.s_[a:a + k])
        f.flush()
        fd = os.open(path, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    dt = time.perf_counter() - t0
    print("RESULT h5py-write %d %.4f %.4f %.1f" % (n * row, dt, n * row / dt / 1e9, rss()), flush=True)
    cold_read(path, per)

main()
