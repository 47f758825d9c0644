#!/usr/bin/env bash
# The main job, until training lands: installs what is missing, builds kiln,
# compiles the MLP forward example (examples/mlp_forward/mlp.mlir) into an
# object file and a C header with kilnc, links it with a short C program and
# the runtime, runs it on seeded random weights, compares the output with
# numpy, and reports the forward throughput.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${KILN_BUILD_DIR:-$root/build}
out=$build/examples/mlp_forward

"$root/scripts/setup.sh"
"$root/scripts/build.sh" kilnc kiln_runtime

mkdir -p "$out"
echo "== kilnc: mlp.mlir -> $out/mlp.o + mlp.h"
"$build/bin/kilnc" "$root/examples/mlp_forward/mlp.mlir" --emit=obj,header \
  -o "$out/mlp"
grep -E '^#define MLP_(PARAMS|IO|SCRATCH)_SIZE' "$out/mlp.h"

echo "== link with examples/mlp_forward/main.c and the runtime"
clang-19 -O2 -I"$out" -I"$root/runtime/include" \
  "$root/examples/mlp_forward/main.c" "$out/mlp.o" \
  "$build/runtime/libkiln_runtime.a" -lstdc++ -lm -lpthread \
  -o "$out/mlp_forward"

echo "== run and compare with numpy"
/usr/bin/python3 "$root/tests/e2e/mlp_forward_check.py" "$out/mlp_forward" \
  "$out/mlp.h" "$out/data"

echo "== forward throughput (batch 128, 200 calls)"
"$out/mlp_forward" "$out/data" 200
