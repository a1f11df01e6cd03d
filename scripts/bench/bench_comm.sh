#!/usr/bin/env bash
# bench_comm.sh — the collectives of data-parallel training measured across emulated nodes
# (scripts/netns_cluster.sh: one rank per network namespace, TCP between them, links shaped
# with tbf), then the communication model fitted to them (comm_fit.py). Needs root.
#
#   scripts/bench/bench_comm.sh [--nodes 2,4] [--rates 1gbit,5gbit,10gbit] [--rounds R]
#                               [--sizes BYTES,...] [--out DIR] [--build DIR]
#
# For every round, rate and node count (rates outermost, so one reshaping serves all sizes):
#   bucketed   --sizes bytes of float32 through hpclip's bucketed allreduce (comm/allreduce.h:
#              MPI_Iallreduce per 25 MiB bucket, libnbc's ring) [64 KiB .. 733,885,444 B = the
#              gradient of BERT-12/768 + ViT-B/16 at 128x128 + heads, 183,471,361 parameters]
#   allreduce  the same sizes through a plain MPI_Allreduce (Open MPI's own algorithm choice)
#   allgather  the contrastive loss's embedding all-gather: image and text rows of dimension 768,
#              strong scaling (global batch 32: 32/P rows per rank) and weak (32 rows per rank)
# Each measurement is the minimum over its repetitions (bench_comm.c: at least 3, each timed by
# the slowest rank); rounds repeat the whole grid. The load is printed before every process.
# Results: DIR/bench_comm.log (RESULT lines), DIR/comm_model.md and DIR/comm_model.png (comm_fit.py).
set -uo pipefail
BENCH=bench_comm.sh
SRC=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
BUILD=$SRC/build OUT="" NODES=2,4 RATES=1gbit,5gbit,10gbit ROUNDS=2
SIZES=65536,262144,1048576,4194304,16777216,67108864,268435456,733885444
PREFIX=hpbench
die() { echo "$BENCH: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --nodes) [[ "${2:-}" =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--nodes: e.g. 2,4"; NODES=$2; shift 2 ;;
    --rates) [[ "${2:-}" =~ ^[0-9a-z.,]+$ ]] || die "--rates: e.g. 1gbit,10gbit"; RATES=$2; shift 2 ;;
    --rounds) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || die "--rounds: a positive integer"; ROUNDS=$2; shift 2 ;;
    --sizes) [[ "${2:-}" =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--sizes: byte counts, comma-separated"; SIZES=$2; shift 2 ;;
    --build) BUILD=${2:-}; shift 2 ;;
    --out) OUT=${2:-}; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown argument $1 (try --help)" ;;
  esac
done
[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
OUT=${OUT:-$BUILD/bench-comm}
mkdir -p "$OUT" || die "cannot create $OUT"
[ -x "$BUILD/bench_comm" ] || die "$BUILD/bench_comm not built (cmake --build $BUILD -j2)"
NC=$SRC/scripts/netns_cluster.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
maxn=$(tr ',' '\n' <<<"$NODES" | sort -n | tail -1)
LOG=$OUT/bench_comm.log
: >"$LOG"
"$NC" down --prefix "$PREFIX" >/dev/null 2>&1
trap '"$NC" down --prefix "$PREFIX" >/dev/null 2>&1' EXIT
"$NC" up "$maxn" --prefix "$PREFIX" >>"$LOG" 2>&1 || die "cannot make $maxn emulated nodes; see $LOG"
echo "$BENCH: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$SRC" rev-parse --short HEAD), $(nproc --all) cores, nodes $NODES, rates $RATES, $ROUNDS rounds" | tee -a "$LOG"
run() { # TAG P ARGS...: one bench_comm process on the first P nodes; RESULT lines tagged
  local tag=$1 p=$2; shift 2
  echo "$BENCH: round $r rate $rate P=$p $1: load before $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$LOG"
  timeout 1800 "$NC" mpirun --prefix "$PREFIX" -np "$p" --bind-to none "$BUILD/bench_comm" "$@" 2>>"$LOG" |
    grep '^RESULT' | sed "s/^RESULT /RESULT $r $rate $tag /" | tee -a "$LOG"
  [ "${PIPESTATUS[0]}" = 0 ] || die "failed: bench_comm $* on $p nodes at $rate (see $LOG)"
}
for ((r = 1; r <= ROUNDS; r++)); do
  for rate in ${RATES//,/ }; do
    "$NC" rate "$rate" --prefix "$PREFIX" >>"$LOG" 2>&1 || die "cannot shape the links to $rate"
    for p in ${NODES//,/ }; do
      run plain "$p" bucketed ${SIZES//,/ } --min-seconds 1
      run plain "$p" allreduce ${SIZES//,/ } --min-seconds 1
      run strong "$p" allgather $((32 / p)) 768 --min-seconds 0.5
      run weak "$p" allgather 32 768 --min-seconds 0.5
    done
  done
done
"$PY" "$SRC/scripts/bench/comm_fit.py" "$LOG" --out "$OUT" || die "comm_fit.py failed"
echo "$BENCH: wrote $OUT/comm_model.md and $OUT/comm_model.png"
