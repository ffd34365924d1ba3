#!/usr/bin/env bash
# Builds the libFuzzer harnesses for another x86-64 machine (x86-64-v3, clang, ASan + UBSan) and
# packs what scripts/device-fuzz.sh needs into .devcarry-fuzz/ (git-ignored through
# .git/info/exclude): the harnesses (debug info stripped, xz), the shared libraries they link that
# a CUDA image may lack, the generated seeds and GPT-2's tokenizer files (bpe_encode, examples). Then, with the device tool (16 cores there):
#   run  command "scripts/device-fuzz.sh .devcarry-fuzz 540 16"  carry [".devcarry-fuzz"]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build-fuzz-dev}
CC=clang cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTL_FUZZ=ON -DTL_NATIVE=OFF \
  -DCMAKE_C_FLAGS="-march=x86-64-v3 -Wno-psabi" > /dev/null
cmake --build "$B" -j "${JOBS:-2}" --target fuzz tinyllm
rm -rf .devcarry-fuzz; mkdir -p .devcarry-fuzz/stage/fuzz .devcarry-fuzz/stage/lib
for f in "$B"/fuzz/fuzz_*; do [ -x "$f" ] && strip --strip-debug -o ".devcarry-fuzz/stage/fuzz/${f##*/}" "$f"; done
# every library a harness links, but the C library's own (the machine has those)
ldd "$B"/fuzz/fuzz_* | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u |
  grep -vE '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so' | while read -r l; do cp -L "$l" .devcarry-fuzz/stage/lib/; done
fuzz/make-seeds "$B" .devcarry-fuzz/stage/seeds > /dev/null
G=${TINYLLM_DATA:-$HOME/.cache/tinyllm}/gpt2
[ -f "$G/encoder.json" ] || { echo "device-fuzz-prepare: $G/encoder.json missing (scripts/install-deps fetches it)" >&2; exit 1; }
mkdir -p .devcarry-fuzz/stage/data/gpt2 && cp "$G/encoder.json" "$G/vocab.bpe" .devcarry-fuzz/stage/data/gpt2/
tar -C .devcarry-fuzz/stage -cJf .devcarry-fuzz/fuzz.tar.xz . && rm -rf .devcarry-fuzz/stage
mkdir -p .git/info
grep -qx '/.devcarry-fuzz/' .git/info/exclude 2>/dev/null || echo '/.devcarry-fuzz/' >> .git/info/exclude
du -sh .devcarry-fuzz
