"""Writes inputs for residual_functional.json's forward (argument order:
norm/mean, norm/variance, block/kernel, head/kernel, head/bias, features),
or, with --check, compares kilnc run's output with the Keras formulas in
numpy (Normalization, Dense tanh, Add, LeakyReLU 0.1, Dense sigmoid)."""
import sys

import numpy as np

out_dir = sys.argv[1]
rng = np.random.default_rng(0)
args = {
    "mean": rng.normal(size=8).astype(np.float32),
    "variance": rng.uniform(0.5, 2.0, size=8).astype(np.float32),
    "kernel": rng.normal(scale=0.3, size=(8, 8)).astype(np.float32),
    "head_kernel": rng.normal(scale=0.3, size=(8, 1)).astype(np.float32),
    "head_bias": rng.normal(size=1).astype(np.float32),
    "x": rng.normal(size=(16, 8)).astype(np.float32),
}
if "--check" not in sys.argv:
    for i, value in enumerate(args.values()):
        np.save(f"{out_dir}/arg{i}.npy", value)
    sys.exit(0)

a = {k: v.astype(np.float64) for k, v in args.items()}
norm = (a["x"] - a["mean"]) / np.maximum(np.sqrt(a["variance"]), 1e-7)
skip = norm + np.tanh(norm @ a["kernel"])
leaky = np.where(skip >= 0, skip, 0.1 * skip)
expected = 1 / (1 + np.exp(-(leaky @ a["head_kernel"] + a["head_bias"])))
got = np.load(f"{out_dir}/y.npy")
assert got.shape == expected.shape, (got.shape, expected.shape)
err = np.max(np.abs(got - expected) / np.maximum(np.abs(expected), 1e-6))
print(f"max relative error {err:.2e}")
assert err < 1e-5, err
print("PASS residual_functional vs numpy")
