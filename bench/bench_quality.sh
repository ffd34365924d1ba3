#!/usr/bin/env bash
# What 8- and 4-bit weights cost, per type: bench/bench_quality.sh [BUILD_DIR] [OUT_DIR]
#  1. text: the demo's model (4x4x128 GPT-2 pretrained on its generated corpus, `tinyllm demo`)
#     exported as f32, f16, q8_0 and q4_0; perplexity on its val shard, KL divergence from f32,
#     top-1 agreement (bench_quality), and file size;
#  2. a sensing task: a model trained from scratch on localisation/train.csv (no pre-training, so
#     its accuracy is far from the paper's; the point is the change per type), its label accuracy
#     on localisation/validation.csv through `tinyllm classify` per type (the runtime's kernels, so
#     the activation quantization of q8_0/q4_0 is in the figure), and its decode tok/s.
# Writes OUT_DIR/quality.md.
set -uo pipefail
BUILD=${1:-build}
OUT=${2:-bench-out}
SHARED=${TL_SHARED:-$(cd "$(dirname "$0")/.." && pwd)/../shared}
TYPES="f32 f16 q8_0 q4_0"
T="$BUILD/tinyllm"
mkdir -p "$OUT"
W="$OUT/quality"
mkdir -p "$W"
{
  echo "# Quantization quality ($(date -u +%Y-%m-%dT%H:%MZ), $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores)"
  echo
} > "$OUT/quality.md"

# 1. text
[ -f "$W/demo/run/latest" ] || "$T" demo --out "$W/demo" --steps "${DEMO_STEPS:-300}" > "$W/demo.log" 2>&1 || { echo "demo failed"; exit 1; }
for t in $TYPES; do "$T" export -m "$W/demo/run" --type "$t" -o "$W/demo-$t.gguf" > /dev/null 2>&1 || exit 1; done
val=$(ls "$W"/demo/data/val_*.bin | head -1)
{
  echo "## Text: the demo model (4x4x128, $(grep -o 'step [0-9]*' "$W/demo.log" | tail -1 | cut -d' ' -f2) steps on the demo corpus), its val shard"
  echo "\`bench_quality $val 16 demo-f32.gguf ...\`; file sizes: $(for t in $TYPES; do printf '%s %s MB; ' "$t" "$(du -m "$W/demo-$t.gguf" | cut -f1)"; done)"
  echo
  "$BUILD/bench/bench_quality" "$val" 16 $(for t in $TYPES; do echo "$W/demo-$t.gguf"; done) | sed "s#$W/##"
  echo
} >> "$OUT/quality.md"

# 2. localisation
CSV="$SHARED/datasets/localisation/train.csv"
VAL="$SHARED/datasets/localisation/validation.csv"
TASK="$(dirname "$0")/../tasks/localisation.task"
if [ ! -f "$W/loc/run/latest" ]; then
  "$T" prepare --task "$TASK" --val-fraction 0.1 --out "$W/loc/data" "$CSV" > /dev/null 2>&1 || exit 1
  "$T" pretrain --train "$W/loc/data" --model "${LOC_MODEL:-4x4x128}" --seq-len 256 --batch-size 8 --steps "${LOC_STEPS:-400}" \
    --lr 2e-3 --warmup 20 --eval-every 0 -o "$W/loc/run" > "$W/loc.log" 2>&1 || { echo "pretrain failed"; exit 1; }
fi
python3 - "$VAL" "$W/loc" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
open(sys.argv[2] + "/inputs", "w").write("".join(r["input"].replace("\n", " ") + "\n" for r in rows))
open(sys.argv[2] + "/labels", "w").write("".join(r["output"].strip() + "\n" for r in rows))
PY
{
  echo "## Localisation: a ${LOC_MODEL:-4x4x128} model trained from scratch on the task's train split (${LOC_STEPS:-400} steps), validation split"
  echo
  echo "| type | file MB | accuracy | labels equal to f32's | decode tok/s (1 thread) |"
  echo "|---|---|---|---|---|"
} >> "$OUT/quality.md"
for t in $TYPES; do
  "$T" export -m "$W/loc/run" --task "$TASK" --type "$t" -o "$W/loc-$t.gguf" > /dev/null 2>&1 || exit 1
  "$T" classify -m "$W/loc-$t.gguf" -f "$W/loc/inputs" --json -t 2 > "$W/loc-$t.jsonl" 2> /dev/null || { echo "classify $t failed"; exit 1; }
  tg=$("$T" bench -m "$W/loc-$t.gguf" -p 0 -n 64 -r 3 -t 1 2> /dev/null | grep tg64 | cut -d'|' -f9)
  python3 - "$W" "$t" "$(du -m "$W/loc-$t.gguf" | cut -f1)" "$tg" >> "$OUT/quality.md" <<'PY'
import json, sys
w, t, mb, tg = sys.argv[1:]
got = [json.loads(l)["label"] for l in open(f"{w}/loc-{t}.jsonl")]
ref = [json.loads(l)["label"] for l in open(f"{w}/loc-f32.jsonl")]
want = [l.strip() for l in open(f"{w}/loc/labels")]
acc = sum(a == b for a, b in zip(got, want)) / len(want)
same = sum(a == b for a, b in zip(got, ref))
print(f"| {t} | {mb} | {100 * acc:.2f}% ({sum(a == b for a, b in zip(got, want))}/{len(want)}) | {same}/{len(ref)} | {tg.strip()} |")
PY
done
cat "$OUT/quality.md"
