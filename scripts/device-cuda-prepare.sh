#!/usr/bin/env bash
# Builds what scripts/device-cuda.sh takes to a GPU machine, into .devcarry/ (git-ignored through
# .git/info/exclude): tinyllm, test_cuda and bench_cuda for x86-64-v3 + sm_90, the three shared
# libraries a CUDA image may lack (jansson, libcsv, libgomp), and the loss-curve data (the demo
# corpus tokenized with a 1024-merge BPE). Then, with the device tool:
#   run  command "scripts/device-cuda.sh .devcarry/bin .devcarry/data"  carry [".devcarry"]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build-dev}
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DTL_NATIVE=OFF -DCMAKE_C_FLAGS="-march=x86-64-v3 -Wno-psabi" \
      -DCMAKE_CUDA_ARCHITECTURES=90 > /dev/null
cmake --build "$B" -j "${JOBS:-2}" --target tinyllm test_cuda bench_cuda
rm -rf .devcarry
mkdir -p .devcarry/bin/lib
cp "$B/tinyllm" "$B/tests/test_cuda" "$B/bench/bench_cuda" .devcarry/bin/
for l in libjansson.so.4 libcsv.so.3 libgomp.so.1; do
  cp -L "$(ldconfig -p | awk -v l="$l" '$1 == l { print $NF; exit }')" .devcarry/bin/lib/
done
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
"$B/tinyllm" demo -o "$W/demo" -n 1 --docs 20000 > /dev/null 2>&1   # writes the corpus (and trains 1 step)
"$B/tinyllm" tokenizer train --vocab-size 1024 -o .devcarry/tok "$W/demo/corpus.txt"
"$B/tinyllm" prepare --tokenizer .devcarry/tok --val-fraction 0.05 --out .devcarry/data "$W/demo/corpus.txt"
mkdir -p .git/info
grep -qx '/.devcarry/' .git/info/exclude 2>/dev/null || echo '/.devcarry/' >> .git/info/exclude
du -sh .devcarry
