# Crash safety of CPU training: 20 SIGKILLs of `tinyllm pretrain` at random moments, while a
# checkpoint is being written and while the manifest is; after each, `latest` must name a complete,
# finite checkpoint older than any being written (checked by tests/ckpt_check.py, not tinyllm),
# `--resume` must start from it, and the final train/val log must be byte-identical to an
# uninterrupted run. Then a full disk (ulimit -f) during a save: one clear error, the previous
# checkpoint byte-identical, no temp file, and resuming still gives the uninterrupted log; a full
# disk under metrics.jsonl (/dev/full) stops the run with one line and saves nothing after. Last, a
# checkpoint holding a NaN is refused by `run` and `--resume` (a corrupt file is never trained on
# and re-saved). test_train.sh covers the non-finite skip/stop policy; this one extends it.
set -u
W=$(mktemp -d); trap 'kill -9 $pid 2>/dev/null; rm -rf "$W"' EXIT
pid=
fail=0
bad() { echo "FAIL: $*"; fail=1; }
PY=/usr/bin/python3   # Debian's, where scripts/install-deps puts numpy
CHECK="$PY $TL_SRC/tests/ckpt_check.py"
$PY -c 'import numpy' 2>/dev/null || { echo "skip: $PY has no numpy (scripts/install-deps installs python3-numpy)"; exit 77; }

python3 - "$W/corpus.txt" <<'PY'
import random, sys
r = random.Random(11)
words = ["sensor", "reads", "motion", "light", "high", "low", "then", "the", "room", "door", "opens", "closes"]
with open(sys.argv[1], "w") as f:
    for d in range(400):
        f.write(" ".join(r.choice(words) for _ in range(r.randint(8, 30))) + ".\n\n")
PY
"$TINYLLM" prepare --out "$W/data" --val-fraction 0.1 "$W/corpus.txt" > /dev/null 2>&1 || { echo "prepare failed"; exit 1; }

# 2x2x32 over GPT-2's vocabulary: 1.6M parameters, a 19.6 MB checkpoint (with the moments) every
# 3 steps, so writes take a measurable share of the run. One thread: resume is bit-exact per count.
# 200 steps: room for 20 trials that each get a few steps further even when the machine speeds up
# after step_ms was measured (it is shared: ctest runs other tests beside this one)
STEPS=200
args=(--train "$W/data" --model 2x2x32 --seq-len 32 --batch-size 4 --steps $STEPS --lr 5e-3 --warmup 5
      --eval-every 10 --eval-batches 2 --ckpt-every 3 --keep 2 -t 1)
t0=$(date +%s%N)
"$TINYLLM" pretrain "${args[@]}" -o "$W/ref" > "$W/ref.log" 2>&1 || { echo "uninterrupted run failed: $(tail -2 "$W/ref.log")"; exit 1; }
step_ms=$(( ($(date +%s%N) - t0) / 1000000 / STEPS + 1 ))
grep -E '"type":"(train|val)"' "$W/ref/metrics.jsonl" > "$W/ref.lines"
echo "uninterrupted: $STEPS steps, about $step_ms ms per step (checkpoints included)"

R=$W/run
latest_step() { [ -f "$R/latest" ] && sed -n 's/^step_0*\([0-9][0-9]*\)\.safetensors$/\1/p' "$R/latest" || echo none; }
# 0 while process $1 runs (not yet a zombie); builtins only, so the polling loops below are tight
running() { local s; read -r s < "/proc/$1/stat" 2> /dev/null || return 1; s=${s##*) }; [ "${s:0:1}" != Z ]; }
kills=0 in_write=0 in_manifest=0 before_first=0 trace=
RANDOM=20240601  # the kill moments are seeded; what they hit still depends on the machine's speed
while [ $kills -lt 20 ]; do
  before=$(latest_step)
  "$TINYLLM" pretrain "${args[@]}" -o "$R" --resume > "$W/trial.log" 2>&1 &
  pid=$!
  case $((kills % 5)) in
    0|1) # a random moment: startup, a step, an eval, a save
      us=$(( RANDOM * 32768 + RANDOM )); us=$(( us % (step_ms * 4000 + 100000) ))
      sleep "$((us / 1000000)).$(printf %06d $((us % 1000000)))" ;;
    2|3) # while a checkpoint is being written (its temp file exists): at once, or after a spin;
      # not the run's first save, so that every trial gets further than the last
      until [ "$(latest_step)" != "$before" ] || ! running $pid; do sleep 0.005; done
      until compgen -G "$R/step_*.safetensors.tmp.$pid" > /dev/null || ! running $pid; do :; done
      for ((j = RANDOM % 3 * 1000; j > 0; j--)); do :; done ;;
    4) # while the manifest is being replaced
      until [ "$(latest_step)" != "$before" ] || ! running $pid; do sleep 0.005; done
      until [ -f "$R/latest.tmp.$pid" ] || ! running $pid; do :; done ;;
  esac
  kill -9 $pid 2> /dev/null
  wait $pid 2> /dev/null; rc=$?
  killed=$pid pid=
  if [ $rc != 137 ]; then # it ended by itself before the kill
    bad "the run ended (exit $rc) before kill $((kills + 1)): $(tail -1 "$W/trial.log")"
    break
  fi
  kills=$((kills + 1))
  now=$(latest_step)
  trace="$trace $now"
  # what the kill interrupted, from the temp files the killed process left (<name>.tmp.<pid>)
  writing=$(compgen -G "$R/step_*.safetensors.tmp.$killed" | sed -n 's/.*step_0*\([0-9][0-9]*\)\.safetensors\.tmp\..*/\1/p')
  [ -n "$writing" ] && in_write=$((in_write + 1))
  [ -f "$R/latest.tmp.$killed" ] && in_manifest=$((in_manifest + 1))
  if [ "$now" = none ]; then
    before_first=$((before_first + 1))
    [ -f "$R/latest" ] && bad "kill $kills: latest is not a step_XXXXXXXX.safetensors name: $(head -c 80 "$R/latest")"
  else
    $CHECK "$R/step_$(printf %08d "$now").safetensors" > "$W/check.txt" 2>&1 ||
      bad "kill $kills: latest names a bad checkpoint: $(tail -1 "$W/check.txt")"
    [ -n "$writing" ] && [ "$writing" -le "$now" ] &&
      bad "kill $kills: latest names step $now while step $writing was still being written"
    [ "$before" != none ] && [ "$now" -lt "$before" ] && bad "kill $kills: latest went back from $before to $now"
  fi
  # the killed run had started from what latest named (if it got as far as saying so)
  from=$(sed -n 's/^resume: .*step_0*\([0-9][0-9]*\)\.safetensors.*/\1/p' "$W/trial.log")
  [ -n "$from" ] && [ "$from" != "$before" ] && bad "kill $kills: the run resumed from step $from, latest named $before"
  [ -z "$from" ] && [ "$before" != none ] && grep -q "starting from scratch" "$W/trial.log" &&
    bad "kill $kills: the run started from scratch, latest named step $before"
done
echo "latest after each kill:$trace"
echo "kills: $kills; $in_write during a checkpoint write, $in_manifest during the manifest write, $before_first before the first checkpoint"
[ $in_write -ge 1 ] || bad "no kill hit a checkpoint write: the test did not test that"

# a kill during a resume's truncation of metrics.jsonl leaves metrics.jsonl.tmp.<pid> (the window is
# a few ms, so the kills above rarely hit it): two such leftovers, one torn, must be gone afterwards
printf '{"type":"train","step":1' > "$R/metrics.jsonl.tmp.999999"
cp "$R/metrics.jsonl" "$R/metrics.jsonl.tmp.999998"
"$TINYLLM" pretrain "${args[@]}" -o "$R" --resume > "$W/final.log" 2>&1 || bad "final resume failed: $(tail -2 "$W/final.log")"
grep -E '"type":"(train|val)"' "$R/metrics.jsonl" > "$W/run.lines"
cmp -s "$W/ref.lines" "$W/run.lines" || bad "the log after $kills kills differs from the uninterrupted one: $(diff "$W/ref.lines" "$W/run.lines" | head -4)"
[ "$(wc -l < "$W/run.lines")" = $((STEPS + STEPS / 10 + 1)) ] ||
  bad "expected $STEPS train + $((STEPS / 10 + 1)) val lines, got $(wc -l < "$W/run.lines")"
$CHECK "$R"/step_*.safetensors > "$W/check.txt" || bad "a final checkpoint is bad: $(tail -1 "$W/check.txt")"
[ "$(ls "$R" | grep -c '^step_.*\.safetensors$')" = 2 ] || bad "--keep 2 not honoured: $(ls "$R")"
compgen -G "$R/*.tmp*" > /dev/null &&
  bad "temp files of killed saves or log truncations are left behind: $(ls "$R" | grep tmp | head -3 | tr '\n' ' ')"

# disk full during a save: a run stopped (kill -9) after its first checkpoint resumes with files
# limited to 8 MiB, so the next 19.6 MB checkpoint cannot be written
D=$W/full
"$TINYLLM" pretrain "${args[@]}" -o "$D" > /dev/null 2>&1 &
pid=$!
until [ -f "$D/latest" ] || ! running $pid; do sleep 0.01; done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null; pid=
first=$(cat "$D/latest" 2>/dev/null)
sum=$(sha256sum "$D/$first" 2>/dev/null | cut -d' ' -f1)
(ulimit -f 8192; trap '' XFSZ; exec "$TINYLLM" pretrain "${args[@]}" -o "$D" --resume) > /dev/null 2> "$W/full.err"; rc=$?
[ $rc = 1 ] || bad "disk full: exit code $rc, expected 1"
tail -1 "$W/full.err" | grep -Eq '^tinyllm: .*step_[0-9]{8}\.safetensors: write failed: File too large$' ||
  bad "disk full: the error is not one clear line: $(tail -1 "$W/full.err")"
[ "$(cat "$D/latest")" = "$first" ] || bad "disk full: latest changed from $first to $(cat "$D/latest")"
[ "$(sha256sum "$D/$first" | cut -d' ' -f1)" = "$sum" ] || bad "disk full: the previous checkpoint $first changed"
compgen -G "$D/*.tmp.*" > /dev/null && bad "disk full: a temp file is left: $(ls "$D" | grep tmp)"
# the same with SIGXFSZ not ignored: the kernel kills the run mid-write, as a crash would
{ (ulimit -f 8192; exec "$TINYLLM" pretrain "${args[@]}" -o "$D" --resume) > /dev/null 2>&1; rc=$?; } 2> /dev/null
[ $rc -gt 128 ] || bad "SIGXFSZ: exit code $rc, expected death by signal"
[ "$(cat "$D/latest")" = "$first" ] && [ "$(sha256sum "$D/$first" | cut -d' ' -f1)" = "$sum" ] ||
  bad "SIGXFSZ: latest or its checkpoint changed"
"$TINYLLM" pretrain "${args[@]}" -o "$D" --resume > "$W/full2.log" 2>&1 || bad "resume after the full disk failed: $(tail -2 "$W/full2.log")"
grep -E '"type":"(train|val)"' "$D/metrics.jsonl" | cmp -s "$W/ref.lines" - || bad "the log after a full disk differs from the uninterrupted one"
echo "disk full: $(tail -1 "$W/full.err")"
# a full disk under the metrics log (metrics.jsonl -> /dev/full): the run stops at once with one
# line naming the log, and saves nothing after the lost line
if [ -w /dev/full ]; then
  M=$W/fulllog; mkdir -p "$M"; ln -s /dev/full "$M/metrics.jsonl"
  "$TINYLLM" pretrain "${args[@]}" -o "$M" > /dev/null 2> "$W/log.err"; rc=$?
  [ $rc = 1 ] || bad "metrics log on a full disk: exit code $rc, expected 1"
  tail -1 "$W/log.err" | grep -q "^tinyllm: $M/metrics.jsonl: cannot write: No space left on device" ||
    bad "metrics log on a full disk: the error is not one clear line: $(tail -1 "$W/log.err")"
  [ "$(ls "$M")" = metrics.jsonl ] || bad "metrics log on a full disk: files written after the lost line: $(ls "$M")"
fi

# a checkpoint with a NaN (a flipped exponent) is refused, by name, and never trained on
N=$W/nan
mkdir -p "$N"
cp "$R/latest" "$R/$(cat "$R/latest")" "$N/"
python3 - "$N/$(cat "$N/latest")" <<'PY'
import json, struct, sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); n = struct.unpack("<Q", b[:8])[0]
off = 8 + n + json.loads(b[8:8 + n])["wpe"]["data_offsets"][0] + 4 * 5
b[off:off + 4] = struct.pack("<f", float("nan")); open(p, "wb").write(b)
PY
"$TINYLLM" run -m "$N" -p x -n 1 > /dev/null 2> "$W/nan.err"; rc=$?
[ $rc = 1 ] && grep -q "^tinyllm: .*step_.*: tensor 'wpe' holds a non-finite value" "$W/nan.err" ||
  bad "NaN checkpoint: run gave rc $rc, '$(tail -1 "$W/nan.err")'"
"$TINYLLM" pretrain "${args[@]}" -o "$N" --resume > /dev/null 2> "$W/nan.err"; rc=$?
[ $rc = 1 ] && grep -q "tensor 'wpe' holds a non-finite value" "$W/nan.err" ||
  bad "NaN checkpoint: resume gave rc $rc, '$(tail -1 "$W/nan.err")'"
exit $fail
