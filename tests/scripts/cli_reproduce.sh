#!/usr/bin/env bash
# cli_reproduce.sh — scripts/reproduce.sh runs two jobs of the study's grid (--reduced on the
# committed COCO slice and the Fashion slice, with tiny models so they take seconds) on 2 ranks and assembles
# tables.md in the study's layout: Tables 1-3 with the study's rows and columns, the runs' figures
# in their rows (equal to their results.h5), "—" everywhere else; bad arguments fail with a message.
. "$SRC_DIR/tests/cli/lib.sh"
cd "$SRC_DIR" || exit 1
R="$T/runs"
tiny=(-s model.text_layers=1 -s model.text_heads=2 -s model.text_width=16 -s "model.resnet_blocks=1,1,1,1"
      -s model.image_layers=1 -s model.image_heads=2 -s model.image_width=16
      -s model.resnet_width=4 -s model.embed_dim=16 -s data.image_size=32 -s train.max_steps=2 -s embed.batch=16)
if timeout 240 scripts/reproduce.sh --reduced --only coco-bert4-256-resnet50,fashion-bert12-768-vit16 --runs "$R" --np 2 "${tiny[@]}" >"$T/log" 2>&1
then ok "reproduce.sh --reduced --only coco-bert4-256-resnet50,fashion-bert12-768-vit16 (2 ranks)"
else bad "reproduce.sh failed"; sed 's/^/     | /' "$T/log" | tail -20; tail -20 "$R/coco-bert4-256-resnet50.log"; fi
# A finished job's restart state is removed by default (it only serves to resume); --keep-state keeps it.
if [ -f "$R/coco-bert4-256-resnet50/ckpt.h5" ] && [ ! -e "$R/coco-bert4-256-resnet50/train-state.h5" ] \
   && [ ! -e "$R/fashion-bert12-768-vit16/train-state.h5" ]; then ok "finished jobs: train-state.h5 removed, ckpt.h5 kept"
else bad "finished jobs: $(ls "$R"/*/ 2>&1 | tr '\n' ' ')"; fi
if timeout 120 scripts/reproduce.sh --reduced --only coco-bert4-256-resnet50 --runs "$T/keep" --keep-state "${tiny[@]}" >"$T/logk" 2>&1 \
   && [ -f "$T/keep/coco-bert4-256-resnet50/train-state.h5" ]; then ok "--keep-state: train-state.h5 kept"
else bad "--keep-state: $(tail -3 "$T/logk")"; fi
# Run again on the finished runs: every stage is skipped by its fingerprint (the state is not needed).
if timeout 120 scripts/reproduce.sh --reduced --only coco-bert4-256-resnet50 --runs "$R" "${tiny[@]}" >"$T/logr" 2>&1 \
   && grep -q "stage train: .* is complete and up to date" "$R/coco-bert4-256-resnet50.log"; then
  ok "rerun of a finished job without its train-state.h5: train skipped as complete"
else bad "rerun: $(tail -3 "$T/logr"; tail -5 "$R/coco-bert4-256-resnet50.log")"; fi
M="$R/tables.md"
[ -f "$M" ] && ok "tables.md written" || bad "no tables.md"
for h in "### Table 1. Image retrieval results on COCO dataset" "### Table 2. Zero shot results on COCO dataset" \
         "### Table 3. Image retrieval results on ROCO and Fashion dataset for 8 relevant queries" \
         "| Model | P@1 | P@5 | P@10 | R@1 | R@5 | R@10 | NDCG@1 | NDCG@5 | NDCG@10 | MAP@1 | MAP@5 | MAP@10 |" \
         "| Model | macro-P | micro-P | macro-R | micro-R | macro-F1 | micro-F1 | Accuracy |" \
         "| Model | P@1 | P@5 | P@10 | NDCG@1 | NDCG@5 | NDCG@10 | MAP@1 | MAP@5 | MAP@10 |" "**Reduced grid**"; do
  grep -qF -- "$h" "$M" && ok "tables.md has: $h" || bad "tables.md lacks: $h"
done
$PY - "$R" >"$T/py" 2>&1 <<'PY' && ok "layout and figures: $(cat "$T/py")" || bad "tables.md: $(cat "$T/py")"
import sys, h5py
R = sys.argv[1]
lines = open(R + "/tables.md").read().split("\n")
def rows(title):
    i = next(j for j, l in enumerate(lines) if l.startswith("### " + title))
    out = []
    for l in lines[i + 4:]:
        if not l.startswith("|"): break
        out.append([c.strip() for c in l.strip("|").split("|")])
    return out
t1, t2, t3 = rows("Table 1."), rows("Table 2."), rows("Table 3.")
study = ["Bert %d/%d, Resnet50" % (l, w) for l in (4, 8, 12) for w in (256, 512, 768)] + \
        ["Bert 12/768, ViT16", "Bert 12/768, ViT32"]
assert [r[0] for r in t1] == study, [r[0] for r in t1]
assert [r[0] for r in t2] == study
assert [r[0] for r in t3] == ["Medical Field", "Fashion"], t3
assert all(len(r) == 13 for r in t1) and all(len(r) == 8 for r in t2) and all(len(r) == 10 for r in t3)
f = h5py.File(R + "/coco-bert4-256-resnet50/results.h5", "r")
want1 = ["%.3f" % v for v in f["search/table1"][1]]
want2 = ["%.3f" % v for v in f["zeroshot/table2"][()]]
assert t1[0][1:] == want1, (t1[0], want1)
assert t2[0][1:] == want2, (t2[0], want2)
g = h5py.File(R + "/fashion-bert12-768-vit16/results.h5", "r")
want3 = ["%.3f" % v for v in g["search/table3"][1]]
assert t3[1][1:] == want3, (t3[1], want3)
for r in t1[1:] + t2[1:] + t3[:1]:
    assert set(r[1:]) == {"—"}, r
print("11 + 11 + 2 rows, Bert 4/256 and Fashion rows = results.h5, the rest —")
PY
# --tables-only on an empty directory: all "—", exit 0.
mkdir -p "$T/empty"
if scripts/reproduce.sh --tables-only --runs "$T/empty" >"$T/log2" 2>&1 && [ "$(grep -c '| — |' "$T/empty/tables.md")" -ge 24 ]; then
  ok "--tables-only on an empty runs directory: every row —"
else bad "--tables-only: $(tail -3 "$T/log2")"; fi
for c in "--only nosuchjob|--only: no job 'nosuchjob'" "--np 0|--np: expected a positive integer" \
         "--frobnicate|unknown argument" "-s novalue|-s needs key=value"; do
  args=${c%%|*} re=${c#*|}
  # shellcheck disable=SC2086
  if out=$(scripts/reproduce.sh $args --runs "$T/bad" 2>&1); then bad "reproduce.sh $args succeeded"
  else echo "$out" | grep -q -- "$re" && ok "reproduce.sh $args: $out" || bad "reproduce.sh $args: $out"; fi
done
# A job that fails (bad override) is reported, the tables are still written, exit 1.
scripts/reproduce.sh --reduced --only coco-bert4-256-resnet50 --runs "$T/failrun" -s train.lr=-1 >"$T/log3" 2>&1; rc=$?
if [ $rc = 1 ] && grep -q "coco-bert4-256-resnet50 FAILED (exit 3)" "$T/log3" && [ -f "$T/failrun/tables.md" ]; then
  ok "failed job: reported, tables written, exit 1"
else bad "failed job: exit $rc: $(tail -3 "$T/log3")"; fi
finish
