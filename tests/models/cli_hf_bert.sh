#!/usr/bin/env bash
# cli_hf_bert.sh — a Hugging Face BERT (with a timm ViT) through `ckpt_convert.py from-hf-bert`,
# against a BERT written from the published description with torch.nn.TransformerEncoderLayer
# (tests/models/hf_bert_ckpt.py, independent of hpclip's reference code):
#   1. a tiny BERT (40 positions, texts of 24 tokens) under HF's names with the "bert." prefix, its
#      pooler, position_ids and pretraining head (skipped and reported), a timm ViT with its
#      classifier (skipped): the description is derived (V, P=40 > T=24, [PAD] id, heads given),
#      the vocab.txt stored; C embeddings of [CLS] ... [SEP] [PAD] rows and images equal the
#      reference's with the converter's new heads, <= 1e-5 per row, for [CLS] and mean pooling;
#      and back: to-torch's state dict loaded into the reference (strict) gives the same;
#   2. refusals: not a BERT, an image state dict of neither kind, bad --heads;
#   3. BERT-base shapes (V = 30,522, 512 positions, 12 x 768; Release builds only): both ways
#      <= 1e-5 per row.
. "$SRC_DIR/tests/cli/lib.sh"
if ! "$PY" -c "import torch, h5py" >/dev/null 2>&1; then echo "skipped: no torch/h5py"; exit 77; fi
TOOL="$BUILD_DIR/tests/tool_ckpt_embed"
CONV="$SRC_DIR/scripts/ckpt_convert.py"
REF="$SRC_DIR/tests/models/hf_bert_ckpt.py"
CMP="$SRC_DIR/tests/models/openai_ckpt.py"
. "$SRC_DIR/tests/models/convert_lib.sh"

check_spec() { # check_spec SPEC HEADS
  local spec=$1 heads=$2 d="$T/$1" pool
  mkdir -p "$d"
  run "$spec: reference BERT + timm ViT" "$PY" "$REF" make $spec 21 "$d" || return
  for pool in cls mean; do
    run "$spec, $pool pooling: from-hf-bert" "$PY" "$CONV" from-hf-bert "$d/bert.pt" "$d/$pool.h5" --vocab "$d/vocab.txt" \
      --image "$d/vit.pt" --heads "$heads" --embed-dim 24 --pool $pool --context 24 || continue
    desc=$(sed -n 's/^ckpt_convert: model description derived from the tensors: //p' "$T/run.txt")
    echo "     $desc"
    grep -q "skipped tensors.*the pretraining heads cls" "$T/run.txt" && grep -q "text.pooler" "$T/run.txt" \
      && grep -q "the classifier head" "$T/run.txt" && ok "$spec: pooler, pretraining head, position_ids, classifier skipped and reported" \
      || bad "$spec: skips not reported: $(grep skipped "$T/run.txt")"
    run "$spec, $pool: hpclip check" "$HPCLIP" check "$d/$pool.h5"
    run "$spec, $pool: C embeddings" "$TOOL" embed "$d/$pool.h5" "$d/in.h5" "$d/c_$pool.h5" \
      && run "$spec, $pool: reference embeddings" "$PY" "$REF" embed $spec "$d" "$d/$pool.h5" $pool "$d/t_$pool.h5" \
      && run "$spec, $pool: C == reference (<= 1e-5 per row)" "$PY" "$CMP" compare "$d/c_$pool.h5" "$d/t_$pool.h5" 1e-5 && shown
    # the other direction: to-torch, loaded into the reference (query/key/value -> in_proj)
    run "$spec, $pool: to-torch" "$PY" "$CONV" to-torch "$d/$pool.h5" "$d/back_$pool.pt" \
      && run "$spec, $pool: reference embeddings of the export" "$PY" "$REF" embed-export $spec "$d" "$d/back_$pool.pt" $pool "$d/e_$pool.h5" \
      && run "$spec, $pool: == C (<= 1e-5 per row)" "$PY" "$CMP" compare "$d/c_$pool.h5" "$d/e_$pool.h5" 1e-5 && shown
  done
}

check_spec tiny 4,2
d="$T/tiny"
if [ -f "$d/cls.h5" ]; then
  case "$desc" in "clip(text=bert(V=60,T=24,L=2,H=4,D=32,F=128,pool=mean,P=40),image=vit(S=32,P=16,L=1,H=2,D=32,F=128),E=24,logit_scale=learned)")
    ok "tiny: the description" ;; *) bad "tiny: description $desc" ;; esac
  refuse "not a BERT" "no embeddings.word_embeddings.weight" "$PY" "$CONV" from-hf-bert "$d/vit.pt" "$T/x.h5" --vocab "$d/vocab.txt" \
    --image "$d/vit.pt" --heads 4,2 --embed-dim 8
  refuse "an image state dict of neither kind" "neither patch_embed.proj.weight" "$PY" "$CONV" from-hf-bert "$d/bert.pt" "$T/x.h5" \
    --vocab "$d/vocab.txt" --image "$d/bert.pt" --heads 4,2 --embed-dim 8
  refuse "bad --heads" "--heads takes two positive numbers" "$PY" "$CONV" from-hf-bert "$d/bert.pt" "$T/x.h5" \
    --vocab "$d/vocab.txt" --image "$d/vit.pt" --heads 4 --embed-dim 8
  refuse "a vocab.txt of another size" "V=60, the wordpiece tokenizer of .* has 50 ids" sh -c \
    "head -50 '$d/vocab.txt' >'$T/v50.txt'; exec '$PY' '$CONV' from-hf-bert '$d/bert.pt' '$T/x.h5' --vocab '$T/v50.txt' --image '$d/vit.pt' --heads 4,2 --embed-dim 8"
fi
if [ "${HPCLIP_SANITIZED:-0}" = 1 ]; then
  echo "BERT-base shapes: skipped under the sanitizers (Release builds run them)"
else
  check_spec base 12,2
  rm -rf "$T/base"
fi
finish
