#!/usr/bin/env bash
# bench_search_real.sh — the approximate index on REAL embeddings (a trained model's), beside
# Annoy: on random high-dimensional vectors every tree method collapses, so issue 7 asks for the
# forest to be measured on what users search.
#
#   scripts/bench/bench_search_real.sh CKPT.h5 [N_IMAGES]     (default 30000)
#
# CKPT.h5: a trained checkpoint of conf/quickstart.cfg's model (e.g. runs/quickstart/ckpt.h5
# after scripts/demo.sh). Steps: `hpclip synth` N_IMAGES new synthetic images (seed 99, one caption
# each, the quickstart's image size) -> `hpclip embed` with CKPT on 2 ranks -> the image
# embeddings are the base, the captions of the first 1,000 images the queries (text -> image, the
# retrieval direction of the study) -> hpclip forest (bench_search forest, 1 thread, a search_k
# sweep, recall@10 against hpclip's exact top-10) and Annoy (annoylib.h, 1 thread, the same
# ground truth), 10 trees each. Every measurement line follows a LOAD line.
# Environment: BUILD_DIR (default build), BENCH_DIR (default /tmp/hpclip-bench-search-real).
# Needs: python3-h5py, r-cran-rcppannoy (annoylib.h), g++.
set -euo pipefail
cd "$(dirname "$0")/../.."
CKPT=${1:?usage: bench_search_real.sh CKPT.h5 [N_IMAGES]}
N=${2:-30000}
BUILD=${BUILD_DIR:-build}
OUT=${BENCH_DIR:-/tmp/hpclip-bench-search-real}
ANNOY_INC=/usr/lib/R/site-library/RcppAnnoy/include
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$OUT/run"
RES="$OUT/results.txt"
log() { echo "$*" | tee -a "$RES"; }
load() { log "LOAD $(cut -d' ' -f1-3 /proc/loadavg) before: $*"; }

cp "$CKPT" "$OUT/run/ckpt.h5"
S=(-s run.seed=99 -s synth.num_images="$N" -s synth.captions_per_image=1)
OPENBLAS_NUM_THREADS=1 mpirun -np 2 "$BUILD/hpclip" synth conf/quickstart.cfg --run-dir "$OUT/run" --force "${S[@]}" >"$OUT/synth.log"
OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 mpirun -np 2 --bind-to none "$BUILD/hpclip" embed conf/quickstart.cfg \
  --run-dir "$OUT/run" --force "${S[@]}" >"$OUT/embed.log"
grep "embed:" "$OUT/embed.log" | tail -3
# raw float32 rows for bench_search and Annoy
DIM=$(/usr/bin/python3 - "$OUT" <<'EOF'
import sys, h5py, numpy as np
out = sys.argv[1]
f = h5py.File(out + "/run/embeddings.h5", "r")
img = f["images/embedding"][:].astype(np.float32)
cap = f["captions/embedding"][:].astype(np.float32)
ci = f["captions/image"][:]
q = cap[np.argsort(ci, kind="stable")][:1000]
img.tofile(out + "/base.f32"); q.tofile(out + "/queries.f32")
print(img.shape[1])
EOF
)
g++ -O3 -march=native -std=c++17 -I"$ANNOY_INC" scripts/bench/bench_search_annoy.cc -o "$OUT/bench_search_annoy"
log "data: $N image embeddings x $DIM (checkpoint $CKPT), 1000 caption queries"
for leaf in 32 64; do
  load "hpclip forest leaf $leaf"
  OMP_NUM_THREADS=1 "$BUILD/bench_search" forest --n "$N" --dim "$DIM" --nq 1000 --k 10 --reps 3 --trees 10 \
    --leaf "$leaf" --search_k 50,100,200,400,800,1600 --base "$OUT/base.f32" --queries "$OUT/queries.f32" \
    --gt-out "$OUT/gt.i64" 2>&1 | tee -a "$RES"
done
load "annoy"
"$OUT/bench_search_annoy" "$OUT/base.f32" "$OUT/queries.f32" "$DIM" 10 "$OUT/gt.i64" 10 100 250 500 1000 2000 4000 \
  2>&1 | tee -a "$RES"
