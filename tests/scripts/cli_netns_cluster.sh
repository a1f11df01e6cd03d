#!/usr/bin/env bash
# cli_netns_cluster.sh — scripts/netns_cluster.sh (an emulated cluster of network namespaces,
# docs/scaling.md): bad arguments; a failed `up` and `down` leave nothing behind; ranks on
# different nodes talk over TCP (Open MPI's own BTL log says so), and a job across 2 nodes gives
# the 1-rank results (synth and ingest bitwise, training within float tolerance, every later
# stage bitwise from the same checkpoint); a node's link taken down mid-training and a node's processes frozen
# (SIGSTOP) end the job through the watchdog with the silent rank and host named, within a bound,
# never a hang; the job resumes on another node count from the last checkpoint, bitwise equal to
# an uninterrupted run that changed node count at that step. Skipped (exit 77) without root or
# network namespaces.
. "$SRC_DIR/tests/cli/lib.sh"
NC="$SRC_DIR/scripts/netns_cluster.sh"
CFG="$SRC_DIR/tests/eval/tiny.cfg"
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (network namespaces)"; exit 77; fi
mountpoint -q /run/netns && had_netns_mount=1 || had_netns_mount=0
# `ip netns add` leaves /run/netns mounted; a test that made that mount removes it
unmount_netns() { [ $had_netns_mount = 0 ] && [ -z "$(ls -A /run/netns 2>/dev/null)" ] && umount /run/netns 2>/dev/null; }
P=hpt$(tr -dc a-z </dev/urandom | head -c 4)   # this test's own cluster: nodes ${P}0, ${P}1, ${P}2
if ! ip netns add "${P}probe" 2>"$T/ns.txt"; then unmount_netns; echo "SKIP: cannot create network namespaces: $(cat "$T/ns.txt")"; exit 77; fi
if ! nsenter --net="/run/netns/${P}probe" true 2>"$T/ns.txt"; then
  ip netns del "${P}probe"; unmount_netns; echo "SKIP: cannot enter a network namespace: $(cat "$T/ns.txt")"; exit 77
fi
ip netns del "${P}probe"
export HPCLIP_NETNS_STATE="$T/state"
trap '"$NC" down --prefix "$P" >/dev/null 2>&1; unmount_netns; rm -rf "$T"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

leftovers() { # what of cluster $P exists: namespaces, links, hosts lines, state
  { ip netns list | awk '{print $1}' | grep -E "^${P}[0-9]+$"
    ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E "^${P}([0-9]+h|br)$"
    grep -F "hpclip-netns $P" /etc/hosts
    ls "$HPCLIP_NETNS_STATE" 2>/dev/null; } 2>/dev/null | tr '\n' ' '
}
nc_fail() { # NAME CODE REGEX ARGS...: the tool fails with CODE and a message matching REGEX
  local name=$1 code=$2 re=$3; shift 3
  timeout 60 "$NC" "$@" >"$T/nc.txt" 2>&1; local rc=$?
  if [ $rc = "$code" ] && grep -Eq -- "$re" "$T/nc.txt"; then ok "$name: exit $rc, $(grep -Em1 -- "$re" "$T/nc.txt" | cut -c1-120)"
  else bad "$name: exit $rc (want $code), output: $(head -3 "$T/nc.txt")"; fi
}

# --- arguments -------------------------------------------------------------------------------
nc_fail "up 0" 2 "number of nodes 1..200" up 0 --prefix "$P"
nc_fail "up with a bad rate" 2 "--rate: e.g. 1gbit" up 2 --rate fast --prefix "$P"
nc_fail "a bad prefix" 2 "--prefix: 1-8 letters" up 2 --prefix "x1"
nc_fail "mpirun without a cluster" 2 "no cluster '$P' is up" mpirun --prefix "$P" -np 1 true
nc_fail "unknown command" 2 "unknown command 'frobnicate'" frobnicate

# --- a failed up leaves nothing ----------------------------------------------------------------
HPCLIP_NETNS_FAIL_AT=2 timeout 60 "$NC" up 3 --prefix "$P" >"$T/nc.txt" 2>&1; rc=$?
left=$(leftovers)
if [ $rc = 1 ] && grep -q "removing what was made" "$T/nc.txt" && [ -z "$left" ]; then ok "up failing at node 3 of 3: exit 1, nothing left"
else bad "failed up: exit $rc, left: '$left', $(tail -2 "$T/nc.txt")"; fi

# --- up ------------------------------------------------------------------------------------------
if timeout 60 "$NC" up 3 --prefix "$P" --rate 10gbit >"$T/up.txt" 2>&1; then ok "up 3 --rate 10gbit"
else bad "up 3: $(cat "$T/up.txt")"; echo "$pass passed, $fail failed"; exit 1; fi
nc_fail "up twice" 2 "already up" up 2 --prefix "$P"
n=$(grep -c "hpclip-netns $P" /etc/hosts)
q=$(nsenter --net="/run/netns/${P}1" tc qdisc show dev eth0)
[ "$n" = 3 ] && [[ "$q" == *"tbf"*"rate 10Gbit"* ]] && ok "3 /etc/hosts lines, eth0 shaped: $q" || bad "hosts lines $n, qdisc '$q'"
H=$("$NC" hostfile --prefix "$P")
[ "$(cat "$H")" = "$(printf '%s0 slots=1\n%s1 slots=1\n%s2 slots=1' "$P" "$P" "$P")" ] && ok "hostfile $(tr '\n' ' ' <"$H")" || bad "hostfile: $(cat "$H")"

ncmpi() { timeout "$1" "$NC" mpirun --prefix "$P" --oversubscribe --bind-to none "${@:2}"; }

# --- results across 2 nodes = 1 rank ----------------------------------------------------------
timeout 300 $MPIRUN -np 1 "$HPCLIP" run "$CFG" --run-dir "$T/one" --stages synth,train >"$T/one.txt" 2>&1 \
  || bad "1-rank synth+train: $(tail -3 "$T/one.txt")"
ncmpi 300 -np 2 --mca btl_base_verbose 100 "$HPCLIP" run "$CFG" --run-dir "$T/two" --stages synth,train >"$T/two.txt" 2>&1 \
  && ok "synth+train across ${P}0 and ${P}1" || bad "2-node synth+train: $(grep -v '^\[' "$T/two.txt" | tail -5)"
if grep -q "mca: bml: Using tcp btl for send to \[\[[0-9]*,1\],1\] on node ${P}1" "$T/two.txt" &&
   grep -q "mca: bml: Using tcp btl for send to \[\[[0-9]*,1\],0\] on node ${P}0" "$T/two.txt" &&
   ! grep -q "Using vader btl" "$T/two.txt"; then
  ok "Open MPI's log: ranks 0 (${P}0) and 1 (${P}1) talk through the tcp BTL, never vader"
else bad "BTL lines: $(grep 'bml: Using' "$T/two.txt" | head -4)"; fi
grep -q "connect() to 10.213.0.2" "$T/two.txt" && ok "the TCP connection goes to ${P}1's address 10.213.0.2" \
  || bad "no TCP connection to 10.213.0.2 in the BTL log"
$PY "$SRC_DIR/scripts/h5same.py" "$T/one/dataset.h5" "$T/two/dataset.h5" >"$T/cmp.txt" 2>&1 \
  && ok "dataset.h5: 2 nodes = 1 rank (every dataset bitwise)" || bad "dataset.h5 differs: $(head -3 "$T/cmp.txt")"
$PY "$SRC_DIR/tests/train/compare.py" "$T/one/train-state.h5" "$T/two/train-state.h5" tol=3e-3 >"$T/cmp.txt" 2>&1 \
  && ok "train-state: 2 nodes = 1 rank within 3e-3: $(cat "$T/cmp.txt")" || bad "train-state: $(cat "$T/cmp.txt")"
mkdir -p "$T/one2" && cp "$T/one/dataset.h5" "$T/one/ckpt.h5" "$T/one2/"
timeout 300 $MPIRUN -np 1 "$HPCLIP" run "$CFG" --run-dir "$T/one" --stages embed,search,zeroshot,cluster >"$T/one.txt" 2>&1 \
  || bad "1-rank embed..cluster: $(tail -3 "$T/one.txt")"
ncmpi 300 -np 2 "$HPCLIP" run "$CFG" --run-dir "$T/one2" --stages embed,search,zeroshot,cluster >"$T/two.txt" 2>&1 \
  || bad "2-node embed..cluster: $(tail -5 "$T/two.txt")"
for o in /images/embedding /captions/embedding; do
  h5diff "$T/one/embeddings.h5" "$T/one2/embeddings.h5" $o >/dev/null && ok "embeddings $o: 2 nodes = 1 rank" || bad "embeddings $o differ"
done
for o in /search/table1 /search/clip_recall /zeroshot/table2 /cluster/labels /cluster/sizes /cluster/elbow/wcss; do
  h5diff "$T/one/results.h5" "$T/one2/results.h5" $o >/dev/null && ok "results $o: 2 nodes = 1 rank" || bad "results $o differs"
done

# ingest of the committed COCO fixture (real JPEGs, a bad-record report) across 2 nodes = 1 rank
cat >"$T/ingest.cfg" <<CFG
run = { stages = ["ingest"]; seed = 5; };
data = { image_size = 32; vocab_size = 200; };
ingest = { format = "coco"; root = "$SRC_DIR/tests/data/ingest/coco"; split = "val2017"; };
CFG
timeout 120 $MPIRUN -np 1 "$HPCLIP" ingest "$T/ingest.cfg" --run-dir "$T/ing1" >"$T/ing1.txt" 2>&1 || bad "1-rank ingest: $(tail -3 "$T/ing1.txt")"
ncmpi 120 -np 2 "$HPCLIP" ingest "$T/ingest.cfg" --run-dir "$T/ing2" >"$T/ing2.txt" 2>&1 || bad "2-node ingest: $(tail -3 "$T/ing2.txt")"
if $PY "$SRC_DIR/scripts/h5same.py" "$T/ing1/dataset.h5" "$T/ing2/dataset.h5" >"$T/cmp.txt" 2>&1 &&
   cmp -s "$T/ing1/ingest_report.tsv" "$T/ing2/ingest_report.tsv"; then
  ok "ingest (COCO fixture): dataset.h5 and ingest_report.tsv, 2 nodes = 1 rank"
else bad "ingest across nodes differs: $(head -3 "$T/cmp.txt")"; fi

# --- faults -------------------------------------------------------------------------------------
# A long training (the tiny model: 8 steps an epoch, a restart state every 4 steps), the watchdog
# at 12 s (5 s fired on a healthy start in an ASan build on a loaded machine); jobs/mpirun.sh on the first node with the hostfile, as a user would launch it.
TRAIN=(train "$CFG" -s train.max_steps=4000 -s train.epochs=100000 -s train.patience=0
       -s train.checkpoint_every=4 -s run.watchdog=12)
launch() { # NAME NP: start the job in the background on the first NP nodes; pid in $job
  mkdir -p "$T/$1" && cp "$T/one/dataset.h5" "$T/$1/"
  "$NC" exec "${P}0" "$SRC_DIR/jobs/mpirun.sh" --np "$2" --hostfile "$H" --oversubscribe --abort-grace 10 \
    --hpclip "$HPCLIP" "${TRAIN[@]}" --run-dir "$T/$1" >"$T/$1.txt" 2>&1 &
  job=$!
}
wait_epochs() { # NAME N: until the log shows N validations (120 s at most: an ASan build on a busy machine)
  local i
  for i in $(seq 1 1200); do [ "$(grep -c 'train: validation:' "$T/$1.txt")" -ge "$2" ] && return 0; sleep 0.1; done
  return 1
}
finish_within() { # NAME SECONDS: wait for $job; rc and seconds taken in $rc, $took
  local t0=$SECONDS i
  for i in $(seq 1 $(($2 * 10))); do kill -0 $job 2>/dev/null || break; sleep 0.1; done
  if kill -0 $job 2>/dev/null; then bad "$1: still running after $2 s: a hang"; pkill -KILL -f "run-dir $T/$1" ; kill -9 $job; fi
  wait $job; rc=$?; took=$((SECONDS - t0))
}
step_of() { $PY -c "import h5py,sys; print(int(h5py.File(sys.argv[1],'r').attrs['step']))" "$1" 2>/dev/null; }

# 1. the link of node 1 goes down
launch linkdown 2
wait_epochs linkdown 3 || bad "linkdown: training did not start: $(tail -3 "$T/linkdown.txt")"
"$NC" link "${P}1" down --prefix "$P"
finish_within linkdown 75
# the exit status is the watchdog's 13, or mpirun's own when it notices first that its daemon on
# the cut-off node is gone (a race: the link carries both); either way the watchdog has named
# the unreachable rank and the job ended
if [ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -q "watchdog \[rank 0\]: no progress for" "$T/linkdown.txt" &&
   grep -q "watchdog \[rank 0\]: 1 of 1 other ranks did not answer a probe within 2 s.*: rank 1 on ${P}1" "$T/linkdown.txt"; then
  ok "link of ${P}1 down: exit $rc ${took} s later; $(grep -m1 'did not answer' "$T/linkdown.txt" | cut -c1-160)"
else bad "link down: exit $rc after ${took} s; $(grep -E 'watchdog|mpirun' "$T/linkdown.txt" | head -5)"; fi
"$NC" link "${P}1" up --prefix "$P"
S=$(step_of "$T/linkdown/train-state.h5")
[ -n "$S" ] && [ "$S" -gt 0 ] && [ $((S % 4)) = 0 ] && ok "restart state left at step $S" || bad "no restart state (step '$S')"
cp "$T/linkdown/train-state.h5" "$T/state-at-fault.h5"

# 2. node 2's processes frozen (3 nodes)
launch frozen 3
wait_epochs frozen 3 || bad "frozen: training did not start: $(tail -3 "$T/frozen.txt")"
for p in $(ip netns pids "${P}2"); do kill -STOP "$p"; done
finish_within frozen 75
if [ "$rc" = 13 ] && grep -q "did not answer a probe within 2 s.*: rank 2 on ${P}2" "$T/frozen.txt" &&
   grep -q "jobs/mpirun.sh: a rank ended the job 10 s ago and mpirun has not stopped" "$T/frozen.txt"; then
  ok "${P}2 frozen: exit 13 ${took} s later; $(grep -m1 'did not answer' "$T/frozen.txt" | cut -c1-160)"
else bad "frozen: exit $rc after ${took} s; $(grep -E 'watchdog|mpirun' "$T/frozen.txt" | head -6)"; fi
for p in $(ip netns pids "${P}2"); do kill -KILL "$p"; done

# 3. resume on another node count: the restart state at the fault equals an uninterrupted
# 2-node run's at that step (SIGUSR1 there: checkpoint and exit 12), and both, resumed on 1 rank
# for 16 more steps, end bitwise equal.
if [ -n "$S" ]; then
  MORE=$((S + 16))
  mkdir -p "$T/ref" && cp "$T/one/dataset.h5" "$T/ref/"
  HPCLIP_TEST_SIGNAL_AT_STEP=$S ncmpi 120 -np 2 "$HPCLIP" "${TRAIN[@]}" -s run.watchdog=0 --run-dir "$T/ref" >"$T/ref.txt" 2>&1; rc=$?
  [ "$rc" = 12 ] && [ "$(step_of "$T/ref/train-state.h5")" = "$S" ] && ok "uninterrupted reference checkpointed at step $S" \
    || bad "reference: exit $rc, step $(step_of "$T/ref/train-state.h5")"
  $PY "$SRC_DIR/tests/train/compare.py" "$T/state-at-fault.h5" "$T/ref/train-state.h5" bitwise params optim/m optim/v history >"$T/cmp.txt" 2>&1 \
    && ok "restart state at the fault = uninterrupted run's at step $S (bitwise)" || bad "state at fault: $(cat "$T/cmp.txt")"
  # the same job (a changed key would change its fingerprint and start afresh), stopped by the
  # test hook's SIGUSR1 at step MORE: a checkpoint and exit 12
  for d in linkdown ref; do
    HPCLIP_TEST_SIGNAL_AT_STEP=$MORE timeout 300 $MPIRUN -np 1 "$HPCLIP" "${TRAIN[@]}" -s run.watchdog=0 --run-dir "$T/$d" >"$T/$d-resume.txt" 2>&1
    rc=$?
    if [ $rc = 12 ] && grep -q "resuming from .*step $S" "$T/$d-resume.txt" && [ "$(step_of "$T/$d/train-state.h5")" = $MORE ]; then
      ok "$d: resumed on 1 rank from step $S to $MORE: $(grep -m1 "resuming" "$T/$d-resume.txt" | cut -c1-110)"
    else bad "$d: resume on 1 rank: exit $rc, $(grep -m1 -E 'resuming|train-state' "$T/$d-resume.txt")"; fi
  done
  $PY "$SRC_DIR/tests/train/compare.py" "$T/linkdown/train-state.h5" "$T/ref/train-state.h5" bitwise params optim/m optim/v history >"$T/cmp.txt" 2>&1 \
    && ok "after $MORE steps (1 rank from step $S): equal to the reference, bitwise" || bad "resumed: $(cat "$T/cmp.txt")"
fi

# --- down leaves nothing ------------------------------------------------------------------------
timeout 60 "$NC" down --prefix "$P" >"$T/down.txt" 2>&1; rc=$?
left=$(leftovers)
[ $rc = 0 ] && [ -z "$left" ] && ok "down: nothing left ($(cat "$T/down.txt"))" || bad "down: exit $rc, left '$left'"
finish
