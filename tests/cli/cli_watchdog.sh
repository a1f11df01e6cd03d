#!/usr/bin/env bash
# cli_watchdog.sh — the watchdog (src/base/watchdog.h): one rank stalled on purpose
# (HPCLIP_TEST_STALL=RANK:STAGE, a test hook) ends the whole job with exit 13 within a few
# seconds of run.watchdog, each rank naming itself, the stage and what it waited for; the
# temporary output is removed; run.watchdog = 0 turns it off; a healthy job with a short
# watchdog is not disturbed.
source "$SRC_DIR/tests/cli/lib.sh"
export OMPI_MCA_mpi_yield_when_idle=1
cat >"$T/job.cfg" <<'EOF'
run = { name = "watchdog-test"; dir = "unused"; seed = 3; };
data = { image_size = 32; caption_len = 12; vocab_size = 200; };
synth = { num_images = 60; captions_per_image = 3; };
model = { text_layers = 1; text_heads = 2; text_width = 32; image = "vit"; image_patch = 8;
          image_layers = 1; image_heads = 2; image_width = 32; embed_dim = 32; };
train = { batch = 12; lr = 1e-3; epochs = 2; patience = 0; };
EOF
timeout 120 "$HPCLIP" synth "$T/job.cfg" --run-dir "$T/base" >"$T/synth.txt" 2>&1 || { cat "$T/synth.txt"; exit 1; }

# stall NP RANK STAGE: the job must end with 13 within 30 s
stall() {
  local np=$1 r=$2 st=$3 d="$T/s$1$2$3" t0 rc dt
  rm -rf "$d"; mkdir -p "$d"; cp "$T/base/dataset.h5" "$d/"
  t0=$(date +%s%N)
  HPCLIP_TEST_STALL="$r:$st" timeout 60 $MPIRUN -np "$np" "$HPCLIP" "$st" "$T/job.cfg" --run-dir "$d" --force -s run.watchdog=3 \
    >"$d.txt" 2>&1; rc=$?
  dt=$(( ($(date +%s%N) - t0) / 1000000 ))
  if [ $rc = 124 ]; then bad "stall rank $r in $st ($np ranks): hung"; return; fi
  [ $rc = 13 ] && ok "stall rank $r in $st ($np ranks): exit 13 after ${dt} ms (watchdog 3 s)" \
    || { bad "stall rank $r in $st ($np ranks): exit $rc"; tail -20 "$d.txt"; }
  grep -q "watchdog \[rank $r\]: no progress for 3 s in stage $st while stalled on purpose" "$d.txt" \
    && ok "  the stalled rank names itself, the stage and why" || { bad "  no message from rank $r"; grep watchdog "$d.txt"; }
  local other
  other=$(grep -E "watchdog \[rank [0-9]+\]" "$d.txt" | grep -v "rank $r\]" | head -1)
  [ -n "$other" ] && ok "  a waiting rank: $(echo "$other" | sed 's/^.*hpclip: watchdog //' | cut -c1-140)" \
    || ok "  (the job ended before the waiting ranks' watchdogs fired)"
  ls "$d" | grep -q '\.tmp$' && bad "  temporary file left: $(ls "$d")" || ok "  no temporary file left"
}
stall 2 1 train
stall 2 0 train
stall 3 2 train
stall 2 1 synth

# off: the stalled job is still running after 8 s (then timeout ends it)
d="$T/off"; rm -rf "$d"; mkdir -p "$d"; cp "$T/base/dataset.h5" "$d/"
HPCLIP_TEST_STALL="1:train" timeout 8 $MPIRUN -np 2 "$HPCLIP" train "$T/job.cfg" --run-dir "$d" -s run.watchdog=0 \
  >"$d.txt" 2>&1; rc=$?
[ $rc = 124 ] && ok "run.watchdog = 0: no watchdog (still running after 8 s)" || { bad "run.watchdog = 0: exit $rc"; tail "$d.txt"; }
sleep 1

# healthy: a real job with a short watchdog completes
d="$T/ok"; rm -rf "$d"; mkdir -p "$d"; cp "$T/base/dataset.h5" "$d/"
expect_ok "healthy training with run.watchdog = 2" 2 train "$T/job.cfg" --run-dir "$d" -s run.watchdog=2
finish
