#!/usr/bin/env bash
# cli_results_text.sh — results that do not mislead (issue 20): a CSV dataset whose label names
# are hostile to Markdown ('|', '<', a backslash) through ingest, train, embed, search (with
# free-text queries, one naming a label the data lacks), zeroshot and report at 2 ranks; then
# every table of search.md, zeroshot.md and summary.md keeps its column count, the chance levels
# and the within-2x-of-chance marks are there, the unmatched query is named; and a split smaller
# than k is flagged.
. "$SRC_DIR/tests/cli/lib.sh"
D="$T/own"
mkdir -p "$D/img"
cp "$SRC_DIR"/tests/data/samples/fashion/images/*.jpg "$D/img/"
$PY - "$SRC_DIR/tests/data/samples/fashion/styles.csv" "$D/t.csv" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))[:120]
hostile = {"Tshirts": "T|shirts", "Shirts": "<b>Shirts</b>", "Casual Shoes": "Casual\\Shoes"}
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["filepath", "title", "label"])
    for r in rows:
        w.writerow(["img/%s.jpg" % r["id"], r["productDisplayName"], hostile.get(r["articleType"], r["articleType"])])
EOF
cat >"$T/job.cfg" <<CFG
run = { dir = "$T/run"; stages = ["ingest", "train", "embed", "search", "zeroshot", "report"]; seed = 3; };
data = { image_size = 32; caption_len = 12; vocab_size = 300; };
ingest = { format = "csv"; root = "$D/t.csv"; csv_label_key = "label"; };
model = { text_layers = 1; text_heads = 2; text_width = 16; image = "vit"; image_patch = 8; image_layers = 1;
          image_heads = 2; image_width = 16; embed_dim = 16; };
train = { batch = 12; epochs = 1; max_steps = 3; };
search = { split = "all"; queries = ["a red shirt", "a watch"]; query_labels = ["<b>Shirts</b>", "Watches | Wristbands"]; };
zeroshot = { split = "all"; };
CFG
if expect_ok "a CSV dataset with hostile label names, ingest to report" 2 run "$T/job.cfg"; then
  out=$($PY - "$T/run" <<'EOF'
import re, sys
d = sys.argv[1]
def cells(line):  # table cells: split on '|' not escaped by a backslash
    return len(re.split(r"(?<!\\)\|", line.strip().strip("|")))
bad = []
for name in ("search.md", "zeroshot.md", "summary.md"):
    lines = open("%s/%s" % (d, name)).read().split("\n")
    width = None
    for i, l in enumerate(lines):
        if l.startswith("|"):
            if width is None: width = cells(l)
            elif cells(l) != width: bad.append("%s:%d: %d cells, the header %d: %s" % (name, i + 1, cells(l), width, l[:80]))
        else:
            width = None
if bad: sys.exit("\n".join(bad[:5]))
s = open(d + "/search.md").read()
z = open(d + "/zeroshot.md").read()
for want, text in ((r"T\|shirts", s), (r"&lt;b>Shirts&lt;/b>", s), (r"Casual\\Shoes", z),
                   ("| chance (random ranking) |", s), ("chance R@1", s), ("Chance: accuracy", z),
                   ('2 queries; 1 of them name only labels of this dataset (not: "a watch", whose "Watches" is not a label)', s)):
    if want not in text: sys.exit("missing: " + want)
if "⚠" not in s + z: sys.exit("no within-2x-of-chance mark on a model trained for 3 steps")
print("every table row keeps its columns; labels escaped; chance rows, marks and the unmatched query present")
EOF
  ) && ok "$out" || bad "markdown: $out"
fi
# a small test split: recall at k >= its size is 1 by construction, and said so
head -41 "$D/t.csv" >"$D/small.csv"
if expect_ok "ingest to search on 40 images" 2 run "$T/job.cfg" --run-dir "$T/small" --stages ingest,train,embed,search \
     -s ingest.root="$D/small.csv" -s search.split=test -s train.batch=4; then
  n=$($PY -c 'import h5py,sys; print(int((h5py.File(sys.argv[1])["split"][()] == 2).sum()))' "$T/small/dataset.h5")
  if grep -q "⚠ The split has only $n images: recall at k >= $n is 1 by construction" "$T/small/search.md"; then
    ok "a $n-image test split is flagged"
  else bad "small split not flagged ($n test images): $(grep -m2 '⚠\|split' "$T/small/search.md")"; fi
fi
finish
