#!/usr/bin/env bash
# The edge runtime against real llama.cpp on the same GGUF files, in the same minutes:
#   bench/bench_runtime.sh [BUILD_DIR] [OUT_DIR]
# Random-weight GPT-2 files (bench_models: 124M and 30M shapes; f32, q8_0, q4_0), 1 and 2 threads.
# For each file and thread count, RUNS rounds alternate `tinyllm bench` and npm node-llama-cpp
# (bench/llama_bench.mjs, the same pp512 / tg128 protocol), A B A B; medians and the ratio ours /
# llama.cpp of those medians. The decode ceiling is the machine's read bandwidth (bench_bandwidth,
# measured in the same run) over the bytes a token reads (weights as each tool holds them + the
# average KV cache of tg128). Writes OUT_DIR/runtime.md (a table) and OUT_DIR/runtime.jsonl.
set -uo pipefail
BUILD=${1:-build}
OUT=${2:-bench-out}
RUNS=${RUNS:-5}
MODELS=${MODELS:-"124M 30M"}
TYPES=${TYPES:-"f32 q8_0 q4_0"}
THREADS=${THREADS:-"1 2"}
DATA=${TINYLLM_DATA:-$HOME/.cache/tinyllm}
NM="$DATA/node/node_modules"
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT/models"
[ -d "$NM/node-llama-cpp" ] || { echo "bench_runtime: node-llama-cpp missing (scripts/install-deps)"; exit 1; }
for m in $MODELS; do
  [ -f "$OUT/models/gpt2-$m-q4_0.gguf" ] || "$BUILD/bench/bench_models" "$OUT/models" "$m" > /dev/null || exit 1
done
JL="$OUT/runtime.jsonl"
: > "$JL"
BW1=$("$BUILD/bench/bench_bandwidth" 512 1 2> /dev/null)
BW2=$("$BUILD/bench/bench_bandwidth" 512 2 2> /dev/null)
{
  echo "# tinyllm runtime vs llama.cpp ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "Machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GB;" \
       "read bandwidth $BW1 GB/s (1 thread), $BW2 GB/s (2 threads), bench_bandwidth 512 MB."
  echo "Load average at the start: $(cut -d' ' -f1-3 /proc/loadavg). llama.cpp: npm node-llama-cpp" \
       "$(node -p "require('$NM/node-llama-cpp/package.json').version"), prebuilt CPU binaries" \
       "(release $(node -p "require('$NM/node-llama-cpp/llama/binariesGithubRelease.json').release"))."
  echo "Medians of $RUNS alternating runs each; ratio = tinyllm / llama.cpp. Bound = bandwidth / bytes per token."
  echo
  echo "| model | type | threads | pp512 tinyllm | pp512 llama.cpp | ratio | tg128 tinyllm | tg128 llama.cpp | ratio | tg bound | tinyllm % of bound | RSS MB tinyllm / llama.cpp (node) |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
} > "$OUT/runtime.md"
med() { python3 -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
for m in $MODELS; do
  for ty in $TYPES; do
    f="$OUT/models/gpt2-$m-$ty.gguf"
    for t in $THREADS; do
      ours_pp=() ours_tg=() ll_pp=() ll_tg=() ours_rss=0 ll_rss=0
      for r in $(seq "$RUNS"); do
        rm -f "$OUT/one.jsonl"
        "$BUILD/tinyllm" bench -m "$f" -t "$t" -r 1 --json "$OUT/one.jsonl" > /dev/null 2>&1 || { echo "tinyllm bench failed on $f"; exit 1; }
        ours_pp+=("$(python3 -c "import json,sys; print([json.loads(l) for l in open(sys.argv[1])][0]['tok_s'])" "$OUT/one.jsonl")")
        ours_tg+=("$(python3 -c "import json,sys; print([json.loads(l) for l in open(sys.argv[1])][1]['tok_s'])" "$OUT/one.jsonl")")
        ours_rss=$(python3 -c "import json,sys; print(round([json.loads(l) for l in open(sys.argv[1])][1]['peak_rss_mb'], 1))" "$OUT/one.jsonl")
        cat "$OUT/one.jsonl" >> "$JL"
        l=$(timeout 600 node "$D/llama_bench.mjs" "$NM" "$f" "$t" 512 128 1 2> /dev/null) || { echo "llama.cpp failed on $f"; exit 1; }
        echo "$l" | python3 -c "import json,sys; d=json.load(sys.stdin); d.update(model='$f', tool='llama.cpp'); print(json.dumps(d))" >> "$JL"
        ll_pp+=("$(echo "$l" | python3 -c "import json,sys; print(json.load(sys.stdin)['pp'])")")
        ll_tg+=("$(echo "$l" | python3 -c "import json,sys; print(json.load(sys.stdin)['tg'])")")
        ll_rss=$(echo "$l" | python3 -c "import json,sys; print(round(json.load(sys.stdin)['rss_mb'], 1))")
      done
      python3 - "$m" "$ty" "$t" "$f" "$(med "${ours_pp[@]}")" "$(med "${ll_pp[@]}")" "$(med "${ours_tg[@]}")" "$(med "${ll_tg[@]}")" \
        "$([ "$t" = 1 ] && echo "$BW1" || echo "$BW2")" "$ours_rss" "$ll_rss" >> "$OUT/runtime.md" <<'PY'
import sys, struct
m, ty, t, f, opp, lpp, otg, ltg, bw, orss, lrss = sys.argv[1:]
opp, lpp, otg, ltg, bw = map(float, (opp, lpp, otg, ltg, bw))
# bytes one decoded token reads: every tensor's data (header's tensor infos) + the KV cache at the
# average position of tg128 (keys and values, f32): 2 * layers * C * 64 * 4
def gguf_sizes(path):
    b = open(path, "rb").read(1 << 24)
    p = 24
    def s():
        nonlocal p
        n = struct.unpack_from("<Q", b, p)[0]; p += 8; v = b[p:p + n]; p += n; return v
    nt, nkv = struct.unpack_from("<QQ", b, 8)
    kv = {}
    size = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    for _ in range(nkv):
        k = s(); ty = struct.unpack_from("<I", b, p)[0]; p += 4
        if ty == 8: kv[k] = s()
        elif ty == 9:
            et, n = struct.unpack_from("<IQ", b, p); p += 12
            for _ in range(n):
                if et == 8: s()
                else: p += size[et]
        else:
            kv[k] = struct.unpack_from({4: "<I", 5: "<i", 6: "<f"}.get(ty, "<B"), b, p)[0]; p += size[ty]
    total = 0
    rb = {0: lambda n: 4 * n, 1: lambda n: 2 * n, 8: lambda n: n // 32 * 34, 2: lambda n: n // 32 * 18}
    for _ in range(nt):
        s(); nd = struct.unpack_from("<I", b, p)[0]; p += 4
        ne = struct.unpack_from("<%dQ" % nd, b, p); p += 8 * nd
        ty = struct.unpack_from("<I", b, p)[0]; p += 12
        rows = 1
        for x in ne[1:]: rows *= x
        total += rb[ty](ne[0]) * rows
    return total, kv[b"gpt2.block_count"], kv[b"gpt2.embedding_length"]
w, L, C = gguf_sizes(f)
per_tok = w + 2 * L * C * 64 * 4
bound = bw * 1e9 / per_tok
print(f"| {m} | {ty} | {t} | {opp:.0f} | {lpp:.0f} | {opp / lpp:.2f} | {otg:.1f} | {ltg:.1f} | {otg / ltg:.2f} | {bound:.0f} | {100 * otg / bound:.0f}% | {orss} / {lrss} |")
PY
      tail -1 "$OUT/runtime.md"
    done
  done
done
echo "bench_runtime: $OUT/runtime.md, $JL"
