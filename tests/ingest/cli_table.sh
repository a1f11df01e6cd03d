#!/usr/bin/env bash
# cli_table.sh — ingest.format = "csv" (issue 20): a CSV/TSV table of image paths and captions,
# OpenCLIP's layout. Real images (the Fashion slice); the same dataset at 1 and 3 ranks; several
# rows of one image give it several captions and the union of their labels; quoted fields with
# commas, quotes and line breaks; TSV by extension and by ingest.csv_separator; every bad row
# reported with its line; whole-file problems (no such file, a key not in the header, a split
# given) fail with a message naming the file and the key.
. "$SRC_DIR/tests/cli/lib.sh"
D="$T/own"
mkdir -p "$D/img"
cp "$SRC_DIR"/tests/data/samples/fashion/images/*.jpg "$D/img/"
$PY - "$SRC_DIR/tests/data/samples/fashion/styles.csv" "$D" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))[:40]
d = sys.argv[2]
for name, sep in (("t.csv", ","), ("t.tsv", "\t"), ("t.txt", "\t")):
    with open(d + "/" + name, "w", newline="") as f:
        w = csv.writer(f, delimiter=sep, lineterminator="\n")
        w.writerow(["filepath", "title", "label"])
        for r in rows:
            w.writerow(["img/%s.jpg" % r["id"], r["productDisplayName"], r["articleType"]])
        for r in rows:  # second caption and second label of the same images
            w.writerow(["img/%s.jpg" % r["id"], "a %s, %s" % (r["baseColour"].lower(), r["articleType"].lower()),
                        r["baseColour"]])
        w.writerow(["img/%s.jpg" % rows[0]["id"], 'a "quoted" caption\nover two lines', ""])
        w.writerow(["img/nosuch.jpg", "an image that is not there", "x"])
        w.writerow(["../escape.jpg", "a name out of the root", ""])
        w.writerow(["img/%s.jpg" % rows[1]["id"], "  ", ""])
        f.write(sep.join(["img/%s.jpg" % rows[2]["id"], "five", "fields", "too", "many"]) + "\n")
        f.write(sep.join(["img/%s.jpg" % rows[3]["id"], 'a "bad quote', "y"]) + "\n")
EOF
job() { # name root [extra ingest lines]
  cat >"$T/$1.cfg" <<CFG
run = { dir = "$T/run-$1"; stages = ["ingest"]; seed = 5; };
data = { image_size = 32; vocab_size = 500; };
ingest = { format = "csv"; root = "$2"; csv_label_key = "label"; ${3:-} };
CFG
}

job csv "$D/t.csv"
for np in 1 3; do
  rm -rf "$T/run-csv"
  if expect_ok "csv ingest" "$np" ingest "$T/csv.cfg"; then
    cp "$T/run-csv/dataset.h5" "$T/csv-np$np.h5"; cp "$T/run-csv/ingest_report.tsv" "$T/csv-np$np.tsv"
  fi
done
if [ -f "$T/csv-np1.h5" ] && [ -f "$T/csv-np3.h5" ]; then
  e=$(same_h5_data "$T/csv-np1.h5" "$T/csv-np3.h5" 2>&1) && ok "csv: the same dataset at 1 and 3 ranks" || bad "csv 1 vs 3 ranks: $e"
  "$HPCLIP" check "$T/csv-np1.h5" >/dev/null 2>&1 && ok "csv: dataset.h5 valid" || bad "csv: dataset.h5 invalid"
  out=$($PY - "$T/csv-np1.h5" "$SRC_DIR/tests/data/samples/fashion/styles.csv" <<'EOF'
import csv, sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
rows = list(csv.DictReader(open(sys.argv[2])))[:40]
def strs(g):
    b, o = g["bytes"][()].tobytes(), g["offsets"][()]
    return [b[o[i]:o[i + 1]].decode() for i in range(len(o) - 1)]
n = f["images"].shape[0]
caps, capimg = strs(f["captions/text"]), f["captions/image"][()]
names = strs(f["labels/names"])
m = f["labels/matrix"][()]
assert n == 40, n
assert len(caps) == 81, len(caps)                       # 2 per image + the quoted one
assert np.all(np.diff(capimg) >= 0) and list(np.bincount(capimg)) == [3] + [2] * 39
assert caps[0] == rows[0]["productDisplayName"] and caps[2] == 'a "quoted" caption\nover two lines', caps[:3]
assert caps[1].startswith("a ") and ", " in caps[1], caps[1]
# the label set is made from the good rows when the table is read, before decoding finds that
# img/nosuch.jpg is missing: its label "x" is a class without images
assert names == sorted(set(r["articleType"] for r in rows) | set(r["baseColour"] for r in rows) | {"x"}), names
for i, r in enumerate(rows):                             # union of the rows' labels
    want = {r["articleType"], r["baseColour"]}
    assert {names[j] for j in np.nonzero(m[i])[0]} == want, (i, want)
print("40 images, 81 captions (3 for the first image, in row order), %d labels, each image the union of its rows'" % len(names))
EOF
  ) && ok "csv: $out" || bad "csv contents: $out"
  for want in "t.csv:85	'..' escapes the root" "t.csv:86	empty caption" "t.csv:87	5 fields, the header has 3" \
              "t.csv:88	quote character inside an unquoted field" "img/nosuch.jpg	"; do
    grep -qF "$want" "$T/csv-np1.tsv" && ok "csv: reported: $want" || bad "csv: not reported: $want"
  done
  [ "$(wc -l <"$T/csv-np1.tsv")" = 6 ] && ok "csv: 5 bad records, nothing else" || bad "csv report: $(cat "$T/csv-np1.tsv")"
  cmp -s "$T/csv-np1.tsv" "$T/csv-np3.tsv" && ok "csv: the same report at 1 and 3 ranks" || bad "csv: reports differ"
fi

# TSV: by the .tsv extension, and any name with ingest.csv_separator = "tab"; the same dataset
job tsv "$D/t.tsv"
job txt "$D/t.txt" 'csv_separator = "tab";'
for k in tsv txt; do
  if expect_ok "$k ingest" 2 ingest "$T/$k.cfg"; then
    e=$(same_h5_data "$T/csv-np1.h5" "$T/run-$k/dataset.h5" 2>&1) && ok "$k: the same dataset as the CSV" || bad "$k: $e"
  fi
done

# whole-file problems
job nofile "$D/none.csv"
expect_fail "no such table" 2 4 'none.csv": no such file'  -- ingest "$T/nofile.cfg"
job nokey "$D/t.csv" 'csv_caption_key = "caption";'
expect_fail "caption key not in the header" 2 4 't.csv: the header has no column "caption" \(ingest.csv_caption_key\); its columns: "filepath", "title", "label"' -- ingest "$T/nokey.cfg"
job samekey "$D/t.csv" 'csv_caption_key = "filepath";'
expect_fail "the same column twice" 2 3 "must name different columns" -- ingest "$T/samekey.cfg"
job split "$D/t.csv" 'split = "train2017";'
expect_fail "a split for a table" 2 3 "a CSV table has no splits" -- ingest "$T/split.cfg"
job comma "$D/t.tsv" 'csv_separator = "comma";'
expect_fail "TSV read as CSV" 2 4 'the header has no column "filepath"' -- ingest "$T/comma.cfg"
finish
