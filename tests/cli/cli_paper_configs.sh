#!/usr/bin/env bash
# cli_paper_configs.sh — the study's 13 job files in conf/paper/ all pass `hpclip config --check`,
# with the dataset roots overridable by -s, and a broken override is reported against its key.
. "$(dirname "$0")/lib.sh"
cd "$SRC_DIR" || exit 1

files=(conf/paper/*.cfg)
if [ ${#files[@]} = 13 ]; then ok "conf/paper holds 13 job files"; else bad "conf/paper holds ${#files[@]} job files, expected 13"; fi
for f in "${files[@]}"; do
  expect_ok "config --check $f" 0 config --check --no-data "$f" # data/coco is the user's
done
for m in "bert4-256-resnet50" "bert8-512-resnet50" "bert12-768-resnet50" "bert12-768-vit16" "bert12-768-vit32"; do
  [ -f "conf/paper/coco-$m.cfg" ] && ok "coco-$m.cfg present" || bad "coco-$m.cfg missing"
done
# The study's protocol reached every file through @include: a key of include/protocol.cfg set
# again in an override is accepted; the data root is overridable.
expect_ok "ingest.root override" 0 config --check --no-data conf/paper/coco-bert4-256-resnet50.cfg \
  -s ingest.root=/elsewhere/coco -s ingest.split=val2014
expect_fail "without --no-data the data folder is checked" 0 4 'ingest.root = "/elsewhere/coco": no such folder' -- \
  config --check conf/paper/coco-bert4-256-resnet50.cfg -s ingest.root=/elsewhere/coco
expect_fail "bad override names its key" 0 3 "model.image=vgg.*not one of" -- \
  config --check conf/paper/coco-bert12-768-vit16.cfg -s model.image=vgg
expect_fail "include fragment alone is not a job" 0 3 "run.dir" -- \
  config --check conf/paper/include/protocol.cfg
finish
