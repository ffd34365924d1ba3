# The runtime from the outside: examples/embed.c built against libtinyllm.a with -lm -lpthread
# and nothing else (its undefined symbols all libc's), giving the same greedy text as `tinyllm run`
# and the same label as `tinyllm classify`; run on a checkpoint equals run on its f32 GGUF export;
# quantized files label like the f32 one on most rows; classify --json and bench --json parse; and
# bad input (truncated or foreign files, context overflow, bad thread counts) fails with one line.
set -u
DATA=${TINYLLM_DATA:-$HOME/.cache/tinyllm}
CSV="$TL_SHARED/datasets/localisation/train.csv"
[ -f "$DATA/gpt2/vocab.bpe" ] && [ -f "$CSV" ] || { echo "skip: GPT-2 files or datasets missing"; exit 77; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
T() { "$TINYLLM" "$@"; }

# a small trained model with the localisation task inside, in four encodings
T prepare --task "$TL_SRC/tasks/localisation.task" --val-fraction 0 --out "$W/d" "$CSV" > /dev/null 2>&1 || bad "prepare"
T pretrain --train "$W/d" --model 2x2x64 --seq-len 256 --batch-size 4 --steps 40 --lr 3e-3 --eval-every 0 -t 2 -o "$W/m" \
  > /dev/null 2>&1 || bad "pretrain"
for t in f32 f16 q8_0 q4_0; do
  T export -m "$W/m" --task "$TL_SRC/tasks/localisation.task" --type $t -o "$W/m-$t.gguf" > /dev/null 2> "$W/err" ||
    bad "export $t: $(cat "$W/err")"
done

# the embedding example: built with the build's C compiler (TL_CC), linked with libm and pthreads only (and the
# sanitizers' runtimes when the build is instrumented: TL_SAN_FLAGS)
SAN=${TL_SAN_FLAGS:-}
"${TL_CC:-cc}" -std=c11 -O2 -Wall -Wextra -Werror $SAN "$TL_SRC/examples/embed.c" -I"$TL_SRC/include" "$TL_BUILD/libtinyllm.a" -lm -lpthread \
  -o "$W/embed" 2> "$W/err" || bad "examples/embed.c does not build against libtinyllm.a alone: $(head -3 "$W/err")"
if [ -z "$SAN" ]; then # (instrumented, libc's calls resolve to the sanitizer runtime: nothing to check)
  und=$(nm -u "$W/embed" | awk '{print $2}' | grep -vE '@GLIBC|^_ITM_|^__gmon_start__$' | tr '\n' ' ')
  [ -z "$und" ] || bad "embed needs symbols from outside libc/libm/pthreads: $und"
fi
INPUT=$(python3 -c "import csv,sys; r=list(csv.DictReader(open(sys.argv[1]))); print(r[0]['input'])" "$CSV")
"$W/embed" "$W/m-f32.gguf" "The" "$INPUT" > "$W/embed.out" 2> "$W/err" || bad "embed: $(cat "$W/err")"
T run -m "$W/m-f32.gguf" -p "The" -n 16 --temp 0 -t 2 > "$W/run.out" 2> "$W/err" || bad "run: $(cat "$W/err")"
[ "$(head -c 300 "$W/run.out" | head -1 | cut -c4-)" = "$(head -1 "$W/embed.out")" ] ||
  bad "embed's greedy text '$(head -1 "$W/embed.out")' differs from run's '$(head -1 "$W/run.out")'"
want=$(T classify -m "$W/m-f32.gguf" -i "$INPUT" --json 2> /dev/null | python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['label'])")
grep -q ": $want (p = " "$W/embed.out" || bad "embed's label ($(tail -1 "$W/embed.out")) differs from classify's ($want)"

# a checkpoint runs through a temporary f32 export: the same text as the exported file
T run -m "$W/m" -p "The sensor" -n 12 --temp 0 -t 1 > "$W/a" 2> /dev/null || bad "run on a checkpoint"
T run -m "$W/m-f32.gguf" -p "The sensor" -n 12 --temp 0 -t 1 > "$W/b" 2> /dev/null || bad "run on f32"
cmp -s "$W/a" "$W/b" || bad "checkpoint and its f32 GGUF generate differently: '$(cat "$W/a")' vs '$(cat "$W/b")'"
T run -m "$W/m-q8_0.gguf" -p "The sensor" -n 12 --temp 0.8 -s 7 -t 1 > "$W/c" 2> /dev/null
T run -m "$W/m-q8_0.gguf" -p "The sensor" -n 12 --temp 0.8 -s 7 -t 2 > "$W/d2" 2> /dev/null
cmp -s "$W/c" "$W/d2" || bad "the same seed gave different text with 1 and 2 threads"

# classify over 40 rows: every encoding gives valid JSON with probabilities summing to 1, and the
# quantized files agree with f32 on most rows (they are the same model, rounded)
python3 -c "import csv,sys; [print(r['input']) for r in list(csv.DictReader(open(sys.argv[1])))[:40]]" "$CSV" > "$W/inputs"
for t in f32 f16 q8_0 q4_0; do
  T classify -m "$W/m-$t.gguf" -f "$W/inputs" --json -t 2 > "$W/cls-$t" 2> "$W/err" || bad "classify $t: $(cat "$W/err")"
done
python3 - "$W" <<'PY' || bad "classify output"
import json, sys
w = sys.argv[1]
rows = {t: [json.loads(l) for l in open(f"{w}/cls-{t}")] for t in ("f32", "f16", "q8_0", "q4_0")}
for t, r in rows.items():
    assert len(r) == 40, (t, len(r))
    for o in r:
        assert abs(sum(o["probs"].values()) - 1) < 1e-4 and o["label"] == max(o["probs"], key=o["probs"].get), o
agree = {t: sum(a["label"] == b["label"] for a, b in zip(rows["f32"], r)) for t, r in rows.items()}
print("labels agreeing with f32 over 40 rows:", agree)
assert agree["f16"] >= 39 and agree["q8_0"] >= 36 and agree["q4_0"] >= 28, agree
PY

# classify --data renders each CSV row as training does (data/taskcsv.c, not the runtime's template):
# the same labels as -i on the same inputs, and the accuracy it prints is the one counted here
T classify -m "$W/m-q8_0.gguf" --task "$TL_SRC/tasks/localisation.task" --data "$CSV" --limit 40 --json -t 2 \
  > "$W/data-q8_0" 2> "$W/err" || bad "classify --data: $(cat "$W/err")"
python3 - "$W" "$CSV" "$(grep 'classify: accuracy' "$W/err")" <<'PY' || bad "classify --data output"
import csv, json, re, sys
w, path, line = sys.argv[1:]
want = [r["output"] for r in list(csv.DictReader(open(path)))[:40]]
d = [json.loads(l) for l in open(f"{w}/data-q8_0")]
i = [json.loads(l) for l in open(f"{w}/cls-q8_0")]
assert [o["expected"] for o in d] == want, "expected labels are not the CSV's"
assert [o["label"] for o in d] == [o["label"] for o in i], "--data and -i label the same inputs differently"
right = sum(o["label"] == x for o, x in zip(d, want))
assert re.search(rf"accuracy {100 * right / 40:.2f}% \({right}/40 rows", line), (line, right)
PY

# bench: a table and parseable JSON lines
T bench -m "$W/m-q8_0.gguf" -m "$W/m-q4_0.gguf" -p 32 -n 8 -r 2 -t 1,2 --json "$W/b.jsonl" > "$W/bench.out" 2> "$W/err" ||
  bad "bench: $(cat "$W/err")"
python3 -c "
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
assert len(r) == 8 and all(x['tok_s'] > 0 and len(x['runs']) == 2 for x in r), r
assert {x['test'] for x in r} == {'pp32', 'tg8'} and {x['threads'] for x in r} == {1, 2}
" "$W/b.jsonl" || bad "bench JSON"

# bad input: one line, exit code 1
expect_fail() { # what, expected text, command...
  local what=$1 want=$2; shift 2
  "$@" > "$W/out" 2> "$W/err"; local rc=$?
  [ $rc -eq 1 ] || bad "$what: exit code $rc"
  local msg; msg=$(grep '^tinyllm: ' "$W/err") # after the settings table the command prints
  [ "$(printf '%s\n' "$msg" | grep -c .)" -eq 1 ] || bad "$what: not exactly one error line: $(cat "$W/err")"
  printf '%s' "$msg" | grep -qF -- "$want" || bad "$what: '$msg' lacks '$want'"
}
head -c 5000 "$W/m-q8_0.gguf" > "$W/trunc.gguf"
printf 'GGUF\003\0\0\0' > "$W/tiny.gguf"
python3 - "$W/llama.gguf" <<'PY'
import struct, sys
def s(b): return struct.pack("<Q", len(b)) + b
kv = s(b"general.architecture") + struct.pack("<I", 8) + s(b"llama")
open(sys.argv[1], "wb").write(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + kv)
PY
expect_fail "truncated file" "trunc.gguf: " T run -m "$W/trunc.gguf" -p hi -n 1
expect_fail "header only" "tiny.gguf: truncated" T run -m "$W/tiny.gguf" -p hi -n 1
expect_fail "other architecture" "runs only 'gpt2'" T run -m "$W/llama.gguf" -p hi -n 1
expect_fail "missing file" "nope.gguf" T run -m "$W/nope.gguf" -p hi -n 1
expect_fail "context overflow" "exceeds the context of 256" T run -m "$W/m-q8_0.gguf" -p hi -n 300
expect_fail "negative threads" "--threads must be 1..1024, not -1" T run -m "$W/m-q8_0.gguf" -p hi -t -1
expect_fail "zero threads" "--threads must be 1..1024, not 0" T classify -m "$W/m-q8_0.gguf" -i x -t 0
expect_fail "invalid UTF-8 prompt" "not valid UTF-8 at byte 2 (0xff)" T run -m "$W/m-q8_0.gguf" -p "$(printf 'ab\377c')" -n 1
printf 'ok\n\300\257\n' > "$W/badinputs"
expect_fail "invalid UTF-8 input" "badinputs: not valid UTF-8" T classify -m "$W/m-q8_0.gguf" -f "$W/badinputs"
expect_fail "unknown kernels" "available: " T run -m "$W/m-q8_0.gguf" -p hi --kernels sse9
T export -m "$W/m" --type q8_0 -o "$W/notask.gguf" > /dev/null 2>&1
expect_fail "classify without a task" "carries no task prompt" T classify -m "$W/notask.gguf" -i x --labels a,b
expect_fail "bench threads" "comma-separated list" T bench -m "$W/m-q8_0.gguf" -t 0
expect_fail "classify --data without a spec" "takes the task spec (--task)" T classify -m "$W/m-q8_0.gguf" --data "$CSV"
printf 'input,output\n"1,2,3",Kitchen\n' > "$W/badlabel.csv"
expect_fail "classify --data, label outside the set" "badlabel.csv:2" T classify -m "$W/m-q8_0.gguf" --task "$TL_SRC/tasks/localisation.task" --data "$W/badlabel.csv"
exit $fail
