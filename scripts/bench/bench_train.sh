#!/usr/bin/env bash
# bench_train.sh — data-parallel CLIP training throughput of `hpclip train` beside PyTorch, in
# one run on this machine (issue: training benchmark). For each model:
#   torch  1 process x T threads     scripts/bench/bench_train_torch.py (same model, same loss,
#                                    AdamW), OMP_WAIT_POLICY=PASSIVE
#   hpclip 1 rank  x T threads       `hpclip train` on a synthetic 128x128 dataset
#   hpclip T ranks x 1 thread        the same job on T MPI ranks (global batch unchanged)
# hpclip's figures are the medians of the per-step "pairs/s" and "comm %" that rank 0 logs
# (steps after the warm-up); peak RSS per rank from /usr/bin/time. Runs alternate per model.
#
#   scripts/bench/bench_train.sh [--build DIR] [--out DIR] [--threads 2] [--models "small b4-vitb16"]
#                                [--steps 13] [--warmup 3] [--reps 3]
# --reps repeats every (model, configuration) cell; the table shows the median of the repeats.
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$SRC/build
OUT=""
THREADS=2
MODELS="small b4-vitb16"
STEPS=13
WARMUP=3
REPS=3
while [ $# -gt 0 ]; do
  case $1 in
    --build) BUILD=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --models) MODELS=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "bench_train.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
OUT=${OUT:-$BUILD/bench-train}
HP=$BUILD/hpclip
PY=/usr/bin/python3
[ -x "$HP" ] || { echo "bench_train.sh: $HP not built" >&2; exit 1; }
mkdir -p "$OUT" || exit 1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
RES=$OUT/results.jsonl
: >"$RES"

# model name -> hpclip overrides (the same shapes as bench_train_torch.py)
model_args() {
  local common=(-s model.text=bert -s model.text_layers=4 -s model.text_heads=4 -s model.text_width=256
                -s model.image=vit -s model.image_patch=16 -s model.embed_dim=768 -s model.text_dropout=0
                -s model.image_dropout=0)
  case $1 in
    small) echo "${common[@]} -s model.image_layers=4 -s model.image_heads=4 -s model.image_width=256" ;;
    b4-vitb16) echo "${common[@]} -s model.image_layers=12 -s model.image_heads=12 -s model.image_width=768" ;;
    *) echo "bench_train.sh: unknown model $1" >&2; exit 2 ;;
  esac
}

JOB=$OUT/job.cfg
cat >"$JOB" <<EOF
run = { name = "bench-train"; stages = ["synth", "train"]; seed = 11; };
data = { image_size = 128; caption_len = 20; vocab_size = 15000; };
synth = { num_images = 640; captions_per_image = 2; };
train = { batch = 32; lr = 1e-5; epochs = 1; patience = 2; max_steps = $STEPS; };
EOF
echo "== dataset (synthetic, 640 images at 128x128)"
OPENBLAS_NUM_THREADS=1 mpirun -np 1 "$HP" synth "$JOB" --run-dir "$OUT/run" >"$OUT/synth.log" 2>&1 || exit 1

# median of the per-step pairs/s and comm % after the warm-up steps, from a train log
parse_log() { # log ranks threads model
  "$PY" - "$@" "$WARMUP" <<'EOF'
import json, re, statistics, sys
log, ranks, threads, model, warm = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
steps, rss = [], []
for line in open(log, errors="replace"):
    m = re.search(r"step (\d+)/\d+ .*\| ([0-9.]+) pairs/s, comm ([0-9.]+)%", line)
    if m and int(m.group(1)) > warm:
        steps.append((float(m.group(2)), float(m.group(3))))
    m = re.search(r"MAXRSS_KB=(\d+)", line)
    if m:
        rss.append(int(m.group(1)) / 1024.0)
if not steps:
    sys.exit("bench_train.sh: no timed steps in " + log)
print(json.dumps({"impl": "hpclip", "model": model, "ranks": ranks, "threads": threads,
                  "pairs_per_s": round(statistics.median(s[0] for s in steps), 3),
                  "comm_share": round(statistics.median(s[1] for s in steps) / 100.0, 3),
                  "steps": len(steps), "maxrss_mb_per_rank": round(max(rss), 1) if rss else None}))
EOF
}

run_hpclip() { # model ranks threads rep
  local log=$OUT/hpclip-$1-$2x$3-$4.log
  # shellcheck disable=SC2046
  OPENBLAS_NUM_THREADS=$3 OMP_NUM_THREADS=$3 OMP_WAIT_POLICY=PASSIVE \
    mpirun -np "$2" --bind-to none /usr/bin/time -f "MAXRSS_KB=%M" "$HP" train "$JOB" --run-dir "$OUT/run" --force \
    -s run.blas_threads="$3" -s run.log_every=0 $(model_args "$1") >"$log" 2>&1 || { echo "hpclip run failed: $log" >&2; tail -5 "$log" >&2; return 1; }
  parse_log "$log" "$2" "$3" "$1" >>"$RES"
}

run_torch() { # model threads
  OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$2 "$PY" "$SRC/scripts/bench/bench_train_torch.py" "$1" "$2" \
    --warmup "$WARMUP" --reps $((STEPS - WARMUP)) >>"$RES" || echo "torch run failed ($1)" >&2
}

echo "date: $(date -Is); load before: $(cut -d' ' -f1 /proc/loadavg)" | tee "$OUT/machine.txt"
for rep in $(seq 1 "$REPS"); do
  for m in $MODELS; do
    echo "== rep $rep model $m"
    "$PY" -c "import torch" 2>/dev/null && run_torch "$m" "$THREADS"
    run_hpclip "$m" 1 "$THREADS" "$rep"
    run_hpclip "$m" "$THREADS" 1 "$rep"
  done
done
echo "load after: $(cut -d' ' -f1 /proc/loadavg)" | tee -a "$OUT/machine.txt"

"$PY" - "$RES" "$THREADS" <<'EOF' | tee "$OUT/table.md"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
T = int(sys.argv[2])
def med(model, impl, ranks, threads, key):
    v = [r[key] for r in rows if r["model"] == model and r["impl"] == impl and r["ranks"] == ranks
         and r["threads"] == threads and r.get(key) is not None]
    return statistics.median(v) if v else None
print("| model | PyTorch 1x%d pairs/s | hpclip 1x%d pairs/s | ratio | hpclip %dx1 pairs/s | %dx1 / 1x%d | comm share %dx1 | RSS/rank MB torch, 1x%d, %dx1 |" % (T, T, T, T, T, T, T, T))
print("|---|---|---|---|---|---|---|---|")
for m in sorted({r["model"] for r in rows}):
    t = med(m, "torch", 1, T, "pairs_per_s"); h1 = med(m, "hpclip", 1, T, "pairs_per_s")
    h2 = med(m, "hpclip", T, 1, "pairs_per_s"); c2 = med(m, "hpclip", T, 1, "comm_share")
    f = lambda x, d=2: "-" if x is None else ("%.*f" % (d, x))
    ratio = h1 / t if t and h1 else None; eff = h2 / h1 if h1 and h2 else None
    print("| %s | %s | %s | %s | %s | %s | %s | %s, %s, %s |" % (m, f(t), f(h1), f(ratio), f(h2), f(eff), f(c2),
          f(med(m, "torch", 1, T, "maxrss_mb"), 0), f(med(m, "hpclip", 1, T, "maxrss_mb_per_rank"), 0),
          f(med(m, "hpclip", T, 1, "maxrss_mb_per_rank"), 0)))
EOF
