# The bad-input table (tests/bad_input.tsv): every command of tinyllm fed truncated, garbage,
# empty, oversized and wrong-type files and wrong flags. The bad files are made here from valid
# files the tools write themselves (a trained 320-token BPE, shards, a 1-layer model as a
# checkpoint, GGUF, HF folder and llm.c files, a task CSV and examples). Each row must:
#   - exit with a code in 1..127 (not 0, not a signal, not a hang),
#   - end stderr with exactly one error line, `tinyllm: ...`, naming the row's file or flag; the
#     only other lines allowed are the settings block every command prints when it starts
#     (`settings (tinyllm CMD):` and its indented lines) and the runtime's one-line summaries
#     (`memory:`, `run: <type>, ...`, `classify: <task>, N labels, ...`, `serve: listening on`), so a
#     sanitizer report, a leak, a warning or a second error fails the row; the names column may
#     give alternatives (a|b), e.g. a flag's long and short name,
#   - leave its output folder empty: no output file, no half-written or temp file, no directory.
# A row with kinds (column 2) runs once per bad file of each kind ($X). Under `make asan` the
# binary is instrumented and LeakSanitizer runs at exit, so a leak on an error path fails a row.
set -u
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
export OMP_NUM_THREADS=1
T() { "$TINYLLM" "$@" < /dev/null > /dev/null 2>> "$W/setup.err" || { echo "setup failed: tinyllm $*: $(tail -1 "$W/setup.err")"; exit 1; }; }
S=$TL_SRC F=$W/f B=$W/bad
mkdir -p "$F" "$B"
export TASK=$S/tasks/localisation.task

# valid fixtures, written by tinyllm
T synth environment --rows 60 -s 3 -o "$F/env.csv"
T synth environment --rows 200 -s 4 --format text -o "$F/env.txt"
T tokenizer train --vocab-size 320 -o "$F/tok" "$F/env.txt"
T prepare --tokenizer "$F/tok" --task "$TASK" --val-fraction 0.2 --out "$F/data" "$F/env.csv"
T pretrain --train "$F/data" --model 1x1x16 --seq-len 320 --batch-size 2 --steps 1 --eval-every 0 -t 1 -o "$F/m"
T export -m "$F/m" --tokenizer "$F/tok" --task "$TASK" --type f32 -o "$F/m.gguf"
T export -m "$F/m" --tokenizer "$F/tok" -f hf -o "$F/hf"
T export -m "$F/m" --tokenizer "$F/tok" -f llmc -o "$F/m.bin"
T finetune --base "$F/m" --tokenizer "$F/tok" --train "$F/data" --lora --steps 1 --batch-size 2 -t 1 -o "$F/ft"
printf 'the sensor reads %s\n' $(seq 1 200) > "$F/prompt.txt"
printf '{"text": "%s"}\n' $(seq 1 50) > "$F/docs.jsonl"
printf 'key-one\nkey-two\n' > "$F/keys"; chmod 600 "$F/keys"; : > "$F/nokeys"; chmod 600 "$F/nokeys"
printf 'rows = many\n' > "$F/rows.cfg"; printf 'format = text\nrows = 0\n' > "$F/rows0.cfg"
mkdir -p "$F/adir"

# bad files: $B/<kind>/<variant>, each made from the valid file of its kind (python3: seeded bytes)
python3 - "$F" "$B" <<'PY' || { echo "making the bad files failed"; exit 1; }
import os, random, shutil, struct, sys
F, B = sys.argv[1], sys.argv[2]
rnd = random.Random(9)
EXT = {"gguf": ".gguf", "ckpt": ".safetensors", "shard": ".bin", "llmc": ".bin", "llmctok": ".bin", "task": ".task",
       "csv": ".csv", "jsonl": ".jsonl"}
def put(kind, name, data):
    os.makedirs(f"{B}/{kind}", exist_ok=True)
    open(f"{B}/{kind}/{name}{EXT[kind]}", "wb").write(data)
def binary(kind, path, cuts=(8, 100)):
    d = open(path, "rb").read()
    put(kind, "empty", b"")
    for c in cuts:
        if c < len(d): put(kind, f"cut{c}", d[:c])
    put(kind, "half", d[:len(d) // 2])
    put(kind, "minus1", d[:-1])
    put(kind, "garbage", bytes(rnd.getrandbits(8) for _ in range(len(d))))
    b = bytearray(d)  # the header's first bytes after the magic scrambled
    for i in range(8, min(64, len(b))): b[i] ^= 0xA5
    put(kind, "scrambled", bytes(b))
    return d
def text(kind, path):
    d = open(path, "rb").read()
    put(kind, "empty", b"")
    put(kind, "garbage", bytes(rnd.getrandbits(8) for _ in range(min(len(d), 4096))))
    put(kind, "nul", d[:len(d) // 3] + b"\0" + d[len(d) // 3:])
    return d

g = binary("gguf", f"{F}/m.gguf")
b = bytearray(g); b[8:16] = struct.pack("<Q", 1 << 62); put("gguf", "huge-tensor-count", bytes(b))
b = bytearray(g); b[16:24] = struct.pack("<Q", 1 << 62); put("gguf", "huge-key-count", bytes(b))
b = bytearray(g); b[4:8] = struct.pack("<I", 99); put("gguf", "version99", bytes(b))
c = binary("ckpt", f"{F}/m/step_00000001.safetensors")
b = bytearray(c); b[0:8] = struct.pack("<Q", 1 << 63); put("ckpt", "huge-header", bytes(b))
n = struct.unpack("<Q", c[:8])[0]; put("ckpt", "header-only", c[:8 + n])
s = binary("shard", f"{F}/data/train_000000.bin", cuts=(8, 1023, 1030))
b = bytearray(s); b[8:12] = struct.pack("<i", 1 << 30); put("shard", "huge-count", bytes(b))
b = bytearray(s); b[4:8] = struct.pack("<i", 9); put("shard", "version9", bytes(b))
l = binary("llmc", f"{F}/m.bin", cuts=(100, 1024, 1100))
b = bytearray(l); b[8:12] = struct.pack("<i", 1 << 30); put("llmc", "huge-context", bytes(b))
binary("llmctok", f"{F}/m_tokenizer.bin", cuts=(100, 1024, 1100))
text("task", os.environ["TASK"])
t = text("csv", f"{F}/env.csv")
put("csv", "header-only", t.split(b"\n")[0] + b"\n")
put("csv", "ragged", t + b"1,2\n")
put("csv", "open-quote", t + b'"1,2,3\n')
t = text("jsonl", f"{F}/data/finetune_train.jsonl")
put("jsonl", "cut-line", t[:t.index(b"\n") // 2])
put("jsonl", "not-object", b"[1, 2]\n")
put("jsonl", "no-response", b'{"prompt": "x"}\n')
# folders: a valid one with one file replaced by a bad copy
def folder(kind, src, name, variants):
    for v, data in variants.items():
        d = f"{B}/{kind}/{name}-{v}"
        shutil.copytree(src, d)
        if data is None: os.remove(f"{d}/{name}")
        else: open(f"{d}/{name}", "wb").write(data)
def cuts(path):
    d = open(path, "rb").read()
    return {"missing": None, "empty": b"", "half": d[:len(d) // 2], "garbage": bytes(rnd.getrandbits(8) for _ in range(len(d)))}
for f in ("config.json", "model.safetensors", "vocab.json", "merges.txt"):
    folder("hf", f"{F}/hf", f, cuts(f"{F}/hf/{f}"))
for f in ("tokenizer.cfg", "encoder.json", "vocab.bpe"):
    folder("tok", f"{F}/tok", f, cuts(f"{F}/tok/{f}"))
ck = open(f"{F}/m/step_00000001.safetensors", "rb").read()
folder("nolatest", f"{F}/m", "latest", {"missing": None})  # (pretrain --resume starts afresh there)
folder("run", f"{F}/m", "latest", {"empty": b"", "garbage": b"\x89\x01zz\n",
       "other-name": b"step_00000009.safetensors\n", "path": b"../../etc/passwd\n"})
folder("run", f"{F}/m", "step_00000001.safetensors", {"half": ck[:len(ck) // 2], "empty": b""})
m = open(f"{F}/data/meta.json", "rb").read()
folder("data", f"{F}/data", "meta.json", {"empty": b"", "garbage": b"{\"vocab_size\": \"x\"}", "huge-vocab": m.replace(b'"vocab_size": 320', b'"vocab_size": 1073741824'), "zero-vocab": m.replace(b'"vocab_size": 320', b'"vocab_size": 0')})
folder("data", f"{F}/data", "train_000000.bin", {"missing": None, "half": open(f"{F}/data/train_000000.bin", "rb").read()[:3000]})
PY
grep -q '"vocab_size": 320' "$F/data/meta.json" || { echo "meta.json layout changed: fix the generator"; exit 1; }

rows=0 fail=0
bad() { echo "FAIL $id${X:+ [$(basename "$(dirname "$X")")/$(basename "$X")]}: $*"; fail=$((fail + 1)); }
check() { # check COMMAND NAMES: run one row
  local cmd=$1 names=$2 rc err line others
  O=$W/out/$rows; rm -rf "$O"; mkdir -p "$O"
  eval "set -- $cmd"
  eval "names=\"$names\""
  rows=$((rows + 1))
  timeout 600 "$TINYLLM" "$@" < /dev/null > "$W/stdout" 2> "$W/stderr"; rc=$?
  err=$W/stderr
  line=$(tail -n 1 "$err")
  [ $rc = 0 ] && { bad "exit 0 (accepted): $cmd"; return; }
  [ $rc -ge 124 ] && { bad "exit $rc (signal, timeout or sanitizer): $cmd: $(grep -v '^  ' "$err" | head -3 | tr '\n' '|')"; return; }
  others=$(grep -av -e '^settings (tinyllm [a-z]*):$' -e '^  ' -e '^memory: ' -e '^serve: listening on ' -e '^run: [a-z0-9_]*, ' \
    -e '^classify: [^ ]*, [0-9]* labels, ' "$err" | sed '$d')
  [ -n "$others" ] && bad "stderr has more than the error line: $(printf '%s' "$others" | head -3 | tr '\n' '|') [$cmd]"
  case $line in "tinyllm: "*) ;; *) bad "the last stderr line is not 'tinyllm: ...': '$line' [$cmd]"; return ;; esac
  [ "$(grep -ac '^tinyllm: ' "$err")" = 1 ] || bad "more than one error line [$cmd]"
  local IFS='|' n named=
  for n in $names; do case $line in *"$n"*) named=1 ;; esac; done
  [ -n "$named" ] || bad "the error does not name '$names': '$line' [$cmd]"
  [ -z "$(ls -A "$O")" ] || bad "output left behind: $(cd "$O" && find . -mindepth 1 | head -3 | tr '\n' ' ') [$cmd]"
  [ -n "${BAD_INPUT_VERBOSE:-}" ] && echo "ok $id: $line"
  return 0
}
while IFS=$'\t' read -r id kinds cmd names; do
  case $id in ''|'#'*) continue ;; esac
  X=
  if [ "$kinds" = - ]; then check "$cmd" "$names"; continue; fi
  for k in ${kinds//,/ }; do # KIND (every file), KIND:few (empty, half, garbage), KIND!VARIANT (all but one)
    kind=${k%%[:!]*}
    [ -d "$B/$kind" ] || { bad "no bad files of kind '$kind'"; continue; }
    for X in "$B/$kind"/*; do
      v=$(basename "$X")
      case $k in
        *:few) case $v in empty.*|half.*|garbage.*|*-half|*-garbage) ;; *) continue ;; esac ;;
        *!*) [ "${v%.*}" = "${k#*!}" ] && continue ;;
      esac
      check "$cmd" "$names"
    done
  done
done < "$TL_SRC/tests/bad_input.tsv"
compgen -G "$F/*.tmp*" > /dev/null && bad "temp files left in the fixtures"
echo "bad-input rows: $rows, failed: $fail"
[ $fail = 0 ]
