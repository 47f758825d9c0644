"""Writes an ONNX ConvTranspose (input 8x8, kernel 3, stride 2) whose full
output_shape [1, 4, 100, 100] no output padding can reach: the largest
output is 2 * 7 + 3 + 1 = 18 (conv_transpose_output_shape.test)."""
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

w = numpy_helper.from_array(np.ones((2, 4, 3, 3), np.float32), "w")
node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="up0",
                        kernel_shape=[3, 3], strides=[2, 2],
                        output_shape=[1, 4, 100, 100])
graph = helper.make_graph(
    [node], "big_output_shape",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 8, 8])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 100, 100])], [w])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
with open(sys.argv[1], "wb") as f:
    f.write(model.SerializeToString())
