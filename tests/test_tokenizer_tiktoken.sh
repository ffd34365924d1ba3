# tinyllm's GPT-2 encoder against js-tiktoken's gpt2 (the reference implementation from npm) on an
# edge-case corpus, a random mix of Unicode classes and about 1 MB of real text (licences, docs,
# sensor-style lines, Debian copyright files): ids must be identical. U+0085 and U+FEFF are
# left out: JavaScript's \s differs from Unicode White_Space there (see docs/tokenizer.md).
set -u
[ -r /usr/share/unicode/UnicodeData.txt ] || { echo "skip: unicode-data missing (apt-get install unicode-data)"; exit 77; }
DATA=${TINYLLM_DATA:-$HOME/.cache/tinyllm}
TT="$DATA/node/node_modules/js-tiktoken"
if ! command -v node >/dev/null || [ ! -d "$TT" ]; then echo "skip: node or js-tiktoken missing (run scripts/install-deps)"; exit 77; fi
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT

python3 - "$W" "$TL_SRC" <<'PY'
import glob, random, sys
w, src = sys.argv[1], sys.argv[2]
cases = [
    "The quick brown fox jumps over the lazy dog. It was 7:30 in the morning.",
    "23.51, -0.004, 1e-3, 1,024, 3.14159265358979, 0.000001, 1234567890123, +12.0, 98.6F, 1/2",
    "Proximity: [12, 15, 200, 255, 254, 3]\nRed: [0, 0, 1]\n1013.2,45.1,22.4,44.9,120,98,77,0.031",
    " " * 50 + "x", "\t\t\tindented", "\n\n\n\nparagraph", " \t \n \r\n  mixed", "trailing   ", "   ",
    "line one\r\nline two\r\n", "!!!???...---***", "(a)[b]{c} <tag/> \"quoted\" 'single' `tick`",
    "I'm, you're, he's, we've, they'll, I'd, don't, it's", "'S 'LL 'Re O'Neil rock'n'roll '''' ''s",
    "naïve café résumé Zürich Ångström façade", "日本語のテキスト、中文文本，한국어 텍스트",
    "🙂👍🏽 👨‍👩‍👧‍👦 🇩🇪 ✔️", "e\u0301 a\u0308 Z\u0324\u0308 combining", "Привет мир, Γειά σου κόσμε",
    "مرحبا بالعالم שלום עולם नमस्ते दुनिया สวัสดีชาวโลก", "٣٤٥ ⅷ ½ ² ① numbers elsewhere",
    "nbsp\u00a0here em\u2003space ideographic\u3000space", "<|endoftext|> is ordinary text here",
    "x" * 300, "1" * 300, ". " * 100, "a1b2c3 3rd 2nd 10x 0x1F 1_000_000",
    "tabs\tand\ttabs\t\t\n\t", "ends with newline\n", "",
]
random.seed(3)
lic = "".join(open(f, errors="ignore").read() for f in sorted(glob.glob("/usr/share/common-licenses/*")))
docs = "".join(open(f).read() for f in sorted(glob.glob(src + "/*.md") + glob.glob(src + "/docs/*.md")))
sensor = "".join("t=%d temp=%.2f hum=%d%% acc=[%s]\n" % (i, random.uniform(-10, 40), random.randint(0, 100),
                 ", ".join("%.3f" % random.gauss(0, 1) for _ in range(6))) for i in range(3000))
copyright = ""
for f in sorted(glob.glob("/usr/share/doc/*/copyright")):
    if len(copyright) > 1 << 20:
        break
    copyright += open(f, errors="ignore").read()
big = lic + docs + sensor + "\n\n".join(cases) + copyright
big = big.replace("\x85", "").replace("\ufeff", "")[: 1 << 20]
# random mixes of ASCII classes, contractions, spaces of all kinds and code points drawn from every
# block assigned in UnicodeData.txt (the Unicode our tables come from; node's may be newer, so
# code points assigned later are left out, as are U+0085 and U+FEFF)
assigned, first = [], None
for line in open("/usr/share/unicode/UnicodeData.txt"):
    f = line.split(";")
    cp = int(f[0], 16)
    if f[1].endswith("First>"):
        first = cp
    elif f[1].endswith("Last>") and f[2] != "Cs":
        assigned.extend(range(first, cp + 1, 101))
    elif f[2] != "Cs" and cp >= 0x80 and cp not in (0x85, 0xFEFF):
        assigned.append(cp)
common = list(" \t\n\r\x0b\x0c\u00a0\u2003\u3000\u2028\u1680sStTrevmld0123456789.,-+eE!?()[]<>/\\\"_:;") + [
    "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'", "\u0301", "\u200d", "  ", "\r\n", "ab", "ab" * 9, " " * 9, "7" * 9]
mix = []
for _ in range(40000):
    x = random.random()
    mix.append(random.choice(common) if x < 0.7 else chr(random.choice(assigned)))
for i, c in enumerate(cases + ["".join(mix)]):
    open("%s/case%02d.txt" % (w, i), "w").write(c)
open(w + "/big.txt", "w").write(big)
print(len(cases) + 1, "cases (the last random),", len(big.encode()), "bytes of real text")
PY
[ $? = 0 ] || { echo "corpus generation failed"; exit 1; }

cat > "$W/ref.js" <<'JS'
const fs = require("fs");
const { getEncoding } = require(process.argv[2]);
const enc = getEncoding("gpt2");
for (const f of process.argv.slice(3))
  fs.writeFileSync(f + ".ref", enc.encode(fs.readFileSync(f, "utf8"), [], []).join(" ") + "\n");
JS
node "$W/ref.js" "$TT" "$W"/case*.txt "$W/big.txt" || { echo "node reference failed"; exit 1; }
fail=0
for f in "$W"/case*.txt "$W/big.txt"; do
  "$TINYLLM" tokenizer encode --file "$f" > "$f.ours" 2> "$W/err" || { echo "FAIL: encode $f: $(cat "$W/err")"; fail=1; continue; }
  if ! cmp -s "$f.ours" "$f.ref"; then
    fail=1
    echo "FAIL: $(basename "$f") ($(head -c 80 "$f" | tr '\n' ' ')...) differs from js-tiktoken"
    python3 - "$f.ours" "$f.ref" <<'PY'
import sys
a, b = (open(p).read().split() for p in sys.argv[1:])
i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
print("  first difference at id %d: ours %s, tiktoken %s" % (i, a[i:i + 6], b[i:i + 6]))
PY
  fi
  # decode(encode(x)) == x
  "$TINYLLM" tokenizer decode --file "$f.ours" > "$f.dec" && cmp -s "$f" "$f.dec" || { echo "FAIL: $(basename "$f"): decode(encode(x)) != x"; fail=1; }
done
[ $fail = 0 ] && echo "all $(ls "$W"/case*.txt | wc -l) cases and $(wc -w < "$W/big.txt.ref") ids of real text identical to js-tiktoken"
exit $fail
