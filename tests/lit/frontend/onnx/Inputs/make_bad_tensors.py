"""Writes ONNX models whose stored tensors do not match their dims and data
type (tensor_sizes.test): argv[1] is the output folder."""
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]


def reshape_model(shape, extra_nodes=(), initializers=()):
    """Reshape of a [2, 3] input by the INT64 initializer `shape`."""
    nodes = list(extra_nodes) + [
        helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape0")]
    graph = helper.make_graph(
        nodes, "bad_tensors",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 2])],
        [shape] + list(initializers))
    return helper.make_model(graph,
                             opset_imports=[helper.make_opsetid("", 13)])


def save(model, name):
    with open(os.path.join(out, name), "wb") as f:
        f.write(model.SerializeToString())


def int64_shape(raw):
    t = numpy_helper.from_array(np.array([3, 2], np.int64), "shape")
    t.raw_data = raw
    return t


# raw_data of 4 and 12 bytes for two INT64 elements (16 bytes): libonnx's
# shape inference read past the end (SIGSEGV at 4 bytes, heap overflow at
# 12).
save(reshape_model(int64_shape(b"\x01" * 4)), "raw4.onnx")
save(reshape_model(int64_shape(b"\x01" * 12)), "raw12.onnx")

# A typed field with one entry for two elements.
typed = helper.make_tensor("shape", TensorProto.INT64, [2], [3, 2])
del typed.int64_data[1:]
save(reshape_model(typed), "typed.onnx")

# Values in two fields, and a tensor of another initializer and of a node
# attribute with the wrong size: all reported at once.
both = helper.make_tensor("shape", TensorProto.INT64, [2], [3, 2])
both.raw_data = np.array([3, 2], np.int64).tobytes()
bias = numpy_helper.from_array(np.zeros(3, np.float32), "bias")
bias.raw_data = b"\x00" * 8
constant = helper.make_node(
    "Constant", [], ["c"], name="const0",
    value=numpy_helper.from_array(np.zeros(4, np.float32)))
constant.attribute[0].t.raw_data = b"\x00" * 15
save(reshape_model(both, [constant], [bias]), "several.onnx")

# External data: a 4-byte file for the two INT64 elements.
external = TensorProto(name="shape", data_type=TensorProto.INT64, dims=[2])
external.data_location = TensorProto.EXTERNAL
entry = external.external_data.add()
entry.key, entry.value = "location", "short.bin"
with open(os.path.join(out, "short.bin"), "wb") as f:
    f.write(b"\x01" * 4)
save(reshape_model(external), "external.onnx")
