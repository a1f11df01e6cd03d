#!/usr/bin/env bash
# cli_splits.sh — the datasets' own splits (issue 20): ingest.splits for COCO (train2017 -> train,
# val2017 -> test, on the committed slice) and webdataset shards, the Karpathy split file
# (ingest.karpathy, one made for the slice), the split column of a CSV table
# (ingest.csv_split_key); the same dataset at 1 and 3 ranks; validation drawn from the training
# images when no source is named for it; the method written in dataset.h5 (attribute "split");
# configuration mistakes refused before anything is read.
. "$SRC_DIR/tests/cli/lib.sh"
C="$SRC_DIR/tests/data/samples/coco"
job() { # name format root [extra ingest lines]
  cat >"$T/$1.cfg" <<CFG
run = { dir = "$T/run-$1"; stages = ["ingest"]; seed = 7; };
data = { image_size = 32; vocab_size = 500; };
ingest = { format = "$2"; root = "$3"; ${4:-} };
CFG
}
# at_1_and_3 NAME WHAT: the ingest job NAME at 1 and 3 ranks, ok when both give the same
# dataset; the 1-rank dataset stays as $T/NAME-np1.h5 (status 1 when a run failed)
at_1_and_3() {
  local name=$1 what=$2 np e
  for np in 1 3; do
    rm -rf "$T/run-$name"
    expect_ok "$what" "$np" ingest "$T/$name.cfg" && cp "$T/run-$name/dataset.h5" "$T/$name-np$np.h5"
  done
  [ -f "$T/$name-np1.h5" ] && [ -f "$T/$name-np3.h5" ] || return 1
  e=$(same_h5_data "$T/$name-np1.h5" "$T/$name-np3.h5" 2>&1) && ok "$what: the same dataset at 1 and 3 ranks" \
    || bad "$what at 1 vs 3 ranks: $e"
}
# splits_by_source FILE: "train:N val:N test:N" and, per split, the sources of its source ids
splits_by_source() {
  $PY -c '
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
s = f["split"][()]
b, o = f["source_id/bytes"][()].tobytes(), f["source_id/offsets"][()]
src = [b[o[i]:o[i + 1]].decode().split(":")[1] for i in range(len(o) - 1)]
out = []
for k, name in enumerate(("train", "val", "test")):
    out.append("%s:%d[%s]" % (name, int((s == k).sum()), ",".join(sorted({x for x, t in zip(src, s) if t == k}))))
a = f.attrs.get("split", b"")
print(" ".join(out), "|", a.decode() if isinstance(a, bytes) else a)' "$1"
}

# ---- COCO: train2017 -> train (validation drawn from it), val2017 -> test ---------------------
job coco coco "$C" 'splits = { train = ["train2017"]; test = ["val2017"]; };'
if at_1_and_3 coco "coco splits"; then
  got=$(splits_by_source "$T/coco-np1.h5")
  if [[ "$got" =~ ^train:([0-9]+)\[train2017\]\ val:([0-9]+)\[train2017\]\ test:96\[val2017\]\ \|\ given\ by\ ingest.splits:\ train\ =\ train2017\;\ test\ =\ val2017\;\ validation\ drawn ]] \
     && [ $((BASH_REMATCH[1] + BASH_REMATCH[2])) = 98 ] && [ "${BASH_REMATCH[2]}" -gt 5 ]; then
    ok "coco: the 96 val2017 images are the test split, train2017 gives train + validation; attribute: ${got#*| }"
  else bad "coco splits: $got"; fi
fi
job coco2 coco "$C" 'splits = { train = ["train2017"]; val = ["val2017"]; };'
if expect_ok "coco: val2017 as the validation split, no test" 2 ingest "$T/coco2.cfg"; then
  got=$(splits_by_source "$T/run-coco2/dataset.h5")
  [[ "$got" == "train:98[train2017] val:96[val2017] test:0[] | given by ingest.splits: train = train2017; val = val2017;" ]] \
    && ok "coco: 98/96/0, nothing drawn" || bad "coco2: $got"
fi
grep -q "ingest: splits: given by ingest.splits: train = train2017; val = val2017;" "$T/out.txt" \
  && ok "the split method is logged" || bad "no split line in the log"

# ---- COCO: the Karpathy split file ------------------------------------------------------------
# a dataset_coco.json for the slice: train2017 images train (the first 20 "restval"), val2017
# images alternately val and test, three images left out (reported, not ingested)
$PY - "$C" "$T/dataset_coco.json" <<'EOF'
import json, sys
c, out = sys.argv[1], sys.argv[2]
imgs = []
for folder in ("train2017", "val2017"):
    ann = json.load(open("%s/annotations/captions_%s.json" % (c, folder)))
    for k, im in enumerate(sorted(ann["images"], key=lambda x: x["id"])):
        if folder == "val2017" and k < 3:
            continue
        split = ("restval" if k < 20 else "train") if folder == "train2017" else ("val" if k % 2 else "test")
        imgs.append({"filepath": folder, "filename": im["file_name"], "cocoid": im["id"], "split": split,
                     "sentences": [{"raw": "ignored", "tokens": ["ignored"]}]})
json.dump({"images": imgs, "dataset": "coco"}, open(out, "w"))
EOF
job karp coco "$C" "karpathy = \"$T/dataset_coco.json\";"
if at_1_and_3 karp "coco Karpathy split"; then
  got=$(splits_by_source "$T/karp-np1.h5")
  [[ "$got" == "train:98[train2017] val:47[val2017] test:46[val2017] | the Karpathy split of $T/dataset_coco.json (train and restval -> train)" ]] \
    && ok "Karpathy: 98/47/46 as the file says, restval in train" || bad "karpathy splits: $got"
  [ "$(grep -c "is not in the Karpathy split file" "$T/run-karp/ingest_report.tsv")" = 3 ] \
    && ok "Karpathy: the 3 images the file leaves out are reported" || bad "karpathy report: $(cat "$T/run-karp/ingest_report.tsv")"
fi
echo '{"images": [{"cocoid": 1, "split": "holdout", "filepath": "val2017"}]}' >"$T/k_bad.json"
job kbad coco "$C" "karpathy = \"$T/k_bad.json\";"
expect_fail "a Karpathy file with an unknown split" 2 4 'k_bad.json: images\[0\]: "split" is not train, restval, val or test' -- ingest "$T/kbad.cfg"
echo '{"annotations": []}' >"$T/k_none.json"
job knone coco "$C" "karpathy = \"$T/k_none.json\";"
expect_fail "not a Karpathy file" 2 4 'no "images" array: not a Karpathy split file' -- ingest "$T/knone.cfg"
job kboth coco "$C" "karpathy = \"$T/k_none.json\"; split = \"val2017\";"
expect_fail "Karpathy and ingest.split" 2 3 "ingest.karpathy names the folders and the splits itself" -- ingest "$T/kboth.cfg"

# ---- the default stays a random split, and says so ---------------------------------------------
job rnd coco "$C" 'split = "val2017";'
if expect_ok "coco: one source, random split" 2 ingest "$T/rnd.cfg"; then
  got=$(splits_by_source "$T/run-rnd/dataset.h5")
  [[ "$got" == "train:67[val2017] val:14[val2017] test:15[val2017] | random 0.7/0.15/0.15 of the images"* ]] \
    && ok "random 67/14/15 of 96, attribute says random" || bad "random: $got"
fi

# ---- CSV: a split column -------------------------------------------------------------------------
D="$T/own"
mkdir -p "$D/img"
cp "$SRC_DIR"/tests/data/samples/fashion/images/*.jpg "$D/img/"
$PY - "$SRC_DIR/tests/data/samples/fashion/styles.csv" "$D/t.csv" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))[:30]
names = ["train", "TRAIN", "val", "Validation", "test"]
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["filepath", "title", "part"])
    for k, r in enumerate(rows):
        w.writerow(["img/%s.jpg" % r["id"], r["productDisplayName"], names[k % 5]])
    w.writerow(["img/%s.jpg" % rows[0]["id"], "a second caption, its split from the first row", "test"])
    w.writerow(["img/%s.jpg" % rows[1]["id"], "a bad split", "holdout"])
EOF
job csv csv "$D/t.csv" 'csv_split_key = "part";'
if at_1_and_3 csv "csv split column"; then
  s=$($PY -c 'import h5py,sys; print("".join(map(str, h5py.File(sys.argv[1])["split"][()][:10])))' "$T/csv-np1.h5")
  [ "$s" = "0011200112" ] && ok "csv: rows keep their column's split (train, TRAIN, val, Validation, test)" || bad "csv splits: $s"
  grep -q 't.csv:33	split "holdout" is not train, val, validation or test' "$T/run-csv/ingest_report.tsv" \
    && ok "csv: a bad split value is a bad record" || bad "csv report: $(cat "$T/run-csv/ingest_report.tsv")"
fi

# ---- webdataset: shard patterns per split -------------------------------------------------------
W="$T/wds"
mkdir -p "$W"
$PY - "$SRC_DIR/tests/data/samples/fashion" "$W" <<'EOF'
import csv, io, sys, tarfile
src, d = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(src + "/styles.csv")))[:40]
for s in range(4):
    with tarfile.open("%s/%05d.tar" % (d, s), "w") as t:
        for r in rows[s * 10:(s + 1) * 10]:
            t.add("%s/images/%s.jpg" % (src, r["id"]), arcname="%s.jpg" % r["id"])
            cap = r["productDisplayName"].encode()
            ti = tarfile.TarInfo("%s.txt" % r["id"]); ti.size = len(cap); t.addfile(ti, io.BytesIO(cap))
EOF
job wds webdataset "" "splits = { train = [\"$W/{00000..00001}.tar\"]; val = [\"$W/00002.tar\"]; test = [\"$W/00003.tar\"]; };"
if at_1_and_3 wds "webdataset splits"; then
  got=$(splits_by_source "$T/wds-np1.h5")
  [[ "$got" == "train:20[00000.tar,00001.tar] val:10[00002.tar] test:10[00003.tar] |"* ]] && ok "webdataset: 20/10/10 by shard" \
    || bad "webdataset splits: $got"
fi

# ---- mistakes, refused before reading --------------------------------------------------------------
job both coco "$C" 'split = "val2017"; splits = { test = ["val2017"]; };'
expect_fail "ingest.split and ingest.splits" 2 3 "both ingest.split \(\"val2017\"\) and ingest.splits are set" -- ingest "$T/both.cfg"
job badname coco "$C" 'splits = { train = ["train2017"]; test = ["val2019"]; };'
expect_fail "not a COCO split" 2 3 'ingest.splits.test: "val2019" is not a COCO split' -- ingest "$T/badname.cfg"
job twice coco "$C" 'splits = { train = ["train2017"]; test = ["train2017"]; };'
expect_fail "a source in two splits" 2 3 '"train2017" is named twice \(in train and test\)' -- ingest "$T/twice.cfg"
job fsplits fashion "$SRC_DIR/tests/data/samples/fashion" 'splits = { train = ["x"]; };'
expect_fail "Fashion has no splits" 2 3 "the Fashion Product data has no splits" -- ingest "$T/fsplits.cfg"
job csvsplits csv "$D/t.csv" 'splits = { train = ["x"]; };'
expect_fail "a table takes a split column" 2 3 "set ingest.csv_split_key" -- ingest "$T/csvsplits.cfg"
job nokey csv "$D/t.csv" 'csv_split_key = "fold";'
expect_fail "split column not in the header" 2 4 'no column "fold" \(ingest.csv_split_key\)' -- ingest "$T/nokey.cfg"
finish
