#!/usr/bin/env bash
# Fuzzes on a machine with many cores (the device tool's GPU machine; its GPU is not used): every
# harness at once through fuzz/run -j, from the committed corpus and the carried seeds, each for
# SECONDS. Logs, the table and anything found go to $OUT (what the device tool brings back).
#   scripts/device-fuzz.sh CARRY_DIR SECONDS JOBS     (CARRY_DIR from scripts/device-fuzz-prepare.sh)
set -uo pipefail
CARRY=$(cd "${1:?CARRY_DIR}" && pwd); SECS=${2:-540}; JOBS=${3:-$(nproc)}
OUT=${OUT:-$PWD/device-out}; mkdir -p "$OUT"
W=/tmp/tl-fuzz; rm -rf "$W"; mkdir -p "$W/build"
tar -C "$W/build" -xJf "$CARRY/fuzz.tar.xz"
export LD_LIBRARY_PATH=$W/build/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} TINYLLM_DATA=$W/build/data
echo "cpu: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%FT%TZ)" | tee "$OUT/fuzz-table.txt"
ldd "$W/build/fuzz/fuzz_serve" | grep "not found" && exit 1
mkdir -p "$W/out"; mv "$W/build/seeds" "$W/out/seeds"
fuzz/run "$W/build" -t "$SECS" -j "$JOBS" -o "$W/out" | tee -a "$OUT/fuzz-table.txt"
rc=${PIPESTATUS[0]}
mkdir -p "$OUT/logs"; cp "$W/out/logs/"*.log "$OUT/logs/"
find "$W/out/crashes" -type f | head -50 | while read -r f; do mkdir -p "$OUT/crashes/$(basename "$(dirname "$f")")"; cp "$f" "$OUT/crashes/$(basename "$(dirname "$f")")/"; done
exit $rc
