"""Writes inputs for keras2_functional.json's forward (argument order:
proj/kernel, proj/bias, a, b), or, with --check, compares kilnc run's two
outputs with the Keras layer formulas in numpy."""
import math
import sys

import numpy as np

out_dir = sys.argv[1]
rng = np.random.default_rng(1)
args = [
    rng.normal(scale=0.5, size=(8, 3)).astype(np.float32),  # proj/kernel
    rng.normal(size=3).astype(np.float32),                   # proj/bias
    rng.normal(scale=3.0, size=(32, 4, 6)).astype(np.float32),  # a
    rng.normal(scale=3.0, size=(32, 24)).astype(np.float32),    # b
]
if "--check" not in sys.argv:
    for i, value in enumerate(args):
        np.save(f"{out_dir}/arg{i}.npy", value)
    sys.exit(0)

w, bias, a, b = (v.astype(np.float64) for v in args)
flat = (a * 0.5 - 1.0).reshape(32, 24)                 # Rescaling, Flatten
diff, prod = flat - b, flat * b                          # Subtract, Multiply
grid = np.concatenate([diff, prod], axis=-1).reshape(32, -1, 8)
relu6 = np.minimum(np.maximum(grid, 0), 6.0)             # ReLU(max_value=6)
pre = relu6 @ w + bias                                   # Dense on rank 3
erf = np.vectorize(math.erf)
gelu = 0.5 * pre * (1 + erf(pre / math.sqrt(2)))
e = np.exp(gelu - gelu.max(axis=1, keepdims=True))
attn = e / e.sum(axis=1, keepdims=True)                  # Softmax(axis=1)
norm = (attn - np.array([1.0, 2.0, 3.0])) / np.sqrt(4.0)
act = np.where(diff > 0, diff, np.expm1(diff))           # elu

worst = 0.0
for name, expected in (("norm", norm), ("act", act)):
    got = np.load(f"{out_dir}/{name}.npy")
    assert got.shape == expected.shape, (name, got.shape, expected.shape)
    # f32 against f64: relative 1e-5 plus 1e-5 absolute (Subtract cancels).
    err = np.max(np.abs(got - expected) / (1e-5 * np.abs(expected) + 1e-5))
    worst = max(worst, err)
print(f"max error / tolerance {worst:.2f}")
assert worst <= 1.0, worst
print("PASS keras2_functional vs numpy")
