#!/usr/bin/env bash
# cli_scale.sh — scripts/scale.sh (the full-size rehearsal, docs/scale.md) at a few hundred
# images: synth-coco writes the COCO folder, the whole pipeline of conf/coco-scale.cfg runs on
# it through the real ingest (JPEG decoding), every stage gets a row (time, throughput, peak RSS
# per rank, I/O) in stage_resources.tsv and scale.md, and --check finds the 1-rank rerun
# identical; the comparison it relies on does catch a changed embedding; bad arguments fail.
# Timings here are not measurements.
. "$SRC_DIR/tests/cli/lib.sh"
cd "$SRC_DIR" || exit 1
B=$(dirname "$HPCLIP")
O="$T/scale"
if timeout 600 scripts/scale.sh --images 240 --val-images 12 --ranks 2 --check --out "$O" --build "$B" >"$T/log" 2>&1; then
  ok "scale.sh --images 240 --check"
else bad "scale.sh failed"; sed 's/^/     | /' "$T/log" | tail -20; fi
n=$(find "$O/coco/train2017" -name '*.jpg' 2>/dev/null | wc -l); m=$(find "$O/coco/val2017" -name '*.jpg' 2>/dev/null | wc -l)
[ "$n" = 240 ] && [ "$m" = 12 ] && [ -s "$O/coco/annotations/captions_train2017.json" ] && [ -s "$O/coco/annotations/instances_val2017.json" ] \
  && ok "COCO folder: 240 train2017 + 12 val2017 JPEGs and the annotations" || bad "COCO folder: $n train, $m val JPEGs"
grep -q "ingest: 240 images 64x64 (stretch), 1200 captions" "$O/scale.log" && ok "ingest decoded all 240 JPEGs (5 captions each)" \
  || bad "ingest line: $(grep -m1 'ingest: .* images' "$O/scale.log")"
$PY - "$O" >"$T/py" 2>&1 <<'PY' && ok "stage_resources.tsv: $(cat "$T/py")" || bad "stage_resources.tsv: $(cat "$T/py")"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1] + "/stage_resources.tsv"), delimiter="\t"))
want = ["synth-coco", "ingest", "train", "embed", "search", "zeroshot", "cluster", "caption-train", "caption", "report"]
assert [r["stage"] for r in rows] == want, [r["stage"] for r in rows]
for r in rows:
    per = [float(x) for x in r["peak_rss_mib_per_rank"].split(",")]
    assert len(per) == 2 and all(x > 5 for x in per) and abs(max(per) - float(r["peak_rss_mib_max"])) <= 0.5, r
    assert int(r["ranks"]) == 2 and float(r["seconds"]) > 0, r
    assert float(r["read_bytes"]) > 0 and float(r["written_bytes"]) > 0, r
    assert (r["throughput"] != "") == (r["stage"] != "report"), r
assert float(rows[0]["written_bytes"]) > 240 * 5000, "synth-coco wrote too little"
assert "images decoded" in rows[1]["throughput"] and "pairs trained" in rows[2]["throughput"]
print("10 rows in pipeline order, 2 ranks each, RSS/IO/throughput present")
PY
for st in synth-coco ingest train embed search zeroshot cluster caption-train caption report; do
  grep -q "^| $st | [0-9.]* | " "$O/scale.md" || bad "scale.md: no row for $st"
done && ok "scale.md: a row per stage"
grep -q "^Rank-count check: embeddings.h5 and results.h5 byte-identical" "$O/scale.md" && ok "--check passed and is recorded" \
  || bad "--check line missing in scale.md"
grep -q "train: input: .* of the step time" "$O/scale.log" && ok "train reports its input wait" || bad "no input-wait line"
if grep -q "^| Model | P@1" "$O/scale.log"; then bad "a table on stdout at run.log_level info"; else ok "no tables on stdout"; fi
# the comparison behind --check catches one changed value
cp "$O/embeddings.h5" "$T/e.h5"
$PY -c "import h5py,sys; f=h5py.File(sys.argv[1],'r+'); f['/images/embedding'][3,5]+=1e-3" "$T/e.h5"
if $PY scripts/h5same.py "$O/embeddings.h5" "$T/e.h5" >"$T/same" 2>&1; then bad "h5same.py missed a changed embedding"
else grep -q "/images/embedding" "$T/same" && ok "h5same.py names the changed dataset" || bad "h5same: $(cat "$T/same")"; fi
# bad arguments
for a in "--images 0" "--ranks x" "--bogus" "--config /nonexistent.cfg" "-s novalue"; do
  # shellcheck disable=SC2086
  scripts/scale.sh $a >"$T/bad" 2>&1; rc=$?
  [ $rc = 2 ] && grep -q "^scale.sh: " "$T/bad" && ok "scale.sh $a: exit 2 ($(head -1 "$T/bad"))" || bad "scale.sh $a: exit $rc: $(head -1 "$T/bad")"
done
echo "passed $pass, failed $fail"
[ $fail = 0 ]
