#!/usr/bin/env bash
# cli_webdataset.sh — ingest.format = "webdataset" (issue 20): tar shards as img2dataset writes
# them (KEY.jpg|png + KEY.txt + KEY.json), made here with Python's tarfile from the real Fashion
# images, read through libarchive: the same dataset at 1 and 3 ranks (and 4 ranks: more ranks
# than some shard blocks); brace ranges, globs and lists name the same shards; bad samples (no
# caption, no image, an image that does not decode, an empty caption), a truncated shard (its
# samples before the damage kept) and a file that is not a tar are reported; whole-job problems
# (a missing shard, a glob that matches nothing, a malformed range) fail naming the pattern.
. "$SRC_DIR/tests/cli/lib.sh"
D="$T/wds"
mkdir -p "$D/sub"
$PY - "$SRC_DIR/tests/data/samples/fashion" "$D" <<'EOF'
import csv, io, json, sys, tarfile
src, d = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(src + "/styles.csv")))[:60]
def add(t, name, data):
    ti = tarfile.TarInfo(name); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
def jpg(r): return open("%s/images/%s.jpg" % (src, r["id"]), "rb").read()
for s in range(5):
    with tarfile.open("%s/%05d.tar" % (d, s), "w") as t:
        for k, r in enumerate(rows[s * 10:(s + 1) * 10]):
            key = "%05d/%05d%04d" % (s, s, k)   # keys with a folder part, as img2dataset's
            add(t, key + ".jpg", jpg(r))
            if (s, k) != (1, 3):
                add(t, key + ".txt", r["productDisplayName"].encode())
            add(t, key + ".json", json.dumps({"key": key, "id": r["id"]}).encode())
        if s == 2:
            add(t, "bad/0001.jpg", b"not a jpeg at all")
            add(t, "bad/0001.txt", b"a caption of a broken image")
            add(t, "bad/0002.txt", b"a caption without an image")
            add(t, "bad/0003.jpg", jpg(rows[0]))
            add(t, "bad/0003.txt", b"   \n")
raw = open("%s/00004.tar" % d, "rb").read()
open("%s/00004.tar" % d, "wb").write(raw[:len(raw) // 2])  # truncated in the middle
open("%s/sub/00005.tar" % d, "wb").write(b"this is not a tar archive\n" * 40)
EOF
job() { # name root
  cat >"$T/$1.cfg" <<CFG
run = { dir = "$T/run-$1"; stages = ["ingest"]; seed = 5; };
data = { image_size = 32; vocab_size = 500; };
ingest = { format = "webdataset"; root = "$2"; };
CFG
}

job range "$D/{00000..00004}.tar $D/sub/00005.tar"
for np in 1 3 4; do
  rm -rf "$T/run-range"
  if expect_ok "webdataset ingest, brace range" "$np" ingest "$T/range.cfg"; then
    cp "$T/run-range/dataset.h5" "$T/np$np.h5"; cp "$T/run-range/ingest_report.tsv" "$T/np$np.tsv"
  fi
done
if [ -f "$T/np1.h5" ]; then
  for np in 3 4; do
    e=$(same_h5_data "$T/np1.h5" "$T/np$np.h5" 2>&1) && ok "the same dataset at 1 and $np ranks" || bad "1 vs $np ranks: $e"
    cmp -s "$T/np1.tsv" "$T/np$np.tsv" && ok "the same report at 1 and $np ranks" || bad "reports differ at $np ranks"
  done
  "$HPCLIP" check "$T/np1.h5" >/dev/null 2>&1 && ok "dataset.h5 valid" || bad "dataset.h5 invalid"
  out=$($PY - "$T/np1.h5" "$SRC_DIR/tests/data/samples/fashion/styles.csv" <<'EOF'
import csv, sys, h5py
f = h5py.File(sys.argv[1], "r")
rows = list(csv.DictReader(open(sys.argv[2])))[:60]
def strs(g):
    b, o = g["bytes"][()].tobytes(), g["offsets"][()]
    return [b[o[i]:o[i + 1]].decode() for i in range(len(o) - 1)]
caps, sid = strs(f["captions/text"]), strs(f["source_id"])
# shards 0-3 give 40 samples less the one without a caption; shard 4's first half survives
want = [r["productDisplayName"] for k, r in enumerate(rows[:40]) if k != 13]
assert caps[:39] == want, (caps[:3], want[:3])
assert sid[0] == "wds:00000.tar:00000/000000000" and sid[39].startswith("wds:00004.tar:00004/"), (sid[0], sid[39])
assert 40 < len(caps) < 50, len(caps)
print("%d samples in shard order, captions = the .txt members, source ids name shard and key" % len(caps))
EOF
  ) && ok "$out" || bad "contents: $out"
  for want in "00001.tar:00001/000010003	no caption member (.txt)" "00002.tar:bad/0001	" \
              "00002.tar:bad/0002	no image member" "00002.tar:bad/0003	empty caption" \
              "00004.tar	damaged archive: Truncated tar archive" "00005.tar	"; do
    grep -qF "$want" "$T/np1.tsv" && ok "reported: $want" || bad "not reported: $want"
  done
  grep -q "bad/0001.*not a JPEG or PNG" "$T/np1.tsv" && ok "the broken image's reason" || bad "broken image: $(cat "$T/np1.tsv")"
fi

# the same shards named by a glob and by a brace list
job glob "$D/0000[0-4].tar $D/s*/*.tar"
job list "$D/0000{0,1,2,3,4}.tar $D/sub/00005.tar"
for k in glob list; do
  if expect_ok "webdataset ingest, $k" 2 ingest "$T/$k.cfg" && [ -f "$T/np1.h5" ]; then
    e=$(same_h5_data "$T/np1.h5" "$T/run-$k/dataset.h5" 2>&1) && ok "$k: the same dataset as the range" || bad "$k: $e"
  fi
done

# whole-job problems
job missing "$D/{00000..00009}.tar"
expect_fail "a shard of the range missing" 2 4 "00005.tar: no such shard" -- ingest "$T/missing.cfg"
job noglob "$D/*.tgz"
expect_fail "a glob that matches nothing" 2 4 'tgz" matches no file' -- ingest "$T/noglob.cfg"
job badrange "$D/{00000..x}.tar"
expect_fail "a malformed range" 2 4 "a brace range is \{FIRST..LAST\}" -- ingest "$T/badrange.cfg"
job allbad "$D/sub/00005.tar"
expect_fail "nothing usable" 2 4 "no usable image" -- ingest "$T/allbad.cfg"
finish
