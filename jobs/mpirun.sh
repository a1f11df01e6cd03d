#!/usr/bin/env bash
# jobs/mpirun.sh — launch one hpclip command on N MPI ranks with sensible placement.
#
#   jobs/mpirun.sh [launcher options] [--] COMMAND JOB.cfg [--run-dir DIR] [--force] [-s key=value]...
#
# COMMAND is any hpclip stage (synth, ingest, train, embed, search, zeroshot, cluster, report) or
# `run` (every stage of run.stages, in order); everything from COMMAND on is passed to hpclip
# unchanged. Launcher options (defaults in brackets):
#   --np N            MPI ranks in all [all cores of this node / --threads]
#   --ppn N           ranks per node (multi-node; mpirun then maps ppr:N:node) [not set: fill slots]
#   --threads T       OpenBLAS / OpenMP threads per rank (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS) [1]
#   --bind-to WHAT    core, socket, none... [core; none with --oversubscribe]
#   --map-by SPEC     Open MPI mapping [slot:PE=T, or ppr:PPN:node:PE=T with --ppn]
#   --hostfile FILE   hosts to run on (not needed inside a SLURM allocation: mpirun reads it)
#   --run-dir DIR     shorthand for hpclip's --run-dir (may also come after JOB.cfg)
#   --hpclip PATH     the hpclip binary [build/hpclip next to this script's repository]
#   --oversubscribe   allow more ranks than cores (a laptop, a test); binding is then off
#   --mpirun PATH     the launcher [mpirun]
#   --dry-run         print the command instead of running it
#   --abort-grace S   once a rank has ended the job (watchdog, error), end mpirun if it still runs
#                     S seconds later: a node whose processes are frozen never lets it finish
#                     [60; 0 = off, mpirun is exec'd as it is]
# Environment passed on: HPCLIP_MPIRUN_EXTRA (extra mpirun arguments, word-split).
#
# Examples (from the repository root):
#   jobs/mpirun.sh --np 2 run conf/quickstart.cfg --run-dir runs/demo
#   jobs/mpirun.sh --np 8 --ppn 4 --threads 2 --hostfile hosts.txt train conf/paper/coco-bert4-256-resnet50.cfg \
#       -s ingest.root=/data/coco --run-dir /scratch/$USER/hpclip/coco-bert4-256
# The exit status is hpclip's (0 ok, 2 usage, 3 config, 4 bad input, 5 I/O, 6 memory, 7 MPI; docs/errors.md).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
np="" ppn="" threads=1 bind="" mapby="" hostfile="" rundir="" hpclip="$repo/build/hpclip"
over=0 dry=0 launcher=mpirun grace=60

die() { echo "jobs/mpirun.sh: $*" >&2; exit 2; }
need() { [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value"; }
posint() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1: expected a positive integer, got '$2'"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --np) need "$@"; posint --np "$2"; np=$2; shift 2 ;;
    --ppn) need "$@"; posint --ppn "$2"; ppn=$2; shift 2 ;;
    --threads) need "$@"; posint --threads "$2"; threads=$2; shift 2 ;;
    --bind-to) need "$@"; bind=$2; shift 2 ;;
    --map-by) need "$@"; mapby=$2; shift 2 ;;
    --hostfile) need "$@"; [ -r "$2" ] || die "--hostfile: cannot read '$2'"; hostfile=$2; shift 2 ;;
    --run-dir) need "$@"; rundir=$2; shift 2 ;;
    --hpclip) need "$@"; hpclip=$2; shift 2 ;;
    --mpirun) need "$@"; launcher=$2; shift 2 ;;
    --oversubscribe) over=1; shift ;;
    --dry-run) dry=1; shift ;;
    --abort-grace) need "$@"; [[ "$2" =~ ^[0-9]+$ ]] || die "--abort-grace: seconds, a whole number >= 0 (got '$2')"; grace=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    --) shift; break ;;
    -*) die "unknown option '$1' (try --help)" ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || die "no hpclip command given (try --help)"
[ -x "$hpclip" ] || die "hpclip binary not found at '$hpclip' (build it: cmake -S . -B build && cmake --build build, or pass --hpclip)"
command -v "$launcher" >/dev/null || die "'$launcher' not found (Debian: apt-get install openmpi-bin)"

if [ -z "$np" ]; then
  if [ -n "${SLURM_NTASKS:-}" ]; then np=$SLURM_NTASKS
  else cores=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc 2>/dev/null || echo 1); np=$(( cores / threads )); [ "$np" -ge 1 ] || np=1; fi
fi
if [ -z "$mapby" ]; then
  if [ -n "$ppn" ]; then mapby="ppr:$ppn:node:PE=$threads"; else mapby="slot:PE=$threads"; fi
fi
if [ -z "$bind" ]; then
  if [ $over = 1 ]; then bind=none; else bind=core; fi
fi

cmd=("$launcher" -np "$np" --map-by "$mapby" --bind-to "$bind"
     -x "OPENBLAS_NUM_THREADS=$threads" -x "OMP_NUM_THREADS=$threads")
# Open MPI refuses to run as root unless told (containers, CI).
[ "$(id -u)" = 0 ] && cmd+=(--allow-run-as-root)
[ $over = 1 ] && cmd+=(--oversubscribe)
[ -n "$hostfile" ] && cmd+=(--hostfile "$hostfile")
# shellcheck disable=SC2206
[ -n "${HPCLIP_MPIRUN_EXTRA:-}" ] && cmd+=(${HPCLIP_MPIRUN_EXTRA})
cmd+=("$hpclip" "$@")
[ -n "$rundir" ] && cmd+=(--run-dir "$rundir")

if [ $dry = 1 ]; then printf '%q ' "${cmd[@]}"; echo; exit 0; fi
echo "jobs/mpirun.sh: $np ranks x $threads threads, map-by $mapby, bind-to $bind" >&2
export OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads
[ "$grace" = 0 ] && exec "${cmd[@]}"

# A rank that ends the job (its watchdog, an error) leaves it to mpirun to stop the others, and
# mpirun waits until every node's daemon confirms. A node whose processes are frozen (SIGSTOP, a
# hung kernel) never confirms, and mpirun would wait until the allocation ends. So hpclip's
# stderr is watched for the line of a rank ending the job; if mpirun still runs --abort-grace
# seconds later, it is killed and this script exits with the rank's code.
state=$(mktemp -d "${TMPDIR:-/tmp}/hpclip-mpirun.XXXXXX") || die "cannot create a temporary directory"
trap 'rm -rf "$state"' EXIT
# signals to this script go on to mpirun, which forwards them to the ranks (SIGUSR1: checkpoint)
for sig in TERM INT USR1 USR2 HUP; do trap "kill -$sig \"\$pid\" 2>/dev/null" "$sig"; done
"${cmd[@]}" 2> >(
  while IFS= read -r line; do
    printf '%s\n' "$line" >&2
    case $line in
      "hpclip: "*" [rank "*"]: "*) [ -e "$state/fatal" ] || printf '%s\n' "$line" >"$state/fatal" ;;
    esac
  done) &
pid=$!
since=""
while kill -0 "$pid" 2>/dev/null; do
  if [ -e "$state/fatal" ]; then
    [ -n "$since" ] || since=$SECONDS
    if [ $((SECONDS - since)) -ge "$grace" ]; then
      line=$(cat "$state/fatal")
      echo "jobs/mpirun.sh: a rank ended the job $grace s ago and mpirun has not stopped the other ranks:" \
           "some node's processes do not respond (frozen or cut off); ending mpirun" >&2
      echo "jobs/mpirun.sh: the rank's message: $line" >&2
      # KILL, not TERM: mpirun 4.1 crashes on a TERM during its own abort; its daemons on the
      # responding nodes see it gone and end their ranks
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      # the rank's exit code, from its error name (docs/errors.md)
      case $line in
        *"watchdog ["*) exit 13 ;; *"usage error ["*) exit 2 ;; *"config error ["*) exit 3 ;;
        *"input error ["*) exit 4 ;; *"I/O error ["*) exit 5 ;; *"memory error ["*) exit 6 ;;
        *"MPI error ["*) exit 7 ;; *"numerical error ["*) exit 8 ;; *"internal error ["*) exit 10 ;;
        *"preempted ["*) exit 12 ;; *) exit 1 ;;
      esac
    fi
  fi
  sleep 1
done
wait "$pid"
