#!/usr/bin/env bash
# scripts/bench/bench_cluster.sh — src/cluster against scikit-learn and FAISS on this machine.
#
#   scripts/bench/bench_cluster.sh [lloyd|silhouette|big|all|small]     (default all)
#
#   lloyd       time per Lloyd iteration, 40,000 x 768 unit vectors (110-component Gaussian
#               mixture), k = 110: hpclip on 1 rank x THREADS threads and on 1 and 2 ranks x 1
#               thread (strong scaling); scikit-learn Lloyd and FAISS k-means (all points) at
#               THREADS threads with OMP_WAIT_POLICY=PASSIVE. Target: >= 1.5x scikit-learn.
#   silhouette  exact silhouette of the same data with hpclip's labels: hpclip 1 rank x THREADS,
#               1 and 2 ranks x 1 thread; scikit-learn silhouette_score on the same labels
#               (THREADS, PASSIVE). Target: >= 2x scikit-learn. The two values are compared.
#   big         1,000,000 x 768, k = 110, 2 ranks x 1 thread: time per Lloyd iteration, memory per
#               rank, and the sampled silhouette (10,000 rows).
#   small       all of the above at 2,000 x 64, k = 10 (proves the script; timings meaningless).
# Every measurement line is preceded by a LOAD line (1/5/15-minute load averages).
# Environment: BUILD_DIR (default build), BENCH_DIR (default /tmp/hpclip-bench-cluster),
# THREADS (default 2), ITERS (Lloyd iterations timed, default 10).
# Needs: python3-sklearn, python3-faiss (Debian 12).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD_DIR:-build}
OUT=${BENCH_DIR:-/tmp/hpclip-bench-cluster}
THREADS=${THREADS:-2}
ITERS=${ITERS:-10}
WHAT=${1:-all}
mkdir -p "$OUT"
RES="$OUT/results.txt"
PY=/usr/bin/python3
REF="$PY scripts/bench/bench_cluster_ref.py"
MPIRUN="mpirun --allow-run-as-root --oversubscribe --bind-to none"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

[ -d "$BUILD" ] || cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j2 --target bench_cluster >/dev/null
BC="$BUILD/bench_cluster"

log() { echo "$*" | tee -a "$RES"; }
load() { log "LOAD $(cut -d' ' -f1-3 /proc/loadavg) before: $*"; }
run() { "$@" 2>&1 | tee -a "$RES"; }
hp() { # hp RANKS THREADS ARGS...
  local np=$1 th=$2; shift 2
  run $MPIRUN -np "$np" -x OMP_NUM_THREADS="$th" -x OPENBLAS_NUM_THREADS=1 "$BC" "$@"
}
ref() { run env OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS" OMP_WAIT_POLICY=PASSIVE $REF "$@"; }

N=40000 DIM=768 K=110 BIGN=1000000
if [ "$WHAT" = small ]; then N=2000 DIM=64 K=10 BIGN=20000 ITERS=3; fi
D="$OUT/data_${N}x${DIM}.f32"
log "== bench_cluster $(date -u +%FT%TZ) host $(hostname) $(nproc) cores, threads=$THREADS, $WHAT"
[ -f "$D" ] || run "$BC" gen --n $N --dim $DIM --clusters $K --out "$D"

if [ "$WHAT" = lloyd ] || [ "$WHAT" = all ] || [ "$WHAT" = small ]; then
  load "hpclip lloyd 1 rank x $THREADS threads"; hp 1 "$THREADS" lloyd --n $N --dim $DIM --k $K --iters $ITERS --data "$D"
  load "hpclip lloyd 1 rank x 1 thread"; hp 1 1 lloyd --n $N --dim $DIM --k $K --iters $ITERS --data "$D"
  load "hpclip lloyd 2 ranks x 1 thread"; hp 2 1 lloyd --n $N --dim $DIM --k $K --iters $ITERS --data "$D"
  load "sklearn + faiss lloyd ($THREADS threads, PASSIVE)"; ref lloyd "$D" $N $DIM $K $ITERS
fi
if [ "$WHAT" = silhouette ] || [ "$WHAT" = all ] || [ "$WHAT" = small ]; then
  L="$OUT/labels_${N}.i64"
  load "hpclip silhouette 1 rank x $THREADS threads"
  hp 1 "$THREADS" silhouette --n $N --dim $DIM --k $K --data "$D" --labels-out "$L"
  load "hpclip silhouette 1 rank x 1 thread"; hp 1 1 silhouette --n $N --dim $DIM --k $K --data "$D"
  load "hpclip silhouette 2 ranks x 1 thread"; hp 2 1 silhouette --n $N --dim $DIM --k $K --data "$D"
  load "sklearn silhouette_score ($THREADS threads, PASSIVE)"; ref silhouette "$D" $N $DIM "$L"
fi
if [ "$WHAT" = big ] || [ "$WHAT" = all ] || [ "$WHAT" = small ]; then
  B="$OUT/data_${BIGN}x${DIM}.f32"
  [ -f "$B" ] || run "$BC" gen --n $BIGN --dim $DIM --clusters $K --out "$B"
  load "hpclip lloyd $BIGN rows, 2 ranks x 1 thread"; hp 2 1 lloyd --n $BIGN --dim $DIM --k $K --iters $ITERS --data "$B"
  load "hpclip sampled silhouette $BIGN rows, 2 ranks x 1 thread"
  hp 2 1 silhouette --n $BIGN --dim $DIM --k $K --data "$B" --sample 10000
fi
log "== results in $RES"
