#!/bin/bash
# cli_cluster_ranks.sh — `hpclip cluster` on the tiny evaluation run (tests/eval/tiny.cfg) at 1,
# 2 and 3 ranks: every k-means / quality / modality-gap / probe / PCA table identical (h5diff;
# the PCA's covariance is summed exactly and solved on a 1-rank grid by default), with
# cluster.solver_ranks = 0 (a grid over every rank) equal to rounding,
# cluster.md identical, results.h5 valid (hpclip check), the elbow curve stored and both figures
# drawn, caption clustering and a silhouette sample too, cluster.analysis = false; the skip
# rule; bad configurations (k = 1, inverted elbow range, k_min < 2, k > rows) fail clearly.
. "$SRC_DIR/tests/cli/lib.sh"
CFG="$SRC_DIR/tests/eval/tiny.cfg"
t0=$SECONDS
if expect_ok "synth+train+embed" 2 run "$CFG" --run-dir "$T/base" --stages synth,train,embed; then
  for np in 1 2 3; do
    mkdir -p "$T/r$np" "$T/c$np" && cp "$T/base/embeddings.h5" "$T/r$np/" && cp "$T/base/embeddings.h5" "$T/c$np/"
    expect_ok "cluster (elbow)" $np cluster "$CFG" --run-dir "$T/r$np" -s cluster.k_min=2 -s cluster.k_max=9 -s cluster.k_step=3
    cp "$T/out.txt" "$T/log$np.txt"
    expect_ok "cluster captions, K = 5, sampled silhouette" $np cluster "$CFG" --run-dir "$T/c$np" \
      -s cluster.source=caption -s cluster.k=5 -s cluster.split=train -s cluster.silhouette_sample=60
  done
  for d in r2 c2; do
    if "$HPCLIP" check "$T/$d/results.h5" >/dev/null 2>&1; then ok "$d/results.h5 valid"
    else bad "$d/results.h5 invalid: $("$HPCLIP" check "$T/$d/results.h5" 2>&1)"; fi
  done
  for np in 1 3; do
    for o in /cluster/quality /cluster/sizes /cluster/centers /cluster/labels /cluster/elbow/k /cluster/elbow/wcss \
             /cluster/modality_gap /cluster/probe /cluster/pca/eigenvalues /cluster/pca/components \
             /cluster/pca/projection; do
      if h5diff "$T/r2/results.h5" "$T/r$np/results.h5" $o >/dev/null; then ok "images $o: 2 = $np ranks"
      else bad "images $o differs between 2 and $np ranks"; h5diff "$T/r2/results.h5" "$T/r$np/results.h5" $o | head -5; fi
    done
    for o in /cluster/quality /cluster/sizes /cluster/centers /cluster/labels /cluster/modality_gap; do
      if h5diff "$T/c2/results.h5" "$T/c$np/results.h5" $o >/dev/null; then ok "captions $o: 2 = $np ranks"
      else bad "captions $o differs between 2 and $np ranks"; fi
    done
    # every rank in the ScaLAPACK grid: PCA equal to the default's to rounding (eigenvalues within
    # 1e-13 absolute — the largest is ~1e-4 here —, vectors within 1e-8)
    mkdir -p "$T/g$np" && cp "$T/base/embeddings.h5" "$T/g$np/"
    if expect_ok "cluster, solver grid over all ranks" $np cluster "$CFG" --run-dir "$T/g$np" -s cluster.k=4 \
         -s cluster.solver_ranks=0; then
      if h5diff -d 1e-13 "$T/r2/results.h5" "$T/g$np/results.h5" /cluster/pca/eigenvalues >/dev/null \
         && h5diff -d 1e-8 "$T/r2/results.h5" "$T/g$np/results.h5" /cluster/pca/components >/dev/null \
         && h5diff -d 1e-8 "$T/r2/results.h5" "$T/g$np/results.h5" /cluster/pca/projection >/dev/null \
         && h5diff "$T/r2/results.h5" "$T/g$np/results.h5" /cluster/probe >/dev/null; then
        ok "solver grid of $np ranks: PCA = 1-rank grid to rounding, probe identical"
      else bad "solver grid of $np ranks: PCA differs beyond rounding"; fi
    fi
    if cmp -s "$T/r2/cluster.md" "$T/r$np/cluster.md" && cmp -s "$T/c2/cluster.md" "$T/c$np/cluster.md"; then
      ok "cluster.md: 2 = $np ranks"; else bad "cluster.md differs between 2 and $np ranks"; fi
  done
  [ "$(h5dump -d /cluster/elbow/k -y "$T/r2/results.h5" 2>/dev/null | grep -Eo '\b[0-9]+\b' | tail -4 | tr '\n' ' ')" = "2 5 8 9 " ] \
    && ok "elbow K values 2 5 8 9 (k_max included)" || bad "elbow K values"
  grep -q "| K | WCSS | BCSS" "$T/r2/cluster.md" && grep -q "(elbow)" "$T/r2/cluster.md" && ok "tables in cluster.md" || bad "tables not in cluster.md"
  grep -q "tables in $T/r2/cluster.md" "$T/log2.txt" && ! grep -q "^| K | WCSS" "$T/log2.txt" \
    && ok "log names cluster.md, no table on stdout (run.log_level info)" || bad "log: tables on stdout or cluster.md not named"
  grep -q "Silhouette over a seeded sample (60 rows)" "$T/c2/cluster.md" && ok "sample size reported" || bad "sample size"
  grep -q "| modality gap | centroid cosine" "$T/r2/cluster.md" && grep -q "Linear probe (ridge 1, ScaLAPACK pdposv): top-1 accuracy" \
    "$T/r2/cluster.md" && grep -q "PCA (ScaLAPACK pdsyevd)" "$T/r2/cluster.md" && ok "analytics in cluster.md" || bad "analytics missing"
  # the figures
  if $PY "$SRC_DIR/scripts/plot_cluster.py" "$T/r2/results.h5" "$T/png" >"$T/plot.txt" 2>&1 && [ -s "$T/png/cluster_elbow.png" ] \
     && [ -s "$T/png/cluster_pca3d.png" ]; then ok "plot_cluster.py: both PNGs"; else bad "plot_cluster.py"; cat "$T/plot.txt"; fi
  # without the analytics: no /cluster/pca, still valid
  mkdir -p "$T/na" && cp "$T/base/embeddings.h5" "$T/na/"
  if expect_ok "cluster.analysis = false" 2 cluster "$CFG" --run-dir "$T/na" -s cluster.k=3 -s cluster.analysis=false; then
    ! h5ls "$T/na/results.h5/cluster" | grep -q pca && "$HPCLIP" check "$T/na/results.h5" >/dev/null 2>&1 \
      && ok "no analytics written, file valid" || bad "cluster.analysis = false"
  fi
  # hpclip check on damaged /cluster groups (h5py, independent of hpclip's HDF5 code)
  for case in negative_label no_sizes short_projection; do
    cp "$T/r2/results.h5" "$T/bad_$case.h5"
    $PY - "$T/bad_$case.h5" "$case" <<'PYEOF'
import sys, h5py
path, case = sys.argv[1:3]
with h5py.File(path, "r+") as f:
    g = f["cluster"]
    if case == "negative_label":
        lab = g["labels"][...]; lab[3] = -1; del g["labels"]; g.create_dataset("labels", data=lab)
    elif case == "no_sizes":
        del g["sizes"]
    elif case == "short_projection":
        p = g["pca/projection"][...][:-1]; del g["pca/projection"]; g.create_dataset("pca/projection", data=p)
PYEOF
    expect_fail "check: $case" 0 4 "/cluster/" -- check "$T/bad_$case.h5"
  done
  # skip rule: unchanged -> skipped; a cluster key changed -> reruns
  if expect_ok "rerun" 2 run "$CFG" --run-dir "$T/r2" --stages cluster -s cluster.k_min=2 -s cluster.k_max=9 -s cluster.k_step=3; then
    grep -q "stage cluster: .*skipping" "$T/out.txt" && ok "unchanged: skipped" || bad "unchanged rerun did not skip"
  fi
  # bad configurations
  expect_fail "k = 1" 2 3 "cluster.k = 1: at least 2" -- cluster "$CFG" --run-dir "$T/r2" --force -s cluster.k=1
  expect_fail "inverted range" 2 3 "cluster.k_min = 9 > cluster.k_max = 4: the elbow range is inverted" -- \
    cluster "$CFG" --run-dir "$T/r2" --force -s cluster.k_min=9 -s cluster.k_max=4
  expect_fail "k_min < 2" 2 3 "cluster.k_min = 1: the elbow range starts at 2" -- cluster "$CFG" --run-dir "$T/r2" --force -s cluster.k_min=1
  expect_fail "k > rows" 3 3 "cluster.k = 151 exceeds the 150 image rows" -- cluster "$CFG" --run-dir "$T/r2" --force -s cluster.k=151
  expect_fail "k_max > rows of the split" 2 3 "cluster.k_max = 40 exceeds the 2[0-9] image rows of split 'test'" -- \
    cluster "$CFG" --run-dir "$T/r2" --force -s cluster.split=test -s cluster.k_max=40
  expect_fail "negative k" 0 3 "cluster.k" -- cluster "$CFG" --run-dir "$T/r2" --force -s cluster.k=-3
  expect_fail "no embeddings" 2 4 "embeddings.h5" -- cluster "$CFG" --run-dir "$T/empty" --force
fi
echo "($((SECONDS - t0)) s)"
finish
