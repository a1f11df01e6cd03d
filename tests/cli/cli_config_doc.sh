#!/usr/bin/env bash
# docs/config.md is generated from the key table (`hpclip config --doc`): it must be current,
# and every job file shipped in conf/ must validate.
source "$(dirname "$0")/lib.sh"
if "$HPCLIP" config --doc | diff -u "$SRC_DIR/docs/config.md" - >"$T/diff" 2>&1; then
  ok "docs/config.md matches hpclip config --doc"
else
  bad "docs/config.md is stale: regenerate with 'build/hpclip config --doc > docs/config.md'"; head -20 "$T/diff"
fi
cd "$SRC_DIR" || exit 1 # the ready jobs name the committed slices relative to the repository
for cfg in conf/*.cfg; do
  if "$HPCLIP" config --check "$cfg" >"$T/out" 2>&1; then ok "$(basename "$cfg") validates, its data where it says"
  else bad "$(basename "$cfg"): $(cat "$T/out")"; fi
done
finish
