#!/usr/bin/env bash
# scale.sh — the full-size rehearsal (docs/scale.md): a COCO 2017 folder written by
# `hpclip synth-coco` (real JPEG files and annotation JSON, COCO's size by default) goes through
# the whole pipeline of conf/coco-scale.cfg — ingest -> train (1 epoch) -> embed -> search ->
# zeroshot -> cluster (K = 110) -> caption-train -> caption -> report — and every stage's wall
# time, main-loop throughput, peak RSS per rank and bytes read and written are tabulated.
#
#   scripts/scale.sh [--images N] [--val-images N] [--ranks P] [--out DIR] [--config JOB.cfg]
#                    [--check] [--force] [--build DIR] [-s key=value]...
#
#   --images N      train2017 images to generate and ingest [118287, COCO 2017's]
#   --val-images N  val2017 images generated (written as COCO has them; not ingested) [5000]
#   --ranks P       MPI ranks [2]; above the cores (nproc) runs with --oversubscribe
#   --out DIR       run directory [runs/coco-scale-N]; the COCO folder is DIR/coco
#   --config FILE   job file [conf/coco-scale.cfg]
#   --check         then rerun every stage after training at 1 rank (same dataset.h5, ckpt.h5 and
#                   caption_ckpt.h5, in DIR/check-1rank) and compare: every embedding and every
#                   results.h5 dataset byte-identical (timings aside), summary.md identical
#                   (its timing lines aside); exit 1 if not. Training itself agrees across rank
#                   counts only within float tolerance (docs/architecture.md), so it is shared.
#   --force         rerun every pipeline stage even where its output is complete (the COCO folder
#                   is still reused when it is current: synth-coco then skips and has no row)
#   --build DIR     where hpclip is [build]; it is copied to DIR/.hpclip at the start, so that a
#                   rebuild during an hour-long rehearsal cannot change the binary half-way
#   -s key=value    extra overrides for every run
# Environment: OMP_NUM_THREADS / OPENBLAS_NUM_THREADS default to 1 (one thread per rank).
#
# Outputs: DIR/scale.md (machine, command, the stage table, the run's headline metrics),
# DIR/scale.log (hpclip's log), DIR/stage_resources.tsv (hpclip's per-stage record: the table's
# source). Re-running with the same arguments reuses what is complete (hpclip's skip rule);
# the table then holds only the stages that ran — remove DIR (or pass -s run.seed=...) to
# measure again.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
PY=/usr/bin/python3
images=118287 val=5000 ranks=2 out="" config=conf/coco-scale.cfg check=0 build=build force=()
over=()
die() { echo "scale.sh: $*" >&2; exit 2; }
posint() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1: expected a positive integer, got '$2'"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --images) posint --images "${2:-}"; images=$2; shift 2 ;;
    --val-images) [[ "${2:-}" =~ ^[0-9]+$ ]] || die "--val-images: expected an integer >= 0, got '${2:-}'"; val=$2; shift 2 ;;
    --ranks) posint --ranks "${2:-}"; ranks=$2; shift 2 ;;
    --out) [ -n "${2:-}" ] || die "--out needs a directory"; out=$2; shift 2 ;;
    --config) [ -f "${2:-}" ] || die "--config: no such file '${2:-}'"; config=$2; shift 2 ;;
    --check) check=1; shift ;;
    --force) force=(--force); shift ;;
    --build) [ -n "${2:-}" ] || die "--build needs a directory"; build=$2; shift 2 ;;
    -s) [[ "${2:-}" == *=* ]] || die "-s needs key=value, got '${2:-}'"; over+=(-s "$2"); shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done
cd "$repo" || exit 2
hp=$build/hpclip
[ -x "$hp" ] || die "$hp not found: build first (cmake -S . -B $build && cmake --build $build -j)"
[ -x "$PY" ] && "$PY" -c "import h5py" 2>/dev/null || die "needs $PY with h5py (apt-get install python3-h5py)"
[ -n "$out" ] || out=runs/coco-scale-$images
mkdir -p "$out" || die "cannot create $out"
out=$(cd "$out" && pwd)
cp "$hp" "$out/.hpclip" || die "cannot copy $hp to $out"
hp=$out/.hpclip
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cores=$(env -u OMP_NUM_THREADS nproc 2>/dev/null || echo 1)
mpi() { local np=$1; shift; local o=(); [ "$np" -gt "$cores" ] && o=(--oversubscribe)
  mpirun -np "$np" "${o[@]}" "$hp" "$@"; }
load() { echo "scale.sh: load before $1: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/scale.log"; }

common=(-s synth.coco_train_images="$images" -s synth.coco_val_images="$val" -s ingest.root="$out/coco"
        "${over[@]}")
rm -f "$out/stage_resources.tsv"
: >"$out/scale.log"
{
  echo "scale.sh: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' (modified tree)'), $build/hpclip built $(date -u -r "$build/hpclip" '+%H:%M:%S UTC')"
  echo "scale.sh: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $cores cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, $ranks ranks x $OMP_NUM_THREADS thread(s)"
} | tee -a "$out/scale.log"
t0=$SECONDS
load synth-coco
mpi "$ranks" synth-coco "$config" --run-dir "$out" "${common[@]}" 2>&1 | tee -a "$out/scale.log"
rc=${PIPESTATUS[0]}; [ "$rc" = 0 ] || die "synth-coco failed (exit $rc); see $out/scale.log"
load run
mpi "$ranks" run "$config" --run-dir "$out" "${force[@]}" "${common[@]}" 2>&1 | tee -a "$out/scale.log"
rc=${PIPESTATUS[0]}; [ "$rc" = 0 ] || die "hpclip run failed (exit $rc); see $out/scale.log"
total=$((SECONDS - t0))

checked=""
if [ "$check" = 1 ]; then
  c="$out/check-1rank"
  rm -rf "$c" && mkdir -p "$c" || die "cannot create $c"
  cp "$out/dataset.h5" "$out/ckpt.h5" "$out/caption_ckpt.h5" "$c/" || die "cannot copy the shared inputs to $c"
  load "the 1-rank check"
  mpi 1 run "$config" --run-dir "$c" "${common[@]}" --stages embed,search,zeroshot,cluster,caption,report \
    >"$c/check.log" 2>&1 || die "the 1-rank check run failed; see $c/check.log"
  bad=0
  for f in embeddings.h5 results.h5; do
    if r=$("$PY" scripts/h5same.py "$out/$f" "$c/$f" 2>&1); then echo "scale.sh: check: $f: $ranks ranks = 1 rank ($r)"
    else echo "scale.sh: check: $f differs between $ranks ranks and 1 rank: $r"; bad=1; fi
  done
  notiming() { sed -e '/^<!-- timing -->$/,/^<!-- \/timing -->$/d' "$1"; }
  if cmp -s <(notiming "$out/summary.md") <(notiming "$c/summary.md"); then echo "scale.sh: check: summary.md: $ranks ranks = 1 rank"
  else echo "scale.sh: check: summary.md differs between $ranks ranks and 1 rank:"; diff <(notiming "$out/summary.md") <(notiming "$c/summary.md") | head -20; bad=1; fi
  [ "$bad" = 0 ] || { echo "scale.sh: check FAILED" | tee -a "$out/scale.log"; exit 1; }
  checked="embeddings.h5 and results.h5 byte-identical at $ranks ranks and 1 rank from the same ckpt.h5 / caption_ckpt.h5 (timings aside), summary.md identical"
  echo "scale.sh: check passed: $checked" | tee -a "$out/scale.log"
fi

cmd="scripts/scale.sh --images $images --val-images $val --ranks $ranks$([ "$check" = 1 ] && echo ' --check')${force[*]:+ --force}"
for ((i = 0; i < ${#over[@]}; i += 2)); do cmd+=" -s ${over[i+1]}"; done
"$PY" scripts/scale_table.py "$out" "$cmd" "$total" "$checked" || die "cannot write $out/scale.md"
