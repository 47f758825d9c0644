#!/usr/bin/python3
"""Seed corpora for the kiln fuzz harnesses, made from the repository's test
inputs (nothing large is committed under tests/fuzz).

Usage: make_seeds.py HARNESS OUTDIR   (HARNESS as in scripts/fuzz.sh: onnx,
keras-json, keras-archive, keras-h5, kiln-ir, csv, npy, idx, checkpoint, cli)

Each seed is a file named after a hash of its bytes. Inputs above 64 KiB
are left out (mutating them is slow and they add little coverage).
"""
import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
MAX_SEED = 64 * 1024


def tracked(*suffixes):
    """The repository's tracked files ending in one of `suffixes`."""
    names = subprocess.run(["git", "-C", ROOT, "ls-files"], check=True,
                           capture_output=True, text=True).stdout.split("\n")
    return [os.path.join(ROOT, n) for n in names if n.endswith(suffixes)]


def read(path):
    with open(path, "rb") as f:
        return f.read()


def keras_archive(config):
    """A .keras zip archive holding `config` as config.json."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", config)
        z.writestr("metadata.json",
                   json.dumps({"keras_version": "3.3.3",
                               "date_saved": "2024-01-01@00:00:00"}))
    return out.getvalue()


def safetensors(tensors, metadata):
    """A safetensors file: {name: (dtype, shape, bytes)} and string metadata."""
    header, data = {"__metadata__": metadata}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def h5_snapshot(data, roots):
    """The HDF5 child's snapshot stream (frontend/keras/H5Snapshot.h) of the
    HDF5 file `data`, written with h5py (the keras-h5 harness's second
    input form; approximates writeH5Snapshot: hard links only, values as f32
    or f64)."""
    import h5py
    import numpy as np

    u64 = lambda v: struct.pack("<Q", v)
    string = lambda b: u64(len(b)) + b
    out = [b"KILNH5S1F"]

    def attributes(name, obj):
        for key in obj.attrs:
            value = obj.attrs[key]
            values = value.tolist() if isinstance(value, np.ndarray) else [value]
            if not all(isinstance(v, (str, bytes)) for v in values):
                out.append(b"A" + string(name.encode()) + string(key.encode())
                           + b"e" + string(b"not a string"))
                continue
            values = [v.encode() if isinstance(v, str) else v for v in values]
            out.append(b"A" + string(name.encode()) + string(key.encode())
                       + b"k" + u64(len(values))
                       + b"".join(string(v) for v in values))

    def obj(name, o):
        if isinstance(o, h5py.Group):
            out.append(b"O" + string(name.encode()) + b"\0")
            attributes(name, o)
        elif isinstance(o, h5py.Dataset):
            out.append(b"O" + string(name.encode()) + b"\1")
            if o.dtype.kind != "f":
                out.append(b"S" + string(name.encode()) + b"e"
                           + string(b"not a floating-point dataset"))
                return
            size = 8 if o.dtype.itemsize > 4 else 4
            values = np.asarray(o[()], "<f8" if size == 8 else "<f4")
            out.append(b"S" + string(name.encode()) + b"k" + u64(o.ndim)
                       + b"".join(u64(d) for d in o.shape) + u64(size))
            out.append(b"D" + string(name.encode()) + b"k"
                       + string(values.tobytes()))

    with h5py.File(io.BytesIO(data), "r") as f:
        attributes("", f)
        for root in roots:
            if root not in f:
                continue
            obj(root, f[root])
            names = []
            f[root].visit(names.append)
            out.append(b"L" + string(root.encode()) + b"k" + u64(len(names))
                       + b"".join(string(n.encode()) for n in names))
            for n in names:
                obj(root + "/" + n, f[root + "/" + n])
    return b"".join(out) + b"Z"


def seeds(harness):
    if harness == "onnx":
        return [read(p) for p in tracked(".onnx")]
    if harness in ("keras-json", "keras-archive"):
        configs = [read(p) for p in tracked(".json")
                   if "/keras/" in p or "/examples/" in p]
        configs = [c for c in configs if b"class_name" in c]
        return configs if harness == "keras-json" else \
            [keras_archive(c) for c in configs]
    if harness == "keras-h5":
        # Keras 2 .h5 files (model_config + model_weights) as the stored
        # weights tests write them.
        with tempfile.TemporaryDirectory() as d:
            subprocess.run([sys.executable, os.path.join(
                ROOT, "tests/lit/frontend/keras/Inputs/make_weights.py"), d],
                check=True, capture_output=True)
            files = [read(os.path.join(d, n)) for n in sorted(os.listdir(d))
                     if n.endswith(".h5")]
            # The harness also takes the HDF5 child's output: the snapshots
            # of the same files (the parent's parser, in process).
            return files + [h5_snapshot(f, ["model_weights"]) for f in files]
    if harness == "kiln-ir":
        return [read(p) for p in tracked(".mlir")]
    if harness == "csv":
        # The harness's first byte picks the options: 0 is ',' with no
        # label column, 0x10 ',' with the column named 'label'.
        out = []
        for p in tracked(".csv"):
            text = read(p)
            # Only the first rows of large files.
            text = b"\n".join(text.split(b"\n")[:20])
            out += [b"\x00" + text, b"\x10" + text, b"\x29" + text]
        return out
    if harness == "npy":
        return [read(p) for p in tracked(".npy")]
    if harness == "idx":
        return [read(p) for p in tracked(".idx")]
    if harness == "checkpoint":
        meta = {"format": "kiln-checkpoint", "version": "1", "model": "fuzz",
                "fingerprint": "0", "epoch": "1", "steps": "3", "seed": "1",
                "adapted": "0", "history": '{"epoch": [1], "loss": [0.5]}'}
        return [
            safetensors({"dense/kernel": ("F32", [2, 3], bytes(24)),
                         "dense/bias": ("F32", [3], bytes(12))}, meta),
            safetensors({"t": ("F64", [], bytes(8)),
                         "u": ("I64", [2], bytes(16)),
                         "b": ("BOOL", [1], b"\x01")}, {}),
            safetensors({}, {"format": "kiln-checkpoint"}),
        ]
    if harness == "cli":
        lines = [
            "summary",
            "--help",
            "fit\n--data\ndata.csv\n--label-column\nmalignant\n--epochs\n2"
            "\n--validation-split\n0.25\n--checkpoint\nout.safetensors"
            "\n--history\nh.csv\n--quiet",
            "fit\n--data\ndata.csv\n--label-column\nmalignant\n--resume"
            "\nck.safetensors\n--epochs\n3\n--quiet",
            "fit\n--data=data.csv\n--label-column=malignant\n--epochs=2"
            "\n--lr-schedule\nExponentialDecay:initial_learning_rate=0.1,"
            "decay_steps=2,decay_rate=0.5\n--early-stopping\nloss:patience=1"
            ",restore_best_weights=true\n--reduce-lr-on-plateau\nloss:"
            "factor=0.5,patience=1\n--best-checkpoint\nbest.safetensors"
            "\n--best-monitor\nval_accuracy\n--validation-split\n0.5\n--quiet",
            "evaluate\n--data\ndata.csv\n--label-column\nmalignant"
            "\n--checkpoint\nck.safetensors",
            "predict\n--data\ndata.csv\n--label-column\n30\n--checkpoint"
            "\nck.safetensors\n--output\np.npy",
            "predict\n--data\ndata.csv\n--label-column\nmalignant\n--output"
            "\np.csv\n--threads\n2",
        ]
        return [l.encode() for l in lines]
    raise SystemExit("make_seeds.py: unknown harness '%s'" % harness)


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    harness, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    count = 0
    for data in seeds(harness):
        if len(data) > MAX_SEED:
            continue
        name = hashlib.sha1(data).hexdigest()
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
        count += 1
    print("%s: %d seeds in %s" % (harness, count, outdir))


if __name__ == "__main__":
    main()
