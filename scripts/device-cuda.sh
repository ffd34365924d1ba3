#!/usr/bin/env bash
# The GPU trainer's checks and benchmark in one call on a GPU machine (the device tool's `run`):
#   1. environment; the device's nvcc compiles src/cuda (sm_90);
#   2. kernel and whole-model checks against the CPU model (test_cuda); a failing flash-attention
#      or fused-GELU check switches the runs below to the plain kernels (TL_ATTN_PLAIN, TL_FUSE_GELU);
#   3. CPU (fp32) vs GPU (bf16) loss curves over 200 steps, a second GPU run (bit-identical?), the
#      data-parallel code path with one rank, checkpoints crossing devices (CPU step 100 resumed on
#      the GPU, and the reverse);
#   4. end-to-end throughput against PyTorch (bench/cuda/bench_gpu.sh) in the same run;
#   5. kernel timings: attention against PyTorch's SDPA, GELU fused or not;
#   5b. (profile) where a training step's GPU time goes: tinyllm's op timing (TL_CUDA_PROFILE) and
#      PyTorch's kernels (torch.profiler) on the BENCH_PRESETS, and every product of the step under
#      each of cuBLASLt's first 16 heuristic answers (bench_cuda gemms);
#   6. (finetune) fine-tuning from the shipped 30M base on the localisation task, CPU fp32 vs GPU
#      bf16, full and LoRA (dropout 0): loss curves, a second GPU LoRA run (bit-identical?), adapter
#      checkpoints crossing devices (GPU step 20 resumed on the CPU, and the reverse), throughput,
#      label-likelihood accuracy of the GPU models;
#   7. (sweep) GPU fine-tunes on the SWEEP_TASK task (default gesture), one per line of SWEEP_LIST
#      (default scripts/sweep-gesture.txt: `name numbers model-to-score finetune-flags...`, where
#      numbers is the rendering tasks/SWEEP_TASK.task gets for that run: keep, minmax:L, ..., a +
#      for a space: minmax:10+spaced), each scored on
#      validation.csv (`tinyllm eval`, label likelihood, SWEEP_EVAL_T threads, SWEEP_EVAL_S seconds at
#      most) while the next trains; the runs named in SWEEP_KEEP bring their best.safetensors back;
#   8. (breathe) breathing rate from synthetic rows only (`tinyllm synth breathing`, 20,000 rows, 3
#      epochs, tasks/breathe.task): the LoRA adapter that models/ ships and a full fine-tune, each
#      scored by generation on the 8 real rows of FT_DIR/breathe (train + validation: none of them
#      is trained on) and on 100 held-out synthetic rows; then the full model 20 steps on the 7 real
#      train rows (scored on validation.csv, f32 / q8_0 / q4_0) and a leave-one-out over the 8
#      real rows (train on 7, score the 8th); the adapter comes back as $OUT/breathe-lora-r16.safetensors.
# usage, from the repository root:  [STAGES="tests curves bench kernels"] [BENCH_PRESETS="124M 30M"] \
#                                   scripts/device-cuda.sh BIN_DIR DATA_DIR [FT_DIR]
#   BIN_DIR holds tinyllm, test_cuda, bench_cuda (and lib/ with libraries the machine may lack);
#   DATA_DIR a `tinyllm prepare` output for the loss curves; FT_DIR (default BIN_DIR/../ft) the GPT-2
#   tokenizer files (tinyllm-data/gpt2) and the task CSVs (localisation/, gesture/, breathe/) for
#   stages 6-8. Stages 6-8 fine-tune BASE (default models/tinyllm-sensor8192-30M-base-q8_0.gguf:
#   any file `tinyllm import` reads) with TOKENIZER (default models/sensor8192-d1, the shipped base's;
#   gpt2 for a GPT-2-tokenizer base).
#   Logs and a summary go to $OUT.
# Every stage has a time limit; nothing waits on a process it did not start by its id.
set -uo pipefail
BIN=$(cd "${1:?BIN_DIR}" && pwd); DATA=$(cd "${2:?DATA_DIR}" && pwd); FTD=${3:-$BIN/../ft}
OUT=${OUT:-$PWD/device-out}; mkdir -p "$OUT"
export NCCL_NVLS_ENABLE=0 PYTHONUNBUFFERED=1
S=$(date +%s)
SUM="$OUT/summary.txt"; : > "$SUM"
section() { echo; echo "== $* (t+$(($(date +%s) - S))s)"; }
STAGES=" ${STAGES:-tests curves bench kernels} "
stage() { [[ "$STAGES" == *" $1 "* ]]; }

main() {
section environment
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm,power.limit --format=csv
nvcc --version | tail -1
echo "cpu: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
libdirs=$BIN/lib
for lib in libcublasLt.so.13 libnccl.so.2; do
  d=$(find /usr/local /opt /usr/lib -name "$lib" 2>/dev/null | head -1)
  [ -n "$d" ] && libdirs=$libdirs:$(dirname "$d")
done
export LD_LIBRARY_PATH=$libdirs:${LD_LIBRARY_PATH:-}
ldd "$BIN/tinyllm" | grep -E "not found|cublas|nccl"

# the device's own nvcc on every kernel file, in the background
mkdir -p /tmp/nvcc-check
pids=()
for f in src/cuda/*.cu; do
  timeout 120 nvcc -arch=sm_90 -O3 -std=c++17 -Isrc -Iinclude -c "$f" -o "/tmp/nvcc-check/$(basename "$f").o" \
    > "/tmp/nvcc-check/$(basename "$f").log" 2>&1 &
  pids+=($!)
done

if stage tests; then
section "kernel and model checks (test_cuda)"
timeout 150 "$BIN/test_cuda" > "$OUT/test_cuda.log" 2>&1
rc=$?
cat "$OUT/test_cuda.log"
echo "test_cuda exit $rc" | tee -a "$SUM"
grep -E "FAIL|checks," "$OUT/test_cuda.log" | tee -a "$SUM"
if [ $rc -ne 0 ] && grep -qE "attention (forward|backward).*flash.*FAIL" "$OUT/test_cuda.log"; then
  export TL_ATTN_PLAIN=1; echo "flash attention failed its check: the runs below use the plain kernels" | tee -a "$SUM"
fi
if [ $rc -ne 0 ] && grep -qE "GELU.*fused.*FAIL" "$OUT/test_cuda.log"; then
  export TL_FUSE_GELU=0; echo "fused GELU failed its check: the runs below use the separate kernels" | tee -a "$SUM"
fi
n=0; for p in "${pids[@]}"; do wait "$p" && n=$((n + 1)); done
echo "device nvcc: $n of ${#pids[@]} kernel files compiled for sm_90" | tee -a "$SUM"
fi

if stage curves; then
section "loss curves: CPU fp32 vs GPU bf16, 200 steps"
R=/tmp/curves; rm -rf $R; mkdir -p $R
common=(--train "$DATA" --model 4x2x128 --seq-len 128 --batch-size 8 --total-batch 2048 --steps 200 --lr 2e-3 --warmup 20
        --eval-every 25 --eval-batches 8 --ckpt-every 100 --keep 5 --seed 42)
( timeout 240 "$BIN/tinyllm" pretrain "${common[@]}" --device cpu -t 12 -o $R/cpu > $R/cpu.log 2>&1; echo "cpu exit $?" >> $R/cpu.log ) &
cpu_pid=$!
timeout 90 "$BIN/tinyllm" pretrain "${common[@]}" --device cuda -o $R/gpu1 > $R/gpu1.log 2>&1; echo "gpu1 exit $?"
grep -E "^device:|train: 200" $R/gpu1.log; tail -2 $R/gpu1.log
timeout 90 "$BIN/tinyllm" pretrain "${common[@]}" --device cuda -o $R/gpu2 > $R/gpu2.log 2>&1; echo "gpu2 exit $?"
TL_FORCE_NCCL=1 timeout 90 "$BIN/tinyllm" pretrain "${common[@]}" --device cuda -o $R/gpunccl > $R/gpunccl.log 2>&1
echo "gpunccl exit $?"; tail -1 $R/gpunccl.log
cp -r $R/gpu1 $R/gpu2cpu && rm -f $R/gpu2cpu/step_00000200.safetensors && echo step_00000100.safetensors > $R/gpu2cpu/latest
( timeout 200 "$BIN/tinyllm" pretrain "${common[@]}" --device cpu -t 3 --resume -o $R/gpu2cpu > $R/gpu2cpu.log 2>&1
  echo "gpu2cpu exit $?" >> $R/gpu2cpu.log ) &
g2c_pid=$!
wait $cpu_pid; tail -2 $R/cpu.log
cp -r $R/cpu $R/cpu2gpu && rm -f $R/cpu2gpu/step_00000200.safetensors && echo step_00000100.safetensors > $R/cpu2gpu/latest
timeout 90 "$BIN/tinyllm" pretrain "${common[@]}" --device cuda --resume -o $R/cpu2gpu > $R/cpu2gpu.log 2>&1; echo "cpu2gpu exit $?"
wait $g2c_pid; tail -2 $R/gpu2cpu.log
{
  python3 tests/cuda/compare_curves.py $R/cpu/metrics.jsonl $R/gpu1/metrics.jsonl --same $R/gpu2/metrics.jsonl --label "cpu-vs-gpu"
  python3 tests/cuda/compare_curves.py $R/cpu/metrics.jsonl $R/gpu1/metrics.jsonl --same $R/gpunccl/metrics.jsonl --label "nccl path (1 rank)"
  python3 tests/cuda/compare_curves.py $R/cpu/metrics.jsonl $R/cpu2gpu/metrics.jsonl --from 101 --label "cpu ckpt@100 resumed on gpu"
  python3 tests/cuda/compare_curves.py $R/gpu1/metrics.jsonl $R/gpu2cpu/metrics.jsonl --from 101 --label "gpu ckpt@100 resumed on cpu"
} 2>&1 | tee -a "$SUM"
tar czf "$OUT/curves.tar.gz" -C $R cpu/metrics.jsonl gpu1/metrics.jsonl gpu2/metrics.jsonl gpunccl/metrics.jsonl \
  cpu2gpu/metrics.jsonl gpu2cpu/metrics.jsonl cpu.log gpu1.log gpunccl.log cpu2gpu.log gpu2cpu.log 2>/dev/null
fi

if stage bench; then
section "throughput: tinyllm vs PyTorch, T=1024, B=64, total batch 524288"
BENCH_STEPS=8 BENCH_TORCH_STEPS=7 timeout 330 bench/cuda/bench_gpu.sh "$BIN/tinyllm" /tmp/bench ${BENCH_PRESETS:-124M 30M} 2>&1 | tee -a "$SUM"
tar czf "$OUT/bench.tar.gz" -C /tmp/bench . 2>/dev/null
fi

if stage kernels; then
section "kernel timings: attention vs PyTorch SDPA, GELU fused or not"
timeout 30 "$BIN/bench_cuda" attn 64 12 1024 64 2>&1 | tee -a "$SUM"
timeout 40 python3 bench/cuda/torch_gpt2.py attn 64 12 1024 64 2>&1 | tee -a "$SUM"
timeout 30 "$BIN/bench_cuda" mlp 65536 768 2>&1 | tee -a "$SUM"
fi
if stage profile; then
section "op timing: tinyllm (TL_CUDA_PROFILE) and PyTorch (torch.profiler), and cuBLASLt's answers per product"
declare -A width=([30M]=384 [51M]=512 [82M]=640 [101M]=704 [124M]=768)
TL_CUDA_PROFILE=1 BENCH_STEPS=5 BENCH_TORCH_STEPS=5 BENCH_TORCH_ARGS=--profile timeout 300 \
  bench/cuda/bench_gpu.sh "$BIN/tinyllm" /tmp/prof ${BENCH_PRESETS:-124M 30M} 2>&1 | tee -a "$SUM"
for p in ${BENCH_PRESETS:-124M 30M}; do
  echo "-- $p: tinyllm"; sed -n '/^op timing/,/^  total/p' /tmp/prof/tinyllm_$p.log | tee -a "$SUM"
  echo "-- $p: pytorch"; grep -v "^torch step" /tmp/prof/torch_$p.log | head -50 | tee -a "$SUM"
  timeout 120 "$BIN/bench_cuda" gemms 65536 "${width[$p]}" 50304 2>&1 | tee -a "$SUM"
done
tar czf "$OUT/profile.tar.gz" -C /tmp/prof . 2>/dev/null
fi
if stage finetune || stage sweep || stage breathe; then
export TINYLLM_DATA=$FTD/tinyllm-data   # the GPT-2 tokenizer (encoder.json, vocab.bpe)
F=/tmp/ft; rm -rf $F; mkdir -p $F
BASE=${BASE:-models/tinyllm-sensor8192-30M-base-q8_0.gguf}; TOK=(--tokenizer "${TOKENIZER:-$PWD/models/sensor8192-d1}")
timeout 60 "$BIN/tinyllm" import "$BASE" -o $F/base.safetensors > $F/import.log 2>&1
echo "import of the base $BASE: exit $? ($(tail -1 $F/import.log))" | tee -a "$SUM"
fi

if stage finetune; then
section "fine-tuning: CPU fp32 vs GPU bf16 from the 30M base, localisation, full and LoRA, 40 steps"
L=$FTD/localisation
ft=("${TOK[@]}" --base $F/base.safetensors --train $L/train.csv --val $L/validation.csv --task tasks/localisation.task -b 8
    --steps 40 --eval-every 10 --ckpt-every 10 --keep 5 --seed 42)
full=("${ft[@]}" --lr 3e-4)
lora=("${ft[@]}" --lora --lora-rank 16 --lora-alpha 32 --lora-dropout 0 --lr 2e-3 --merge)
run_cpu() { local name=$1; shift; timeout 240 "$BIN/tinyllm" finetune "$@" --device cpu -o $F/$name > $F/$name.log 2>&1
            echo "$name exit $?" >> $F/$name.log; }
run_gpu() { local name=$1; shift; timeout 60 "$BIN/tinyllm" finetune "$@" --device cuda -o $F/$name > $F/$name.log 2>&1
            echo "$name exit $?" | tee -a "$SUM"; grep -E "^device:|^train:" $F/$name.log | tail -2; }
run_cpu full-cpu "${full[@]}" -t 8 & fc_pid=$!
run_cpu lora-cpu "${lora[@]}" -t 7 & lc_pid=$!
run_gpu full-gpu "${full[@]}"
run_gpu lora-gpu "${lora[@]}"
run_gpu lora-gpu2 "${lora[@]}"
# the GPU adapter checkpoint of step 20 resumed on the CPU
cp -r $F/lora-gpu $F/lora-g2c && rm -f $F/lora-g2c/step_0000003*.safetensors $F/lora-g2c/step_0000004*.safetensors
echo step_00000020.safetensors > $F/lora-g2c/latest
wait $fc_pid; tail -1 $F/full-cpu.log | tee -a "$SUM"
run_cpu lora-g2c "${lora[@]}" -t 8 --resume & g2c_pid=$!
wait $lc_pid; tail -1 $F/lora-cpu.log | tee -a "$SUM"
cp -r $F/lora-cpu $F/lora-c2g && rm -f $F/lora-c2g/step_0000003*.safetensors $F/lora-c2g/step_0000004*.safetensors
echo step_00000020.safetensors > $F/lora-c2g/latest
run_gpu lora-c2g "${lora[@]}" --resume
wait $g2c_pid; tail -1 $F/lora-g2c.log | tee -a "$SUM"
for n in full-cpu lora-cpu full-gpu lora-gpu; do grep -E "^train:" $F/$n.log | tail -1 | sed "s/^/$n: /"; done | tee -a "$SUM"
{
  python3 tests/cuda/compare_curves.py $F/full-cpu/metrics.jsonl $F/full-gpu/metrics.jsonl --tol 0.05 --atol 0.05 --perf --label "ft full cpu-vs-gpu"
  python3 tests/cuda/compare_curves.py $F/lora-cpu/metrics.jsonl $F/lora-gpu/metrics.jsonl --same $F/lora-gpu2/metrics.jsonl --tol 0.05 --atol 0.05 --perf --label "ft lora cpu-vs-gpu"
  python3 tests/cuda/compare_curves.py $F/lora-gpu/metrics.jsonl $F/lora-g2c/metrics.jsonl --from 21 --tol 0.05 --atol 0.05 --label "gpu adapter @20 resumed on cpu"
  python3 tests/cuda/compare_curves.py $F/lora-cpu/metrics.jsonl $F/lora-c2g/metrics.jsonl --from 21 --tol 0.05 --atol 0.05 --label "cpu adapter @20 resumed on gpu"
} 2>&1 | tee -a "$SUM"
for m in full-gpu/best.safetensors lora-gpu/merged.safetensors full-cpu/best.safetensors lora-cpu/merged.safetensors; do
  timeout 60 "$BIN/tinyllm" eval "${TOK[@]}" -m $F/$m --task tasks/localisation.task --data $L/validation.csv --mode likelihood -t 12 -q \
    > $F/eval.log 2>&1; echo "localisation $m: $(grep -m1 -E 'accuracy' $F/eval.log)" | tee -a "$SUM"
done
tar czf "$OUT/finetune.tar.gz" -C $F --exclude='*.safetensors' . 2>/dev/null
fi

if stage sweep; then
ST=${SWEEP_TASK:-gesture}
section "$ST sweep on the GPU ($BASE, validation accuracy by label likelihood)"
G=$FTD/$ST; W=$F/sweep; mkdir -p $W
sw=("${TOK[@]}" --base $F/base.safetensors --train $G/train.csv --val $G/validation.csv -b 4 --seed 42
    --eval-every 51 --ckpt-every 100000 --device cuda)
score() { timeout ${SWEEP_EVAL_S:-120} "$BIN/tinyllm" eval "${TOK[@]}" -m $W/$1/$3 --task $W/$1.task --data $G/validation.csv --mode likelihood -t ${SWEEP_EVAL_T:-12} -q \
            > $W/$1.eval 2>&1; echo "$ST $1 ($2, $3): $(grep -m1 -E 'accuracy' $W/$1.eval) | $(grep -E '^best val' $W/$1.log)" | tee -a "$SUM"; }
sweep_run() { local name=$1 num=${2//+/ } pick=$3; shift 3; sed "s/^numbers = .*/numbers = $num/" tasks/$ST.task > $W/$name.task
              timeout ${SWEEP_RUN_S:-60} "$BIN/tinyllm" finetune "${sw[@]}" --task $W/$name.task "$@" -o $W/$name > $W/$name.log 2>&1
              echo "$name exit $? $(grep -E '^train:' $W/$name.log | tail -1)" | tee -a "$SUM"; score $name "$num" $pick & sw_pids+=($!); }
S0=$(date +%s); sw_pids=()
while read -r -a run; do
  [ ${#run[@]} -ge 3 ] && [ "${run[0]:0:1}" != "#" ] && sweep_run "${run[@]}"
done < "${SWEEP_LIST:-scripts/sweep-gesture.txt}"
for p in "${sw_pids[@]}"; do wait "$p"; done
echo "sweep: $(($(date +%s) - S0)) s" | tee -a "$SUM"
for n in ${SWEEP_KEEP:-}; do cp $W/$n/best.safetensors "$OUT/$n-best.safetensors"; done
tar czf "$OUT/sweep.tar.gz" -C $W --exclude='*.safetensors' . 2>/dev/null
fi

if stage breathe; then
section "breathing from synthetic rows on the GPU (30M base), scored on the 8 real rows"
R=$F/breathe; mkdir -p $R
syn() { "$BIN/tinyllm" synth breathing --cycles-per-breath 2 --rate-min 7 --rate-max 15 "$@" 2> /dev/null; }
syn --rows 20000 --seed 11 -o $R/train.csv; syn --rows 100 --seed 99 -o $R/held.csv
rows() { awk 'NR == 1 || (FNR > 1 && NF)' "$@"; }   # the header once, then every non-blank data row
rows $FTD/breathe/train.csv $FTD/breathe/validation.csv > $R/real.csv
br=("${TOK[@]}" --task tasks/breathe.task --val $R/held.csv --ckpt-every 100000 --seed 42 --device cuda)
br_score() { timeout 200 "$BIN/tinyllm" eval "${TOK[@]}" -m $R/$1 --task tasks/breathe.task --data $2 --mode generate -t 4 -q --out $R/$3.jsonl \
            > $R/$3.eval 2>&1; echo "breathe $3: $(grep -m1 MAE $R/$3.eval)" | tee -a "$SUM"; }
syn_run() { local name=$1 pick=$2; shift 2
            timeout 150 "$BIN/tinyllm" finetune "${br[@]}" --base $F/base.safetensors --train $R/train.csv -b 8 --warmup 100 \
              --epochs 3 --eval-every 250 --patience 6 "$@" -o $R/$name > $R/$name.log 2>&1
            echo "breathe $name exit $? $(grep -E '^train:' $R/$name.log | tail -1) | $(grep -E '^best val' $R/$name.log)" | tee -a "$SUM"
            { br_score $name/$pick $R/real.csv $name.real; br_score $name/$pick $R/held.csv $name.held; } & br_pids+=($!); }
# 20 steps on real rows from the synthetic-trained model (its run directory's last checkpoint is the model)
real_run() { timeout 60 "$BIN/tinyllm" finetune "${br[@]}" --base $R/full/best.safetensors --train $2 -b 7 --lr 3e-5 --steps 20 \
               --eval-every 0 -o $R/$1 > $R/$1.log 2>&1; }
br_pids=()
syn_run full best.safetensors --lr 1e-4
real_run adapt $FTD/breathe/train.csv && br_score adapt $FTD/breathe/validation.csv adapt.validation
for q in q8_0 q4_0; do
  "$BIN/tinyllm" export "${TOK[@]}" -m $R/adapt --task tasks/breathe.task --type $q -o $R/adapt-$q.gguf > /dev/null 2>&1 &&
    "$BIN/tinyllm" import $R/adapt-$q.gguf -o $R/adapt-$q.safetensors > /dev/null 2>&1 &&
    br_score adapt-$q.safetensors $FTD/breathe/validation.csv adapt-$q.validation
done
for i in 1 2 3 4 5 6 7 8; do   # leave one real row out: train on the other 7, score the one
  { head -1 $R/real.csv; tail -n +2 $R/real.csv | sed "${i}d"; } > $R/loo$i.train.csv
  { head -1 $R/real.csv; tail -n +2 $R/real.csv | sed -n "${i}p"; } > $R/loo$i.test.csv
  real_run loo$i $R/loo$i.train.csv && br_score loo$i $R/loo$i.test.csv loo$i > /dev/null
done
python3 - "$R" <<'PY' | tee -a "$SUM"
import json, sys
e = [json.loads(open(f"{sys.argv[1]}/loo{i}.jsonl").readline())["abs_error"] for i in range(1, 9)]
print("breathe leave-one-out over the 8 real rows: MAE %.3f, errors %s" % (sum(e) / len(e), " ".join("%.3f" % x for x in e)))
PY
syn_run lora-r16 merged.safetensors --lora --lora-rank 16 --lora-alpha 32 --merge --lr 1e-3
for p in "${br_pids[@]}"; do wait "$p"; done
cp $R/lora-r16/best.safetensors "$OUT/breathe-lora-r16.safetensors"
tar czf "$OUT/breathe.tar.gz" -C $R --exclude='*.safetensors' --exclude='*.csv' --exclude='*.gguf' . 2>/dev/null
fi
section done
}

main 2>&1 | tee "$OUT/device.log"
echo "===== summary"; cat "$SUM"
