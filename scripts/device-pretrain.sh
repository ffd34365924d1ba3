#!/usr/bin/env bash
# Pretrains a GPT-2 base model on a GPU machine in one call (the device tool's `run`) from what
# scripts/device-pretrain-prepare.sh carried, and leaves the weights as f16 GGUF pieces in $OUT.
#
# usage, from the repository root on the device:  [VAR=value ...] scripts/device-pretrain.sh [CARRY_DIR]
#   CARRY_DIR (default .pretrain-carry) holds bin.tar.xz (bin/tinyllm, bin/lib/: libraries the
#   machine may lack; tinyllm-data/gpt2/: GPT-2's encoder.json + vocab.bpe; the task CSVs in
#   localisation/, gesture/, breathe/: unpacked to $WORK/carry, scripts/device-cuda.sh's FT_DIR
#   for scoring the new base), tok/ when the run uses a trained tokenizer instead of GPT-2's, the
#   last piece of corpus.jsonl.xz (the cleaned English
#   corpus of scripts/fetch-corpus; earlier pieces carried by earlier calls and copied to STASH,
#   default /tmp/pretrain-stash), its SHA-256, and sources.tsv (its packages and licences).
# Stages: environment; synthetic sensor text (`tinyllm synth --format text`, 4 generators in
# parallel chunks) while the corpus unpacks; one `tinyllm prepare --mix` (web : sensors =
# 1 - SHL : SHL, the sensor share split evenly over the generators, --tokens sized to the run);
# `tinyllm pretrain --device cuda` under a deadline (a run that would overrun it is stopped and its
# newest checkpoint is used); `tinyllm export --type f16`; the GGUF split into pieces of at most
# 15 MiB (the tool brings back 8 files of 16 MiB) plus report.tar.gz (metrics, logs, mix table,
# sources.tsv, SHA-256s) and device.log.
# Settings (environment, defaults in brackets): MODEL [30M] SEQ [1024] BATCH [64] TOTAL_BATCH
# [262144] STEPS [1700] LR [2e-3] WARMUP [100] LR_FINAL [0.1] WD [0.1] SHL [0.2; 0: web text only] VAL [0.005]
# EVAL_EVERY [100] EVAL_BATCHES [10] CKPT_EVERY [400] SEED [1337] STASH [/tmp/pretrain-stash]
# DEADLINE [430: seconds after the start by which training must have ended] NAME
# [tinyllm-gpt2-30M-base] DEVICE [cuda; cpu for a small smoke test here, e.g. MODEL=2x2x64 SEQ=64
# BATCH=2 TOTAL_BATCH=256 STEPS=20 VAL=0.2].
set -euo pipefail
CARRY=$(cd "${1:-.pretrain-carry}" && pwd)
OUT=${OUT:-$PWD/device-out}; mkdir -p "$OUT"
W=${WORK:-/tmp/pretrain}; rm -rf "$W"; mkdir -p "$W/sensors" "$W/synth-logs"
MODEL=${MODEL:-30M} SEQ=${SEQ:-1024} BATCH=${BATCH:-64} TOTAL_BATCH=${TOTAL_BATCH:-262144}
STEPS=${STEPS:-1700} LR=${LR:-2e-3} WARMUP=${WARMUP:-100} LR_FINAL=${LR_FINAL:-0.1} WD=${WD:-0.1}
SHL=${SHL:-0.2} VAL=${VAL:-0.005} EVAL_EVERY=${EVAL_EVERY:-100} EVAL_BATCHES=${EVAL_BATCHES:-10}
CKPT_EVERY=${CKPT_EVERY:-400} SEED=${SEED:-1337} DEADLINE=${DEADLINE:-430} NAME=${NAME:-tinyllm-gpt2-30M-base}
DEVICE=${DEVICE:-cuda}
unxz_to() { if command -v xz > /dev/null; then xz -dc "$1"; else   # xz-utils may be missing there
  python3 -c "import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer, 1 << 24)" "$1"; fi; }
mkdir -p "$W/carry"; unxz_to "$CARRY/bin.tar.xz" | tar xf - -C "$W/carry"
TL=$W/carry/bin/tinyllm
export TINYLLM_DATA=$W/carry/tinyllm-data NCCL_NVLS_ENABLE=0
TOK=(); [ -f "$CARRY/tok/tokenizer.cfg" ] && TOK=(--tokenizer "$CARRY/tok")
S=$(date +%s)
section() { echo; echo "== $* (t+$(($(date +%s) - S))s)"; }

main() {
section environment
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no nvidia-smi"
echo "cpu: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
libdirs=$W/carry/bin/lib
for lib in libcublasLt.so.13 libnccl.so.2; do
  d=$(find /usr/local /opt /usr/lib -name "$lib" 2>/dev/null | head -1)
  if [ -n "$d" ]; then libdirs=$libdirs:$(dirname "$d"); fi
done
export LD_LIBRARY_PATH=$libdirs:${LD_LIBRARY_PATH:-}
if ldd "$TL" | grep "not found"; then echo "device-pretrain: libraries missing"; exit 1; fi
echo "tokenizer: ${TOK[1]:-gpt2}"
echo "settings: model $MODEL seq $SEQ batch $BATCH total-batch $TOTAL_BATCH steps $STEPS lr $LR warmup $WARMUP" \
     "lr-final $LR_FINAL wd $WD shl $SHL val $VAL seed $SEED deadline ${DEADLINE}s"

# tokens the run reads (train + val, 1% spare); each sensor generator gets SHL/4 of them, drawn
# 10% over so that none runs out and repeats (tokens per sample measured with GPT-2's tokenizer)
section "sensor text and corpus"
TOKENS=$(python3 -c "print(int($STEPS * $TOTAL_BATCH / (1 - $VAL) * 1.01))")
declare -A per_row=([imu]=747 [environment]=62 [gesture]=513 [breathing]=508) chunks=([imu]=3 [environment]=5 [gesture]=4 [breathing]=4)
# the corpus pieces, in name order wherever they were carried, must give the recorded SHA-256
STASH=${STASH:-/tmp/pretrain-stash}
pieces=$(for f in "$CARRY"/corpus.jsonl.xz.[0-9][0-9] "$STASH"/corpus.jsonl.xz.[0-9][0-9]; do
           if [ -f "$f" ]; then echo "$(basename "$f") $f"; fi; done | sort | cut -d' ' -f2-)
[ -n "$pieces" ] || { echo "device-pretrain: no corpus.jsonl.xz.NN piece in $CARRY or $STASH"; exit 1; }
cat $pieces > "$W/corpus.jsonl.xz"
(cd "$W" && sha256sum -c "$CARRY/corpus.jsonl.xz.sha256") || {
  echo "device-pretrain: the corpus pieces found ($(echo $pieces | wc -w): $pieces) do not make the carried corpus.jsonl.xz;" \
       "a piece from an earlier call is missing (the machine was given back between calls?): carry it again"; exit 1; }
unxz_to "$W/corpus.jsonl.xz" > "$W/corpus.jsonl" && rm "$W/corpus.jsonl.xz" &
xz_pid=$!
pids=()
gi=0
GENS=(imu environment gesture breathing); [ "$(python3 -c "print(int($SHL > 0))")" = 1 ] || GENS=()   # SHL=0: web text only
for g in "${GENS[@]}"; do
  gi=$((gi + 1))
  rows=$(python3 -c "print(int($TOKENS * $SHL / 4 * 1.1 / ${per_row[$g]} / ${chunks[$g]}) + 1)")
  extra=(); [ "$g" = breathing ] && extra=(--cycles-per-breath 2)   # the breathe/ rows' relation (docs/synth.md)
  for k in $(seq 1 "${chunks[$g]}"); do
    "$TL" synth "$g" --rows "$rows" --seed $((SEED + 100 * gi + k)) --format text "${extra[@]}" -o "$W/sensors/$g.$k.txt" \
      > "$W/synth-logs/$g.$k.log" 2>&1 &
    pids+=($!)
  done
  echo "$g: ${chunks[$g]} x $rows samples"
done
for p in "${pids[@]}"; do wait "$p"; done
wait "$xz_pid"
mix=(--mix "$W/corpus.jsonl=$(python3 -c "print(round(1 - $SHL, 6))")")
for g in "${GENS[@]}"; do
  cat "$W/sensors/$g".[0-9]*.txt > "$W/sensors/$g.txt" && rm -f "$W/sensors/$g".[0-9]*.txt
  mix+=(--mix "$W/sensors/$g.txt=$(python3 -c "print($SHL / 4)")")
done
stat -c '%s bytes  %n' "$W/corpus.jsonl" "$W"/sensors/*.txt 2> /dev/null || true

section "prepare: web $(python3 -c "print(1 - $SHL)") : sensors $SHL, $TOKENS tokens"
"$TL" prepare "${TOK[@]}" -t "$(nproc)" --val-fraction "$VAL" --tokens "$TOKENS" --out "$W/data" "${mix[@]}" 2>&1 | tee "$W/prepare.log"
rm -f "$W/corpus.jsonl"

left=$((DEADLINE - ($(date +%s) - S)))
section "pretrain --device $DEVICE ($STEPS steps x $TOTAL_BATCH tokens, stopped after ${left}s at the latest)"
set +e
timeout "$left" "$TL" pretrain --device "$DEVICE" --train "$W/data" --model "$MODEL" --seq-len "$SEQ" --batch-size "$BATCH" \
  --total-batch "$TOTAL_BATCH" --steps "$STEPS" --lr "$LR" --warmup "$WARMUP" --lr-final-frac "$LR_FINAL" \
  --weight-decay "$WD" --eval-every "$EVAL_EVERY" --eval-batches "$EVAL_BATCHES" --ckpt-every "$CKPT_EVERY" --keep 2 \
  --sample-every "$STEPS" --sample-tokens 96 --seed "$SEED" -o "$W/run" > "$W/pretrain.log" 2>&1
rc=$?
set -e
cat "$W/pretrain.log"
echo "pretrain exit $rc$([ $rc = 124 ] && echo ' (deadline: the newest checkpoint is exported)')"
[ -f "$W/run/latest" ] || { echo "device-pretrain: no checkpoint written"; exit 1; }
python3 - "$W/run/metrics.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
tr = [r for r in rows if r["type"] == "train"]; va = [r for r in rows if r["type"] == "val"]
perf = [r["tok_s"] for r in rows if r["type"] == "perf"]
print("steps %d, train loss %.4f -> %.4f, val loss %.4f (step %d) -> %.4f (step %d), median %.0f tok/s, %.1f s of steps"
      % (len(tr), tr[0]["loss"], tr[-1]["loss"], va[0]["val_loss"], va[0]["step"], va[-1]["val_loss"], va[-1]["step"],
         statistics.median(perf), sum(r["ms"] for r in rows if r["type"] == "perf") / 1e3))
PY

section "export f16 GGUF"
"$TL" export "${TOK[@]}" -m "$W/run" --type f16 --name "$NAME" -o "$W/$NAME.gguf"
(cd "$W" && sha256sum "$NAME.gguf" > "$NAME.gguf.sha256" && cat "$NAME.gguf.sha256")
split -b 15M -d -a 1 "$W/$NAME.gguf" "$OUT/$NAME.gguf.part"
cp "$W/run/metrics.jsonl" "$W/metrics.jsonl"; cp "$W/data/meta.json" "$W/prepare-meta.json"; cp "$CARRY/sources.tsv" "$W/"
(cd "$OUT" && sha256sum "$NAME".gguf.part* >> "$W/$NAME.gguf.sha256")
tar czf "$OUT/report.tar.gz" -C "$W" metrics.jsonl pretrain.log prepare.log prepare-meta.json sources.tsv "$NAME.gguf.sha256" synth-logs
ls -l "$OUT"
section finished
}

main 2>&1 | tee "$OUT/device.log"
