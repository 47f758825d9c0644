"""Writes Keras model files with stored weights, and numpy predictions.

Keras and TensorFlow are not installable here, so the files are built with
h5py following the layouts Keras writes exactly:

- Keras 3 `.keras` archives (keras/src/saving/saving_lib.py): a zip of
  config.json, metadata.json and model.weights.h5, whose groups are
  `vars` (the model's own, attribute `name`), `layers/<snake_case class
  name>[_N]/vars/<i>` per layer of model.layers (H5IOStore.make with the
  layer's name as metadata), nested layers under their attribute names
  (`cell` of recurrent layers, `forward_layer` / `backward_layer` of
  Bidirectional), and `optimizer/vars/<i>` (iteration, learning_rate, then
  each trainable variable's slots);
- Keras 2 `.h5` files (legacy hdf5_format.save_model_to_hdf5): root
  attributes `model_config` and `training_config` (JSON, bytes),
  `model_weights` with `layer_names`, and per layer `weight_names` and
  datasets `model_weights/<layer>/<weight name>`; the layer names are
  split into `layer_names0`, `layer_names1` as Keras does above 64 KB.

The expected predictions are the Keras layer formulas in float64 numpy.

Usage: make_weights.py DIR            writes DIR/<model>.keras|.h5,
                                      DIR/<model>.x.npy, <model>.expected.npy
       make_weights.py DIR --check M  compares DIR/M.pred.npy to
                                      DIR/M.expected.npy
"""

import io
import json
import sys
import zipfile

import h5py
import numpy as np

DIR = sys.argv[1]
rng = np.random.default_rng(14)


def rand(*shape, scale=0.5):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def sig(x):
    return 1 / (1 + np.exp(-x))


def layer(cls, name, **cfg):
    return {"module": "keras.layers", "class_name": cls,
            "config": {"name": name, "trainable": True, **cfg},
            "registered_name": None}


def sequential(name, layers, compile_config=None):
    config = {"module": "keras", "class_name": "Sequential",
              "config": {"name": name, "trainable": True, "layers": layers},
              "registered_name": None}
    if compile_config:
        config["compile_config"] = compile_config
    return config


ADAM = {"optimizer": {"module": "keras.optimizers", "class_name": "Adam",
                      "config": {"name": "adam", "learning_rate": 0.01},
                      "registered_name": None},
        "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}


def write_keras(name, config, groups, optimizer=None):
    """groups: [(path, layer name, [arrays])] in model.layers order."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.create_group("vars").attrs["name"] = config["config"]["name"]
        for path, layer_name, arrays in groups:
            g = f.create_group(path + "/vars")
            if layer_name:
                g.attrs["name"] = layer_name
            for i, a in enumerate(arrays):
                g.create_dataset(str(i), data=a)
        if optimizer is not None:
            g = f.create_group("optimizer/vars")
            g.attrs["name"] = "adam"
            for i, a in enumerate(optimizer):
                g.create_dataset(str(i), data=a)
    with zipfile.ZipFile(f"{DIR}/{name}.keras", "w") as z:
        z.writestr("config.json", json.dumps(config))
        z.writestr("metadata.json", json.dumps(
            {"keras_version": "3.5.0", "date_saved": "2026-12-07@19:00:00"}))
        z.writestr("model.weights.h5", buffer.getvalue())


def save(name, x, y):
    np.save(f"{DIR}/{name}.x.npy", x.astype(np.float32))
    np.save(f"{DIR}/{name}.expected.npy", y)
    # Training targets for the export tests (fit moves every variable).
    np.save(f"{DIR}/{name}.y.npy", rand(*y.shape, scale=1.0))


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def lstm(x, k, rk, b, seq):
    n, t, _ = x.shape
    u = rk.shape[0]
    h = np.zeros((n, u))
    c = np.zeros((n, u))
    outs = []
    for s in range(t):
        z = x[:, s] @ k + h @ rk + b
        i, f, cc, o = np.split(z, 4, axis=1)  # Keras' gate order
        c = sig(f) * c + sig(i) * np.tanh(cc)
        h = sig(o) * np.tanh(c)
        outs.append(h)
    return np.stack(outs, 1) if seq else h


def gru(x, k, rk, b, backwards=False):
    # reset_after=True (the Keras 3 default): bias [2, 3u], gates z, r, h.
    n, t, _ = x.shape
    h = np.zeros((n, rk.shape[0]))
    steps = range(t - 1, -1, -1) if backwards else range(t)
    for s in steps:
        xz, xr, xh = np.split(x[:, s] @ k + b[0], 3, axis=1)
        hz, hr, hh = np.split(h @ rk + b[1], 3, axis=1)
        z = sig(xz + hz)
        r = sig(xr + hr)
        h = z * h + (1 - z) * np.tanh(xh + r * hh)
    return h


def adam_slots(arrays):
    """Keras 3 Adam's variables: iteration, learning_rate, then per
    trainable variable its momentum and velocity."""
    out = [np.array(7, dtype=np.int64), np.array(0.01, dtype=np.float32)]
    for a in arrays:
        out += [rand(*a.shape, scale=0.01), np.abs(rand(*a.shape, scale=0.01))]
    return out


if len(sys.argv) > 2 and sys.argv[2] == "--check":
    name = sys.argv[3]
    got = np.load(f"{DIR}/{name}.pred.npy").astype(np.float64)
    want = np.load(f"{DIR}/{name}.expected.npy")
    assert got.shape == want.shape, (got.shape, want.shape)
    err = np.max(np.abs(got - want) / (1e-5 + np.abs(want)))
    ok = np.allclose(got, want, rtol=1e-5, atol=1e-5)
    print(f"{'PASS' if ok else 'FAIL'} {name} vs numpy "
          f"(max rel err {err:.2e})")
    sys.exit(0 if ok else 1)

# --- A Dense MLP (Sequential, Dropout between), Adam state included. ---
w1, b1, w2, b2 = rand(4, 8), rand(8), rand(8, 3), rand(3)
mlp = sequential("mlp", [
    layer("InputLayer", "features", batch_shape=[None, 4], dtype="float32"),
    layer("Dense", "hidden", units=8, activation="relu"),
    layer("Dropout", "drop", rate=0.5),
    layer("Dense", "probs", units=3, activation="softmax"),
], ADAM)
write_keras("mlp", mlp, [("layers/input_layer", "features", []),
                         ("layers/dense", "hidden", [w1, b1]),
                         ("layers/dropout", "drop", []),
                         ("layers/dense_1", "probs", [w2, b2])],
            adam_slots([w1, b1, w2, b2]))
x = rand(10, 4, scale=1.0)
save("mlp", x, softmax(np.maximum(x @ w1 + b1, 0) @ w2 + b2))

# The same model with one stored kernel of the wrong shape, one variable
# missing, and one variable too many.
write_keras("mlp_bad_shape", mlp, [("layers/dense", "hidden", [rand(4, 7), b1]),
                                   ("layers/dense_1", "probs", [w2, b2])])
write_keras("mlp_missing", mlp, [("layers/dense", "hidden", [w1, b1]),
                                 ("layers/dense_1", "probs", [w2])])
write_keras("mlp_extra", mlp, [("layers/dense", "hidden", [w1, b1]),
                               ("layers/dense_1", "probs", [w2, b2]),
                               ("layers/dense_2", "more", [w2])])
with zipfile.ZipFile(f"{DIR}/mlp_not_hdf5.keras", "w") as z:
    z.writestr("config.json", json.dumps(mlp))
    z.writestr("model.weights.h5", b"not an HDF5 file at all" * 4)

# --- Conv2D + BatchNormalization (moving statistics are state) + Dense. ---
k, kb = rand(3, 3, 2, 3), rand(3)
gamma, beta = 1 + rand(3, scale=0.1), rand(3, scale=0.1)
mean, var = rand(3, scale=0.1), 0.5 + np.abs(rand(3))
wd, bd = rand(6 * 6 * 3, 2, scale=0.2), rand(2)
conv = sequential("convbn", [
    layer("InputLayer", "image", batch_shape=[None, 6, 6, 2], dtype="float32"),
    layer("Conv2D", "conv", filters=3, kernel_size=[3, 3], padding="same",
          activation="relu"),
    layer("BatchNormalization", "bn"),
    layer("Flatten", "flat"),
    layer("Dense", "out", units=2),
], {**ADAM, "loss": "mean_squared_error", "metrics": []})
write_keras("convbn", conv, [("layers/conv2d", "conv", [k, kb]),
                             ("layers/batch_normalization", "bn",
                              [gamma, beta, mean, var]),
                             ("layers/flatten", "flat", []),
                             ("layers/dense", "out", [wd, bd])])
x = rand(5, 6, 6, 2, scale=1.0)
xp = np.pad(x.astype(np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)))
y = np.zeros((5, 6, 6, 3))
for i in range(6):
    for j in range(6):
        y[:, i, j] = np.einsum("nabc,abcf->nf", xp[:, i:i + 3, j:j + 3], k)
y = np.maximum(y + kb, 0)
y = (y - mean) / np.sqrt(var + 1e-3) * gamma + beta
save("convbn", x, y.reshape(5, -1) @ wd + bd)

# --- LSTM (sequences) -> Bidirectional(GRU) -> Dense. ---
lk, lrk, lb = rand(3, 16), rand(4, 16), rand(16)
gk, grk, gb = rand(4, 9), rand(3, 9), rand(2, 9)
hk, hrk, hb = rand(4, 9), rand(3, 9), rand(2, 9)
wo, bo = rand(6, 2), rand(2)
gru_config = {"module": "keras.layers", "class_name": "GRU",
              "config": {"name": "gru", "units": 3}, "registered_name": None}
rnn = sequential("rnn", [
    layer("InputLayer", "steps", batch_shape=[None, 5, 3], dtype="float32"),
    layer("LSTM", "lstm", units=4, return_sequences=True),
    layer("Bidirectional", "bidi", layer=gru_config, merge_mode="concat"),
    layer("Dense", "out", units=2),
], {**ADAM, "loss": "mean_squared_error", "metrics": []})
write_keras("rnn", rnn, [
    ("layers/lstm", "lstm", []), ("layers/lstm/cell", "lstm_cell", [lk, lrk, lb]),
    ("layers/bidirectional", "bidi", []),
    ("layers/bidirectional/forward_layer", "forward_gru", []),
    ("layers/bidirectional/forward_layer/cell", "gru_cell", [gk, grk, gb]),
    ("layers/bidirectional/backward_layer", "backward_gru", []),
    ("layers/bidirectional/backward_layer/cell", "gru_cell", [hk, hrk, hb]),
    ("layers/dense", "out", [wo, bo])])
x = rand(6, 5, 3, scale=1.0)
s = lstm(x.astype(np.float64), lk, lrk, lb, True)
both = np.concatenate([gru(s, gk, grk, gb), gru(s, hk, hrk, hb, True)], -1)
save("rnn", x, both @ wo + bo)

# --- A Keras 2 .h5 file: LSTM -> Dense -> BatchNormalization -> Dense. ---
rk_, rrk, rb = rand(3, 12), rand(3, 12), rand(12)
d1, d1b = rand(3, 5), rand(5)
g2, b2_, m2, v2 = 1 + rand(5, scale=0.1), rand(5, scale=0.1), rand(5, scale=0.1), 0.5 + np.abs(rand(5))
d2, d2b = rand(5, 2), rand(2)
legacy = {"class_name": "Sequential", "config": {"name": "legacy", "layers": [
    {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4, 3],
                                            "dtype": "float32", "name": "input_1"}},
    {"class_name": "LSTM", "config": {"name": "rec", "units": 3}},
    {"class_name": "Dense", "config": {"name": "d1", "units": 5, "activation": "tanh"}},
    {"class_name": "BatchNormalization", "config": {"name": "bn", "axis": -1,
                                                    "epsilon": 0.001}},
    {"class_name": "Dense", "config": {"name": "out", "units": 2,
                                       "activation": "softmax"}}]}}
training = {"loss": "sparse_categorical_crossentropy",
            "metrics": [[{"class_name": "MeanMetricWrapper",
                          "config": {"name": "accuracy", "dtype": "float32"}}]],
            "weighted_metrics": None, "loss_weights": None,
            "optimizer_config": {"class_name": "Adam", "config": {
                "name": "Adam", "learning_rate": 0.002, "beta_1": 0.9,
                "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False}}}
weights = {"input_1": [], "rec": [("rec/lstm_cell/kernel:0", rk_),
                                  ("rec/lstm_cell/recurrent_kernel:0", rrk),
                                  ("rec/lstm_cell/bias:0", rb)],
           "d1": [("d1/kernel:0", d1), ("d1/bias:0", d1b)],
           "bn": [("bn/gamma:0", g2), ("bn/beta:0", b2_),
                  ("bn/moving_mean:0", m2), ("bn/moving_variance:0", v2)],
           "out": [("out/kernel:0", d2), ("out/bias:0", d2b)]}


def write_legacy(name, weights, config=legacy):
    with h5py.File(f"{DIR}/{name}.h5", "w") as f:
        f.attrs["keras_version"] = b"2.12.0"
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps(config).encode("utf8")
        f.attrs["training_config"] = json.dumps(training).encode("utf8")
        g = f.create_group("model_weights")
        names = [n.encode("utf8") for n in weights]
        # Split as save_attributes_to_hdf5_group does above 64 KB.
        g.attrs["layer_names0"] = names[:2]
        g.attrs["layer_names1"] = names[2:]
        for layer_name, ws in weights.items():
            lg = g.create_group(layer_name)
            lg.attrs["weight_names"] = np.array([w.encode("utf8") for w, _ in ws],
                                                dtype="S")
            for w, a in ws:
                lg.create_dataset(w, data=a)


write_legacy("legacy", weights)
write_legacy("legacy_short", {**weights, "d1": weights["d1"][:1]})
x = rand(7, 4, 3, scale=1.0)
h = np.tanh(lstm(x.astype(np.float64), rk_, rrk, rb, False) @ d1 + d1b)
h = (h - m2) / np.sqrt(v2 + 1e-3) * g2 + b2_
save("legacy", x, softmax(h @ d2 + d2b))
print("wrote", DIR)
