#!/usr/bin/env bash
# bench_caption.sh — captions/s of `hpclip caption` mode (b) (the support-memory projection over
# EVERY training-split caption embedding, then decoding) at 1 and 2 ranks (any rank list).
#
#   scripts/bench/bench_caption.sh [--build DIR] [--out DIR] [--cfg JOB.cfg] [--images N]
#                                  [--ranks "1 2"] [--threads 1] [--beam 1] [--reps 1]
#                                  [-s key=value]...
# Defaults: build dir $SRC/build, out dir $BUILD/bench-caption, job conf/quickstart.cfg with
# synth.num_images = N (default 2000: 7,000 training captions in the memory, 300 test images),
# the study's decoder (caption.width 768, ffn 2048, heads 8, 1 block: the keys.c defaults, the
# quickstart's small-decoder overrides are reset), greedy decoding, ranks "1 2", 1 thread per
# rank, 1 repetition (the table gives the fastest of --reps runs). Extra -s overrides go to
# every hpclip call.
# Steps: a dataset, a CLIP checkpoint from ONE training step and a decoder from ONE caption-train
# step (the weights' quality does not change the cost, except through caption lengths: the
# table reports the mean caption length), all on the largest rank count; then per rank count
# `caption --force`, timed from the stage's log line "mode (b) ... N captions ... in S s
# including the projection" (MPI start-up and file reading excluded; the projection of all
# images is included). OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = threads.
# Output: $OUT/table.md (also printed), logs in $OUT/logs/; the /caption results are checked
# identical across rank counts (h5diff).
set -u
BENCH=bench_caption.sh
# shellcheck source=scripts/bench/lib.sh
. "$(dirname "$0")/lib.sh"
BEAM=1
while [ $# -gt 0 ]; do
  case $1 in
    --beam) BEAM=$2; shift 2 ;;
    *) bench_option "$@"; shift 2 ;;
  esac
done
bench_setup bench-caption
S=(-s "synth.num_images=$IMAGES" -s train.max_steps=1 -s caption.width=768 -s caption.ffn=2048 -s caption.heads=8
   -s caption.layers=1 -s caption.train_max_steps=1 -s "caption.beam=$BEAM" "${EXTRA[@]}")
echo "bench_caption: $(date -Is), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); job $CFG, $IMAGES images, beam $BEAM, ranks $RANKS, $THREADS thread(s)/rank"

BASE=$OUT/base
run "$maxnp" "$OUT/logs/prepare.log" run "$CFG" --run-dir "$BASE" --stages synth,train,embed,caption-train "${S[@]}"
mem=$(h5dump -a /state -y "$BASE/caption_ckpt.h5" 2>/dev/null | grep -o "train_captions=[0-9]*" | cut -d= -f2)
{
  echo "| ranks | threads/rank | images | support memory (training captions) | mean caption length | mode (b) s | captions/s | speed-up |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
} >"$OUT/table.md"
first=""
for np in $RANKS; do
  best=""
  for rep in $(seq "$REPS"); do
    d=$OUT/r$np
    mkdir -p "$d" && cp "$BASE"/{dataset,ckpt,embeddings,caption_ckpt}.h5 "$d/"
    log=$OUT/logs/caption-np$np-rep$rep.log
    run "$np" "$log" caption "$CFG" --run-dir "$d" --force "${S[@]}"
    line=$(grep "caption: mode (b)" "$log" | tail -1)
    n=$(sed -E 's/.*: ([0-9]+) captions .*/\1/' <<<"$line")
    s=$(sed -E 's/.* in ([0-9.]+) s including.*/\1/' <<<"$line")
    if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$s; fi
  done
  [ -z "$first" ] && first=$best
  len=$(h5dump -d /caption/captions/projected/offsets -y -w 0 "$OUT/r$np/results.h5" 2>/dev/null |
        sed -n '/DATA {/,/}/p' | tr -d 'DATA{} \n' | awk -F, -v n="$n" '{ print ($NF / n) }')
  awk -v np="$np" -v th="$THREADS" -v n="$n" -v mem="${mem:-?}" -v s="$best" -v f="$first" -v len="${len:-?}" \
    'BEGIN { printf "| %d | %d | %d | %s | %s chars | %.2f | %.1f | %.2f |\n", np, th, n, mem, len, s, n / s, f / s }' \
    >>"$OUT/table.md"
done
for np in $RANKS; do
  [ "$np" = "$(echo $RANKS | cut -d' ' -f1)" ] && continue
  r0=$OUT/r$(echo $RANKS | cut -d' ' -f1)
  if h5diff "$r0/results.h5" "$OUT/r$np/results.h5" /caption/captions >/dev/null 2>&1 &&
     h5diff "$r0/results.h5" "$OUT/r$np/results.h5" /caption/scores >/dev/null 2>&1; then
    echo "captions and scores identical: $(basename "$r0") = r$np"
  else
    echo "bench_caption.sh: /caption differs between rank counts ($r0, $OUT/r$np)" >&2; exit 1
  fi
done
cat "$OUT/table.md"
