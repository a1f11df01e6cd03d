#!/usr/bin/env bash
# cli_docs_links.sh — the documentation's relative links resolve (docs/, README.md, jobs/README.md,
# conf/paper/README.md), docs/index.md links the user pages and every HDF5 schema page, and
# the jobs and scripts the docs name exist.
. "$SRC_DIR/tests/cli/lib.sh"
cd "$SRC_DIR" || exit 1
if out=$($PY - <<'PY' 2>&1
import glob, os, re, sys
files = glob.glob("docs/*.md") + ["README.md", "jobs/README.md", "conf/paper/README.md"]
bad = []
for f in files:
    for m in re.finditer(r"\]\(([^)#]+)(#[^)]*)?\)", open(f).read()):
        t = m.group(1)
        if t.startswith(("http:", "https:")):
            continue
        if not os.path.exists(os.path.normpath(os.path.join(os.path.dirname(f), t))):
            bad.append("%s -> %s" % (f, t))
index = open("docs/index.md").read()
# Every schema page must be linked; pages of docs/ added later (e.g. by other stages) are the
# index's business but not this test's, so that they do not fail it before the index catches up.
pages = ["install", "quickstart", "custom-dataset", "results", "jobs", "stages", "config", "reproduce",
         "scaling", "architecture", "benchmarks", "metrics", "errors", "cluster"]
for p in ["docs/%s.md" % n for n in pages] + sorted(glob.glob("hdf5-schemas/*.md")):
    rel = os.path.relpath(p, "docs")
    if p != "docs/index.md" and "(%s)" % rel not in index:
        bad.append("docs/index.md does not link %s" % rel)
print("\n".join(bad) if bad else "%d files, every link resolves" % len(files))
sys.exit(1 if bad else 0)
PY
); then ok "$out"; else bad "$out"; fi
for f in jobs/mpirun.sh jobs/slurm.sbatch scripts/reproduce.sh scripts/scaling.sh scripts/paper_tables.py \
         scripts/plot_scaling.py scripts/make_coco_json.py; do
  [ -f "$f" ] && ok "$f exists" || bad "$f missing"
done
finish
