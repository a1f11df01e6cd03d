#!/usr/bin/env bash
# cli_jobs.sh — the cluster job scripts: jobs/slurm.sbatch and jobs/mpirun.sh parse (bash -n),
# the SLURM script carries its documented directives, jobs/mpirun.sh runs a tiny synth -> train
# job on 2 ranks and passes -s / --run-dir through, and its bad options fail with a message.
. "$SRC_DIR/tests/cli/lib.sh"
J="$SRC_DIR/jobs"
for f in mpirun.sh slurm.sbatch; do
  if bash -n "$J/$f"; then ok "bash -n jobs/$f"; else bad "bash -n jobs/$f"; fi
done
for d in "--nodes=" "--ntasks-per-node=" "--cpus-per-task=" "--time=" "--signal=B:USR1@120" "--requeue"; do
  grep -q "^#SBATCH $d" "$J/slurm.sbatch" && ok "slurm.sbatch: #SBATCH $d" || bad "slurm.sbatch lacks #SBATCH $d"
done
# slurm.sbatch without a job file: a usage message, no run.
if out=$(bash "$J/slurm.sbatch" 2>&1); then bad "slurm.sbatch without JOB.cfg succeeded"
else echo "$out" | grep -q "usage: sbatch jobs/slurm.sbatch JOB.cfg" && ok "slurm.sbatch without JOB.cfg: usage" || bad "slurm.sbatch: $out"; fi

launch() { timeout 120 "$J/mpirun.sh" --hpclip "$HPCLIP" --oversubscribe "$@"; }
# --dry-run shows the placement: threads per rank exported, core binding by default.
dry=$("$J/mpirun.sh" --hpclip "$HPCLIP" --dry-run --np 4 --ppn 2 --threads 2 train x.cfg --run-dir R -s a.b=1)
case "$dry" in
  *"-np 4 --map-by ppr:2:node:PE=2 --bind-to core -x OPENBLAS_NUM_THREADS=2 -x OMP_NUM_THREADS=2"*"train x.cfg --run-dir R -s a.b=1"*)
    ok "dry run: $dry" ;;
  *) bad "dry run: $dry" ;;
esac
# A real run: 2 ranks, the evaluation test's tiny job, overrides passed through.
if launch --np 2 --run-dir "$T/run" run "$SRC_DIR/tests/eval/tiny.cfg" --stages synth,train \
     -s train.max_steps=2 -s synth.num_images=60 >"$T/log" 2>&1; then
  ok "jobs/mpirun.sh --np 2 run tiny.cfg (synth, train)"
else bad "jobs/mpirun.sh --np 2 run tiny.cfg: exit $?"; sed 's/^/     | /' "$T/log" | tail -20; fi
for f in dataset.h5 ckpt.h5; do
  if "$HPCLIP" check "$T/run/$f" >/dev/null 2>&1; then ok "$f written and valid"; else bad "$f missing or invalid"; fi
done
grep -q "2 ranks x 1 threads" "$T/log" && ok "launcher reported 2 ranks x 1 thread" || bad "launcher line missing"
grep -q "60 images" "$T/log" && ok "-s synth.num_images=60 reached hpclip" || bad "-s override not passed through"
# hpclip's own errors come back as its exit status (3 = config).
launch --np 2 run "$SRC_DIR/tests/eval/tiny.cfg" --run-dir "$T/run2" -s train.lr=-1 >"$T/log2" 2>&1; rc=$?
[ $rc = 3 ] && grep -q "train.lr" "$T/log2" && ok "config error passes through (exit 3)" || bad "config error: exit $rc"
# Bad launcher input.
for c in "--np 0|--np: expected a positive integer" "--threads x|--threads: expected a positive integer" \
         "--bogus|unknown option '--bogus'" "--hostfile /nonexistent/h|--hostfile: cannot read" \
         "--np 2|no hpclip command given"; do
  args=${c%%|*} re=${c#*|}
  # shellcheck disable=SC2086
  if out=$("$J/mpirun.sh" --hpclip "$HPCLIP" $args 2>&1); then bad "mpirun.sh $args succeeded"
  else echo "$out" | grep -q -- "$re" && ok "mpirun.sh $args: $out" || bad "mpirun.sh $args: $out"; fi
done
if out=$("$J/mpirun.sh" --hpclip /nonexistent/hpclip run x.cfg 2>&1); then bad "missing binary accepted"
else echo "$out" | grep -q "hpclip binary not found" && ok "missing binary: $out" || bad "missing binary: $out"; fi
# slurm.sbatch outside SLURM, with the variables SLURM would set and the mpirun launcher: runs the
# job into HPCLIP_RUN_DIR; SIGUSR1 (the time-limit warning) stops hpclip and requeues the job
# (scontrol replaced by a recorder).
export SLURM_JOB_ID=42 SLURM_JOB_NUM_NODES=1 SLURM_NTASKS=2 SLURM_NTASKS_PER_NODE=2 SLURM_CPUS_PER_TASK=1
if SLURM_SUBMIT_DIR="$SRC_DIR" HPCLIP="$HPCLIP" HPCLIP_LAUNCHER=mpirun HPCLIP_RUN_DIR="$T/slurm" HPCLIP_MPIRUN_EXTRA=--oversubscribe \
     timeout 120 bash "$J/slurm.sbatch" tests/eval/tiny.cfg --stages synth,train -s train.max_steps=2 >"$T/slog" 2>&1 \
   && "$HPCLIP" check "$T/slurm/ckpt.h5" >/dev/null 2>&1 && grep -q "hpclip: exit 0" "$T/slog"; then
  ok "slurm.sbatch (mpirun launcher, fake SLURM environment): job complete in HPCLIP_RUN_DIR"
else bad "slurm.sbatch run"; tail -10 "$T/slog" | sed 's/^/     | /'; fi
mkdir -p "$T/bin"
printf '#!/bin/sh\necho "$@" >"%s/scontrol.txt"\n' "$T" >"$T/bin/scontrol"; chmod +x "$T/bin/scontrol"
PATH="$T/bin:$PATH" SLURM_SUBMIT_DIR="$SRC_DIR" HPCLIP="$HPCLIP" HPCLIP_LAUNCHER=mpirun HPCLIP_RUN_DIR="$T/slurm2" \
  HPCLIP_MPIRUN_EXTRA=--oversubscribe bash "$J/slurm.sbatch" tests/eval/tiny.cfg --stages synth,train \
  -s train.epochs=100000 -s train.patience=0 -s train.max_steps=0 >"$T/slog2" 2>&1 &
spid=$!
for _ in $(seq 1 120); do grep -q "train: epoch" "$T/slog2" 2>/dev/null && break; sleep 0.5; done
kill -USR1 $spid
for _ in $(seq 1 60); do kill -0 $spid 2>/dev/null || break; sleep 0.5; done
if kill -0 $spid 2>/dev/null; then bad "slurm.sbatch still running 30 s after USR1"; kill -TERM $spid
else
  wait $spid; rc=$?
  if [ $rc = 0 ] && grep -q "time limit near: asking hpclip to stop" "$T/slog2" && grep -q "stopped with exit" "$T/slog2" && grep -qx "requeue 42" "$T/scontrol.txt" 2>/dev/null; then
    ok "USR1: hpclip stopped, scontrol requeue 42, exit 0"
  else bad "USR1: exit $rc, scontrol: $(cat "$T/scontrol.txt" 2>/dev/null)"; tail -5 "$T/slog2" | sed 's/^/     | /'; fi
  # With hpclip's preemption support (exit 12), training saved its restart state first.
  if grep -q "stopped with exit 12" "$T/slog2"; then
    [ -f "$T/slurm2/train-state.h5" ] && ok "exit 12: train-state.h5 written before the requeue" || bad "exit 12 but no train-state.h5"
  fi
fi
sleep 1
if pgrep -f "$T/slurm2" >/dev/null; then bad "hpclip ranks left running after the requeue: $(pgrep -f "$T/slurm2" | tr "\n" " ")"; else ok "no rank left running"; fi
finish
