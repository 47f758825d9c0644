"""Stored Normalization statistics are not adapted again by fit (issue 14;
tests/lit/e2e/stored_normalization.test).

`make DIR` writes, with h5py in the layouts Keras writes (see
tests/lit/frontend/keras/Inputs/make_weights.py), a Keras 3 archive
DIR/norm.keras and a Keras 2 file DIR/norm.h5 of the model
Input[3] -> Normalization(axis=-1) -> Dense(1), loss mean_squared_error,
optimizer SGD, whose stored mean and variance are far from the training
data's statistics; and the data DIR/x.npy, DIR/y.npy.

`check DIR CKPT PRED stored|adapted` reads the checkpoint CKPT written by
`fit` and the predictions PRED of `predict --checkpoint CKPT`:
- stored: norm/mean and norm/variance equal the stored values (fit did not
  overwrite them with the data's statistics);
- adapted (--no-weights): they equal the data's mean and population
  variance (Keras' Normalization.adapt), the control that fit still adapts
  a layer without stored statistics;
and the predictions equal Keras' formula
(x - mean) / max(sqrt(variance), 1e-7) @ kernel + bias in float64 with the
checkpoint's kernel and bias."""
import io
import json
import os
import sys
import zipfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_read  # noqa: E402

MEAN = np.array([-1.0, 0.5, 2.0], np.float32)
VARIANCE = np.array([0.25, 4.0, 9.0], np.float32)


def make(out):
    import h5py

    rng = np.random.default_rng(14)
    kernel = rng.standard_normal((3, 1)).astype(np.float32)
    bias = np.array([0.1], np.float32)
    # Data statistics around 5 +- 2: far from MEAN / VARIANCE.
    x = (5 + 2 * rng.standard_normal((16, 3))).astype(np.float32)
    y = rng.standard_normal((16, 1)).astype(np.float32)
    np.save(os.path.join(out, "x.npy"), x)
    np.save(os.path.join(out, "y.npy"), y)
    count = np.array(100, np.int64)

    def layer(cls, name, **cfg):
        return {"module": "keras.layers", "class_name": cls,
                "config": {"name": name, "trainable": True, **cfg},
                "registered_name": None}

    config = {"module": "keras", "class_name": "Sequential",
              "config": {"name": "norm", "trainable": True, "layers": [
                  layer("InputLayer", "x", batch_shape=[None, 3],
                        dtype="float32"),
                  layer("Normalization", "norm", axis=-1, mean=None,
                        variance=None, invert=False),
                  layer("Dense", "out", units=1)]},
              "registered_name": None,
              "compile_config": {
                  "optimizer": {"module": "keras.optimizers",
                                "class_name": "SGD",
                                "config": {"name": "sgd",
                                           "learning_rate": 0.01},
                                "registered_name": None},
                  "loss": "mean_squared_error", "metrics": []}}
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.create_group("vars").attrs["name"] = "norm"
        # Keras 3 Normalization: adapt_mean, adapt_variance, count.
        for path, name, arrays in [
                ("layers/normalization", "norm", [MEAN, VARIANCE, count]),
                ("layers/dense", "out", [kernel, bias])]:
            g = f.create_group(path + "/vars")
            g.attrs["name"] = name
            for i, a in enumerate(arrays):
                g.create_dataset(str(i), data=a)
    with zipfile.ZipFile(os.path.join(out, "norm.keras"), "w") as z:
        z.writestr("config.json", json.dumps(config))
        z.writestr("metadata.json", json.dumps(
            {"keras_version": "3.5.0", "date_saved": "2026-12-07@23:00:00"}))
        z.writestr("model.weights.h5", buffer.getvalue())

    legacy = {"class_name": "Sequential", "config": {"name": "norm", "layers": [
        {"class_name": "InputLayer",
         "config": {"batch_input_shape": [None, 3], "dtype": "float32",
                    "name": "x"}},
        {"class_name": "Normalization",
         "config": {"name": "norm", "axis": -1, "mean": None,
                    "variance": None}},
        {"class_name": "Dense", "config": {"name": "out", "units": 1}}]}}
    training = {"loss": "mean_squared_error", "metrics": None,
                "weighted_metrics": None, "loss_weights": None,
                "optimizer_config": {"class_name": "SGD", "config": {
                    "name": "SGD", "learning_rate": 0.01}}}
    weights = {"x": [],
               "norm": [("mean:0", MEAN), ("variance:0", VARIANCE),
                        ("count:0", count)],
               "out": [("out/kernel:0", kernel), ("out/bias:0", bias)]}
    with h5py.File(os.path.join(out, "norm.h5"), "w") as f:
        f.attrs["keras_version"] = b"2.12.0"
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps(legacy).encode("utf8")
        f.attrs["training_config"] = json.dumps(training).encode("utf8")
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = [n.encode("utf8") for n in weights]
        for name, ws in weights.items():
            lg = g.create_group(name)
            lg.attrs["weight_names"] = np.array(
                [w.encode("utf8") for w, _ in ws], dtype="S")
            for w, a in ws:
                lg.create_dataset(w, data=a)


def check(out, ckpt, pred, mode):
    x = np.load(os.path.join(out, "x.npy")).astype(np.float64)
    tensors, _ = safetensors_read.read(ckpt)
    mean = tensors["params/norm/mean"].astype(np.float64)
    variance = tensors["params/norm/variance"].astype(np.float64)
    if mode == "stored":
        want_mean, want_variance = MEAN, VARIANCE
    else:
        want_mean, want_variance = x.mean(axis=0), x.var(axis=0)
    # The two sets of statistics differ, so one check tells them apart.
    assert np.abs(x.mean(axis=0) - MEAN).min() > 1, "data too close"
    err = max(np.abs(mean - want_mean).max(),
              np.abs(variance - want_variance).max())
    print("%s statistics error %.2e" % (mode, err))
    assert err < 1e-5, (mean, variance, want_mean, want_variance)
    kernel = tensors["params/out/kernel"].astype(np.float64)
    bias = tensors["params/out/bias"].astype(np.float64)
    reference = (x - mean) / np.maximum(np.sqrt(variance), 1e-7) @ kernel + bias
    predicted = np.load(pred)
    perr = np.abs(predicted - reference).max()
    print("predict error %.2e" % perr)
    assert perr < 1e-4, (predicted, reference)
    print("PASS")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        check(*sys.argv[2:6])
