#!/usr/bin/env bash
# cli_caption_preempt.sh — caption-train under preemption (the trainer's per-step check,
# train/trainer.h): a SIGUSR1 that a rank raises after step 130 (test hook) stops the job right
# after that step; SIGUSR1 to mpirun and SIGTERM to every rank in the middle of an epoch stop
# every rank at the same step with caption-train-state.h5 written (exit 12, no caption_ckpt.h5,
# no temporary), and the rerun resumes at that batch and ends with a decoder (/params, /history)
# bitwise equal to an uninterrupted run's — also after two preemptions in a row.
source "$SRC_DIR/tests/cli/lib.sh"
source "$SRC_DIR/tests/train/preempt_lib.sh"
export OMPI_MCA_mpi_yield_when_idle=1
CFG="$SRC_DIR/tests/eval/tiny.cfg"
# 600 images: 840 training captions, 105 steps per epoch, 4 epochs: steps take milliseconds and a
# signal forwarded by mpirun can take dozens of them to arrive (72 seen under load), so every
# outside signal below is sent at least 270 steps before the end of training
CAP=(-s caption.width=64 -s caption.ffn=128 -s caption.heads=2 -s caption.train_batch=8 -s caption.train_epochs=4
     -s caption.train_patience=0 -s run.log_every=0)
timeout 300 $MPIRUN -np 2 "$HPCLIP" run "$CFG" --run-dir "$T/base" --stages synth,train,embed -s synth.num_images=600 \
  >"$T/base.txt" 2>&1 \
  || { bad "synth+train+embed"; tail -20 "$T/base.txt"; finish; exit 1; }
fresh() { rm -rf "$T/$1"; mkdir -p "$T/$1"; cp "$T/base/"{dataset,ckpt,embeddings}.h5 "$T/$1/"; }

fresh ref
timeout 300 $MPIRUN -np 2 "$HPCLIP" caption-train "$CFG" --run-dir "$T/ref" "${CAP[@]}" >"$T/ref.txt" 2>&1 \
  && ok "uninterrupted caption-train" || { bad "uninterrupted caption-train"; tail -20 "$T/ref.txt"; }

# interrupt NAME SIGNAL EPOCH STEP: caption-train in $T/NAME, SIGNAL once the log shows that step
# of that epoch
interrupt() {
  interrupt_at "$1" "$2" "caption-train: epoch $3/[0-9]+ step $4/" caption-train "$CFG" --run-dir "$T/$1" "${CAP[@]}"
}
# after NAME SEEN [EXACT]: exit 12, stopped at or after step SEEN (EXACT: after step SEEN, in the
# middle of an epoch) with the state written
after() {
  local name=$1 seen=$2 exact=${3:-} line stopped batch
  [ $rc = 12 ] && ok "$name: exit 12 (checkpointed, requeue)" || { bad "$name: exit $rc, expected 12"; tail -15 "$T/$name.txt"; }
  line=$(grep -Eo "caption-train: signal [0-9]+: stopped after step [0-9]+ \(next: epoch [0-9]+, batch [0-9]+\)" "$T/$name.txt" | head -1)
  stopped=$(sed -E 's/.*after step ([0-9]+) .*/\1/' <<<"$line"); batch=$(sed -E 's/.*batch ([0-9]+)\)/\1/' <<<"$line")
  if [ -n "$line" ] && [ "$stopped" -ge "$seen" ] && { [ -z "$exact" ] || { [ "$stopped" = "$seen" ] && [ "$batch" -gt 1 ]; }; }
  then ok "$name: $line (signal sent after step $seen)"
  else bad "$name: no stop ${exact:+right }after step $seen: '$line'"; tail -15 "$T/$name.txt"; fi
  last=$(grep -Eo "caption-train: epoch [0-9]+/[0-9]+ step [0-9]+/" "$T/$name.txt" | tail -1 | sed -E 's/.*step ([0-9]+)\//\1/')
  [ "$last" = "$stopped" ] && ok "$name: no step ran after the stop" || bad "$name: last step logged $last, stopped after $stopped"
  [ -f "$T/$name/caption-train-state.h5" ] && [ ! -e "$T/$name/caption_ckpt.h5" ] \
    && ok "$name: caption-train-state.h5 kept, no caption_ckpt.h5" || bad "$name: files after preemption: $(ls "$T/$name")"
  ls "$T/$name" | grep -q '\.tmp$' && bad "$name: temporary file left: $(ls "$T/$name")" || ok "$name: no temporary file left"
  "$HPCLIP" check "$T/$name/caption-train-state.h5" >/dev/null 2>&1 && ok "$name: state file valid" || bad "$name: state file invalid"
}
resume_same() {
  local name=$1
  timeout 300 $MPIRUN -np 2 "$HPCLIP" caption-train "$CFG" --run-dir "$T/$name" "${CAP[@]}" >"$T/$name.resume.txt" 2>&1 \
    && grep -q "resuming from .*batch [0-9]*, step" "$T/$name.resume.txt" \
    && ok "$name: resumed: $(grep -Eo 'resuming from .*step [0-9]+' "$T/$name.resume.txt" | sed 's|.*/||')" \
    || { bad "$name: resume"; tail -15 "$T/$name.resume.txt"; }
  for o in /params /history; do
    h5diff "$T/ref/caption_ckpt.h5" "$T/$name/caption_ckpt.h5" $o >/dev/null 2>&1 \
      && ok "$name: caption_ckpt.h5 $o = uninterrupted (bitwise)" || bad "$name: caption_ckpt.h5 $o differs from the uninterrupted run"
  done
  [ ! -e "$T/$name/caption-train-state.h5" ] && ok "$name: restart files removed at the end" || bad "$name: state file left"
}

# the signal raised by the last rank itself after step 130 (mid-epoch 2): the stop comes right
# after that step (the check after every step), not at the epoch's end
fresh hook
HPCLIP_TEST_SIGNAL_AT_STEP=130 timeout 300 $MPIRUN -np 2 "$HPCLIP" caption-train "$CFG" --run-dir "$T/hook" "${CAP[@]}" \
  >"$T/hook.txt" 2>&1; rc=$?
after hook 130 exact; resume_same hook
# signals from outside: mpirun forwards SIGUSR1 (it may take some steps to arrive); SIGTERM to every rank
fresh usr1; interrupt usr1 USR1 2 130; after usr1 130; resume_same usr1
fresh term; interrupt term TERM-RANKS 1 10; after term 10; resume_same term
# twice: preempted, resumed and preempted again, then resumed to the end
fresh twice; interrupt twice USR1 1 5; after twice 5
interrupt twice USR1 2 150
grep -q "resuming from" "$T/twice.txt" && ok "twice: the second run resumed first" || bad "twice: the second run did not resume"
after twice 150; resume_same twice
finish
