#!/usr/bin/env bash
# cli_report_html.sh — report.html (issue 23) opened in a real browser, headless Chromium:
#   - a run of every stage: the page loads without a script error, every image decoded, every plot
#     drawn, the PCA view drawn (the page's own check, read back from the DOM Chromium dumps);
#   - the numbers of its tables equal results.h5's (Table 1, CLIP recall, AP@10 per class, Table 2,
#     the most confused pairs, the caption scores, the losses of ckpt.h5), and the images shown are
#     the ones results.h5 lists (the best class's top 5, each query's, the zero-shot examples);
#   - subsets of the stages (no training history, no search, only search): the page still passes
#     its check, its sections follow what exists; no link of summary.md or report.html is broken;
#   - a screenshot at 1280 px width.
# Chromium is Debian's `chromium` (scripts/lib/common.sh installs it); without it the test says so
# and is skipped (exit 77).
. "$SRC_DIR/tests/cli/lib.sh"
CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROME" ]; then echo "skipped: no chromium (apt-get install chromium)"; exit 77; fi
CFG="$SRC_DIR/conf/quickstart.cfg"
JOB=("${TINY_MODEL[@]}" -s synth.num_images=200 -s run.watchdog=300 -s cluster.k=0 -s cluster.k_max=6 -s train.epochs=3
     -s 'search.queries=["a red circle", "a blue square"]' -s 'search.query_labels=["red circle", "blue square"]')
R="$T/full"
expect_ok "every stage" 2 run "$CFG" --run-dir "$R" "${JOB[@]}" || { finish; exit; }

# browse FILE OUT: Chromium's DOM of the page after it loaded (the page checks itself on load)
browse() {
  timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --user-data-dir="$T/chrome" \
    --virtual-time-budget=15000 --enable-logging=stderr --v=0 --dump-dom "file://$1" >"$2" 2>"$2.err"
}
check_page() { # DIR NAME: the page's own verdict and no script error
  local d=$1 name=$2
  [ -f "$d/report.html" ] || { bad "$name: no report.html"; return 1; }
  if ! browse "$d/report.html" "$T/$name.dom"; then bad "$name: chromium failed: $(tail -3 "$T/$name.dom.err")"; return 1; fi
  local v
  v=$($PY -c '
import re, sys
t = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r"<body[^>]*>", t)
b = m.group(0) if m else ""
err = re.search(r"data-errors=\"([^\"]*)\"", b)
chk = re.search(r"data-check=\"([^\"]*)\"", b)
print("errors: " + err.group(1) if err else (chk.group(1) if chk else "no verdict"))' "$T/$name.dom")
  if [[ "$v" == ok* ]] && ! grep -qE "Uncaught|CONSOLE.*(Error|error)" "$T/$name.dom.err"; then ok "$name: the page loads in Chromium: $v"
  else bad "$name: $v $(grep -E 'Uncaught|CONSOLE' "$T/$name.dom.err" | head -3)"; return 1; fi
}
# links DIR: every relative link or image of summary.md and report.html exists
links() {
  $PY - "$1" <<'PYEOF'
import os, re, sys
d = sys.argv[1]
bad = []
for name, pat in (("summary.md", r"\]\(([^)#]+)(?:#[^)]*)?\)"), ("report.html", r"(?:href|src)=\"([^\"#]+)")):
    p = os.path.join(d, name)
    if not os.path.exists(p): continue
    for t in re.findall(pat, open(p, encoding="utf-8").read()):
        if re.match(r"^(https?:|data:|mailto:)", t): continue
        if not os.path.exists(os.path.join(d, t)): bad.append("%s -> %s" % (name, t))
print("; ".join(bad) if bad else "ok")
PYEOF
}

check_page "$R" full
out=$($PY - "$T/full.dom" "$R/results.h5" "$R/ckpt.h5" 2>&1 <<'PYEOF'
import sys, re, h5py, numpy as np
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(s):
        super().__init__(); s.tables = {}; s.cur = None; s.row = None; s.alts = []
    def handle_starttag(s, tag, a):
        a = dict(a)
        if tag == "table" and "id" in a: s.cur = s.tables.setdefault(a["id"], [])
        elif tag == "tr" and s.cur is not None: s.row = []; s.cur.append(s.row)
        elif tag == "td" and s.row is not None: s.row.append(float(a["data-v"]) if "data-v" in a else None)
        elif tag == "img": s.alts.append(a.get("alt", ""))
    def handle_endtag(s, tag):
        if tag == "table": s.cur = None; s.row = None
p = P(); p.feed(open(sys.argv[1], encoding="utf-8").read())
r, c = h5py.File(sys.argv[2], "r"), h5py.File(sys.argv[3], "r")
def vals(tid, skip=1):
    return np.array([[v for v in row[skip:]] for row in p.tables[tid] if row], dtype=float)
def same(tid, want, skip=1):
    got = vals(tid, skip)
    assert got.shape == np.shape(want), (tid, got.shape, np.shape(want))
    assert np.allclose(got, want, rtol=0, atol=1e-12, equal_nan=True), (tid, got, want)
same("clip_recall", r["search/clip_recall"][()])
same("table1", r["search/table1"][()])
pc = vals("per_class")
assert np.allclose(pc[:, 4], r["search/per_class/ap"][()][:, 2], atol=1e-12) and np.allclose(pc[:, 0], r["search/per_class/relevant"][()])
same("table2", r["zeroshot/table2"][()].reshape(1, 7))
same("caption_scores", r["caption/scores"][()])
cm = r["zeroshot/confusion"][()]
conf = [row for row in p.tables["zeroshot_confusion"] if row]
off = np.sort((cm - np.diag(np.diag(cm))).ravel())[::-1]
assert [int(row[2]) for row in conf] == [int(v) for v in off[:len(conf)]] and len(conf) == min(10, int((off > 0).sum())), (conf, off[:10])
for q, text in enumerate(["a red circle", "a blue square"]):
    qids = [i for i in r["search/queries/top_ids"][q][:5] if i >= 0]
    assert all("rank %d: image %d" % (k + 1, i) in p.alts for k, i in enumerate(qids)), ("query", q, qids)
ex = [e for e in r["zeroshot/examples"][()] if e[0] >= 0]
assert all("zero-shot example: image %d" % e[0] in p.alts for e in ex), ex
h = vals("history", 0)
assert np.allclose(h[:, 1], c["history/train_loss"][()], atol=1e-12) and np.allclose(h[:, 2], c["history/val_loss"][()], atol=1e-12)
best = int(r["search"].attrs["top5_best_class"])
ids = [i for i in r["search/per_class/top_ids"][best][:5] if i >= 0]
shown = ["rank %d: image %d" % (k + 1, i) for k, i in enumerate(ids)]
assert all(a in p.alts for a in shown), (shown, p.alts[:20])
print("Table 1, CLIP recall, AP@10 of %d classes, Table 2, the %d most confused pairs, caption scores, %d epochs of losses "
      "equal results.h5 / ckpt.h5; the best class's top %d, both queries' top 5 and %d zero-shot examples shown"
      % (len(pc), len(conf), len(h), len(ids), len(ex)))
PYEOF
) && ok "$out" || bad "numbers: $out"
l=$(links "$R") && [ "$l" = ok ] && ok "full: no broken link in summary.md or report.html" || bad "full: broken links: $l"

# subsets of the stages
S="$T/sub"
expect_ok "synth, embed-less search only" 2 run "$CFG" --run-dir "$S" --stages synth,train,embed,search,report "${JOB[@]}" \
  && check_page "$S" "search only" && { l=$(links "$S"); [ "$l" = ok ] && ok "search only: no broken link" || bad "search only: $l"; }
grep -q 'id="clustering"' "$S/report.html" 2>/dev/null && bad "search only: a clustering section without clustering" \
  || ok "search only: no clustering, zero-shot or captioning section"
Z="$T/zs"
mkdir -p "$Z" && cp "$R/dataset.h5" "$R/embeddings.h5" "$R/ckpt.h5" "$Z/" \
  && expect_ok "zeroshot and report only" 2 run "$CFG" --run-dir "$Z" --stages zeroshot,report "${JOB[@]}" \
  && check_page "$Z" "zero-shot only" && { l=$(links "$Z"); [ "$l" = ok ] && ok "zero-shot only: no broken link" || bad "zero-shot only: $l"; }
N="$T/nodata"
mkdir -p "$N" && cp "$R/results.h5" "$N/" && expect_ok "report without dataset.h5 or ckpt.h5" 1 report "$CFG" --run-dir "$N" "${JOB[@]}" \
  && check_page "$N" "results.h5 alone" && { l=$(links "$N"); [ "$l" = ok ] && ok "results.h5 alone: no broken link" || bad "results.h5 alone: $l"; }

# a screenshot at 1280 px
if timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --user-data-dir="$T/chrome" \
     --hide-scrollbars --window-size=1280,2400 --virtual-time-budget=15000 --screenshot="$T/page.png" "file://$R/report.html" \
     >"$T/shot.txt" 2>&1 && [ -s "$T/page.png" ]; then ok "a screenshot at 1280 px ($(stat -c %s "$T/page.png") bytes)"
else bad "screenshot: $(tail -3 "$T/shot.txt")"; fi
finish
