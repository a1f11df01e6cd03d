#!/usr/bin/env bash
# cli_openai_clip.sh — OpenAI CLIP / OpenCLIP weights through hpclip, against an independent
# PyTorch implementation written from the published architecture (tests/fixtures/openai_clip_ref.py,
# driven by tests/models/openai_ckpt.py); no hub is reachable here, so the weights are random,
# seeded:
#   1. tiny OpenAI-layout state dicts (QuickGELU via from-openai; GELU via from-openclip) ->
#      ckpt.h5 with CLIP's BPE merges as its tokenizer; the description is derived from the
#      tensors; `hpclip check` accepts it; C embeddings (hp_clip_load) of fixed ids and uint8
#      images equal PyTorch's float64 ones to <= 1e-5 relative, per row;
#   2. the other direction: the converted checkpoint and an hpclip-written one -> to-torch
#      --layout openai -> strict load into the reference -> the same embeddings as C (<= 1e-5
#      per row); from-openai of the export gives back bit-identical /params;
#   3. the user's path: `hpclip embed` of a synthetic dataset with model.from_checkpoint = true
#      (the model, its context 16 and OpenAI's pixel normalisation from ckpt.h5; captions through
#      hpclip's BPE) equals PyTorch on the same images with captions through the Python reference
#      BPE (<= 1e-5 per row), at 1 and 2 ranks (bitwise the same);
#   4. refusals: an OpenAI ModifiedResNet, a missing and a misshaped tensor, merges of another
#      vocabulary size, --layout openai of a BERT model, a state dict of hpclip names;
#   5. the real shapes (Release builds only, not under the sanitizers: 600 MB of weights): OpenAI
#      ViT-B/32 at 224 with the 12-layer 512-wide text transformer, V = 49,408, context 77, both
#      directions <= 1e-5 per row.
# Needs torch, h5py and regex for Debian's /usr/bin/python3; without them: skipped (exit 77).
. "$SRC_DIR/tests/cli/lib.sh"
if ! "$PY" -c "import torch, h5py, regex" >/dev/null 2>&1; then echo "skipped: no torch/h5py/regex"; exit 77; fi
TOOL="$BUILD_DIR/tests/tool_ckpt_embed"
CONV="$SRC_DIR/scripts/ckpt_convert.py"
REF="$SRC_DIR/tests/models/openai_ckpt.py"
OLD="$SRC_DIR/tests/models/ckpt_torch.py"
. "$SRC_DIR/tests/models/convert_lib.sh"

run "a merges file of 30 merges (V = 544)" "$PY" "$REF" merges 30 "$T/merges.txt"

for spec in tiny tiny-gelu; do
  d="$T/$spec"; mkdir -p "$d"
  # OpenAI's head rule (width / 64) does not fit widths of 32: the heads are given
  if [ $spec = tiny ]; then conv=(from-openai --heads 2,4); else conv=(from-openclip --heads 4,2); fi
  run "$spec: PyTorch reference model" "$PY" "$REF" make $spec 11 "$d" || continue
  run "$spec: ${conv[0]}" "$PY" "$CONV" "${conv[@]}" "$d/sd.pt" "$d/ck.h5" --merges "$T/merges.txt" || continue
  desc=$(sed -n 's/^ckpt_convert: model description derived from the tensors: //p' "$T/run.txt")
  case "$spec:$desc" in
    tiny:"clip(text=clip_text(V=544,T=16,L=2,H=2,D=32,F=128),image=vit(S=32,P=16,L=2,H=4,D=32,F=128,style=openai,mean="*",E=24,proj_bias=0,logit_scale=learned)") ok "$spec: description $desc" ;;
    tiny-gelu:"clip(text=clip_text(V=544,T=16,L=1,H=4,D=32,F=128,act=gelu),image=vit(S=32,P=8,L=1,H=2,D=32,F=128,style=openai,act=gelu,mean="*",E=16,proj_bias=0,logit_scale=learned)") ok "$spec: description $desc" ;;
    *) bad "$spec: description '$desc'" ;;
  esac
  grep -q "skipped tensors.*input_resolution" "$T/run.txt" && ok "$spec: the JIT archive's integers skipped" \
    || bad "$spec: skip of input_resolution not reported"
  run "$spec: hpclip check" "$HPCLIP" check "$d/ck.h5"
  run "$spec: C embeddings" "$TOOL" embed "$d/ck.h5" "$d/in.h5" "$d/c.h5" || continue
  run "$spec: C == PyTorch (<= 1e-5 per row)" "$PY" "$REF" compare "$d/c.h5" "$d/torch.h5" 1e-5 && shown
  run "$spec: to-torch --layout openai" "$PY" "$CONV" to-torch "$d/ck.h5" "$d/back.pt" --layout openai || continue
  run "$spec: PyTorch embeddings of the export (strict load)" "$PY" "$REF" embed $spec "$d/back.pt" "$d/in.h5" "$d/t2.h5" \
    && run "$spec: == C (<= 1e-5 per row)" "$PY" "$REF" compare "$d/c.h5" "$d/t2.h5" 1e-5 && shown
  run "$spec: ${conv[0]} of the export" "$PY" "$CONV" "${conv[@]}" "$d/back.pt" "$d/ck2.h5" --merges "$T/merges.txt" \
    && run "$spec: round trip bit-identical" "$PY" "$OLD" same-params "$d/ck.h5" "$d/ck2.h5"
  # weights written by hpclip (seeded, every tensor perturbed) -> OpenAI layout -> PyTorch
  run "$spec: hpclip-written checkpoint" "$TOOL" init "$desc" 5 "$d/hp.h5" || continue
  run "$spec: its C embeddings" "$TOOL" embed "$d/hp.h5" "$d/in.h5" "$d/c3.h5" \
    && run "$spec: its export" "$PY" "$CONV" to-torch "$d/hp.h5" "$d/hp.pt" --layout openai \
    && run "$spec: PyTorch embeddings of it" "$PY" "$REF" embed $spec "$d/hp.pt" "$d/in.h5" "$d/t3.h5" \
    && run "$spec: PyTorch == C (hpclip-written, <= 1e-5 per row)" "$PY" "$REF" compare "$d/c3.h5" "$d/t3.h5" 1e-5 && shown
done

# 3. the embed stage on a dataset, the model from the checkpoint
d="$T/tiny"
if [ -f "$d/ck.h5" ]; then
  CFG="$SRC_DIR/conf/quickstart.cfg"
  R="$T/run1"
  if expect_ok "synth a 32x32 dataset" 1 synth "$CFG" --run-dir "$R" -s data.image_size=32 -s synth.num_images=40; then
    cp "$d/ck.h5" "$R/ckpt.h5"
    cp -r "$R" "$T/run2"
    if expect_ok "embed with model.from_checkpoint = true" 1 embed "$CFG" --run-dir "$R" -s model.from_checkpoint=true \
         -s run.watchdog=300; then
      run "PyTorch embeddings of dataset.h5 (reference BPE)" "$PY" "$REF" embed-run tiny "$d/sd.pt" "$T/merges.txt" "$R" "$T/dsref.h5" \
        && { sed 's/^/     /' "$T/run.txt" | head -2
             run "embeddings.h5 == PyTorch (<= 1e-5 per row)" "$PY" "$REF" compare "$R/embeddings.h5" "$T/dsref.h5" 1e-5 && shown; }
      if expect_ok "the same at 2 ranks" 2 embed "$CFG" --run-dir "$T/run2" -s model.from_checkpoint=true -s run.watchdog=300; then
        e=$(same_h5_data "$R/embeddings.h5" "$T/run2/embeddings.h5" 2>&1) && ok "embeddings identical at 1 and 2 ranks" || bad "1 vs 2 ranks: $e"
      fi
    fi
    expect_fail "without model.from_checkpoint: CLIP's BPE with the job's BERT tower" 1 4 \
      "ckpt.h5: tokenizer \"bpe\" \(CLIP's\) is for CLIP's causal text transformer \(model.text = \"clip\"\), not for the BERT tower" \
      -- embed "$CFG" --run-dir "$T/run2" --force
    expect_fail "without model.from_checkpoint: model.* keys other than the checkpoint's" 1 4 \
      "checkpoint of model 'clip\(text=clip_text\(V=544,T=16,L=2.*but this job's config describes 'clip\(text=clip_text\(V=544,T=12,L=4" \
      -- embed "$CFG" --run-dir "$T/run2" --force -s model.text=clip -s data.caption_len=12
    # training: locked-image tuning (LiT) of the converted model, its image tower kept bit for bit
    BPE=(-s model.tokenizer=bpe -s model.tokenizer_file="$T/merges.txt")
    L="$T/lit"; mkdir -p "$L"; cp "$R/dataset.h5" "$L/"
    if expect_ok "LiT from the converted model: train (model.from_checkpoint, train.freeze = image)" 2 train "$CFG" --run-dir "$L" \
         -s model.from_checkpoint=true -s "train.init_checkpoint=$d/ck.h5" -s train.freeze=image -s train.epochs=1 \
         -s train.batch=8 -s run.watchdog=300; then   # the tokenizer too comes from the checkpoint
      out=$("$PY" - "$d/ck.h5" "$L/ckpt.h5" <<'PYEOF'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert a.attrs["model"] == b.attrs["model"], (a.attrs["model"], b.attrs["model"])
same = lambda k: np.array_equal(a["params"][k][()], b["params"][k][()])
img = [k for k in a["params"] if k.startswith("visual")]
txt = [k for k in a["params"] if k.startswith("text")]
assert all(same(k) for k in img), [k for k in img if not same(k)][:3]
changed = [k for k in txt if not same(k)]
assert len(changed) == len(txt), sorted(set(txt) - set(changed))[:3]
print("the same description; %d image tensors bit-identical, all %d text tensors trained" % (len(img), len(txt)))
PYEOF
      ) && ok "$out" || bad "LiT checkpoint: $out"
      expect_ok "embed of the LiT model" 1 embed "$CFG" --run-dir "$L" -s model.from_checkpoint=true -s run.watchdog=300
    fi
    # from scratch: OpenAI's structure from the model.* keys, CLIP's BPE, QuickGELU by default
    S2="$T/scratch"; mkdir -p "$S2"; cp "$R/dataset.h5" "$S2/"
    OAI=("${TINY_MODEL[@]}" -s model.text=clip -s model.image_style=openai -s model.proj_bias=false -s data.caption_len=16
         -s train.batch=8 -s run.watchdog=300 "${BPE[@]}")
    if expect_ok "OpenAI's structure from the model.* keys: train, embed" 2 run "$CFG" --run-dir "$S2" --stages train,embed "${OAI[@]}"; then
      m=$("$PY" -c "import h5py,sys; m=h5py.File(sys.argv[1]).attrs['model']; print(m.decode() if isinstance(m,bytes) else m)" "$S2/ckpt.h5")
      case "$m" in
        "clip(text=clip_text(V=544,T=16,L=1,H=2,D=32,F=128),image=vit(S=32,P=16,L=1,H=2,D=32,F=128,style=openai),E=32,proj_bias=0,"*) ok "its description: $m" ;;
        *) bad "description of the OpenAI-structure run: $m" ;;
      esac
    fi
    if expect_ok "synth 48x48 images" 1 synth "$CFG" --run-dir "$T/run48" -s data.image_size=48 -s synth.num_images=20; then
      cp "$d/ck.h5" "$T/run48/ckpt.h5"
      expect_fail "from the checkpoint, images of another size" 1 4 "takes 32x32 images, the dataset's are 48x48: ingest with data.image_size = 32" \
        -- embed "$CFG" --run-dir "$T/run48" -s model.from_checkpoint=true
    fi
  fi
fi

# 4. refusals
if [ -f "$d/sd.pt" ]; then
  "$PY" - "$d/sd.pt" "$T" <<'PYEOF'
import sys, torch
sd = torch.load(sys.argv[1])
a = dict(sd); a["visual.attnpool.positional_embedding"] = torch.zeros(5, 32); torch.save(a, sys.argv[2] + "/rn.pt")
b = dict(sd); del b["ln_final.bias"]; b["visual.ln_pre.weight"] = torch.zeros(33); torch.save(b, sys.argv[2] + "/bad.pt")
c = {"text." + k if not k.startswith(("visual.", "logit")) else k: v for k, v in sd.items()}
del c["visual.class_embedding"]; torch.save(c, sys.argv[2] + "/names.pt")
PYEOF
  refuse "an OpenAI ModifiedResNet refused" "ModifiedResNet|is not supported" "$PY" "$CONV" from-openai "$T/rn.pt" "$T/x.h5" --merges "$T/merges.txt"
  refuse "a missing and a misshaped tensor, both named" "2 problems|missing tensor text.ln_final.bias|visual.ln_pre.weight has shape \[33\], the model needs \[32\]" \
    "$PY" "$CONV" from-openai "$T/bad.pt" "$T/x.h5" --merges "$T/merges.txt" --heads 2,4
  [ ! -e "$T/x.h5" ] && [ ! -e "$T/x.h5.tmp" ] && ok "no output left after a refusal" || bad "output left after a refusal"
  refuse "the default heads (width / 64) of a narrow model" "text width 32 is not a multiple of 0 heads (give --heads TEXT,IMAGE)" \
    "$PY" "$CONV" from-openai "$d/sd.pt" "$T/x.h5" --merges "$T/merges.txt"
  refuse "not an OpenAI state dict" "no visual.class_embedding" "$PY" "$CONV" from-openai "$T/names.pt" "$T/x.h5" --merges "$T/merges.txt"
  "$PY" "$REF" merges 20 "$T/merges20.txt"
  refuse "merges of another vocabulary size" "V=544, the bpe tokenizer of .*merges20.txt has 534 ids" \
    "$PY" "$CONV" from-openai "$d/sd.pt" "$T/x.h5" --merges "$T/merges20.txt" --heads 2,4
  refuse "bad --heads" "image width 32 is not a multiple of 3 heads" "$PY" "$CONV" from-openai "$d/sd.pt" "$T/x.h5" --merges "$T/merges.txt" --heads 2,3
  BERT='clip(text=bert(V=50,T=12,L=1,H=2,D=32,F=48,pool=mean),image=vit(S=32,P=16,L=1,H=2,D=32,F=64),E=24,logit_scale=learned)'
  if run "a BERT + timm ViT checkpoint" "$TOOL" init "$BERT" 3 "$T/bert.h5"; then
    refuse "--layout openai of a BERT model" "--layout openai needs OpenAI's structure" "$PY" "$CONV" to-torch "$T/bert.h5" "$T/x.pt" --layout openai
  fi
fi

# 5. the real shapes
if [ "${HPCLIP_SANITIZED:-0}" = 1 ]; then
  echo "ViT-B/32 shapes: skipped under the sanitizers (Release builds run them)"
else
  d="$T/b32"; mkdir -p "$d"
  if run "ViT-B/32 shapes: merges of 48,894 (V = 49,408)" "$PY" "$REF" merges 48894 "$d/merges.txt" \
     && run "ViT-B/32 shapes: PyTorch reference (151M parameters)" "$PY" "$REF" make b32 3 "$d" \
     && run "ViT-B/32 shapes: from-openai" "$PY" "$CONV" from-openai "$d/sd.pt" "$d/ck.h5" --merges "$d/merges.txt"; then
    rm -f "$d/sd.pt"
    grep -q "clip(text=clip_text(V=49408,T=77,L=12,H=8,D=512,F=2048),image=vit(S=224,P=32,L=12,H=12,D=768,F=3072,style=openai" "$T/run.txt" \
      && ok "ViT-B/32 shapes: description derived" || bad "ViT-B/32 description: $(grep derived "$T/run.txt")"
    run "ViT-B/32 shapes: C embeddings" "$TOOL" embed "$d/ck.h5" "$d/in.h5" "$d/c.h5" \
      && run "ViT-B/32 shapes: C == PyTorch (<= 1e-5 per row)" "$PY" "$REF" compare "$d/c.h5" "$d/torch.h5" 1e-5 && shown
    run "ViT-B/32 shapes: to-torch --layout openai" "$PY" "$CONV" to-torch "$d/ck.h5" "$d/back.pt" --layout openai \
      && run "ViT-B/32 shapes: PyTorch embeddings of the export" "$PY" "$REF" embed b32 "$d/back.pt" "$d/in.h5" "$d/t2.h5" \
      && run "ViT-B/32 shapes: == C (<= 1e-5 per row)" "$PY" "$REF" compare "$d/c.h5" "$d/t2.h5" 1e-5 && shown
  fi
  rm -rf "$d"
fi
finish
