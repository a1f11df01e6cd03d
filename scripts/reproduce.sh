#!/usr/bin/env bash
# reproduce.sh — run the study's grid (conf/paper/, 13 jobs) or any part of it, then assemble the
# study's Tables 1-3 (same rows and columns) from the runs' results.h5 files into RUNS/tables.md.
#
#   scripts/reproduce.sh [--reduced] [--only NAME,...] [--runs DIR] [--np N] [--threads T]
#                        [--tables-only] [--dry-run] [--keep-state] [-s key=value]...
#
#   --reduced       the reduced grid: every job on the small real slices (COCO: tests/data/samples/coco;
#                   ROCO, Fashion: ../shared/data/{roco,fashion}-mini when present, else
#                   tests/data/samples/), 64x64 images, at most 2 epochs and 24 steps; the study's models
#                   unchanged (docs/reproduce.md). Default runs dir: runs/paper-reduced
#   --only A,B      only these jobs (names of conf/paper/*.cfg without .cfg); default all 13
#   --runs DIR      where the run directories go (DIR/NAME, one per job) [runs/paper]
#   --np N          MPI ranks per job [2]; more than the cores runs oversubscribed
#   --threads T     BLAS threads per rank [1]
#   --tables-only   do not run anything: assemble DIR/tables.md from the run directories as they are
#   --dry-run       print the commands, run nothing
#   --keep-state    keep each finished job's training restart state (RUNS/NAME/train-state.h5: the
#                   parameters and both AdamW moments, 2.1 GB for BERT-12/768 + ViT-B/16). By default
#                   it is removed once the job has ended with exit 0: it only serves to resume an
#                   interrupted training (a changed train.* setting, more epochs included, changes
#                   the fingerprint and starts afresh, state or not)
#   -s key=value    extra hpclip overrides for every job (after the --reduced ones, so they win),
#                   e.g. -s ingest.root=/data/coco when running COCO jobs only
#
# A job whose outputs are complete is skipped by hpclip itself (rerun with -s ... or delete the run
# directory). Each job's log is DIR/NAME.log; DIR/runs.tsv records exit status and wall seconds.
# Missing or failed runs show "—" in the tables. Exit status: 0 when every job ran, 1 otherwise.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
PY=/usr/bin/python3
reduced=0 only="" runs="" np=2 threads=1 tables_only=0 dry=0 keep_state=0
user_over=()

die() { echo "reproduce.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --reduced) reduced=1; shift ;;
    --only) [ $# -ge 2 ] && [ -n "$2" ] || die "--only needs a list of job names"; only=$2; shift 2 ;;
    --runs) [ $# -ge 2 ] && [ -n "$2" ] || die "--runs needs a directory"; runs=$2; shift 2 ;;
    --np) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || die "--np: expected a positive integer, got '${2:-}'"; np=$2; shift 2 ;;
    --threads) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || die "--threads: expected a positive integer, got '${2:-}'"; threads=$2; shift 2 ;;
    --tables-only) tables_only=1; shift ;;
    --dry-run) dry=1; shift ;;
    --keep-state) keep_state=1; shift ;;
    -s) [ $# -ge 2 ] && [[ "$2" == *=* ]] || die "-s needs key=value"; user_over+=(-s "$2"); shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done
cd "$repo" || exit 2
[ -n "$runs" ] || { [ $reduced = 1 ] && runs=runs/paper-reduced || runs=runs/paper; }

all=()
while read -r f; do all+=("$(basename "$f" .cfg)"); done < <(ls conf/paper/*.cfg | sort -V)
[ ${#all[@]} -gt 0 ] || die "no job files in conf/paper/"
jobs=()
if [ -n "$only" ]; then
  IFS=, read -r -a want <<<"$only"
  for w in "${want[@]}"; do
    [ -f "conf/paper/$w.cfg" ] || die "--only: no job '$w' (conf/paper/$w.cfg); the jobs are: ${all[*]}"
    jobs+=("$w")
  done
else
  jobs=("${all[@]}")
fi

# The reduced grid's overrides for one job (by its dataset, the name's first word).
first_dir() { for d in "$@"; do [ -d "$d" ] && { echo "$d"; return; }; done; }
reduced_over() {
  local name=$1 root
  echo -s data.image_size=64 -s train.epochs=2 -s train.patience=1 -s train.max_steps=24
  case "$name" in
    coco-*) echo -s ingest.root=tests/data/samples/coco -s ingest.split=train2017 \
                 -s cluster.split=all -s cluster.k=10 ;;
    roco-*) root=$(first_dir ../shared/data/roco-mini tests/data/samples/roco)
            echo -s ingest.root="$root" -s ingest.split=test/radiology ;;
    fashion-*) root=$(first_dir ../shared/data/fashion-mini tests/data/samples/fashion)
               echo -s ingest.root="$root" ;;
  esac
}

mkdir -p "$runs" || die "cannot create $runs"
cores=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc 2>/dev/null || echo 1)
over=()
[ $((np * threads)) -gt "$cores" ] && over=(--oversubscribe)
failed=0
if [ $tables_only = 0 ]; then
  [ -x build/hpclip ] || die "build/hpclip not found: build first (cmake -S . -B build && cmake --build build)"
  [ -f "$runs/runs.tsv" ] || printf 'job\tranks\tthreads\treduced\texit\twall_s\tfinished_utc\n' >"$runs/runs.tsv"
  for name in "${jobs[@]}"; do
    extra=()
    # shellcheck disable=SC2207
    [ $reduced = 1 ] && extra=($(reduced_over "$name"))
    cmd=(jobs/mpirun.sh --np "$np" --threads "$threads" "${over[@]}" run "conf/paper/$name.cfg"
         --run-dir "$runs/$name" "${extra[@]}" "${user_over[@]}")
    if [ $dry = 1 ]; then printf '%q ' "${cmd[@]}"; echo; continue; fi
    echo "reproduce.sh: $name ($np ranks x $threads threads) -> $runs/$name (log $runs/$name.log)"
    t0=$(date +%s.%N)
    "${cmd[@]}" >"$runs/$name.log" 2>&1
    rc=$?
    dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    printf '%s\t%s\t%s\t%s\t%s\t%.1f\t%s\n' "$name" "$np" "$threads" "$reduced" "$rc" "$dt" "$(date -u +%FT%TZ)" >>"$runs/runs.tsv"
    if [ $rc = 0 ]; then
      echo "reproduce.sh: $name done in ${dt%.*} s"
      [ $keep_state = 1 ] || rm -f "$runs/$name/train-state.h5"
    else echo "reproduce.sh: $name FAILED (exit $rc) after ${dt%.*} s; last lines of $runs/$name.log:"; tail -5 "$runs/$name.log"; failed=1; fi
  done
  [ $dry = 1 ] && exit 0
fi
note=""
[ $reduced = 1 ] && note="--reduced"
"$PY" "$here/paper_tables.py" "$runs" $note || die "assembling the tables failed"
echo "reproduce.sh: tables in $runs/tables.md"
exit $failed
