"""Writes seq_layers.json (Input [4, 5] -> RepeatVector(3) -> LSTM(6,
return_sequences) -> TimeDistributed(Dense(2)) -> Permute((2, 1)) -> Flatten
-> Dense(1)) and its forward inputs (argument order: lstm/kernel,
lstm/recurrent_kernel, lstm/bias, td/dense/kernel, td/dense/bias,
out/kernel, out/bias, x), or, with --check, compares kilnc run's output
with the Keras formulas in numpy (float64)."""
import json
import sys

import numpy as np

out_dir = sys.argv[1]
config = {"class_name": "Sequential", "config": {"name": "seq", "layers": [
    {"class_name": "InputLayer", "config": {"batch_shape": [4, 5], "name": "x"}},
    {"class_name": "RepeatVector", "config": {"name": "repeat", "n": 3}},
    {"class_name": "LSTM", "config": {"name": "lstm", "units": 6,
                                      "return_sequences": True}},
    {"class_name": "TimeDistributed", "config": {"name": "td", "layer": {
        "class_name": "Dense", "config": {"name": "dense", "units": 2}}}},
    {"class_name": "Permute", "config": {"name": "permute", "dims": [2, 1]}},
    {"class_name": "Flatten", "config": {"name": "flatten"}},
    {"class_name": "Dense", "config": {"name": "out", "units": 1}}]}}
rng = np.random.default_rng(0)
args = [rng.uniform(-0.5, 0.5, s).astype(np.float32) for s in
        [(5, 24), (6, 24), (24,), (6, 2), (2,), (6, 1), (1,), (4, 5)]]
if "--check" not in sys.argv:
    with open(f"{out_dir}/seq_layers.json", "w") as f:
        json.dump(config, f)
    for i, value in enumerate(args):
        np.save(f"{out_dir}/arg{i}.npy", value)
    sys.exit(0)

k, rk, b, dk, db, ok, ob, x = (a.astype(np.float64) for a in args)
sig = lambda v: 1 / (1 + np.exp(-v))
seq = np.repeat(x[:, None, :], 3, axis=1)          # RepeatVector
h = np.zeros((4, 6))
c = np.zeros((4, 6))
states = []
for t in range(3):                                 # Keras LSTM (i, f, c, o)
    z = seq[:, t] @ k + h @ rk + b
    i, f, g, o = np.split(z, 4, axis=1)
    c = sig(f) * c + sig(i) * np.tanh(g)
    h = sig(o) * np.tanh(c)
    states.append(h)
y = np.stack(states, axis=1) @ dk + db              # TimeDistributed(Dense)
y = y.transpose(0, 2, 1).reshape(4, -1)             # Permute((2, 1)), Flatten
expected = y @ ok + ob
got = np.load(f"{out_dir}/y.npy")
assert got.shape == expected.shape, (got.shape, expected.shape)
err = np.max(np.abs(got - expected) / np.maximum(np.abs(expected), 1e-3))
print(f"max relative error {err:.2e}")
assert err < 1e-5, err
print("PASS seq_layers vs numpy")
