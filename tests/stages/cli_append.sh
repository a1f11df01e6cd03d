#!/usr/bin/env bash
# cli_append.sh — the incremental re-index (issue 22, item 3): ingest.append adds images under new
# ids, embed computes only the new rows, and the result equals ingesting everything at once.
#   - a folder tree made from the committed COCO slice (part1, part2: train2017; part3: val2017),
#     captions as sidecars; base = part1, then part2 and part3 appended, against all three at once
#     (data.split_rule = "per_image"), at 1 and 3 ranks: the same images, splits, source ids and
#     captions; embeddings bitwise equal; search and query results (exact and forest) equal; the
#     same at 1 and 3 ranks; embed logs that it kept the rows of whole batches and computed the
#     rest; with search.shard_rows the forest saved before the append gives its unchanged shards'
#     trees to the grown one, whose index.h5 equals the one built at once, bitwise;
#   - a preemption (SIGKILL) with the appended file written but not renamed leaves the previous
#     dataset.h5 bitwise as it was, valid; the rerun completes;
#   - the runner: the same append again is skipped; the base configuration sees its data (ingest
#     and train skipped, embed reruns on the new rows); another checkpoint embeds every row;
#   - labels: new label names become new columns after the old ones;
#   - refusals: no dataset to append to; another image size.
. "$SRC_DIR/tests/cli/lib.sh"
C="$SRC_DIR/tests/data/samples/coco"
CFG="$SRC_DIR/conf/quickstart.cfg"
$PY - "$C" "$T/tree" "$T/lab" <<'PYEOF' || { bad "cannot build the folder trees"; finish; exit; }
import json, os, shutil, sys
coco, tree, lab = sys.argv[1:4]
def caps(split):
    a = json.load(open(os.path.join(coco, "annotations", "captions_%s.json" % split)))
    by = {}
    for c in a["annotations"]: by.setdefault(c["image_id"], []).append(c["caption"].strip())
    return sorted((im["file_name"], by.get(im["id"], [])) for im in a["images"])
def put(folder, items):
    os.makedirs(folder, exist_ok=True)
    for name, cs, split in items:
        shutil.copy(os.path.join(coco, split, name), os.path.join(folder, name))
        open(os.path.join(folder, name[:-4] + ".txt"), "w").write("\n".join(cs) + "\n")
tr = [(n, c, "train2017") for n, c in caps("train2017") if c]
va = [(n, c, "val2017") for n, c in caps("val2017") if c]
put(os.path.join(tree, "part1"), tr[:60]); put(os.path.join(tree, "part2"), tr[60:]); put(os.path.join(tree, "part3"), va)
put(os.path.join(lab, "part1", "cats"), tr[:10]); put(os.path.join(lab, "part1", "dogs"), tr[10:20])
put(os.path.join(lab, "part2", "dogs"), tr[20:25]); put(os.path.join(lab, "part2", "birds"), tr[25:32])
PYEOF
JOB=("${TINY_MODEL[@]}" -s run.watchdog=300 -s data.split_rule=per_image -s ingest.format=folder -s ingest.root="$T/tree"
     -s embed.batch=16 -s train.batch=16 -s search.shards=4 -s search.save_index=false)
# one model for every run directory below (embeddings depend on the checkpoint only)
M="$T/model"
expect_ok "the model: ingest part1, train" 2 run "$CFG" --run-dir "$M" --stages ingest,train "${JOB[@]}" -s ingest.split=part1 \
  || { finish; exit; }
USE=(-s run.checkpoint="$M/ckpt.h5")
# fixed-size shards: an append keeps the shards of the old rows, the forest takes their trees
FOREST=(-s search.index=forest -s search.split=all -s search.shard_rows=32 -s search.save_index=true)


# an append keeps the vocabulary the model was trained with; a dataset made at once counts its own
same_but_vocab() { same_h5_data "$1" "$2" / '^vocab/'; }
# the /search groups of two results.h5 files, measurements (timing) left out
results_search() { same_h5_data "$1" "$2" search 'time|second'; }

for np in 1 3; do
  A="$T/append$np" B="$T/once$np"
  expect_ok "base: ingest part1, embed" $np run "$CFG" --run-dir "$A" --stages ingest,embed "${JOB[@]}" "${USE[@]}" \
    -s ingest.split=part1 || continue
  expect_ok "append part2, embed" $np run "$CFG" --run-dir "$A" --stages ingest,embed "${JOB[@]}" "${USE[@]}" \
    -s ingest.split=part2 -s ingest.append=true || continue
  grep -q "embed: keeping the embeddings of images \[0, 48) and captions \[0, [0-9]*) from" "$T/out.txt" \
    && ok "np=$np: embed keeps the 3 whole batches of the 60 old images, computes the rest" \
    || bad "np=$np: embed did not keep rows: $(grep 'embed:' "$T/out.txt" | head -3)"
  expect_ok "forest search, index saved (98 images, 4 shards of 32 rows)" $np search "$CFG" --run-dir "$A" "${JOB[@]}" "${USE[@]}" \
    "${FOREST[@]}"
  cp "$A/dataset.h5" "$T/before.h5"
  if [ $np = 3 ]; then # preempted with the new file written whole, not yet in place
    HPCLIP_TEST_KILL_BEFORE_COMMIT=2 timeout 120 $MPIRUN -np 3 "$HPCLIP" ingest "$CFG" --run-dir "$A" "${JOB[@]}" \
      -s ingest.split=part3 -s ingest.append=true >"$T/kill.txt" 2>&1
    rc=$?
    [ $rc != 0 ] && [ $rc != 124 ] && ok "np=3: the append killed before its rename fails (exit $rc)" \
      || bad "np=3: killed append: exit $rc"
    cmp -s "$T/before.h5" "$A/dataset.h5" && "$HPCLIP" check "$A/dataset.h5" >/dev/null 2>&1 \
      && ok "np=3: the previous dataset.h5 is untouched and valid" || bad "np=3: dataset.h5 changed by the killed append"
  fi
  expect_ok "append part3, embed, search" $np run "$CFG" --run-dir "$A" --stages ingest,embed,search "${JOB[@]}" "${USE[@]}" \
    -s ingest.split=part3 -s ingest.append=true || continue
  grep -q "embed: keeping the embeddings of images \[0, 96)" "$T/out.txt" \
    && ok "np=$np: the second append keeps the 96 images of whole batches" || bad "np=$np: second embed: $(grep 'embed:' "$T/out.txt" | head -3)"
  expect_ok "all at once: ingest, embed, search" $np run "$CFG" --run-dir "$B" --stages ingest,embed,search "${JOB[@]}" "${USE[@]}" \
    || continue
  e=$(same_but_vocab "$A/dataset.h5" "$B/dataset.h5" 2>&1) && ok "np=$np: appended dataset = at once (images, splits, ids, captions)" \
    || bad "np=$np: dataset: $e"
  e=$(same_h5_data "$A/embeddings.h5" "$B/embeddings.h5" 2>&1) && ok "np=$np: embeddings bitwise equal" || bad "np=$np: embeddings: $e"
  e=$(results_search "$A/results.h5" "$B/results.h5" 2>&1) && ok "np=$np: exact search results equal ($e)" || bad "np=$np: search: $e"
  for d in "$A" "$B"; do
    timeout 120 "$HPCLIP" query "$d" --text "a man riding a horse" --text "a plate of food" -k 10 --split all --format tsv \
      >"$d.query.tsv" 2>"$d.query.err" || bad "np=$np: query $d: $(tail -2 "$d.query.err")"
  done
  [ -s "$A.query.tsv" ] && cmp -s "$A.query.tsv" "$B.query.tsv" \
    && ok "np=$np: query: the same top 10 of all 194 images for two texts ($(wc -l <"$A.query.tsv") lines)" \
    || bad "np=$np: query results differ: $(diff "$A.query.tsv" "$B.query.tsv" | head -4)"
  for d in "$A" "$B"; do
    expect_ok "forest search" $np search "$CFG" --run-dir "$d" "${JOB[@]}" "${USE[@]}" "${FOREST[@]}"
    [ "$d" = "$A" ] && { grep -q "search: forest: 3 of 7 shards taken from .*index.h5 (the same rows), the others built" \
      "$T/out.txt" && ok "np=$np: the grown forest takes the trees of the 3 unchanged shards from index.h5, builds 4" \
      || bad "np=$np: forest reuse: $(grep 'search: forest' "$T/out.txt")"; }
  done
  e=$(same_h5_data "$A/index.h5" "$B/index.h5" 2>&1) && ok "np=$np: the grown forest's index.h5 = the one built at once (bitwise)" \
    || bad "np=$np: index.h5: $e"
  e=$(results_search "$A/results.h5" "$B/results.h5" 2>&1) && ok "np=$np: forest search results equal ($e)" || bad "np=$np: forest: $e"
  if [ $np = 1 ]; then # a damaged index.h5 is not reused: everything is built, the same results
    head -c 3000 "$A/index.h5" >"$T/cut.h5" && mv "$T/cut.h5" "$A/index.h5"
    expect_ok "forest search over a damaged index.h5" 1 search "$CFG" --run-dir "$A" --force "${JOB[@]}" "${USE[@]}" "${FOREST[@]}"
    grep -q "search: .*index.h5 cannot be reused (.*): building every shard" "$T/out.txt" \
      && e=$(same_h5_data "$A/index.h5" "$B/index.h5" 2>&1) && ok "a damaged index.h5: warned, rebuilt, the same index" \
      || bad "damaged index.h5: $(grep -i 'index.h5' "$T/out.txt" | head -3) $e"
  fi
done
if [ -f "$T/append1/embeddings.h5" ] && [ -f "$T/append3/embeddings.h5" ]; then
  e=$(same_h5_data "$T/append1/embeddings.h5" "$T/append3/embeddings.h5" 2>&1) && ok "appended embeddings equal at 1 and 3 ranks" \
    || bad "1 vs 3 ranks: $e"
fi
h=$($PY -c '
import sys, h5py
f = h5py.File(sys.argv[1], "r"); a = f.attrs
s = lambda v: v.decode() if isinstance(v, bytes) else v
print(len(f["split"]), len(s(a["history"]).splitlines()), len(s(a["appends"]).splitlines()), s(a["split"]))' "$T/append1/dataset.h5" 2>&1)
[[ "$h" =~ ^194\ 2\ 2\ .*rows\ 60\.\.97\ appended:.*rows\ 98\.\.193\ appended: ]] \
  && ok "lineage: 194 images, two earlier versions, two appends; split attribute: ${h#* * * }" || bad "lineage attributes: $h"

# ---- the runner ---------------------------------------------------------------------------------
A="$T/append1"
expect_ok "the same append again" 1 ingest "$CFG" --run-dir "$A" "${JOB[@]}" -s ingest.split=part3 -s ingest.append=true
grep -q "holds the data of this configuration, grown by appends since" "$T/out.txt" && grep -q "skipping" "$T/out.txt" \
  && ok "the same append again is skipped" || bad "second identical append: $(grep -m2 'stage ingest' "$T/out.txt")"
expect_ok "embed in the model's directory" 2 embed "$CFG" --run-dir "$M" "${JOB[@]}" -s ingest.split=part1
expect_ok "append part2 there" 2 ingest "$CFG" --run-dir "$M" "${JOB[@]}" -s ingest.split=part2 -s ingest.append=true
expect_ok "the base configuration after the append" 2 run "$CFG" --run-dir "$M" --stages ingest,train,embed "${JOB[@]}" \
  -s ingest.split=part1
if grep -q "stage ingest: .* up to date" "$T/out.txt" && grep -q "stage train: .* up to date" "$T/out.txt" \
   && grep -q "embed: keeping the embeddings of images \[0, 48)" "$T/out.txt"; then
  ok "base configuration after an append: ingest and train current, embed computes the new rows only"
else bad "base configuration after an append: $(grep -E 'stage (ingest|train|embed)|keeping' "$T/out.txt" | head -5)"; fi

expect_ok "another checkpoint (train.epochs = 2)" 2 train "$CFG" --run-dir "$M" "${JOB[@]}" -s ingest.split=part1 -s train.epochs=2
expect_ok "append part3 after it" 2 run "$CFG" --run-dir "$M" --stages ingest,embed "${JOB[@]}" -s train.epochs=2 \
  -s ingest.split=part3 -s ingest.append=true
grep -q "embed: the previous .*embeddings.h5 is of another checkpoint .*: embedding every row" "$T/out.txt" \
  && ! grep -q "keeping the embeddings" "$T/out.txt" && ok "a changed checkpoint embeds every row again" \
  || bad "changed checkpoint: $(grep 'embed:' "$T/out.txt" | head -3)"

# ---- labels -------------------------------------------------------------------------------------
L="$T/labels"
LJ=("${JOB[@]}" -s ingest.root="$T/lab" -s ingest.folder_labels=true)
expect_ok "labelled base" 2 ingest "$CFG" --run-dir "$L" "${LJ[@]}" -s ingest.split=part1 \
  && expect_ok "labelled append" 2 ingest "$CFG" --run-dir "$L" "${LJ[@]}" -s ingest.split=part2 -s ingest.append=true \
  && { out=$($PY -c '
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
def strings(g):
    b, o = g["bytes"][()].tobytes(), g["offsets"][()]
    return [b[o[i]:o[i + 1]].decode() for i in range(len(o) - 1)]
names, m, src = strings(f["labels/names"]), f["labels/matrix"][()], strings(f["source_id"])
assert names == ["cats", "dogs", "birds"], names
src = [s.split(":", 1)[1] for s in src]
want = [names.index(s.split("/")[1]) for s in src]
assert (m.sum(1) == 1).all() and list(m.argmax(1)) == want, (m, want)
assert [s.split("/")[0] for s in src] == ["part1"] * 20 + ["part2"] * 12
print("labels %s; each of the 32 images in its folder'"'"'s column" % names)' "$L/dataset.h5" 2>&1) && ok "$out" || bad "labels: $out"; }

# ---- docs/query.md "Try it: adding data", run as written from a copy of the repository's layout
W="$T/repo"
doc_repo "$W"
doc_block "$SRC_DIR/docs/query.md" "Try it: adding data" >"$T/blocks.sh"
if [ "$(grep -c hpclip "$T/blocks.sh")" -ge 3 ] && (cd "$W" && timeout 600 bash -e "$T/blocks.sh") >"$T/doc.txt" 2>&1; then
  grep -q "ingest: appended rows 98..193" "$T/doc.txt" && grep -q "stage train: .* up to date" "$T/doc.txt" \
    && grep -q "embed: keeping the embeddings of images \[0, 96)" "$T/doc.txt" && grep -q "a dog lying on a couch" "$T/doc.txt" \
    && ok "docs/query.md 'Try it: adding data': its commands run as written and log what it says" \
    || bad "docs/query.md adding data: $(grep -E 'appended rows|stage train|keeping' "$T/doc.txt" | head -4)"
else bad "docs/query.md 'Try it: adding data': exit $?"; grep -v "^\[" "$T/doc.txt" | tail -10 | sed 's/^/     | /'; fi

# ---- refusals -----------------------------------------------------------------------------------
expect_fail "append without a dataset" 2 4 "ingest.append = true: .*nothing/dataset.h5 does not exist .*ingest the first data without ingest.append" \
  -- ingest "$CFG" --run-dir "$T/nothing" "${JOB[@]}" -s ingest.split=part2 -s ingest.append=true
expect_fail "append of another image size" 2 3 "ingest.append: its images are 32x32, data.image_size is 48: appended images must have the dataset's size" \
  -- ingest "$CFG" --run-dir "$L" "${LJ[@]}" -s ingest.split=part2 -s ingest.append=true -s data.image_size=48
finish
