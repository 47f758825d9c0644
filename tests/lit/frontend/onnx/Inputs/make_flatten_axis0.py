"""Writes an ONNX model whose output has no batch axis: Flatten with axis 0
turns x [2, 4, 6] into y [1, 48] (batch_axis.test)."""
import sys

from onnx import TensorProto, helper

nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu0"),
         helper.make_node("Flatten", ["r"], ["y"], name="flatten0", axis=0)]
graph = helper.make_graph(
    nodes, "flatten_axis0",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4, 6])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 48])])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
with open(sys.argv[1], "wb") as f:
    f.write(model.SerializeToString())
