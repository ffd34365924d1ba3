# The shipped files of models/ work together and score what models/README.md says, against the
# labels and targets of ../shared/datasets (not against this code's own output):
#  - the base GGUF imports to a checkpoint whose hash both LoRA adapters accept, with the shipped
#    tokenizer folder;
#  - gesture: base + adapter label the 93 validation rows (models/README.md: 93/93), and so does
#    the q8_0 GGUF exported from them, through the edge runtime (`classify`);
#  - breathing: base + adapter read the rate of the 8 real rows (none of them trained on: the
#    adapter saw synthetic rows only; models/README.md: MAE 0.41 bpm, 8 of 8 within +-1), every
#    answer a number.
set -u
M="$TL_SRC/models"; TOK="$M/sensor8192-d1"; DS="$TL_SHARED/datasets"
[ -f "$DS/breathe/train.csv" ] && [ -f "$DS/gesture/validation.csv" ] || { echo "skip: $DS missing"; exit 77; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
"$TINYLLM" import "$M/tinyllm-sensor8192-30M-base-q8_0.gguf" -o "$W/base.safetensors" > /dev/null 2>&1 || bad "import of the base"

# gesture, label likelihood on the checkpoint, then the q8_0 file through the runtime
"$TINYLLM" eval -m "$W/base.safetensors" --adapter "$M/tinyllm-sensor8192-30M-gesture-lora-r32.safetensors" --tokenizer "$TOK" \
  --task "$TL_SRC/tasks/gesture.task" --data "$DS/gesture/validation.csv" --mode likelihood -t 2 -q --json "$W/g.json" \
  > "$W/g.txt" 2>&1 || { bad "eval of base + gesture adapter"; cat "$W/g.txt"; }
"$TINYLLM" export -m "$W/base.safetensors" --adapter "$M/tinyllm-sensor8192-30M-gesture-lora-r32.safetensors" --tokenizer "$TOK" \
  --task "$TL_SRC/tasks/gesture.task" --type q8_0 -o "$W/g-q8_0.gguf" > "$W/x.txt" 2>&1 || { bad "q8_0 export"; cat "$W/x.txt"; }
"$TINYLLM" classify -m "$W/g-q8_0.gguf" --task "$TL_SRC/tasks/gesture.task" --data "$DS/gesture/validation.csv" -t 2 > "$W/c.txt" 2>&1 ||
  { bad "classify of the q8_0 export"; tail -3 "$W/c.txt"; }
python3 - "$W/g.json" "$W/c.txt" <<'PY' || fail=1
import json, re, sys
r = json.load(open(sys.argv[1]))["likelihood"]
m = re.search(r"classify: accuracy [0-9.]+% \(([0-9]+)/([0-9]+) rows", open(sys.argv[2]).read())
q = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
print("gesture, base + adapter: %d of %d by label likelihood; q8_0 through the runtime: %d of %d"
      % (r["correct"], r["total"], q[0], q[1]))
if r["total"] != 93 or q[1] != 93: sys.exit("FAIL: expected the 93 validation rows")
if r["correct"] < 92 or q[0] < 92: sys.exit("FAIL: expected at least 92 of 93 (models/README.md: 93)")
PY

# breathing, generation on the 8 real rows
awk 'NR == 1 || (FNR > 1 && NF)' "$DS/breathe/train.csv" "$DS/breathe/validation.csv" > "$W/real.csv"
"$TINYLLM" eval -m "$W/base.safetensors" --adapter "$M/tinyllm-sensor8192-30M-breathe-lora-r16.safetensors" --tokenizer "$TOK" \
  --task "$TL_SRC/tasks/breathe.task" --data "$W/real.csv" --mode generate -t 2 -q --json "$W/b.json" > "$W/b.txt" 2>&1 ||
  { bad "eval of base + breathing adapter"; cat "$W/b.txt"; }
python3 - "$W/b.json" <<'PY' || fail=1
import json, sys
r = json.load(open(sys.argv[1]))["regression"]
print("breathing, base + adapter on the real rows: MAE %.4f, %d of %d within +-1, %d without a number"
      % (r["mae"], r["within1_count"], r["scored"], r["unparseable"]))
if r["scored"] != 8 or r["unparseable"] != 0: sys.exit("FAIL: expected 8 numeric answers")
if not r["mae"] < 0.5: sys.exit("FAIL: MAE %.4f, expected < 0.5 (models/README.md: 0.41)" % r["mae"])
if r["within1_count"] < 8: sys.exit("FAIL: %d rows within +-1, expected 8" % r["within1_count"])
PY
exit $fail
