#!/usr/bin/env bash
# GPT-2 encode throughput, tinyllm (C, one thread) vs js-tiktoken (npm, node), on the same ~8 MB of
# English and sensor-style text, best of 3 each, in the same run.   bench/bench_tokenizer.sh [BUILD]
set -euo pipefail
BUILD=${1:-build}; DATA=${TINYLLM_DATA:-$HOME/.cache/tinyllm}; W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
python3 - "$W/corpus.txt" "$(dirname "$0")/.." <<'PY'
import glob, random, sys
r = random.Random(1)
text = "".join(open(f, errors="ignore").read() for f in sorted(glob.glob("/usr/share/common-licenses/*")))
text += "".join(open(f).read() for f in glob.glob(sys.argv[2] + "/**/*.md", recursive=True))
text += "".join("t=%d temp=%.2f hum=%d%% acc=[%s]\n" % (i, r.uniform(-10, 40), r.randint(0, 100),
                ", ".join("%.3f" % r.gauss(0, 1) for _ in range(6))) for i in range(20000))
out = text * (8_000_000 // len(text) + 1)
open(sys.argv[1], "w").write(out[:8_000_000])
PY
cat > "$W/tt.js" <<'JS'
const fs = require("fs"); const { getEncoding } = require(process.argv[2]);
const enc = getEncoding("gpt2"); const text = fs.readFileSync(process.argv[3], "utf8");
const bytes = Buffer.byteLength(text); let best = 1e30, n = 0;
for (let r = 0; r < 3; r++) { const t0 = process.hrtime.bigint(); n = enc.encode(text, [], []).length;
  const dt = Number(process.hrtime.bigint() - t0) / 1e9; if (dt < best) best = dt; }
console.log("js-tiktoken", (bytes / best / 1e6).toFixed(2), n);
JS
read -r _ ours n1 < <("$BUILD/bench/bench_tokenizer" "$W/corpus.txt" 3)
read -r _ theirs n2 < <(node "$W/tt.js" "$DATA/node/node_modules/js-tiktoken" "$W/corpus.txt")
echo "machine: $(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores (one used), node $(node --version)"
echo "corpus: $(stat -c %s "$W/corpus.txt") bytes; tokens: tinyllm $n1, js-tiktoken $n2 $([ "$n1" = "$n2" ] && echo '(equal)' || echo '(DIFFER)')"
printf 'encode: tinyllm %s MB/s, js-tiktoken %s MB/s, ratio %.2fx\n' "$ours" "$theirs" "$(python3 -c "print($ours / $theirs)")"
