# finetune + eval: LoRA and full runs on the localisation task learn (train loss falls), a run
# resumed from its step-4 checkpoint logs exactly what the uninterrupted run logged, LoRA on the top
# block with the frozen block's outputs cached logs what it logs recomputing them and when resumed
# in its second epoch (the cache refilled), the merged
# model has the adapter's val loss and eval predictions, eval's reports agree with each other, an
# adapter refuses another base, and bad settings fail with one line.
set -u
CSV="$TL_SHARED/datasets/localisation/train.csv"
[ -f "$CSV" ] || { echo "skip: $CSV missing"; exit 77; }
[ -f "${TINYLLM_DATA:-$HOME/.cache/tinyllm}/gpt2/vocab.bpe" ] || { echo "skip: GPT-2 files missing (run scripts/install-deps)"; exit 77; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
T() { "$TINYLLM" "$@" -t 2; }

T prepare --task "$TL_SRC/tasks/localisation.task" --val-fraction 0.2 --out "$W/data" "$CSV" > "$W/log" 2>&1 || bad "prepare: $(cat "$W/log")"
T pretrain --train "$W/data" --model 2x2x32 --seq-len 128 --batch-size 4 --steps 20 --lr 3e-3 --eval-every 0 -o "$W/base" > "$W/log" 2>&1 || bad "pretrain: $(cat "$W/log")"

ft() { T finetune --base "$W/base" --train "$W/data" --batch-size 8 --lr 3e-3 --seed 5 "$@"; }
ft --lora --lora-rank 4 --steps 8 --eval-every 4 --keep 3 --merge -o "$W/lora" > "$W/lora.log" 2>&1 || bad "lora finetune: $(tail -3 "$W/lora.log")"
for f in best.safetensors merged.safetensors step_00000004.safetensors step_00000008.safetensors metrics.jsonl; do
  [ -f "$W/lora/$f" ] || bad "lora run lacks $f"
done
# by hand, r = 4, C = 32, per layer: qkv 4x32 + 96x4, proj 4x32 + 32x4, fc 4x32 + 128x4, mlp.proj 4x128 + 32x4
# = 512 + 256 + 640 + 640 = 2048; two layers: 4096
grep -q "trainable 4096 parameters" "$W/lora.log" || bad "LoRA rank 4 on all four modules of 2 layers x 32 should train 4096 parameters: $(grep trainable "$W/lora.log")"

# resume from step 4: the log must continue exactly as the uninterrupted run's
mkdir -p "$W/res" && cp "$W/lora/step_00000004.safetensors" "$W/res/" && echo step_00000004.safetensors > "$W/res/latest"
python3 - "$W/lora/metrics.jsonl" "$W/res/metrics.jsonl" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]) if json.loads(l).get("step", 0) <= 4]
open(sys.argv[2], "w").writelines(lines)
PY
ft --lora --lora-rank 4 --steps 8 --eval-every 4 --keep 3 --resume -o "$W/res" > "$W/res.log" 2>&1 || bad "resume: $(tail -3 "$W/res.log")"
det() { grep -v '"perf"' "$1"; }
[ "$(det "$W/lora/metrics.jsonl")" = "$(det "$W/res/metrics.jsonl")" ] || bad "resumed LoRA run logs differ:
$(diff <(det "$W/lora/metrics.jsonl") <(det "$W/res/metrics.jsonl") | head -6)"
ft --lora --lora-rank 8 --steps 8 --eval-every 4 --resume -o "$W/res" > "$W/log" 2>&1 && bad "resume with another rank accepted"
grep -q "resume with the same" "$W/log" || bad "resume with another rank: $(cat "$W/log")"

# LoRA on the top block of 2: ~196 examples are 25 batches, so steps 26-40 run from the cache
ft --lora --lora-rank 4 --lora-layers 1 --steps 40 --eval-every 20 --ckpt-every 30 --keep 5 -o "$W/top" > "$W/top.log" 2>&1 ||
  bad "lora on the top block: $(tail -3 "$W/top.log")"
grep -q "frozen blocks 0..0: each example's output kept" "$W/top.log" || bad "no frozen-block cache: $(grep -i frozen "$W/top.log")"
grep -q "trainable 2048 parameters" "$W/top.log" || bad "LoRA rank 4 on one block of 32 should train 2048 parameters: $(grep trainable "$W/top.log")"
ft --lora --lora-rank 4 --lora-layers 1 --steps 40 --eval-every 20 --ckpt-every 30 --keep 5 --frozen-cache-mb 0 -o "$W/top0" > "$W/log" 2>&1 ||
  bad "lora on the top block, no cache: $(tail -3 "$W/log")"
grep -q "recomputed every step" "$W/log" || bad "--frozen-cache-mb 0 should recompute: $(grep -i frozen "$W/log")"
[ "$(det "$W/top/metrics.jsonl")" = "$(det "$W/top0/metrics.jsonl")" ] || bad "cached and recomputed frozen blocks log differently:
$(diff <(det "$W/top/metrics.jsonl") <(det "$W/top0/metrics.jsonl") | head -6)"
mkdir -p "$W/topr" && cp "$W/top/step_00000030.safetensors" "$W/topr/" && echo step_00000030.safetensors > "$W/topr/latest"
python3 - "$W/top/metrics.jsonl" "$W/topr/metrics.jsonl" <<'PY'
import json, sys
open(sys.argv[2], "w").writelines(l for l in open(sys.argv[1]) if json.loads(l).get("step", 0) <= 30)
PY
ft --lora --lora-rank 4 --lora-layers 1 --steps 40 --eval-every 20 --ckpt-every 30 --keep 5 --resume -o "$W/topr" > "$W/log" 2>&1 ||
  bad "resume on the top block: $(tail -3 "$W/log")"
[ "$(det "$W/top/metrics.jsonl")" = "$(det "$W/topr/metrics.jsonl")" ] || bad "resumed top-block run logs differ:
$(diff <(det "$W/top/metrics.jsonl") <(det "$W/topr/metrics.jsonl") | head -6)"
ft --lora --lora-rank 4 --steps 40 --eval-every 20 --ckpt-every 30 --resume -o "$W/topr" > "$W/log" 2>&1 && bad "resume with other --lora-layers accepted"
grep -q "lora-layers; resume with the same" "$W/log" || bad "resume with other --lora-layers: $(cat "$W/log")"

# the merged model (a plain checkpoint) has the best adapter's val loss: step 0 of a no-op run on it
ft --steps 1 --lr 0 --eval-every 1 -o "$W/m0" --base "$W/lora/merged.safetensors" > "$W/log" 2>&1 || bad "finetune on merged: $(tail -3 "$W/log")"
python3 - "$W/lora/metrics.jsonl" "$W/m0/metrics.jsonl" <<'PY' || bad "merged model's val loss differs from the adapter's best"
import json, sys
vals = lambda p: [json.loads(l) for l in open(p) if '"val"' in l]
best = min(v["val_loss"] for v in vals(sys.argv[1]))
m0 = [v["val_loss"] for v in vals(sys.argv[2]) if v["step"] == 0][0]
assert abs(best - m0) < 1e-4, (best, m0)
PY

# full fine-tuning: every weight trains and the train loss falls over 12 steps on 195 examples
ft --steps 12 --eval-every 6 -o "$W/full" > "$W/full.log" 2>&1 || bad "full finetune: $(tail -3 "$W/full.log")"
python3 - "$W/full/metrics.jsonl" <<'PY' || bad "full fine-tuning did not learn"
import json, sys
tr = [json.loads(l)["loss"] for l in open(sys.argv[1]) if '"train"' in l]
assert len(tr) == 12 and sum(tr[-3:]) / 3 < sum(tr[:3]) / 3 - 0.1, tr
PY
grep -q "fine-tuning: full" "$W/full.log" || bad "full run does not say so"

# eval: the adapter on its base and the merged model score the same; reports agree with stdout
VAL="$TL_SHARED/datasets/localisation/validation.csv"
EV() { "$TINYLLM" eval --task "$TL_SRC/tasks/localisation.task" --data "$VAL" -t 2 "$@"; }
EV -m "$W/base" --adapter "$W/lora/best.safetensors" --out "$W/ev1.jsonl" --json "$W/ev1.json" > "$W/ev1.txt" 2> "$W/log" || bad "eval adapter: $(cat "$W/log")"
EV -m "$W/base" --adapter "$W/top/best.safetensors" --limit 4 > /dev/null 2> "$W/log" || bad "eval of a top-block adapter: $(cat "$W/log")"
EV -m "$W/lora/merged.safetensors" --out "$W/ev2.jsonl" --json "$W/ev2.json" > "$W/ev2.txt" 2> "$W/log" || bad "eval merged: $(cat "$W/log")"
python3 - "$W" <<'PY' || bad "eval reports"
import json, re, sys
w = sys.argv[1]
labels = {"Charging Station", "Entrance", "Server Rack"}
r1 = [json.loads(l) for l in open(w + "/ev1.jsonl")]
r2 = [json.loads(l) for l in open(w + "/ev2.jsonl")]
assert len(r1) == len(r2) == 35, (len(r1), len(r2))
for a, b in zip(r1, r2):
    assert a["likelihood_label"] in labels and a["expected"] in labels
    assert a["likelihood_label"] == b["likelihood_label"], "adapter and merged model disagree"
    assert all(abs(a["likelihood_probs"][k] - b["likelihood_probs"][k]) < 1e-3 for k in labels)
    assert abs(sum(a["likelihood_probs"].values()) - 1) < 1e-6
s = json.load(open(w + "/ev1.json"))
right = sum(a["likelihood_label"] == a["expected"] for a in r1)
assert s["likelihood"]["correct"] == right and s["rows"] == 35
m = re.search(r"label likelihood: accuracy ([0-9.]+)% \((\d+)/35\)", open(w + "/ev1.txt").read())
assert m and int(m.group(2)) == right and abs(float(m.group(1)) - 100 * right / 35) < 0.01
once = sum(a["generated_correct"] for a in r1)
assert s["generation"]["exactly_once"] == once
PY
"$TINYLLM" eval -m "$W/full/best.safetensors" --adapter "$W/lora/best.safetensors" --task "$TL_SRC/tasks/localisation.task" \
  --data "$VAL" > /dev/null 2> "$W/err" && bad "adapter on another base accepted"
grep -q "trained on a different base model" "$W/err" || bad "adapter on another base: $(cat "$W/err")"
printf 'name = x\ninput_column = reading\noutput_column = output\nlabels = A, B\ninstruction = x\n' > "$W/bad.task"
"$TINYLLM" eval -m "$W/base" --task "$W/bad.task" --data "$VAL" > /dev/null 2> "$W/err" && bad "bad column accepted"
grep -q "validation.csv:1: no column 'reading'" "$W/err" || bad "bad column: $(cat "$W/err")"

# bad settings: one line, exit 1
check_bad() { # name expected args...
  local name=$1 want=$2; shift 2
  "$TINYLLM" finetune "$@" > /dev/null 2> "$W/err"; rc=$?
  [ $rc -eq 1 ] || bad "$name: exit code $rc"
  grep -q -- "$want" "$W/err" || bad "$name: '$(cat "$W/err")' lacks '$want'"
  [ "$(grep -c '^tinyllm: ' "$W/err")" = 1 ] || bad "$name: not one 'tinyllm:' line: $(cat "$W/err")"
}
check_bad "no base" "--base and --train are required" --train "$W/data"
check_bad "unknown target" "unknown module 'attn.q'" --base "$W/base" --train "$W/data" --lora --lora-targets attn.q
check_bad "csv without task" "need a task spec" --base "$W/base" --train "$CSV" -o "$W/x1"
check_bad "adapter as base" "is a LoRA adapter" --base "$W/lora/best.safetensors" --train "$W/data" -o "$W/x2"
check_bad "too long" "more than the model's context" --base "$W/base" --train "$TL_SHARED/datasets/gesture/train.csv" --task "$TL_SRC/tasks/gesture.task" -o "$W/x3"
exit $fail
