#!/usr/bin/env bash
# cli_custom_dataset.sh — docs/custom-dataset.md's path: a tab-separated table of your own images
# and captions -> scripts/make_coco_json.py -> COCO layout -> `hpclip ingest` (format coco) on 2
# ranks gives a valid dataset.h5 with the table's labels; the converter's bad inputs fail with a
# message naming the line. Then the CSV, webdataset and folder sections of the same page, run as written.
. "$SRC_DIR/tests/cli/lib.sh"
D="$T/mydata"
mkdir -p "$D/train2017"
cp "$SRC_DIR"/tests/data/samples/fashion/images/*.jpg "$D/train2017/"
$PY -c '
import csv, sys
out = open(sys.argv[2], "w")
for r in csv.DictReader(open(sys.argv[1])):
    out.write("%s.jpg\t%s\t%s\n" % (r["id"], r["productDisplayName"], r["articleType"]))
' "$SRC_DIR/tests/data/samples/fashion/styles.csv" "$D/captions.tsv"
if out=$($PY "$SRC_DIR/scripts/make_coco_json.py" "$D/captions.tsv" "$D" train2017 2>&1); then ok "make_coco_json.py: $out"
else bad "make_coco_json.py: $out"; fi
if expect_ok "ingest of the converted data" 2 ingest "$SRC_DIR/conf/coco.cfg" --run-dir "$T/run" \
     -s ingest.root="$D" -s ingest.split=train2017 -s data.image_size=32; then
  grep -q "200 images 32x32 (stretch), 200 captions, split 140/30/30, 25 labels" "$T/out.txt" \
    && ok "200 images, 200 captions, 25 labels" || bad "ingest log: $(grep 'ingest:' "$T/out.txt" | tail -1)"
  "$HPCLIP" check "$T/run/dataset.h5" >/dev/null 2>&1 && ok "dataset.h5 valid" || bad "dataset.h5 invalid"
fi
# Bad inputs of the converter.
printf 'nosuch.jpg\ta caption\n' >"$T/missing.tsv"
printf '1165.jpg\n' >"$T/nocaption.tsv"
for c in "$T/missing.tsv train2017|missing.tsv:1: no image" "$T/nocaption.tsv train2017|nocaption.tsv:1: expected FILE<TAB>CAPTION" \
         "$D/captions.tsv mysplit|split 'mysplit': expected one of"; do
  args=${c%%|*} re=${c#*|}
  # shellcheck disable=SC2086
  set -- $args
  if out=$($PY "$SRC_DIR/scripts/make_coco_json.py" "$1" "$D" "$2" 2>&1); then bad "make_coco_json.py $args succeeded"
  else echo "$out" | grep -qF -- "$re" && ok "make_coco_json.py $(basename "$1") $2: $out" || bad "make_coco_json.py $args: $out"; fi
done

# The CSV and webdataset sections of docs/custom-dataset.md, run as written: every ```sh block of
# those sections, in order, from a copy of the repository's layout (links to tests, scripts,
# conf, jobs and the build) with HOME in the test's folder.
W="$T/repo"
mkdir -p "$W" "$T/home"
for d in tests scripts conf jobs; do ln -s "$SRC_DIR/$d" "$W/$d"; done
ln -s "$BUILD_DIR" "$W/build"
for section in "A CSV or TSV table" "Webdataset shards" "A folder of images"; do
  $PY - "$SRC_DIR/docs/custom-dataset.md" "$section" >"$T/blocks.sh" <<'EOF2'
import sys
lines = open(sys.argv[1]).read().split("\n")
out, on, code = [], False, False
for l in lines:
    if l.startswith("## "):
        on = l[3:].strip() == sys.argv[2]
        continue
    if on and l.startswith("```"):
        if code: code = False; out.append("")
        elif l.strip() == "```sh": code = True
        continue
    if on and code: out.append(l)
print("\n".join(out))
EOF2
  n=$(grep -c . "$T/blocks.sh")
  if [ "$n" -lt 3 ]; then bad "docs: section '$section' has no sh blocks"; continue; fi
  if (cd "$W" && HOME="$T/home" timeout 600 bash -e "$T/blocks.sh") >"$T/doc.txt" 2>&1; then
    ok "docs/custom-dataset.md '$section': its commands run as written ($(grep -c . "$T/blocks.sh") lines)"
  else
    bad "docs/custom-dataset.md '$section': exit $?"; grep -v "^\[" "$T/doc.txt" | tail -15 | sed 's/^/     | /'
  fi
  grep -E "job conf/coco.cfg: all [0-9] stages complete" "$T/doc.txt" >/dev/null && ok "'$section': the job completed" \
    || bad "'$section': no completed job in the output"
done
for r in mycsv mywds myfolder; do
  if "$HPCLIP" check "$W/runs/$r/dataset.h5" >/dev/null 2>&1 && "$HPCLIP" check "$W/runs/$r/embeddings.h5" >/dev/null 2>&1
  then ok "runs/$r: dataset.h5 and embeddings.h5 valid"; else bad "runs/$r: outputs missing or invalid"; fi
done
n=$($PY -c "import h5py,sys; f=h5py.File(sys.argv[1]); print(f['images'].shape[0], f['labels/matrix'].shape[1])" "$W/runs/mycsv/dataset.h5" 2>&1)
[ "$n" = "200 25" ] && ok "csv: 200 images, 25 labels" || bad "csv dataset: $n"
n=$($PY -c "import h5py,sys; f=h5py.File(sys.argv[1]); print(f['images'].shape[0], f['captions/image'].shape[0], f['labels/matrix'].shape[1])" "$W/runs/myfolder/dataset.h5" 2>&1)
[ "$n" = "200 150 25" ] && ok "folder: 200 images, 150 captions, 25 labels" || bad "folder dataset: $n"
finish
