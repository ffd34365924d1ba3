#!/usr/bin/env bash
# Builds what scripts/device-cuda.sh takes to a GPU machine, into .devcarry/ (git-ignored through
# .git/info/exclude): tinyllm (without serve: no libmicrohttpd/GnuTLS on the device), test_cuda and
# bench_cuda for x86-64-v3 + sm_90, the three shared
# libraries a CUDA image may lack (jansson, libcsv, libgomp), the loss-curve data (the demo
# corpus tokenized with a 1024-merge BPE), and for the fine-tuning stages .devcarry/ft: the GPT-2
# tokenizer files and the localisation, gesture and breathing CSVs (../shared/datasets does not travel; the
# copies live only in the git-ignored carry). Then, with the device tool:
#   run  command "scripts/device-cuda.sh .devcarry/bin .devcarry/data"  carry [".devcarry"]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build-dev}
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DTL_NATIVE=OFF -DCMAKE_C_FLAGS="-march=x86-64-v3" \
      -DCMAKE_CUDA_ARCHITECTURES=90 -DTL_SERVE=OFF > /dev/null
cmake --build "$B" -j "${JOBS:-2}" --target tinyllm test_cuda bench_cuda
rm -rf .devcarry
mkdir -p .devcarry/bin/lib
cp "$B/tinyllm" "$B/tests/test_cuda" "$B/bench/bench_cuda" .devcarry/bin/
for l in libjansson.so.4 libcsv.so.3 libgomp.so.1; do
  cp -L "$(ldconfig -p | awk -v l="$l" '$1 == l { print $NF; exit }')" .devcarry/bin/lib/
done
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
"$B/tinyllm" demo pretrain -o "$W/demo" -n 1 --docs 20000 -t 2 > /dev/null 2>&1   # writes the corpus (and trains 1 step)
"$B/tinyllm" tokenizer train --vocab-size 1024 -o .devcarry/tok "$W/demo/corpus.txt"
"$B/tinyllm" prepare --tokenizer .devcarry/tok --val-fraction 0.05 --out .devcarry/data "$W/demo/corpus.txt"
mkdir -p .devcarry/ft/tinyllm-data
cp -r "${TINYLLM_DATA:-$HOME/.cache/tinyllm}/gpt2" .devcarry/ft/tinyllm-data/
for t in localisation gesture breathe; do
  mkdir -p .devcarry/ft/$t && cp ../shared/datasets/$t/train.csv ../shared/datasets/$t/validation.csv .devcarry/ft/$t/
done
mkdir -p .git/info
grep -qx '/.devcarry/' .git/info/exclude 2>/dev/null || echo '/.devcarry/' >> .git/info/exclude
du -sh .devcarry
