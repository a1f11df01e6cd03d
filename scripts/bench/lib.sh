# lib.sh — what the hpclip-on-N-ranks benchmarks share (bench_caption.sh, bench_reindex.sh),
# sourced after `set -u` with BENCH set to the script's name:
#   defaults   SRC, BUILD=$SRC/build, OUT="", CFG=$SRC/conf/quickstart.cfg, IMAGES=2000,
#              RANKS="1 2", THREADS=1, REPS=1, EXTRA=() (the -s overrides)
#   bench_option ARGS...   one of the common options at $1 (--build --out --cfg --images --ranks
#              --threads --reps -s, each taking one value; -h/--help prints the script's header
#              comment and exits 0; anything else is an error, exit 2). The caller's loop
#              matches its own options first and ends with `*) bench_option "$@"; shift 2 ;;`.
#   bench_setup NAME   after the options: OUT defaults to $BUILD/NAME; HPCLIP=$BUILD/hpclip must
#              exist; OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = THREADS, OMP_WAIT_POLICY =
#              ${WAIT_POLICY:-PASSIVE}; root may run mpirun; MPIRUN (array); $OUT/logs made;
#              maxnp = the largest of RANKS.
#   run NP LOG ARGS...   hpclip ARGS on NP ranks, output to LOG; a failure ends the script.
# shellcheck shell=bash disable=SC2034  # the variables set here are the caller's
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$SRC/build
OUT=""
CFG=$SRC/conf/quickstart.cfg
IMAGES=2000
RANKS="1 2"
THREADS=1
REPS=1
EXTRA=()

bench_option() {
  case $1 in
    --build) BUILD=$2 ;;
    --out) OUT=$2 ;;
    --cfg) CFG=$2 ;;
    --images) IMAGES=$2 ;;
    --ranks) RANKS=$2 ;;
    --threads) THREADS=$2 ;;
    --reps) REPS=$2 ;;
    -s) EXTRA+=(-s "$2") ;;
    -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "$BENCH: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
}

bench_setup() {
  OUT=${OUT:-$BUILD/$1}
  HPCLIP=$BUILD/hpclip
  [ -x "$HPCLIP" ] || { echo "$BENCH: $HPCLIP not built (cmake --build $BUILD -j2)" >&2; exit 1; }
  [ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS OMP_WAIT_POLICY=${WAIT_POLICY:-PASSIVE}
  MPIRUN=(mpirun --oversubscribe --bind-to none)
  mkdir -p "$OUT/logs" || exit 1
  maxnp=$(tr ' ' '\n' <<<"$RANKS" | sort -n | tail -1)
}

run() {
  local np=$1 log=$2; shift 2
  if ! "${MPIRUN[@]}" -np "$np" "$HPCLIP" "$@" >"$log" 2>&1; then
    echo "$BENCH: hpclip $* on $np ranks failed; see $log:" >&2; tail -5 "$log" >&2; exit 1
  fi
}
