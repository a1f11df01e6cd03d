#!/usr/bin/env bash
# tests/jobs/slurm_local.sh — jobs/slurm.sbatch submitted to a real SLURM (not registered in
# ctest: CI has no SLURM daemons). Start a local one first, as root:
#   scripts/slurm_local.sh start && export SLURM_CONF=/tmp/hpclip-slurm/slurm.conf
#   tests/jobs/slurm_local.sh            # from the repository root, with build/hpclip built
# Two nodes of one CPU each (scripts/slurm_local.sh) -> every job runs with --nodes=2
# --ntasks-per-node=1. Checks (docs/jobs.md "Verified under SLURM"):
#  A  srun launcher: conf/quickstart.cfg (small overrides) completes, JobState COMPLETED, exit 0:0,
#     one hpclip with 2 ranks, one rank per node, each bound to its own core with 1 BLAS thread,
#     every output valid (hpclip check)
#  B  the same with HPCLIP_LAUNCHER=mpirun (Open MPI's mpirun inside the allocation)
#  C  preemption: `scancel --signal=USR1 --batch` during training -> hpclip exits 12 with
#     train-state.h5 written, the job is requeued, resumes training and completes with ckpt.h5,
#     results.h5 and embeddings.h5 identical to an uninterrupted job's
#  D  time limit: --time=1 --signal=B:USR1@30 with endless training -> exit 12, requeued,
#     the next start resumes (then cancelled)
# Environment: HPCLIP (default build/hpclip), W (work directory, default /tmp/hpclip-slurm-test;
# it must be visible on every node), NODES (default 2), ONLY (e.g. "A C": run those parts only).
set -uo pipefail
cd "$(dirname "$0")/../.."
SRC=$(pwd)
: "${SLURM_CONF:?start a local SLURM first: scripts/slurm_local.sh start; export SLURM_CONF=/tmp/hpclip-slurm/slurm.conf}"
export SLURM_CONF
HPCLIP=${HPCLIP:-$SRC/build/hpclip}
[ -x "$HPCLIP" ] || { echo "slurm_local.sh: no $HPCLIP (build first)" >&2; exit 2; }
W=${W:-/tmp/hpclip-slurm-test}
NODES=${NODES:-2}
ONLY=${ONLY:-A B C D}
PY=/usr/bin/python3
rm -rf "$W"; mkdir -p "$W"
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export HPCLIP
pass=0; fail=0
ok()  { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
want() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }

sinfo -N -o '%N %t %c' >"$W/sinfo.txt" 2>&1 || { echo "slurm_local.sh: sinfo fails (SLURM not running?)" >&2; cat "$W/sinfo.txt"; exit 2; }
echo "SLURM $(sinfo -V | awk '{print $2}'), nodes: $(sinfo -h -N -o '%N:%t:%c' | tr '\n' ' ')"

# submit NAME RUN_DIR [sbatch options] -- JOB.cfg [hpclip options]: prints the job id
submit() {
  local name=$1 rd=$2; shift 2
  local opts=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift
  HPCLIP_RUN_DIR=$rd sbatch --parsable --nodes="$NODES" --ntasks-per-node=1 --job-name="$name" \
    --output="$W/$name-%j.out" "${opts[@]}" jobs/slurm.sbatch "$@"
}
field() { scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }
# wait_state ID SECONDS STATE...: until the job is in one of the states
wait_state() {
  local id=$1 t=$2 s; shift 2
  for _ in $(seq 1 $((t * 2))); do
    s=$(field "$id" JobState)
    for w in "$@"; do [ "$s" = "$w" ] && return 0; done
    sleep 0.5
  done
  return 1
}
wait_log() {   # wait_log FILE SECONDS REGEX
  for _ in $(seq 1 $(($2 * 2))); do grep -Eq -- "$3" "$1" 2>/dev/null && return 0; sleep 0.5; done
  return 1
}
# placement RUN_DIR OUT: while hpclip processes with RUN_DIR on their command line run, record
# one line per process: the SLURM node, its rank, the cores it may use, its BLAS thread setting.
placement() {
  local rd=$1 out=$2 p
  : >"$out"
  for _ in $(seq 1 600); do
    for p in $(pgrep -x hpclip 2>/dev/null); do
      tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "--run-dir $rd " || continue
      local env; env=$(tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null) || continue
      local node rank bt cpus
      node=$(echo "$env" | sed -n 's/^SLURMD_NODENAME=//p')
      rank=$(echo "$env" | sed -n 's/^OMPI_COMM_WORLD_RANK=//p;s/^SLURM_PROCID=//p' | head -1)
      bt=$(echo "$env" | sed -n 's/^OPENBLAS_NUM_THREADS=//p')
      cpus=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "/proc/$p/status" 2>/dev/null)
      [ -n "$cpus" ] && echo "pid $p node $node rank $rank cpus $cpus OPENBLAS_NUM_THREADS=$bt" >>"$out"
    done
    sort -u -o "$out" "$out"
    [ -s "$out" ] && [ "$(awk '{print $4}' "$out" | sort -u | wc -l)" -ge "$NODES" ] && return 0
    sleep 0.5
  done
}
# check_placement NAME FILE [own]: NODES processes, one per node, NODES distinct ranks, 1 BLAS
# thread each; with "own", each bound to cores no other rank has (srun: SLURM's binding).
check_placement() {
  local f=$2 own=${3:-} n cores=""
  n=$(awk '{print $2}' "$f" | sort -u | wc -l)
  [ "$own" = own ] && cores=", own cores"
  if [ "$n" = "$NODES" ] && [ "$(awk '{print $4}' "$f" | sort -u | wc -l)" = "$NODES" ] \
     && [ "$(awk '{print $6}' "$f" | sort -u | wc -l)" = "$NODES" ] && ! grep -qv "OPENBLAS_NUM_THREADS=1$" "$f" \
     && { [ "$own" != own ] || [ "$(awk '{print $8}' "$f" | sort -u | wc -l)" = "$NODES" ]; }; then
    ok "$1: $NODES ranks, one per node$cores, 1 BLAS thread: $(sort -k6n "$f" | awk '{printf "[rank %s on %s, cpus %s] ", $6, $4, $8}')"
  else bad "$1: placement"; sed 's/^/     | /' "$f"; fi
}
check_outputs() {   # check_outputs NAME RUN_DIR FILE...
  local name=$1 rd=$2 f all=1; shift 2
  for f in "$@"; do "$HPCLIP" check "$rd/$f" >/dev/null 2>&1 || { all=0; bad "$name: $rd/$f missing or invalid"; }; done
  [ $all = 1 ] && ok "$name: $* valid (hpclip check)"
}
check_done() {   # check_done NAME ID LOG: COMPLETED, exit 0:0, one hpclip of NODES ranks
  local name=$1 id=$2 log=$3
  local st ec; st=$(field "$id" JobState); ec=$(field "$id" ExitCode)
  if [ "$st" = COMPLETED ] && [ "$ec" = 0:0 ]; then ok "$name: job $id JobState=$st ExitCode=$ec (scontrol show job)"
  else bad "$name: job $id JobState=$st ExitCode=$ec"; tail -20 "$log" | sed 's/^/     | /'; fi
  local starts; starts=$(grep -c "hpclip .*: job .*, $NODES ranks, run directory" "$log")
  if [ "$starts" -ge 1 ] && ! grep -q "hpclip .*: job .*, 1 rank, run directory" "$log"; then ok "$name: hpclip saw $NODES ranks (one MPI job, not $NODES singletons)"
  else bad "$name: hpclip rank count: $(grep "run directory" "$log" | head -3)"; fi
}

# run_case CASE NAME TIMEOUT PLACEMENT_MODE SUBMIT_ARGS...: submit, record placement while it runs,
# wait for the end, then the common checks (state, exit, rank count, placement, outputs).
run_case() {
  local case=$1 name=$2 tmo=$3 pmode=$4; shift 4
  local id pp log
  id=$(submit "$name" "$W/$name" "$@") || { bad "$case: sbatch failed"; return; }
  placement "$W/$name" "$W/placement-$case.txt" &
  pp=$!
  wait_state "$id" "$tmo" COMPLETED FAILED CANCELLED TIMEOUT NODE_FAIL OUT_OF_MEMORY || bad "$case: job $id not finished after $tmo s"
  kill $pp 2>/dev/null; wait $pp 2>/dev/null
  log=$(ls "$W/$name-$id".out)
  scontrol show job "$id" >"$W/$case-scontrol.txt"
  check_done "$case" "$id" "$log"
  # shellcheck disable=SC2086  # an empty mode is no argument
  check_placement "$case" "$W/placement-$case.txt" $pmode
  check_outputs "$case" "$W/$name" dataset.h5 ckpt.h5 embeddings.h5 results.h5
}

OVR_Q=(-s synth.num_images=300 -s train.epochs=2 -s caption.train_epochs=1)
if want A; then
  echo "== A: srun launcher, conf/quickstart.cfg on $NODES nodes"
  run_case A qs 900 own -- conf/quickstart.cfg "${OVR_Q[@]}"
  [ -s "$W/qs/summary.md" ] && ok "A: summary.md written" || bad "A: no summary.md"
fi

OVR_T=(-s train.max_steps=120 -s train.epochs=30 -s train.checkpoint_every=5 -s train.patience=0)
if want B; then
  echo "== B: HPCLIP_LAUNCHER=mpirun, tests/eval/tiny.cfg"
  HPCLIP_LAUNCHER=mpirun run_case B mp 600 "" -- tests/eval/tiny.cfg "${OVR_T[@]}"
fi

if want C; then
  echo "== C: preemption (scancel --signal=USR1 --batch) and requeue, against an uninterrupted job"
  ref=$(submit ref "$W/ref" -- tests/eval/tiny.cfg "${OVR_T[@]}") || { bad "C: sbatch failed"; ref=""; }
  [ -n "$ref" ] && { wait_state "$ref" 600 COMPLETED FAILED CANCELLED TIMEOUT || bad "C: reference job not finished"; }
  [ -n "$ref" ] && check_done "C reference" "$ref" "$W/ref-$ref.out"
  id=$(submit pre "$W/pre" -- tests/eval/tiny.cfg "${OVR_T[@]}") || { bad "C: sbatch failed"; id=""; }
  if [ -n "$id" ]; then
    log=$W/pre-$id.out
    if wait_log "$log" 300 "train: epoch"; then
      scancel --signal=USR1 --batch "$id"
      ok "C: scancel --signal=USR1 --batch $id during training ($(grep -m1 "train: epoch" "$log" | cut -c1-80))"
    else bad "C: training never started"; fi
    wait_log "$log" 120 "stopped with exit" || bad "C: no stop after USR1"
    grep -q "stopped with exit 12" "$log" && ok "C: hpclip stopped with exit 12" || bad "C: $(grep "stopped with exit" "$log")"
    [ -f "$W/pre/train-state.h5" ] && ok "C: restart state $W/pre/train-state.h5 written" || bad "C: no train-state.h5 after the stop"
    grep -q "restart state saved to .*train-state.h5" "$log" && ok "C: rank 0's message: $(grep -m1 "restart state saved" "$log" | cut -c1-150)" \
      || bad "C: rank 0's 'restart state saved' message missing from the log"
    wait_state "$id" 900 COMPLETED FAILED CANCELLED TIMEOUT NODE_FAIL || bad "C: job $id not finished after 900 s"
    scontrol show job "$id" >"$W/C-scontrol.txt"
    rs=$(field "$id" Restarts)
    [ "${rs:-0}" -ge 1 ] && ok "C: requeued (Restarts=$rs)" || bad "C: Restarts=$rs"
    grep -q "train: resuming from" "$log" && ok "C: $(grep -m1 "train: resuming from" "$log" | cut -c1-140)" || bad "C: the requeued job did not resume training"
    check_done C "$id" "$log"
    check_outputs C "$W/pre" dataset.h5 ckpt.h5 embeddings.h5 results.h5
    if [ -n "$ref" ]; then
      if out=$($PY tests/train/compare.py "$W/ref/ckpt.h5" "$W/pre/ckpt.h5" bitwise params history 2>&1); then ok "C: ckpt.h5 params and history bitwise equal to the uninterrupted job's"
      else bad "C: ckpt.h5 differs: $out"; fi
      for f in results.h5 embeddings.h5; do
        if out=$($PY scripts/h5same.py "$W/ref/$f" "$W/pre/$f" 2>&1); then ok "C: $f identical to the uninterrupted job's (scripts/h5same.py)"
        else bad "C: $f differs: $out"; fi
      done
    fi
  fi
fi

if want D; then
  echo "== D: time limit: --time=1 --signal=B:USR1@30, endless training"
  id=$(submit tl "$W/tl" --time=1 --signal=B:USR1@30 -- tests/eval/tiny.cfg --stages synth,train \
        -s train.epochs=100000 -s train.max_steps=0 -s train.patience=0 -s train.checkpoint_every=50) || { bad "D: sbatch failed"; id=""; }
  if [ -n "$id" ]; then
    log=$W/tl-$id.out
    if wait_log "$log" 240 "stopped with exit"; then
      grep -q "stopped with exit 12" "$log" && ok "D: time-limit signal -> $(grep -m1 "time limit near" "$log" | cut -c1-60)...; $(grep -m1 "stopped with exit" "$log" | cut -c1-80)" \
        || bad "D: $(grep "stopped with exit" "$log")"
      # the requeued start gets a longer limit, so it is not stopped again before we look
      wait_state "$id" 120 PENDING REQUEUED RUNNING && scontrol update JobId="$id" TimeLimit=10 2>/dev/null
      if wait_log "$log" 400 "train: resuming from"; then ok "D: requeued (Restarts=$(field "$id" Restarts)), $(grep -m1 "train: resuming from" "$log" | cut -c1-120)"
      else bad "D: no resume after the requeue (JobState=$(field "$id" JobState))"; fi
    else bad "D: no time-limit stop within 240 s"; tail -5 "$log" | sed 's/^/     | /'; fi
    scontrol show job "$id" >"$W/D-scontrol.txt"
    scancel "$id"
    wait_state "$id" 120 CANCELLED COMPLETED FAILED || bad "D: job $id not cancelled"
  fi
fi
sleep 1
left=$(for p in $(pgrep -x hpclip); do tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "--run-dir $W/" && echo "$p"; done | tr '\n' ' ')
[ -z "$left" ] && ok "no hpclip process left" || bad "hpclip processes left: $left"
echo "logs and run directories in $W"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
