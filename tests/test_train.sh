# Training end to end through the CLI: a ~1.7M-parameter model must bring val loss clearly below
# the unigram entropy of the corpus; a run killed with SIGKILL and resumed must log byte-identical
# train/val lines to an uninterrupted run; sampling is seeded; bad checkpoints give one-line errors.
set -u
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# A corpus with structure beyond word frequencies (counting sentences, agreement), seeded.
python3 - "$W/corpus.txt" <<'PY'
import random, sys
r = random.Random(7)
nums = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
things = [("cat", "cats"), ("sensor", "sensors"), ("robot", "robots"), ("lamp", "lamps")]
with open(sys.argv[1], "w") as f:
    for d in range(1500):
        s = []
        for _ in range(r.randint(2, 5)):
            i = r.randrange(9); a, b = r.choice(things)
            s.append(f"I see {nums[i]} {a if i == 0 else b}, then {nums[(i + 1) % 9]}.")
        f.write(" ".join(s) + "\n\n")
PY
"$TINYLLM" prepare --out "$W/data" --val-fraction 0.1 "$W/corpus.txt" > /dev/null 2>&1 || { echo "prepare failed"; exit 1; }

"$TINYLLM" pretrain --train "$W/data" --model 2x2x32 --seq-len 64 --batch-size 8 --steps 300 --lr 1e-2 --warmup 20 \
  --eval-every 100 --eval-batches 8 --ckpt-every 0 -t 2 -o "$W/run" > "$W/train.log" 2>&1 || bad "pretrain failed: $(tail -3 "$W/train.log")"
python3 - "$W/data" "$W/run/metrics.jsonl" <<'PY' || bad "val loss not below the unigram entropy"
import collections, glob, json, math, struct, sys
def toks(pat):
    out = []
    for f in sorted(glob.glob(pat)):
        b = open(f, "rb").read(); n = struct.unpack("<i", b[8:12])[0]
        out += struct.unpack("<%dH" % n, b[1024:])
    return out
tr, va = toks(sys.argv[1] + "/train_*.bin"), toks(sys.argv[1] + "/val_*.bin")
c = collections.Counter(tr); V = 50257
H = -sum(math.log((c[t] + 1) / (len(tr) + V)) for t in va[1:]) / (len(va) - 1)
vals = [json.loads(l) for l in open(sys.argv[2]) if '"val"' in l]
first, last = vals[0]["val_loss"], vals[-1]["val_loss"]
print(f"unigram entropy {H:.3f} nats; val loss {first:.3f} -> {last:.3f}")
sys.exit(0 if last < 0.6 * H else 1)
PY

# crash + resume == uninterrupted
args=(--train "$W/data" --model 2x2x32 --seq-len 32 --batch-size 4 --total-batch 256 --steps 200 --lr 5e-3 --warmup 10
      --eval-every 25 --eval-batches 2 --ckpt-every 10 --keep 2 -t 2)
"$TINYLLM" pretrain "${args[@]}" -o "$W/a" > /dev/null 2>&1 || bad "uninterrupted run failed"
"$TINYLLM" pretrain "${args[@]}" -o "$W/b" > /dev/null 2>&1 &
pid=$!
for _ in $(seq 1 2000); do
  if grep -qs 'step_0000003' "$W/b/latest" || grep -qs 'step_000000[4-9]' "$W/b/latest"; then break; fi
  sleep 0.01
done
if kill -9 $pid 2>/dev/null; then
  wait $pid 2>/dev/null
  echo "killed the run after $(cat "$W/b/latest")"
  "$TINYLLM" pretrain "${args[@]}" -o "$W/b" --resume > "$W/resume.log" 2>&1 || bad "resume failed: $(tail -2 "$W/resume.log")"
  grep -q 'resume: .*step_' "$W/resume.log" || bad "resume did not load a checkpoint"
  grep -E '"type":"(train|val)"' "$W/a/metrics.jsonl" > "$W/a.log"
  grep -E '"type":"(train|val)"' "$W/b/metrics.jsonl" > "$W/b.log"
  cmp -s "$W/a.log" "$W/b.log" || bad "resumed loss log differs: $(diff "$W/a.log" "$W/b.log" | head -4)"
  [ "$(wc -l < "$W/a.log")" -ge 200 ] || bad "loss log too short"
  [ "$(ls "$W/b"/step_*.safetensors | wc -l)" = 2 ] || bad "--keep 2 not honoured: $(ls "$W/b")"
else
  bad "the run finished before it could be killed; the resume test did not run"
fi

# resume with other settings is refused
"$TINYLLM" pretrain "${args[@]}" --batch-size 2 -o "$W/b" --resume > /dev/null 2> "$W/err" && bad "resume with another batch size accepted"
grep -q 'batch-size 4' "$W/err" || bad "batch-size mismatch message: $(cat "$W/err")"
# a fresh run into a used directory is refused
"$TINYLLM" pretrain "${args[@]}" -o "$W/b" > /dev/null 2> "$W/err" && bad "fresh run over an existing run accepted"
grep -q 'already holds a run' "$W/err" || bad "reuse message: $(cat "$W/err")"

# sampling: same seed, same text
s1=$("$TINYLLM" run -m "$W/a" -p "I see" -n 20 -s 5 2>/dev/null)
s2=$("$TINYLLM" run -m "$W/a" -p "I see" -n 20 -s 5 2>/dev/null)
[ -n "$s1" ] && [ "$s1" = "$s2" ] || bad "run is not deterministic for a seed: '$s1' vs '$s2'"
g=$("$TINYLLM" run -m "$W/run" -p "I see one cat, then" -n 3 --temp 0 2>/dev/null)
echo "$g" | grep -Eq 'I see one cat, then (one|two|three|four|five|six|seven|eight|nine)\.' ||
  bad "greedy continuation does not follow the corpus' pattern: '$g'"

# bad checkpoints and shards: one line naming the file, exit 1
ck=$(ls "$W/a"/step_*.safetensors | tail -1)
head -c 1000 "$ck" > "$W/trunc.safetensors"
"$TINYLLM" run -m "$W/trunc.safetensors" -p x > /dev/null 2> "$W/err"; rc=$?
[ $rc = 1 ] && grep -q "^tinyllm: .*trunc.safetensors" "$W/err" || bad "truncated checkpoint: rc $rc, '$(cat "$W/err")'"
echo "step_x" > "$W/a/latest"
"$TINYLLM" run -m "$W/a" > /dev/null 2> "$W/err"; rc=$?
[ $rc = 1 ] && grep -q "latest: corrupt manifest" "$W/err" || bad "bad manifest: rc $rc, '$(cat "$W/err")'"
head -c 1500 "$W/data/train_000000.bin" > "$W/short.bin"
"$TINYLLM" pretrain --train "$W/short.bin" --model 2x2x32 -o "$W/c" > /dev/null 2> "$W/err"; rc=$?
[ $rc = 1 ] && grep -q "short.bin: header says" "$W/err" || bad "truncated shard: rc $rc, '$(cat "$W/err")'"
"$TINYLLM" pretrain --train "$W/nothing" -o "$W/c" > /dev/null 2> "$W/err"; rc=$?
[ $rc = 1 ] && grep -q "no train shards" "$W/err" || bad "missing shards: rc $rc, '$(cat "$W/err")'"

# checkpoint whose tensors do not match its config (metadata edited by Python, data untouched)
python3 - "$ck" "$W/shape.safetensors" <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n])
h["__metadata__"]["n_embd"] = "64"
j = json.dumps(h).encode(); j += b" " * (-len(j) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(j)) + j + b[8 + n:])
PY
"$TINYLLM" run -m "$W/shape.safetensors" > /dev/null 2> "$W/err"; rc=$?
[ $rc = 1 ] && grep -q "shape.safetensors: tensor 'wte' has the wrong dtype or shape" "$W/err" || bad "shape mismatch: rc $rc, '$(cat "$W/err")'"
"$TINYLLM" tokenizer encode --vocab "$W/data/meta.json" --merges "$W/corpus.txt" hi > /dev/null 2> "$W/err"; rc=$?
[ $rc = 1 ] && grep -q "meta.json: expected an object of 256" "$W/err" || bad "garbage tokenizer file: rc $rc, '$(cat "$W/err")'"

# non-finite policy: an absurd learning rate blows the weights up; 'stop' stops at once, 'skip'
# skips updates and stops after 10 in a row; no checkpoint ever holds a non-finite value
nf=(--train "$W/data" --model 2x2x32 --seq-len 32 --batch-size 2 --steps 30 --lr 1e30 --grad-clip 0 --eval-every 0 --ckpt-every 1 --keep 100 -t 2)
"$TINYLLM" pretrain "${nf[@]}" --on-nonfinite stop -o "$W/nf1" > /dev/null 2> "$W/err"; rc=$?
[ $rc = 1 ] && grep -q "non-finite .*stopping (--on-nonfinite stop)" "$W/err" || bad "nonfinite stop: rc $rc, '$(tail -1 "$W/err")'"
"$TINYLLM" pretrain "${nf[@]}" --on-nonfinite skip -o "$W/nf2" > /dev/null 2> "$W/err"; rc=$?
[ $rc = 1 ] && grep -q "11 consecutive non-finite steps" "$W/err" || bad "nonfinite skip: rc $rc, '$(tail -1 "$W/err")'"
grep -q '"type":"skip"' "$W/nf2/metrics.jsonl" || bad "skips not logged"
python3 - "$W"/nf1/step_*.safetensors "$W"/nf2/step_*.safetensors <<'PY' || bad "a checkpoint holds non-finite values"
import array, json, math, struct, sys
for p in sys.argv[1:]:
    b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]
    a = array.array("f"); a.frombytes(b[8 + n:])
    assert all(math.isfinite(x) for x in a), p
print("checked", len(sys.argv) - 1, "checkpoints: all finite")
PY
# `tinyllm demo pretrain` with its defaults (threads: all cores, passed on to every step)
"$TINYLLM" demo pretrain -o "$W/demo" -n 2 --docs 600 > "$W/demo.log" 2>&1 || bad "demo pretrain failed: $(tail -2 "$W/demo.log")"
exit $fail
