#!/usr/bin/env bash
# cli_run_lock.sh — one job at a time in a run directory (issue 25, item 6): while a job holds
# RUN_DIR/.hpclip.lock, a second job in the same directory stops at once (exit 5) with a message
# naming the first (host, pid, start, command) and writes nothing; another run directory is not
# affected; when the first job dies (SIGKILL: the kernel releases its lock, the file stays) the
# next job takes the lock over and says so. Before the lock, the second job ran beside the first.
. "$SRC_DIR/tests/cli/lib.sh"
CFG="$SRC_DIR/conf/quickstart.cfg"
R="$T/run"
JOB=("${TINY_MODEL[@]}" -s synth.num_images=60 -s run.watchdog=120)
# the first job: rank 0 stops making progress at the start of synth, holding the lock
HPCLIP_TEST_STALL=0:synth timeout 150 $MPIRUN -np 2 "$HPCLIP" synth "$CFG" --run-dir "$R" "${JOB[@]}" >"$T/first.txt" 2>&1 &
first=$!
for _ in $(seq 1 120); do grep -q "pid" "$R/.hpclip.lock" 2>/dev/null && break; sleep 0.5; done
grep -q "hpclip synth .*quickstart.cfg" "$R/.hpclip.lock" 2>/dev/null && ok "the lock file names the first job: $(cat "$R/.hpclip.lock")" \
  || bad "no lock file: $(cat "$R/.hpclip.lock" 2>&1)"
expect_fail "a second job in the same run directory" 2 5 \
  "run directory .*/run is in use by another hpclip job \(host [^,]+, pid [0-9]+, since [0-9T:-]+Z: hpclip synth .*quickstart.cfg\)" \
  -- synth "$CFG" --run-dir "$R" "${JOB[@]}"
[ ! -e "$R/dataset.h5" ] && [ ! -e "$R/dataset.h5.tmp" ] && ok "the second job wrote nothing" || bad "files of the second job: $(ls "$R")"
expect_ok "another run directory meanwhile" 2 synth "$CFG" --run-dir "$T/other" "${JOB[@]}"
# the first job dies without cleaning up
pkill -9 -f -- "--run-dir $R " ; wait "$first" 2>/dev/null
[ -f "$R/.hpclip.lock" ] && ok "the dead job's lock file is still there" || bad "lock file gone"
expect_ok "a job after the first one died" 2 synth "$CFG" --run-dir "$R" "${JOB[@]}"
grep -q "run directory .*/run: the lock of a job that is no longer running (host .*pid [0-9]*.*) is taken over" "$T/out.txt" \
  && ok "its stale lock is taken over, and said so" || bad "stale lock: $(grep -i lock "$T/out.txt")"
expect_ok "the next stage of the same directory" 2 run "$CFG" --run-dir "$R" --stages synth,train "${JOB[@]}"
! grep -q "taken over" "$T/out.txt" && [ ! -s "$R/.hpclip.lock" ] \
  && ok "after a job that ended normally: no take-over message, the lock file empty" || bad "clean end: $(grep -i lock "$T/out.txt")"
finish
