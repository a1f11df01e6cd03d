#!/usr/bin/env bash
# cli_pretrained_tokenizers.sh — BERT's WordPiece (src/text/wordpiece.c) and CLIP's byte-level
# BPE (src/text/bpe.c) against reference implementations written in Python from the published
# algorithms (tests/text/tokenizer_ref.py), token for token, on the real captions of the committed
# samples plus hostile strings (accents, Greek final sigma, Turkish dotted I, CJK, Hangul, emoji,
# contractions, special-token literals, control and zero-width characters, over-long words and
# texts), with a vocabulary and a merges file learnt from that corpus here; both uncased and
# cased WordPiece, a gzip and a plain merges file, fixed-length encodings with truncation.
# Then the bad files: a vocabulary without [CLS], a merge that is not two symbols, a missing file,
# a binary file.
. "$SRC_DIR/tests/cli/lib.sh"
TOOL="$BUILD_DIR/tests/tool_tokenize"
REF="$SRC_DIR/tests/text/tokenizer_ref.py"
$PY -c "import regex" 2>/dev/null || { echo "SKIP: python3-regex is not installed (the BPE reference needs it)"; exit 77; }
$PY "$REF" corpus "$SRC_DIR/tests/data/samples" "$T/texts.json" || { bad "corpus"; finish; exit 1; }
n=$($PY -c "import json,sys; print(len(json.load(open(sys.argv[1]))))" "$T/texts.json")
[ "$n" -ge 1000 ] && ok "corpus: $n texts" || bad "corpus: only $n texts"
$PY "$REF" make-vocab "$T/texts.json" "$T/vocab.txt" && $PY "$REF" make-merges "$T/texts.json" "$T/merges.txt.gz" 800 \
  && $PY "$REF" make-merges "$T/texts.json" "$T/merges.txt" 300 || bad "making the vocabulary and merges"
printf '%s entries, %s merges\n' "$(wc -l <"$T/vocab.txt")" "$(zcat "$T/merges.txt.gz" | wc -l)"

compare() { # name ref.json c.json
  local r
  r=$($PY - "$2" "$3" "$T/texts.json" <<'PYEOF'
import json, sys
a, b, t = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), json.load(open(sys.argv[3], encoding="utf-8"))
assert len(a) == len(b) == len(t), (len(a), len(b), len(t))
bad = [i for i in range(len(a)) if a[i] != b[i]]
if bad:
    i = bad[0]
    sys.exit("%d of %d texts differ; first: %r\n  ref %s\n  C   %s" % (len(bad), len(a), t[i][:80], a[i]["ids"][:30], b[i]["ids"][:30]))
tok = sum(len(x["ids"]) for x in a)
cut = sum(1 for x in a if len(x["ids"]) + 2 > len(x["enc"]))
print("%d texts, %d tokens, %d cut to the context, identical" % (len(a), tok, cut))
PYEOF
  ) && ok "$1: $r" || bad "$1: $r"
}
for mode in "1 1" "0 0" "1 0"; do
  set -- $mode
  if $PY "$REF" wordpiece "$T/vocab.txt" "$1" "$2" 32 "$T/texts.json" "$T/wp-ref.json" \
     && "$TOOL" wordpiece "$T/vocab.txt" "$1" "$2" 32 "$T/texts.json" "$T/wp-c.json"; then
    compare "WordPiece lowercase=$1 strip_accents=$2" "$T/wp-ref.json" "$T/wp-c.json"
  else bad "WordPiece lowercase=$1 strip_accents=$2: a run failed"; fi
done
sed 's/$/\r/' "$T/merges.txt" >"$T/merges-crlf.txt"   # "\r\n" line ends: the same merges
for m in merges.txt.gz merges.txt merges-crlf.txt; do
  r=$m; [ "$m" = merges-crlf.txt ] && r=merges.txt   # the reference reads the plain file
  if $PY "$REF" bpe "$T/$r" 24 "$T/texts.json" "$T/bpe-ref.json" && "$TOOL" bpe "$T/$m" 24 "$T/texts.json" "$T/bpe-c.json"; then
    compare "CLIP BPE ($m)" "$T/bpe-ref.json" "$T/bpe-c.json"
  else bad "CLIP BPE $m: a run failed"; fi
done

# bad files
grep -v '^\[CLS\]$' "$T/vocab.txt" >"$T/nocls.txt"
printf '["x"]' >"$T/one.json"
expect_tool() { # name code regex args...
  local name=$1 code=$2 re=$3; shift 3
  "$TOOL" "$@" >"$T/tool.txt" 2>&1; local rc=$?
  if [ $rc = "$code" ] && grep -Eq -- "$re" "$T/tool.txt"; then ok "$name: $(head -1 "$T/tool.txt" | cut -c1-140)"
  else bad "$name: exit $rc: $(cat "$T/tool.txt")"; fi
}
expect_tool "vocabulary without [CLS]" 4 "nocls.txt: no \[CLS\] entry" wordpiece "$T/nocls.txt" 1 1 8 "$T/one.json" "$T/o.json"
expect_tool "no such vocabulary" 4 "none.txt: cannot open" wordpiece "$T/none.txt" 1 1 8 "$T/one.json" "$T/o.json"
printf '#version: 0.2\na b\nabc\n' >"$T/badmerge.txt"
expect_tool "a merge that is not two symbols" 4 'badmerge.txt: merge 2 \(line 3\) "abc" is not two symbols' bpe "$T/badmerge.txt" 8 "$T/one.json" "$T/o.json"
printf '#version: 0.2\n' >"$T/nomerge.txt"
expect_tool "a merges file without merges" 4 "nomerge.txt: no merges" bpe "$T/nomerge.txt" 8 "$T/one.json" "$T/o.json"
head -c 3000 "$HPCLIP" >"$T/binary.txt"
expect_tool "a binary file for merges" 4 "binary.txt: line [0-9]+ holds a NUL byte" bpe "$T/binary.txt" 8 "$T/one.json" "$T/o.json"
printf '\xff\xfe\n[PAD]\n[UNK]\n[CLS]\n[SEP]\n' >"$T/latin.txt"
expect_tool "a vocabulary that is not UTF-8" 4 "latin.txt: entry 0 \(line 1\) is not valid UTF-8" wordpiece "$T/latin.txt" 1 1 8 "$T/one.json" "$T/o.json"
finish
