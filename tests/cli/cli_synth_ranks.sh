#!/usr/bin/env bash
# The synth stage end to end: the dataset is byte-identical (h5diff clean) for 1, 2 and 3 ranks,
# readable by h5dump and h5py, valid under `hpclip check`; a rerun skips the complete stage,
# --force and a changed key rerun it, a damaged output is rebuilt.
source "$(dirname "$0")/lib.sh"
cfg="$T/job.cfg"
cat >"$cfg" <<CFG
run = { dir = "$T/run"; stages = ["synth"]; seed = 11; };
data = { image_size = 32; };
synth = { num_images = 57; captions_per_image = 3; };
CFG
out="$T/log.txt"
for np in 1 2 3; do
  # Same run directory for every rank count, so the stored config text is identical too.
  rm -rf "$T/run"
  if $MPIRUN -np $np "$HPCLIP" run "$cfg" >"$out" 2>&1; then ok "synth on $np ranks"; else bad "synth on $np ranks"; cat "$out"; fi
  cp "$T/run/dataset.h5" "$T/np$np.h5" 2>/dev/null
done
for np in 2 3; do
  if h5diff "$T/np1.h5" "$T/np$np.h5" >"$out" 2>&1; then ok "h5diff 1 vs $np ranks: identical"
  else bad "h5diff 1 vs $np ranks"; head -20 "$out"; fi
  if cmp "$T/np1.h5" "$T/np$np.h5" >"$out" 2>&1; then ok "cmp 1 vs $np ranks: byte-identical files"
  else bad "cmp 1 vs $np ranks: $(cat "$out")"; fi
done
if "$HPCLIP" check "$T/np1.h5" >"$out" 2>&1; then ok "hpclip check"; else bad "hpclip check"; cat "$out"; fi
if h5dump -H "$T/np1.h5" >"$out" 2>&1 && grep -q '"/images"\|DATASET "images"' "$out"; then ok "h5dump reads it"; else bad "h5dump"; head "$out"; fi
if $PY - "$T/np1.h5" >"$out" 2>&1 <<'PYF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    assert f.attrs["schema"] in (b"hpclip.dataset", "hpclip.dataset"), f.attrs["schema"]
    img = f["images"]
    assert img.shape == (57, 32, 32, 3) and img.dtype == np.uint8, (img.shape, img.dtype)
    off = f["captions/text/offsets"][...]
    txt = f["captions/text/bytes"][...].tobytes()
    caps = [txt[off[k]:off[k + 1]].decode() for k in range(len(off) - 1)]
    idx = f["captions/image"][...]
    assert len(caps) == 57 * 3 and len(idx) == len(caps) and idx.min() == 0 and idx.max() == 56
    assert all(len(c) > 5 for c in caps), caps[:3]
    split = f["split"][...]
    assert sorted(set(split.tolist())) == [0, 1, 2]
    assert abs((split == 0).sum() - round(57 * 0.7)) <= 1
    lab = f["labels/matrix"]
    assert lab.shape[0] == 57 and lab.shape[1] == len(f["labels/names/offsets"]) - 1
    assert img[...].std() > 5  # not a blank image set
    print("h5py ok:", caps[0])
PYF
then ok "h5py reads it: $(tail -1 "$out")"; else bad "h5py"; cat "$out"; fi

# Skip, --force, changed key, damaged output.
$MPIRUN -np 2 "$HPCLIP" run "$cfg" >"$out" 2>&1
if grep -q "skipping" "$out"; then ok "rerun skips the complete stage"; else bad "rerun did not skip"; cat "$out"; fi
$MPIRUN -np 2 "$HPCLIP" run "$cfg" --force >"$out" 2>&1
if ! grep -q "skipping" "$out" && grep -q "stage synth: done" "$out"; then ok "--force reruns"; else bad "--force"; cat "$out"; fi
$MPIRUN -np 2 "$HPCLIP" synth "$cfg" -s synth.noise=0.2 >"$out" 2>&1
if ! grep -q "skipping" "$out"; then ok "changed key reruns"; else bad "changed key skipped"; cat "$out"; fi
$MPIRUN -np 2 "$HPCLIP" synth "$cfg" -s synth.noise=0.2 -s run.name=other >"$out" 2>&1
if grep -q "skipping" "$out"; then ok "key outside the stage's inputs does not rerun"; else bad "run.name change reran synth"; cat "$out"; fi
head -c 5000 "$T/run/dataset.h5" >"$T/cut" && mv "$T/cut" "$T/run/dataset.h5"
$MPIRUN -np 2 "$HPCLIP" run "$cfg" >"$out" 2>&1
if ! grep -q "skipping" "$out" && "$HPCLIP" check "$T/run/dataset.h5" >/dev/null 2>&1; then ok "damaged output is rebuilt"; else bad "damaged output"; cat "$out"; fi
ls "$T/run" | grep -q tmp && bad "temporary file left behind" || ok "no temporary file left"
finish
