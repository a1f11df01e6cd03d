#!/usr/bin/env bash
# cli_preflight.sh — checks before a job, not minutes into it (issue 20): `hpclip config --check
# JOB.cfg [--np N]` and the start of `hpclip run` find a dataset folder in another layout (and
# say which one it looks like), a missing table or shard, a global batch that the rank count does
# not divide or that the known training split cannot fill, a bad elbow range — all problems in
# one message; stage names get "did you mean"; `hpclip STAGE --help`; `hpclip config --print`.
. "$SRC_DIR/tests/cli/lib.sh"
S="$SRC_DIR/tests/data/samples"
C="$SRC_DIR/conf/coco.cfg"

expect_ok "the ready COCO job is valid" 0 config --check "$C" -s ingest.root="$S/coco"
grep -q "coco.cfg: valid" "$T/out.txt" && ok "config --check says valid" || bad "config --check output: $(cat "$T/out.txt")"
expect_ok "and for 2 ranks" 0 config --check "$C" --np 2 -s ingest.root="$S/coco"

expect_fail "a ROCO folder given as COCO" 0 4 \
  'no annotations/captions_train2017.json \(the captions of that split\) for ingest.format = "coco"; it looks like ROCO \(ingest.format = "roco"\)' \
  -- config --check "$C" -s ingest.root="$S/roco"
expect_fail "a Fashion folder given as ROCO" 0 4 'it looks like Fashion Product \(ingest.format = "fashion"\)' \
  -- config --check "$SRC_DIR/conf/roco.cfg" -s ingest.root="$S/fashion"
expect_fail "no such folder" 0 4 'ingest.root = ".*/nowhere": no such folder' -- config --check "$C" -s ingest.root="$T/nowhere"
expect_fail "a table that is a folder" 0 4 'a folder; ingest.format = "csv" reads a CSV/TSV table file; it looks like COCO' \
  -- config --check "$C" -s ingest.format=csv -s ingest.root="$S/coco" -s ingest.split=
touch "$T/00000.tar" "$T/00001.tar" "$T/00002.tar"
expect_fail "a missing shard" 0 4 '00003.tar: no such shard' \
  -- config --check "$C" -s ingest.format=webdataset -s "ingest.root=$T/{00000..00003}.tar" -s ingest.split=
expect_fail "a split name COCO does not have" 0 3 'ingest.split: "train2019" is not a COCO split' \
  -- config --check "$C" -s ingest.root="$S/coco" -s ingest.split=train2019
expect_fail "train.batch and 3 ranks" 0 3 'train.batch = 32 is not divisible by the 3 ranks of this job .*: use 30 or 33' \
  -- config --check "$C" --np 3 -s ingest.root="$S/coco"
expect_fail "three problems at once" 0 3 \
  '3 problems found before running anything:' \
  -- config --check "$SRC_DIR/conf/quickstart.cfg" -s synth.num_images=19 -s train.batch=32 -s cluster.k_min=1
for want in "train.batch = 32 is larger than the 13 training images" "cluster.k_min = 1: the elbow range starts at 2" \
            "cluster.k_max = 20 exceeds the 19 images"; do
  grep -qF "$want" "$T/out.txt" && ok "listed: $want" || bad "not listed: $want"
done

# `hpclip run` checks first: nothing starts
expect_fail "run stops before the first stage" 2 4 "it looks like ROCO" \
  -- run "$C" --run-dir "$T/run" -s ingest.root="$S/roco"
grep -q "stage ingest: start" "$T/out.txt" && bad "a stage started" || ok "no stage started"
[ -e "$T/run/dataset.h5" ] && bad "dataset.h5 written" || ok "nothing written"
expect_fail "run checks the rank count" 3 3 "train.batch = 32 is not divisible by the 3 ranks" \
  -- run "$C" --run-dir "$T/run" -s ingest.root="$S/coco"

# names
expect_fail "a misspelt stage" 0 2 "unknown command 'embd' \(did you mean 'embed'\?\)" -- embd "$C"
expect_fail "a misspelt stage in --stages" 0 2 "unknown stage 'trian' \(did you mean 'train'\?\)" -- run "$C" --stages ingest,trian
expect_fail "--np without a count" 0 2 "--np needs a rank count" -- config --check "$C" --np x

# help and the effective configuration
if expect_ok "embed --help" 0 embed --help; then
  for want in "hpclip embed — embed every image and caption" "reads (in the run directory): dataset.h5 ckpt.h5" \
              "writes: embeddings.h5" "embed.batch (int, default"; do
    grep -qF "$want" "$T/out.txt" && ok "embed --help: $want" || bad "embed --help lacks: $want"
  done
fi
if expect_ok "config --print" 0 config --print "$C" -s train.batch=8 -s ingest.root=/data/coco; then
  grep -q "batch = 8;" "$T/out.txt" && grep -q 'root = "/data/coco";' "$T/out.txt" && grep -q "vocab_size = 15000;" "$T/out.txt" \
    && ok "config --print: the overrides and the file's values" || bad "config --print: $(head -30 "$T/out.txt")"
fi
finish
