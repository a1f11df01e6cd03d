#!/usr/bin/env bash
# scripts/bench/bench_support_memory.sh — throughput of the support-memory projection
# (src/models/support_memory.c) at 1 and 2 ranks (1 OpenBLAS thread per rank): a memory of
# N x 768 unit rows (default 400,000 ≈ the COCO 2014 training split's captions) and 1,000
# queries; median of REPS calls; queries/s. Every measurement line is preceded by a LOAD line.
#
#   scripts/bench/bench_support_memory.sh [N] [NQ]          (defaults 400000 1000)
#   N=20000 NQ=100: a quick check that it runs.
# Environment: BUILD_DIR (default build), BENCH_DIR (default /tmp/hpclip-bench-support), REPS (3).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD_DIR:-build}
OUT=${BENCH_DIR:-/tmp/hpclip-bench-support}
REPS=${REPS:-3}
N=${1:-400000}
NQ=${2:-1000}
mkdir -p "$OUT"
RES="$OUT/results.txt"
MPIRUN="mpirun --allow-run-as-root --oversubscribe --bind-to none"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

[ -d "$BUILD" ] || cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j2 --target bench_support_memory >/dev/null

for np in 1 2; do
  echo "LOAD $(cut -d' ' -f1-3 /proc/loadavg) before: np=$np N=$N nq=$NQ" | tee -a "$RES"
  $MPIRUN -np "$np" "$BUILD/bench_support_memory" --n "$N" --dim 768 --nq "$NQ" --reps "$REPS" | tee -a "$RES"
done
echo "results appended to $RES"
