"""Writes .keras archives whose zip directory misstates config.json's size.

Usage: make_archive_sizes.py CONFIG OUTDIR
  OUTDIR/claims_4gb.keras: config.json's central-directory entry (the size
      libzip reports) says 0xF0000000 bytes (the fuzzer found kilnc
      allocating that much up front and running out of memory);
  OUTDIR/claims_more.keras: it says 10 bytes more than it holds.
"""
import struct
import sys
import zipfile


def write(path, config, size_delta=None, size=None):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", config)
        z.writestr("metadata.json", '{"keras_version": "3.5.0"}')
    data = bytearray(open(path, "rb").read())
    # The central-directory entry of config.json: signature PK\1\2, the
    # uncompressed size at offset 24.
    at = data.index(b"PK\x01\x02")
    assert data[at + 46:at + 46 + 11] == b"config.json"
    real = struct.unpack_from("<I", data, at + 24)[0]
    struct.pack_into("<I", data, at + 24,
                     size if size is not None else real + size_delta)
    open(path, "wb").write(bytes(data))


config = open(sys.argv[1]).read()
write(sys.argv[2] + "/claims_4gb.keras", config, size=0xF0000000)
write(sys.argv[2] + "/claims_more.keras", config, size_delta=10)
