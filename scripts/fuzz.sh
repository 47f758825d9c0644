#!/usr/bin/env bash
# Fuzzes kiln's readers of untrusted input with libFuzzer (tests/fuzz).
#
#   scripts/fuzz.sh [HARNESS|all|ci] [SECONDS] fuzz each harness SECONDS (60);
#                                             ci: all of them
#   scripts/fuzz.sh --replay [HARNESS|all]    rerun the saved crash inputs
#   scripts/fuzz.sh --list                    print the harness names
#
# Builds the harnesses in build-fuzz/ (KILN_FUZZ_BUILD_DIR overrides;
# configured with -DKILN_FUZZ=ON, clang-19, ASan + UBSan), makes the seed
# corpus from the repository's test inputs (tests/fuzz/make_seeds.py) in
# build-fuzz/fuzz-corpus/HARNESS (kept between runs, so a longer run
# continues where the last stopped) and runs the harness with its dictionary
# (tests/fuzz/dicts/) for SECONDS. An input that crashes, hangs (above
# KILN_FUZZ_TIMEOUT seconds, 25), leaks or runs out of memory (above
# KILN_FUZZ_RSS_MB, 2560) is saved in tests/fuzz/crashes/HARNESS/: commit it
# with the fix, and `--replay` (which scripts/test.sh runs) keeps it fixed.
# Exits 1 when a harness found something or a replayed input fails.
# Runs at nice 19; KILN_FUZZ_JOBS=N runs N harness processes in parallel
# (libFuzzer -fork; default 1).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${KILN_FUZZ_BUILD_DIR:-$root/build-fuzz}
harnesses=(onnx keras-json keras-archive keras-h5 kiln-ir csv npy idx checkpoint cli)
# `ci` is what scripts/test.sh fuzzes: every harness. (keras-h5 was left
# out while Debian's libhdf5 1.10 crashed or looped inside kilnc on corrupt
# variable-length string attributes, H5HG_read; kiln now runs libhdf5 in a
# child process, which turns those into errors: docs/spec.md, limits table.)
ci_harnesses=("${harnesses[@]}")

mode=fuzz
if [[ "${1:-}" == --list ]]; then
  printf '%s\n' "${harnesses[@]}"
  exit 0
fi
if [[ "${1:-}" == --replay ]]; then
  mode=replay
  shift
fi
which=${1:-all}
seconds=${2:-60}
if [[ "$which" == all ]]; then
  selected=("${harnesses[@]}")
elif [[ "$which" == ci ]]; then
  selected=("${ci_harnesses[@]}")
else
  for h in "${harnesses[@]}" ""; do
    [[ "$h" == "$which" ]] && break
  done
  if [[ -z "$h" ]]; then
    echo "fuzz.sh: unknown harness '$which' (${harnesses[*]}, all, ci)" >&2
    exit 2
  fi
  selected=("$which")
fi
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || ((seconds < 1)); then
  echo "fuzz.sh: SECONDS must be a positive integer, got '$seconds'" >&2
  exit 2
fi

export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}
if [[ ! -f "$build/build.ninja" ]]; then
  cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 \
    -DLLVM_ENABLE_LLD=ON -DKILN_FUZZ=ON >/dev/null
fi
targets=()
for h in "${selected[@]}"; do targets+=("kiln-fuzz-$h"); done
# KILN_FUZZ_NO_BUILD=1 uses the harnesses as built (runs beside an edit).
if [[ "${KILN_FUZZ_NO_BUILD:-0}" != 1 ]]; then
  KILN_BUILD_DIR="$build" "$root/scripts/build.sh" "${targets[@]}" >/dev/null
fi

# Leaks are reported (libFuzzer checks each new input); a UB report aborts
# (the build uses -fno-sanitize-recover=undefined).
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
timeout_s=${KILN_FUZZ_TIMEOUT:-25}
rss_mb=${KILN_FUZZ_RSS_MB:-2560}
jobs=${KILN_FUZZ_JOBS:-1}
# The harnesses run from here: a sanitizer report in a forked child (the
# HDF5 reader's child process, keras-h5 and keras-archive, which libhdf5
# bugs crash) goes to a file named .PID in the working directory when
# libFuzzer has closed stderr (-close_fd_mask).
build=$(cd "$build" && pwd)
mkdir -p "$build/fuzz-child-reports"
cd "$build/fuzz-child-reports"
status=0
for h in "${selected[@]}"; do
  bin="$build/bin/kiln-fuzz-$h"
  crashes="$root/tests/fuzz/crashes/$h"
  if [[ $mode == replay ]]; then
    inputs=()
    if [[ -d "$crashes" ]]; then
      while IFS= read -r -d '' f; do inputs+=("$f"); done \
        < <(find "$crashes" -type f ! -name README.md -print0 | sort -z)
    fi
    if ((${#inputs[@]} == 0)); then
      echo "$h: no saved inputs"
      continue
    fi
    # Each file runs once; a crash, leak or timeout fails the replay.
    if "$bin" -timeout="$timeout_s" -rss_limit_mb="$rss_mb" \
      "${inputs[@]}" >"$build/fuzz-replay-$h.log" 2>&1; then
      echo "$h: ${#inputs[@]} saved inputs replayed, none fails"
    else
      echo "$h: a saved input fails (log: $build/fuzz-replay-$h.log)"
      tail -n 30 "$build/fuzz-replay-$h.log"
      status=1
    fi
    continue
  fi

  corpus="$build/fuzz-corpus/$h"
  mkdir -p "$corpus" "$crashes"
  /usr/bin/python3 "$root/tests/fuzz/make_seeds.py" "$h" "$corpus" >/dev/null
  before=$(find "$crashes" -type f | wc -l)
  log="$build/fuzz-$h.log"
  fork=()
  ((jobs > 1)) && fork=(-fork="$jobs" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
  set +e
  nice -n 19 "$bin" "$corpus" -dict="$root/tests/fuzz/dicts/$h.dict" \
    -max_total_time="$seconds" -timeout="$timeout_s" \
    -rss_limit_mb="$rss_mb" -artifact_prefix="$crashes/" \
    -close_fd_mask=3 -print_final_stats=1 "${fork[@]}" >"$log" 2>&1
  rc=$?
  set -e
  after=$(find "$crashes" -type f | wc -l)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  echo "$h: ${execs:-?} executions in ${seconds} s (${speed:-?}/s), $cov," \
    "corpus $(find "$corpus" -type f | wc -l) inputs, $((after - before))" \
    "new in tests/fuzz/crashes/$h (log: $log)"
  if ((rc != 0 || after > before)); then
    grep -E -m5 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|Test unit written' "$log" || true
    status=1
  fi
done
exit $status
