# tinyllm serve, endpoint by endpoint, with its limits, keys, queue and cancellation (the checks are
# listed at the top of tests/test_serve_api.mjs).
set -u
command -v node > /dev/null || { echo "skip: node missing (run scripts/install-deps)"; exit 77; }
exec node "$TL_SRC/tests/test_serve_api.mjs"
