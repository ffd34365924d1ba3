# The shipped files of models/ work together: the base GGUF imports to a checkpoint whose hash the
# breathing LoRA adapter accepts, and base + adapter read the breathing rate of the 8 real rows of
# ../shared/datasets/breathe (none of them trained on: the adapter saw synthetic rows only) within
# the figures of models/README.md (MAE 0.510 bpm, 7 of 8 within +-1), every answer a number.
set -u
[ -f "${TINYLLM_DATA:-$HOME/.cache/tinyllm}/gpt2/vocab.bpe" ] || { echo "skip: GPT-2 files missing (run scripts/install-deps)"; exit 77; }
DS="$TL_SHARED/datasets/breathe"
[ -f "$DS/train.csv" ] || { echo "skip: $DS missing"; exit 77; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
"$TINYLLM" import "$TL_SRC/models/tinyllm-gpt2-30M-base-q8_0.gguf" -o "$W/base.safetensors" > /dev/null 2>&1 || bad "import of the base"
awk 'NR == 1 || (FNR > 1 && NF)' "$DS/train.csv" "$DS/validation.csv" > "$W/real.csv"
"$TINYLLM" eval -m "$W/base.safetensors" --adapter "$TL_SRC/models/tinyllm-gpt2-30M-breathe-lora-r16.safetensors" \
  --task "$TL_SRC/tasks/breathe.task" --data "$W/real.csv" --mode generate -t 2 -q --json "$W/sum.json" > "$W/eval.txt" 2>&1 ||
  { bad "eval of base + adapter"; cat "$W/eval.txt"; }
python3 - "$W/sum.json" <<'PY' || fail=1
import json, sys
r = json.load(open(sys.argv[1]))["regression"]
print("breathing, base + adapter on the real rows: MAE %.4f, %d of %d within +-1, %d without a number"
      % (r["mae"], r["within1_count"], r["scored"], r["unparseable"]))
if r["scored"] != 8 or r["unparseable"] != 0: sys.exit("FAIL: expected 8 numeric answers")
if not r["mae"] < 0.6: sys.exit("FAIL: MAE %.4f, expected < 0.6 (models/README.md: 0.510)" % r["mae"])
if r["within1_count"] < 7: sys.exit("FAIL: %d rows within +-1, expected at least 7" % r["within1_count"])
PY
exit $fail
