"""Writes an ONNX model whose Conv, MaxPool and AveragePool nodes have zero
strides, dilations or kernel sizes (window_attributes.test)."""
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

w = numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "w")
nodes = [
    helper.make_node("Conv", ["x", "w"], ["c"], name="conv0",
                     strides=[0, 1], dilations=[1, 0]),
    helper.make_node("MaxPool", ["c"], ["p"], name="pool0",
                     kernel_shape=[0, 2]),
    helper.make_node("AveragePool", ["p"], ["y"], name="pool1",
                     kernel_shape=[2, 2], strides=[0, 0]),
]
graph = helper.make_graph(
    nodes, "bad_windows",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
with open(sys.argv[1], "wb") as f:
    f.write(model.SerializeToString())
