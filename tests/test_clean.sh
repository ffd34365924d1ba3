# clean: white space normalised as specified (hand-written cases), tiny and invalid-UTF-8 documents
# dropped, exact and near duplicates (a few words changed) dropped while distinct documents on the
# same topic stay, the first copy wins, output is deterministic, bad JSONL fails with file:line.
set -u
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
mkdir -p "$W/a"
python3 - "$W" <<'PY'
import json, random, sys
w = sys.argv[1]; r = random.Random(3)
words = [l.strip() for l in open("/usr/share/common-licenses/GPL-3").read().split() if l.strip()]
def doc(n): return " ".join(r.choice(words) for _ in range(n))
base = [doc(300) for _ in range(6)]
open(w + "/a/01.txt", "w").write("  Title\tline   one  \r\n\n\n\nsecond\x07 para  \n\n" + base[0] + "\n\n\n")
open(w + "/a/02.txt", "w").write(base[1])
near = base[1].split(); near[50] = "CHANGED"; near[150] = "ALSO"; near[250] = "EDITED"
open(w + "/a/03.txt", "w").write(" ".join(near))                  # near duplicate of 02
open(w + "/a/04.txt", "w").write("too short")
open(w + "/a/05.txt", "wb").write(b"bad \xff utf8 " + base[2].encode())
with open(w + "/b.jsonl", "w") as f:
    f.write(json.dumps({"text": base[1]}) + "\n")                    # exact duplicate of 02
    f.write(json.dumps({"text": base[3]}) + "\n")
    f.write(json.dumps({"text": base[4]}) + "\n")                    # same words, different text: kept
PY
"$TINYLLM" clean -o "$W/c.jsonl" --min-chars 50 A="$W/a" B="$W/b.jsonl" > "$W/out" 2> "$W/err" || bad "clean failed: $(cat "$W/err")"
python3 - "$W" <<'PY' || bad "clean output"
import json, sys
w = sys.argv[1]
docs = [json.loads(l) for l in open(w + "/c.jsonl")]
src = [d["source"] for d in docs]
assert src == ["A", "A", "B", "B"], src
t0 = docs[0]["text"]
assert t0.startswith("Title line one\n\nsecond para\n\n"), repr(t0[:40])
assert not t0.endswith("\n") and "\t" not in t0 and "  " not in t0 and "\r" not in t0 and "\x07" not in t0
out = open(w + "/out").read().split("\n")
row = {l.split()[0]: l.split() for l in out if l.strip()}
# A: 5 in, 2 out, short 1, utf8 1, near 1;  B: 3 in, 2 out, exact 1
assert row["A"][1:3] == ["5", "2"] and row["A"][5:9] == ["1", "1", "0", "1"], row["A"]
assert row["B"][1:3] == ["3", "2"] and row["B"][5:9] == ["0", "0", "1", "0"], row["B"]
PY
"$TINYLLM" clean -o "$W/c2.jsonl" --min-chars 50 A="$W/a" B="$W/b.jsonl" > /dev/null 2>&1
cmp -s "$W/c.jsonl" "$W/c2.jsonl" || bad "not deterministic"
"$TINYLLM" clean -o "$W/c3.jsonl" --min-chars 50 --near-dup 0 A="$W/a" > /dev/null 2>&1
[ "$(wc -l < "$W/c3.jsonl")" = 3 ] || bad "--near-dup 0 should keep the near duplicate"
printf '{"text": "ok"}\n{"txt": 1}\n' > "$W/bad.jsonl"
"$TINYLLM" clean -o "$W/x.jsonl" X="$W/bad.jsonl" > /dev/null 2> "$W/err" && bad "bad JSONL accepted"
grep -q 'bad.jsonl:2: no string field "text"' "$W/err" || bad "bad JSONL message: $(cat "$W/err")"
[ ! -e "$W/x.jsonl" ] || bad "bad JSONL left an output file"
"$TINYLLM" clean -o "$W/x.jsonl" "$W/a" > /dev/null 2> "$W/err" && bad "source without NAME= accepted"
exit $fail
