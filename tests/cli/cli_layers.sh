#!/usr/bin/env bash
# cli_layers.sh — the layer order of CMakeLists.txt (HPCLIP_LAYERS) holds: (1) every
# `#include "X/..."` in src/Y/ names Y or a layer Y may use, directly or through its
# dependencies — headers included only by upper layers too, which the build alone would not
# catch; (2) the build enforces it: a file compiled with nn's flags cannot include models/.
source "$SRC_DIR/tests/cli/lib.sh"

out=$($PY - "$SRC_DIR" <<'EOF'
import os, re, sys
src = sys.argv[1]
text = open(os.path.join(src, "CMakeLists.txt")).read()
block = re.search(r"set\(HPCLIP_LAYERS\n(.*?)\)", text, re.S).group(1)
deps = {}
for entry in re.findall(r'"([^"]+)"', block):
    name, _, rest = entry.partition(":")
    deps[name] = [d for d in rest.split(",") if d]
def closure(layer, seen=None):
    seen = set() if seen is None else seen
    for d in deps[layer]:
        if d not in seen:
            seen.add(d)
            closure(d, seen)
    return seen
bad = 0
for layer in sorted(os.listdir(os.path.join(src, "src"))):
    if layer == "cli":
        continue
    if layer not in deps:
        print(f"src/{layer}/ is not in HPCLIP_LAYERS"); bad += 1; continue
    allowed = closure(layer) | {layer}
    d = os.path.join(src, "src", layer)
    for f in sorted(os.listdir(d)):
        for n, line in enumerate(open(os.path.join(d, f), errors="replace"), 1):
            m = re.match(r'\s*#\s*include\s+"([^"/]+)/', line)
            if m and m.group(1) in deps and m.group(1) not in allowed:
                print(f"src/{layer}/{f}:{n}: includes {m.group(1)}/, above {layer} "
                      f"(may use {', '.join(sorted(allowed - {layer})) or 'nothing'})")
                bad += 1
print(f"checked {len(deps)} layers, {bad} upward includes")
sys.exit(1 if bad else 0)
EOF
) && ok "includes follow HPCLIP_LAYERS: ${out##*$'\n'}" || { bad "upward includes"; echo "$out"; }

# The compile command of src/nn/linear.c, applied to a probe that includes a models/ header.
cmd=$($PY - "$BUILD_DIR/compile_commands.json" "$T/probe.c" <<'EOF'
import json, shlex, sys
for e in json.load(open(sys.argv[1])):
    if e["file"].endswith("/src/nn/linear.c"):
        args = shlex.split(e["command"])
        i = args.index("-o"); args[i + 1] = sys.argv[2] + ".o"
        i = args.index("-c"); args[i + 1] = sys.argv[2]
        print(e["directory"]); print(shlex.join(args)); break
EOF
)
if [ -z "$cmd" ]; then bad "no compile command for src/nn/linear.c in $BUILD_DIR/compile_commands.json"
else
  printf '#include "nn/linear.h"\n#include "models/clip.h"\nint probe;\n' >"$T/probe.c"
  dir=${cmd%%$'\n'*}; line=${cmd#*$'\n'}
  (cd "$dir" && eval "$line") >"$T/cc.txt" 2>&1 && bad "nn/ compiled an include of models/clip.h" \
    || { grep -q 'models/clip.h: No such file' "$T/cc.txt" && ok "nn/ cannot include models/: $(grep -m1 'No such file' "$T/cc.txt" | sed 's/.*error: //')" \
         || { bad "the probe failed for another reason"; cat "$T/cc.txt"; }; }
  # the same command compiles a probe that includes its own layer and base/
  printf '#include "nn/linear.h"\n#include "base/error.h"\nint probe;\n' >"$T/probe.c"
  (cd "$dir" && eval "$line") >"$T/cc.txt" 2>&1 && ok "nn/ includes nn/ and base/" || { bad "the control probe failed"; cat "$T/cc.txt"; }
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
