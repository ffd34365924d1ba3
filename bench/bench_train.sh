#!/usr/bin/env bash
# CPU training throughput: `tinyllm pretrain` vs PyTorch (Debian python3-torch, OpenBLAS) on the
# same GPT-2 shape, random tokens, AdamW, fp32, 1 and 2 threads, measured in the same run.
#   bench/bench_train.sh [BUILD_DIR] [PRESET L H C] [T] [B] [STEPS]
set -euo pipefail
BUILD=${1:-build}; L=${2:-6}; H=${3:-6}; C=${4:-384}; T=${5:-256}; B=${6:-4}; STEPS=${7:-6}
TL=$BUILD/tinyllm; V=50257
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
python3 - "$W/train_000000.bin" $((B * T * (STEPS + 2) + 1)) <<'PY'
import random, struct, sys
n = int(sys.argv[2]); r = random.Random(0)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<256i", 20240520, 1, n, *([0] * 253)))
    f.write(struct.pack("<%dH" % n, *(r.randrange(50257) for _ in range(n))))
PY
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; shape ${L}x${H}x${C}, vocab $V, B=$B T=$T"
for t in 1 2; do
  rm -rf "$W/run"
  "$TL" pretrain --train "$W/train_000000.bin" --vocab $V --model "${L}x${H}x${C}" --seq-len "$T" --batch-size "$B" \
    --steps $((STEPS + 1)) --eval-every 0 --ckpt-every 0 -t $t -o "$W/run" > /dev/null 2>&1
  ours=$(python3 -c '
import json, sys
r = sorted(json.loads(l)["tok_s"] for l in open(sys.argv[1]) if "\"perf\"" in l)[:-1] or [0]
print(r[len(r) // 2])' "$W/run/metrics.jsonl")
  theirs=$(/usr/bin/python3 "$(dirname "$0")/torch_train.py" "$L" "$H" "$C" "$T" "$B" $V $t "$STEPS" | awk '{print $3}')
  printf 'threads %d: tinyllm %8.1f tok/s   pytorch %8.1f tok/s   ratio %.2fx\n' $t "$ours" "$theirs" \
    "$(python3 -c "print($ours / $theirs)")"
done
