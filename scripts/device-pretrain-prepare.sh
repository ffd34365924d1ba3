#!/usr/bin/env bash
# Builds and packs what scripts/device-pretrain.sh needs on the GPU machine into .pretrain-carry/
# (git-ignored through .git/info/exclude): tinyllm for x86-64-v3 + sm_90 without serve, the shared
# libraries a CUDA image may lack (bin.tar.xz), the tokenizer, and the English corpus as xz pieces.
#
#   scripts/device-pretrain-prepare.sh [CORPUS_DIR]
#
#   CORPUS_DIR: a scripts/fetch-corpus output (corpus.jsonl + sources.tsv); default
#   ${TINYLLM_DATA:-~/.cache/tinyllm}/corpus. Without corpus.jsonl there, scripts/fetch-corpus is
#   run for $SOURCES (default below: the larger prose-like sources, ~80M GPT-2 tokens, texlive-doc
#   and the API references left out).
#   BUILD (default build-cuda10) is the build folder; MAX_XZ_MB (default 55) the most corpus
#   carried: the corpus is cut at a whole document to fit.
#   TOKENIZER: a `tinyllm tokenizer train` folder to pretrain with instead of GPT-2's (carried as tok/).
#   PART_MB (default 55): the corpus xz is cut into pieces of this many MiB. A device call carries
#   64 MiB with the repository (counted in disk blocks), so a large corpus goes over in several
#   calls that follow each other while the machine stays warm: piece k in .pretrain-carry-k, the last
#   piece with everything else in .pretrain-carry. Heavy steps run under nice, one job.
# Then, with the device tool, one call per earlier piece (the repository copy there is new for each
#   call, the machine's /tmp stays while it is held):
#   run  command "mkdir -p /tmp/pretrain-stash && cp .pretrain-carry-1/* /tmp/pretrain-stash/"
#        carry [".pretrain-carry-1"]
#   and the last:  run  command "scripts/device-pretrain.sh .pretrain-carry"  carry [".pretrain-carry"]
# and scripts/device-pretrain-finish.sh on the files that come back (docs/pretrain.md).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build-cuda10}
DATA=${TINYLLM_DATA:-$HOME/.cache/tinyllm}
CORPUS=${1:-$DATA/corpus}
MAX_XZ_MB=${MAX_XZ_MB:-55}
PART_MB=${PART_MB:-55}
TOKENIZER=${TOKENIZER:-}
SOURCES=${SOURCES:-bible-commentary,gcide,wordnet,python-lib-docs,linux-doc,prog-docs,perl-doc,vim-doc,python-doc,bible,stdlib-sotu,stdlib-moby-dick,manpages,postgresql-doc,sqlite-doc,foldoc,fortunes,debian-books,jargon,devil,vera,debian-policy,emacs-lisp}
C=.pretrain-carry

nice -n 19 cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DTL_NATIVE=OFF -DTL_SERVE=OFF \
      -DCMAKE_C_FLAGS="-march=x86-64-v3 -Wno-psabi" -DCMAKE_CUDA_ARCHITECTURES=90 > /dev/null
nice -n 19 cmake --build "$B" -j 1 --target tinyllm
if [ ! -f "$CORPUS/corpus.jsonl" ]; then
  nice -n 19 scripts/fetch-corpus --jobs 1 --tinyllm "$B/tinyllm" --out "$CORPUS" --sources "$SOURCES"
fi
for f in encoder.json vocab.bpe; do
  [ -f "$DATA/gpt2/$f" ] || { echo "device-pretrain-prepare: $DATA/gpt2/$f missing: run scripts/install-deps" >&2; exit 1; }
done
if [ -n "$TOKENIZER" ] && [ ! -f "$TOKENIZER/tokenizer.cfg" ]; then
  echo "device-pretrain-prepare: TOKENIZER=$TOKENIZER is not a 'tinyllm tokenizer train' folder (no tokenizer.cfg)" >&2; exit 1
fi

rm -rf "$C" "$C"-[0-9]*
mkdir -p "$C"
rm -rf /tmp/pretrain-pack; mkdir -p /tmp/pretrain-pack/bin/lib
cp "$B/tinyllm" /tmp/pretrain-pack/bin/
for l in libjansson.so.4 libcsv.so.3 libgomp.so.1; do
  cp -L "$(ldconfig -p | awk -v l="$l" '$1 == l { print $NF; exit }')" /tmp/pretrain-pack/bin/lib/
done
# GPT-2's files and the task CSVs (../shared/datasets does not travel) make the folder the
# fine-tuning stages of scripts/device-cuda.sh take as FT_DIR, to score the new base there
mkdir -p /tmp/pretrain-pack/tinyllm-data/gpt2
cp "$DATA/gpt2/encoder.json" "$DATA/gpt2/vocab.bpe" /tmp/pretrain-pack/tinyllm-data/gpt2/
tasks=()
for t in localisation gesture breathe; do
  if [ -f "../shared/datasets/$t/train.csv" ]; then
    mkdir -p "/tmp/pretrain-pack/$t"; cp "../shared/datasets/$t/"{train,validation}.csv "/tmp/pretrain-pack/$t/"; tasks+=("$t")
  fi
done
tar cf - -C /tmp/pretrain-pack bin tinyllm-data "${tasks[@]}" | xz -9 -T1 > "$C/bin.tar.xz"
[ -n "$TOKENIZER" ] && cp -r "$TOKENIZER" "$C/tok"
cp "$CORPUS/sources.tsv" "$C/"

# xz -9 of the corpus; if it is over MAX_XZ_MB, keep the leading share of each source's documents
# that fits (estimated from the ratio, then checked)
nice -n 19 xz -9 -T1 -c "$CORPUS/corpus.jsonl" > "$C/corpus.jsonl.xz"
max=$((MAX_XZ_MB * 1048576))
size=$(stat -c %s "$C/corpus.jsonl.xz")
keep=1
while [ "$size" -gt "$max" ]; do
  keep=$(python3 -c "print(round($keep * 0.98 * $max / $size, 4))")
  echo "device-pretrain-prepare: corpus xz $size B is over $max B: keeping ${keep} of each source's documents"
  python3 - "$CORPUS/corpus.jsonl" "$keep" <<'PY' | nice -n 19 xz -9 -T1 -c > "$C/corpus.jsonl.xz"
import collections, json, sys
lines = open(sys.argv[1], encoding="utf-8").readlines()
n = collections.Counter(json.loads(l)["source"] for l in lines)
seen = collections.Counter()
for l in lines:
    s = json.loads(l)["source"]
    seen[s] += 1
    if seen[s] <= float(sys.argv[2]) * n[s]:
        sys.stdout.write(l)
PY
  size=$(stat -c %s "$C/corpus.jsonl.xz")
done

(cd "$C" && sha256sum corpus.jsonl.xz > corpus.jsonl.xz.sha256)
split -b "$(awk -v m="$PART_MB" 'BEGIN { printf "%d", m * 1048576 }')" -d -a 2 "$C/corpus.jsonl.xz" "$C/corpus.jsonl.xz."
rm "$C/corpus.jsonl.xz"
pieces=("$C"/corpus.jsonl.xz.[0-9][0-9])
for ((k = 0; k < ${#pieces[@]} - 1; k++)); do
  mkdir -p "$C-$((k + 1))"; mv "${pieces[$k]}" "$C-$((k + 1))/"
done

mkdir -p .git/info
for p in "/$C/" "/$C-*/" /pretrain-out*/; do
  grep -qxF "$p" .git/info/exclude 2>/dev/null || echo "$p" >> .git/info/exclude
done
du -sb "$C" "$C"-[0-9]* 2>/dev/null
