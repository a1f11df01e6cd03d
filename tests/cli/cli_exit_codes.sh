#!/usr/bin/env bash
# The exit codes hpclip can end with are the hp_err enum of src/base/error.h: `hpclip --help`
# and the table of docs/errors.md must list exactly those, so neither drifts from the code.
source "$(dirname "$0")/lib.sh"

codes() { tr ' ' '\n' | grep -E '^[0-9]+$' | sort -n | uniq | tr '\n' ' '; }
# "  HP_ERR_USAGE = 2,  /* ... */" -> 2
enum=$(sed -nE 's/^[[:space:]]*HP_(OK|ERR_[A-Z_]+)[[:space:]]*=[[:space:]]*([0-9]+).*/\2/p' \
         "$SRC_DIR/src/base/error.h" | codes)
n=$(echo $enum | wc -w)
if [ "$n" -ge 10 ]; then ok "error.h: $n codes: $enum"; else bad "error.h: could not parse the enum (got '$enum')"; fi

"$HPCLIP" --help >"$T/help" 2>&1 || bad "hpclip --help: exit $?"
# the list after "Exit status": every number followed by a word ("8 numerical", "10 internal")
usage=$(sed -n '/^Exit status/,$p' "$T/help" | grep -oE '(^|[ ,:])[0-9]+ [A-Za-z]' | grep -oE '[0-9]+' | codes)
if [ "$usage" = "$enum" ]; then ok "hpclip --help lists exit codes $usage"
else bad "hpclip --help lists exit codes '$usage', src/base/error.h has '$enum'"; sed -n '/^Exit status/,$p' "$T/help"; fi

# docs/errors.md: rows "| 12 | preempted ..." of the exit-code table
docs=$(sed -nE 's/^\|[[:space:]]*([0-9]+)[[:space:]]*\|.*/\1/p' "$SRC_DIR/docs/errors.md" | codes)
if [ "$docs" = "$enum" ]; then ok "docs/errors.md lists exit codes $docs"
else bad "docs/errors.md lists exit codes '$docs', src/base/error.h has '$enum'"; fi
finish
