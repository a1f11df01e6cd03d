# preempt_lib.sh — the signal driver of the preemption tests (sourced after tests/cli/lib.sh).
# interrupt_at NAME SIGNAL REGEX ARGS...: run `hpclip ARGS` on 2 ranks, output in $T/NAME.txt;
# once the output matches REGEX (grep -E), send SIGNAL to mpirun (TERM-RANKS: SIGTERM to every
# rank, as SLURM at the time limit); a job still running 30 s later fails the test and is
# killed. Sets rc to the job's exit status.
interrupt_at() {
  local name=$1 sig=$2 re=$3 i; shift 3
  $MPIRUN -np 2 "$HPCLIP" "$@" >"$T/$name.txt" 2>&1 &
  local mp=$!
  for i in $(seq 1 1200); do grep -Eq -- "$re" "$T/$name.txt" 2>/dev/null && break; sleep 0.05; done
  if [ "$sig" = TERM-RANKS ]; then pkill -TERM -P $mp -f hpclip; else kill -"$sig" $mp; fi
  for i in $(seq 1 600); do kill -0 $mp 2>/dev/null || break; sleep 0.05; done
  if kill -0 $mp 2>/dev/null; then bad "$name: mpirun still running 30 s after SIG$sig"; kill -9 $mp; fi
  wait $mp; rc=$?
}
