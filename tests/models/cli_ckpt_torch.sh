#!/usr/bin/env bash
# Checkpoint conversion both ways against PyTorch (scripts/ckpt_convert.py,
# tests/fixtures/torch_ref.py, tests/models/ckpt_torch.py, helper tests/models/tool_ckpt_embed.c),
# for a tiny BERT (mean pooling) + ViT/16-style CLIP and a tiny BERT ([CLS] pooling) + ResNet
# (bottleneck, 1-2-1-1, width 4) CLIP:
#   1. random PyTorch model -> state dict (with a HF pooler to skip) -> to-hpclip -> ckpt.h5,
#      which `hpclip check` accepts; C embeddings (hp_clip_load + eval) of fixed token ids and
#      uint8 images equal the PyTorch float64 embeddings: max|c-t|/max|t| <= 1e-4;
#   2. checkpoint written by hpclip (seeded init) -> to-torch -> strict load into the PyTorch
#      model -> same embeddings as C (<= 1e-4); to-hpclip of that state dict gives back
#      bit-identical /params;
#   3. a state dict with a missing, a misshaped and an unknown tensor is refused with all three
#      named; a wrong --model is refused.
# Needs torch + h5py for Debian's /usr/bin/python3; without them: "skipped: no torch", exit 0.
set -u
: "${HPCLIP:?set by ctest}" "${SRC_DIR:?set by ctest}" "${BUILD_DIR:?set by ctest}"
PY=/usr/bin/python3
if ! "$PY" -c "import torch, h5py" >/dev/null 2>&1; then
  echo "skipped: no torch"
  exit 0
fi
TOOL="$BUILD_DIR/tests/tool_ckpt_embed"
CONV="$SRC_DIR/scripts/ckpt_convert.py"
REF="$SRC_DIR/tests/models/ckpt_torch.py"
T=$(mktemp -d "${TMPDIR:-/tmp}/hpclip-ckpt.XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
. "$SRC_DIR/tests/models/convert_lib.sh"

VIT='clip(text=bert(V=50,T=12,L=2,H=2,D=32,F=48,pool=mean),image=vit(S=48,P=16,L=2,H=4,D=32,F=64),E=24,logit_scale=learned)'
RES='clip(text=bert(V=50,T=12,L=2,H=4,D=32,F=128,pool=cls),image=resnet(S=64,blocks=1-2-1-1,width=4),E=24,logit_scale=fixed)'

# the tokenizer stored with the weights: a vocab.txt of V = 50 entries
{ printf '[PAD]\n[UNK]\n[CLS]\n[SEP]\n'; for k in $(seq 46); do echo "w$k"; done; } >"$T/vocab50.txt"
TOK=(--tokenizer wordpiece --tokenizer-file "$T/vocab50.txt")
# model.image_mean / image_std: a normalisation other than the tower's, carried by the description
RESN='clip(text=bert(V=50,T=12,L=2,H=4,D=32,F=128,pool=cls),image=resnet(S=64,blocks=1-2-1-1,width=4,mean=0.25:0.5:0.75,std=0.125:0.25:0.5),E=24,logit_scale=fixed)'
# a position table longer than the context (a pretrained BERT's 512 rows; texts use the first T)
VITP='clip(text=bert(V=50,T=12,L=2,H=2,D=32,F=48,pool=mean,P=40),image=vit(S=48,P=16,L=2,H=4,D=32,F=64),E=24,logit_scale=learned)'
i=0
for desc in "$VIT" "$RES" "$RESN" "$VITP"; do
  i=$((i + 1)); d="$T/m$i"; mkdir -p "$d"
  case $i in 1) tag="bert+vit" ;; 2) tag="bert+resnet" ;; 3) tag="bert+resnet, own normalisation" ;;
             *) tag="bert with 40 positions, T=12 +vit" ;; esac
  run "$tag: PyTorch reference" "$PY" "$REF" make "$desc" $((100 + i)) "$d" || continue
  run "$tag: to-hpclip" "$PY" "$CONV" to-hpclip "$d/sd.pt" "$d/ck.h5" --model "$desc" "${TOK[@]}" || continue
  grep -q "skipped tensors.*2 x text.pooler" "$T/run.txt" && ok "$tag: HF pooler skipped" \
    || bad "$tag: pooler skip not reported"
  # --model auto: the description derived from the tensors (heads, pooling, logit scale, a ResNet's
  # input size and a normalisation given) is the one the state dict was made for
  case $i in
    1) auto=(--heads 2,4) ;;
    2) auto=(--heads 4,1 --pool cls --logit-scale fixed --image-size 64   # the default normalisation, given: left out
             --image-mean 0.485,0.456,0.406 --image-std 0.229,0.224,0.225) ;;
    3) auto=(--heads 4,1 --pool cls --logit-scale fixed --image-size 64 --image-mean 0.25,0.5,0.75 --image-std 0.125,0.25,0.5) ;;
    *) auto=(--heads 2,4 --context 12) ;;
  esac
  if "$PY" "$CONV" to-hpclip "$d/sd.pt" "$d/auto.h5" --model auto "${auto[@]}" "${TOK[@]}" >"$T/auto.txt" 2>&1; then
    got=$(sed -n 's/^ckpt_convert: model description derived from the tensors: //p' "$T/auto.txt")
    [ "$got" = "$desc" ] && ok "$tag: --model auto derives the description" || bad "$tag: --model auto: $got"
  else bad "$tag: --model auto failed: $(tail -2 "$T/auto.txt")"; fi
  run "$tag: hpclip check of the converted checkpoint" "$HPCLIP" check "$d/ck.h5"
  run "$tag: C embeddings" "$TOOL" embed "$d/ck.h5" "$d/in.h5" "$d/c.h5" || continue
  run "$tag: C == PyTorch (converted state dict)" "$PY" "$REF" compare "$d/c.h5" "$d/torch.h5" 1e-4
  sed 's/^/     /' "$T/run.txt"

  run "$tag: hpclip-written checkpoint" "$TOOL" init "$desc" $((7 + i)) "$d/hp.h5" || continue
  run "$tag: C embeddings of it" "$TOOL" embed "$d/hp.h5" "$d/in.h5" "$d/c2.h5" || continue
  run "$tag: to-torch" "$PY" "$CONV" to-torch "$d/hp.h5" "$d/sd2.pt" || continue
  run "$tag: PyTorch embeddings of it (strict load)" "$PY" "$REF" embed "$desc" "$d/sd2.pt" "$d/in.h5" "$d/t2.h5" \
    || continue
  run "$tag: PyTorch == C (hpclip checkpoint)" "$PY" "$REF" compare "$d/c2.h5" "$d/t2.h5" 1e-4
  sed 's/^/     /' "$T/run.txt"
  run "$tag: to-hpclip of the exported state dict" "$PY" "$CONV" to-hpclip "$d/sd2.pt" "$d/back.h5" --model "$desc" "${TOK[@]}" \
    && run "$tag: round trip bit-identical" "$PY" "$REF" same-params "$d/hp.h5" "$d/back.h5"
done

d="$T/m1"
if [ -f "$d/sd.pt" ]; then
  "$PY" "$REF" mutate "$d/sd.pt" "$d/bad.pt"
  refuse "bad state dict refused, every problem named" \
    "3 problems|missing tensor text.embeddings.LayerNorm.bias|text_projection.bias has shape \[25\], the model needs \[24\]|unexpected tensor visual.head.weight" \
    "$PY" "$CONV" to-hpclip "$d/bad.pt" "$d/bad.h5" --model "$VIT" "${TOK[@]}"
  [ ! -e "$d/bad.h5" ] && [ ! -e "$d/bad.h5.tmp" ] && ok "no output left after a refusal" || bad "output left after a refusal"
  refuse "wrong --model refused" "missing tensor text.encoder.layer.2" \
    "$PY" "$CONV" to-hpclip "$d/sd.pt" "$d/bad.h5" --model "${VIT/L=2,H=2/L=3,H=2}" "${TOK[@]}"
  refuse "--model auto without --heads refused" "needs --heads TEXT,IMAGE" "$PY" "$CONV" to-hpclip "$d/sd.pt" "$d/bad.h5" --model auto "${TOK[@]}"
  refuse "malformed --model refused" "is not of the form" "$PY" "$CONV" to-hpclip "$d/sd.pt" "$d/bad.h5" --model "clip(x)" "${TOK[@]}"
  # the tokenizer: stored, its size and padding checked against the description
  if [ -f "$d/ck.h5" ]; then
    out=$("$PY" -c "import h5py,sys; f=h5py.File(sys.argv[1]); print(f.attrs['tokenizer'].decode(), f['vocab/offsets'].shape[0] - 1)" "$d/ck.h5" 2>&1)
    [ "$out" = "wordpiece lowercase=1 strip_accents=1 50" ] && ok "converted checkpoint holds the tokenizer: $out" || bad "tokenizer in the checkpoint: $out"
  fi
  head -40 "$T/vocab50.txt" >"$T/vocab40.txt"
  refuse "a tokenizer of another size refused" "the model description has V=50, the wordpiece tokenizer of .*vocab40.txt has 40 ids" \
    "$PY" "$CONV" to-hpclip "$d/sd.pt" "$d/bad.h5" --model "$VIT" --tokenizer wordpiece --tokenizer-file "$T/vocab40.txt"
  { echo w0; sed 1d "$T/vocab50.txt"; echo "[PAD]"; } | head -49 >"$T/vocabpad.txt"; echo "[PAD]" >>"$T/vocabpad.txt"
  refuse "a [PAD] that is not id 0 needs pad= in the description" "the tokenizer pads with id 49|pad=49" \
    "$PY" "$CONV" to-hpclip "$d/sd.pt" "$d/bad.h5" --model "$VIT" --tokenizer wordpiece --tokenizer-file "$T/vocabpad.txt"
  refuse "a missing tokenizer file refused" "cannot read the wordpiece file" \
    "$PY" "$CONV" to-hpclip "$d/sd.pt" "$d/bad.h5" --model "$VIT" --tokenizer wordpiece --tokenizer-file "$T/none.txt"
  refuse "CLIP's BPE with the BERT tower refused" "tokenizer bpe is CLIP's, for CLIP's causal text transformer" \
    "$PY" "$CONV" to-hpclip "$d/sd.pt" "$d/bad.h5" --model "$VIT" --tokenizer bpe --tokenizer-file "$T/vocab50.txt"
  if [ -f "$d/ck.h5" ]; then
    cp "$d/ck.h5" "$d/novocab.h5"
    "$PY" -c "import h5py,sys; f=h5py.File(sys.argv[1],'a'); del f['vocab']" "$d/novocab.h5"
    if out=$("$HPCLIP" check "$d/novocab.h5" 2>&1); then bad "hpclip check passed a checkpoint without a tokenizer"
    else echo "$out" | grep -q "/vocab: missing" && ok "hpclip check fails a checkpoint without a tokenizer: $(echo "$out" | head -1 | cut -c1-120)" \
      || bad "check without /vocab: $out"; fi
  fi
  refuse "to-torch of a non-checkpoint refused" "cannot open as HDF5" "$PY" "$CONV" to-torch "$d/sd.pt" "$d/x.pt"
fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]
