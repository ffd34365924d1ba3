# `tinyllm export -f hf|llmc` and `tinyllm import` of each, through the command line: f32 round
# trips are bit-exact (compared by an independent safetensors reader), the format is sniffed, a
# trained tokenizer travels with an HF export and must be given back on import, and bad input
# fails with a message and no output file.
set -u
DATA=${TINYLLM_DATA:-$HOME/.cache/tinyllm}
CSV="$TL_SHARED/datasets/localisation/train.csv"
[ -f "$DATA/gpt2/vocab.bpe" ] && [ -f "$CSV" ] || { echo "skip: GPT-2 files or datasets missing"; exit 77; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
T() { "$TINYLLM" "$@" -t 2; }
same() { # same() CKPT_A CKPT_B: every model tensor bit-identical
  python3 - "$1" "$2" <<'PY'
import json, struct, sys
def st(path):
    b = open(path, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n])
    return {k: b[8 + n + v["data_offsets"][0]: 8 + n + v["data_offsets"][1]] for k, v in h.items()
            if k != "__metadata__" and not k.startswith("optim.")}
a, b = st(sys.argv[1]), st(sys.argv[2])
assert a.keys() == b.keys() and all(a[k] == b[k] for k in a), [k for k in a if a.get(k) != b.get(k)][:3]
PY
}
T prepare --task "$TL_SRC/tasks/localisation.task" --val-fraction 0 --out "$W/d" "$CSV" > /dev/null 2>&1 || bad "prepare"
T pretrain --train "$W/d" --model 2x2x32 --seq-len 64 --batch-size 2 --steps 3 --eval-every 0 -o "$W/m" > /dev/null 2>&1 || bad "pretrain"
"$TINYLLM" export -m "$W/m" -f hf -o "$W/hf" --datasets localisation > /dev/null 2> "$W/err" || bad "export hf: $(cat "$W/err")"
"$TINYLLM" import "$W/hf" -o "$W/hf.safetensors" > "$W/out" 2> "$W/err" || bad "import hf: $(cat "$W/err")"
grep -q "(hf)" "$W/out" || bad "import did not sniff hf: $(cat "$W/out")"
same "$W/m/$(cat "$W/m/latest")" "$W/hf.safetensors" || bad "hf round trip not bit-exact"
grep -q "^- localisation$" "$W/hf/README.md" || bad "model card lacks the dataset"
"$TINYLLM" export -m "$W/m" -f llmc -o "$W/m.bin" > /dev/null 2> "$W/err" || bad "export llmc: $(cat "$W/err")"
[ -f "$W/m_tokenizer.bin" ] || bad "no llm.c tokenizer file beside the model"
"$TINYLLM" import "$W/m.bin" --llmc-tokenizer "$W/m_tokenizer.bin" -o "$W/l.safetensors" > "$W/out" 2> "$W/err" || bad "import llmc: $(cat "$W/err")"
grep -q "(llmc)" "$W/out" || bad "import did not sniff llmc"
same "$W/m/$(cat "$W/m/latest")" "$W/l.safetensors" || bad "llm.c round trip not bit-exact"
"$TINYLLM" export -m "$W/m" -f llmc --type f16 -o "$W/x.bin" > /dev/null 2>&1 && bad "llmc f16 accepted"

# a trained tokenizer: the HF export carries it; import needs it back
"$TINYLLM" tokenizer train --vocab-size 600 --digits 2 -o "$W/tok" "$W/d/finetune_train.jsonl" --field prompt > /dev/null 2>&1 || bad "tokenizer train"
T prepare --tokenizer "$W/tok" --task "$TL_SRC/tasks/localisation.task" --val-fraction 0 --out "$W/dt" "$CSV" > /dev/null 2>&1 || bad "prepare --tokenizer"
T pretrain --train "$W/dt" --model 2x2x32 --seq-len 64 --batch-size 2 --steps 3 --eval-every 0 -o "$W/mt" > /dev/null 2>&1 || bad "pretrain trained BPE"
"$TINYLLM" export -m "$W/mt" --tokenizer "$W/tok" -f hf -o "$W/hft" > /dev/null 2> "$W/err" || bad "export hf trained: $(cat "$W/err")"
grep -q '"Split"' "$W/hft/tokenizer.json" || bad "tokenizer.json lacks the digit-group Split"
"$TINYLLM" import "$W/hft" -o "$W/x.safetensors" > /dev/null 2> "$W/err" && bad "import with the wrong tokenizer accepted"
grep -q "give it with --tokenizer" "$W/err" || bad "wrong-tokenizer message: $(cat "$W/err")"
[ ! -e "$W/x.safetensors" ] || bad "failed import left a file"
"$TINYLLM" import "$W/hft" --tokenizer "$W/tok" -o "$W/t.safetensors" > /dev/null 2> "$W/err" || bad "import hf trained: $(cat "$W/err")"
same "$W/mt/$(cat "$W/mt/latest")" "$W/t.safetensors" || bad "trained-tokenizer hf round trip not bit-exact"
"$TINYLLM" import "$W/m.bin" --llmc-tokenizer "$W/m_tokenizer.bin" --tokenizer "$W/tok" -o "$W/x.safetensors" > /dev/null 2> "$W/err" && bad "llm.c tokenizer mismatch accepted"

# not a model at all
printf 'hello' > "$W/junk.bin"
"$TINYLLM" import "$W/junk.bin" -o "$W/x.safetensors" > /dev/null 2> "$W/err" && bad "junk accepted"
grep -q "junk.bin: not a GGUF file (bad magic)" "$W/err" || bad "junk message: $(cat "$W/err")"
exit $fail
