#!/bin/bash
# cli_caption_ranks.sh — captioning on the tiny pipeline: caption-train once (2 ranks), then
# `caption` at 1, 2 and 3 ranks (greedy and beam search): results.h5 /caption and caption.md
# identical; caption_ckpt.h5 valid and ckpt.h5 untouched; caption-train restart after a crash
# ends bitwise equal to an uninterrupted run; caption-train at 1 vs 3 ranks agrees to rounding;
# the guard rails (missing decoder, another decoder shape, stale embeddings, embeddings of
# another model, no validation split, batch larger than the split) fail with clear messages.
. "$SRC_DIR/tests/cli/lib.sh"
CFG="$SRC_DIR/tests/eval/tiny.cfg"
notiming() { sed '/^<!-- timing -->$/,/^<!-- \/timing -->$/d' "$1"; }
# a small decoder: seconds per run
CAP=(-s caption.width=32 -s caption.ffn=64 -s caption.heads=2 -s caption.train_batch=16 -s caption.train_epochs=2
     -s caption.decode_batch=5 -s caption.examples=3)
h5param() { h5diff "$1" "$2" /params >/dev/null 2>&1; }
if expect_ok "synth+train+embed" 2 run "$CFG" --run-dir "$T/base" --stages synth,train,embed; then
  expect_fail "caption before caption-train" 2 4 "stage caption needs .*caption_ckpt.h5, which does not exist" -- \
    caption "$CFG" --run-dir "$T/base" "${CAP[@]}"
  md5a=$(md5sum <"$T/base/ckpt.h5")
  if expect_ok "caption-train" 2 caption-train "$CFG" --run-dir "$T/base" "${CAP[@]}"; then
    grep -Eq "caption-train: epoch 2: train loss [0-9.]+ .*validation token accuracy" "$T/out.txt" && ok "epochs logged" \
      || bad "no epoch log line"
    "$HPCLIP" check "$T/base/caption_ckpt.h5" >/dev/null 2>&1 && ok "caption_ckpt.h5 valid" || bad "caption_ckpt.h5 invalid"
    [ "$(md5sum <"$T/base/ckpt.h5")" = "$md5a" ] && ok "ckpt.h5 untouched by caption-train" || bad "ckpt.h5 changed"
    [ ! -e "$T/base/caption-train-state.h5" ] && [ ! -e "$T/base/caption-train-best.h5" ] && ok "restart files removed" \
      || bad "restart files left behind"
    expect_ok "caption-train again" 2 caption-train "$CFG" --run-dir "$T/base" "${CAP[@]}" \
      && grep -q "skipping" "$T/out.txt" && ok "complete caption_ckpt.h5 skipped" || bad "caption-train not skipped"
  fi
  # restart: a crash after epoch 1 (test hook), then a rerun resumes -> the same decoder bitwise
  mkdir -p "$T/rs" && cp "$T/base/dataset.h5" "$T/base/ckpt.h5" "$T/base/embeddings.h5" "$T/rs/"
  HPCLIP_TEST_FAIL_AFTER_EPOCH=1 expect_fail "crash after epoch 1" 2 10 "FAIL_AFTER_EPOCH=1" -- \
    caption-train "$CFG" --run-dir "$T/rs" "${CAP[@]}"
  [ -e "$T/rs/caption-train-state.h5" ] && ok "restart state after epoch 1" || bad "no caption-train-state.h5"
  if expect_ok "resume" 2 caption-train "$CFG" --run-dir "$T/rs" "${CAP[@]}"; then
    grep -q "resuming from .*after epoch 1" "$T/out.txt" && ok "resumed after epoch 1" || bad "did not resume"
    h5param "$T/base/caption_ckpt.h5" "$T/rs/caption_ckpt.h5" && ok "resumed decoder = uninterrupted (bitwise)" \
      || bad "resumed decoder differs"
  fi
  # caption-train at 3 ranks: same samples, dropout masks and batches; gradients summed in another
  # order, so equal to rounding (the validation accuracy of the best epoch is printed)
  mkdir -p "$T/t3" && cp "$T/base/dataset.h5" "$T/base/ckpt.h5" "$T/base/embeddings.h5" "$T/t3/"
  # (RMSprop divides by the root of the squared-gradient average, so elements whose exact gradient
  # is ~0 move by rounding noise: compare the validation accuracy curve, not the parameters)
  if expect_ok "caption-train 3 ranks" 3 caption-train "$CFG" --run-dir "$T/t3" "${CAP[@]}"; then
    a2=$(h5dump -a /state -y "$T/base/caption_ckpt.h5" | grep -o "val_accuracy=[0-9.]*" | cut -d= -f2)
    a3=$(h5dump -a /state -y "$T/t3/caption_ckpt.h5" | grep -o "val_accuracy=[0-9.]*" | cut -d= -f2)
    awk -v a="$a2" -v b="$a3" 'BEGIN { d = a - b; exit !(a > 0 && d < 0.02 && d > -0.02) }' \
      && ok "validation token accuracy 2 ranks $a2, 3 ranks $a3 (within 0.02)" || bad "2 ranks $a2 vs 3 ranks $a3"
  fi
  # caption at 1, 2, 3 ranks, greedy then beam search
  for mode in greedy beam; do
    extra=(); [ $mode = beam ] && extra=(-s caption.beam=3)
    for np in 1 2 3; do
      mkdir -p "$T/$mode$np" && cp "$T/base/"{dataset,ckpt,embeddings,caption_ckpt}.h5 "$T/$mode$np/"
      expect_ok "caption $mode" $np caption "$CFG" --run-dir "$T/$mode$np" "${CAP[@]}" "${extra[@]}"
      cp "$T/out.txt" "$T/log-$mode$np.txt"
    done
    "$HPCLIP" check "$T/${mode}2/results.h5" >/dev/null 2>&1 && ok "results.h5 valid ($mode)" || bad "results.h5 invalid"
    for np in 2 3; do
      for o in /caption/scores /caption/images /caption/cider_per_image /caption/captions /caption/example_references; do
        h5diff "$T/${mode}1/results.h5" "$T/$mode$np/results.h5" $o >/dev/null \
          && ok "$o ($mode): 1 = $np ranks" || bad "$o ($mode) differs between 1 and $np ranks"
      done
      cmp -s <(notiming "$T/${mode}1/caption.md") <(notiming "$T/$mode$np/caption.md") \
        && ok "caption.md ($mode): 1 = $np ranks" || bad "caption.md ($mode) differs between 1 and $np ranks"
    done
  done
  # the log carries one line per mode; the table is in caption.md (stdout only at run.log_level = debug)
  grep -q "caption: (a) image embedding directly: BLEU-1 .* CIDEr-D " "$T/log-greedy2.txt" && grep -q \
    "caption: (b) support-memory projection: BLEU-1 .* CIDEr-D " "$T/log-greedy2.txt" \
    && ok "both modes' BLEU/CIDEr-D logged" || bad "BLEU/CIDEr-D lines not logged"
  grep -q "| (b) support-memory projection | " "$T/greedy2/caption.md" \
    && ok "score table in caption.md" || bad "score table not in caption.md"
  grep -q "^| (a) image embedding" "$T/log-greedy2.txt" && bad "score table on stdout at run.log_level info" || ok "no table on stdout"
  grep -Eq "^\| [0-9]+ \| .* \| .* \| .* \|$" "$T/greedy2/caption.md" && ok "example captions in caption.md" \
    || bad "no example rows"
  grep -Eq "captions/s" "$T/log-greedy2.txt" && ok "captions/s logged" || bad "no throughput line"
  expect_ok "report" 2 report "$CFG" --run-dir "$T/greedy2" && grep -q "support-memory projection" \
    "$T/greedy2/summary.md" && ok "caption.md included in summary.md" || bad "summary.md lacks the captioning table"
  # guard rails
  expect_fail "another decoder shape" 2 4 "caption_ckpt.h5: checkpoint of model 'capdec\(.*D=32.*this job's config describes 'capdec\(.*D=48" \
    -- caption "$CFG" --run-dir "$T/greedy2" "${CAP[@]}" -s caption.width=48 --force
  # a decoder whose vocabulary is not the dataset's (one letter of /vocab changed in caption_ckpt.h5)
  mkdir -p "$T/voc" && cp "$T/base/"{dataset,ckpt,embeddings,caption_ckpt}.h5 "$T/voc/"
  if $PY - "$T/voc/caption_ckpt.h5" <<'PYEOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r+") as f:
    b = f["/vocab/bytes"][...]
    i = int(np.nonzero((b >= ord("a")) & (b < ord("z")))[0][0])
    b[i] += 1
    f["/vocab/bytes"][...] = b
PYEOF
  then
    expect_fail "decoder of another vocabulary" 2 4 "caption_ckpt.h5: /vocab \([0-9]+ words\) is not the vocabulary of .*dataset.h5" \
      -- caption "$CFG" --run-dir "$T/voc" "${CAP[@]}"
  else bad "could not tamper with /vocab"; fi
  expect_ok "re-embed (another batch)" 2 embed "$CFG" --run-dir "$T/greedy2" -s embed.batch=5 --force
  expect_fail "stale decoder" 2 4 "decoder trained on embeddings [0-9a-f]+, but .*embeddings.h5 is [0-9a-f]+ .*rerun caption-train" \
    -- caption "$CFG" --run-dir "$T/greedy2" "${CAP[@]}" --force
  mkdir -p "$T/other"
  if expect_ok "another CLIP model" 2 run "$CFG" --run-dir "$T/other" --stages synth,train -s run.seed=8 -s synth.num_images=150; then
    cp "$T/other/ckpt.h5" "$T/greedy2/ckpt.h5"
    expect_fail "embeddings of another model" 2 4 "embeddings of model checkpoint [0-9a-f]+, but .*ckpt.h5 is [0-9a-f]+ .*rerun embed" \
      -- caption-train "$CFG" --run-dir "$T/greedy2" "${CAP[@]}" --force
  fi
  expect_fail "batch above the split" 2 4 "training captions, fewer than one global batch \(caption.train_batch = 100000\)" \
    -- caption-train "$CFG" --run-dir "$T/base" "${CAP[@]}" -s caption.train_batch=100000 --force
  # a dataset without validation images (the CLIP checkpoint of base embeds it: same vocabulary)
  if expect_ok "dataset without validation" 2 synth "$CFG" --run-dir "$T/noval" -s data.train_frac=0.8 -s data.val_frac=0 \
      -s data.test_frac=0.2; then
    cp "$T/base/ckpt.h5" "$T/noval/"
    expect_ok "embed it" 2 embed "$CFG" --run-dir "$T/noval" \
      && expect_fail "empty validation split" 2 4 "validation split has no captions" -- caption-train "$CFG" --run-dir "$T/noval" "${CAP[@]}"
  fi
fi
finish
