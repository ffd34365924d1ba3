#!/usr/bin/env bash
# Builds and packs what scripts/device-pretrain.sh needs on the GPU machine into .pretrain-carry/
# (git-ignored through .git/info/exclude): tinyllm for x86-64-v3 + sm_90 without serve, the shared
# libraries a CUDA image may lack, GPT-2's tokenizer files, and the English corpus as xz.
#
#   scripts/device-pretrain-prepare.sh [CORPUS_DIR]
#
#   CORPUS_DIR: a scripts/fetch-corpus output (corpus.jsonl + sources.tsv); default
#   ${TINYLLM_DATA:-~/.cache/tinyllm}/corpus. Without corpus.jsonl there, scripts/fetch-corpus is
#   run for $SOURCES (default below: the larger prose-like sources, ~80M GPT-2 tokens, texlive-doc
#   and the API references left out so that the xz fits one device call).
#   BUILD (default build-cuda10) is the build folder; MAX_XZ_MB (default 55) the most corpus
#   carried: the corpus is cut at a whole document to fit. Heavy steps run under nice, one job.
# Then, with the device tool:  run  command "scripts/device-pretrain.sh .pretrain-carry"
#                                   carry [".pretrain-carry"]
# and scripts/device-pretrain-finish.sh on the files that come back.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build-cuda10}
DATA=${TINYLLM_DATA:-$HOME/.cache/tinyllm}
CORPUS=${1:-$DATA/corpus}
MAX_XZ_MB=${MAX_XZ_MB:-55}
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

rm -rf "$C"
mkdir -p "$C/bin/lib" "$C/tinyllm-data/gpt2"
cp "$B/tinyllm" "$C/bin/"
for l in libjansson.so.4 libcsv.so.3 libgomp.so.1; do
  cp -L "$(ldconfig -p | awk -v l="$l" '$1 == l { print $NF; exit }')" "$C/bin/lib/"
done
cp "$DATA/gpt2/encoder.json" "$DATA/gpt2/vocab.bpe" "$C/tinyllm-data/gpt2/"
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

mkdir -p .git/info
for p in "/$C/" /pretrain-out/; do
  grep -qx "$p" .git/info/exclude 2>/dev/null || echo "$p" >> .git/info/exclude
done
du -sh "$C"; stat -c '%s bytes  %n' "$C/corpus.jsonl.xz"
