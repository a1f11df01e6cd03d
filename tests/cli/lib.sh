# lib.sh — helpers for the shell tests of the hpclip executable (sourced).
# Environment from ctest: HPCLIP (the binary), MPIRUN (mpirun with flags), SRC_DIR.
set -u
: "${HPCLIP:?set by ctest}" "${MPIRUN:?set by ctest}" "${SRC_DIR:?set by ctest}"
PY=/usr/bin/python3
pass=0; fail=0
T=$(mktemp -d "${TMPDIR:-/tmp}/hpclip-test.XXXXXX")
trap 'rm -rf "$T"' EXIT

ok()  { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# expect_fail NAME NP CODE REGEX -- ARGS...   run hpclip ARGS on NP ranks (0 = no mpirun);
# expect exit status CODE, output matching REGEX (grep -E), and an end within 60 s.
expect_fail() {
  local name=$1 np=$2 code=$3 re=$4; shift 5
  local out="$T/out.txt" rc t0=$SECONDS
  if [ "$np" = 0 ]; then timeout 60 "$HPCLIP" "$@" >"$out" 2>&1; rc=$?
  else timeout 60 $MPIRUN -np "$np" "$HPCLIP" "$@" >"$out" 2>&1; rc=$?; fi
  local dt=$((SECONDS - t0))
  if [ $rc = 124 ]; then bad "$name (np=$np): hung (killed after 60 s)"; return; fi
  if [ $rc != "$code" ]; then bad "$name (np=$np): exit $rc, expected $code"; sed 's/^/     | /' "$out" | head -20; return; fi
  if ! grep -Eq -- "$re" "$out"; then bad "$name (np=$np): message does not match /$re/"; sed 's/^/     | /' "$out" | head -20; return; fi
  if grep -Eq "Segmentation|AddressSanitizer|runtime error:|core dumped" "$out"; then bad "$name (np=$np): crashed"; sed 's/^/     | /' "$out" | head -20; return; fi
  ok "$name (np=$np, ${dt}s): $(grep -E -m1 -- "$re" "$out" | cut -c1-150)"
}

# expect_ok NAME NP ARGS...: exit 0.
expect_ok() {
  local name=$1 np=$2; shift 2
  local out="$T/out.txt" rc
  if [ "$np" = 0 ]; then timeout 300 "$HPCLIP" "$@" >"$out" 2>&1; rc=$?
  else timeout 300 $MPIRUN -np "$np" "$HPCLIP" "$@" >"$out" 2>&1; rc=$?; fi
  if [ $rc != 0 ]; then bad "$name (np=$np): exit $rc"; sed 's/^/     | /' "$out" | head -30; return 1; fi
  ok "$name (np=$np)"
}

finish() {
  echo "$pass passed, $fail failed"
  [ $fail = 0 ]
}
