# eval end to end: a tiny model pretrained for a few steps on the gesture rows is scored on
# validation rows; the printed report, the --json summary and the --out rows agree with each other
# and with recomputation (accuracy = correct/total, argmax/softmax of the label log-likelihoods,
# the exactly-once rule, confusion and precision/recall), likelihood predictions are always valid
# labels, results do not depend on the thread count, --limit and --mode work, a regression task
# reports its unparseable answers, and bad inputs fail with one line naming file:line.
set -u
GES="$TL_SHARED/datasets/gesture"
[ -f "$GES/train.csv" ] && [ -f "$GES/validation.csv" ] || { echo "skip: $GES missing"; exit 77; }
[ -f "${TINYLLM_DATA:-$HOME/.cache/tinyllm}/gpt2/vocab.bpe" ] || { echo "skip: GPT-2 files missing (run scripts/install-deps)"; exit 77; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
TASK="$TL_SRC/tasks/gesture.task"
VAL="$GES/validation.csv"

"$TINYLLM" prepare --task "$TASK" --val-fraction 0 --out "$W/data" "$GES/train.csv" -t 2 > "$W/log" 2>&1 || { echo "prepare: $(cat "$W/log")"; exit 1; }
# context 704: the longest gesture prompt is 632 tokens
"$TINYLLM" pretrain --train "$W/data" --model 2x2x32 --seq-len 704 --batch-size 1 --steps 4 --lr 3e-3 --warmup 1 --eval-every 0 \
  -t 2 -o "$W/run" > "$W/log" 2>&1 || { echo "pretrain: $(tail -3 "$W/log")"; exit 1; }

EV() { "$TINYLLM" eval -m "$W/run" --task "$TASK" "$@"; }
EV --data "$VAL" --limit 12 -t 2 --out "$W/rows.jsonl" --json "$W/sum.json" > "$W/report.txt" 2> "$W/err" || bad "eval: $(cat "$W/err")"
grep -q "^eval: 12 row" "$W/err" || bad "no progress line over rows: $(tail -2 "$W/err")"
EV --data "$VAL" --limit 12 -t 1 -q --out "$W/rows1.jsonl" > /dev/null 2> "$W/err" || bad "eval -t 1: $(cat "$W/err")"
cmp -s "$W/rows.jsonl" "$W/rows1.jsonl" || bad "per-row results differ between 1 and 2 threads"

python3 - "$W" <<'PY' || bad "report / summary / rows disagree"
import json, math, re, sys
w = sys.argv[1]
labels = ["Tap", "Double", "Hold"]
rows = [json.loads(l) for l in open(w + "/rows.jsonl")]
s = json.load(open(w + "/sum.json"))
txt = open(w + "/report.txt").read()
assert len(rows) == 12 and s["rows"] == 12 and s["labels"] == labels and s["kind"] == "classification", s
assert [r["line"] for r in rows] == sorted(r["line"] for r in rows) and rows[0]["line"] == 2

def check_block(name, key, exp_pred, with_none, correct_flag):
    # rows -> confusion, accuracy, precision/recall/F1; then the same in the JSON and the text
    n = len(labels); cols = n + with_none
    conf = [[0] * cols for _ in labels]
    for r in rows:
        e, p = exp_pred(r)
        conf[labels.index(e)][labels.index(p) if p is not None else n] += 1
    correct = sum(correct_flag(r) for r in rows)
    b = s[key]
    assert b["confusion"] == conf, (key, b["confusion"], conf)
    assert b["correct"] == correct and b["total"] == 12 and abs(b["accuracy"] - correct / 12) < 1e-12, (key, b)
    assert b["columns"] == labels + (["none/ambiguous"] if with_none else [])
    for k, pc in enumerate(b["per_class"]):
        tp = conf[k][k]; pred = sum(conf[i][k] for i in range(n)); sup = sum(conf[k])
        P = tp / pred if pred else 0.0; R = tp / sup if sup else 0.0; F = 2 * P * R / (P + R) if P + R else 0.0
        assert pc["label"] == labels[k] and pc["support"] == sup, pc
        assert abs(pc["precision"] - P) < 1e-9 and abs(pc["recall"] - R) < 1e-9 and abs(pc["f1"] - F) < 1e-9, (pc, P, R, F)
    m = re.search(name + r".*?: accuracy ([0-9.]+)% \((\d+)/(\d+)", txt)
    assert m, name + " line missing"
    assert int(m.group(2)) == correct and int(m.group(3)) == 12 and abs(float(m.group(1)) - 100 * correct / 12) < 0.006, m.group(0)
    # the printed confusion matrix: the rows after the header of this block
    sec = txt[m.start():]
    hdr = sec.index("confusion (rows: expected, columns: predicted)")
    lines = sec[hdr:].splitlines()[2:2 + n]
    for k, line in enumerate(lines):
        f = line.split()
        assert f[0] == labels[k] and [int(x) for x in f[1:]] == conf[k], (line, conf[k])
    for k in range(n):
        pc = b["per_class"][k]
        assert re.search(r"\n  %s +%.3f +%.3f +%.3f +%d\n" % (labels[k], pc["precision"], pc["recall"], pc["f1"], pc["support"]), sec), labels[k]

# likelihood: always a valid label, the argmax of the log-likelihoods, probabilities = their softmax
for r in rows:
    ll, pr = r["likelihood_loglik"], r["likelihood_probs"]
    assert r["likelihood_label"] in labels and r["expected"] in labels
    assert set(ll) == set(pr) == set(labels)
    assert r["likelihood_label"] == max(labels, key=lambda k: ll[k])
    mx = max(ll.values()); z = sum(math.exp(v - mx) for v in ll.values())
    assert all(abs(pr[k] - math.exp(ll[k] - mx) / z) < 1e-9 for k in labels) and abs(sum(pr.values()) - 1) < 1e-9
    assert all(v < 0 for v in ll.values())
    assert r["likelihood_correct"] == (r["likelihood_label"] == r["expected"])
check_block("label likelihood", "likelihood", lambda r: (r["expected"], r["likelihood_label"]), 0, lambda r: r["likelihood_correct"])

# generation: the paper's exactly-once rule; the confusion uses the one label named (or none)
for r in rows:
    g = r["generated"]
    assert r["generated_correct"] == (g.count(r["expected"]) == 1), r
    named = [k for k in labels if g.count(k)]
    want = named[0] if len(named) == 1 and g.count(named[0]) == 1 else None
    assert r["generated_label"] == want, (g, r["generated_label"])
    assert 1 <= r["generated_tokens"] <= 30 or r["stop"] == "eot"
    assert r["stop"] in ("end", "eot", "max_new", "context") and (r["stop"] != "end" or "### End" in g)
check_block("generation", "generation", lambda r: (r["expected"], r["generated_label"]), 1, lambda r: r["generated_correct"])
g = s["generation"]
assert g["exactly_once"] == g["correct"] and g["strict_correct"] == sum(r["generated_label"] == r["expected"] for r in rows)
assert sum(g["stops"].values()) == 12 and g["generated_tokens"] == sum(r["generated_tokens"] for r in rows)
assert s["settings"] == {"likelihood": True, "generate": True, "max_new": 30, "repeat_penalty": 1.3, "limit": 12}, s["settings"]
assert s["timing"]["prompt_tokens"] == sum(r["prompt_tokens"] for r in rows) and s["timing"]["threads"] == 2
assert re.search(r"\ntime: [0-9.]+ s for 12 rows", txt)
print("report, summary and rows agree: likelihood %d/12, generation %d/12" % (s["likelihood"]["correct"], g["correct"]))
PY

# --mode: one section each; --max-new bounds the answers
EV --data "$VAL" --limit 3 -q --mode likelihood > "$W/lik.txt" 2> "$W/err" || bad "likelihood mode: $(cat "$W/err")"
grep -q "^label likelihood: accuracy" "$W/lik.txt" && ! grep -q "^generation" "$W/lik.txt" || bad "likelihood mode report: $(cat "$W/lik.txt")"
EV --data "$VAL" --limit 3 -q --mode generate --max-new 4 --out "$W/gen.jsonl" > "$W/gen.txt" 2> "$W/err" || bad "generate mode: $(cat "$W/err")"
grep -q "^generation (greedy, up to 4 new tokens" "$W/gen.txt" && ! grep -q "^label likelihood" "$W/gen.txt" || bad "generate mode report: $(cat "$W/gen.txt")"
python3 - "$W/gen.jsonl" <<'PY' || bad "generate-mode rows"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 3 and all("likelihood_label" not in r and r["generated_tokens"] <= 4 for r in rows), rows
PY

# regression: a hand-made task with short inputs; answers without a number are counted, not scored
printf 'name = rate\ninstruction = Give the rate.\ninput_column = input\noutput_column = output\nkind = regression\n' > "$W/rate.task"
printf 'input,output\n"1 2 3",12.5\n"4 5 6",9\n"7 8 9",11.25\n' > "$W/rate.csv"
EV --task "$W/rate.task" --data "$W/rate.csv" -q --max-new 6 --out "$W/rate.jsonl" --json "$W/rate.json" > "$W/rate.txt" 2> "$W/err" ||
  bad "regression eval: $(cat "$W/err")"
python3 - "$W" <<'PY' || bad "regression report"
import json, math, re, sys
w = sys.argv[1]
rows = [json.loads(l) for l in open(w + "/rate.jsonl")]
s = json.load(open(w + "/rate.json"))["regression"]
txt = open(w + "/rate.txt").read()
assert [r["target"] for r in rows] == [12.5, 9, 11.25] and [r["expected"] for r in rows] == ["12.5", "9", "11.25"]
scored = [r for r in rows if r["parsed"] is not None]
assert s["scored"] == len(scored) and s["unparseable"] == 3 - len(scored), s
m = re.search(r"unparseable: (\d+)/3 answers", txt)
assert m and int(m.group(1)) == s["unparseable"], txt
if scored:
    mae = sum(abs(r["parsed"] - r["target"]) for r in scored) / len(scored)
    rmse = math.sqrt(sum((r["parsed"] - r["target"]) ** 2 for r in scored) / len(scored))
    assert abs(s["mae"] - mae) < 1e-9 and abs(s["rmse"] - rmse) < 1e-9
    assert s["within1_count"] == sum(abs(r["parsed"] - r["target"]) <= 1 for r in scored)
else:
    assert s["mae"] is None and s["rmse"] is None and "MAE n/a" in txt
print("regression: %d scored, %d unparseable" % (s["scored"], s["unparseable"]))
PY

# bad inputs: exit 1, the last stderr line is the one error line, no output file left behind
check_bad() { # name expected-text args...
  local name=$1 want=$2; shift 2
  rm -f "$W/bad.jsonl"
  "$TINYLLM" eval -q --out "$W/bad.jsonl" "$@" > /dev/null 2> "$W/err"; local rc=$?
  local last; last=$(tail -1 "$W/err")
  if [ $rc != 1 ] || ! grep -q "^tinyllm: " <<< "$last" || ! grep -qF -- "$want" <<< "$last"; then
    bad "$name: rc $rc, '$last' (want '$want')"
  fi
  [ "$(grep -c '^tinyllm: ' "$W/err")" = 1 ] || bad "$name: more than one error line"
  ls "$W" | grep -q 'bad.jsonl' && bad "$name: left $(ls "$W" | grep bad.jsonl)"
}
printf 'name = g\ninstruction_column = instruction\ninput_column = reading\noutput_column = output\nlabels = Tap, Double, Hold\n' > "$W/col.task"
check_bad "wrong column" "validation.csv:1: no column 'reading'" -m "$W/run" --task "$W/col.task" --data "$VAL"
line=$(python3 - "$VAL" "$W/wave.csv" <<'PY'
import csv, io, sys
r = list(csv.reader(open(sys.argv[1], newline="")))
r[3][2] = "Wave"  # the third record: its line is 1 + the newlines written before it
out = io.StringIO()
wr = csv.writer(out, lineterminator="\n")
wr.writerows(r[:3])
print(1 + out.getvalue().count("\n"))
wr.writerows(r[3:6])
open(sys.argv[2], "w", newline="").write(out.getvalue())
PY
)
check_bad "unknown label" "wave.csv:$line: label 'Wave' is not in the task's label set" -m "$W/run" --task "$TASK" --data "$W/wave.csv"
check_bad "missing model" "$W/nothing" -m "$W/nothing" --task "$TASK" --data "$VAL"
check_bad "missing data" "$W/none.csv" -m "$W/run" --task "$TASK" --data "$W/none.csv"
# a prompt longer than the model's context (704): the error names the row and the lengths
python3 -c 'print("input,output"); print("\"1 2\",3"); print("\"%s\",4" % " ".join(str(i % 90 + 10) for i in range(800)))' > "$W/long.csv"
check_bad "prompt too long" "long.csv:3: the prompt (" -m "$W/run" --task "$W/rate.task" --data "$W/long.csv"
grep -q "do not fit the model's context of 704 tokens" "$W/err" || bad "too-long message: $(tail -1 "$W/err")"
printf 'input,output\n"1 2 3",12.5\n"4 5 6",fast\n' > "$W/nan.csv"
check_bad "non-numeric target" "nan.csv:3: output 'fast' is not a number" -m "$W/run" --task "$W/rate.task" --data "$W/nan.csv"
check_bad "likelihood on regression" "a regression task is scored by generation" -m "$W/run" --task "$W/rate.task" --data "$W/rate.csv" --mode likelihood
check_bad "bad mode" "--mode: expected likelihood, generate or both" -m "$W/run" --task "$TASK" --data "$VAL" --mode fast
check_bad "no model" "-m, --task and --data are required" --task "$TASK" --data "$VAL"
printf 'instruction,input,output\n' > "$W/empty.csv"
check_bad "no rows" "empty.csv: no rows to evaluate" -m "$W/run" --task "$TASK" --data "$W/empty.csv"
exit $fail
