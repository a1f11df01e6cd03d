#!/usr/bin/env bash
# scripts/soak.sh — many small jobs back to back, interrupted at random moments.
#
#   scripts/soak.sh [--jobs N] [--minutes M] [--np P] [--seed S] [--dir DIR]
#
# Each job runs the whole tiny pipeline (tests/eval/tiny.cfg: synth, train, embed, search,
# zeroshot, cluster, report; training lengthened to 120 steps with a restart state every 5) with
# `hpclip run` on P ranks (default 2). While it runs, after a random delay, the soak does one
# (uniform between 0.2 s and 0.7 x the reference run's duration) of: SIGUSR1 to mpirun (preemption notice), SIGTERM to mpirun (time limit), SIGKILL to one
# rank (a node dying), SIGKILL to mpirun and every rank, or nothing. After every attempt it
# checks that every *.h5 / summary.md that looks complete passes `hpclip check` (and no
# attempt left a file that looks complete but is not), then reruns the same job (the requeue)
# until it succeeds (at most 12 attempts). At the end each job's results.h5 tables, ckpt.h5
# parameters, embeddings and dataset must equal an uninterrupted reference run (every dataset's
# bytes, scripts/h5same.py; timings excepted): nothing lost.
# Bounded by --jobs (default 10) and --minutes (default 20). Prints one line per attempt and a
# summary; exit status 0 only with zero failures. Seeded (--seed) for a repeatable schedule.
set -uo pipefail
cd "$(dirname "$0")/.."
JOBS=10 MINUTES=20 NP=2 SEED=1 DIR=/tmp/hpclip-soak
while [ $# -gt 0 ]; do
  case $1 in
    --jobs) JOBS=$2; shift 2 ;; --minutes) MINUTES=$2; shift 2 ;; --np) NP=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;; --dir) DIR=$2; shift 2 ;;
    *) echo "usage: $0 [--jobs N] [--minutes M] [--np P] [--seed S] [--dir DIR]" >&2; exit 2 ;;
  esac
done
HPCLIP=${HPCLIP:-build/hpclip}
[ -x "$HPCLIP" ] || { echo "soak: $HPCLIP not built (cmake --build build)" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 OMPI_MCA_mpi_yield_when_idle=1
MPIRUN="mpirun --oversubscribe --bind-to none -np $NP"
CFG=tests/eval/tiny.cfg
OVR=(-s train.max_steps=120 -s train.epochs=30 -s train.checkpoint_every=5 -s train.patience=0)
RANDOM=$SEED
rm -rf "$DIR"; mkdir -p "$DIR"
LOG="$DIR/soak.log"
say() { echo "$*" | tee -a "$LOG"; }
declare -A N=([usr1]=0 [term]=0 [kill-rank]=0 [kill-all]=0 [none]=0 [finished-first]=0)
attempts=0 resumed=0 checked=0 badfiles=0 lost=0 unfinished=0 exit12=0 jobs_done=0
t_end=$(( $(date +%s) + MINUTES * 60 ))

say "== soak $(date -u +%FT%TZ): up to $JOBS jobs, $MINUTES min, $NP ranks, seed $SEED"
say "reference run (uninterrupted)"
t0=$(date +%s%N)
$MPIRUN "$HPCLIP" run "$CFG" --run-dir "$DIR/ref" "${OVR[@]}" >"$DIR/ref.txt" 2>&1 || { say "reference run failed"; tail "$DIR/ref.txt"; exit 1; }
REF_DS=$(( ($(date +%s%N) - t0) / 100000000 ))   # tenths of a second
say "reference run: $((REF_DS / 10)).$((REF_DS % 10)) s; interruptions fall uniformly in [0.2 s, 0.7 x that]"
[ $REF_DS -gt 2 ] || REF_DS=3

# check every file that looks complete
check_dir() {
  local d=$1 f
  for f in "$d"/*.h5; do
    [ -e "$f" ] || continue
    checked=$((checked + 1))
    if ! "$HPCLIP" check "$f" >/dev/null 2>&1; then
      badfiles=$((badfiles + 1)); say "   BAD: $f looks complete but fails hpclip check: $("$HPCLIP" check "$f" 2>&1 | head -1)"
    fi
  done
}

for j in $(seq 1 "$JOBS"); do
  [ "$(date +%s)" -lt $t_end ] || { say "time budget reached after $((j - 1)) jobs"; break; }
  d="$DIR/job$j"; ok=0
  for a in $(seq 1 12); do
    attempts=$((attempts + 1))
    $MPIRUN "$HPCLIP" run "$CFG" --run-dir "$d" "${OVR[@]}" >"$d.a$a.txt" 2>&1 &
    mp=$!
    # random action after 0.2 s .. 0.7 x the reference's duration; the last attempts run undisturbed
    r=$((RANDOM % 5)); delay=$(( 2 + RANDOM % (REF_DS * 7 / 10) ))
    acts=(usr1 term kill-rank kill-all none); act=${acts[$r]}
    [ $a -ge 8 ] && act=none
    sleep "$(printf '%d.%d' $((delay / 10)) $((delay % 10)))"
    if kill -0 $mp 2>/dev/null; then
      case $act in
        usr1) kill -USR1 $mp ;;
        term) kill -TERM $mp ;;
        kill-rank) v=$(pgrep -P $mp -f hpclip | shuf -n1 --random-source=<(yes $RANDOM)); [ -n "$v" ] && kill -9 "$v" ;;
        kill-all) pkill -9 -P $mp -f hpclip; kill -9 $mp ;;
        none) ;;
      esac
    elif [ "$act" != none ]; then act=finished-first; fi
    for _ in $(seq 1 1200); do kill -0 $mp 2>/dev/null || break; sleep 0.1; done
    kill -0 $mp 2>/dev/null && { say "   job $j attempt $a: mpirun still running 120 s after $act: killed"; pkill -9 -P $mp; kill -9 $mp; }
    wait $mp; rc=$?
    N[$act]=$((N[$act] + 1))
    [ $rc = 12 ] && exit12=$((exit12 + 1))
    grep -q "resuming from" "$d.a$a.txt" && resumed=$((resumed + 1))
    say "job $j attempt $a: $act after $((delay / 10)).$((delay % 10)) s -> exit $rc"
    check_dir "$d"
    if [ $rc = 0 ]; then ok=1; break; fi
  done
  if [ $ok = 0 ]; then unfinished=$((unfinished + 1)); say "   job $j did not finish in 12 attempts"; continue; fi
  jobs_done=$((jobs_done + 1))
  # nothing lost: the same results as the reference
  same=1
  out=$(/usr/bin/python3 scripts/h5same.py "$DIR/ref/results.h5" "$d/results.h5" 2>&1) || { same=0; say "   job $j: results.h5: $out"; }
  out=$(/usr/bin/python3 scripts/h5same.py "$DIR/ref/embeddings.h5" "$d/embeddings.h5" 2>&1) || { same=0; say "   job $j: embeddings.h5: $out"; }
  out=$(/usr/bin/python3 scripts/h5same.py "$DIR/ref/dataset.h5" "$d/dataset.h5" 2>&1) || { same=0; say "   job $j: dataset.h5: $out"; }
  /usr/bin/python3 tests/train/compare.py "$DIR/ref/ckpt.h5" "$d/ckpt.h5" bitwise params history >/dev/null 2>&1 || { same=0; say "   job $j: ckpt.h5 differs"; }
  [ $same = 1 ] || lost=$((lost + 1))
  rm -f "$d"/*.txt
done
say "== soak summary: $jobs_done jobs finished ($unfinished unfinished), $attempts attempts: usr1 ${N[usr1]}, term ${N[term]}, kill-rank ${N[kill-rank]}, kill-all ${N[kill-all]}, undisturbed ${N[none]}, finished before its action ${N[finished-first]}; exit 12 (checkpointed) $exit12; resumed training $resumed times; $checked complete-looking files checked, $badfiles bad; jobs differing from the reference (lost work) $lost"
[ $badfiles = 0 ] && [ $lost = 0 ] && [ $unfinished = 0 ]
