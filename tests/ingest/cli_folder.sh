#!/usr/bin/env bash
# cli_folder.sh — ingest.format = "folder" (issue 20): a tree of real images (the Fashion slice,
# one sub-folder per article type) with NAME.txt captions beside some of them.
#   1. the same dataset at 1 and 3 ranks; captions are the sidecar's non-empty lines; images
#      without a sidecar are kept and all go to the test split; labels are the first folder
#      (ingest.folder_labels); hidden files and other files are ignored;
#   2. bad records reported: a sidecar that is not UTF-8 (the image kept, uncaptioned), a sidecar
#      without its image, a corrupt image, a dangling image link, a folder link that loops;
#      a folder linked from outside the root is read, and refused with follow_symlinks = false;
#   3. ingest.splits as sub-folders (train/, test/), one class set over both;
#   4. the pipeline on it: train skips nothing it needs, embed embeds every image, search ranks
#      the uncaptioned images (caption -> image, image -> image) and leaves them out of image ->
#      caption, whose recall equals a numpy recomputation from embeddings.h5 over the captioned
#      test images; caption scores only images with references;
#   5. whole-walk problems: no such folder, a file for a folder, no caption anywhere, a missing
#      ingest.splits sub-folder (also in config --check).
. "$SRC_DIR/tests/cli/lib.sh"
R="$T/photos"
$PY - "$SRC_DIR/tests/data/samples/fashion" "$R" <<'EOF'
import csv, os, shutil, sys
src, root = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(src + "/styles.csv")))
for i, r in enumerate(rows):
    d = os.path.join(root, r["articleType"].replace("/", "_"))
    os.makedirs(d, exist_ok=True)
    shutil.copy(src + "/images/%s.jpg" % r["id"], d)
    if i % 4 != 3:  # a quarter of the images have no caption
        with open(os.path.join(d, r["id"] + ".txt"), "w") as f:
            f.write("%s\n\n  a %s %s  \r\n" % (r["productDisplayName"], r["baseColour"].lower(), r["articleType"].lower()))
print(len(rows))
EOF
N_ALL=$(ls "$SRC_DIR"/tests/data/samples/fashion/images/*.jpg | wc -l)
# ignored: hidden files and folders, files that are neither images nor sidecars
mkdir -p "$R/.thumbs"; cp "$(ls "$R"/*/*.jpg | head -1)" "$R/.thumbs/x.jpg"; cp "$(ls "$R"/*/*.jpg | head -1)" "$R/.hidden.jpg"
echo "notes" >"$R/README.md"
# bad records
mkdir -p "$R/zbad"
cp "$(ls "$R"/Tshirts/*.jpg | head -1)" "$R/zbad/latin1.jpg"; printf 'caf\xe9 au lait\n' >"$R/zbad/latin1.txt"
echo "an orphan caption" >"$R/zbad/orphan.txt"
head -c 700 "$(ls "$R"/Tshirts/*.jpg | head -1)" >"$R/zbad/cut.jpg"; echo "a cut image" >"$R/zbad/cut.txt"
ln -s "$R/zbad/nosuch.jpg" "$R/zbad/dangling.jpg"
ln -s "$R/zbad" "$R/zbad/loop"
# a folder linked from outside the root
mkdir -p "$T/elsewhere/Linked"
cp "$(ls "$R"/Tshirts/*.jpg | head -1)" "$T/elsewhere/Linked/far.jpg"; echo "a linked image" >"$T/elsewhere/Linked/far.txt"
ln -s "$T/elsewhere/Linked" "$R/Linked"
# a second link to a folder already read: its images are not read twice
ln -s "$R/Linked" "$R/zzsame"
# a caption file linking out of the root (read by default; refused with follow_symlinks = false)
cp "$(ls "$R"/Tshirts/*.jpg | head -1)" "$R/zbad/outcap.jpg"; echo "a caption from elsewhere" >"$T/elsewhere/outcap.txt"
ln -s "$T/elsewhere/outcap.txt" "$R/zbad/outcap.txt"
# a text file in a folder without images is not the dataset's
echo "about these photos" >"$R/LICENSE.txt"
# a caption file with a UTF-8 byte order mark
cp "$(ls "$R"/Tshirts/*.jpg | head -1)" "$R/zbad/bom.jpg"; printf '\xef\xbb\xbfa caption after a BOM\n' >"$R/zbad/bom.txt"

job() { # name [extra ingest keys]
  cat >"$T/$1.cfg" <<CFG
run = { dir = "$T/run-$1"; stages = ["ingest"]; seed = 5; };
data = { image_size = 32; vocab_size = 500; };
ingest = { format = "folder"; root = "$R"; folder_labels = true; ${2:-} };
CFG
}
job f
for np in 1 3; do
  rm -rf "$T/run-f"
  if expect_ok "folder ingest" "$np" ingest "$T/f.cfg"; then
    cp "$T/run-f/dataset.h5" "$T/f-np$np.h5"; cp "$T/run-f/ingest_report.tsv" "$T/f-np$np.tsv"
  fi
done
if [ -f "$T/f-np1.h5" ] && [ -f "$T/f-np3.h5" ]; then
  e=$(same_h5_data "$T/f-np1.h5" "$T/f-np3.h5" 2>&1) && ok "folder: the same dataset at 1 and 3 ranks" || bad "folder 1 vs 3 ranks: $e"
  cmp -s "$T/f-np1.tsv" "$T/f-np3.tsv" && ok "folder: the same report at 1 and 3 ranks" || bad "folder: reports differ"
  "$HPCLIP" check "$T/f-np1.h5" >/dev/null 2>&1 && ok "folder: dataset.h5 valid" || bad "folder: dataset.h5 invalid"
  out=$($PY - "$T/f-np1.h5" "$R" "$N_ALL" <<'EOF'
import os, sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
root, n_all = sys.argv[2], int(sys.argv[3])
def strs(g):
    b, o = g["bytes"][()].tobytes(), g["offsets"][()]
    return [b[o[i]:o[i + 1]].decode() for i in range(len(o) - 1)]
sid, caps, capimg = strs(f["source_id"]), strs(f["captions/text"]), f["captions/image"][()]
split, names, lab = f["split"][()], strs(f["labels/names"]), f["labels/matrix"][()]
paths = [s[len("folder:"):] for s in sid]
# the walk: byte order of the names, hidden entries skipped, the linked folder read
want = []
def walk(rel):
    for n in sorted(os.listdir(os.path.join(root, rel)) if rel else os.listdir(root)):
        p = os.path.join(rel, n) if rel else n
        full = os.path.join(root, p)
        if n.startswith(".") or n in ("loop", "zzsame"): continue
        if os.path.isdir(full): walk(p)
        elif n.lower().endswith((".jpg", ".jpeg", ".png")) and os.path.exists(full) and n != "cut.jpg": want.append(p)
walk("")
assert paths == want, (paths[:5], want[:5], len(paths), len(want))
assert len(paths) == n_all + 4, len(paths)           # + latin1, outcap, bom + Linked/far.jpg
assert caps[int(np.nonzero(capimg == paths.index("zbad/bom.jpg"))[0][0])] == "a caption after a BOM"
assert "a caption from elsewhere" in caps
ncap = np.bincount(capimg, minlength=len(paths))
for i, p in enumerate(paths):
    side = os.path.join(root, p.rsplit(".", 1)[0] + ".txt")
    exp = []
    if os.path.exists(side) and not p.endswith("latin1.jpg"):
        exp = [l.strip() for l in open(side, encoding="utf-8-sig").read().split("\n") if l.strip()]
    got = [caps[c] for c in np.nonzero(capimg == i)[0]]
    assert got == exp, (p, got, exp)
    if not exp: assert split[i] == 2, (p, split[i])      # uncaptioned -> test
    top = p.split("/")[0]
    assert [names[j] for j in np.nonzero(lab[i])[0]] == [top], (p, top)
bare = int((ncap == 0).sum())
assert bare >= n_all // 4, bare
assert names == sorted(names) and "Linked" in names and "zbad" in names
print("%d images (%d without a caption, all in test), %d captions, %d labels from the folders" % (len(paths), bare, len(caps), len(names)))
EOF
  ) && ok "folder: $out" || bad "folder contents: $out"
  for want in "zbad/latin1.txt	the caption file is not valid UTF-8" "zbad/orphan.txt	caption file without an image" \
              "zbad/cut.jpg	" "zbad/dangling.jpg	cannot read" "zbad/loop	folder link loops back" \
              "zzsame	the same folder as one already read"; do
    grep -qF "$want" "$T/f-np1.tsv" && ok "folder: reported: $want" || bad "folder: not reported: $want"
  done
  [ "$(wc -l <"$T/f-np1.tsv")" = 7 ] && ok "folder: 6 bad records, nothing else (hidden files, README.md, LICENSE.txt ignored)" \
    || bad "folder report: $(cat "$T/f-np1.tsv")"
  grep -q "images without a caption all in test" "$T/out.txt" && ok "folder: the log says where the uncaptioned images went" \
    || bad "folder: no split line: $(grep 'splits:' "$T/out.txt")"
fi

# follow_symlinks = false: the linked folder is refused, by name
job nolink 'follow_symlinks = false;'
if expect_ok "folder ingest, links not followed" 2 ingest "$T/nolink.cfg"; then
  for want in "Linked	symbolic link to a folder, not followed" "zbad/outcap.txt	caption file resolves outside"; do
    grep -qF "$want" "$T/run-nolink/ingest_report.tsv" && ok "follow_symlinks = false: reported: $want" \
      || bad "nolink report: $want: $(cat "$T/run-nolink/ingest_report.tsv")"
  done
fi

# ---- 3. the dataset's own splits as sub-folders ----------------------------------------------
S="$T/split"
mkdir -p "$S/train/cats" "$S/train/dogs" "$S/test/cats" "$S/test/dogs"
i=0
for img in "$R"/Tshirts/*.jpg "$R"/Shirts/*.jpg; do
  i=$((i + 1)); cls=cats; [ $((i % 2)) = 0 ] && cls=dogs
  part=train; [ $((i % 5)) = 0 ] && part=test
  cp "$img" "$S/$part/$cls/$i.jpg"; echo "a picture of $cls number $i" >"$S/$part/$cls/$i.txt"
done
cp "$img" "$S/test/cats/bare.jpg"
cp "$img" "$S/train/dogs/bare.jpg"   # in train without a caption: left out of training
cat >"$T/sp.cfg" <<CFG
run = { dir = "$T/run-sp"; stages = ["ingest"]; seed = 5; };
data = { image_size = 32; vocab_size = 500; };
ingest = { format = "folder"; root = "$S"; folder_labels = true; splits = { train = ["train"]; test = ["test"]; }; };
CFG
if expect_ok "folder ingest with ingest.splits" 2 ingest "$T/sp.cfg"; then
  out=$($PY - "$T/run-sp/dataset.h5" <<'EOF'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
def strs(g):
    b, o = g["bytes"][()].tobytes(), g["offsets"][()]
    return [b[o[i]:o[i + 1]].decode() for i in range(len(o) - 1)]
sid, split, names, lab = strs(f["source_id"]), f["split"][()], strs(f["labels/names"]), f["labels/matrix"][()]
assert names == ["cats", "dogs"], names
for s, p, l in zip(sid, split, lab):
    part = s.split(":")[1].split("/")[0]
    assert (part == "test") == (p == 2), (s, p)
    assert names[int(np.argmax(l))] == s.split("/")[1] and l.sum() == 1, (s, l)
sm = f.attrs["split"]
sm = sm.decode() if isinstance(sm, bytes) else sm
assert "given by ingest.splits" in sm, sm
print("%d images: test = test/, train and validation from train/; one class set (cats, dogs) over both" % len(sid))
EOF
  ) && ok "splits: $out" || bad "splits: $out"
fi

# ---- 4. the pipeline on the folder data ------------------------------------------------------
TINY=("${TINY_MODEL[@]}" -s train.batch=16 -s run.watchdog=300)
P="$T/pipe"
if expect_ok "folder: ingest, train, embed, search, zeroshot, caption-train, caption, report" 2 run \
     "$SRC_DIR/conf/coco.cfg" --run-dir "$P" --stages ingest,train,embed,search,zeroshot,caption-train,caption,report \
     -s ingest.format=folder -s ingest.root="$R" -s ingest.split= -s ingest.folder_labels=true "${TINY[@]}"; then
  grep -q "have no caption: they are searched" "$P/search.md" && ok "search.md says which images ask no image → caption query" \
    || bad "search.md: no note on uncaptioned images"
  grep -q "images of the 'test' split have no caption to score against and are left out" "$T/out.txt" \
    && ok "caption: the uncaptioned test images left out of scoring" || bad "caption: no log line"
  out=$($PY - "$P/embeddings.h5" "$P/results.h5" "$P/ckpt.h5" <<'EOF'
import sys, h5py, numpy as np
e, r = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
ie, ce, ci, sp = e["images/embedding"][()], e["captions/embedding"][()], e["captions/image"][()], e["images/split"][()]
test = np.nonzero(sp == 2)[0]
tc = np.nonzero(sp[ci] == 2)[0]
captioned = [i for i in test if (ci[tc] == i).any()]
g = r["search"]
assert g.attrs["n_images"] == len(test) and g.attrs["n_captions"] == len(tc), (g.attrs["n_images"], len(test))
assert g.attrs["n_captioned_images"] == len(captioned) < len(test), g.attrs["n_captioned_images"]
hits = np.zeros(3)
for i in captioned:                                  # image -> caption, ties against the query
    s = ce[tc] @ ie[i]
    best = s[ci[tc] == i].max()
    rank = (s[ci[tc] != i] >= best).sum()
    hits += [rank < k for k in (1, 5, 10)]
want = hits / len(captioned)
got = g["clip_recall"][0]
assert np.allclose(got, want, atol=1e-9), (got, want)
# train's own test retrieval (same model, its own embedding pass) has the same denominator
st = h5py.File(sys.argv[3], "r").attrs["state"]
st = dict(kv.split("=") for kv in (st.decode() if isinstance(st, bytes) else st).split() if "=" in kv)
assert int(st["test_captioned_images"]) == len(captioned), st
tr = np.array([float(st["i2t_r%d" % k]) for k in (1, 5, 10)])
assert np.all(np.abs(tr - want) <= 1.01 / len(captioned) + 1e-4), (tr, want)
print("image -> caption recall %s over the %d captioned of %d test images, as numpy" % (np.round(got, 3), len(captioned), len(test)))
EOF
  ) && ok "search: $out" || bad "search i2c: $out"
fi

# the split tree through train: the uncaptioned training image is left out, said so
if expect_ok "folder with ingest.splits: train" 2 run "$SRC_DIR/conf/coco.cfg" --run-dir "$T/run-sp" --stages ingest,train \
     -s ingest.format=folder -s ingest.root="$S" -s ingest.split= -s ingest.folder_labels=true \
     -s 'ingest.splits.train=["train"]' -s 'ingest.splits.test=["test"]' "${TINY[@]}" -s train.batch=8; then
  grep -qE "training and [0-9]+ validation images have no caption and are left out" "$T/out.txt" \
    && ok "train: the uncaptioned training image left out, said so" || bad "train: no 'left out' line"
fi

# a test split without any caption: no caption <-> image figures anywhere, and captioning on it
# fails naming the split
cp -r "$S" "$T/nocap"; rm -f "$T/nocap"/test/*/*.txt
Q="$T/pipe-nocap"
if expect_ok "folder without test captions: ingest to cluster and report" 2 run "$SRC_DIR/conf/coco.cfg" --run-dir "$Q" \
     --stages ingest,train,embed,search,zeroshot,caption-train,cluster,report -s ingest.format=folder -s ingest.root="$T/nocap" \
     -s ingest.split= -s ingest.folder_labels=true -s 'ingest.splits.train=["train"]' -s 'ingest.splits.test=["test"]' \
     -s cluster.k_min=2 -s cluster.k_max=3 -s cluster.split=test "${TINY[@]}"; then
  grep -q "Modality gap: skipped (the split has no captions)" "$Q/cluster.md" && ok "cluster: no modality gap without captions, said so" \
    || bad "cluster.md: $(grep -i gap "$Q/cluster.md")"
  grep -q "has no captions: no test retrieval" "$T/out.txt" && ok "train: 'no test retrieval' instead of zeros" \
    || bad "train: no note on the captionless test split"
  grep -q "The split has no captions: no caption ↔ image recall" "$Q/search.md" && ! grep -q "| image → caption |" "$Q/search.md" \
    && ok "search.md: no caption ↔ image table, a sentence saying why" || bad "search.md on a captionless split"
  $PY -c "import h5py,sys,numpy as np; r=h5py.File(sys.argv[1])['search/clip_recall'][()]; assert np.isnan(r).all(), r" "$Q/results.h5" 2>"$T/nan.txt" \
    && ok "results.h5: clip_recall NaN (no queries), not 0" || bad "clip_recall without captions: $(cat "$T/nan.txt")"
  expect_fail "caption on a split without captions" 2 4 "none of the [0-9]+ images in the 'test' split \(caption.split\) has a caption" \
    -- caption "$SRC_DIR/conf/coco.cfg" --run-dir "$Q" -s ingest.format=folder -s ingest.root="$T/nocap" -s ingest.split= \
    -s ingest.folder_labels=true -s 'ingest.splits.train=["train"]' -s 'ingest.splits.test=["test"]' "${TINY[@]}"
fi

# ---- 5. whole-walk problems ------------------------------------------------------------------
cat >"$T/nofolder.cfg" <<CFG
run = { dir = "$T/run-nofolder"; stages = ["ingest"]; };
ingest = { format = "folder"; root = "$T/nosuch"; };
CFG
expect_fail "no such folder (preflight)" 2 4 'ingest.root = ".*/nosuch": no such folder \(ingest.format = "folder"\)' -- ingest "$T/nofolder.cfg"
job file "split = \"README.md\";"
expect_fail "a file for a sub-folder (preflight)" 2 4 'ingest.split = "README.md": no folder' -- ingest "$T/file.cfg"
mkdir -p "$T/bare"; cp "$R"/Tshirts/*.jpg "$T/bare/"
cat >"$T/bare.cfg" <<CFG
run = { dir = "$T/run-bare"; stages = ["ingest"]; };
data = { image_size = 32; };
ingest = { format = "folder"; root = "$T/bare"; };
CFG
expect_fail "no caption anywhere" 2 4 'none of the [0-9]+ images in .* has a caption' -- ingest "$T/bare.cfg"
job nosub 'splits = { train = ["Tshirts"]; test = ["nosuchdir"]; };'
expect_fail "a missing ingest.splits sub-folder (preflight)" 1 4 'ingest.splits.test = "nosuchdir": no folder' -- ingest "$T/nosub.cfg"
if out=$("$HPCLIP" config --check "$T/nosub.cfg" 2>&1); then bad "config --check passed a missing sub-folder"
else echo "$out" | grep -q 'no folder' && ok "config --check names the missing sub-folder" || bad "config --check: $out"; fi
job other 'format = "coco";'
sed -i 's/format = "folder"; root/root/' "$T/other.cfg"
expect_fail "folder_labels with another format" 1 3 'ingest.folder_labels is for ingest.format = "folder"' -- ingest "$T/other.cfg"
# the split layout (train/cats/x.jpg: images two levels down) is recognised too
if out=$("$HPCLIP" config --check "$T/sp.cfg" -s ingest.format=coco -s ingest.split=val2017 -s 'ingest.splits.train=[]' -s 'ingest.splits.test=[]' -s ingest.folder_labels=false 2>&1); then bad "config --check: coco on a split folder tree passed"
else echo "$out" | grep -q 'looks like a folder of images' && ok "config --check: a train/cats/ tree 'looks like a folder of images'" || bad "config --check on the split tree: $out"; fi
if out=$("$HPCLIP" config --check "$T/bare.cfg" -s ingest.format=coco -s ingest.split=val2017 2>&1); then bad "config --check: coco on a folder of images passed"
else echo "$out" | grep -q 'looks like a folder of images (ingest.format = "folder")' && ok "config --check: 'it looks like a folder of images'" \
  || bad "config --check hint: $out"; fi
finish
