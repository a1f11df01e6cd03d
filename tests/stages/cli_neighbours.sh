#!/usr/bin/env bash
# cli_neighbours.sh — the search stage's kNN export (search.export_knn) and near-duplicate report
# (search.dedup_threshold) -> neighbours.h5:
#   - `hpclip check` accepts the file; every image of the split has K neighbours, never itself;
#   - exact: equal to a brute-force NumPy top-K over embeddings.h5 (scores within 1e-5, each
#     neighbour's brute-force score equal to the file's, the K-th score not beaten by any other
#     image); the dedup pairs are exactly the list pairs at score >= t, each once, a < b;
#   - the file's datasets are bitwise the same at 1, 2 and 3 ranks (exact and forest);
#   - the forest's neighbours come from the split's images; search.md reports the export.
. "$SRC_DIR/tests/cli/lib.sh"
CFG="$SRC_DIR/conf/quickstart.cfg"
R="$T/run"
JOB=("${TINY_MODEL[@]}" -s synth.num_images=150 -s run.watchdog=300)
if ! expect_ok "synth, train, embed" 2 run "$CFG" --run-dir "$R" --stages synth,train,embed "${JOB[@]}"; then finish; exit; fi
EXP=(-s search.export_knn=6 -s search.dedup_threshold=0.9)
for kind in exact forest; do
  for np in 1 2 3; do
    d="$T/$kind$np"; mkdir -p "$d"; cp "$R"/dataset.h5 "$R"/ckpt.h5 "$R"/embeddings.h5 "$d/"
    expect_ok "search with the export ($kind, split all)" $np search "$CFG" --run-dir "$d" "${JOB[@]}" "${EXP[@]}" \
      -s search.split=all -s search.index=$kind || continue
  done
  [ -f "$T/${kind}1/neighbours.h5" ] || continue
  "$HPCLIP" check "$T/${kind}1/neighbours.h5" >/dev/null 2>&1 && ok "$kind: hpclip check accepts neighbours.h5" || bad "$kind: neighbours.h5 invalid"
  for np in 2 3; do
    e=$(same_h5_data "$T/${kind}1/neighbours.h5" "$T/$kind$np/neighbours.h5" 2>&1) && ok "$kind: identical at 1 and $np ranks" \
      || bad "$kind: 1 vs $np ranks: $e"
  done
  grep -q "Neighbour export: the 6 nearest other images of each of the 150 images ($kind index)" "$T/${kind}1/search.md" \
    && ok "$kind: search.md reports it" || bad "$kind: search.md: $(grep -i neighbour "$T/${kind}1/search.md")"
done
out=$($PY - "$T/exact1/neighbours.h5" "$R/embeddings.h5" exact <<'PYEOF'
import sys, h5py, numpy as np
f, e = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
ids, nbr, sc = f["images/ids"][()], f["images/neighbours"][()], f["images/scores"][()]
X = e["images/embedding"][()].astype(np.float64)
N, K = nbr.shape
assert list(ids) == list(range(len(X))) and f.attrs["k"] == K == 6
S = X @ X.T
for i in range(N):
    row = S[i].copy(); row[i] = -np.inf
    assert i not in nbr[i] and (nbr[i] >= 0).all()
    assert np.all(np.diff(sc[i]) <= 0), "not best first"
    assert np.allclose(S[i, nbr[i]], sc[i], atol=1e-5), (i, S[i, nbr[i]], sc[i])
    kth = sc[i][-1]
    others = np.delete(row, list(nbr[i]) + [i])
    assert others.max() <= kth + 1e-5, (i, others.max(), kth)
t = float(f["dedup/threshold"][0])
want = set()
for i in range(N):
    for j in range(K):
        if sc[i, j] >= np.float32(t): want.add((min(i, nbr[i, j]), max(i, nbr[i, j])))
pairs = [tuple(p) for p in f["dedup/pairs"][()]]
assert pairs == sorted(want), (len(pairs), len(want))
assert all(a < b for a, b in pairs) and len(f["dedup/scores"]) == len(pairs)
print("150 images x 6: the brute-force top-6 (scores within 1e-5, none beaten); %d dedup pairs at >= %g, as the lists say" % (len(pairs), t))
PYEOF
) && ok "$out" || bad "exact export: $out"
out=$($PY - "$T/forest1/neighbours.h5" <<'PYEOF'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
ids, nbr = f["images/ids"][()], f["images/neighbours"][()]
assert f.attrs["index"] in (b"forest", "forest")
valid = nbr[nbr >= 0]
assert set(valid.tolist()) <= set(ids.tolist()) and all(i not in nbr[k] for k, i in enumerate(ids))
print("forest: %d of %d neighbour slots filled, all from the indexed images, never the image itself" % (len(valid), nbr.size))
PYEOF
) && ok "$out" || bad "forest export: $out"
# the test split only: neighbours among those images
d="$T/test"; mkdir -p "$d"; cp "$R"/dataset.h5 "$R"/ckpt.h5 "$R"/embeddings.h5 "$d/"
if expect_ok "export over the test split" 2 search "$CFG" --run-dir "$d" "${JOB[@]}" -s search.export_knn=3; then
  out=$($PY -c "
import sys, h5py, numpy as np
f, e = h5py.File(sys.argv[1], 'r'), h5py.File(sys.argv[2], 'r')
sp = e['images/split'][()]; ids = f['images/ids'][()]; nbr = f['images/neighbours'][()]
assert (sp[ids] == 2).all() and set(nbr[nbr >= 0].tolist()) <= set(ids.tolist()) and 'dedup' not in f
print('%d test images, neighbours among them, no /dedup without a threshold' % len(ids))" "$d/neighbours.h5" "$R/embeddings.h5" 2>&1) \
    && ok "$out" || bad "test split export: $out"
fi
finish
