"""Writes Keras 3 `.keras` archives and Keras 2 `.h5` files (at the end)
with a stored optimizer state, and checks
kiln's first training step from that state against numpy references of
Keras' optimizers.

Keras and TensorFlow are not installable here, so the archives are built
with h5py following keras/src/saving/saving_lib.py and
keras/src/optimizers/base_optimizer.py exactly: `optimizer/vars/<i>` holds
the optimizer's variables in tracking order, `iteration` (integer, 0),
`learning_rate` (float32, 1), then the slots build() adds for
model.trainable_variables (the layers in order, each layer's kernel then
bias):
- Adam (adam.py, add_optimizer_variables with ["momentum", "velocity"]):
  interleaved per variable, m0, v0, m1, v1, ...
- RMSprop (rmsprop.py, one add_optimizer_variables call per kind): every
  velocity, then every momentum (momentum > 0), then every
  average_gradient (centered);
- SGD (sgd.py): every momentum (momentum != 0).

The model: Dense(3, tanh) then Dense(2), mean squared error. The stored
weights and slots are those after N steps of the numpy reference on random
batches; the check is the next step on the batch `<model>.x.npy` /
`<model>.y.npy` (8 rows, one step of `fit`): parameters and slots within
1e-6 relative (see check) and the step counter 6, with Keras' formulas in
float64 (Keras' update_step; the constants rounded to float32 as Keras
rounds them to the variable's dtype: beta, rho, mu, lr, eps, and 1 - beta,
1 - rho computed from the Python floats):
- Adam: t = iterations + 1; m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2);
  w -= lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps)
- RMSprop: v = rho v + (1 - rho) g^2; centered: a = rho a + (1 - rho) g,
  d = v - a^2 + eps (else v + eps); inc = lr g / sqrt(d);
  momentum: mom = mu mom + inc, w -= mom (else w -= inc)
- SGD: m = mu m - lr g; w += m

Usage: make_optimizer_state.py DIR              writes the archives
       make_optimizer_state.py DIR --check M CK  compares the checkpoint CK
                                 (after one fit step) with the reference
       make_optimizer_state.py DIR --step CK     prints CK's step counter
"""

import io
import json
import os
import sys
import zipfile

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../../../e2e"))
import safetensors_read  # noqa: E402

DIR = sys.argv[1]
rng = np.random.default_rng(1414)
N_BEFORE = 5  # steps Keras "ran" before saving: iterations = 5
F32 = lambda v: float(np.float32(v))  # noqa: E731

OPTIMIZERS = {
    "adam": {"class_name": "Adam",
             "config": {"name": "adam", "learning_rate": 0.01,
                        "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}},
    "rmsprop": {"class_name": "RMSprop",
                "config": {"name": "rmsprop", "learning_rate": 0.01,
                           "rho": 0.9, "momentum": 0.5, "epsilon": 1e-7,
                           "centered": True}},
    "sgd": {"class_name": "SGD",
            "config": {"name": "SGD", "learning_rate": 0.05,
                       "momentum": 0.9, "nesterov": False}},
}
PARAMS = ["hidden/kernel", "hidden/bias", "out/kernel", "out/bias"]


def config(kind):
    opt = {"module": "keras.optimizers", "registered_name": None,
           **OPTIMIZERS[kind]}

    def layer(cls, name, **cfg):
        return {"module": "keras.layers", "class_name": cls,
                "config": {"name": name, "trainable": True, **cfg},
                "registered_name": None}
    return {"module": "keras", "class_name": "Sequential",
            "registered_name": None,
            "config": {"name": kind, "trainable": True, "layers": [
                layer("InputLayer", "features", batch_shape=[None, 4],
                      dtype="float32"),
                layer("Dense", "hidden", units=3, activation="tanh"),
                layer("Dense", "out", units=2)]},
            "compile_config": {"optimizer": opt, "loss": "mean_squared_error",
                               "metrics": []}}


def grads(w, x, y):
    """Gradients of Keras' mean_squared_error (mean over all elements)."""
    k1, b1, k2, b2 = w
    h = np.tanh(x @ k1 + b1)
    out = h @ k2 + b2
    d = 2 * (out - y) / out.size
    dh = (d @ k2.T) * (1 - h * h)
    return [x.T @ dh, dh.sum(0), h.T @ d, d.sum(0)]


def step(kind, w, slots, t, x, y):
    """One Keras update_step of every variable; t = iterations + 1."""
    c = OPTIMIZERS[kind]["config"]
    lr = F32(c["learning_rate"])
    g = grads(w, x, y)
    w = [a.copy() for a in w]
    if kind == "adam":
        b1, b2, eps = F32(c["beta_1"]), F32(c["beta_2"]), F32(c["epsilon"])
        alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        for i in range(4):
            m, v = slots["m"][i], slots["v"][i]
            m += (g[i] - m) * F32(1 - c["beta_1"])
            v += (g[i] ** 2 - v) * F32(1 - c["beta_2"])
            w[i] -= alpha * m / (np.sqrt(v) + eps)
    elif kind == "rmsprop":
        rho, mu, eps = F32(c["rho"]), F32(c["momentum"]), F32(c["epsilon"])
        one_minus_rho = F32(1 - c["rho"])
        for i in range(4):
            v, mom, a = (slots[s][i] for s in
                         ("velocity", "momentum", "average_gradient"))
            v[...] = rho * v + one_minus_rho * g[i] ** 2
            a[...] = rho * a + one_minus_rho * g[i]
            inc = lr * g[i] / np.sqrt(v - a ** 2 + eps)
            mom[...] = mu * mom + inc
            w[i] -= mom
    else:
        mu = F32(c["momentum"])
        for i in range(4):
            m = slots["momentum"][i]
            m[...] = mu * m - lr * g[i]
            w[i] += m
    return w


def slot_names(kind):
    return {"adam": ["m", "v"],
            "rmsprop": ["velocity", "momentum", "average_gradient"],
            "sgd": ["momentum"]}[kind]


def keras_order(kind, slots):
    """The slot arrays in optimizer/vars order (after iteration and
    learning_rate)."""
    if kind == "adam":  # interleaved per variable
        return [slots[s][i] for i in range(4) for s in ("m", "v")]
    return [slots[s][i] for s in slot_names(kind) for i in range(4)]


class Huge:
    """A float32 dataset of `shape` with no values written (chunked: a few
    bytes on disk whatever the shape claims)."""

    def __init__(self, shape):
        self.shape = shape


def create(group, name, a):
    if isinstance(a, Huge):
        group.create_dataset(name, shape=a.shape, dtype="f4", chunks=(1024,))
    else:
        group.create_dataset(name, data=a)


def write(name, kind, w, variables):
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.create_group("vars").attrs["name"] = kind
        for path, lname, arrays in [("layers/input_layer", "features", []),
                                    ("layers/dense", "hidden", w[:2]),
                                    ("layers/dense_1", "out", w[2:])]:
            g = f.create_group(path + "/vars")
            g.attrs["name"] = lname
            for i, a in enumerate(arrays):
                g.create_dataset(str(i), data=np.float32(a))
        g = f.create_group("optimizer/vars")
        g.attrs["name"] = kind
        for i, a in enumerate(variables):
            create(g, str(i), a)
    with zipfile.ZipFile(f"{DIR}/{name}.keras", "w") as z:
        z.writestr("config.json", json.dumps(config(kind)))
        z.writestr("metadata.json", json.dumps(
            {"keras_version": "3.5.0", "date_saved": "2026-12-08@03:00:00"}))
        z.writestr("model.weights.h5", buffer.getvalue())


def state_after_steps(kind):
    """Weights and slots (float32, as Keras stores them) after N_BEFORE
    reference steps from random weights on random batches."""
    w = [rng.standard_normal(s) * 0.5 for s in [(4, 3), (3,), (3, 2), (2,)]]
    slots = {s: [np.zeros_like(a) for a in w] for s in slot_names(kind)}
    for t in range(1, N_BEFORE + 1):
        x = rng.standard_normal((8, 4))
        y = rng.standard_normal((8, 2))
        w = step(kind, w, slots, t, x, y)
    w = [np.float32(a) for a in w]
    slots = {s: [np.float32(a) for a in v] for s, v in slots.items()}
    return w, slots


def check(name, checkpoint):
    kind = name.split("_")[0]  # adam_schedule: the adam model's arrays
    w = [np.load(f"{DIR}/{kind}.w{i}.npy").astype(np.float64)
         for i in range(4)]
    slots = {s: [np.load(f"{DIR}/{kind}.{s}{i}.npy").astype(np.float64)
                 for i in range(4)] for s in slot_names(kind)}
    x = np.load(f"{DIR}/{kind}.x.npy").astype(np.float64)
    y = np.load(f"{DIR}/{kind}.y.npy").astype(np.float64)
    want = step(kind, w, slots, N_BEFORE + 1, x, y)
    tensors, _ = safetensors_read.read(checkpoint)
    # Parameters: each element's error relative to its magnitude (at least
    # 0.01 so that a parameter near zero does not divide by ~0). Slots
    # (EMAs of gradients, many elements near zero): the largest error
    # relative to the tensor's largest magnitude.
    worst = worst_slot = 0.0
    for i, p in enumerate(PARAMS):
        got = tensors[f"params/{p}"].astype(np.float64)
        worst = max(worst, np.max(np.abs(got - want[i]) /
                                  np.maximum(np.abs(want[i]), 1e-2)))
        for s in slot_names(kind):
            got = tensors[f"opt_state/{p}/{kiln_slot(kind, s)}"]
            ref = slots[s][i]
            worst_slot = max(worst_slot, np.max(np.abs(got - ref)) /
                             np.max(np.abs(ref)))
    steps = float(tensors["opt_state/step"])
    ok = worst < 1e-6 and worst_slot < 1e-6 and steps == N_BEFORE + 1
    print(f"{'PASS' if ok else 'FAIL'} {name}: step {steps:g}, params max "
          f"rel err {worst:.1e}, slots {worst_slot:.1e}")
    return ok


def kiln_slot(kind, s):
    return {"velocity": "mean_square", "average_gradient": "mean_gradient"
            }.get(s, s)


if len(sys.argv) > 2 and sys.argv[2] == "--step":
    print(f"step {float(safetensors_read.read(sys.argv[3])[0]['opt_state/step']):g}")
    sys.exit(0)
if len(sys.argv) > 2 and sys.argv[2] == "--check":
    sys.exit(0 if check(sys.argv[3], sys.argv[4]) else 1)

states = {}
for kind in OPTIMIZERS:
    w, slots = states[kind] = state_after_steps(kind)
    lr = np.float32(OPTIMIZERS[kind]["config"]["learning_rate"])
    variables = ([np.array(N_BEFORE, dtype=np.int64), lr]
                 + keras_order(kind, slots))
    write(kind, kind, w, variables)
    for i in range(4):
        np.save(f"{DIR}/{kind}.w{i}.npy", w[i])
        for s in slot_names(kind):
            np.save(f"{DIR}/{kind}.{s}{i}.npy", slots[s][i])
    np.save(f"{DIR}/{kind}.x.npy", np.float32(rng.standard_normal((8, 4))))
    np.save(f"{DIR}/{kind}.y.npy", np.float32(rng.standard_normal((8, 2))))

# Error cases, on the Adam model.
w, slots = states["adam"]
good = ([np.array(N_BEFORE, dtype=np.int64), np.float32(0.01)]
        + keras_order("adam", slots))
# Slots per kind (every m, then every v): Keras never wrote this for Adam,
# and the first v lands on the second parameter's m.
blocks = good[:2] + [slots[s][i] for s in ("m", "v") for i in range(4)]
write("adam_by_kind", "adam", w, blocks)
write("adam_short", "adam", w, good[:-1])
write("adam_float_iteration", "adam", w,
      [np.float32(N_BEFORE)] + good[1:])
nan = [a.copy() for a in good]
nan[5][1] = np.nan
write("adam_nan", "adam", w, nan)
# A slot claiming 2^40 elements (4 TiB; a few bytes in the file).
huge = list(good)
huge[2] = Huge((2 ** 40,))
write("adam_huge", "adam", w, huge)
# With a learning-rate schedule Keras stores no learning_rate variable.
write("adam_schedule", "adam", w, good[:1] + good[2:])
# Compiled, never trained: the optimizer was not built.
write("adam_unbuilt", "adam", w, [np.array(0, dtype=np.int64), good[1]])

# Keras 2 .h5 files (tf_keras/saving/legacy/hdf5_format.py,
# save_model_to_hdf5 with include_optimizer=True): the group
# optimizer_weights, its attribute weight_names, one dataset per name.
# Legacy optimizers (optimizer_v2: TF < 2.11, tf.keras.optimizers.legacy)
# hold `<Opt>/iter:0`, then the slots of add_slot, `<Opt>/<variable>/<slot>:0`
# (Adam: every m, then every v; RMSprop: rms, momentum, mg; SGD: momentum);
# the TF 2.11+ optimizers `<Opt>/iteration:0`, `<Opt>/learning_rate:0`,
# then `<Opt>/<slot>/<variable>:0` (Adam m, v interleaved). The state is the
# same as the Keras 3 files' (the legacy formulas of Adam, SGD momentum and
# RMSprop with momentum equal Keras 3's), so the same check applies.
def write_keras2(name, kind, w, opt_weights, class_name=None, config=None):
    opt = OPTIMIZERS[kind]
    with h5py.File(f"{DIR}/{name}.h5", "w") as f:
        f.attrs["keras_version"] = b"2.12.0"
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps({
            "class_name": "Sequential", "config": {"name": kind, "layers": [
                {"class_name": "InputLayer", "config": {
                    "batch_input_shape": [None, 4], "dtype": "float32",
                    "name": "features"}},
                {"class_name": "Dense", "config": {
                    "name": "hidden", "units": 3, "activation": "tanh"}},
                {"class_name": "Dense", "config": {"name": "out",
                                                   "units": 2}}]}
        }).encode("utf8")
        f.attrs["training_config"] = json.dumps({
            "loss": "mean_squared_error", "metrics": None,
            "weighted_metrics": None, "loss_weights": None,
            "optimizer_config": {
                "class_name": class_name or opt["class_name"],
                "config": config or opt["config"]}}).encode("utf8")
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = [b"features", b"hidden", b"out"]
        g.create_group("features").attrs["weight_names"] = np.array(
            [], dtype="S")
        for layer, (k, b) in (("hidden", w[:2]), ("out", w[2:])):
            lg = g.create_group(layer)
            lg.attrs["weight_names"] = np.array(
                [f"{layer}/kernel:0".encode(), f"{layer}/bias:0".encode()])
            lg.create_dataset(f"{layer}/kernel:0", data=k)
            lg.create_dataset(f"{layer}/bias:0", data=b)
        og = f.create_group("optimizer_weights")
        og.attrs["weight_names"] = np.array(
            [n.encode() for n, _ in opt_weights])
        for n, a in opt_weights:
            create(og, n, a)


LEGACY_SLOTS = {"adam": ["m", "v"], "sgd": ["momentum"],
                "rmsprop": ["rms", "momentum", "mg"]}


def legacy_weights(kind, slots, prefix):
    """iter, then per slot kind every variable (optimizer_v2 add_slot)."""
    out = [(f"{prefix}/iter:0", np.array(N_BEFORE, dtype=np.int64))]
    for legacy, ours in zip(LEGACY_SLOTS[kind], slot_names(kind)):
        out += [(f"{prefix}/{p}/{legacy}:0", slots[ours][i])
                for i, p in enumerate(PARAMS)]
    return out


for kind, prefix in (("adam", "Adam"), ("sgd", "SGD"),
                     ("rmsprop", "RMSprop")):
    w, slots = states[kind]
    write_keras2(f"{kind}_legacy", kind, w, legacy_weights(kind, slots, prefix))
w, slots = states["adam"]
write_keras2("adam_tf211", "adam", w,
             [("Adam/iteration:0", np.array(N_BEFORE, dtype=np.int64)),
              ("Adam/learning_rate:0", np.float32(0.01))]
             + [(f"Adam/{s}/{p}:0", slots[s][i])
                for i, p in enumerate(PARAMS) for s in ("m", "v")])
legacy_adam = legacy_weights("adam", slots, "Adam")
write_keras2("adam_legacy_missing", "adam", w, legacy_adam[:-1])
write_keras2("adam_legacy_huge", "adam", w, legacy_adam[:1] + [
    ("Adam/hidden/kernel/m:0", Huge((2 ** 40,)))] + legacy_adam[2:])
write_keras2("adam_legacy_vhat", "adam", w, legacy_adam + [
    ("Adam/out/bias/vhat:0", slots["v"][3])])
write_keras2("adam_legacy_shape", "adam", w, legacy_adam[:2] + [
    ("Adam/hidden/bias/m:0", slots["m"][0])] + legacy_adam[3:])
# Legacy RMSprop without momentum puts eps outside the square root.
w, slots = states["rmsprop"]
write_keras2("rmsprop_legacy_plain", "rmsprop", w,
             [("RMSprop/iter:0", np.array(N_BEFORE, dtype=np.int64))]
             + [(f"RMSprop/{p}/rms:0", slots["velocity"][i])
                for i, p in enumerate(PARAMS)],
             config={"name": "RMSprop", "learning_rate": 0.01, "rho": 0.9})
