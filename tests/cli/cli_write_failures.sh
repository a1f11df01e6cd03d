#!/usr/bin/env bash
# Write failures (issue 11, item 3): each stage rerun (--force) over a complete run directory
# under a file-size limit (prlimit --fsize, like `ulimit -f`; no root needed) smaller than the
# output it writes, at 1 and 2 ranks, for every output kind: dataset.h5 (synth), ckpt.h5 (train),
# embeddings.h5 (embed), results.h5 (zeroshot), search_top5.png (search), summary.md and report.html (report).
# Each must: exit non-zero (5, I/O error) within seconds, print a message naming the file, leave
# no temporary file, and leave every earlier output byte-identical and valid under `hpclip check`.
# hpclip ignores SIGXFSZ (cli/main.c), so crossing the limit is an EFBIG write error, not a kill.
# Then the same on a full file system (a small tmpfs) when one can be mounted; skipped otherwise.
source "$(dirname "$0")/lib.sh"
CFG="$SRC_DIR/tests/eval/tiny.cfg"
REAL_HPCLIP=$HPCLIP
R="$T/ref"
expect_ok "complete run (reference)" 2 run "$CFG" --run-dir "$R" --stages synth,train,embed,search,zeroshot,report || { finish; exit 1; }
ls "$R" >"$T/ref.list"

# same_as_ref NAME DIR: every file of the reference is still there, unchanged; no *.tmp; the
# HDF5 files pass `hpclip check`.
same_as_ref() {
  local name=$1 dir=$2 f okk=1
  for f in $(cat "$T/ref.list"); do
    cmp -s "$R/$f" "$dir/$f" || { bad "$name: $f changed or missing"; okk=0; }
  done
  if ls "$dir" | grep -q '\.tmp$'; then bad "$name: temporary file left: $(ls "$dir" | grep '\.tmp$')"; okk=0; fi
  for f in "$dir"/*.h5; do
    "$HPCLIP" check "$f" >"$T/chk.txt" 2>&1 || { bad "$name: $(basename "$f") fails check: $(cat "$T/chk.txt")"; okk=0; }
  done
  [ $okk = 1 ] && ok "$name: no temporary file, earlier outputs unchanged and valid"
}

# case NAME STAGE LIMIT_BYTES FILE_REGEX
limit_case() {
  local name=$1 stage=$2 lim=$3 re=$4 np
  for np in 1 2; do
    local W="$T/w-$stage-$np"
    rm -rf "$W" && cp -a "$R" "$W"
    # The limit applies to the hpclip processes only (a wrapper mpirun starts), and MPI uses TCP
    # between ranks: under a file-size limit, Open MPI's shared-memory transport cannot size
    # its segment file, and mpirun itself must stay able to write its session files.
    printf '#!/bin/sh\nexec prlimit --fsize=%s "%s" "$@"\n' "$lim" "$REAL_HPCLIP" >"$T/limited"
    chmod +x "$T/limited"
    local saved=$MPIRUN
    MPIRUN="$saved --mca btl self,tcp" HPCLIP="$T/limited" \
      expect_fail "$name, limit $lim bytes" $np 5 "$re" -- "$stage" "$CFG" --run-dir "$W" --force
    MPIRUN=$saved HPCLIP=$REAL_HPCLIP
    same_as_ref "$name (np=$np)" "$W"
  done
}

size() { stat -c %s "$R/$1"; }
limit_case "dataset.h5 (synth)"     synth  $(( $(size dataset.h5) / 2 ))     "dataset\.h5.*(File too large|write|disk full)"
limit_case "ckpt.h5 (train)"        train  $(( $(size ckpt.h5) / 2 ))        "(ckpt|train-state|train-best)\.h5.*(File too large|write|disk full)"
limit_case "embeddings.h5 (embed)"  embed  $(( $(size embeddings.h5) / 2 ))  "embeddings\.h5.*(File too large|write|disk full)"
limit_case "results.h5 (zeroshot)"  zeroshot $(( $(size results.h5) / 2 ))     "results\.h5.*(File too large|write|disk full)"
limit_case "search_top5.png (search)" search $(( $(size search_top5.png) / 2 )) "search_top5\.png.*(File too large|write|disk full)"
limit_case "summary.md (report)"    report $(( $(size summary.md) / 2 ))     "(summary\.md|report\.html).*(File too large|write|disk full)"
# Full file system: a small tmpfs (needs root and a kernel that lets us mount; skipped cleanly
# otherwise) holding a copy of the complete run, filled up to leave half of the output's size
# free. Same checks; the message says the write failed and names the file.
M="$T/full"
mkdir -p "$M"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=4m tmpfs "$M" 2>/dev/null; then
  trap 'umount "$M" 2>/dev/null; rm -rf "$T"' EXIT
  full_case() {
    local name=$1 stage=$2 free=$3 re=$4 np
    for np in 2; do # (1 rank: the file-size cases above take the same paths)
      rm -rf "$M"/* && cp -a "$R" "$M/run"
      dd if=/dev/zero of="$M/filler" bs=4096 2>/dev/null # until the file system is full
      truncate -s -"$free" "$M/filler"
      expect_fail "full disk: $name, $free bytes free" $np 5 "$re" -- "$stage" "$CFG" --run-dir "$M/run" --force
      rm -f "$M/filler"
      same_as_ref "full disk: $name (np=$np)" "$M/run"
    done
  }
  full_case "dataset.h5 (synth)"    synth    $(( $(size dataset.h5) / 2 ))    "dataset\.h5.*(No space|write|disk full)"
  full_case "embeddings.h5 (embed)" embed    $(( $(size embeddings.h5) / 2 )) "embeddings\.h5.*(No space|write|disk full)"
  full_case "results.h5 (zeroshot)" zeroshot $(( $(size results.h5) / 2 ))   "results\.h5.*(No space|write|disk full)"
  full_case "summary.md (report)"   report   $(( $(size summary.md) / 2 ))    "(summary\.md|report\.html).*(No space|write|disk full)"
  umount "$M"
else
  echo "skip full-disk cases: cannot mount a tmpfs here (not root, or no permission)"
fi
finish
