#!/usr/bin/env bash
# bench_syncbn.sh — cost of synchronised batch norm (model.batch_norm = "sync": one small
# MPI_Allreduce per ResNet BN layer in forward and one in backward) against per-rank BN
# ("local"), on the quickstart model (conf/quickstart.cfg: ResNet blocks 1-1-1-1 width 16, 64x64
# images, BERT 2x64, global batch 32) or the full ResNet50 image tower (--resnet50).
# For each mode, `hpclip train` runs --steps steps on --ranks ranks (1 BLAS thread, --omp OpenMP threads each); the figure
# is the median per-step time (global batch / the "pairs/s" rank 0 logs) after --warmup steps.
# Modes alternate within every repeat so that machine load hits both alike. Every BN reduction
# is a synchronisation point (2 x 17 per step here, 2 x 53 for ResNet50): on an oversubscribed
# machine each can cost a scheduler time slice, so measure on idle cores (or export
# OMPI_MCA_mpi_yield_when_idle=1 when ranks share cores). The log's "synchronised batch norm:
# N allreduces, T s" includes the waits for the slower rank at each of them.
#
#   scripts/bench/bench_syncbn.sh [--build DIR] [--out DIR] [--ranks 2] [--steps 23] [--warmup 3]
#                                 [--reps 3] [--images 600] [--resnet50] [--omp 1]
# --omp sets OMP_NUM_THREADS per rank (1 = the demo's setting; more threads than free cores
# make every BN synchronisation point wait for descheduled OpenMP threads).
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$SRC/build
OUT=""
RANKS=2
STEPS=23
WARMUP=3
REPS=3
IMAGES=600
R50=0
OMP=1
while [ $# -gt 0 ]; do
  case $1 in
    --build) BUILD=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --ranks) RANKS=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --images) IMAGES=$2; shift 2 ;;
    --resnet50) R50=1; shift ;;
    --omp) OMP=$2; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "bench_syncbn.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
OUT=${OUT:-$BUILD/bench-syncbn}
HP=$BUILD/hpclip
[ -x "$HP" ] || { echo "bench_syncbn.sh: $HP not built" >&2; exit 1; }
mkdir -p "$OUT" || exit 1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=$OMP
MPIRUN="mpirun --oversubscribe --bind-to none -np $RANKS"
CFG=$SRC/conf/quickstart.cfg
MODEL=(-s model.image=resnet50)
[ $R50 = 1 ] && MODEL+=(-s model.resnet_blocks=3,4,6,3 -s model.resnet_width=64)
# enough training images for STEPS steps of the global batch (32) within one epoch
COMMON=(-s synth.num_images="$IMAGES" -s train.max_steps="$STEPS" -s train.epochs=1000 -s train.patience=0
        -s train.checkpoint_every=0 -s run.log_every=0 "${MODEL[@]}")

DATA=$OUT/data
if [ ! -s "$DATA/dataset.h5" ]; then
  mkdir -p "$DATA"
  "$HP" synth "$CFG" --run-dir "$DATA" "${COMMON[@]}" >"$OUT/synth.log" 2>&1 \
    || { echo "bench_syncbn.sh: synth failed, see $OUT/synth.log" >&2; exit 1; }
fi

# median step time in ms from a train log (steps after the warm-up)
median_ms() {
  /usr/bin/python3 - "$1" "$WARMUP" <<'EOF'
import re, statistics, sys
path, warm = sys.argv[1], int(sys.argv[2])
t = []
for line in open(path, errors="replace"):
    m = re.search(r"step (\d+)/\d+ .*\| ([0-9.]+) pairs/s", line)
    if m and int(m.group(1)) > warm and float(m.group(2)) > 0:
        t.append(32.0 / float(m.group(2)) * 1000.0)
print(f"{statistics.median(t):.1f}" if t else "nan")
EOF
}

RES=$OUT/results.txt
: >"$RES"
for rep in $(seq 1 "$REPS"); do
  for mode in sync local; do
    dir=$OUT/run-$mode-$rep
    rm -rf "$dir"; mkdir -p "$dir"; cp "$DATA/dataset.h5" "$dir/"
    log=$OUT/$mode-$rep.log
    if ! $MPIRUN "$HP" train "$CFG" --run-dir "$dir" "${COMMON[@]}" -s model.batch_norm=$mode >"$log" 2>&1; then
      echo "bench_syncbn.sh: train ($mode, repeat $rep) failed, see $log" >&2; exit 1
    fi
    ms=$(median_ms "$log")
    echo "$mode $rep $ms" >>"$RES"
    echo "repeat $rep: $mode median step $ms ms $(grep -o 'synchronised batch norm: .*allreduces, .* of the step time' "$log" | sed 's/^/(/;s/$/)/')"
    rm -rf "$dir"
  done
done
/usr/bin/python3 - "$RES" "$RANKS x $OMP" "$R50" <<'EOF'
import statistics, sys
res, ranks, r50 = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
v = {}
for line in open(res):
    mode, _, ms = line.split()
    if ms != "nan":
        v.setdefault(mode, []).append(float(ms))
model = "ResNet50 (3,4,6,3 width 64)" if r50 else "quickstart ResNet (1,1,1,1 width 16)"
print(f"\n| model | ranks x OpenMP threads | local BN ms/step | sync BN ms/step | sync / local |")
print("|---|---|---|---|---|")
s, l = statistics.median(v.get("sync", [float("nan")])), statistics.median(v.get("local", [float("nan")]))
print(f"| {model}, 64x64, batch 32 | {ranks} | {l:.1f} | {s:.1f} | {s / l:.3f} |")
EOF
