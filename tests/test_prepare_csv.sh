# Sensing-task CSVs through `tinyllm prepare --task`: for the three reference datasets every row
# becomes the paper's template filled from the fields Python's csv module reads (an independent
# parser), labels stay in their set, train/val never share a row, shard tokens equal
# <|endoftext|> + js-tiktoken(prompt + response) per row; malformed CSVs fail with file:line.
set -u
DS="$TL_SHARED/datasets"
[ -d "$DS/gesture" ] || { echo "skip: $DS not found"; exit 77; }
DATA=${TINYLLM_DATA:-$HOME/.cache/tinyllm}
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

for t in gesture localisation breathe; do
  "$TINYLLM" prepare --task "$TL_SRC/tasks/$t.task" --val-fraction 0.2 --seed 5 --out "$W/$t" \
    "$DS/$t/train.csv" "$DS/$t/validation.csv" > "$W/log" 2>&1 || { bad "$t: $(tail -1 "$W/log")"; continue; }
  python3 - "$TL_SRC/tasks/$t.task" "$W/$t" "$DS/$t/train.csv" "$DS/$t/validation.csv" <<'PY' || bad "$t: rendered rows differ"
import csv, json, math, re, sys
spec = dict(l.split("=", 1) for l in open(sys.argv[1]) if "=" in l and not l.startswith("#"))
spec = {k.strip(): v.strip().replace("\\n", "\n") for k, v in spec.items()}
labels = [x.strip() for x in spec["labels"].split(",")] if "labels" in spec else None
NUM = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")  # the numbers of these datasets: plain decimals
def render(text, how):  # the spec's `numbers`, written from its documentation (docs/formats.md)
    if how == "keep": return text
    spaced = how.endswith(" spaced")  # then a gap of only , ; space tab between two numbers is one space
    if spaced: how = how[:-7]
    assert how.startswith("minmax:"), how
    L = int(how[7:]); lines = []
    for line in text.split("\n"):
        xs = [float(m) for m in NUM.findall(line)]
        lo, hi = (min(xs), max(xs)) if xs else (0, 0)
        lev = lambda m: str(min(L - 1, math.floor((float(m.group()) - lo) / (hi - lo) * L)) if hi > lo else 0)
        line = NUM.sub(lev, line)
        lines.append(re.sub(r"(?<=\d)[,; \t]+(?=\d)", " ", line) if spaced else line)
    return "\n".join(lines)
want = []
for f in sys.argv[3:]:
    for row in csv.DictReader(open(f, newline="", encoding="utf-8")):
        ins = row[spec["instruction_column"]] if "instruction_column" in spec else spec["instruction"]
        out = row[spec["output_column"]].strip()
        want.append(("### Instruction:\n" + ins.strip() + "\n\n### Input:\n" + render(row[spec["input_column"]].strip(), spec.get("numbers", "keep")) +
                      "\n\n### Response:\n", out + "\n\n### End"))
        if labels: assert out in labels, out
        else: float(out)
got = {}
for split in ("train", "val"):
    try: got[split] = [(d["prompt"], d["response"]) for d in map(json.loads, open(sys.argv[2] + "/finetune_%s.jsonl" % split))]
    except FileNotFoundError: got[split] = []
allgot = got["train"] + got["val"]
assert sorted(allgot) == sorted(want), "rows differ from Python's csv reading (%d vs %d)" % (len(allgot), len(want))
ids = lambda rows: set(p + r for p, r in rows)
if len(set(p + r for p, r in want)) == len(want):
    assert not ids(got["train"]) & ids(got["val"]), "a row is in both train and val"
m = json.load(open(sys.argv[2] + "/meta.json"))
assert m["train_docs"] == len(got["train"]) and m["val_docs"] == len(got["val"]), "meta counts"
print("%s: %d rows, %d train / %d val" % (sys.argv[2].rsplit("/", 1)[1], len(want), len(got["train"]), len(got["val"])))
PY
done

# the shard holds <|endoftext|> + tiktoken(prompt + response) for each row, in order
TT="$DATA/node/node_modules/js-tiktoken"
if command -v node >/dev/null && [ -d "$TT" ]; then
  cat > "$W/tok.js" <<'JS'
const fs = require("fs"); const { getEncoding } = require(process.argv[2]); const enc = getEncoding("gpt2");
const out = [];
for (const l of fs.readFileSync(process.argv[3], "utf8").split("\n").filter(Boolean)) {
  const d = JSON.parse(l); out.push(50256, ...enc.encode(d.prompt + d.response, [], [])); }
console.log(out.join(" "));
JS
  want=$(node "$W/tok.js" "$TT" "$W/localisation/finetune_train.jsonl")
  got=$(python3 -c '
import struct, sys
b = open(sys.argv[1], "rb").read(); n = struct.unpack("<i", b[8:12])[0]
print(" ".join(map(str, struct.unpack("<%dH" % n, b[1024:]))))' "$W/localisation/train_000000.bin")
  [ "$got" = "$want" ] || bad "localisation train shard differs from js-tiktoken of the rendered rows"
fi

# malformed CSVs and specs: exit 1, one 'tinyllm:' line naming file:line, nothing left behind
check_bad() { # name expected args...
  local name=$1 want=$2; shift 2
  rm -rf "$W/bad"
  "$TINYLLM" prepare --out "$W/bad" --val-fraction 0 "$@" > /dev/null 2> "$W/err"; rc=$?
  [ $rc -eq 1 ] || bad "$name: exit code $rc"
  grep -q -- "$want" "$W/err" || bad "$name: message '$(grep tinyllm: "$W/err")' lacks '$want'"
  [ "$(grep -c '^tinyllm: ' "$W/err")" = 1 ] || bad "$name: not one 'tinyllm:' line"
  [ -z "$(ls -A "$W/bad" 2>/dev/null)" ] || bad "$name: left files: $(ls -A "$W/bad")"
}
L="$TL_SRC/tasks/localisation.task"
printf 'input,output\n"1,2,3",Entrance\n"4,5,6",Entrance,extra\n' > "$W/ragged.csv"
printf 'reading,output\n"1,2",Entrance\n' > "$W/nocol.csv"
printf 'input,output\n"1,2",Entrance\n"3,4,Server Rack\n' > "$W/unterminated.csv"
printf 'input,output\n"1,2",Entrance\n"\xff\xfe",Entrance\n' > "$W/latin1.csv"
printf '' > "$W/empty.csv"
printf 'input,output\n"1,2",Entrance\n"3,4",Kitchen\n' > "$W/label.csv"
printf 'input,output\n1 2 3,fast\n' > "$W/notnum.csv"
printf 'input,output\n"1,2" x,Entrance\n' > "$W/quote.csv"
check_bad "ragged row" "ragged.csv:3: 3 fields, but the header has 2" --task "$L" "$W/ragged.csv"
check_bad "missing column" "nocol.csv:1: no column 'input' (the header has: reading, output)" --task "$L" "$W/nocol.csv"
check_bad "unterminated quote" "unterminated.csv:3: unterminated quoted field" --task "$L" "$W/unterminated.csv"
check_bad "not UTF-8" "latin1.csv:3: field 1 is not valid UTF-8" --task "$L" "$W/latin1.csv"
check_bad "empty file" "empty.csv: empty file" --task "$L" "$W/empty.csv"
check_bad "label not in set" "label.csv:3: label 'Kitchen' is not in the task's label set" --task "$L" "$W/label.csv"
check_bad "regression not a number" "notnum.csv:2: output 'fast' is not a number" --task "$TL_SRC/tasks/breathe.task" "$W/notnum.csv"
check_bad "malformed quoting" "quote.csv:2: malformed CSV" --task "$L" "$W/quote.csv"
check_bad "csv without a task" "ragged.csv: CSV input needs a task spec" "$W/ragged.csv"
check_bad "missing spec" "nope.task: cannot open task spec" --task "$W/nope.task" "$W/ragged.csv"
exit $fail
