#!/usr/bin/env bash
# cli_code_shape.sh — the rules of docs/architecture.md that a reader cannot check at a glance:
#  - docs/architecture.md names every src/ folder and every stage of the stage table;
#  - no function in src/ is longer than 120 lines unless the comment right above it says why
#    (a line starting "Long:");
#  - test hooks are read only by src/base/test_hooks.c (no getenv("HPCLIP_TEST_...") elsewhere);
#  - errors are recorded through error.h's macros (no raw hp_error_set(code, __FILE__, ...)).
# (The layer order itself is enforced by the build: CMakeLists.txt.)
. "$SRC_DIR/tests/cli/lib.sh"
cd "$SRC_DIR" || exit 1
if out=$($PY - <<'PY' 2>&1
import glob, os, re, sys
bad = []
arch = open("docs/architecture.md").read()
for d in sorted(glob.glob("src/*/")):
    name = os.path.basename(os.path.dirname(d))
    if "src/%s/" % name not in arch and "`%s/`" % name not in arch:
        bad.append("docs/architecture.md does not name src/%s/" % name)
runner = open(glob.glob("src/*/runner.c")[0]).read()
for stage in re.findall(r'^\s*\{\s*"([a-z-]+)",', runner, re.M):
    if "`%s`" % stage not in arch:
        bad.append("docs/architecture.md does not name the stage `%s`" % stage)
LIMIT = 120
for path in sorted(glob.glob("src/**/*.c", recursive=True)):
    lines = open(path, errors="replace").read().split("\n")
    start = None
    for i, l in enumerate(lines):
        if start is None and re.match(r"^[A-Za-z_][^;]*\(", l) and not l.startswith(("typedef", "#")) \
                and not l.rstrip().endswith(";"):
            start = i
        if start is not None and l == "}":
            n = i - start + 1
            if n > LIMIT:
                above = "\n".join(lines[max(0, start - 12):start])
                if not re.search(r"(/\*|\*)\s*Long:", above):
                    bad.append("%s:%d: %s... is %d lines (over %d, no 'Long:' comment saying why)"
                               % (path, start + 1, lines[start][:60], n, LIMIT))
            start = None
        elif start is not None and l.startswith(("}", "#")) and l != "}":
            start = None
    text = "\n".join(lines)
    if path != "src/base/test_hooks.c" and re.search(r'getenv\("HPCLIP_TEST', text):
        bad.append("%s: reads a test hook with getenv (use base/test_hooks.h)" % path)
    if re.search(r"hp_error_set\([^;]*__FILE__", text) and not path.startswith("src/base/error"):
        bad.append("%s: raw hp_error_set(..., __FILE__, ...) (use HP_ERROR / HP_CHECK / HP_ERROR_SET)" % path)
print("\n".join(bad) if bad else "clean")
sys.exit(1 if bad else 0)
PY
); then ok "code shape: $out"; else bad "code shape:"; echo "$out" | sed 's/^/     | /'; fi
finish
