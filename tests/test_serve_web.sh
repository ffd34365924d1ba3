# tinyllm serve's web page in headless Chromium: it loads, streams a completion, draws classify bars;
# screenshots in serve_web/ of the test folder (tests/test_serve_web.mjs).
set -u
command -v node > /dev/null || { echo "skip: node missing (run scripts/install-deps)"; exit 77; }
exec node "$TL_SRC/tests/test_serve_web.mjs"
