"""Hostile copies of DIR/mlp.keras (written by make_weights.py) whose
weights point outside the weights file: the first Dense kernel
(layers/dense/vars/0) as HDF5 external raw storage in DIR/secret.bin, as an
external link into DIR/other.h5, as a soft link, and as a virtual dataset
over other.h5. kilnc must refuse every one (it read secret.bin and
other.h5 as weights, and blocked on a FIFO).

usage: make_hostile_weights.py DIR
"""
import io
import sys
import zipfile

import h5py
import numpy as np

DIR = sys.argv[1]
with zipfile.ZipFile(f"{DIR}/mlp.keras") as z:
    members = {n: z.read(n) for n in z.namelist()}
kernel_path = "layers/dense/vars/0"
with h5py.File(io.BytesIO(members["model.weights.h5"]), "r") as f:
    kernel = f[kernel_path][()]

np.full(kernel.shape, 7.0, kernel.dtype).tofile(f"{DIR}/secret.bin")
with h5py.File(f"{DIR}/other.h5", "w") as f:
    f.create_dataset("kernel", data=np.full(kernel.shape, 7.0, kernel.dtype))


def variant(name, replace):
    buffer = io.BytesIO(members["model.weights.h5"])
    out = io.BytesIO()
    out.write(buffer.getvalue())
    with h5py.File(out, "r+") as f:
        del f[kernel_path]
        replace(f)
    with zipfile.ZipFile(f"{DIR}/{name}.keras", "w") as z:
        for n, data in members.items():
            z.writestr(n, out.getvalue() if n == "model.weights.h5" else data)


variant("external_storage", lambda f: f.create_dataset(
    kernel_path, shape=kernel.shape, dtype=kernel.dtype,
    external=[(f"{DIR}/secret.bin", 0, kernel.nbytes)]))
variant("external_link", lambda f: f.__setitem__(
    kernel_path, h5py.ExternalLink(f"{DIR}/other.h5", "kernel")))
variant("soft_link", lambda f: f.__setitem__(
    kernel_path, h5py.SoftLink("/layers/dense/vars/1")))


def virtual(f):
    layout = h5py.VirtualLayout(shape=kernel.shape, dtype=kernel.dtype)
    layout[...] = h5py.VirtualSource(f"{DIR}/other.h5", "kernel",
                                     shape=kernel.shape)
    f.create_virtual_dataset(kernel_path, layout)


variant("virtual", virtual)
