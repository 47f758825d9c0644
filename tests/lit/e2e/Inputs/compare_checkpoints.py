"""Compares the tensors of two kiln safetensors checkpoints.

Usage: compare_checkpoints.py A B [--rtol R] [--atol A] [--only PREFIX]

Reads both files with tests/e2e/safetensors_read.py (numpy, independently
of kiln), and checks every tensor of A against B
relative to B's scale: max |a - b| <= atol + rtol * max |b| (an element
near zero differs by float32 rounding of the larger ones it was summed
with, so elementwise relative differences say little there). Prints the
scaled and the worst elementwise relative difference per tensor; exits 1
when a tensor differs, is missing, or has another shape.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../../e2e"))
import safetensors_read  # noqa: E402


def read(path):
    return safetensors_read.read(path)[0]


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
