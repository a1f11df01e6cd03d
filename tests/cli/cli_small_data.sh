#!/usr/bin/env bash
# cli_small_data.sh — every stage that partitions rows, on data from 1 to 70 images at 1 to 4
# ranks with batch sizes that do and do not divide the rows (issue 20):
#   1. the reported first run: 30 real images (the Fashion slice through make_coco_json.py) on 2
#      ranks with train.batch = 16 crashed in embed (a rank without a batch read rows [32, 32)
#      of 30); also 31 images on 2 ranks and 40 on 3;
#   2. a rank failing alone ends the job with its error, and the others do not report a
#      preemption ("SIGTERM: stopping this stage") on their way out;
#   3. the grid: synth N images, then embed, search, zeroshot, caption-train, caption, report and
#      cluster at 1, 2, 3 and 4 ranks (one tiny checkpoint trained once): every run either
#      completes or stops with a clear configuration/input error (exit 3 or 4, never 10 or a
#      crash), the outcome is the same at every rank count, and embeddings.h5 is bitwise the
#      same at every rank count;
#   4. training on small data at 1 to 4 ranks: completes, or a clear error.
. "$SRC_DIR/tests/cli/lib.sh"
CFG="$SRC_DIR/conf/quickstart.cfg"
TINY=("${TINY_MODEL[@]}" -s search.split=all -s zeroshot.split=all -s cluster.split=all
      -s caption.split=train -s cluster.k_min=2 -s cluster.k_max=3 -s run.watchdog=120)

# run NP OUT ARGS...: hpclip on NP ranks, output in OUT; the exit status is returned
run() {
  local np=$1 out=$2; shift 2
  timeout 300 $MPIRUN -np "$np" "$HPCLIP" "$@" >"$out" 2>&1
}
show() { grep -v '^\[\|^-\|^ *$\|mpiexec\|Process name\|Exit code\|first process\|the job to be' "$1" | tail -8 | sed 's/^/     | /'; }
crashed() { grep -Eq "Segmentation|AddressSanitizer|runtime error:|core dumped|internal error" "$1"; }

# ---- 1. the reported case: real images, few of them ------------------------------------------
D="$T/own"
mkdir -p "$D/train2017"
ls "$SRC_DIR"/tests/data/samples/fashion/images/*.jpg | head -40 | xargs -I{} cp {} "$D/train2017/"
$PY -c '
import csv, os, sys
have = set(os.listdir(sys.argv[2]))
with open(sys.argv[3], "w") as out:
    for r in csv.DictReader(open(sys.argv[1])):
        if r["id"] + ".jpg" in have:
            out.write("%s.jpg\t%s\t%s\n" % (r["id"], r["productDisplayName"], r["articleType"]))
' "$SRC_DIR/tests/data/samples/fashion/styles.csv" "$D/train2017" "$D/all.tsv"
for c in "30 2 16" "31 2 16" "40 3 12"; do
  set -- $c
  n=$1 np=$2 tb=$3 d="$T/own$n"
  mkdir -p "$d/train2017"
  head -"$n" "$D/all.tsv" >"$d/c.tsv"
  cut -f1 "$d/c.tsv" | while read -r f; do ln -s "$D/train2017/$f" "$d/train2017/$f"; done
  $PY "$SRC_DIR/scripts/make_coco_json.py" "$d/c.tsv" "$d" train2017 >/dev/null
  out="$T/own$n.txt"
  if run "$np" "$out" run "$SRC_DIR/conf/coco.cfg" --run-dir "$d/run" --stages ingest,train,embed \
       -s ingest.root="$d" -s ingest.split=train2017 -s train.batch="$tb" "${TINY[@]}"; then
    ok "$n real images, $np ranks, train.batch $tb: ingest, train, embed complete"
  else
    bad "$n real images, $np ranks, train.batch $tb: exit $?"; show "$out"
  fi
done

# ---- 2. one rank fails alone: the others end quietly -----------------------------------------
G="$T/ck"
if run 1 "$T/ck.txt" run "$CFG" --run-dir "$G" --stages synth,train -s synth.num_images=40 -s train.batch=8 "${TINY[@]}"; then
  ok "tiny checkpoint trained (40 images, 1 rank)"
else
  bad "tiny checkpoint: exit $?"; show "$T/ck.txt"; finish; exit
fi
for i in 1 2 3; do
  out="$T/fail$i.txt"
  HPCLIP_TEST_FAIL=1:embed run 3 "$out" embed "$CFG" --run-dir "$G" --force "${TINY[@]}"
  rc=$?
  if [ $rc = 10 ] && grep -q "HPCLIP_TEST_FAIL: rank 1 fails alone" "$out" && ! grep -q "SIGTERM\|SIGUSR1" "$out"; then
    ok "rank 1 of 3 fails alone in embed (try $i): exit 10, its message, no preemption note from the others"
  else
    bad "rank 1 fails alone (try $i): exit $rc"; show "$out"
  fi
done

# ---- 3. the grid --------------------------------------------------------------------------------
# N, embed.batch, caption.decode_batch, search.shards: batches below, equal to and above N,
# dividing it and not, and more shards than rows
GRID="1:3:1:2 2:1:5:1 3:64:2:4 5:2:3:3 7:4:7:2 9:9:4:1 16:16:3:4 17:8:16:3 30:32:6:2 31:5:8:4 40:7:40:3 70:6:9:4"
for g in $GRID; do
  IFS=: read -r n eb db sh <<<"$g"
  base="$T/g$n"
  # synth itself partitions: made at (n % 4) + 1 ranks
  if ! run $((n % 4 + 1)) "$base.txt" synth "$CFG" --run-dir "$base" -s synth.num_images="$n" "${TINY[@]}"; then
    bad "N=$n: synth at $((n % 4 + 1)) ranks: exit $?"; show "$base.txt"; continue
  fi
  cp "$G/ckpt.h5" "$base/"
  first="" same=1 detail=""
  for np in 1 2 3 4; do
    d="$base.p$np" out="$base.p$np.txt"
    cp -r "$base" "$d"
    run "$np" "$out" run "$CFG" --run-dir "$d" --stages embed,search,zeroshot,caption-train,caption,report,cluster \
      -s synth.num_images="$n" -s embed.batch="$eb" -s caption.decode_batch="$db" -s search.shards="$sh" \
      -s caption.train_batch=2 "${TINY[@]}"
    rc=$?
    msg=$(grep -m1 '^hpclip: ' "$out" | sed -e "s#$d#RUN#g" -e 's/\[rank [0-9]*\]//')
    if crashed "$out" || { [ $rc != 0 ] && [ $rc != 3 ] && [ $rc != 4 ]; } || { [ $rc != 0 ] && [ -z "$msg" ]; }; then
      bad "N=$n at $np ranks (embed.batch $eb, decode_batch $db, shards $sh): exit $rc"
      show "$out"
      same=0
      continue
    fi
    outcome="$rc ${msg:-complete}"
    if [ -z "$first" ]; then first=$outcome; detail=$outcome
    elif [ "$outcome" != "$first" ]; then same=0; detail="1 rank: $first; $np ranks: $outcome"; fi
    if [ ! -f "$d/embeddings.h5" ]; then same=0; detail="$np ranks: no embeddings.h5"
    elif [ "$np" -gt 1 ] && ! e=$(same_h5_data "$base.p1/embeddings.h5" "$d/embeddings.h5" 2>&1); then
      same=0; detail="$np ranks: embeddings.h5 not bitwise equal to 1 rank's: $e"
    fi
  done
  if [ $same = 1 ]; then ok "N=$n, embed.batch $eb, decode_batch $db, shards $sh at 1-4 ranks: same embeddings, same outcome: $(echo "$detail" | cut -c1-140)"
  else bad "N=$n, embed.batch $eb: $detail"; fi
done

# ---- 4. training on small data -----------------------------------------------------------------
for c in "9 1 2" "9 2 2" "17 3 3" "17 4 4" "31 2 6" "31 3 6" "31 4 8"; do
  set -- $c
  n=$1 np=$2 tb=$3 d="$T/t$n.$np"
  run "$np" "$T/t.txt" run "$CFG" --run-dir "$d" --stages synth,train -s synth.num_images="$n" -s train.batch="$tb" \
    "${TINY[@]}"
  rc=$?
  msg=$(grep -m1 '^hpclip: ' "$T/t.txt")
  if [ $rc = 0 ] && "$HPCLIP" check "$d/ckpt.h5" >/dev/null 2>&1; then ok "train: $n images, $np ranks, train.batch $tb: valid ckpt.h5"
  elif { [ $rc = 3 ] || [ $rc = 4 ]; } && ! crashed "$T/t.txt" && [ -n "$msg" ]; then ok "train: $n images, $np ranks, train.batch $tb: $msg"
  else bad "train: $n images, $np ranks, train.batch $tb: exit $rc"; show "$T/t.txt"; fi
done
finish
