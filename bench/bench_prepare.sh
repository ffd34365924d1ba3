#!/usr/bin/env bash
# prepare throughput (read + tokenize + mix + write shards) on 1, 2 and all cores; the baseline is
# the same command with --threads 1 in the same run. Outputs must be byte-identical across thread
# counts.   bench/bench_prepare.sh [BUILD]
set -euo pipefail
BUILD=${1:-build}; W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
python3 - "$W" "$(dirname "$0")/.." <<'PY'
import glob, json, random, sys
w, root = sys.argv[1], sys.argv[2]; r = random.Random(1)
paras = []
for f in sorted(glob.glob("/usr/share/common-licenses/*")) + sorted(glob.glob(root + "/**/*.md", recursive=True)):
    paras += [p for p in open(f, errors="ignore").read().split("\n\n") if p.strip()]
with open(w + "/prose.jsonl", "w") as f:
    size = 0
    while size < 40_000_000:
        doc = "\n\n".join(r.choice(paras) for _ in range(r.randint(3, 30)))
        line = json.dumps({"text": doc}) + "\n"; f.write(line); size += len(line)
with open(w + "/sensor.txt", "w") as f:
    for i in range(60000):
        f.write("t=%d temp=%.2f hum=%d%% acc=[%s]\nActivity: %s\n\n" % (i, r.uniform(-10, 40), r.randint(0, 100),
                ", ".join("%.3f" % r.gauss(0, 1) for _ in range(30)), r.choice(["walking", "still", "running"])))
PY
best() { # threads -> best wall seconds of 3 runs
  local b=999999 t0 t1 dt
  for _ in 1 2 3; do
    rm -rf "$W/out$1"; t0=$(date +%s.%N)
    "$BUILD/tinyllm" prepare --out "$W/out$1" --threads "$1" --mix "$W/prose.jsonl=0.8" --mix "$W/sensor.txt=0.2" > "$W/log" 2>&1
    t1=$(date +%s.%N); dt=$(python3 -c "print($t1 - $t0)")
    b=$(python3 -c "print(min($b, $dt))")
  done
  echo "$b"
}
N=$(nproc); t1=$(best 1); bytes=$(python3 -c "import re,sys; print(int(float(re.search(r'([0-9.]+) MB of text', open('$W/log').read()).group(1)) * 1e6))"); t2=$(best 2); tn=$t2; [ "$N" -gt 2 ] && tn=$(best "$N")
for d in out2 "out$N"; do
  for f in "$W"/out1/*; do cmp -s "$f" "$W/$d/$(basename "$f")" || { echo "OUTPUT DIFFERS: $d/$(basename "$f")"; exit 1; }; done
done
echo "machine: $(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | xargs), $N cores"
echo "input: $bytes bytes consumed (JSONL prose + sensor text, mixed 0.8/0.2 until the first runs out); outputs identical across thread counts"
python3 - "$bytes" "$t1" "$t2" "$tn" "$N" <<'PY'
import sys
b, t1, t2, tn, n = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
line = "prepare: 1 thread %.1f MB/s; 2 threads %.1f MB/s (%.2fx vs 1 thread)" % (b / t1 / 1e6, b / t2 / 1e6, t1 / t2)
if n != "2": line += "; %s threads %.1f MB/s (%.2fx)" % (n, b / tn / 1e6, t1 / tn)
print(line)
PY
