#!/usr/bin/env bash
# cli_zeroshot_templates.sh — zeroshot.templates, CLIP's prompt ensembling: with templates A and B
# a class embedding is the unit vector along (A's + B's unit class embeddings), checked in numpy
# from results.h5 /zeroshot/class_embeddings of three runs (A alone, B alone, both); the accuracy
# equals numpy's argmax over the stored class embeddings; one template "{}" is the bare prompt;
# the templates are listed in results.h5 and zeroshot.md; prompt and templates together are
# refused; the same figures at 1 and 2 ranks.
. "$SRC_DIR/tests/cli/lib.sh"
CFG="$SRC_DIR/tests/eval/tiny.cfg"
R="$T/run"
expect_ok "synth, train, embed" 2 run "$CFG" --run-dir "$R" --stages synth,train,embed || { finish; exit 1; }
zs() { # name np extra-args...: zeroshot into a copy of the run, class embeddings kept
  local name=$1 np=$2; shift 2
  cp -r "$R" "$T/$name"; rm -f "$T/$name/results.h5"
  expect_ok "zeroshot $name" "$np" zeroshot "$CFG" --run-dir "$T/$name" "$@"
}
zs A 2 -s 'zeroshot.prompt=a photo of a {}.'
zs B 2 -s 'zeroshot.prompt={}, seen in a picture'
zs AB 2 -s 'zeroshot.prompt={}' -s 'zeroshot.templates=["a photo of a {}.", "{}, seen in a picture"]'
zs AB1 1 -s 'zeroshot.prompt={}' -s 'zeroshot.templates=["a photo of a {}.", "{}, seen in a picture"]'
zs bare 2 -s 'zeroshot.prompt={}'
zs one 2 -s 'zeroshot.prompt={}' -s 'zeroshot.templates=["{}"]'
out=$($PY - "$T" <<'PYEOF'
import sys, h5py, numpy as np
T = sys.argv[1]
g = lambda n: h5py.File("%s/%s/results.h5" % (T, n), "r")["zeroshot"]
A, B, AB = (g(n)["class_embeddings"][()] for n in ("A", "B", "AB"))
want = A + B
want /= np.linalg.norm(want, axis=1, keepdims=True)
err = np.abs(AB - want).max()
assert err < 1e-6, err
assert not np.allclose(A, B), "the two templates gave the same embeddings"
t = [x.decode() if isinstance(x, bytes) else x for x in []]
tb, to = g("AB")["templates/bytes"][()].tobytes(), g("AB")["templates/offsets"][()]
names = [tb[to[k]:to[k + 1]].decode() for k in range(len(to) - 1)]
assert names == ["a photo of a {}.", "{}, seen in a picture"], names
# the accuracy from the stored classifier: argmax over the test images
e = h5py.File("%s/run/embeddings.h5" % T, "r")
emb, split, lab = e["images/embedding"][()], e["images/split"][()], e["labels/matrix"][()]
sel = (split == 2) & (lab.sum(1) > 0)
pred = np.argmax(emb[sel].astype(np.float64) @ AB.T, axis=1)
acc = lab[sel][np.arange(sel.sum()), pred].mean()
got = g("AB")["table2"][6]
assert abs(acc - got) <= 1.0 / sel.sum() + 1e-12, (acc, got)
assert np.array_equal(g("AB")["table2"][()], g("AB1")["table2"][()]) and np.array_equal(AB, g("AB1")["class_embeddings"][()])
assert np.array_equal(g("one")["table2"][()], g("bare")["table2"][()])
print("ensemble = normalised sum of the templates' class embeddings (max error %.1e); accuracy %.3f as numpy; "
      "1 = 2 ranks; one template {} = the bare prompt" % (err, got))
PYEOF
) && ok "$out" || bad "templates: $out"
grep -q "class embeddings averaged over 2 prompt templates" "$T/AB/zeroshot.md" && ok "zeroshot.md names the templates" \
  || bad "zeroshot.md: $(grep -i prompt "$T/AB/zeroshot.md")"
expect_fail "prompt and templates together" 1 3 "both zeroshot.prompt and zeroshot.templates are set" \
  -- zeroshot "$CFG" --run-dir "$T/A" -s 'zeroshot.templates=["{}"]' --force
finish
