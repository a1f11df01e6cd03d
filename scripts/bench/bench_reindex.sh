#!/usr/bin/env bash
# bench_reindex.sh — strong scaling of the re-indexing job (issue 7): `hpclip embed` and
# `hpclip search` on 1 -> 2 ranks (any rank list), same data, same checkpoint, same threads.
#
#   scripts/bench/bench_reindex.sh [--build DIR] [--out DIR] [--cfg JOB.cfg] [--images N]
#                                  [--ranks "1 2"] [--threads 1] [--index exact|forest]
#                                  [--reps 1] [-s key=value]...
# Defaults: build dir $SRC/build, out dir $BUILD/bench-reindex, job conf/quickstart.cfg with
# synth.num_images = N (default 2000), search.split = all (every image and caption searched),
# search.index = exact, ranks "1 2", 1 thread per rank, 1 repetition (the table gives the
# fastest of --reps runs). Extra -s overrides go to every hpclip call (e.g. a bigger model).
# Steps: one dataset + a checkpoint from ONE training step (the weights' quality does not
# change the cost of embedding or search) on the largest rank count, then per rank count:
# embed --force, search --force, each timed from the stage's own log line (`stage X: done in
# S s`, which excludes MPI start-up), with embed's images/s and captions/s and search's build
# time and queries/s (search.md timing block). Environment of every run:
# OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = threads, OMP_WAIT_POLICY=PASSIVE.
# Output: $OUT/table.md (also printed), logs in $OUT/logs/. The embeddings and the search
# results are also checked identical across rank counts (h5diff), as the design promises.
set -u
BENCH=bench_reindex.sh
# shellcheck source=scripts/bench/lib.sh
. "$(dirname "$0")/lib.sh"
INDEX=exact
while [ $# -gt 0 ]; do
  case $1 in
    --index) INDEX=$2; shift 2 ;;
    *) bench_option "$@"; shift 2 ;;
  esac
done
bench_setup bench-reindex
S=(-s "synth.num_images=$IMAGES" -s search.split=all -s "search.index=$INDEX" "${EXTRA[@]}")
echo "bench_reindex: $(date -Is), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); job $CFG, $IMAGES images, index $INDEX, ranks $RANKS, $THREADS thread(s)/rank"

stage_s() { sed -n "s/.*stage $1: done in \([0-9.]*\) s.*/\1/p" "$2" | tail -1; }

BASE=$OUT/base
mkdir -p "$BASE"
run "$maxnp" "$OUT/logs/base.txt" run "$CFG" --run-dir "$BASE" --stages synth,train --force "${S[@]}" -s train.max_steps=1
ROWS=$OUT/rows.txt
: >"$ROWS"
for np in $RANKS; do
  D=$OUT/r$np
  mkdir -p "$D" && cp "$BASE/dataset.h5" "$BASE/ckpt.h5" "$D/" || exit 1
  for rep in $(seq "$REPS"); do
    L=$OUT/logs/embed-np$np-$rep.txt
    run "$np" "$L" embed "$CFG" --run-dir "$D" --force "${S[@]}"
    e=$(sed -n 's/.*embed: \([0-9]*\) images in \([0-9.]*\) s (\([0-9.]*\) images\/s), \([0-9]*\) captions in \([0-9.]*\) s (\([0-9.]*\) captions\/s).*/\1 \3 \4 \6/p' "$L" | tail -1)
    echo "embed $np $rep $(stage_s embed "$L") $e" >>"$ROWS"
    L=$OUT/logs/search-np$np-$rep.txt
    run "$np" "$L" search "$CFG" --run-dir "$D" --force "${S[@]}"
    # search.md timing block: "| exact | build | label | c->i | i->c |" (and "| forest | ...")
    t=$(sed -n '/^<!-- timing -->$/,/^<!-- \/timing -->$/p' "$D/search.md" | grep "^| $INDEX |" | tr -d '|' | awk '{print $2, $3, $4, $5}')
    echo "search $np $rep $(stage_s search "$L") $t" >>"$ROWS"
  done
done

ident="identical"
for np in $RANKS; do
  [ "$np" = "$(tr ' ' '\n' <<<"$RANKS" | head -1)" ] && { first=$np; continue; }
  h5diff "$OUT/r$first/embeddings.h5" "$OUT/r$np/embeddings.h5" /images/embedding >/dev/null || ident="DIFFERENT (embeddings)"
  h5diff "$OUT/r$first/results.h5" "$OUT/r$np/results.h5" /search/clip_recall >/dev/null || ident="DIFFERENT (search)"
done

/usr/bin/python3 - "$ROWS" "$INDEX" "$ident" >"$OUT/table.md" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
index, ident = sys.argv[2], sys.argv[3]
best = {}
for r in rows:  # fastest repetition per (stage, ranks)
    key = (r[0], int(r[1]))
    if key not in best or float(r[3]) < float(best[key][3]):
        best[key] = r
print("| stage | ranks | stage wall s | speed-up | efficiency | throughput |")
print("|---|---:|---:|---:|---:|---|")
for stage in ("embed", "search"):
    ranks = sorted(k[1] for k in best if k[0] == stage)
    if not ranks:
        continue
    t1 = float(best[(stage, ranks[0])][3])
    for np in ranks:
        r = best[(stage, np)]
        t = float(r[3])
        sp = t1 / t if t > 0 else 0.0
        if stage == "embed" and len(r) >= 8:
            thr = "%s images/s (%s images), %s captions/s (%s captions)" % (r[5], r[4], r[7], r[6])
        elif stage == "search" and len(r) >= 8:
            thr = "%s index built in %s s; queries/s: label %s, caption->image %s, image->caption %s" % (index, r[4], r[5], r[6], r[7])
        else:
            thr = "?"
        print("| %s | %d | %.2f | %.2fx | %.0f%% | %s |" % (stage, np, t, sp, 100.0 * sp * ranks[0] / np, thr))
print()
print("Results across rank counts: %s." % ident)
PY
cat "$OUT/table.md"
echo "table: $OUT/table.md; logs: $OUT/logs/"
[ "$ident" = identical ]
