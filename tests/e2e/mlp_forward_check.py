#!/usr/bin/python3
"""Checks the kiln-compiled MLP forward pass (examples/mlp_forward) against
numpy, and the memory plan its header reports.

Usage: mlp_forward_check.py BINARY HEADER WORKDIR

Writes seeded random parameters (Glorot-uniform, as Keras initializes Dense
kernels; biases uniform in [-0.1, 0.1]) and an input batch in [0, 1) as raw
f32 files, runs BINARY (examples/mlp_forward/main.c linked with the
generated object), and compares its probabilities with a float64 numpy
forward pass: relu(x W0 + b0) -> relu(. W1 + b1) -> softmax(. W2 + b2).
Tolerance: 1e-5 relative per element (f32 GEMMs over K <= 784 and an f32
softmax stay within a few 1e-7 relative of the float64 result).
Also asserts that the header states a scratch arena smaller than the sum of
the temporaries (liveness-based sharing). Prints PASS or exits non-zero.
"""
import os
import re
import subprocess
import sys

import numpy as np

LAYERS = [("dense", 784, 512), ("dense_1", 512, 512), ("dense_2", 512, 10)]
BATCH = 128
RTOL = 1e-5


def glorot_uniform(rng, fan_in, fan_out):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))


def reference_forward(params, x):
    h = x
    for i, (name, _, _) in enumerate(LAYERS):
        h = h @ params[name + "_kernel"] + params[name + "_bias"]
        if i < len(LAYERS) - 1:
            h = np.maximum(h, 0.0)
    h = h - h.max(axis=1, keepdims=True)
    e = np.exp(h)
    return e / e.sum(axis=1, keepdims=True)


def main():
    binary, header, workdir = sys.argv[1:4]
    os.makedirs(workdir, exist_ok=True)
    rng = np.random.default_rng(20261130)
    params = {}
    for name, fan_in, fan_out in LAYERS:
        params[name + "_kernel"] = glorot_uniform(rng, fan_in, fan_out)
        params[name + "_bias"] = rng.uniform(-0.1, 0.1, size=fan_out)
    x = rng.uniform(0.0, 1.0, size=(BATCH, 784))
    # The compiled code sees the f32-rounded values; so does the reference.
    params = {k: v.astype(np.float32) for k, v in params.items()}
    x = x.astype(np.float32)
    for name, value in params.items():
        value.tofile(os.path.join(workdir, name + ".f32"))
    x.tofile(os.path.join(workdir, "x.f32"))

    subprocess.run([binary, workdir], check=True)
    got = np.fromfile(os.path.join(workdir, "probabilities.f32"),
                      dtype=np.float32).reshape(BATCH, 10)
    want = reference_forward({k: v.astype(np.float64)
                              for k, v in params.items()},
                             x.astype(np.float64))
    rel = np.abs(got - want) / np.abs(want)
    print(f"max relative error {rel.max():.3e} (tolerance {RTOL:g})")
    assert np.all(np.isfinite(got)), "non-finite output"
    assert rel.max() <= RTOL, f"relative error {rel.max()} > {RTOL}"
    assert np.allclose(got.sum(axis=1), 1.0, rtol=1e-5), "rows must sum to 1"

    text = open(header).read()
    arena = int(re.search(r"#define MLP_FORWARD_SCRATCH_SIZE (\d+)", text)[1])
    unshared = int(re.search(r"temporaries that would take (\d+) B", text)[1])
    print(f"scratch arena {arena} B, temporaries {unshared} B unshared")
    assert 0 < arena < unshared, "the memory plan shared no bytes"
    print("PASS")


if __name__ == "__main__":
    main()
