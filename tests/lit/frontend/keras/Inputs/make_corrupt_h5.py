"""Keras 2 .h5 files that break Debian's libhdf5 1.10 inside H5HG_read, and
one whose weights decompress to more than a small memory limit. kilnc reads
HDF5 in a child process: each must be a clean error naming the file.

  crash.h5  the root attribute model_config is a variable-length string
            (as h5py writes it); its global-heap object's size field is set
            to 2^40: libhdf5 reads past the heap (SIGSEGV)
  hang.h5   the same size field set to 2^64 - 16: the heap parser's step is
            0 and it loops forever
  crash.keras  a .keras archive whose model.weights.h5 is crash.h5
  bomb.h5   a valid file whose dataset model_weights/big/big:0 is 256 MiB
            of gzip-compressed zeros (a few hundred KiB on disk), the one
            weight of layer 'big' (layer_names, weight_names)

usage: make_corrupt_h5.py DIR
"""
import io
import struct
import sys
import zipfile

import h5py
import numpy as np

DIR = sys.argv[1]
CONFIG = ('{"class_name": "Sequential", "config": {"name": "s", "layers": '
          '[{"class_name": "InputLayer", "config": {"batch_input_shape": '
          '[null, 4], "name": "x"}}, {"class_name": "Dense", "config": '
          '{"name": "big", "units": 2}}]}}')

buffer = io.BytesIO()
with h5py.File(buffer, "w") as f:
    f.attrs["model_config"] = CONFIG
base = buffer.getvalue()
# The global heap collection ("GCOL", version, 3 reserved bytes, collection
# size u64) holds the string as object 1: index u16, reference count u16,
# 4 reserved bytes, size u64 at offset 16 + 8 from "GCOL" (HDF5 file
# format specification, "Global Heap").
gcol = base.find(b"GCOL")
assert gcol > 0 and base.count(b"GCOL") == 1, "no single global heap"
assert struct.unpack_from("<H", base, gcol + 16)[0] == 1
assert struct.unpack_from("<Q", base, gcol + 24)[0] == len(CONFIG)


def corrupt(name, size):
    data = bytearray(base)
    struct.pack_into("<Q", data, gcol + 24, size)
    with open(f"{DIR}/{name}", "wb") as f:
        f.write(bytes(data))


corrupt("crash.h5", 1 << 40)
corrupt("hang.h5", (1 << 64) - 16)
with open(f"{DIR}/crash.h5", "rb") as f:
    crash = f.read()
with zipfile.ZipFile(f"{DIR}/crash.keras", "w") as z:
    z.writestr("config.json", CONFIG)
    z.writestr("model.weights.h5", crash)

with h5py.File(f"{DIR}/bomb.h5", "w") as f:
    f.attrs["model_config"] = CONFIG
    group = f.create_group("model_weights/big")
    f["model_weights"].attrs["layer_names"] = np.array([b"big"])
    group.attrs["weight_names"] = np.array([b"big:0"])
    group.create_dataset("big:0", shape=(64 << 20,), dtype="<f4",
                         chunks=(1 << 20,), compression="gzip",
                         fillvalue=0.0)[...] = 0.0
