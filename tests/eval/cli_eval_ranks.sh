#!/bin/bash
# cli_eval_ranks.sh — the evaluation pipeline synth -> train -> embed -> search -> zeroshot on a
# tiny model at 1, 2 and 3 ranks: every embedding and every results.h5 table identical (h5diff),
# files valid (hpclip check), the results.h5 skip rule per stage group, Markdown tables written.
. "$SRC_DIR/tests/cli/lib.sh"
CFG="$SRC_DIR/tests/eval/tiny.cfg"
t0=$SECONDS
# one dataset and one checkpoint (training itself is tested by tests/train), shared by all runs
if expect_ok "synth+train" 2 run "$CFG" --run-dir "$T/base" --stages synth,train; then
  for np in 1 2 3; do
    mkdir -p "$T/r$np" && cp "$T/base/dataset.h5" "$T/base/ckpt.h5" "$T/r$np/"
    expect_ok "embed+search+zeroshot" $np run "$CFG" --run-dir "$T/r$np" --stages embed,search,zeroshot
    cp "$T/out.txt" "$T/log$np.txt"
  done
  for f in embeddings.h5 results.h5; do
    if "$HPCLIP" check "$T/r2/$f" >/dev/null 2>&1; then ok "$f valid"; else bad "$f invalid: $("$HPCLIP" check "$T/r2/$f" 2>&1)"; fi
  done
  for np in 2 3; do
    for o in /images/embedding /captions/embedding /images/split /captions/image /labels/matrix /labels/names; do
      if h5diff "$T/r1/embeddings.h5" "$T/r$np/embeddings.h5" $o >/dev/null; then ok "embeddings $o: 1 = $np ranks"
      else bad "embeddings $o differs between 1 and $np ranks"; fi
    done
    for o in /search/table1 /search/clip_recall /search/per_class /zeroshot/table2 /zeroshot/per_class; do
      if h5diff "$T/r1/results.h5" "$T/r$np/results.h5" $o >/dev/null; then ok "results $o: 1 = $np ranks"
      else bad "results $o differs between 1 and $np ranks"; h5diff -r "$T/r1/results.h5" "$T/r$np/results.h5" $o | head -10; fi
    done
    if cmp -s "$T/r1/search.md" "$T/r$np/search.md" && cmp -s "$T/r1/zeroshot.md" "$T/r$np/zeroshot.md"; then
      ok "search.md, zeroshot.md: 1 = $np ranks"; else bad "Markdown tables differ between 1 and $np ranks"; fi
  done
  grep -q "| Model | P@1 | P@5" "$T/log2.txt" && grep -q "| Model | macro-P | micro-P" "$T/log2.txt" \
    && ok "both tables printed" || bad "tables not printed to stdout"
  grep -Eq "embed: .*images/s.*captions/s" "$T/log2.txt" && ok "throughput logged" || bad "no throughput line"
  # skip rule: nothing changed -> all three skipped; a zeroshot key changed -> only zeroshot reruns,
  # and /search survives the rewrite
  if expect_ok "rerun" 2 run "$CFG" --run-dir "$T/r2" --stages embed,search,zeroshot; then
    [ "$(grep -c "skipping" "$T/out.txt")" = 3 ] && ok "unchanged: 3 stages skipped" || bad "unchanged rerun did not skip all"
  fi
  if expect_ok "zeroshot prompt changed" 2 run "$CFG" --run-dir "$T/r2" --stages embed,search,zeroshot -s 'zeroshot.prompt={}'; then
    grep -q "stage search: .*skipping" "$T/out.txt" && grep -q "stage zeroshot: start" "$T/out.txt" \
      && ok "only zeroshot reran" || bad "skip rule per results.h5 group"
    h5diff "$T/r1/results.h5" "$T/r2/results.h5" /search/table1 >/dev/null && ok "/search kept by zeroshot's rewrite" \
      || bad "/search lost or changed by zeroshot's rewrite"
  fi
  # a stage group missing from results.h5: search reruns
fi
echo "($((SECONDS - t0)) s)"
finish
