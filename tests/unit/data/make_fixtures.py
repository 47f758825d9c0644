#!/usr/bin/python3
"""Writes the data-I/O fixtures of RuntimeDataTest.cpp into this directory.

The .npy files come from numpy itself (np.save / np.lib.format.write_array),
so that the tests check kiln against the real format rather than against
kiln's own writer; a few hand-made headers cover what numpy accepts but does
not write (odd spacing, '=' byte order, Python 2 'L' suffixes), and every
hand-made file that should load is checked with np.load here. The .idx and
.csv files are written byte by byte. The values are repeated in the test, so
change both together.

Run with the system Python (numpy is installed there) and commit the output:

    /usr/bin/python3 tests/unit/data/make_fixtures.py

The output is deterministic (no timestamps), so rerunning it on an unchanged
script leaves git clean. Files ending in .npy are byte-compared with
kiln_npy_save, which writes numpy >= 1.23 headers; numpy.__version__ is
checked for that reason.
"""

import gzip
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(HERE, name)


def write_bytes(name, data):
    with open(path(name), "wb") as f:
        f.write(data)


def npy_v1(header_dict_text, data):
    """A version 1.0 file with the given header text, padded like numpy."""
    header = header_dict_text.encode("latin1")
    total = 10 + len(header) + 1
    header += b" " * ((64 - total % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


def save(name, array, version=None):
    if version is None:
        np.save(path(name), array, allow_pickle=False)
    else:
        with open(path(name), "wb") as f:
            np.lib.format.write_array(f, array, version=version,
                                      allow_pickle=False)


def npy_fixtures():
    major, minor = (int(x) for x in np.__version__.split(".")[:2])
    assert (major, minor) >= (1, 23), "needs numpy >= 1.23 headers"

    # Loaded, and byte-compared with kiln_npy_save of the same array.
    save("f32_2x3.npy", np.arange(6, dtype="<f4").reshape(2, 3) * 1.5 - 2)
    save("f64_3.npy", np.array([0.1, -2.5, 1e300], dtype="<f8"))
    save("i32_2x2x2.npy",
         np.array([-2**31, -1, 0, 1, 2, 3, 4, 2**31 - 1],
                  dtype="<i4").reshape(2, 2, 2))
    save("i64_scalar.npy", np.array(-(2**62) - 5, dtype="<i8"))
    save("u8_4.npy", np.array([0, 1, 127, 255], dtype="|u1"))
    save("bool_2x3.npy",
         np.array([[True, False, True], [False, False, True]]))
    save("f32_0x3.npy", np.zeros((0, 3), dtype="<f4"))
    # Other format versions; loaded only.
    save("f32_v2.npy", np.array([1.0, 2.0, 3.0], dtype="<f4"), (2, 0))
    save("f32_v3.npy", np.array([4.0, 5.0], dtype="<f4"), (3, 0))

    # Hand-made headers that numpy reads: spacing, key order, trailing
    # commas, '=' byte order, Python 2 long integers.
    six = np.arange(6, dtype="<f4").tobytes()
    write_bytes("header_spacing.npy", npy_v1(
        "{ 'shape' : ( 2 , 3 , ) ,"
        "\t\"fortran_order\":False,  'descr':'<f4' ,}", six))
    write_bytes("native_order.npy", npy_v1(
        "{'descr': '=f8', 'fortran_order': False, 'shape': (2,), }",
        np.array([1.25, -8.0], dtype="<f8").tobytes()))
    write_bytes("py2_long.npy", npy_v1(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }",
        six))
    for name, shape in [("header_spacing.npy", (2, 3)),
                        ("native_order.npy", (2,)),
                        ("py2_long.npy", (2, 3))]:
        assert np.load(path(name)).shape == shape, name

    # An extra key, which numpy rejects but kiln skips (it reads only
    # 'descr', 'fortran_order' and 'shape').
    write_bytes("extra_key.npy", npy_v1(
        "{'descr': '<f4', 'extra': [1, (2, 'x'), {'y': None}, -1.5e3], "
        "'fortran_order': False, 'shape': (2, 3), }", six))

    # Files kiln must reject.
    good = open(path("f32_2x3.npy"), "rb").read()
    write_bytes("truncated.npy", good[:-4])
    write_bytes("trailing.npy", good + b"\x00")
    save("big_endian.npy", np.arange(6, dtype=">f4").reshape(2, 3))
    save("fortran.npy", np.asfortranarray(
        np.arange(6, dtype="<f4").reshape(2, 3)))
    save("float16.npy", np.array([1.0, 2.0], dtype="<f2"))
    save("structured.npy", np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))
    write_bytes("bad_magic.npy", b"this is not a numpy file\n")
    write_bytes("bool_bad_value.npy", npy_v1(
        "{'descr': '|b1', 'fortran_order': False, 'shape': (4,), }",
        b"\x00\x01\x02\x01"))
    write_bytes("missing_shape.npy", npy_v1(
        "{'descr': '<f4', 'fortran_order': False, }", b""))
    write_bytes("rank9.npy", npy_v1(
        "{'descr': '|u1', 'fortran_order': False, "
        "'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }", b"\x07"))


def idx(type_code, dims, data):
    return (struct.pack(">BBBB", 0, 0, type_code, len(dims)) +
            struct.pack(">%dI" % len(dims), *dims) + data)


def idx_fixtures():
    images = bytes((i * 10) % 256 for i in range(2 * 3 * 4))
    write_bytes("images_2x3x4.idx", idx(0x08, (2, 3, 4), images))
    write_bytes("labels_5.idx", idx(0x08, (5,), bytes([7, 2, 1, 0, 4])))
    write_bytes("truncated.idx", idx(0x08, (2, 3, 4), images)[:-5])
    write_bytes("bad_magic.idx", b"\x12\x34\x08\x03" + b"\x00" * 12)
    write_bytes("f32.idx", idx(0x0D, (2,), struct.pack(">ff", 1.0, 2.0)))
    write_bytes("images.idx.gz",
                gzip.compress(idx(0x08, (2, 3, 4), images), mtime=0))


def csv_fixtures():
    files = {
        # Label column in the middle; quoted names with a comma and with a
        # "" escape; spaces around values; '+', 'nan' and '-inf'; CRLF line
        # endings; empty lines at the end.
        "mixed.csv":
            'a,label,"b, with comma","say ""hi"""\r\n'
            '1,0,2.5,-3\r\n'
            '+4, 1 , 5e-1 ,"6"\r\n'
            '7,2,nan,-inf\r\n'
            '\r\n'
            '\r\n',
        # Semicolons, no newline after the last record.
        "semicolon.csv": "x;y\n1;2\n3;4",
        # Header only: zero records.
        "header_only.csv": "a,b,label\n",
        "bad_row.csv": "a,b\n1,2\n3,oops\n",
        "short_row.csv": "a,b,c\n1,2,3\n4,5,6\n7,8\n",
        "blank_middle.csv": "a\n1\n\n2\n",
        "unterminated.csv": 'a,b\n1,"2\n',
        "out_of_range.csv": "a\n1e39\n",
        "empty.csv": "",
    }
    for name, text in files.items():
        write_bytes(name, text.encode("ascii"))


if __name__ == "__main__":
    npy_fixtures()
    idx_fixtures()
    csv_fixtures()
