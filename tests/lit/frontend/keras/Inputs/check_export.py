"""Checks `prog export` outputs against the checkpoint they came from.

Usage: check_export.py CHECKPOINT.safetensors EXPORT.weights.h5|.keras
           MODEL [SOURCE.keras]

Reads the checkpoint with tests/e2e/safetensors_read.py and the export with
h5py (a .keras archive through zipfile), and compares every kiln parameter
and state tensor to the dataset at the Keras 3 path written out below by
hand from Keras' saving_lib layout (not from kiln's manifest). For a
.keras export, also checks that config.json is the source archive's
config.json byte for byte and metadata.json names a Keras 3 version.
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

LAYOUTS = {
    "convbn": {
        "conv/kernel": "layers/conv2d/vars/0",
        "conv/bias": "layers/conv2d/vars/1",
        "bn/gamma": "layers/batch_normalization/vars/0",
        "bn/beta": "layers/batch_normalization/vars/1",
        "bn/moving_mean": "layers/batch_normalization/vars/2",
        "bn/moving_variance": "layers/batch_normalization/vars/3",
        "out/kernel": "layers/dense/vars/0",
        "out/bias": "layers/dense/vars/1",
    },
    "rnn": {
        "lstm/kernel": "layers/lstm/cell/vars/0",
        "lstm/recurrent_kernel": "layers/lstm/cell/vars/1",
        "lstm/bias": "layers/lstm/cell/vars/2",
        "bidi/forward_gru/kernel": "layers/bidirectional/forward_layer/cell/vars/0",
        "bidi/forward_gru/recurrent_kernel": "layers/bidirectional/forward_layer/cell/vars/1",
        "bidi/forward_gru/bias": "layers/bidirectional/forward_layer/cell/vars/2",
        "bidi/backward_gru/kernel": "layers/bidirectional/backward_layer/cell/vars/0",
        "bidi/backward_gru/recurrent_kernel": "layers/bidirectional/backward_layer/cell/vars/1",
        "bidi/backward_gru/bias": "layers/bidirectional/backward_layer/cell/vars/2",
        "out/kernel": "layers/dense/vars/0",
        "out/bias": "layers/dense/vars/1",
    },
}

checkpoint, exported, model = sys.argv[1:4]
tensors, _ = safetensors_read.read(checkpoint)
if exported.endswith(".keras"):
    archive = zipfile.ZipFile(exported)
    assert sorted(archive.namelist()) == [
        "config.json", "metadata.json", "model.weights.h5"], archive.namelist()
    source = zipfile.ZipFile(sys.argv[4]).read("config.json")
    assert archive.read("config.json") == source, "config.json differs"
    meta = json.loads(archive.read("metadata.json"))
    assert meta["keras_version"].startswith("3."), meta
    weights = h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
else:
    weights = h5py.File(exported, "r")

layout = LAYOUTS[model]
params = {k[len("params/"):] for k in tensors if k.startswith("params/")}
assert params == set(layout), sorted(params ^ set(layout))
datasets = []
weights.visititems(lambda n, o: datasets.append(n)
                   if isinstance(o, h5py.Dataset) else None)
assert sorted(datasets) == sorted(layout.values()), sorted(datasets)
for name, path in layout.items():
    want = tensors["params/" + name]
    got = weights[path][()]
    assert got.dtype == want.dtype and got.shape == want.shape, (name, got.shape)
    assert np.array_equal(got, want), name
# Top-level layer entries carry the layer's name (H5IOStore.make metadata).
names = {p.split("/")[1]: weights["/".join(p.split("/")[:2]) + "/vars"].attrs["name"]
         for p in layout.values() if "/".join(p.split("/")[:2]) + "/vars" in weights}
print(f"PASS {model} export: {len(layout)} variables equal the checkpoint; "
      f"layer names {sorted(names.values())}")
