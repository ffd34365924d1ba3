#!/usr/bin/env bash
# Reassembles what scripts/device-pretrain.sh brought back (GGUF pieces, report.tar.gz, device.log)
# into pretrain-out/, checks the SHA-256s, imports the GGUF as a model checkpoint for finetune, and
# samples from it.
#
#   scripts/device-pretrain-finish.sh FILES_DIR [DEST]
#
#   FILES_DIR: the device tool's files_at folder of the call; DEST (default pretrain-out, git-ignored
#   through .git/info/exclude); TL (default build/tinyllm): the tinyllm that imports and samples;
#   NAME (default tinyllm-gpt2-30M-base).
# Writes DEST/NAME.gguf (f16), DEST/NAME.safetensors (fp32 model checkpoint: `tinyllm finetune
# --base`), the report's files (metrics.jsonl, pretrain.log, prepare.log, ...) and device.log.
set -euo pipefail
cd "$(dirname "$0")/.."
F=$(cd "${1:?FILES_DIR}" && pwd)
DEST=${2:-pretrain-out}
TL=${TL:-build/tinyllm}
NAME=${NAME:-tinyllm-gpt2-30M-base}
mkdir -p "$DEST"
# the pieces may sit in a folder below FILES_DIR, as the device's $OUT had them
P=$(dirname "$(find "$F" -name "$NAME.gguf.part0" | head -1)")
[ -f "$P/$NAME.gguf.part0" ] || { echo "device-pretrain-finish: no $NAME.gguf.part0 under $F" >&2; exit 1; }
tar xzf "$P/report.tar.gz" -C "$DEST"
install -m 0644 "$P/device.log" "$DEST/device.log"
cat "$P/$NAME.gguf.part"[0-9] > "$DEST/$NAME.gguf"   # part0 .. part9 sort as globbed
(cd "$DEST" && grep " $NAME.gguf\$" "$NAME.gguf.sha256" | sha256sum -c -)
nice -n 19 "$TL" import "$DEST/$NAME.gguf" -o "$DEST/$NAME.safetensors"
nice -n 19 "$TL" run -m "$DEST/$NAME.gguf" -p "The sensor" -n 40 -s 1
ls -l "$DEST"
