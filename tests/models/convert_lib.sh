# convert_lib.sh — helpers of the converter tests (cli_openai_clip.sh, cli_hf_bert.sh), sourced
# after tests/cli/lib.sh: run a step, expect a refusal, show a comparison's figures.

# run NAME CMD...: exit 0 expected; the output is shown on failure
run() {
  local name=$1; shift
  if timeout 600 "$@" >"$T/run.txt" 2>&1; then ok "$name"; return 0; fi
  bad "$name"; sed 's/^/     | /' "$T/run.txt" | head -30; return 1
}

# refuse NAME REGEX CMD...: exit 1 and output matching every |-separated part of REGEX
refuse() {
  local name=$1 re=$2; shift 2
  timeout 300 "$@" >"$T/run.txt" 2>&1
  local rc=$?
  if [ $rc != 1 ]; then bad "$name: exit $rc, expected 1"; sed 's/^/     | /' "$T/run.txt" | head -20; return; fi
  local IFS='|' part
  for part in $re; do
    if ! grep -q -- "$part" "$T/run.txt"; then bad "$name: no '$part' in"; sed 's/^/     | /' "$T/run.txt" | head -20; return; fi
  done
  ok "$name: $(grep -m1 error "$T/run.txt" | cut -c1-160)"
}

# the per-row figures of the last `openai_ckpt.py compare`
shown() { sed -n 's/^openai_ckpt: \(.*worst row.*\)/     \1/p' "$T/run.txt"; }
