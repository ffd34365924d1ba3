# prepare --mix: token shares within 1% of the ratios (counted from the shards, not from meta.json),
# no document in both splits, a document keeps its split across mixes, the output does not depend
# on the thread count, and bad mixes fail with one line and no output.
set -u
command -v python3 >/dev/null || { echo "skip: python3 missing"; exit 77; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# source A: 3000 JSONL documents "Alpha <i> ..." of varying length; source B: a folder of two text
# files, 400 paragraphs "Beta <i> ..." (small, so B must repeat to reach its share).
python3 - "$W" <<'PY'
import json, random, sys
w = sys.argv[1]; r = random.Random(5)
words = "river stone cloud sensor window signal amber quiet paper orbit".split()
with open(w + "/a.jsonl", "w") as f:
    for i in range(3000):
        f.write(json.dumps({"text": "Alpha %d " % i + " ".join(r.choice(words) for _ in range(r.randint(5, 120)))}) + "\n")
import os; os.mkdir(w + "/b")
for part in range(2):
    with open(w + "/b/part%d.txt" % part, "w") as f:
        for i in range(200):
            f.write("Beta %d " % (part * 200 + i) + " ".join(str(r.randint(0, 999)) for _ in range(r.randint(5, 60))) + "\n\n")
PY
A=$("$TINYLLM" tokenizer encode "Alpha" | tr -d ' \n')
B=$("$TINYLLM" tokenizer encode "Beta" | tr -d ' \n')

run() { "$TINYLLM" prepare --val-fraction 0.1 --shard-tokens 50000 "$@" > "$W/log" 2>&1 || bad "prepare $*: $(cat "$W/log")"; }
run --out "$W/m1" --mix "$W/a.jsonl=0.7" --mix "$W/b=0.3" --tokens 200000 --threads 1
run --out "$W/m2" --mix "$W/a.jsonl=0.7" --mix "$W/b=0.3" --tokens 200000 --threads 2
run --out "$W/m4" --mix "$W/a.jsonl=0.7" --mix "$W/b=0.3" --tokens 200000 --threads 4
run --out "$W/m5" --mix "$W/a.jsonl=0.5" --mix "$W/b=0.5" --tokens 100000
run --out "$W/all" --mix "$W/a.jsonl=0.2" --mix "$W/b=0.8"
for t in m2 m4; do
  for f in "$W"/m1/*.bin "$W/m1/meta.json"; do
    cmp -s "$f" "$W/$t/$(basename "$f")" || bad "$t: $(basename "$f") differs from the 1-thread run"
  done
done

python3 - "$W" "$A" "$B" <<'PY' || bad "mix checks failed"
import glob, json, struct, sys
w, A, B = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def docs(d, split):
    toks = []
    for f in sorted(glob.glob("%s/%s_*.bin" % (d, split))):
        b = open(f, "rb").read(); h = struct.unpack("<256i", b[:1024])
        assert h[0] == 20240520 and len(b) == 1024 + 2 * h[2]
        toks += struct.unpack("<%dH" % h[2], b[1024:])
    out, cur = [], None
    for t in toks:
        if t == 50256:
            cur = []; out.append(cur)
        else:
            assert cur is not None, "shard does not start with <|endoftext|>"
            cur.append(t)
    return [tuple(d) for d in out]
def check(d, ra, target):
    tr, va = docs(d, "train"), docs(d, "val")
    n = {A: 0, B: 0}
    for doc in tr + va:
        assert doc[0] in n, "document of unknown source"
        n[doc[0]] += len(doc) + 1
    total = n[A] + n[B]
    if target: assert target <= total < target + 1000, "total %d vs --tokens %d" % (total, target)
    share = n[A] / total
    if ra is not None: assert abs(share - ra) < 0.01, "%s: source A share %.4f, asked %.2f" % (d, share, ra)
    leak = set(tr) & set(va)
    assert not leak, "%d documents in both train and val" % len(leak)
    assert len(va) > 0 and len(tr) > 9 * len(va) * 0.5
    m = json.load(open(d + "/meta.json"))
    assert m["train_tokens"] + m["val_tokens"] == total
    return set(tr), set(va), m
tr1, va1, m1 = check(w + "/m1", 0.7, 200000)
assert m1["sources"][1]["repeats"] >= 1, "B should have started over"
tr5, va5, _ = check(w + "/m5", 0.5, 100000)
assert not (tr1 & va5) and not (va1 & tr5), "a document changed split between two mixes"
tra, vaa, ma = check(w + "/all", 0.2, 0)
# no target: ends when B (asked 80%) runs out, so all of B's 400 paragraphs are there once
assert sum(1 for d in tra | vaa if d[0] == B) == 400 and all(s["repeats"] == 0 for s in ma["sources"])
PY

# bad mixes: one line, exit 1, nothing left behind
check_bad() { # name expected-substring args...
  local name=$1 want=$2; shift 2
  rm -rf "$W/bad"
  "$TINYLLM" prepare --out "$W/bad" "$@" > "$W/out.txt" 2> "$W/err.txt"; rc=$?
  [ $rc -eq 1 ] || bad "$name: exit code $rc"
  grep -q -- "$want" "$W/err.txt" || bad "$name: message '$(cat "$W/err.txt")' lacks '$want'"
  [ "$(grep -c '^tinyllm: ' "$W/err.txt")" = 1 ] || bad "$name: not one 'tinyllm:' line: $(cat "$W/err.txt")"
  [ -z "$(ls -A "$W/bad" 2>/dev/null)" ] || bad "$name: left files: $(ls -A "$W/bad")"
}
mkdir -p "$W/empty"; : > "$W/empty.txt"
check_bad "sum" "sum to 0.9, not 1" --mix "$W/a.jsonl=0.6" --mix "$W/b=0.3"
check_bad "no ratio" "expected PATH=RATIO" --mix "$W/a.jsonl"
check_bad "zero ratio" "must be in (0, 1]" --mix "$W/a.jsonl=0" --mix "$W/b=1"
check_bad "twice" "given twice" --mix "$W/b=0.5" --mix "$W/b=0.5"
check_bad "both forms" "not both" --mix "$W/b=1" "$W/a.jsonl"
check_bad "empty folder" "folder has no files" --mix "$W/empty=1"
check_bad "empty source" "no text found" --mix "$W/empty.txt=0.5" --mix "$W/b=0.5" --tokens 1000
check_bad "missing" "nope.jsonl: cannot open" --mix "$W/nope.jsonl=0.5" --mix "$W/b=0.5"
exit $fail
