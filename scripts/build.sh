#!/usr/bin/env bash
# Configures (once) and builds kiln in build/ with Ninja, clang-19 and ccache.
# Usage: scripts/build.sh [ninja targets...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${KILN_BUILD_DIR:-$root/build}
# ccache: paths under the checkout are hashed relative to it, so clones in
# other folders (CI) reuse the cache.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}

if [[ ! -f "$build/build.ninja" ]]; then
  cmake -G Ninja -S "$root" -B "$build" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 \
    -DLLVM_ENABLE_LLD=ON >/dev/null
fi
# A lock lets several shells share one build tree safely.
exec flock "$build/.build.lock" ninja -C "$build" "$@"
