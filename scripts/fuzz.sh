#!/usr/bin/env bash
# scripts/fuzz.sh — build the libFuzzer harnesses (tests/fuzz/fuzz_*.c) with Debian's clang and
# ASan + UBSan in build-fuzz/, then run each for a bounded time, one job at a time, starting from
# the committed seeds (tests/fuzz/corpus/<harness>/) and the regression inputs
# (tests/fuzz/regress/<harness>/). Prints executions and findings per harness.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_HARNESS (default 120)] [HARNESS...]
# Needs clang (root: installed with apt-get when missing; not part of the normal build or CI).
# A finding leaves its input in build-fuzz/findings/<harness>/ (crash-*, leak-*, timeout-*,
# oom-*): fix the bug, then commit the input as tests/fuzz/regress/<harness>/<name> so that the
# replay test fuzz.<harness> (ctest, normal compiler) runs it from then on.
# The growing corpus stays in build-fuzz/corpus/<harness>/ (not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
hpclip_mpi_env

secs=${1:-120}
shift || true
if ! command -v clang >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends clang >/dev/null
  else
    echo "scripts/fuzz.sh: needs clang: sudo apt-get install -y clang" >&2
    exit 1
  fi
fi

B=build-fuzz
harnesses=("$@")
if [ ${#harnesses[@]} = 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do h=$(basename "$f" .c); harnesses+=("${h#fuzz_}"); done
fi
targets=()
for h in "${harnesses[@]}"; do targets+=("fuzz_$h"); done

echo "== configure $B (clang, libFuzzer, ASan + UBSan)"
mkdir -p "$B"
CC=clang cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHPCLIP_FUZZ=ON -DHPCLIP_TESTS=OFF \
  -DHPCLIP_WERROR=OFF >"$B/configure.log" 2>&1 || { cat "$B/configure.log"; exit 1; }
echo "== build ${targets[*]}"
cmake --build "$B" -j"$(hpclip_jobs)" --target "${targets[@]}" >"$B/build.log" 2>&1 \
  || { tail -40 "$B/build.log"; exit 1; }

# Leak checking off: error paths may leak by design (base/error.h: the process is about to end),
# and Open MPI keeps allocations past MPI_Finalize.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

printf '%-10s %8s %12s %10s %8s  %s\n' harness seconds executions exec/s findings "corpus (files)" >"$B/summary.txt"
total=0
for h in "${harnesses[@]}"; do
  corpus="$B/corpus/$h" findings="$B/findings/$h" log="$B/fuzz_$h.log"
  mkdir -p "$corpus" "$findings"
  seeds=(tests/fuzz/corpus/"$h")
  [ -d tests/fuzz/regress/"$h" ] && seeds+=(tests/fuzz/regress/"$h")
  dict=()
  [ -f tests/fuzz/"$h".dict ] && dict=(-dict=tests/fuzz/"$h".dict)
  echo "== fuzz_$h for ${secs}s"
  before=$(ls "$findings" | wc -l)
  # -fork=1: one worker that is restarted after a finding, so one crash does not end the run
  # and every finding of the time budget is kept; -ignore_crashes with -fork keeps going.
  set +e
  "$B/fuzz_$h" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -artifact_prefix="$findings/" "${dict[@]}" "$corpus" "${seeds[@]}" >"$log" 2>&1
  set -e
  after=$(ls "$findings" | wc -l)
  # libFuzzer's fork mode prints "#N ... exec/s: ..." status lines; the last holds the totals.
  execs=$(grep -Eo '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)
  rate=$(grep -Eo 'exec/s:? [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+' || true)
  n=$((after - before))
  total=$((total + n))
  printf '%-10s %8s %12s %10s %8s  %s\n' "$h" "$secs" "${execs:-?}" "${rate:-?}" "$n" "$(ls "$corpus" | wc -l)" | tee -a "$B/summary.txt"
  [ $n = 0 ] || ls "$findings" | sed 's/^/    finding: /'
done
echo "== summary ($B/summary.txt; logs $B/fuzz_<harness>.log)"
cat "$B/summary.txt"
echo "findings: $total"
[ $total = 0 ]
