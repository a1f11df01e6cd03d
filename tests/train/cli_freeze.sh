#!/usr/bin/env bash
# cli_freeze.sh — train.freeze (OpenCLIP's --lock-image / --lock-text; "image" is LiT) and
# train.init_checkpoint's tokenizer check: from a trained checkpoint, training with the image tower
# locked leaves every visual.* and visual_projection.* tensor bit-identical to the initial
# checkpoint and changes the text tower, and the other way round; the log says how many
# parameters are locked; an initial checkpoint whose tokenizer is not the job's (another kind, or
# one entry changed) is refused naming the difference.
. "$SRC_DIR/tests/cli/lib.sh"
CFG="$SRC_DIR/conf/quickstart.cfg"
TINY=("${TINY_MODEL[@]}" -s run.watchdog=300)
A="$T/a"
expect_ok "initial model: synth, train" 2 run "$CFG" --run-dir "$A" --stages synth,train "${TINY[@]}" || { finish; exit 1; }
for which in image text; do
  R="$T/$which"; mkdir -p "$R"; cp "$A/dataset.h5" "$R/"
  if expect_ok "train.freeze = $which from the initial model" 2 train "$CFG" --run-dir "$R" "${TINY[@]}" \
       -s train.freeze=$which -s train.init_checkpoint="$A/ckpt.h5" -s run.seed=9; then
    grep -qE "the $which tower is locked \(train.freeze\): [0-9]+ parameters not trained" "$T/out.txt" \
      && ok "$which: the log counts the locked parameters" || bad "$which: no 'locked' line"
    out=$($PY - "$A/ckpt.h5" "$R/ckpt.h5" "$which" <<'PYEOF'
import sys, h5py, numpy as np
a, b, which = h5py.File(sys.argv[1], "r")["params"], h5py.File(sys.argv[2], "r")["params"], sys.argv[3]
locked = ("visual.", "visual_projection.") if which == "image" else ("text.", "text_projection.")
same = changed = 0
for n in a:
    x, y = a[n][()], b[n][()]
    if n.startswith(locked):
        assert np.array_equal(x, y), "%s changed although locked" % n
        same += 1
    elif n != "logit_scale":
        changed += not np.array_equal(x, y)
assert same > 0 and changed > 0, (same, changed)
print("%d locked tensors bit-identical to the initial checkpoint, %d trained tensors changed" % (same, changed))
PYEOF
    ) && ok "$which: $out" || bad "$which: $out"
  fi
done
# the initial checkpoint's tokenizer must be the job's
$PY - "$A/dataset.h5" "$T/v1.txt" "$T/v2.txt" <<'PYEOF'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
b, o = f["vocab/bytes"][()].tobytes(), f["vocab/offsets"][()]
words = [b[o[k]:o[k + 1]].decode() for k in range(len(o) - 1)]
v = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + [w for w in words[2:] if w]
open(sys.argv[2], "w").write("".join(w + "\n" for w in v))
v[10] = "zzzchanged"
open(sys.argv[3], "w").write("".join(w + "\n" for w in v))
PYEOF
W="$T/w"; mkdir -p "$W"; cp "$A/dataset.h5" "$W/"
if expect_ok "a wordpiece model" 2 train "$CFG" --run-dir "$W" "${TINY[@]}" -s model.tokenizer=wordpiece -s model.tokenizer_file="$T/v1.txt"; then
  W2="$T/w2"; mkdir -p "$W2"; cp "$A/dataset.h5" "$W2/"
  expect_fail "init from a checkpoint with one vocabulary entry changed" 2 4 'its tokenizer.s vocabulary differs from this job.s at id 10 \("[a-z]+" and "zzzchanged"\)' \
    -- train "$CFG" --run-dir "$W2" "${TINY[@]}" -s model.tokenizer=wordpiece -s model.tokenizer_file="$T/v2.txt" -s train.init_checkpoint="$W/ckpt.h5"
fi
# another kind with as many ids as the word vocabulary: the model descriptions agree, the tokenizers not
head -n -2 "$T/v1.txt" >"$T/v3.txt"
W3="$T/w3"; mkdir -p "$W3"; cp "$A/dataset.h5" "$W3/"
expect_fail "init from a checkpoint of another tokenizer kind" 2 4 'its tokenizer is "word", this job.s "wordpiece' \
  -- train "$CFG" --run-dir "$W3" "${TINY[@]}" -s model.tokenizer=wordpiece -s model.tokenizer_file="$T/v3.txt" \
     -s train.init_checkpoint="$A/ckpt.h5"
finish
