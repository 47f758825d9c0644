"""Writes an ONNX model with two BatchNormalization nodes, one with a
negative epsilon and a momentum above 1, one with epsilon 0
(batchnorm_attributes.test)."""
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

inits = [numpy_helper.from_array(np.ones(3, np.float32), n)
         for n in ("s", "b", "m", "v")]
nodes = [
    helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["h"],
                     name="bn0", epsilon=-1.0, momentum=3.0),
    helper.make_node("BatchNormalization", ["h", "s", "b", "m", "v"], ["y"],
                     name="bn1", epsilon=0.0),
]
graph = helper.make_graph(
    nodes, "bad_batchnorm",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4, 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 4, 4])],
    inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
with open(sys.argv[1], "wb") as f:
    f.write(model.SerializeToString())
