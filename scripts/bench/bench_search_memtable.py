#!/usr/bin/python3
"""bench_search_memtable.py MEMORY_LOG — the Markdown table of `bench_search.sh big`: peak RSS
(VmHWM) per rank against the index's bytes (rows + ids + trees), from the RESULT lines of
bench_search (memory) and bench_search_faiss.py (flat), in the order they ran."""
import re
import sys

WHAT = {"exact": "exact: rows added in 4096-row pieces, searched", "exact_saved": "exact: searched, then saved",
        "load": "{kind}: loaded from index.h5",
        "load_searched": "{kind}: loaded, then searched", "forest": "forest (10 trees, leaf 64): built",
        "forest_saved": "forest: built, then saved"}
kind = "exact"
print("| run | rank | index MiB (rows + ids + trees) | peak RSS MiB (VmHWM) | peak / index |")
print("|---|---:|---:|---:|---:|")
for line in open(sys.argv[1]):
    m = re.match(r"RESULT (\w+) memory rank=(\d+) index_MiB=([\d.]+) vmhwm_MiB=([\d.]+)", line)
    if m:
        tag, rank, idx, hwm = m.group(1), m.group(2), float(m.group(3)), float(m.group(4))
        if tag.startswith("forest"):
            kind = "forest"
        name = WHAT.get(tag, tag).format(kind=kind)
        print(f"| hpclip, 2 ranks: {name} | {rank} | {idx:,.1f} | {hwm:,.1f} | {hwm / idx:.3f} |")
        continue
    m = re.search(r"RESULT faiss_flat n=(\d+) dim=(\d+).* vmhwm_MiB=([\d.]+)", line)
    if m:
        idx = int(m.group(1)) * int(m.group(2)) * 4 / 2**20  # IndexFlatIP: the rows, no ids
        hwm = float(m.group(3))
        print(f"| FAISS IndexFlatIP, one process: NumPy array, then index.add | – | {idx:,.1f} | {hwm:,.1f} | "
              f"{hwm / idx:.3f} |")
