#!/usr/bin/env bash
# `hpclip check` from the command line on files that are not valid hpclip files: exit status 4,
# one message naming the file, the same on 1 and 3 ranks, never a hang (timeout) or a crash.
set -u
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

head -c 4096 /dev/urandom >"$T/random.h5"
: >"$T/empty.h5"
mkdir "$T/dir.h5"

expect() { # expect STATUS PATTERN -- command...
  local want=$1 pat=$2
  shift 3
  local out rc
  out=$(timeout 60 "$@" 2>&1)
  rc=$?
  [ "$rc" -eq "$want" ] || fail "$* -> exit $rc, expected $want; output: $out"
  grep -q -- "$pat" <<<"$out" || fail "$* -> output lacks '$pat': $out"
  [ "$(grep -c 'hpclip: input error' <<<"$out")" -le 1 ] || fail "$* -> message printed more than once: $out"
}

for np in 0 1 3; do
  if [ "$np" -eq 0 ]; then run=("$HPCLIP"); else read -r -a mpirun <<<"$MPIRUN"; run=("${mpirun[@]}" -np "$np" "$HPCLIP"); fi
  expect 4 "$T/missing.h5: cannot open: No such file" -- "${run[@]}" check "$T/missing.h5"
  expect 4 "$T/random.h5: not an HDF5 file" -- "${run[@]}" check "$T/random.h5"
  expect 4 "$T/empty.h5: empty file" -- "${run[@]}" check "$T/empty.h5"
  expect 4 "$T/dir.h5: is a directory" -- "${run[@]}" check "$T/dir.h5"
done
echo "cli_check_cmd: ok"
