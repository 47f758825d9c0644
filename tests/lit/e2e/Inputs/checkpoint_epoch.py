"""Prints the 'epoch' metadata of a kiln safetensors checkpoint (read with
the standard library: 8-byte little-endian header length, JSON header)."""
import json
import struct
import sys

with open(sys.argv[1], "rb") as f:
    (n,) = struct.unpack("<Q", f.read(8))
    print(json.loads(f.read(n))["__metadata__"]["epoch"])
