#!/usr/bin/env bash
# `hpclip synth-coco` end to end: a few hundred images in COCO 2017's layout, every file
# byte-identical (md5) at 1, 2 and 3 ranks; JPEG files with the sizes the JSON gives; the real
# `ingest` (format coco) reads train2017 and val2017 with every image, caption and label; a
# complete folder is skipped, --force rewrites it; bad inputs end cleanly naming the key or path.
source "$(dirname "$0")/../cli/lib.sh"
out="$T/log.txt"
NT=${HP_COCO_TRAIN:-240}
NV=${HP_COCO_VAL:-36}
cat >"$T/job.cfg" <<CFG
run = { dir = "$T/run"; seed = 21; };
synth = { coco_train_images = $NT; coco_val_images = $NV; coco_long_side = 320; captions_per_image = 5; };
CFG

sums() { (cd "$1" && find . -type f | LC_ALL=C sort | xargs md5sum); }
for np in 1 2 3; do
  rm -rf "$T/run"
  t0=$SECONDS
  if timeout 300 $MPIRUN -np $np "$HPCLIP" synth-coco "$T/job.cfg" >"$out" 2>&1; then ok "synth-coco on $np ranks ($((SECONDS - t0)) s)"
  else bad "synth-coco on $np ranks"; sed 's/^/     | /' "$out" | head -20; fi
  sums "$T/run/coco" >"$T/np$np.md5"
done
n=$(wc -l <"$T/np1.md5")
[ "$n" = $((NT + NV + 5)) ] && ok "$n files (images, 4 JSON files, manifest)" || bad "$n files, expected $((NT + NV + 5))"
for np in 2 3; do
  if cmp -s "$T/np1.md5" "$T/np$np.md5"; then ok "1 vs $np ranks: every file byte-identical"
  else bad "1 vs $np ranks differ"; diff "$T/np1.md5" "$T/np$np.md5" | head; fi
done
ls "$T/run" | grep -q tmp && bad "temporary folder left behind" || ok "no temporary folder left"

if $PY - "$T/run/coco" "$NT" "$NV" >"$out" 2>&1 <<'PYF'
import json, os, struct, sys
root, nt, nv = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def jpeg_size(path):
    b = open(path, "rb").read()
    assert b[:2] == b"\xff\xd8", path
    i = 2
    while i < len(b):
        assert b[i] == 0xFF, path
        m = b[i + 1]; n = struct.unpack(">H", b[i + 2:i + 4])[0]
        if m in (0xC0, 0xC1, 0xC2):
            h, w = struct.unpack(">HH", b[i + 5:i + 9]); return w, h
        i += 2 + n
    raise AssertionError("no SOF in " + path)
shapes = set()
for split, n in (("train2017", nt), ("val2017", nv)):
    cap = json.load(open(f"{root}/annotations/captions_{split}.json"))
    ins = json.load(open(f"{root}/annotations/instances_{split}.json"))
    assert len(cap["images"]) == n and cap["images"] == ins["images"]
    assert sorted(os.listdir(f"{root}/{split}")) == sorted(im["file_name"] for im in cap["images"])
    for im in cap["images"]:
        assert im["file_name"] == "%012d.jpg" % im["id"], im
        assert jpeg_size(f"{root}/{split}/{im['file_name']}") == (im["width"], im["height"]), im
        shapes.add("landscape" if im["width"] > im["height"] else "portrait" if im["width"] < im["height"] else "square")
    assert len(cap["annotations"]) == 5 * n
    assert len({a["id"] for a in cap["annotations"]}) == 5 * n
    cats = ins["categories"]
    assert len(cats) == 35 and cats[0] == {"id": 1, "name": "red circle", "supercategory": "circle"}, cats[0]
    size = {im["id"]: (im["width"], im["height"]) for im in cap["images"]}
    for a in ins["annotations"]:
        x, y, w, h = a["bbox"]; W, H = size[a["image_id"]]
        assert 0 <= x and 0 <= y and x + w <= W and y + h <= H and 0 < a["area"] <= w * h + 1 and a["iscrowd"] == 0, a
    assert n <= len(ins["annotations"]) <= 3 * n
print("layout ok:", sorted(shapes), cap["annotations"][0]["caption"])
PYF
then ok "layout, JSON and JPEG sizes: $(tail -1 "$out")"; else bad "layout"; cat "$out"; fi

# The real ingest reads it: every image, caption and label of both splits, nothing bad.
for split in train2017 val2017; do
  n=$NT; [ $split = val2017 ] && n=$NV
  cat >"$T/ingest-$split.cfg" <<CFG
run = { dir = "$T/ingest-$split"; seed = 5; };
data = { image_size = 32; vocab_size = 200; };
ingest = { format = "coco"; root = "$T/run/coco"; split = "$split"; on_bad_record = "reject"; };
CFG
  if timeout 300 $MPIRUN -np 2 "$HPCLIP" ingest "$T/ingest-$split.cfg" >"$out" 2>&1 &&
     $PY - "$T/ingest-$split/dataset.h5" "$n" >"$out" 2>&1 <<'PYF'
import sys, h5py
n = int(sys.argv[2])
with h5py.File(sys.argv[1], "r") as f:
    assert f["images"].shape == (n, 32, 32, 3), f["images"].shape
    assert len(f["captions/image"]) == 5 * n
    assert f["labels/matrix"].shape == (n, 35)
    s = f["labels/matrix"][...].sum(axis=1)
    assert s.min() >= 1 and s.max() <= 3, (s.min(), s.max())
    print(n, "images,", 5 * n, "captions, 35 labels")
PYF
  then ok "ingest $split: $(tail -1 "$out")"; else bad "ingest $split"; sed 's/^/     | /' "$out" | head -20; fi
done

# A complete folder is skipped; --force rewrites it (same bytes); other settings need --force.
$MPIRUN -np 2 "$HPCLIP" synth-coco "$T/job.cfg" >"$out" 2>&1
grep -q "skipping" "$out" && ok "rerun skips the complete folder" || { bad "rerun did not skip"; cat "$out"; }
$MPIRUN -np 2 "$HPCLIP" synth-coco "$T/job.cfg" --force >"$out" 2>&1 && sums "$T/run/coco" >"$T/force.md5"
if ! grep -q "skipping" "$out" && cmp -s "$T/np1.md5" "$T/force.md5"; then ok "--force rewrites it, same bytes"
else bad "--force"; cat "$out"; fi
expect_fail "other settings without --force" 2 5 'holds a COCO folder written with other settings.*--force replaces it' \
  -- synth-coco "$T/job.cfg" -s run.seed=22
expect_ok "other settings with --force" 2 synth-coco "$T/job.cfg" -s run.seed=22 --force
sums "$T/run/coco" >"$T/seed22.md5"
! cmp -s "$T/np1.md5" "$T/seed22.md5" && ok "other seed, other files" || bad "seed 22 wrote the same files"
rm "$T/run/coco/train2017/000000000001.jpg"
expect_fail "a file missing: incomplete" 2 5 'written incompletely' -- synth-coco "$T/job.cfg" -s run.seed=22
ls "$T/run" | grep -q -e tmp -e old && bad "temporary folder left behind" || ok "no temporary folder left"

# Bad inputs: a key out of range, a folder that is not ours, a file in the way, an unwritable place.
expect_fail "coco_long_side out of range" 2 3 'synth.coco_long_side' -- synth-coco "$T/job.cfg" -s synth.coco_long_side=8
expect_fail "coco_val_images negative" 1 3 'synth.coco_val_images' -- synth-coco "$T/job.cfg" -s synth.coco_val_images=-1
mkdir -p "$T/mine" && echo keep >"$T/mine/notes.txt"
expect_fail "non-empty folder not ours" 2 5 "synth.coco_root = \"$T/mine\" exists, is not empty and was not written by hpclip synth-coco" \
  -- synth-coco "$T/job.cfg" -s synth.coco_root="$T/mine"
[ "$(cat "$T/mine/notes.txt")" = keep ] && ok "that folder is untouched" || bad "that folder was touched"
expect_fail "a file in the way" 2 5 'exists and is not a folder' -- synth-coco "$T/job.cfg" -s synth.coco_root="$T/mine/notes.txt"
expect_fail "parent is a file" 2 5 "synth.coco_root = \"$T/mine/notes.txt/coco\": cannot create" \
  -- synth-coco "$T/job.cfg" -s synth.coco_root="$T/mine/notes.txt/coco"
# Unwritable even for root (tests run as root in containers): /proc takes no new folder.
expect_fail "unwritable place" 2 5 'synth.coco_root = "/proc/hpclip-coco": cannot create a temporary folder beside it' \
  -- synth-coco "$T/job.cfg" -s synth.coco_root=/proc/hpclip-coco
mkdir -p "$T/empty"
expect_ok "an empty folder is used" 2 synth-coco "$T/job.cfg" -s synth.coco_root="$T/empty" -s synth.coco_train_images=5 -s synth.coco_val_images=1
[ -f "$T/empty/hpclip-synth-coco.json" ] && ok "empty folder filled" || bad "empty folder not filled"
finish
