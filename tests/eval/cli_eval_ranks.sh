#!/bin/bash
# cli_eval_ranks.sh — the evaluation pipeline synth -> train -> embed -> search -> zeroshot on a
# tiny model at 1, 2 and 3 ranks: every embedding and every results.h5 table identical (h5diff),
# files valid (hpclip check), the results.h5 skip rule per stage group, Markdown tables written;
# search_top5.png valid, of the documented size and identical; search.index="forest" (small
# trees, so it really approximates): its recall@10 against exact reported and every figure,
# the PNG and the saved index identical at 1, 2 and 3 ranks.
. "$SRC_DIR/tests/cli/lib.sh"
CFG="$SRC_DIR/tests/eval/tiny.cfg"
t0=$SECONDS
notiming() { sed '/^<!-- timing -->$/,/^<!-- \/timing -->$/d' "$1"; }
# images of 32x32 (tiny.cfg) -> zoom 3, cells 96+2*4, gaps 4: 5*104+6*4 x 2*104+3*4
PNG_W=544 PNG_H=220
# one dataset and one checkpoint (training itself is tested by tests/train), shared by all runs
if expect_ok "synth+train" 2 run "$CFG" --run-dir "$T/base" --stages synth,train; then
  for np in 1 2 3; do
    mkdir -p "$T/r$np" && cp "$T/base/dataset.h5" "$T/base/ckpt.h5" "$T/r$np/"
    dbg=(); [ $np = 3 ] && dbg=(-s run.log_level=debug)   # 3 ranks: the tables printed on stdout too
    # 2 and 3 ranks read embeddings 7 rows a round: indices filled and queries searched in pieces
    rr=; [ $np != 1 ] && rr=7
    HPCLIP_TEST_ROUND_ROWS=$rr expect_ok "embed+search+zeroshot" $np run "$CFG" --run-dir "$T/r$np" --stages embed,search,zeroshot "${dbg[@]}"
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
    for o in /search/table1 /search/clip_recall /search/per_class /search/image_to_image/precision /zeroshot/table2 /zeroshot/per_class; do
      if h5diff "$T/r1/results.h5" "$T/r$np/results.h5" $o >/dev/null; then ok "results $o: 1 = $np ranks"
      else bad "results $o differs between 1 and $np ranks"; h5diff -r "$T/r1/results.h5" "$T/r$np/results.h5" $o | head -10; fi
    done
    if cmp -s <(notiming "$T/r1/search.md") <(notiming "$T/r$np/search.md") && cmp -s "$T/r1/zeroshot.md" "$T/r$np/zeroshot.md"; then
      ok "search.md, zeroshot.md: 1 = $np ranks"; else bad "Markdown tables differ between 1 and $np ranks"; fi
  done
  # image -> image precision recomputed with numpy from embeddings.h5 (exact search, test split)
  $PY - "$T/r1" >"$T/i2i.txt" 2>&1 <<'PY' && ok "image->image P@1/5/10 = numpy: $(cat "$T/i2i.txt")" || bad "image->image: $(cat "$T/i2i.txt")"
import sys, h5py, numpy as np
d = sys.argv[1]
e, r = h5py.File(d + "/embeddings.h5", "r"), h5py.File(d + "/results.h5", "r")
test = np.nonzero(e["/images/split"][()] == 2)[0]
x = e["/images/embedding"][()][test].astype(np.float64)
lab = e["/labels/matrix"][()][test].astype(bool)
s = x @ x.T
np.fill_diagonal(s, -np.inf)                       # the query itself is not a neighbour
order = np.lexsort((np.broadcast_to(test, s.shape), -s), axis=1)[:, :10]   # score desc, then id asc
share = (lab[:, None, :] & lab[order]).any(axis=2)
want = [share[:, :k].sum(axis=1).mean() / k for k in (1, 5, 10)]
have = r["/search/image_to_image/precision"][()]
assert np.allclose(have, want, atol=1e-9), (have, want)
print(" ".join("%.4f" % v for v in have))
PY
  for np in 1 2 3; do
    if $PY "$SRC_DIR/tests/eval/png_check.py" "$T/r$np/search_top5.png" $PNG_W $PNG_H >"$T/png.txt" 2>&1; then
      ok "search_top5.png ($np ranks): $(cat "$T/png.txt")"; else bad "search_top5.png ($np ranks): $(tail -1 "$T/png.txt")"; fi
  done
  for np in 2 3; do
    cmp -s "$T/r1/search_top5.png" "$T/r$np/search_top5.png" && ok "search_top5.png: 1 = $np ranks" \
      || bad "search_top5.png differs between 1 and $np ranks"
  done
  grep -q "search_top5.png" "$T/r1/search.md" && ok "PNG referenced from search.md" || bad "search.md does not reference the PNG"
  # the forest: 4 shards, 3 trees, leaves of 2, 4 candidates per shard — approximate on ~25 images
  FOREST=(-s search.index=forest -s search.shards=4 -s search.trees=3 -s search.leaf_size=2 -s search.search_k=4 -s search.save_index=true)
  for np in 1 2 3; do
    mkdir -p "$T/f$np" && cp "$T/r1/dataset.h5" "$T/r1/ckpt.h5" "$T/r1/embeddings.h5" "$T/f$np/"
    rr=; [ $np != 1 ] && rr=5
    HPCLIP_TEST_ROUND_ROWS=$rr expect_ok "search forest" $np search "$CFG" --run-dir "$T/f$np" "${FOREST[@]}"
    cp "$T/out.txt" "$T/flog$np.txt"
  done
  if "$HPCLIP" check "$T/f1/results.h5" >/dev/null 2>&1; then ok "forest results.h5 valid"; else bad "forest results.h5 invalid: $("$HPCLIP" check "$T/f1/results.h5" 2>&1)"; fi
  rec=$(h5dump -d /search/index/recall_at_10 -y "$T/f1/results.h5" 2>/dev/null | sed -n '/DATA {/,/}/p' | tr -d ' \n' | sed 's/DATA{//; s/}//')
  [ -n "$rec" ] && ok "forest recall@10 against exact (label, c->i, i->c): $rec" || bad "no /search/index/recall_at_10"
  grep -qi "recall@10 against exact" "$T/f1/search.md" && ok "recall in search.md" || bad "recall not in search.md"
  grep -Eq "forest recall@10 against exact" "$T/flog2.txt" && ok "recall logged" || bad "recall not logged"
  grep -A4 "^| index | build s" "$T/f1/search.md" | grep -q "^| forest |" && ok "timing of exact and forest in search.md" || bad "no timing rows"
  for np in 2 3; do
    for o in /search/index /search/table1 /search/clip_recall /search/per_class /search/image_to_image/precision /search/image_to_image/recall_at_10; do
      if h5diff "$T/f1/results.h5" "$T/f$np/results.h5" $o >/dev/null; then ok "forest results $o: 1 = $np ranks"
      else bad "forest results $o differs between 1 and $np ranks"; h5diff -r "$T/f1/results.h5" "$T/f$np/results.h5" $o | head -10; fi
    done
    cmp -s <(notiming "$T/f1/search.md") <(notiming "$T/f$np/search.md") && ok "forest search.md: 1 = $np ranks" \
      || bad "forest search.md differs between 1 and $np ranks"
    cmp -s "$T/f1/search_top5.png" "$T/f$np/search_top5.png" && ok "forest search_top5.png: 1 = $np ranks" \
      || bad "forest search_top5.png differs between 1 and $np ranks"
    h5diff "$T/f1/index.h5" "$T/f$np/index.h5" >/dev/null && ok "index.h5: 1 = $np ranks" || bad "index.h5 differs between 1 and $np ranks"
  done
  grep -q "| Model | P@1 | P@5" "$T/log3.txt" && grep -q "| Model | macro-P | micro-P" "$T/log3.txt" \
    && ok "run.log_level=debug: both tables printed" || bad "run.log_level=debug: tables not printed to stdout"
  if grep -q "^|" "$T/log2.txt"; then bad "default log level: a table on stdout: $(grep -m1 '^|' "$T/log2.txt")"
  elif grep -q "tables in $T/r2/search.md" "$T/log2.txt" && grep -q "tables in $T/r2/zeroshot.md" "$T/log2.txt"; then
    ok "default log level: no table on stdout, the .md files named"
  else bad "default log level: search.md / zeroshot.md not named in the log"; fi
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
