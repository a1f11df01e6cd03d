#!/usr/bin/env bash
# scripts/test.sh — build hpclip twice and run the whole test suite in both builds:
#   build/       Release, -Wall -Wextra -Werror
#   build-asan/  Debug with AddressSanitizer + UndefinedBehaviorSanitizer
# MPI tests run at 1, 2 and 3 ranks. Installs missing Debian packages when run as root.
# Usage: scripts/test.sh [--no-asan] [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
hpclip_ensure_packages
hpclip_mpi_env

asan=1
if [ "${1:-}" = "--no-asan" ]; then asan=0; shift; fi
jobs=$(hpclip_jobs)

run_suite() { # dir, cmake args...
  local dir=$1; shift
  echo "== configure $dir"
  cmake -S . -B "$dir" -DHPCLIP_WERROR=ON "$@" >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; return 1; }
  echo "== build $dir"
  cmake --build "$dir" -j"$jobs"
  echo "== test $dir"
  (cd "$dir" && ctest --output-on-failure -j"$jobs" --timeout 900 ${CTEST_ARGS:-})
}

mkdir -p build build-asan
CTEST_ARGS="$*"
run_suite build -DCMAKE_BUILD_TYPE=Release
if [ $asan = 1 ]; then
  # Leak checking is off: Open MPI keeps allocations alive past MPI_Finalize by design.
  export ASAN_OPTIONS=detect_leaks=0
  run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DHPCLIP_SANITIZE=ON
fi
echo "scripts/test.sh: all test suites passed"
