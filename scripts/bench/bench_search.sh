#!/usr/bin/env bash
# scripts/bench/bench_search.sh — src/index against FAISS and Annoy on this machine.
#
#   scripts/bench/bench_search.sh [exact|big|forest|all]    (default all)
#
#   exact   top-10 of 1,000 queries over 100,000 x 768 unit vectors: hpclip exact (1 rank,
#           THREADS OpenMP threads) and FAISS IndexFlatIP (THREADS threads, OMP_WAIT_POLICY=PASSIVE),
#           alternating for ROUNDS rounds, each a median of 5 timed searches; ids cross-checked.
#   big     the same over 1,000,000 x 768: hpclip on 2 ranks x 1 thread, FAISS on 2 threads;
#           memory per rank beside the index's size: the exact index built (then saved), loaded
#           from that index.h5, and a forest (10 trees, leaf 64) built, saved and loaded; the
#           Markdown table of peak vs index (bench_search_memtable.py) goes to
#           $BENCH_DIR/big_memory.md.
#   forest  clustered 100,000 x 768 (1,000-component Gaussian mixture, unit-normalised, noise
#           sigma 0.5 and 1.0): hpclip forest (1 thread) and Annoy (annoylib.h, 1 thread),
#           10 trees, a search_k sweep with recall@10 against exact; build times beside FAISS
#           HNSW's (M 32, efConstruction 40).
# Every measurement line is preceded by a LOAD line (the 1/5/15-minute load averages).
# Environment: BUILD_DIR (default build), BENCH_DIR (data and results, default
# /tmp/hpclip-bench-search), THREADS (default 2), ROUNDS (default 3).
# Needs: python3-faiss, r-cran-rcppannoy (annoylib.h), g++.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD_DIR:-build}
OUT=${BENCH_DIR:-/tmp/hpclip-bench-search}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
WHAT=${1:-all}
mkdir -p "$OUT"
RES="$OUT/results.txt"
ANNOY_INC=/usr/lib/R/site-library/RcppAnnoy/include
PY=/usr/bin/python3
FAISS="$PY scripts/bench/bench_search_faiss.py"
MPIRUN="mpirun --allow-run-as-root --oversubscribe --bind-to none"

[ -d "$BUILD" ] || cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j2 --target bench_search >/dev/null
BS="$BUILD/bench_search"

log() { echo "$*" | tee -a "$RES"; }
load() { log "LOAD $(cat /proc/loadavg) before: $*"; }
run() { "$@" 2>&1 | tee -a "$RES"; }
same_ids() { # fraction of identical top-k id lists, and of identical id sets
  $PY - "$1" "$2" <<'EOF'
import sys, numpy as np
a = np.fromfile(sys.argv[1], dtype=np.int64).reshape(-1, 10)
b = np.fromfile(sys.argv[2], dtype=np.int64).reshape(-1, 10)
lists = np.mean(np.all(a == b, axis=1))
sets = np.mean([set(x) == set(y) for x, y in zip(a, b)])
print(f"RESULT ids_vs_faiss identical_lists={lists:.4f} identical_sets={sets:.4f}")
EOF
}

log "== bench_search $(date -u +%FT%TZ) host $(hostname) $(nproc) cores, threads=$THREADS"

if [ "$WHAT" = exact ] || [ "$WHAT" = all ]; then
  B="$OUT/uni100k.f32" Q="$OUT/uni100k_q.f32"
  [ -f "$B" ] || "$BS" gen --n 100000 --nq 1000 --dim 768 --clusters 0 --base "$B" --queries "$Q"
  for r in $(seq "$ROUNDS"); do
    load "hpclip exact 100k round $r"
    run env OMP_NUM_THREADS=$THREADS "$BS" exact --n 100000 --nq 1000 --k 10 --reps 5 \
      --base "$B" --queries "$Q" --ids-out "$OUT/hp100k.i64"
    load "faiss flat 100k round $r"
    run env OMP_NUM_THREADS=$THREADS OMP_WAIT_POLICY=PASSIVE $FAISS flat "$B" "$Q" 768 10 5 "$OUT/faiss100k.i64"
  done
  run same_ids "$OUT/hp100k.i64" "$OUT/faiss100k.i64"
fi

if [ "$WHAT" = big ] || [ "$WHAT" = all ]; then
  B="$OUT/uni1m.f32" Q="$OUT/uni1m_q.f32" MEM="$OUT/big_memory.txt"
  : >"$MEM"
  mem() { "$@" 2>&1 | tee -a "$RES" "$MEM"; }
  [ -f "$B" ] || "$BS" gen --n 1000000 --nq 1000 --dim 768 --clusters 0 --base "$B" --queries "$Q"
  for r in $(seq "$ROUNDS"); do
    load "hpclip exact 1M 2 ranks round $r"
    mem env OMP_NUM_THREADS=1 $MPIRUN -np 2 -x OMP_NUM_THREADS "$BS" exact --n 1000000 --nq 1000 --k 10 \
      --reps 3 --base "$B" --queries "$Q" --ids-out "$OUT/hp1m.i64" --save "$OUT/hp1m_exact.h5"
    load "faiss flat 1M round $r"
    mem env OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE $FAISS flat "$B" "$Q" 768 10 3 "$OUT/faiss1m.i64"
  done
  run same_ids "$OUT/hp1m.i64" "$OUT/faiss1m.i64"
  load "hpclip load of the exact index.h5, 2 ranks"
  mem env OMP_NUM_THREADS=1 $MPIRUN -np 2 -x OMP_NUM_THREADS "$BS" load --index "$OUT/hp1m_exact.h5" --nq 1000 \
    --k 10 --queries "$Q" --ids-out "$OUT/hp1m_loaded.i64"
  cmp -s "$OUT/hp1m.i64" "$OUT/hp1m_loaded.i64" && log "RESULT loaded_ids identical" || log "RESULT loaded_ids DIFFER"
  load "hpclip forest 1M 2 ranks (10 trees, leaf 64), saved"
  mem env OMP_NUM_THREADS=1 $MPIRUN -np 2 -x OMP_NUM_THREADS "$BS" forest --n 1000000 --nq 1000 --k 10 --reps 1 \
    --trees 10 --leaf 64 --search_k 1000 --base "$B" --queries "$Q" --save "$OUT/hp1m_forest.h5"
  load "hpclip load of the forest index.h5, 2 ranks"
  mem env OMP_NUM_THREADS=1 $MPIRUN -np 2 -x OMP_NUM_THREADS "$BS" load --index "$OUT/hp1m_forest.h5" --nq 1000 \
    --k 10 --queries "$Q"
  rm -f "$OUT/hp1m_exact.h5" "$OUT/hp1m_forest.h5"
  $PY scripts/bench/bench_search_memtable.py "$MEM" >"$OUT/big_memory.md"
  log "memory table ($OUT/big_memory.md):"
  tee -a "$RES" <"$OUT/big_memory.md"
fi

if [ "$WHAT" = forest ] || [ "$WHAT" = all ]; then
  g++ -O3 -march=native -std=c++17 -I"$ANNOY_INC" scripts/bench/bench_search_annoy.cc -o "$OUT/bench_search_annoy"
  # sigma 0.5: the reference-like set (Annoy reaches recall 0.98 with 10 trees);
  # sigma 1.0: a harder set (clusters overlap more). 1,000 clusters of ~100 rows each.
  SK_HP=${SK_HP:-100,200,300,400,600,800,1600}
  SK_ANNOY=${SK_ANNOY:-250,500,1000,1500,2000,4000}
  for sigma in ${SIGMAS:-0.5 1.0}; do
    B="$OUT/clu${sigma}.f32" Q="$OUT/clu${sigma}_q.f32" GT="$OUT/gt_clu${sigma}.i64"
    [ -f "$B" ] || "$BS" gen --n 100000 --nq 1000 --dim 768 --clusters 1000 --sigma "$sigma" --base "$B" --queries "$Q"
    for leaf in ${LEAVES:-32}; do
      load "hpclip forest sigma $sigma leaf $leaf"
      run env OMP_NUM_THREADS=1 "$BS" forest --n 100000 --nq 1000 --k 10 --reps 3 --trees 10 --leaf "$leaf" \
        --search_k "$SK_HP" --base "$B" --queries "$Q" --gt-out "$GT"
    done
    load "annoy sigma $sigma"
    run "$OUT/bench_search_annoy" "$B" "$Q" 768 10 "$GT" 10 ${SK_ANNOY//,/ }
  done
  sigma=${SIGMAS:-0.5}; sigma=${sigma%% *}
  B="$OUT/clu${sigma}.f32" Q="$OUT/clu${sigma}_q.f32" GT="$OUT/gt_clu${sigma}.i64"
  load "hpclip forest build sigma $sigma, $THREADS threads"
  run env OMP_NUM_THREADS=$THREADS "$BS" forest --n 100000 --nq 1000 --k 10 --reps 3 --trees 10 --leaf 32 \
    --search_k 400 --base "$B" --queries "$Q"
  load "faiss hnsw sigma $sigma"
  run env OMP_NUM_THREADS=$THREADS OMP_WAIT_POLICY=PASSIVE $FAISS hnsw "$B" "$Q" 768 10 "$GT" 32 40 16 32 64
fi
log "== done $(date -u +%FT%TZ)"
