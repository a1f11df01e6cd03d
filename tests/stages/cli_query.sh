#!/usr/bin/env bash
# cli_query.sh — `hpclip query` on a finished tiny run (synth, train, embed, search with a saved
# forest and search.queries):
#   - the free-text queries of search.queries, asked through `query --split test`, return exactly
#     results.h5's /search/queries/top_ids and top_scores (the same bits);
#   - results are bitwise the same at 1, 2 and 3 ranks (exact and forest, text and image queries,
#     with captions), and with JOB.cfg --run-dir or the run directory alone;
#   - an image query of a dataset image (a PNG at the dataset's size) finds itself first (score
#     >= 0.9999), a real photo (a Fashion JPEG) is resized and answered; the forest's answers come from the images it holds and score as exact dot products;
#   - every format: table, tsv (columns), json (parsed), html (parsed; k thumbnails that decode as
#     PNGs of the dataset's size; query text escaped);
#   - another model beside the first: a training reading the run's dataset (run.dataset), its
#     checkpoint embedded from a third directory (run.checkpoint) gives the same bits, and query
#     names the model by its run directory; synth / train refuse the keys that would overwrite;
#   - a checkpoint named dataset.h5, an embeddings file named ckpt.h5: refused as what they are;
#   - bad inputs end with exit 2 / 4 and a message naming the problem: no query, a bad -k, --index
#     or --format, --split with the forest, a missing or corrupt image, a query file that is not
#     UTF-8, no index.h5, query options on another command, a checkpoint changed after embed.
. "$SRC_DIR/tests/cli/lib.sh"
CFG="$SRC_DIR/conf/quickstart.cfg"
R="$T/run"
QS=(-s 'search.queries=["a red circle", "a blue square", "two shapes"]' -s 'search.query_labels=["red circle", "blue square", "circle"]')
JOB=("${TINY_MODEL[@]}" -s synth.num_images=120 -s search.index=forest -s search.save_index=true -s run.watchdog=300 "${QS[@]}")
if ! expect_ok "a finished run: synth, train, embed, search" 2 run "$CFG" --run-dir "$R" --stages synth,train,embed,search "${JOB[@]}"; then
  finish; exit
fi
Q() { # Q NP ARGS...: hpclip query on NP ranks (0 = without mpirun), stdout only
  local np=$1; shift
  if [ "$np" = 0 ]; then timeout 120 "$HPCLIP" query "$@" 2>"$T/qerr.txt"
  else timeout 120 $MPIRUN -np "$np" "$HPCLIP" query "$@" 2>"$T/qerr.txt"; fi
}

# search.queries == query
printf 'a red circle\na blue square\n# a comment\n\ntext:two shapes\n' >"$T/queries.txt"
if Q 1 "$R" --queries "$T/queries.txt" --split test -k 10 --format tsv >"$T/q.tsv"; then
  out=$($PY - "$R/results.h5" "$T/q.tsv" <<'PYEOF'
import sys, h5py, numpy as np, csv
f = h5py.File(sys.argv[1], "r")
ids, sc = f["search/queries/top_ids"][()], f["search/queries/top_scores"][()]
rows = list(csv.DictReader(open(sys.argv[2]), delimiter="\t"))
for q in range(3):
    got = [r for r in rows if r["query"] == str(q + 1) and r["target"] == "image"]
    gi = [int(r["id"]) for r in got]
    gs = [np.float32(float(r["score"])) for r in got]
    want = [int(i) for i in ids[q] if i >= 0]
    assert gi == want, (q, gi, want)
    assert all(a == np.float32(b) for a, b in zip(gs, sc[q][:len(want)])), (q, gs, sc[q])
print("3 queries x %d results: the same ids and scores as results.h5 /search/queries" % len(want))
PYEOF
  ) && ok "$out" || bad "query vs search: $out"
else bad "query --queries: exit $?: $(tail -3 "$T/qerr.txt")"; fi
grep -q "query: loaded in .* s" "$T/qerr.txt" && grep -q "query: 3 queries in .*per query" "$T/qerr.txt" \
  && ok "load time and per-query time logged: $(grep 'per query' "$T/qerr.txt" | cut -c13-)" || bad "timing lines: $(cat "$T/qerr.txt")"

# an image of the dataset as a PNG file (written with zlib: no imaging package needed), a real
# photo (a committed Fashion JPEG, resized by the query), a corrupt file
$PY - "$R/dataset.h5" "$T" <<'PYEOF'
import sys, h5py, zlib, struct
f = h5py.File(sys.argv[1], "r")
im = f["images"][17]
h, w = im.shape[:2]
raw = b"".join(b"\0" + im[y].tobytes() for y in range(h))
chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + \
      chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open(sys.argv[2] + "/img17.png", "wb").write(png)
open(sys.argv[2] + "/corrupt.jpg", "wb").write(b"\xff\xd8\xff\xe0 not a jpeg")
PYEOF
PHOTO=$(ls "$SRC_DIR"/tests/data/samples/fashion/images/*.jpg | head -1)
ARGS=(--text "a red circle" --image "$T/img17.png" --image "$PHOTO" --captions -k 5 --format tsv)
ok_same=1
for np in 1 2 3; do
  Q $np "$R" "${ARGS[@]}" >"$T/e$np.tsv" || { bad "exact query at $np ranks: $(tail -3 "$T/qerr.txt")"; ok_same=0; }
  Q $np "$R" "${ARGS[@]}" --index forest >"$T/f$np.tsv" || { bad "forest query at $np ranks: $(tail -3 "$T/qerr.txt")"; ok_same=0; }
done
if [ $ok_same = 1 ]; then
  cmp -s "$T/e1.tsv" "$T/e2.tsv" && cmp -s "$T/e1.tsv" "$T/e3.tsv" && ok "exact: the same bytes at 1, 2 and 3 ranks ($(wc -l <"$T/e1.tsv") rows)" \
    || bad "exact results differ across rank counts"
  cmp -s "$T/f1.tsv" "$T/f2.tsv" && cmp -s "$T/f1.tsv" "$T/f3.tsv" && ok "forest: the same bytes at 1, 2 and 3 ranks" \
    || bad "forest results differ across rank counts"
  out=$($PY - "$T/e1.tsv" "$T/f1.tsv" "$R/index.h5" "$R/embeddings.h5" <<'PYEOF'
import sys, csv, h5py, numpy as np
e = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
fo = list(csv.DictReader(open(sys.argv[2]), delimiter="\t"))
top = [r for r in e if r["query"] == "2" and r["target"] == "image" and r["rank"] == "1"][0]
assert top["id"] == "17" and float(top["score"]) >= 0.9999, top
held = set(h5py.File(sys.argv[3], "r")["ids"][()].tolist())
X = h5py.File(sys.argv[4], "r")["images/embedding"][()]
fi = [r for r in fo if r["target"] == "image"]
assert fi and all(int(r["id"]) in held for r in fi), "forest answer outside its images"
# the same query's exact scores for the same images are the forest's scores
for q in ("1", "2", "3"):
    ex = {r["id"]: r["score"] for r in e if r["query"] == q and r["target"] == "image"}
    for r in fi:
        if r["query"] == q and r["id"] in ex:
            assert ex[r["id"]] == r["score"], (q, r["id"], ex[r["id"]], r["score"])
caps = [r for r in e if r["target"] == "caption"]
assert len(caps) == 15 and all(r["captions"] for r in caps)
print("image 17 finds itself (score %s); the forest answers from its %d images with exact scores; 15 caption hits" % (top["score"], len(held)))
PYEOF
  ) && ok "$out" || bad "query results: $out"
fi
Q 1 "$CFG" --run-dir "$R" "${JOB[@]}" "${ARGS[@]}" >"$T/job.tsv" && cmp -s "$T/job.tsv" "$T/e1.tsv" \
  && ok "JOB.cfg --run-dir gives the same as the run directory alone" || bad "JOB.cfg form differs: $(tail -3 "$T/qerr.txt")"

# formats
if Q 2 "$R" --text "a red <circle> & \"more\"" --image "$T/img17.png" -k 4 --format json >"$T/q.json" \
   && Q 1 "$R" --text "a red <circle> & \"more\"" --image "$T/img17.png" -k 4 --format html --out "$T/q.html" \
   && Q 1 "$R" --text "a red circle" -k 3 >"$T/q.txt"; then
  out=$($PY - "$T/q.json" "$T/q.html" "$T/q.txt" <<'PYEOF'
import sys, json, base64, struct, html.parser
j = json.load(open(sys.argv[1]))
assert j["k"] == 4 and len(j["queries"]) == 2 and j["queries"][0]["query"] == 'a red <circle> & "more"'
for q in j["queries"]:
    assert len(q["images"]) == 4 and [r["rank"] for r in q["images"]] == [1, 2, 3, 4]
    assert all(isinstance(r["labels"], list) and r["captions"] and r["source"] for r in q["images"])
class P(html.parser.HTMLParser):
    imgs, h2 = [], []
    def handle_starttag(self, tag, a):
        a = dict(a)
        if tag == "img": self.imgs.append(a["src"])
    def handle_data(self, d):
        if self.lasttag == "h2": self.h2.append(d)
p = P(); p.feed(open(sys.argv[2]).read())
assert len(p.imgs) == 8, len(p.imgs)
for s in p.imgs:
    assert s.startswith("data:image/png;base64,")
    png = base64.b64decode(s.split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR", png[:16]
    assert struct.unpack(">II", png[16:24]) == (32, 32), struct.unpack(">II", png[16:24])
assert any('a red <circle> & "more"' in h for h in p.h2), p.h2
t = open(sys.argv[3]).read()
assert t.startswith("query 1 (text): a red circle") and "rank" in t and len(t.splitlines()) == 6, t
print("json (2 queries x 4), html (8 PNG thumbnails of 32x32, the query escaped), table")
PYEOF
  ) && ok "$out" || bad "formats: $out"
else bad "formats: $(tail -3 "$T/qerr.txt")"; fi

# bad inputs
qfail() { # qfail NAME CODE REGEX ARGS...
  local name=$1 code=$2 re=$3; shift 3
  timeout 60 "$HPCLIP" "$@" >"$T/out.txt" 2>&1
  local rc=$?
  if [ $rc != "$code" ]; then bad "$name: exit $rc, expected $code"; sed 's/^/     | /' "$T/out.txt" | head -8; return; fi
  grep -Eq -- "$re" "$T/out.txt" && ok "$name: $(grep -E -m1 -- "$re" "$T/out.txt" | cut -c1-150)" \
    || { bad "$name: no /$re/"; sed 's/^/     | /' "$T/out.txt" | head -8; }
}
qfail "no query" 2 "nothing to ask: give --text" query "$R"
qfail "bad -k" 2 "-k 0: expected a count" query "$R" --text x -k 0
qfail "bad --index" 2 "--index hnsw: expected exact or forest" query "$R" --text x --index hnsw
qfail "bad --format" 2 "--format xml: expected table, tsv, json or html" query "$R" --text x --format xml
qfail "--split with the forest" 2 "--split applies to the exact index" query "$R" --text x --index forest --split test
qfail "a missing image" 4 "nosuch.jpg" query "$R" --image "$T/nosuch.jpg"
qfail "a corrupt image" 4 "corrupt.jpg" query "$R" --image "$T/corrupt.jpg"
printf 'a red circle\n\xff\xfe bad\n' >"$T/bad.txt"
qfail "a query file that is not UTF-8" 4 "bad.txt:2: not UTF-8" query "$R" --queries "$T/bad.txt"
printf 'a red circle\ntext:   \n' >"$T/emptytext.txt"
qfail "an empty text: line" 4 "emptytext.txt:2: \"text:\" without a text" query "$R" --queries "$T/emptytext.txt"
printf '# only a comment\n' >"$T/empty.txt"
qfail "a query file without queries" 4 "empty.txt: no query in the file" query "$R" --queries "$T/empty.txt"
qfail "query options on another command" 2 "are options of .hpclip query., not of 'embed'" embed "$CFG" --run-dir "$R" --text x
cp -r "$R" "$T/noindex"; rm -f "$T/noindex/index.h5"
qfail "--index forest without index.h5" 4 "index.h5: no saved index: --index forest searches the forest the search stage saved" \
  query "$T/noindex" --text x --index forest
# another model beside the first: a second training in $R/v2 reading $R's dataset (run.dataset),
# then embeddings of that checkpoint from a third directory (run.checkpoint): the same bits
SIDE=(-s "run.dataset=$R/dataset.h5")
if expect_ok "a second model beside the first (run.dataset): train, embed" 2 run "$CFG" --run-dir "$R/v2" --stages train,embed \
     "${JOB[@]}" "${SIDE[@]}" -s run.seed=7; then
  [ ! -e "$R/v2/dataset.h5" ] && ok "v2 holds no copy of the dataset" || bad "v2 has its own dataset.h5"
  if expect_ok "embeddings of v2's checkpoint from a third directory (run.checkpoint)" 2 embed "$CFG" --run-dir "$R/v3" \
       "${JOB[@]}" "${SIDE[@]}" -s "run.checkpoint=$R/v2/ckpt.h5"; then
    e=$(same_h5_data "$R/v2/embeddings.h5" "$R/v3/embeddings.h5" 2>&1) && ok "the same embeddings bit for bit" || bad "v2 vs v3: $e"
  fi
  if Q 1 "$R/v2" --text "a red circle" -k 5 --format tsv >"$T/v2.tsv" && Q 1 "$R/v3" --text "a red circle" -k 5 --format tsv >"$T/v3.tsv"; then
    cmp -s "$T/v2.tsv" "$T/v3.tsv" && ok "query names the model by its run directory: v2 and v3 answer alike" || bad "v2 and v3 answers differ"
    Q 1 "$R" --text "a red circle" -k 5 --format tsv >"$T/v1.tsv"
    cmp -s "$T/v1.tsv" "$T/v2.tsv" && bad "the first and the second model answer identically (seeds ignored?)" \
      || ok "the first model's answers are its own"
  else bad "query of v2/v3: $(tail -3 "$T/qerr.txt")"; fi
fi
expect_fail "synth refuses run.dataset" 1 3 "run.dataset = .* names an existing dataset.h5 for the later stages, and stage synth would write it" \
  -- synth "$CFG" --run-dir "$T/v4" "${SIDE[@]}"
expect_fail "train refuses run.checkpoint" 1 3 "run.checkpoint = .* names an existing ckpt.h5 .* stage train would write it" \
  -- train "$CFG" --run-dir "$T/v4" "${SIDE[@]}" -s "run.checkpoint=$R/ckpt.h5"

# docs/query.md "Try it", run as written from a copy of the repository's layout
W="$T/repo"
doc_repo "$W"
doc_block "$SRC_DIR/docs/query.md" "Try it" >"$T/blocks.sh"
if [ "$(grep -c hpclip "$T/blocks.sh")" -ge 5 ] && (cd "$W" && timeout 600 bash -e "$T/blocks.sh") >"$T/doc.txt" 2>&1; then
  grep -q "^query 1 (text): a red circle" "$T/doc.txt" && [ -s "$W/runs/query-demo/answers.tsv" ] && grep -q "<img" "$W/runs/query-demo/answers.html" \
    && ok "docs/query.md 'Try it': its commands run as written" || bad "docs/query.md: outputs missing: $(tail -5 "$T/doc.txt")"
else bad "docs/query.md 'Try it': exit $?"; grep -v "^\[" "$T/doc.txt" | tail -10 | sed 's/^/     | /'; fi

# files that are not what their names say: refused as what they are
mkdir -p "$T/swapped"; cp "$R/ckpt.h5" "$T/swapped/dataset.h5"; cp "$R/ckpt.h5" "$T/swapped/ckpt.h5"
expect_fail "a checkpoint named dataset.h5" 1 4 "swapped/dataset.h5 is an hpclip checkpoint \(schema hpclip.checkpoint\), not a dataset \(schema hpclip.dataset\)" \
  -- embed "$CFG" --run-dir "$T/swapped" "${JOB[@]}"
mkdir -p "$T/swapped2"; cp "$R"/dataset.h5 "$R"/embeddings.h5 "$T/swapped2/"; cp "$R/embeddings.h5" "$T/swapped2/ckpt.h5"
qfail "an embeddings file named ckpt.h5" 4 "ckpt.h5 is an hpclip embeddings file \(schema hpclip.embeddings\), not a checkpoint" \
  query "$T/swapped2" --text x
cp -r "$R" "$T/resynth"
if timeout 300 $MPIRUN -np 1 "$HPCLIP" synth "$CFG" --run-dir "$T/resynth" "${JOB[@]}" -s run.seed=5 --force >/dev/null 2>&1; then
  qfail "a dataset changed after embed" 4 "dataset.h5 is dataset .* but .*embeddings.h5 was made from dataset .*: rerun embed" \
    query "$T/resynth" --text x
else bad "re-synthesising for the stale-dataset case failed"; fi
cp -r "$R" "$T/retrained"
if timeout 300 $MPIRUN -np 1 "$HPCLIP" train "$CFG" --run-dir "$T/retrained" "${JOB[@]}" -s run.seed=99 --force >/dev/null 2>&1; then
  qfail "a checkpoint changed after embed" 4 "embeddings of checkpoint .* but .*ckpt.h5 is .*: rerun embed" query "$T/retrained" --text x
else bad "retraining for the stale-embeddings case failed"; fi
finish
