# synth: every generator's CSV is read by `prepare --task` with the matching task spec (so the
# shapes match the reference tasks), text mode gives one document per sample, the same seed gives
# the same bytes, and bad options fail with one line and leave no file.
set -u
[ -f "${TINYLLM_DATA:-$HOME/.cache/tinyllm}/gpt2/vocab.bpe" ] || { echo "skip: GPT-2 files missing (run scripts/install-deps)"; exit 77; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
for pair in imu:activity environment:localisation gesture:gesture breathing:breathe; do
  kind=${pair%%:*} task=${pair#*:}
  "$TINYLLM" synth "$kind" --rows 30 --seed 4 -o "$W/$kind.csv" 2> "$W/log" || bad "synth $kind: $(cat "$W/log")"
  "$TINYLLM" prepare --task "$TL_SRC/tasks/$task.task" --val-fraction 0.2 --out "$W/p_$kind" "$W/$kind.csv" > "$W/log" 2>&1 ||
    bad "prepare of synth $kind with tasks/$task.task: $(tail -1 "$W/log")"
  [ "$(wc -l < "$W/p_$kind/finetune_train.jsonl")" -gt 15 ] || bad "$kind: too few rows prepared"
  "$TINYLLM" synth "$kind" --rows 30 --seed 4 > "$W/again.csv" 2> /dev/null
  cmp -s "$W/$kind.csv" "$W/again.csv" || bad "$kind: same seed, different bytes"
done
# the gesture CSV has the reference file's header and instruction text
python3 - "$W/gesture.csv" "$TL_SHARED/datasets/gesture/train.csv" <<'PY' || bad "gesture CSV differs in shape from the reference"
import csv, sys
a, b = list(csv.DictReader(open(sys.argv[1]))), list(csv.DictReader(open(sys.argv[2])))
assert list(a[0].keys()) == list(b[0].keys())
assert a[0]["instruction"] == b[0]["instruction"]
assert [l.split(": [")[0] for l in a[0]["input"].splitlines()] == [l.split(": [")[0] for l in b[0]["input"].splitlines()]
assert all(r["output"] in ("Tap", "Double", "Hold") for r in a)
PY
"$TINYLLM" synth breathing --rows 5 --format text -o "$W/b.txt" 2> /dev/null || bad "text mode"
[ "$(grep -c '^Breathing rate: [0-9.]* breaths per minute$' "$W/b.txt")" = 5 ] || bad "text mode: 5 label lines expected: $(head -c 300 "$W/b.txt")"
check_bad() { # name expected args...
  local name=$1 want=$2; shift 2
  rm -f "$W/bad.csv"
  "$TINYLLM" synth "$@" -o "$W/bad.csv" > /dev/null 2> "$W/err"; rc=$?
  [ $rc -eq 1 ] || bad "$name: exit code $rc"
  grep -q -- "$want" "$W/err" || bad "$name: '$(cat "$W/err")' lacks '$want'"
  [ ! -e "$W/bad.csv" ] || bad "$name: left an output file"
}
check_bad "unknown kind" "not 'radar'" radar
check_bad "no kind" "give a generator"
check_bad "bad format" "--format must be csv or text" gesture --format xml
check_bad "bad rates" "rate-min" breathing --rate-min 30 --rate-max 10
check_bad "too many samples" "use 2..1024" imu --hz 1000 --seconds 10
exit $fail
