#!/usr/bin/env bash
# cli_memory.sh — memory limits (src/base/memory.h): train, the evaluation model load and
# cluster estimate their peak per rank before allocating and refuse above run.memory_limit or
# `ulimit -v` (exit 6, the message says what is needed, what is allowed and why, which keys
# lower it); an allocation that fails anyway (synth under ulimit -v) is a clean exit 6, not a
# crash; generous limits change nothing. The ulimit -v cases are skipped under ASan (its shadow
# memory needs terabytes of address space).
source "$SRC_DIR/tests/cli/lib.sh"
CFG="$SRC_DIR/tests/eval/tiny.cfg"
expect_ok "synth+train+embed" 2 run "$CFG" --run-dir "$T/base" --stages synth,train,embed || { finish; exit 1; }

expect_fail "train above run.memory_limit" 2 6 \
  "stage train needs about [0-9.]+ MiB per rank \(parameters \+ gradients .*activations for [0-9]+ images.*\), above run.memory_limit = 0.5 MiB; lower it with train.batch" -- \
  train "$CFG" --run-dir "$T/base" --force -s run.memory_limit=0.5
expect_fail "embed above run.memory_limit" 2 6 "CLIP model \(embed/search/zeroshot\) needs about [0-9.]+ MiB .*embed.batch" -- \
  embed "$CFG" --run-dir "$T/base" --force -s run.memory_limit=0.1 -s embed.batch=64
expect_fail "cluster above run.memory_limit" 2 6 "stage cluster needs about [0-9.]+ MiB .*exact: all silhouette rows.*cluster.silhouette_sample" -- \
  cluster "$CFG" --run-dir "$T/base" -s run.memory_limit=0.01
expect_ok "generous run.memory_limit changes nothing" 2 train "$CFG" --run-dir "$T/base" --force -s run.memory_limit=4096
[ -f "$T/base/ckpt.h5" ] && "$HPCLIP" check "$T/base/ckpt.h5" >/dev/null 2>&1 && ok "ckpt.h5 valid after the refusals" || bad "ckpt.h5"

if ldd "$HPCLIP" | grep -q libasan; then
  ok "ulimit -v cases skipped (ASan build)"
else
  # a ViT-B/BERT-B sized model needs ~4 GiB per rank with AdamW: refused under 3 GB of address space
  (ulimit -v 3000000
   expect_fail "train under ulimit -v" 2 6 "stage train needs about [0-9.]+ MiB per rank .*exceed rank [0-9]'s remaining [0-9.]+ MiB \(ulimit -v 3000000 KiB" -- \
     train "$CFG" --run-dir "$T/base" --force -s model.text_layers=12 -s model.text_width=768 -s model.text_heads=12 \
     -s model.image_layers=12 -s model.image_width=768 -s model.image_heads=12 -s model.embed_dim=512
   echo "$pass $fail" >"$T/sub1")
  read p f <"$T/sub1"; pass=$p; fail=$f
  # no estimate covers synth's image buffer: the allocation itself fails, cleanly
  (ulimit -v 1500000
   expect_fail "allocation failure under ulimit -v is a clean error" 2 6 "memory error \[rank [0-9]\]: synth images: cannot allocate [0-9.]+ MiB" -- \
     synth "$CFG" --run-dir "$T/syn" -s synth.num_images=200000 -s data.image_size=64
   echo "$pass $fail" >"$T/sub2")
  read p f <"$T/sub2"; pass=$p; fail=$f
  ls "$T/syn" 2>/dev/null | grep -q . && bad "synth left files: $(ls "$T/syn")" || ok "synth left nothing behind"
fi
finish
