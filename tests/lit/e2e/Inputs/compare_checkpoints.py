"""Compares the tensors of two kiln safetensors checkpoints.

Usage: compare_checkpoints.py A B [--rtol R] [--atol A] [--only PREFIX]

Reads both files with the safetensors layout (8-byte little-endian header
length, JSON header of name -> {dtype, shape, data_offsets}, raw data) in
numpy, independently of kiln, and checks every tensor of A against B
relative to B's scale: max |a - b| <= atol + rtol * max |b| (an element
near zero differs by float32 rounding of the larger ones it was summed
with, so elementwise relative differences say little there). Prints the
scaled and the worst elementwise relative difference per tensor; exits 1
when a tensor differs, is missing, or has another shape.
"""
import argparse
import json
import struct
import sys

import numpy as np

DTYPES = {"F32": np.float32, "F64": np.float64, "I32": np.int32,
          "I64": np.int64, "U8": np.uint8, "BOOL": np.bool_}


def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        out[name] = np.frombuffer(data[begin:end], DTYPES[info["dtype"]]) \
            .reshape(info["shape"])
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--rtol", type=float, default=1e-5)
    p.add_argument("--atol", type=float, default=0.0)
    p.add_argument("--only", default="")
    args = p.parse_args()
    a, b = read(args.a), read(args.b)
    bad = 0
    compared = 0
    for name in sorted(b):
        if not name.startswith(args.only):
            continue
        if name not in a or a[name].shape != b[name].shape:
            print(f"{name}: missing or another shape")
            bad += 1
            continue
        x = a[name].astype(np.float64)
        y = b[name].astype(np.float64)
        diff = np.abs(x - y)
        scale = float(np.max(np.abs(y))) if y.size else 0.0
        worst = float(np.max(diff)) if y.size else 0.0
        ok = worst <= args.atol + args.rtol * scale
        rel = float(np.max(diff / np.maximum(np.abs(y), 1e-30))) if y.size else 0.0
        print(f"{name}: max |a - b| / max |b| = "
              f"{worst / scale if scale else worst:.3g} (elementwise "
              f"{rel:.3g}){'' if ok else ' FAIL'}")
        bad += 0 if ok else 1
        compared += 1
    print(f"compared {compared} tensors, {bad} differ")
    sys.exit(1 if bad or compared == 0 else 0)


if __name__ == "__main__":
    main()
