#!/usr/bin/env bash
# GPU pre-training throughput: `tinyllm pretrain --device cuda` against PyTorch (torch_gpt2.py:
# torch.compile, bf16 autocast, SDPA, fused AdamW) on the same GPU in the same run. Synthetic random
# tokens, T=1024, micro-batch 64, total batch 524,288 tokens, from-scratch init; tok/s is the median
# of the steps after the first two (perf lines of metrics.jsonl / the script's own timer).
#   bench/cuda/bench_gpu.sh TINYLLM OUTDIR [PRESETS...]      (presets: 30M 51M 82M 101M 124M; default 124M 30M)
# Prints one JSON line per system and preset, then a table.
set -uo pipefail
TL=${1:?tinyllm binary}; OUTDIR=${2:?output folder}; shift 2
PRESETS=${*:-124M 30M}
STEPS=${BENCH_STEPS:-8}; TSTEPS=${BENCH_TORCH_STEPS:-8}
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
mkdir -p "$OUTDIR"
# random tokens for STEPS steps (+1 for the last target), llm.c's shard layout
python3 - "$W/train_000000.bin" $((524288 * (STEPS + 1) + 1)) <<'PY'
import sys, numpy as np
n = int(sys.argv[2])
hdr = np.zeros(256, dtype=np.int32); hdr[0], hdr[1], hdr[2] = 20240520, 1, n
tok = np.random.default_rng(0).integers(0, 50257, n, dtype=np.uint16)
with open(sys.argv[1], "wb") as f:
    f.write(hdr.tobytes()); f.write(tok.tobytes())
PY
declare -A shape=([30M]="6 6 384" [51M]="8 8 512" [82M]="10 10 640" [101M]="11 11 704" [124M]="12 12 768")
: > "$OUTDIR/bench.jsonl"
for p in $PRESETS; do
  rm -rf "$W/run"
  timeout "${BENCH_TL_TIMEOUT:-80}" "$TL" pretrain --train "$W/train_000000.bin" --vocab 50257 --device cuda --model "$p" --seq-len 1024 --batch-size 64 \
    --total-batch 524288 --steps "$STEPS" --lr 6e-4 --warmup 2 --eval-every 0 --ckpt-every 0 --keep 1 -o "$W/run" \
    > "$OUTDIR/tinyllm_$p.log" 2>&1 || { echo "tinyllm $p failed:"; tail -5 "$OUTDIR/tinyllm_$p.log"; }
  grep -m1 "^device:" "$OUTDIR/tinyllm_$p.log"
  python3 - "$W/run/metrics.jsonl" "$p" >> "$OUTDIR/bench.jsonl" <<'PY'
import json, statistics, sys
perf = [json.loads(l) for l in open(sys.argv[1]) if '"perf"' in l]
st = perf[2:] if len(perf) > 3 else perf[1:]
tok = statistics.median(x["tok_s"] for x in st); mfu = statistics.median(x.get("mfu", 0) for x in st)
loss = [json.loads(l)["loss"] for l in open(sys.argv[1]) if '"train"' in l]
print(json.dumps({"system": "tinyllm", "preset": sys.argv[2], "tok_s": round(tok, 1), "mfu_989": round(mfu, 4),
                  "step_ms": round(statistics.median(x["ms"] for x in st), 2), "steps": len(perf),
                  "first_loss": round(loss[0], 4), "last_loss": round(loss[-1], 4)}))
PY
  tail -1 "$OUTDIR/bench.jsonl"
done
for p in $PRESETS; do
  read -r L H C <<< "${shape[$p]}"
  timeout "${BENCH_TORCH_TIMEOUT:-150}" python3 "$HERE/torch_gpt2.py" train "$L" "$H" "$C" --steps "$TSTEPS" ${BENCH_TORCH_ARGS:-} 2> "$OUTDIR/torch_$p.log" \
    | python3 -c 'import json,sys; j=json.loads(sys.stdin.read()); j["preset"]=sys.argv[1]; print(json.dumps(j))' "$p" \
    >> "$OUTDIR/bench.jsonl" || { echo "torch $p failed:"; tail -5 "$OUTDIR/torch_$p.log"; }
  tail -1 "$OUTDIR/bench.jsonl"
done
python3 - "$OUTDIR/bench.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {(r["system"], r["preset"]): r for r in rows}
print(f"{'preset':>6} {'tinyllm tok/s':>14} {'MFU':>6} {'pytorch tok/s':>14} {'MFU':>6} {'ratio':>6}")
for p in dict.fromkeys(r["preset"] for r in rows):
    a, b = by.get(("tinyllm", p), {}), by.get(("pytorch", p), {})
    ta, tb = a.get("tok_s", 0), b.get("tok_s", 0)
    print(f"{p:>6} {ta:>14,.0f} {100 * a.get('mfu_989', 0):>5.1f}% {tb:>14,.0f} {100 * b.get('mfu_989', 0):>5.1f}% "
          f"{(ta / tb if tb else 0):>6.2f}")
PY
