#!/usr/bin/env bash
# cli_tokenizer_pipeline.sh — model.tokenizer through the pipeline: train with BERT's WordPiece
# over a vocab.txt (learnt here from the captions), and the checkpoint carries it: ckpt.h5 holds
# the tokenizer attribute and the vocab.txt entries as /vocab, the model's V is the vocab.txt's
# size, embed/search/zeroshot encode text with the checkpoint's tokenizer (the same embeddings at
# 1 and 2 ranks); a checkpoint from before the attribute (word-level, no attribute) embeds as
# before; model.image_mean/std travel in the model description (embed with other values
# refuses); the configuration errors are named (a tokenizer file for the word tokenizer,
# wordpiece without a file, bpe with the BERT tower, a vocab.txt without [CLS], a bad std).
. "$SRC_DIR/tests/cli/lib.sh"
CFG="$SRC_DIR/conf/quickstart.cfg"
TINY=("${TINY_MODEL[@]}" -s run.watchdog=300)
R="$T/run"
# the word-level run first: its dataset's captions make the vocab.txt
if expect_ok "word tokenizer: synth, train, embed" 2 run "$CFG" --run-dir "$R" --stages synth,train,embed "${TINY[@]}"; then
  $PY - "$R/dataset.h5" "$T/vocab.txt" <<'PYEOF'
import sys, h5py, collections, re
f = h5py.File(sys.argv[1], "r")
b, o = f["captions/text/bytes"][()].tobytes(), f["captions/text/offsets"][()]
words = collections.Counter()
for k in range(len(o) - 1):
    words.update(re.findall(r"\w+|[^\w\s]", b[o[k]:o[k + 1]].decode().lower()))
vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + [w for w, _ in words.most_common(60)]
vocab += ["##" + c for c in "abcdefghijklmnopqrstuvwxyz"] + list("abcdefghijklmnopqrstuvwxyz")
seen, out = set(), []
for v in vocab:
    if v not in seen: seen.add(v); out.append(v)
open(sys.argv[2], "w").write("".join(v + "\n" for v in out))
PYEOF
fi
V=$(wc -l <"$T/vocab.txt")
WP=(-s model.tokenizer=wordpiece -s model.tokenizer_file="$T/vocab.txt")
W="$T/wp"
if expect_ok "wordpiece: train, embed, search, zeroshot (2 ranks)" 2 run "$CFG" --run-dir "$W" --stages synth,train,embed,search,zeroshot \
     "${TINY[@]}" "${WP[@]}"; then
  out=$($PY - "$W/ckpt.h5" "$T/vocab.txt" <<'PYEOF'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
spec = f.attrs["tokenizer"]; spec = spec.decode() if isinstance(spec, bytes) else spec
b, o = f["vocab/bytes"][()].tobytes(), f["vocab/offsets"][()]
entries = [b[o[k]:o[k + 1]].decode() for k in range(len(o) - 1)]
want = open(sys.argv[2]).read().split("\n")[:-1]
model = f.attrs["model"]; model = model.decode() if isinstance(model, bytes) else model
assert spec == "wordpiece lowercase=1 strip_accents=1", spec
assert entries == want, (entries[:6], want[:6])
assert "bert(V=%d," % len(want) in model, model
print("ckpt.h5: tokenizer '%s', /vocab = the %d vocab.txt entries, model V = %d" % (spec, len(want), len(want)))
PYEOF
  ) && ok "$out" || bad "wordpiece checkpoint: $out"
  if expect_ok "wordpiece: report" 1 report "$CFG" --run-dir "$W" "${TINY[@]}" "${WP[@]}"; then
    grep -q "tokenizer \`wordpiece lowercase=1 strip_accents=1\`" "$W/summary.md" && ok "summary.md names the tokenizer" \
      || bad "summary.md: $(grep -m1 'Model' "$W/summary.md")"
  fi
  # the evaluation stages take the tokenizer from the checkpoint: the same embeddings at 1 rank
  cp -r "$W" "$T/wp1"; rm -f "$T/wp1/embeddings.h5"
  if expect_ok "wordpiece: embed again at 1 rank" 1 embed "$CFG" --run-dir "$T/wp1" "${TINY[@]}" "${WP[@]}"; then
    e=$(same_h5_data "$W/embeddings.h5" "$T/wp1/embeddings.h5" 2>&1) && ok "wordpiece embeddings identical at 1 and 2 ranks" || bad "1 vs 2 ranks: $e"
  fi
fi
# a checkpoint written before the tokenizer attribute (word-level, /vocab only) embeds as before
if [ -f "$R/embeddings.h5" ]; then
  cp -r "$R" "$T/old"; rm -f "$T/old/embeddings.h5"
  $PY -c "import h5py,sys; f=h5py.File(sys.argv[1],'a'); del f.attrs['tokenizer']" "$T/old/ckpt.h5"
  if expect_ok "a checkpoint without the tokenizer attribute: embed" 2 embed "$CFG" --run-dir "$T/old" "${TINY[@]}"; then
    e=$(same_h5_data "$R/embeddings.h5" "$T/old/embeddings.h5" 2>&1) && ok "no attribute = the word tokenizer: the same embeddings" || bad "old checkpoint: $e"
  fi
fi
# model.image_mean / image_std travel in the model description: embed with other values refuses
N="$T/norm"
NORM=(-s model.image_mean=0.48145466,0.4578275,0.40821073 -s model.image_std=0.26862954,0.26130258,0.27577711)
if expect_ok "own pixel normalisation: synth, train" 2 run "$CFG" --run-dir "$N" --stages synth,train "${TINY[@]}" "${NORM[@]}"; then
  $PY -c "import h5py,sys; m=h5py.File(sys.argv[1]).attrs['model']; m=m.decode() if isinstance(m,bytes) else m; assert ',mean=0.48145467:0.457827508:0.408210725,std=0.268629551:0.26130259:0.275777102)' in m, m; print(m)" "$N/ckpt.h5" >"$T/desc.txt" 2>&1 \
    && ok "ckpt.h5 model description carries it: $(grep -o 'vit([^)]*)' "$T/desc.txt")" || bad "description: $(cat "$T/desc.txt")"
  expect_fail "embed with the tower's default normalisation" 2 4 "checkpoint of model .*mean=.* but this job's config describes" \
    -- embed "$CFG" --run-dir "$N" "${TINY[@]}"
  expect_ok "embed with the same normalisation" 2 embed "$CFG" --run-dir "$N" "${TINY[@]}" "${NORM[@]}"
fi
expect_fail "a bad model.image_std" 1 3 'model.image_std = "0.5,0,0.5": must be three numbers "r,g,b" above 0' \
  -- train "$CFG" --run-dir "$N" "${TINY[@]}" -s model.image_std=0.5,0,0.5 --force

# configuration errors
expect_fail "a tokenizer file for the word tokenizer" 1 3 'model.tokenizer_file = ".*vocab.txt" is for model.tokenizer = "wordpiece" or "bpe"' \
  -- train "$CFG" --run-dir "$R" "${TINY[@]}" -s model.tokenizer_file="$T/vocab.txt" --force
expect_fail "wordpiece without a file" 1 3 'model.tokenizer = "wordpiece" needs model.tokenizer_file' \
  -- train "$CFG" --run-dir "$R" "${TINY[@]}" -s model.tokenizer=wordpiece --force
expect_fail "bpe with the BERT tower" 1 3 'model.tokenizer = "bpe" is CLIP.s, for CLIP.s causal text transformer' \
  -- train "$CFG" --run-dir "$R" "${TINY[@]}" -s model.tokenizer=bpe -s model.tokenizer_file="$T/vocab.txt" --force
grep -v '^\[CLS\]$' "$T/vocab.txt" >"$T/nocls.txt"
expect_fail "a vocab.txt without [CLS]" 2 4 'nocls.txt: no \[CLS\] entry' \
  -- train "$CFG" --run-dir "$R" "${TINY[@]}" -s model.tokenizer=wordpiece -s model.tokenizer_file="$T/nocls.txt" --force
finish
