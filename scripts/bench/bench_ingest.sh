#!/usr/bin/env bash
# scripts/bench/bench_ingest.sh — ingest images/s on 1 and 2 ranks against JPEG decoding alone.
#
#   scripts/bench/bench_ingest.sh [DATA]      (default: ../shared/data, else $HPCLIP_SHARED_DATA)
#   scripts/bench/bench_ingest.sh --small     (the committed slices in tests/data/samples: a quick proof)
#
# For each real sample (ROCO roco-mini test/radiology, Fashion fashion-mini, COCO coco-mini
# train2017 + val2017 — whichever DATA holds):
#   ingest  `hpclip ingest conf/<x>.cfg` at data.image_size = SIZE on 1 and 2 ranks
#           (1 OpenBLAS thread per rank), ROUNDS rounds alternating 1 and 2 ranks; the time is the
#           stage's own "stage ingest: done in T s" (annotation parsing, decoding, resizing,
#           splitting, vocabulary, the dataset.h5 write), images/s = images / T;
#   decode  scripts/bench/bench_jpeg_decode.c on the same files, one thread, from memory: full
#           size, and with the DCT-domain scaling ingest uses (shorter side >= 2 x SIZE). The
#           decoding limit on P ranks is P x the one-thread figure.
# Every measurement line is preceded by a LOAD line (1/5/15-minute load averages): numbers taken
# on a busy machine are not valid timings. Results are appended to $BENCH_DIR/results.txt.
# Environment: BUILD_DIR (default build), BENCH_DIR (default /tmp/hpclip-bench-ingest),
# ROUNDS (default 3), SIZE (default 128, the study's).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD_DIR:-build}
OUT=${BENCH_DIR:-/tmp/hpclip-bench-ingest}
ROUNDS=${ROUNDS:-3}
SIZE=${SIZE:-128}
MPIRUN="mpirun --allow-run-as-root --oversubscribe --bind-to none"
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

if [ "${1:-}" = --small ]; then
  SMALL=1; DATA=tests/data/samples
else
  SMALL=0; DATA=${1:-${HPCLIP_SHARED_DATA:-../shared/data}}
fi
[ -d "$DATA" ] || { echo "bench_ingest: no data folder $DATA" >&2; exit 2; }
mkdir -p "$OUT"
RES="$OUT/results.txt"
[ -d "$BUILD" ] || cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j2 --target hpclip bench_jpeg_decode >/dev/null
HP="$BUILD/hpclip"
DEC="$BUILD/bench_jpeg_decode"

log() { echo "$*" | tee -a "$RES"; }
load() { log "LOAD $(cut -d' ' -f1-3 /proc/loadavg) before: $*"; }

# bench NAME CONF ROOT SPLIT IMAGE-DIR
bench() {
  local name=$1 conf=$2 root=$3 split=$4 imgdir=$5
  [ -d "$imgdir" ] || { log "skip $name: $imgdir not found"; return; }
  local n; n=$(find "$imgdir" -maxdepth 1 -name '*.jpg' | wc -l)
  for r in $(seq "$ROUNDS"); do
    for np in 1 2; do
      local run="$OUT/run-$name-np$np" lg="$OUT/$name-np$np.log"
      load "ingest $name np=$np round $r"
      $MPIRUN -np $np "$HP" ingest "$conf" --run-dir "$run" --force -s ingest.root="$root" \
        -s ingest.split="$split" -s data.image_size="$SIZE" >"$lg" 2>&1 \
        || { log "FAIL ingest $name np=$np (see $lg)"; tail -5 "$lg"; exit 1; }
      local t imgs
      t=$(grep -Eo 'stage ingest: done in [0-9.]+ s' "$lg" | grep -Eo '[0-9.]+' | tail -1)
      imgs=$(grep -Eo 'ingest: [0-9]+ images' "$lg" | tail -1 | grep -Eo '[0-9]+')
      log "RESULT ingest dataset=$name np=$np size=$SIZE images=$imgs seconds=$t images_per_s=$(awk -v n="$imgs" -v t="$t" 'BEGIN{printf "%.1f", n/t}')"
    done
    load "jpeg decode $name round $r"
    find "$imgdir" -maxdepth 1 -name '*.jpg' -print0 | sort -z \
      | xargs -0 "$DEC" --reps 3 --min-side $((2 * SIZE)) | sed "s/^RESULT jpeg_decode/RESULT jpeg_decode dataset=$name/" \
      | tee -a "$RES"
  done
  log "(files in $imgdir: $n)"
}

log "== bench_ingest $(date -u +%FT%TZ) host $(hostname) $(nproc) cores, data $DATA, size $SIZE, rounds $ROUNDS"
if [ $SMALL = 1 ]; then
  bench roco conf/roco.cfg "$DATA/roco" test/radiology "$DATA/roco/data/test/radiology/images"
  bench fashion conf/fashion.cfg "$DATA/fashion" "" "$DATA/fashion/images"
  bench coco-train2017 conf/coco.cfg "$DATA/coco" train2017 "$DATA/coco/train2017"
else
  bench roco conf/roco.cfg "$DATA/roco-mini" test/radiology "$DATA/roco-mini/data/test/radiology/images"
  bench fashion conf/fashion.cfg "$DATA/fashion-mini" "" "$DATA/fashion-mini/images"
  bench coco-train2017 conf/coco.cfg "$DATA/coco-mini" train2017 "$DATA/coco-mini/train2017"
  bench coco-val2017 conf/coco.cfg "$DATA/coco-mini" val2017 "$DATA/coco-mini/val2017"
fi
log "== done; results in $RES"
