#!/usr/bin/env bash
# cli_scaling.sh — scripts/scaling.sh on a tiny job at 1 and 2 ranks, strong and weak: one CSV row
# per (mode, stage, ranks) with timings, speed-up and efficiency, scaling.h5 with the same table,
# both PNGs valid, oversubscribed rank counts marked; bad arguments fail with a message. Timings here are not measurements.
. "$SRC_DIR/tests/cli/lib.sh"
cd "$SRC_DIR" || exit 1
O="$T/scal"
# HPCLIP_CORES=1: the 2-rank runs count as oversubscribed (checks the marking without a 3rd rank).
if HPCLIP_CORES=1 timeout 300 scripts/scaling.sh --ranks 1,2 --images 60 --batch 12 --steps 2 --config tests/eval/tiny.cfg \
     --out "$O" -s cluster.k=3 -s cluster.analysis=false >"$T/log" 2>&1; then ok "scaling.sh --ranks 1,2 (strong and weak)"
else bad "scaling.sh failed"; sed 's/^/     | /' "$T/log" | tail -20; fi
n=$(tail -n +2 "$O/scaling.csv" 2>/dev/null | wc -l)
[ "$n" = 16 ] && ok "scaling.csv: 16 rows (2 modes x 4 stages x 2 rank counts)" || bad "scaling.csv has $n rows, expected 16"
head -1 "$O/scaling.csv" | grep -q "^mode,stage,ranks,threads,oversubscribed,images,batch,seconds,wall_seconds,throughput,throughput_unit,speedup,efficiency$" \
  && ok "scaling.csv header" || bad "scaling.csv header: $(head -1 "$O/scaling.csv")"
$PY - "$O" >"$T/py" 2>&1 <<'PY' && ok "scaling.h5 and CSV agree: $(cat "$T/py")" || bad "scaling.h5: $(cat "$T/py")"
import csv, sys, h5py
d = sys.argv[1]
rows = list(csv.DictReader(open(d + "/scaling.csv")))
f = h5py.File(d + "/scaling.h5", "r")
assert f.attrs["schema"] == "hpclip.scaling"
for mode in ("strong", "weak"):
    for st in ("train", "embed", "search", "cluster"):
        g = f[mode][st]
        assert list(g["ranks"][()]) == [1, 2], (mode, st, g["ranks"][()])
        rs = [r for r in rows if r["mode"] == mode and r["stage"] == st]
        assert [float(r["seconds"]) for r in rs] == list(g["seconds"][()])
        assert abs(g["speedup"][0] - 1) < 1e-9 and abs(g["efficiency"][0] - 1) < 1e-9
        assert all(s > 0 for s in g["seconds"][()])
imgs = {(r["mode"], r["ranks"]): r["images"] for r in rows}
assert imgs[("strong", "2")] == "60" and imgs[("weak", "2")] == "120", imgs
print("%d rows" % len(rows))
PY
for m in strong weak; do
  if $PY -c 'import sys, matplotlib.image as mi; a = mi.imread(sys.argv[1]); assert a.shape[:2] == (400, 1000), a.shape; print("PNG %dx%d" % (a.shape[1], a.shape[0]))' \
       "$O/scaling_$m.png" >"$T/png" 2>&1; then ok "scaling_$m.png: $(cat "$T/png")"
  else bad "scaling_$m.png: $(tail -1 "$T/png")"; fi
done
if [ "$(grep -c ',2,1,1,' "$O/scaling.csv")" = 8 ] && [ "$(grep -c ',1,1,0,' "$O/scaling.csv")" = 8 ]; then
  ok "2 ranks on HPCLIP_CORES=1 marked oversubscribed, 1 rank not"
else bad "oversubscribed column: $(cut -d, -f1-5 "$O/scaling.csv" | tr '\n' ' ')"; fi
for c in "--ranks 0,2|--ranks: expected a list" "--ranks 1,2 --batch 5|not divisible by 2 ranks" \
         "--stages train,bogus|'bogus' is not one of" "--mode sideways|--mode: expected strong" \
         "--config /nonexistent.cfg|--config: no such file" "--frobnicate|unknown argument"; do
  args=${c%%|*} re=${c#*|}
  # shellcheck disable=SC2086
  if out=$(scripts/scaling.sh $args --out "$T/bad" 2>&1); then bad "scaling.sh $args succeeded"
  else echo "$out" | grep -q -- "$re" && ok "scaling.sh $args: $out" || bad "scaling.sh $args: $out"; fi
done
finish
