# tinyllm serve under 64 concurrent clients x 20 requests (autocannon): all answered, 200 or a clean
# 429 / 503 (tests/test_serve_load.mjs).
set -u
command -v node > /dev/null || { echo "skip: node missing (run scripts/install-deps)"; exit 77; }
exec node "$TL_SRC/tests/test_serve_load.mjs"
