#!/usr/bin/env bash
# scripts/demo.sh — the main job on the embedded default data, from a fresh clone:
# installs missing Debian packages (as root; otherwise prints the apt-get line), builds build/,
# runs conf/quickstart.cfg with mpirun on 2 ranks, and prints where the results are.
# Usage: scripts/demo.sh [RUN_DIR]   (default runs/quickstart)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
hpclip_ensure_packages
hpclip_mpi_env

run_dir=${1:-runs/quickstart}
ranks=${HPCLIP_DEMO_RANKS:-2}
echo "== build (build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >build.configure.log 2>&1 || { cat build.configure.log; exit 1; }
cmake --build build -j"$(hpclip_jobs)" >/dev/null
echo "== run conf/quickstart.cfg on $ranks ranks -> $run_dir"
# One BLAS thread per rank: the ranks already use the cores.
OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
  mpirun -np "$ranks" --bind-to none build/hpclip run conf/quickstart.cfg --run-dir "$run_dir"
# report.html (every plot drawn by hpclip itself) seen by a browser: a screenshot at 1280 px
# width, the picture linked from the README (docs/img/report.png is one such).
echo "== report.html -> $run_dir/report.png"
hpclip_screenshot "$run_dir/report.html" "$run_dir/report.png"
echo
echo "== results in $run_dir:"
ls -l "$run_dir"
for f in "$run_dir"/*.h5; do
  [ -f "$f" ] && build/hpclip check "$f"
done
[ -f "$run_dir/summary.md" ] && cat "$run_dir/summary.md"
echo "demo finished: outputs are in $run_dir (inspect with h5dump -H $run_dir/dataset.h5 or build/hpclip check FILE)"
