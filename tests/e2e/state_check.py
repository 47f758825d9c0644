"""Non-trainable state in a generated program (tests/lit/e2e/state.test).

`make DIR` writes the data; `check DIR EPOCHS` checks the checkpoint and the
predictions of tests/lit/e2e/Inputs/running_sum.mlir after `fit --epochs
EPOCHS`: the state `stats/sum` is saved under params/ and equals EPOCHS
times the column sums of the training inputs (every row is seen once per
epoch; padding rows are zeros), it has no optimizer slots, and predict
reads it: y = x w + 0.001 * sum(stats/sum)."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_read  # noqa: E402

N = 20  # 2 full batches of 8 and one padded batch of 4


def make(out):
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 2, size=(N, 4)).astype(np.float32)
    y = (x @ np.array([[0.5], [-1.0], [0.25], [2.0]], np.float32)).astype(
        np.float32)
    np.save(os.path.join(out, "x.npy"), x)
    np.save(os.path.join(out, "y.npy"), y)


def check(out, epochs):
    x = np.load(os.path.join(out, "x.npy"))
    tensors, metadata = safetensors_read.read(
        os.path.join(out, "ck.safetensors"))
    assert metadata["epoch"] == str(epochs), metadata
    state = tensors["params/stats/sum"]
    expected = epochs * x.astype(np.float64).sum(axis=0)
    err = np.abs(state - expected).max() / np.abs(expected).max()
    print("state error %.2e" % err)
    assert err < 1e-5, (state, expected)
    assert not any(k.startswith("opt_state/stats") for k in tensors), tensors
    w = tensors["params/linear/kernel"]
    assert np.abs(w).max() > 0, "the kernel was not trained"
    predicted = np.load(os.path.join(out, "p.npy"))
    reference = x @ w + np.float32(1e-3) * state.sum()
    perr = np.abs(predicted - reference).max()
    print("predict error %.2e" % perr)
    assert perr < 1e-4, (predicted, reference)
    print("PASS")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        check(sys.argv[2], int(sys.argv[3]))
