#!/usr/bin/env bash
# scaling.sh — strong and weak scaling of the train, embed, search and cluster stages over a list of
# rank counts, on synthetic data (the synth stage: the same dataset for any rank count).
#
#   scripts/scaling.sh [--ranks 1,2,4] [--stages train,embed,search,cluster] [--mode strong|weak|both]
#                      [--images N] [--batch B] [--steps S] [--threads T] [--reps R]
#                      [--config JOB.cfg] [--out DIR] [-s key=value]...
#
#   --ranks      rank counts [1,2,4]; a count x threads above the cores (nproc, ignoring OMP_NUM_THREADS) runs with
#                --oversubscribe and is marked "oversubscribed" in the CSV and the plots
#   --mode       strong: the same problem at every rank count (N images, global batch B);
#                weak: the problem grows with the ranks (N x P images, global batch B x P) [both]
#   --images N   synthetic images (strong), per rank (weak) [2000]
#   --batch B    global training batch (strong), per rank (weak) [32]; strong: must divide by every rank count
#   --steps S    training steps timed (train.max_steps) [20]
#   --reps R     repetitions of every stage run; the fastest is kept [1]
#   --config     job file giving the model and stage settings [conf/quickstart.cfg]
#   --out DIR    output directory [runs/scaling]: DIR/scaling.csv, DIR/scaling.h5,
#                DIR/scaling_strong.png, DIR/scaling_weak.png, DIR/MODE/npP/ (run dirs and logs)
#   -s key=value extra overrides for every stage (e.g. -s cluster.k=20)
# Environment: HPCLIP_CORES = the core count to assume (default: nproc, ignoring OMP_NUM_THREADS).
#
# Timings: `seconds` is the stage's own time as hpclip's runner logs it ("stage X: done in S s",
# without MPI start-up); `wall_seconds` is the whole mpirun process. Each stage adds its own
# throughput from its log / results.h5: train pairs/s over the timed steps ("N steps in S s"),
# embed images/s, search caption->image queries/s (results.h5 /search/timing), cluster: rows clustered.
# Speed-up and efficiency are against the smallest rank count P0: strong S = T(P0)/T(P) x P0,
# E = S/P; weak E = T(P0)/T(P), S = E x P. Plots: scripts/plot_scaling.py (python3-matplotlib).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
PY=/usr/bin/python3
ranks=1,2,4 stages=train,embed,search,cluster mode=both images=2000 batch=32 steps=20 threads=1 reps=1
config=conf/quickstart.cfg out=runs/scaling
user_over=()
die() { echo "scaling.sh: $*" >&2; exit 2; }
posint() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1: expected a positive integer, got '$2'"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --ranks) [[ "${2:-}" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "--ranks: expected a list like 1,2,4, got '${2:-}'"; ranks=$2; shift 2 ;;
    --stages) stages=${2:-}; shift 2 ;;
    --mode) case "${2:-}" in strong|weak|both) mode=$2 ;; *) die "--mode: expected strong, weak or both, got '${2:-}'" ;; esac; shift 2 ;;
    --images) posint --images "${2:-}"; images=$2; shift 2 ;;
    --batch) posint --batch "${2:-}"; batch=$2; shift 2 ;;
    --steps) posint --steps "${2:-}"; steps=$2; shift 2 ;;
    --threads) posint --threads "${2:-}"; threads=$2; shift 2 ;;
    --reps) posint --reps "${2:-}"; reps=$2; shift 2 ;;
    --config) [ -f "${2:-}" ] || die "--config: no such file '${2:-}'"; config=$2; shift 2 ;;
    --out) [ -n "${2:-}" ] || die "--out needs a directory"; out=$2; shift 2 ;;
    -s) [[ "${2:-}" == *=* ]] || die "-s needs key=value"; user_over+=(-s "$2"); shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done
IFS=, read -r -a RANKS <<<"$ranks"
IFS=, read -r -a STAGES <<<"$stages"
for st in "${STAGES[@]}"; do
  case "$st" in train|embed|search|cluster) ;; *) die "--stages: '$st' is not one of train, embed, search, cluster" ;; esac
done
modes=(strong weak); [ "$mode" = both ] || modes=("$mode")
for m in "${modes[@]}"; do
  [ "$m" = strong ] || continue
  for p in "${RANKS[@]}"; do
    [ $((batch % p)) = 0 ] || die "strong scaling: --batch $batch is not divisible by $p ranks (train.batch must be)"
  done
done
cd "$repo" || exit 2
[ -x build/hpclip ] || die "build/hpclip not found: build first"
mkdir -p "$out" || die "cannot create $out"
cores=${HPCLIP_CORES:-$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc 2>/dev/null || echo 1)}
csv="$out/scaling.csv"
echo "mode,stage,ranks,threads,oversubscribed,images,batch,seconds,wall_seconds,throughput,throughput_unit" >"$csv"

# run_stage DIR NP STAGE ARGS...: run one hpclip stage, echo "stage_seconds wall_seconds" of the fastest rep.
run_stage() {
  local dir=$1 np=$2 st=$3; shift 3
  local best="" bw="" r over=()
  [ $((np * threads)) -gt "$cores" ] && over=(--oversubscribe)
  for ((r = 0; r < reps; r++)); do
    local t0 t1 s
    t0=$(date +%s.%N)
    if ! jobs/mpirun.sh --np "$np" --threads "$threads" "${over[@]}" "$st" "$config" --run-dir "$dir" --force \
         "$@" "${user_over[@]}" >"$dir/$st.log" 2>&1; then
      echo "scaling.sh: $st on $np ranks failed; log $dir/$st.log:" >&2; tail -5 "$dir/$st.log" >&2; return 1
    fi
    t1=$(date +%s.%N)
    s=$(sed -n "s/.*stage $st: done in \([0-9.]*\) s.*/\1/p" "$dir/$st.log" | tail -1)
    [ -n "$s" ] || { echo "scaling.sh: no 'stage $st: done in' line in $dir/$st.log" >&2; return 1; }
    if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN { exit !(a < b) }'; then
      best=$s; bw=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
      cp "$dir/$st.log" "$dir/$st.best.log"
    fi
  done
  echo "$best $bw"
}

# throughput STAGE DIR B: the stage's own rate from its best log / results.h5.
throughput() {
  local st=$1 dir=$2 b=$3 L="$2/$1.best.log"
  case "$st" in
    train) sed -n 's/.*train: \([0-9]*\) steps in \([0-9.]*\) s.*/\1 \2/p' "$L" | tail -1 |
             awk -v b="$b" '{ if ($2 > 0) printf "%.3f,pairs/s\n", $1 * b / $2; else print ",pairs/s" }' ;;
    embed) sed -n 's/.*embed: [0-9]* images in [0-9.]* s (\([0-9.]*\) images\/s).*/\1/p' "$L" | tail -1 |
             awk '{ printf "%s,images/s\n", $1 }' ;;
    search) "$PY" -c 'import h5py,sys
f = h5py.File(sys.argv[1], "r"); q = f["search/timing/queries_per_second"][()]
print("%.3f,caption->image queries/s" % q[0][1])' "$dir/results.h5" 2>/dev/null || echo ",queries/s" ;;
    cluster) "$PY" -c 'import h5py,sys
f = h5py.File(sys.argv[1], "r"); print("%d,rows clustered" % f["cluster"].attrs["n_rows"])' "$dir/results.h5" 2>/dev/null || echo ",rows" ;;
  esac
}

for m in "${modes[@]}"; do
  for p in "${RANKS[@]}"; do
    if [ "$m" = strong ]; then n=$images; b=$batch; else n=$((images * p)); b=$((batch * p)); fi
    dir="$out/$m/np$p"
    mkdir -p "$dir"
    over_flag=0; [ $((p * threads)) -gt "$cores" ] && over_flag=1
    # The dataset (not timed): synthetic, identical for any rank count, made once per size.
    data="$out/data-$n"
    if [ ! -f "$data/dataset.h5" ]; then
      mkdir -p "$data"
      np0=$cores; [ "$np0" -le "$p" ] || np0=$p
      jobs/mpirun.sh --np "$np0" --threads 1 synth "$config" --run-dir "$data" -s synth.num_images="$n" \
          "${user_over[@]}" >"$data/synth.log" 2>&1 || { echo "scaling.sh: synth failed, see $data/synth.log" >&2; exit 1; }
    fi
    cp "$data/dataset.h5" "$dir/"
    sizes=(-s synth.num_images="$n" -s train.batch="$b" -s train.max_steps="$steps" -s train.epochs=1000)
    for st in "${STAGES[@]}"; do
      # embed/search/cluster need a checkpoint / embeddings: made untimed when the list lacks them.
      if [ "$st" != train ] && [ ! -f "$dir/ckpt.h5" ]; then
        run_stage "$dir" "$p" train "${sizes[@]}" >/dev/null || exit 1
      fi
      if { [ "$st" = search ] || [ "$st" = cluster ]; } && [ ! -f "$dir/embeddings.h5" ]; then
        run_stage "$dir" "$p" embed "${sizes[@]}" >/dev/null || exit 1
      fi
      read -r s w < <(run_stage "$dir" "$p" "$st" "${sizes[@]}") || true
      [ -n "${s:-}" ] || { echo "scaling.sh: $m $st at $p ranks gave no timing" >&2; exit 1; }
      tp=$(throughput "$st" "$dir" "$b")
      echo "$m,$st,$p,$threads,$over_flag,$n,$b,$s,$w,$tp" >>"$csv"
      echo "scaling.sh: $m $st P=$p$( [ $over_flag = 1 ] && echo ' (oversubscribed)'): ${s} s (wall ${w} s), ${tp%%,*} ${tp#*,}"
    done
  done
done
"$PY" "$here/plot_scaling.py" "$csv" || die "plotting failed"
