#!/usr/bin/env bash
# bench_query.sh — `hpclip query` at COCO size (issue 22): load time and time per query, apart,
# with peak RSS per rank, for text and image queries against the exact index over every image
# and against the saved forest (and the exact index over the same images, for comparison).
#
#   scripts/bench/bench_query.sh [--build DIR] [--out DIR] [--cfg JOB.cfg] [--images 118287]
#                                [--ranks "1 2"] [--threads 1] [--reps 5] [-s key=value]...
# Setup, once (on the largest rank count): synth --images scenes at 32x32 (COCO 2017 train's
# count by default), a checkpoint of ONE training step of conf/quickstart.cfg's encoders with
# model.embed_dim = 512 (CLIP ViT-B's width: the search cost is N x E; the weights' quality
# does not change it), embed every image and caption, search with search.split = test,
# search.index = forest, search.save_index = true (index.h5 holds the test split's images).
# Measured: 32 text queries (captions of the dataset) and 8 image queries (PNG files of dataset
# images) in one --queries file; per rank count and index (exact over all images, exact over
# the test split, forest over the test split), --reps runs alternating between the three,
# each started after printing the load; the table gives the fastest load and per-query times
# over the runs (the query command's own log lines) and the largest peak RSS of a rank
# (/usr/bin/time). Environment: OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = threads,
# OMP_WAIT_POLICY=PASSIVE. Output: $OUT/table.md (also printed), logs in $OUT/logs/.
set -u
BENCH=bench_query.sh
# shellcheck source=scripts/bench/lib.sh
. "$(dirname "$0")/lib.sh"
IMAGES=118287
REPS=5
while [ $# -gt 0 ]; do bench_option "$@"; shift 2; done
bench_setup bench-query
S=(-s "synth.num_images=$IMAGES" -s data.image_size=32 -s model.embed_dim=512 -s embed.batch=256 -s search.split=test
   -s search.index=forest -s search.save_index=true -s run.watchdog=3600 "${EXTRA[@]}")
echo "bench_query: $(date -Is), $(nproc --all) cores, load $(cut -d' ' -f1-3 /proc/loadavg); job $CFG, $IMAGES images, ranks $RANKS, $THREADS thread(s)/rank, $REPS reps"
BASE=$OUT/base
mkdir -p "$BASE"
if [ ! -f "$BASE/index.h5" ]; then
  run "$maxnp" "$OUT/logs/base.txt" run "$CFG" --run-dir "$BASE" --stages synth,train,embed,search --force "${S[@]}" \
    -s train.max_steps=1
fi
Q=$OUT/queries.txt
/usr/bin/python3 - "$BASE/dataset.h5" "$OUT" "$Q" <<'PYEOF'
import sys, h5py, zlib, struct
f = h5py.File(sys.argv[1], "r")
b, o = f["captions/text/bytes"], f["captions/text/offsets"][()]
n = len(o) - 1
lines = []
for k in range(32):
    i = (k * 104729) % n
    lines.append(bytes(b[o[i]:o[i + 1]]).decode("utf-8").replace("\n", " "))
chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
N = f["images"].shape[0]
for k in range(8):
    im = f["images"][(k * 7919) % N]
    h, w = im.shape[:2]
    raw = b"".join(b"\0" + im[y].tobytes() for y in range(h))
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + \
          chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    p = "%s/q%d.png" % (sys.argv[2], k)
    open(p, "wb").write(png)
    lines.append("image:" + p)
open(sys.argv[3], "w").write("\n".join(lines) + "\n")
PYEOF
# the measurements start on a quiet machine: wait (at most 10 minutes) for the 1-minute load < 0.5
for _ in $(seq 120); do
  awk '{ exit !($1 < 0.5) }' /proc/loadavg && break
  sleep 5
done
echo "bench_query: measuring from load $(cut -d' ' -f1-3 /proc/loadavg)"
printf 'a red circle\n' >"$OUT/one.txt"
ROWS=$OUT/rows.txt
: >"$ROWS"
for rep in $(seq "$REPS"); do
  for np in $RANKS; do
    for mode in exact-all exact-test forest-test one-exact-all; do
      case $mode in
        exact-all) a=(--index exact --split all --queries "$Q") ;;
        exact-test) a=(--index exact --split test --queries "$Q") ;;
        forest-test) a=(--index forest --queries "$Q") ;;
        *) a=(--index exact --split all --queries "$OUT/one.txt") ;; # a lone text query: its latency
      esac
      log=$OUT/logs/$mode-np$np-rep$rep.txt
      echo "bench_query: load $(cut -d' ' -f1-3 /proc/loadavg) before $mode on $np rank(s), rep $rep"
      rm -f "$log.rss"
      if ! "${MPIRUN[@]}" -np "$np" /usr/bin/time -a -o "$log.rss" -f "maxrss_kb %M" "$HPCLIP" query "$BASE" -k 10 \
           --format tsv --out "$OUT/answers-$mode-np$np.tsv" "${a[@]}" >"$log" 2>&1; then
        echo "$BENCH: query $mode on $np ranks failed; see $log" >&2; tail -5 "$log" >&2; exit 1
      fi
      load=$(sed -n 's/.*query: loaded in \([0-9.]*\) s.*/\1/p' "$log")
      enc=$(sed -n 's/.*encoding \([0-9.]*\) ms, search .*/\1/p' "$log")
      srch=$(sed -n 's/.*, search \([0-9.]*\) ms per query.*/\1/p' "$log")
      n=$(sed -n 's/.*\(exact\|forest\) index of \([0-9]*\) images.*/\2/p' "$log")
      rss=$(sed -n 's/^maxrss_kb \([0-9]*\)$/\1/p' "$log.rss" | sort -n | tail -1)
      echo "$mode $np $rep $n $load $enc $srch $rss" >>"$ROWS"
    done
  done
done
# the answers are the same at every rank count (the design's promise; the table is not valid otherwise)
for mode in exact-all exact-test forest-test one-exact-all; do
  first=""
  for np in $RANKS; do
    f=$OUT/answers-$mode-np$np.tsv
    [ -z "$first" ] && first=$f && continue
    cmp -s "$first" "$f" || { echo "$BENCH: $mode answers differ between rank counts" >&2; exit 1; }
  done
done
TABLE=$OUT/table.md
{
  echo "| queries a run | index | images | ranks | load (s) | encoding (ms/query) | search (ms/query) | peak RSS/rank (MiB) |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|"
  for mode in exact-all exact-test forest-test one-exact-all; do
    for np in $RANKS; do
      awk -v m="$mode" -v p="$np" '$1 == m && $2 == p {
          if (!(n++) || $5 < l) l = $5; if (n == 1 || $6 < e) e = $6; if (n == 1 || $7 < s) s = $7; if ($8 > r) r = $8; im = $4 }
        END { q = m ~ /^one/ ? "1 text" : "40 (32 texts, 8 images)"; k = m ~ /forest/ ? "forest" : "exact";
              sp = m ~ /test/ ? "test" : "all";
              printf "| %s | %s (%s) | %d | %d | %.3f | %.2f | %.3f | %.0f |\n", q, k, sp, im, p, l, e, s, r / 1024 }' "$ROWS"
    done
  done
  echo
  echo "Images of 32x32 (PNG files) and captions of the dataset as queries, -k 10, $REPS runs alternating; fastest load,"
  echo "encoding and search times (the command's log lines); largest peak RSS of a rank. $(nproc --all) cores, $THREADS thread(s) per rank; commit $(git -C "$SRC" rev-parse --short HEAD)."
} >"$TABLE"
cat "$TABLE"
