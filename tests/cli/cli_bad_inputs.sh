#!/usr/bin/env bash
# Bad inputs on the command line, in job files and in HDF5 files: each must end with a clear
# message naming the file/key/object, the documented exit status, within seconds, on 1, 2 and
# 3 ranks (and without mpirun for `check`), never a crash or a hang.
source "$(dirname "$0")/lib.sh"

cat >"$T/good.cfg" <<CFG
run = { dir = "$T/run"; stages = ["synth"]; seed = 7; };
data = { image_size = 16; };
synth = { num_images = 24; captions_per_image = 2; };
CFG
w() { printf '%s\n' "$2" >"$T/$1.cfg"; }
w syntax       'run = { dir = "x"; seed = ; };'
w unknown      'run = { dir = "x"; };
synth = { num_imgaes = 3; };'
w unknowngrp   'run = { dir = "x"; };
sytnh = { num_images = 3; };'
w wrongtype    'run = { dir = "x"; seed = "seven"; };'
w floatforint  'run = { dir = "x"; };
synth = { num_images = 2.5; };'
w range        'run = { dir = "x"; };
data = { image_size = 100000; };'
w negative     'run = { dir = "x"; };
synth = { num_images = -4; };'
w norundir     'run = { seed = 3; };'
w badenum      'run = { dir = "x"; log_level = "loud"; };'
w badstage     'run = { dir = "x"; stages = ["synth", "trian"]; };'
w fractions    'run = { dir = "x"; };
data = { train_frac = 0.8; val_frac = 0.15; test_frac = 0.15; };'
w groupasval   'run = { dir = "x"; };
data = 5;'
w valasgroup   'run = { dir = "x"; seed = { a = 1; }; };'
w badindex     'run = { dir = "x"; };
search = { index = "annoy"; };'
w badtrees     'run = { dir = "x"; };
search = { index = "forest"; trees = -2; };'
: >"$T/empty.cfg"
# Every stage is implemented now: an unknown stage name, in run.stages and on the command line,
# is rejected before any stage runs.
w notimpl      'run = { dir = "'"$T"'/ni"; stages = ["synth", "captioning"]; };
data = { image_size = 16; };
synth = { num_images = 24; };'

for np in 1 2 3; do
  # command line
  expect_fail "no command"            $np 2 "no command given" --
  expect_fail "unknown command"       $np 2 "unknown command 'frobnicate'" -- frobnicate "$T/good.cfg"
  expect_fail "unknown option"        $np 2 "unknown option '--frob'" -- synth "$T/good.cfg" --frob
  expect_fail "stage without job"     $np 2 "missing JOB.cfg" -- synth
  expect_fail "-s without ="          $np 2 "expected key=value" -- synth "$T/good.cfg" -s synth.num_images
  expect_fail "--run-dir no value"    $np 2 "--run-dir needs a value" -- synth "$T/good.cfg" --run-dir
  expect_fail "--stages unknown"      $np 2 "unknown stage 'bogus'" -- run "$T/good.cfg" --stages synth,bogus
  expect_fail "two job files"         $np 2 "unexpected argument" -- synth "$T/good.cfg" "$T/good.cfg"
  # job files
  expect_fail "missing job file"      $np 3 "$T/nope.cfg.*(cannot|No such)" -- synth "$T/nope.cfg"
  expect_fail "job file is a dir"     $np 3 "$T" -- synth "$T"
  expect_fail "syntax error"          $np 3 "syntax.cfg:1" -- synth "$T/syntax.cfg"
  expect_fail "unknown key"           $np 3 "unknown.cfg:2.*synth.num_imgaes.*did you mean 'synth.num_images'" -- synth "$T/unknown.cfg"
  expect_fail "unknown group"         $np 3 "unknowngrp.cfg:2.*sytnh.*did you mean" -- synth "$T/unknowngrp.cfg"
  expect_fail "wrong type"            $np 3 "wrongtype.cfg:1.*run.seed" -- synth "$T/wrongtype.cfg"
  expect_fail "float for int"         $np 3 "floatforint.cfg:2.*synth.num_images" -- synth "$T/floatforint.cfg"
  expect_fail "out of range"          $np 3 "range.cfg:2.*data.image_size.*1024" -- synth "$T/range.cfg"
  expect_fail "negative count"        $np 3 "negative.cfg:2.*synth.num_images" -- synth "$T/negative.cfg"
  expect_fail "missing required"      $np 3 "run.dir" -- synth "$T/norundir.cfg"
  expect_fail "empty job file"        $np 3 "run.dir" -- synth "$T/empty.cfg"
  expect_fail "bad enum"              $np 3 "badenum.cfg:1.*run.log_level.*quiet" -- synth "$T/badenum.cfg"
  expect_fail "bad stage in list"     $np 3 "badstage.cfg:1.*run.stages.*trian" -- run "$T/badstage.cfg"
  expect_fail "fractions sum"         $np 3 "fractions.cfg.*(train_frac|sum)" -- synth "$T/fractions.cfg"
  expect_fail "group where value"     $np 3 "groupasval.cfg:2.*data" -- synth "$T/groupasval.cfg"
  expect_fail "value where group"     $np 3 "valasgroup.cfg:1.*run.seed" -- synth "$T/valasgroup.cfg"
  expect_fail "override unknown key"  $np 3 "-s synth.nmu_images=3.*did you mean" -- synth "$T/good.cfg" -s synth.nmu_images=3
  expect_fail "override bad int"      $np 3 "-s synth.num_images=lots" -- synth "$T/good.cfg" -s synth.num_images=lots
  expect_fail "override float as int" $np 3 "-s run.seed=1e400" -- synth "$T/good.cfg" -s run.seed=1e400
  expect_fail "override out of range" $np 3 "-s data.image_size=2" -- synth "$T/good.cfg" -s data.image_size=2
  expect_fail "unknown index kind"    $np 3 "badindex.cfg:2.*search.index.*'annoy' is not one of: exact, forest" -- search "$T/badindex.cfg"
  expect_fail "trees <= 0"            $np 3 "badtrees.cfg:2.*search.trees.*out of range \[1, " -- search "$T/badtrees.cfg"
  expect_fail "override index kind"   $np 3 "-s search.index=hnsw.*not one of: exact, forest" -- search "$T/good.cfg" -s search.index=hnsw
  expect_fail "override trees = 0"    $np 3 "-s search.trees=0.*out of range" -- search "$T/good.cfg" -s search.trees=0
  expect_fail "override leaf_size 1"  $np 3 "-s search.leaf_size=1.*out of range" -- search "$T/good.cfg" -s search.leaf_size=1
  expect_fail "override shards = 0"   $np 3 "-s search.shards=0.*out of range" -- search "$T/good.cfg" -s search.shards=0
  expect_fail "config --check bad"    $np 3 "unknown.cfg:2" -- config --check "$T/unknown.cfg"
  expect_fail "unknown stage in run"  $np 3 "notimpl.cfg:1: run.stages: item 2 'captioning' is not one of: .*caption-train, caption" -- run "$T/notimpl.cfg"
  expect_fail "unknown stage command" $np 2 "unknown command 'captioning'" -- captioning "$T/good.cfg"
  : >"$T/plainfile"
  expect_fail "run dir is a file"     $np 5 "run directory $T/plainfile: exists but is not a directory" -- synth "$T/good.cfg" --run-dir "$T/plainfile"
  expect_fail "run dir under a file"  $np 5 "run directory $T/plainfile/sub: cannot create" -- synth "$T/good.cfg" --run-dir "$T/plainfile/sub"
  head -c 3000 /dev/urandom >"$T/garbage.cfg"
  expect_fail "binary job file"       $np 3 "garbage.cfg:[0-9]+: syntax error" -- synth "$T/garbage.cfg"
  expect_fail "check a job file"      $np 4 "good.cfg: not an HDF5 file" -- check "$T/good.cfg"
  if [ -e "$T/ni/dataset.h5" ]; then bad "an unknown stage in run.stages must fail before any stage runs"; fi
done

# HDF5 inputs to `hpclip check` (and to a stage that reads them)
expect_ok "make a valid dataset" 2 synth "$T/good.cfg"
good="$T/run/dataset.h5"
expect_ok "check valid dataset" 0 check "$good"
printf '' >"$T/empty.h5"
head -c 4096 /dev/urandom >"$T/random.h5"
head -c 3000 "$good" >"$T/truncated.h5"
sz=$(stat -c %s "$good"); head -c $((sz / 2)) "$good" >"$T/half.h5"
mkdir -p "$T/dir.h5"
$PY - "$T/foreign.h5" <<'PYF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f.create_dataset("data", data=np.arange(10))
PYF
for np in 0 1 2 3; do
  expect_fail "check nonexistent"  $np 4 "$T/nope.h5" -- check "$T/nope.h5"
  expect_fail "check empty file"   $np 4 "$T/empty.h5" -- check "$T/empty.h5"
  expect_fail "check random bytes" $np 4 "$T/random.h5" -- check "$T/random.h5"
  expect_fail "check truncated"    $np 4 "$T/truncated.h5" -- check "$T/truncated.h5"
  expect_fail "check half file"    $np 4 "$T/half.h5" -- check "$T/half.h5"
  expect_fail "check directory"    $np 4 "$T/dir.h5" -- check "$T/dir.h5"
  expect_fail "check foreign h5"   $np 4 "foreign.h5.*schema" -- check "$T/foreign.h5"
done
# Variable-length UTF-8 string attributes (h5py's default) are as valid as fixed-length ones.
$PY "$SRC_DIR/tests/cli/tamper.py" "$good" "$T/vlen.h5" vlen_attrs && expect_ok "check variable-length UTF-8 attributes" 0 check "$T/vlen.h5"
for c in wrong_schema wrong_version no_schema_attr missing_images float_images images_rank3 \
         images_4_channels caption_index_out_of_range caption_index_negative offsets_decreasing \
         offsets_past_end labels_wrong_width split_bad_value split_wrong_length caption_count_mismatch \
         huge_images huge_image_side overflow_dims huge_captions huge_text_bytes offsets_huge \
         chunked_huge_images; do
  $PY "$SRC_DIR/tests/cli/tamper.py" "$good" "$T/$c.h5" $c || { bad "tamper $c"; continue; }
  case $c in
    wrong_schema|no_schema_attr) re="schema" ;;
    wrong_version) re="(version|schema_version)" ;;
    missing_images|float_images|images_rank3|images_4_channels) re="/images" ;;
    huge_images|overflow_dims|chunked_huge_images) re="/images: dim 0 \\(N\\) is [0-9]+, outside the sane range" ;;
    huge_image_side) re="/images: dim 1 .*outside the sane range" ;;
    huge_captions) re="/captions/image: dim 0 \\(M\\).*outside the sane range" ;;
    huge_text_bytes) re="/captions/text/bytes: declares [0-9]+ bytes of data but the file stores only" ;;
    offsets_huge) re="/captions/text/offsets: .* past the end" ;;
    caption_index_*|caption_count_mismatch) re="/captions" ;;
    offsets_*) re="/captions/text" ;;
    labels_wrong_width) re="/labels" ;;
    split_*) re="/split" ;;
  esac
  for np in 0 2 3; do
    expect_fail "check $c" $np 4 "$c.h5.*$re" -- check "$T/$c.h5"
  done
done
finish
