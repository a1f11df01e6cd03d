#!/usr/bin/env bash
# bench_train_nodes.sh — hpclip's training step across emulated nodes (scripts/netns_cluster.sh,
# one rank per node, TCP between them, links shaped with tbf): the study's largest model
# (BERT-12/768 + ViT-B/16 at 128x128, 183.5 M parameters, a 734 MB gradient) with its bucketed,
# overlapped allreduce, float32 and bfloat16 payloads, at 2 and 4 nodes, strong scaling (the
# study's global batch 32) and weak (32 pairs per node). Needs root.
#
#   scripts/bench/bench_train_nodes.sh [--nodes 2,4] [--rate 1gbit] [--steps 3] [--out DIR] [--build DIR]
#
# Each run trains --steps steps; the first is a warm-up. Per timed step rank 0 logs pairs/s and
# the share of the step spent waiting for communication (gradient allreduce + embedding
# exchange); the step time is batch / pairs/s; the fastest timed step is kept, with its own share.
# The synthetic dataset holds --steps global batches of the largest run (weak scaling at the
# most nodes). Memory: every rank holds about 5-6 GiB with this model (parameters, gradients,
# AdamW moments, best copy and checkpoint staging, activations); 4 ranks at 32 pairs each did
# not fit in 24 GiB (killed), so a failed run is reported and the driver goes on. The nodes share this machine's cores: the compute
# part is slower than on a real node (2 cores for all ranks), the communication part is what the
# link allows. Results: DIR/bench_train_nodes.log (RESULT lines: rate mode nodes dtype batch
# step_s comm_share peak_rss_mib_max), read by comm_fit.py --train.
set -uo pipefail
BENCH=bench_train_nodes.sh
SRC=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
BUILD=$SRC/build OUT="" NODES=2,4 RATE=1gbit STEPS=3 PREFIX=hptrain
die() { echo "$BENCH: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --nodes) [[ "${2:-}" =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--nodes: e.g. 2,4"; NODES=$2; shift 2 ;;
    --rate) [[ "${2:-}" =~ ^[0-9.]+(k|m|g)?bit$ ]] || die "--rate: e.g. 1gbit"; RATE=$2; shift 2 ;;
    --steps) [[ "${2:-}" =~ ^[2-9][0-9]*$ ]] || die "--steps: at least 2"; STEPS=$2; shift 2 ;;
    --build) BUILD=${2:-}; shift 2 ;;
    --out) OUT=${2:-}; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown argument $1 (try --help)" ;;
  esac
done
[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
OUT=${OUT:-$BUILD/bench-train-nodes}
mkdir -p "$OUT" || die "cannot create $OUT"
HP=$BUILD/hpclip
[ -x "$HP" ] || die "$HP not built"
NC=$SRC/scripts/netns_cluster.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
maxn=$(tr ',' '\n' <<<"$NODES" | sort -n | tail -1)
LOG=$OUT/bench_train_nodes.log
: >"$LOG"
JOB=$OUT/job.cfg
cat >"$JOB" <<EOF
run = { name = "bench-train-nodes"; seed = 11; log_every = 0.0; watchdog = 0.0; };
data = { image_size = 128; caption_len = 20; vocab_size = 15000; };
synth = { num_images = $((STEPS * 32 * maxn * 10 / 7 + 20)); captions_per_image = 1; };
model = { text = "bert"; text_layers = 12; text_heads = 12; text_width = 768; text_dropout = 0.0;
          image = "vit"; image_patch = 16; image_layers = 12; image_heads = 12; image_width = 768;
          image_dropout = 0.0; embed_dim = 768; };
train = { lr = 1e-5; epochs = 1; patience = 0; max_steps = $STEPS; };
EOF
mpirun -np 1 "$HP" synth "$JOB" --run-dir "$OUT/data" >"$OUT/synth.log" 2>&1 || die "synth failed: $OUT/synth.log"
"$NC" down --prefix "$PREFIX" >/dev/null 2>&1
trap '"$NC" down --prefix "$PREFIX" >/dev/null 2>&1' EXIT
"$NC" up "$maxn" --prefix "$PREFIX" --rate "$RATE" >>"$LOG" 2>&1 || die "cannot make $maxn emulated nodes at $RATE"
echo "$BENCH: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$SRC" rev-parse --short HEAD), $(nproc --all) cores, rate $RATE, nodes $NODES, $STEPS steps (1 warm-up)" | tee -a "$LOG"
for p in ${NODES//,/ }; do
  for mode in strong weak; do
    batch=$([ $mode = strong ] && echo 32 || echo $((32 * p)))
    for dtype in float32 bfloat16; do
      run=$OUT/run-$mode-$p-$dtype
      rm -rf "$run"; mkdir -p "$run"; cp "$OUT/data/dataset.h5" "$run/"
      echo "$BENCH: $mode P=$p $dtype batch $batch: load before $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$LOG"
      timeout 3600 "$NC" mpirun --prefix "$PREFIX" -np "$p" --oversubscribe --bind-to none /usr/bin/time -f "MAXRSS_KB=%M" \
        "$HP" train "$JOB" --run-dir "$run" -s train.batch=$batch -s train.allreduce_dtype=$dtype >"$run.log" 2>&1 ||
        { echo "$BENCH: $mode P=$p $dtype: training failed (exit $?; out of memory?): $run.log" | tee -a "$LOG"; continue; }
      "$PY" - "$run.log" "$RATE" "$mode" "$p" "$dtype" "$batch" <<'PY' | tee -a "$LOG" || die "no timed steps in $run.log"
import re, sys
log, rate, mode, p, dtype, batch = sys.argv[1:7]
steps, rss = [], []
for line in open(log, errors="replace"):
    m = re.search(r"step (\d+)/\d+ .*\| ([0-9.]+) pairs/s, comm ([0-9.]+)%", line)
    if m and int(m.group(1)) > 1:
        steps.append((int(batch) / float(m.group(2)), float(m.group(3)) / 100))
    m = re.search(r"MAXRSS_KB=(\d+)", line)
    if m:
        rss.append(int(m.group(1)) / 1024)
if not steps:
    sys.exit(1)
best = min(steps)  # the fastest timed step, with its own communication share
print("RESULT %s %s %s %s %s %.3f %.3f %.0f" % (rate, mode, p, dtype, batch, best[0], best[1], max(rss) if rss else -1))
PY
    done
  done
done
