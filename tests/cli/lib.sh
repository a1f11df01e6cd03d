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

# A model of seconds per stage for the pipeline tests (-s overrides of a ready job): a one-layer
# ViT/16 and BERT at width 32 on 32x32 images, one epoch, a small caption decoder.
TINY_MODEL=(-s data.image_size=32 -s model.image=vit -s model.image_patch=16 -s model.image_layers=1
            -s model.image_heads=2 -s model.image_width=32 -s model.text_layers=1 -s model.text_heads=2
            -s model.text_width=32 -s model.embed_dim=32 -s caption.width=32 -s caption.ffn=64 -s caption.heads=2
            -s caption.train_epochs=1 -s train.epochs=1)

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

# same_h5_data A.h5 B.h5 [GROUP [SKIP]]: every HDF5 dataset of the two files (under GROUP, "/" by
# default) bitwise equal, and the same set of them, leaving out those whose path matches the
# regular expression SKIP (attributes are left out: they hold the run's configuration); prints
# what differs, or how many arrays were compared.
same_h5_data() {
  $PY -c '
import re, sys, h5py, numpy as np
grp = sys.argv[3] if len(sys.argv) > 3 else "/"
skip = re.compile(sys.argv[4]) if len(sys.argv) > 4 else None
def walk(g, out, pre=""):
    for k, v in g.items():
        if isinstance(v, h5py.Dataset):
            if not (skip and skip.search(pre + k)): out[pre + k] = v[()]
        else: walk(v, out, pre + k + "/")
x, y = {}, {}
walk(h5py.File(sys.argv[1], "r")[grp], x); walk(h5py.File(sys.argv[2], "r")[grp], y)
if x.keys() != y.keys(): sys.exit("different datasets: %s" % sorted(set(x) ^ set(y)))
bad = [k for k in x if not np.array_equal(x[k], y[k])]
if bad: sys.exit("differ: %s" % bad)
print("%d arrays" % len(x))' "$@"
}

# doc_block FILE.md SECTION: the ```sh blocks of section "## SECTION" of a Markdown file, as a
# script; doc_repo DIR: a copy of the repository's layout (links) where such a script runs as
# written (build/, conf/, tests/, ...).
doc_block() {
  $PY - "$1" "$2" <<'PYEOF'
import sys
out, on, code = [], False, False
for l in open(sys.argv[1]).read().split("\n"):
    if l.startswith("## "):
        on = l[3:].strip() == sys.argv[2]
        continue
    if on and l.startswith("```"):
        code = l.strip() == "```sh" and not code
        continue
    if on and code: out.append(l)
print("\n".join(out))
PYEOF
}
doc_repo() {
  mkdir -p "$1"
  for d in tests scripts conf jobs; do ln -s "$SRC_DIR/$d" "$1/$d"; done
  ln -s "$BUILD_DIR" "$1/build"
}

finish() {
  echo "$pass passed, $fail failed"
  [ $fail = 0 ]
}
