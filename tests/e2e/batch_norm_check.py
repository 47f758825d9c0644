"""BatchNorm state in a generated program (tests/lit/e2e/batch_norm.test).

`make DIR` writes 6 rows (one full batch of 4, then a last batch of 2 that
the driver pads with 2 zero-weight rows); `check DIR EPOCHS` recomputes the
moving statistics of tests/lit/e2e/Inputs/batch_norm.mlir in float64 with
Keras' rule (momentum 0.5, biased batch variance over the real rows only,
batches in file order: fit runs with --no-shuffle) and compares them with
the checkpoint; then predict's output with the moving-statistics
normalization (Keras training=False), and the prediction of one row alone
with that row's prediction inside the full file."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_read  # noqa: E402

MOMENTUM, EPSILON, BATCH = 0.5, 1e-3, 4


def make(out):
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((6, 3)) * [1.0, 3.0, 0.5] + [0.0, 5.0, -2.0])
    x = x.astype(np.float32)
    y = x[:, :1] - x[:, 2:]
    np.save(os.path.join(out, "x.npy"), x)
    np.save(os.path.join(out, "y.npy"), y.astype(np.float32))
    np.save(os.path.join(out, "x1.npy"), x[4:5])


def check(out, epochs):
    x = np.load(os.path.join(out, "x.npy")).astype(np.float64)
    mean, var = np.zeros(3), np.ones(3)
    for _ in range(epochs):
        for start in range(0, len(x), BATCH):
            rows = x[start:start + BATCH]  # the real rows only
            mean = MOMENTUM * mean + (1 - MOMENTUM) * rows.mean(axis=0)
            var = MOMENTUM * var + (1 - MOMENTUM) * rows.var(axis=0)
    tensors, _ = safetensors_read.read(os.path.join(out, "ck.safetensors"))
    got_mean = tensors["params/bn/moving_mean"]
    got_var = tensors["params/bn/moving_variance"]
    err = max(np.abs(got_mean - mean).max(), np.abs(got_var - var).max())
    print("moving statistics error %.2e" % err)
    # Statistics of values of size ~5 in f32: a few ulp.
    assert err < 1e-5 * max(1.0, np.abs(mean).max(), var.max()), (
        got_mean, mean, got_var, var)
    # With the padding rows counted, the statistics would be far off.
    padded = x[4:6].tolist() + [[0, 0, 0]] * 2
    assert np.abs(np.mean(padded, axis=0) - x[4:6].mean(axis=0)).max() > 0.5

    g, b = tensors["params/bn/gamma"], tensors["params/bn/beta"]
    w = tensors["params/dense/kernel"]
    z = (x - got_mean) / np.sqrt(got_var.astype(np.float64) + EPSILON) * g + b
    reference = z @ w
    predicted = np.load(os.path.join(out, "p.npy"))
    perr = np.abs(predicted - reference).max()
    print("predict error %.2e" % perr)
    assert perr < 1e-4 * max(1.0, np.abs(reference).max()), (predicted,
                                                            reference)
    alone = np.load(os.path.join(out, "p1.npy"))
    print("alone vs in batch: %s" % np.array_equal(alone[0], predicted[4]))
    assert np.array_equal(alone[0], predicted[4]), (alone, predicted[4])
    print("PASS")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        check(sys.argv[2], int(sys.argv[3]))
