#!/usr/bin/env bash
# conf/coco.cfg, conf/roco.cfg and conf/fashion.cfg end to end (ingest -> train -> embed ->
# search -> zeroshot) on real data, on 2 ranks:
#   1. the committed slices (tests/data/samples/*: the jobs' defaults, run from the repository root as
#      a user of a fresh clone would);
#   2. the real samples in shared/data (coco-mini, roco-mini, fashion-mini) when that folder
#      exists: $HPCLIP_SHARED_DATA, else ../shared/data next to the repository (skipped with the
#      reason printed when absent).
# Checked: every output passes `hpclip check`; the ingest report lists no bad record; the
# dataset's image and caption counts equal the source's (every COCO split, ROCO captions.txt,
# Fashion styles.csv rows), and the train/val/test counts the ingest log reports equal those
# of /split; the ROCO and Fashion jobs write the eight-query table (/search/table3).
# Small overrides (fewer epochs; 64x64 images on the larger shared samples) keep each job
# well under a minute.
source "$(dirname "$0")/../cli/lib.sh"
out="$T/log.txt"
cd "$SRC_DIR" || exit 1

# source_counts FORMAT ROOT SPLIT -> "images captions" of the original distribution
source_counts() {
  $PY - "$1" "$2" "$3" <<'PYF'
import csv, json, os, sys
fmt, root, split = sys.argv[1:4]
if fmt == "coco":
    d = json.load(open(os.path.join(root, "annotations", "captions_%s.json" % split)))
    files = set(os.listdir(os.path.join(root, split)))
    assert {im["file_name"] for im in d["images"]} == files
    print(len(d["images"]), len(d["annotations"]))
elif fmt == "roco":
    lines = [l for l in open(os.path.join(root, "data", split, "captions.txt"), encoding="utf-8") if l.strip()]
    n = len(os.listdir(os.path.join(root, "data", split, "images")))
    assert n == len(lines), (n, len(lines))
    print(n, len(lines))
else:
    rows = list(csv.DictReader(open(os.path.join(root, "styles.csv"), encoding="utf-8", newline="")))
    assert len(os.listdir(os.path.join(root, "images"))) == len(rows)
    print(len(rows), len(rows))
PYF
}

# check_dataset NAME RUN FORMAT ROOT SPLIT LOG: counts of RUN/dataset.h5 vs the source and the log
check_dataset() {
  local name=$1 run=$2 fmt=$3 root=$4 split=$5 log=$6 want
  if ! want=$(source_counts "$fmt" "$root" "$split" 2>"$out"); then bad "$name: cannot count the source"; cat "$out"; return; fi
  local lines; lines=$(($(wc -l <"$run/ingest_report.tsv") - 1))
  if [ "$lines" = 0 ]; then ok "$name: ingest report: no bad record"
  else bad "$name: ingest report lists $lines bad records"; head "$run/ingest_report.tsv"; fi
  local logsplit; logsplit=$(grep -Eo 'ingest: [0-9]+ images .* split [0-9]+/[0-9]+/[0-9]+' "$log" | tail -1)
  if $PY - "$run/dataset.h5" $want "$logsplit" >"$out" 2>&1 <<'PYF'
import re, sys, h5py, numpy as np
path, nimg, ncap, logline = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
m = re.match(r"ingest: (\d+) images .* split (\d+)/(\d+)/(\d+)", logline)
assert m, "no ingest count line in the log: %r" % logline
with h5py.File(path, "r") as f:
    n = f["images"].shape[0]
    sp = f["split"][...]
    ncap_h5 = f["captions/image"].shape[0]
counts = [int((sp == k).sum()) for k in range(3)]
assert n == nimg, "dataset has %d images, the source %d" % (n, nimg)
assert ncap_h5 == ncap, "dataset has %d captions, the source %d" % (ncap_h5, ncap)
assert int(m.group(1)) == n, "log reports %s images, dataset %d" % (m.group(1), n)
assert [int(m.group(k)) for k in (2, 3, 4)] == counts, "log split %s, /split %s" % (m.groups()[1:], counts)
assert min(counts) > 0, counts
print("%d images, %d captions = source; split %d/%d/%d" % (n, ncap, *counts))
PYF
  then ok "$name: $(tail -1 "$out")"; else bad "$name: counts"; cat "$out"; fi
}

# run_job NAME CONF FORMAT ROOT SPLIT [-s overrides...]: the whole job on 2 ranks
run_job() {
  local name=$1 conf=$2 fmt=$3 root=$4 split=$5; shift 5
  local run="$T/run-$name" log="$T/$name.log" t0=$SECONDS rc
  timeout 300 $MPIRUN -np 2 "$HPCLIP" run "$conf" --run-dir "$run" "$@" >"$log" 2>&1; rc=$?
  local dt=$((SECONDS - t0))
  if [ $rc != 0 ]; then bad "$name: $conf exit $rc"; sed 's/^/     | /' "$log" | tail -30; return; fi
  ok "$name: $conf ingest -> zeroshot on 2 ranks in ${dt}s"
  [ "$dt" -le 90 ] || echo "note: $name took ${dt}s (budget about 60 s; sanitizer builds are slower)"
  for f in dataset.h5 ckpt.h5 embeddings.h5 results.h5; do
    if "$HPCLIP" check "$run/$f" >"$out" 2>&1; then ok "$name: hpclip check $f"
    else bad "$name: hpclip check $f"; cat "$out"; fi
  done
  check_dataset "$name" "$run" "$fmt" "$root" "$split" "$log"
  if [ "$fmt" != coco ]; then
    if $PY - "$run/results.h5" >"$out" 2>&1 <<'PYF'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    t = f["search/table3"][...]
    q = f["search/queries/relevant"][...]
    assert t.shape == (2, 9) and len(q) == 8, (t.shape, len(q))
    assert ((t >= 0) & (t <= 1)).all()
    print("eight-query table: relevant per query %s, P@10 %.3f" % (list(q), t[0, 2]))
PYF
    then ok "$name: $(tail -1 "$out")"; else bad "$name: eight-query table"; cat "$out"; fi
    grep -q "^| .* (relevant) |" "$run/search.md" && ok "$name: search.md has the Table 3 rows" \
      || bad "$name: search.md lacks the Table 3 rows"
  fi
}

# ingest_only NAME CONF FORMAT ROOT SPLIT [-s ...]: another COCO split through the same job
ingest_only() {
  local name=$1 conf=$2 fmt=$3 root=$4 split=$5; shift 5
  local run="$T/run-$name" log="$T/$name.log"
  if ! timeout 120 $MPIRUN -np 2 "$HPCLIP" ingest "$conf" --run-dir "$run" -s ingest.split="$split" "$@" >"$log" 2>&1
  then bad "$name: ingest exit"; tail -20 "$log"; return; fi
  "$HPCLIP" check "$run/dataset.h5" >"$out" 2>&1 && ok "$name: hpclip check dataset.h5" || { bad "$name: check"; cat "$out"; }
  check_dataset "$name" "$run" "$fmt" "$root" "$split" "$log"
}

# 1. the committed slices, with the jobs' own defaults (fewer epochs only)
FAST=(-s train.epochs=2)
run_job slice-coco conf/coco.cfg coco tests/data/samples/coco train2017 "${FAST[@]}"
ingest_only slice-coco-val conf/coco.cfg coco tests/data/samples/coco val2017
run_job slice-roco conf/roco.cfg roco tests/data/samples/roco test/radiology "${FAST[@]}"
run_job slice-fashion conf/fashion.cfg fashion tests/data/samples/fashion "" "${FAST[@]}"

# the query table is the same for any rank count (the search stage alone, on 1 and 3 ranks)
R="$T/run-slice-fashion"
if [ -f "$R/results.h5" ]; then
  for np in 1 3; do
    rm -rf "$T/q$np" && cp -r "$R" "$T/q$np"
    timeout 120 $MPIRUN -np $np "$HPCLIP" search conf/fashion.cfg --run-dir "$T/q$np" --force "${FAST[@]}" >"$out" 2>&1 \
      || { bad "fashion search on $np ranks"; tail "$out"; continue; }
    if h5diff "$R/results.h5" "$T/q$np/results.h5" /search/table3 >"$out" 2>&1 \
       && h5diff "$R/results.h5" "$T/q$np/results.h5" /search/queries >>"$out" 2>&1
    then ok "fashion: /search/table3 and /search/queries identical on 2 and $np ranks"
    else bad "fashion: query table differs between 2 and $np ranks"; head "$out"; fi
  done
fi

# bad query tables and soft targets without labels: clean config errors on every rank
R="$T/run-slice-roco"
if [ -f "$R/embeddings.h5" ]; then
  expect_fail "query/relevance count mismatch" 2 3 'search.queries has 2 items but search.query_labels 1' -- \
    search conf/roco.cfg --run-dir "$R" --force -s 'search.queries=[tumor, lung]' -s 'search.query_labels=[tumor]'
  expect_fail "empty label in a relevance" 2 3 'search.query_labels item 2 .*empty label name' -- \
    search conf/roco.cfg --run-dir "$R" --force -s 'search.queries=[tumor, lung]' -s 'search.query_labels=["tumor", "lung & "]'
  expect_fail "empty query" 2 3 'search.queries item 1 is empty' -- \
    search conf/roco.cfg --run-dir "$R" --force -s 'search.queries=[" ", lung]' -s 'search.query_labels=[tumor, lung]'
fi
mkdir -p "$T/nolab/annotations" && cp -r tests/data/samples/coco/val2017 "$T/nolab/" \
  && cp tests/data/samples/coco/annotations/captions_val2017.json "$T/nolab/annotations/"
expect_fail "soft targets without labels" 2 3 'train.soft_targets = true needs labels' -- \
  run conf/coco.cfg --run-dir "$T/run-nolab" -s ingest.root="$T/nolab" -s ingest.split=val2017 \
  -s 'run.stages=[ingest, train]' -s train.soft_targets=true

# 2. the real samples
S="${HPCLIP_SHARED_DATA:-$SRC_DIR/../shared/data}"
if [ -d "$S/coco-mini" ] && [ -d "$S/roco-mini" ] && [ -d "$S/fashion-mini" ]; then
  S=$(cd "$S" && pwd)
  BIG=(-s data.image_size=64 -s train.epochs=2)
  run_job shared-coco conf/coco.cfg coco "$S/coco-mini" train2017 -s ingest.root="$S/coco-mini" "${BIG[@]}"
  ingest_only shared-coco-val conf/coco.cfg coco "$S/coco-mini" val2017 -s ingest.root="$S/coco-mini" -s data.image_size=64
  run_job shared-roco conf/roco.cfg roco "$S/roco-mini" test/radiology -s ingest.root="$S/roco-mini" "${BIG[@]}"
  run_job shared-fashion conf/fashion.cfg fashion "$S/fashion-mini" "" -s ingest.root="$S/fashion-mini" "${BIG[@]}"
else
  echo "skip: the real samples are not here: $S/{coco-mini,roco-mini,fashion-mini} missing (set HPCLIP_SHARED_DATA to their folder)"
fi
finish
