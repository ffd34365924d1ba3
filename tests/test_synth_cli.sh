# `tinyllm synth` end to end: each generator's CSV goes through `prepare --task` with the shipped
# spec (gesture, localisation, breathe, activity), so the shapes are the reference tasks'; the
# gesture / localisation / breathe CSVs match the reference files' layout field by field (Python's
# csv module); text mode gives one paragraph document per row; the same seed gives the same bytes;
# bad options fail with one line, exit 1, and leave no file (an existing one untouched).
set -u
[ -f "${TINYLLM_DATA:-$HOME/.cache/tinyllm}/gpt2/vocab.bpe" ] || { echo "skip: GPT-2 files missing (run scripts/install-deps)"; exit 77; }
DS="$TL_SHARED/datasets"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# 1. every generator's CSV is accepted by prepare with the matching task spec, all rows kept
for pair in gesture:gesture environment:localisation breathing:breathe imu:activity; do
  kind=${pair%%:*} task=${pair#*:}
  "$TINYLLM" synth "$kind" --rows 20 --seed 3 -o "$W/$kind.csv" 2> "$W/log" || { bad "synth $kind: $(tail -1 "$W/log")"; continue; }
  "$TINYLLM" prepare --task "$TL_SRC/tasks/$task.task" --val-fraction 0.2 --out "$W/p_$kind" "$W/$kind.csv" > "$W/log" 2>&1 ||
    { bad "prepare --task tasks/$task.task on synth $kind: $(tail -1 "$W/log")"; continue; }
  rows=$(cat "$W/p_$kind"/finetune_*.jsonl | wc -l)
  [ "$rows" = 20 ] || bad "$kind: $rows of 20 rows prepared"
done
"$TINYLLM" synth breathing --rows 10 --cycles-per-breath 2 --rate-min 9.5 --rate-max 12.5 -o "$W/b2.csv" 2> /dev/null &&
  "$TINYLLM" prepare --task "$TL_SRC/tasks/breathe.task" --out "$W/p_b2" "$W/b2.csv" > /dev/null 2>&1 || bad "breathing with 2 cycles per breath"

# 2. the CSVs have the reference files' layout
if command -v python3 > /dev/null && [ -d "$DS/gesture" ]; then
  python3 - "$W" "$DS" <<'PY' || bad "CSV layout differs from the reference files"
import csv, re, sys
w, ds = sys.argv[1], sys.argv[2]
def rows(p): return list(csv.DictReader(open(p, newline="", encoding="utf-8")))
def raw_first_row(p): return open(p, "rb").read().split(b"\n", 2)[1][:1]
# gesture: header, instruction byte for byte, four "Name: [a, b, ...]" lines ending in "]\n", 50 or 51 integers
a, b = rows(w + "/gesture.csv"), rows(ds + "/gesture/train.csv")
assert list(a[0]) == list(b[0]) == ["instruction", "input", "output"]
assert all(r["instruction"] == b[0]["instruction"] for r in a)
line = re.compile(r"^(Proximity|Red|Green|Blue): \[(\d+(, \d+)*)\]$")
for r in a + b:
    assert r["input"].endswith("]\n"), repr(r["input"][-5:])
    ls = r["input"].split("\n")[:-1]
    assert [line.match(l).group(1) for l in ls] == ["Proximity", "Red", "Green", "Blue"], ls
    n = {len(line.match(l).group(2).split(", ")) for l in ls}
    assert len(n) == 1 and n <= {50, 51}, n
    assert r["output"] in ("Tap", "Double", "Hold")
# localisation: 8 readings "1004.12,64.69,24.94,55.32,9,7,5,201", the field quoted
num = re.compile(r"^\d{4}\.\d\d,\d{1,3}\.\d\d,\d{1,2}\.\d\d,\d{1,3}\.\d\d,\d+,\d+,\d+,\d+$")
a, b = rows(w + "/environment.csv"), rows(ds + "/localisation/train.csv")
assert list(a[0]) == list(b[0]) == ["input", "output"]
assert all(num.match(r["input"]) for r in a + b), [r["input"] for r in a + b if not num.match(r["input"])][:3]
assert {r["output"] for r in a} == {r["output"] for r in b}
assert raw_first_row(w + "/environment.csv") == raw_first_row(ds + "/localisation/train.csv") == b'"'
# breathe: 477 integers 0..100, each followed by a space, target a decimal number
a, b = rows(w + "/breathing.csv"), rows(ds + "/breathe/train.csv")
assert list(a[0]) == list(b[0]) == ["input", "output"]
for r in a + b:
    assert r["input"].endswith(" ") and "  " not in r["input"]
    v = [int(x) for x in r["input"].split()]
    assert len(v) == 477 and min(v) >= 0 and max(v) <= 100
    float(r["output"])
assert all(re.match(r"^\d+\.\d\d$", r["output"]) and 8 <= float(r["output"]) <= 20 for r in a)
PY
fi

# 3. text mode: paragraph documents, input + label line
"$TINYLLM" synth imu --rows 12 --format text --seed 5 -o "$W/imu.txt" 2> /dev/null || bad "text mode"
[ "$(grep -c '^Activity: \(still\|walking\|running\|cycling\|vehicle\|stairs\)$' "$W/imu.txt")" = 12 ] || bad "imu text: 12 label lines expected"
[ "$(grep -c '^Accel x: \[' "$W/imu.txt")" = 12 ] || bad "imu text: 12 accelerometer lines expected"
"$TINYLLM" prepare --val-fraction 0 --out "$W/p_text" "$W/imu.txt" > /dev/null 2>&1 || bad "prepare of the text output"
grep -q '"train_docs": *12' "$W/p_text/meta.json" 2> /dev/null || bad "text output: 12 documents expected: $(cat "$W/p_text/meta.json" 2> /dev/null)"
"$TINYLLM" synth breathing --rows 5 --format text -o "$W/b.txt" 2> /dev/null
[ "$(grep -c '^Breathing rate: [0-9]*\.[0-9][0-9] breaths per minute$' "$W/b.txt")" = 5 ] || bad "breathing text: 5 label lines expected"

# 4. determinism: the same seed gives the same bytes (file or stdout), another seed other bytes
for kind in imu environment gesture breathing; do
  "$TINYLLM" synth "$kind" --rows 20 --seed 3 2> /dev/null > "$W/again.csv"
  cmp -s "$W/$kind.csv" "$W/again.csv" || bad "$kind: same seed, different bytes"
  "$TINYLLM" synth "$kind" --rows 20 --seed 4 2> /dev/null > "$W/other.csv"
  cmp -s "$W/$kind.csv" "$W/other.csv" && bad "$kind: seeds 3 and 4 give the same bytes"
done
printf 'rows = 7\nseed = 3\n' > "$W/conf"
"$TINYLLM" synth gesture --config "$W/conf" 2> /dev/null > "$W/conf.csv"
python3 -c "import csv,sys; assert len(list(csv.DictReader(open(sys.argv[1])))) == 7" "$W/conf.csv" 2> /dev/null || bad "--config rows = 7"

# 5. bad options: one line on stderr, exit 1, no output file, an existing file untouched
check_bad() { # name expected-text args...
  local name=$1 want=$2; shift 2
  rm -f "$W/bad.csv"
  "$TINYLLM" synth "$@" -o "$W/bad.csv" > /dev/null 2> "$W/err"; rc=$?
  [ $rc -eq 1 ] || bad "$name: exit code $rc"
  [ "$(wc -l < "$W/err")" = 1 ] || bad "$name: stderr is not one line: $(cat "$W/err")"
  grep -q -- "$want" "$W/err" || bad "$name: '$(cat "$W/err")' lacks '$want'"
  [ ! -e "$W/bad.csv" ] || bad "$name: left an output file"
  ls "$W" | grep -q '\.tmp\.' && bad "$name: left a temp file"
  echo keep > "$W/bad.csv"
  "$TINYLLM" synth "$@" -o "$W/bad.csv" > /dev/null 2>&1
  [ "$(cat "$W/bad.csv")" = keep ] || bad "$name: overwrote an existing file"
}
check_bad "unknown kind" "not 'radar'" radar
check_bad "no kind" "give a generator"
check_bad "two kinds" "give one generator" imu gesture
check_bad "unknown option" "unknown option '--speed'" imu --speed 3
check_bad "bad format" "--format must be csv or text" gesture --format xml
check_bad "bad rows" "--rows must be >= 1" gesture --rows 0
check_bad "rows not a number" "--rows: expected an integer" gesture --rows many
check_bad "bad rates" "--rate-min" breathing --rate-min 30 --rate-max 10
check_bad "rates too low for the window" "do not fit" breathing --rate-min 2 --rate-max 4
check_bad "bad cycles" "--cycles-per-breath must be 1 or 2" breathing --cycles-per-breath 3
check_bad "hz for gesture" "--hz and --seconds apply to imu and breathing" gesture --hz 50
check_bad "places for imu" "--places applies to environment" imu --places A,B
check_bad "duplicate place" "given twice" environment --places A,B,A
check_bad "bad noise" "--noise must be > 0" imu --noise 0
check_bad "too many samples" "samples per channel" imu --hz 1000 --seconds 10
# an output folder that does not exist: an error naming the file, nothing written
"$TINYLLM" synth imu --rows 3 -o "$W/no/such/dir/x.csv" > /dev/null 2> "$W/err" && bad "missing folder accepted"
grep -q "no/such/dir/x.csv" "$W/err" || bad "missing folder: '$(tail -1 "$W/err")' does not name the file"
exit $fail
