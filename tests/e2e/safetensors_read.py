"""A minimal safetensors reader (numpy only), independent of kiln's C++
reader: an 8-byte little-endian header length N, N bytes of JSON, then the
data section (https://huggingface.co/docs/safetensors)."""
import json
import struct

import numpy as np

DTYPES = {"F32": np.float32, "F64": np.float64, "I32": np.int32,
          "I64": np.int64, "U8": np.uint8, "BOOL": np.bool_}


def read(path):
    """Returns (tensors: name -> np.ndarray, metadata: dict)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        tensors[name] = np.frombuffer(
            data[begin:end], dtype=DTYPES[info["dtype"]]).reshape(
                info["shape"])
    return tensors, metadata


def checkpoint_epoch(path):
    """The finished epochs a kiln checkpoint holds, or 0 while it does not
    exist yet (or is unreadable)."""
    try:
        return int(read(path)[1]["epoch"])
    except (OSError, ValueError, KeyError):
        return 0
