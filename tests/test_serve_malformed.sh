# tinyllm serve under more than 1,000 malformed requests: each a 4xx with an error object, the server
# healthy afterwards and its memory flat (tests/test_serve_malformed.mjs).
set -u
command -v node > /dev/null || { echo "skip: node missing (run scripts/install-deps)"; exit 77; }
exec node "$TL_SRC/tests/test_serve_malformed.mjs"
