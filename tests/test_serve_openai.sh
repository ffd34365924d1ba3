# tinyllm serve against the official OpenAI SDK (npm openai): parsing, finish reasons, usage against
# independent counts, stream = non-stream, seeds across slots (tests/test_serve_openai.mjs).
set -u
command -v node > /dev/null || { echo "skip: node missing (run scripts/install-deps)"; exit 77; }
exec node "$TL_SRC/tests/test_serve_openai.mjs"
