#!/usr/bin/env bash
# bench_encoders.sh — training-step speed of hpclip's encoders beside PyTorch, on this machine,
# in one run: sgemm peak (cblas_sgemm, square 3072, same threads), then per model one hpclip
# process (scripts/bench/bench_encoders.c) and one PyTorch process
# (scripts/bench/bench_encoders_torch.py, Debian's /usr/bin/python3), alternating, at each
# thread count. Each process: warm-up steps, then R timed steps; median reported; peak RSS
# (ru_maxrss) of the process. A step = zero grads + forward + backward + AdamW update at
# batch 32, 128x128 uint8 images, 20-token captions (see bench_encoders.c for the FLOP count).
#
#   scripts/bench/bench_encoders.sh [--build DIR] [--out DIR] [--threads "1 2"]
#                                   [--models "bert-4-256 ..."] [--warmup 2] [--reps 5]
#                                   [--infer] [--batch 32]
# --infer: embed-throughput mode (issue 7): inference instead of the training step — the
# forward pass in eval mode, no gradients (bench_encoders.c --infer, PyTorch model.eval() under
# torch.inference_mode()); default models then "bert-12-768 vit-b16 resnet50"; the targets
# printed are issue 7's (>= 1.1x PyTorch for the transformers, >= 1.5x for ResNet50).
# Defaults: build dir $SRC/build-bench (cmake -S . -B build-bench && cmake --build build-bench
# -j2), out dir $BUILD/bench-results, every model below, threads "1 2".
# Environment of every run: OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = threads (hpclip's OpenMP
# OpenBLAS follows them) and OMP_WAIT_POLICY=PASSIVE for both implementations (override with
# WAIT_POLICY=...); PyTorch additionally calls torch.set_num_threads(threads).
# Output: $OUT/results.jsonl (one JSON line per process, with the 1-minute load average before
# and after), $OUT/machine.txt, $OUT/table.md (also printed). Without torch the PyTorch columns
# are empty.
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$SRC/build-bench
OUT=""
THREADS="1 2"
MODELS="bert-4-256 bert-12-768 vit-b16 vit-b32 resnet50 clip-bert4-vitb16 clip-bert4-resnet50"
WARMUP=2
REPS=5
INFER=""
BATCH=32
MODELS_SET=0
while [ $# -gt 0 ]; do
  case $1 in
    --build) BUILD=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --models) MODELS=$2; MODELS_SET=1; shift 2 ;;
    --infer) INFER=--infer; shift ;;
    --batch) BATCH=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "bench_encoders.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
[ -n "$INFER" ] && [ $MODELS_SET = 0 ] && MODELS="bert-12-768 vit-b16 resnet50"
OUT=${OUT:-$BUILD/bench-results${INFER:+-infer}}
WAIT=${WAIT_POLICY:-PASSIVE}
BENCH=$BUILD/bench_encoders
PY=/usr/bin/python3
[ -x "$BENCH" ] || { echo "bench_encoders.sh: $BENCH not built (cmake --build $BUILD -j2 --target bench_encoders)" >&2; exit 1; }
mkdir -p "$OUT" || exit 1
RES=$OUT/results.jsonl
: >"$RES"
TORCH=0
"$PY" -c "import torch" >/dev/null 2>&1 && TORCH=1

{
  echo "date: $(date -Is)"
  echo "git: $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null) ($(git -C "$SRC" status --porcelain 2>/dev/null | wc -l) paths modified in the tree)"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores online, $(lscpu | sed -n 's/^Thread(s) per core: *//p') thread(s)/core"
  echo "caches: L2 $(lscpu | sed -n 's/^L2 cache: *//p'), L3 $(lscpu | sed -n 's/^L3 cache: *//p')"
  echo "isa: $(grep -m1 -o -w -E 'avx2|avx512f|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')"
  echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "kernel: $(uname -r)"
  echo "compiler: $(cc --version | head -1)"
  echo "openblas (hpclip): $(ldd "$BENCH" | grep -o '/[^ ]*openblas[^ ]*' | head -1)"
  [ $TORCH = 1 ] && echo "torch: $("$PY" -c 'import torch; print(torch.__version__, "BLAS:", torch.__config__.show().split("BLAS_INFO=")[1].split(",")[0], "blas lib:", __import__("os").path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3"))')"
  echo "mode: ${INFER:+inference (forward, eval mode)}${INFER:-training step}; batch $BATCH"
  echo "threads: $THREADS; OMP_WAIT_POLICY=$WAIT; warm-up $WARMUP, timed steps $REPS (median)"
  echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/machine.txt"
cat "$OUT/machine.txt"

# one_run IMPL THREADS MODEL: append the JSON line with the load before/after
one_run() {
  local impl=$1 t=$2 m=$3 l0 l1 line
  l0=$(cut -d' ' -f1 /proc/loadavg)
  if [ "$impl" = hpclip ]; then
    line=$(env OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" OMP_WAIT_POLICY="$WAIT" \
      "$BENCH" "$m" --warmup "$WARMUP" --reps "$REPS" --batch "$BATCH" $INFER)
  else
    line=$(env OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" OMP_WAIT_POLICY="$WAIT" \
      "$PY" "$SRC/scripts/bench/bench_encoders_torch.py" "$m" "$t" --warmup "$WARMUP" --reps "$REPS" --batch "$BATCH" $INFER)
  fi
  local rc=$?
  l1=$(cut -d' ' -f1 /proc/loadavg)
  if [ $rc != 0 ] || [ -z "$line" ]; then echo "bench_encoders.sh: $impl $m at $t threads failed (exit $rc)" >&2; return 1; fi
  line="${line%\}}, \"load_before\": $l0, \"load_after\": $l1}"
  echo "$line" >>"$RES"
  echo "$impl $m t=$t: $(sed -E 's/.*"median_s": ([0-9.]+).*"per_s": ([0-9.]+).*"maxrss_mb": ([0-9.]+).*/median \1 s, \2 per s, rss \3 MB/' <<<"$line") (load $l0 -> $l1)"
}

status=0
for t in $THREADS; do
  one_run hpclip "$t" sgemm || status=1
  [ $TORCH = 1 ] && { one_run torch "$t" sgemm || status=1; }
  for m in $MODELS; do
    one_run hpclip "$t" "$m" || status=1
    [ $TORCH = 1 ] && { one_run torch "$t" "$m" || status=1; }
  done
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"

"$PY" - "$RES" "${INFER:-train}" >"$OUT/table.md" <<'EOF'
import json, sys
infer = sys.argv[2] == "--infer"
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
get = {(r["impl"], r["model"], r["threads"]): r for r in rows}
threads = sorted({r["threads"] for r in rows})
models = []
for r in rows:
    if r["model"] != "sgemm" and r["model"] not in models:
        models.append(r["model"])
transformer = lambda m: m.startswith(("bert-", "vit-", "clip-bert4-vit"))
print("| model | thr | hpclip samples/s | PyTorch samples/s | speed-up | hpclip GFLOP/s | % of sgemm peak | PyTorch GFLOP/s | % of peak | hpclip peak RSS MB | PyTorch peak RSS MB | load (1 min) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
targets = []
for t in threads:
    ph, pt = get.get(("hpclip", "sgemm", t)), get.get(("torch", "sgemm", t))
    peak = ph["gflops"] if ph else None
    print("| **sgemm 3072^3** | %d | | | | **%.0f** | 100 | %s | %s | | | %s |" % (
        t, peak or 0, "%.0f" % pt["gflops"] if pt else "", "%.0f" % (100 * pt["gflops"] / peak) if pt and peak else "",
        "%.2f-%.2f" % (ph["load_before"], ph["load_after"]) if ph else ""))
    for m in models:
        h, p = get.get(("hpclip", m, t)), get.get(("torch", m, t))
        if not h:
            continue
        ratio = h["per_s"] / p["per_s"] if p else None
        pg = h["flops"] / p["median_s"] * 1e-9 if p else None
        frac = h["gflops"] / peak if peak else None
        print("| %s | %d | %.2f | %s | %s | %.0f | %s | %s | %s | %.0f | %s | %.2f-%.2f |" % (
            m, t, h["per_s"], "%.2f" % p["per_s"] if p else "", "%.2fx" % ratio if ratio else "", h["gflops"],
            "%.0f" % (100 * frac) if frac else "", "%.0f" % pg if pg else "", "%.0f" % (100 * pg / peak) if pg and peak else "",
            h["maxrss_mb"], "%.0f" % p["maxrss_mb"] if p else "", h["load_before"], h["load_after"]))
        if ratio is not None:
            if infer:  # issue 7: embed throughput
                need = 1.5 if m in ("resnet50", "clip-bert4-resnet50") else 1.1
            else:
                need = 2.0 if m == "bert-4-256" else 1.3 if m == "resnet50" else 1.0
            targets.append(("%s %dT: >= %.1fx PyTorch" % (m, t, need), ratio >= need, "%.2fx" % ratio))
        if transformer(m) and frac is not None and not m.startswith("clip") and not infer:
            targets.append(("%s %dT: >= 80%% of sgemm peak" % (m, t), frac >= 0.8, "%.0f%%" % (100 * frac)))
print()
print("Targets:")
print()
for name, ok, val in targets:
    print("- %s: %s (%s)" % (name, "reached" if ok else "**MISSED**", val))
EOF
cat "$OUT/table.md"
echo "results: $RES, $OUT/machine.txt, $OUT/table.md"
exit $status
