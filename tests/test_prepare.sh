# prepare: shards hold <|endoftext|> + tiktoken's ids for each document (js-tiktoken is the
# reference), the train/val split partitions the documents, and bad input leaves nothing behind.
set -u
DATA=${TINYLLM_DATA:-$HOME/.cache/tinyllm}
TT="$DATA/node/node_modules/js-tiktoken"
if ! command -v node >/dev/null || [ ! -d "$TT" ]; then echo "skip: node or js-tiktoken missing (run scripts/install-deps)"; exit 77; fi
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

printf 'First paragraph, with numbers 23.51 and -0.004.\nIt has two lines.\n\n\n   \nSecond paragraph: naïve café 日本 🙂.\n\nThird one   with  spaces\n' > "$W/a.txt"
printf '{"text": "jsonl doc one\\nline two"}\n\n{"id": 3, "text": "doc two: x=1,024"}\n' > "$W/b.jsonl"

"$TINYLLM" prepare --out "$W/out" --val-fraction 0 "$W/a.txt" "$W/b.jsonl" > "$W/log" 2>&1 || bad "prepare failed: $(cat "$W/log")"

# expected: the documents as the spec defines them, encoded by js-tiktoken
cat > "$W/ref.js" <<'JS'
const { getEncoding } = require(process.argv[2]);
const enc = getEncoding("gpt2");
const docs = ["First paragraph, with numbers 23.51 and -0.004.\nIt has two lines.",
              "Second paragraph: naïve café 日本 🙂.", "Third one   with  spaces",
              "jsonl doc one\nline two", "doc two: x=1,024"];
let out = [];
for (const d of docs) out.push(50256, ...enc.encode(d));
console.log(out.join(" "));
JS
expected=$(node "$W/ref.js" "$TT")
got=$(python3 - "$W/out/train_000000.bin" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
h = struct.unpack("<256i", b[:1024])
assert h[0] == 20240520 and h[1] == 1 and len(b) == 1024 + 2 * h[2], "bad header"
print(" ".join(map(str, struct.unpack("<%dH" % h[2], b[1024:]))))
PY
)
[ "$got" = "$expected" ] || bad "train shard tokens differ from js-tiktoken:
 got      $got
 expected $expected"
[ ! -e "$W/out/val_000000.bin" ] || bad "val shard written with --val-fraction 0"
grep -q '"vocab_size": 50257' "$W/out/meta.json" || bad "meta.json lacks vocab_size"

# split: documents partition between train and val; small shards roll over
"$TINYLLM" prepare --out "$W/split" --val-fraction 0.5 --seed 3 --shard-tokens 20 --docs line "$W/a.txt" > "$W/log" 2>&1 || bad "split prepare failed: $(cat "$W/log")"
python3 - "$W/split" <<'PY' || bad "split check failed"
import glob, json, struct, sys
d = sys.argv[1]
def toks(pat):
    out = []
    for f in sorted(glob.glob(d + "/" + pat)):
        b = open(f, "rb").read(); n = struct.unpack("<i", b[8:12])[0]
        assert n <= 20, "shard over --shard-tokens"
        out += struct.unpack("<%dH" % n, b[1024:])
    return out
tr, va = toks("train_*.bin"), toks("val_*.bin")
m = json.load(open(d + "/meta.json"))
assert m["train_tokens"] == len(tr) and m["val_tokens"] == len(va), "meta counts"
assert tr.count(50256) + va.count(50256) == 4, "4 non-blank lines -> 4 documents"
assert len(tr) > 0 and len(va) > 0
PY

# bad input: one line naming the file, exit 1, no output directory contents left behind
check_bad() { # name expected-substring args...
  local name=$1 want=$2; shift 2
  rm -rf "$W/bad"
  "$TINYLLM" prepare --out "$W/bad" "$@" > "$W/out.txt" 2> "$W/err.txt"; rc=$?
  [ $rc -eq 1 ] || bad "$name: exit code $rc"
  grep -q -- "$want" "$W/err.txt" || bad "$name: message '$(cat "$W/err.txt")' lacks '$want'"
  [ "$(grep -c '^tinyllm: ' "$W/err.txt")" = 1 ] || bad "$name: not one 'tinyllm:' line: $(cat "$W/err.txt")"
  [ -z "$(ls -A "$W/bad" 2>/dev/null)" ] || bad "$name: left files: $(ls -A "$W/bad")"
}
printf '{"text": "ok"}\n{"text": 5}\n' > "$W/badfield.jsonl"
printf '{"text": "ok"}\n{"text": "unterminated\n' > "$W/badjson.jsonl"
printf '\n\n   \n' > "$W/empty.txt"
check_bad "missing file" "nope.txt: cannot open" "$W/nope.txt"
check_bad "non-string field" "badfield.jsonl:2: no string field" --val-fraction 0 "$W/badfield.jsonl"
check_bad "invalid json" "badjson.jsonl:2: invalid JSON" --val-fraction 0 "$W/badjson.jsonl"
check_bad "empty corpus" "no text" --val-fraction 0 "$W/empty.txt"
check_bad "no val doc" "no document was drawn into val" --val-fraction 0.01 "$W/b.jsonl"
check_bad "bad flag" "unknown option" --frobnicate "$W/a.txt"
check_bad "bad number" "expected a number" --val-fraction abc "$W/a.txt"
exit $fail
