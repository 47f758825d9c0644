"""Writes ONNX models with training-mode Dropout into DIR: drop0.onnx and
drop25.onnx (torch.nn Linear -> Dropout(p) exported with
TrainingMode.TRAINING, opset 13: Dropout with constant ratio and
training_mode = true inputs and an unread mask output) and
mask_read.onnx (onnx.helper: a training-mode Dropout whose mask is a graph
output)."""
import sys

import onnx
import torch
import torch.nn as nn
from onnx import TensorProto, helper

out = sys.argv[1]


class Model(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.drop = nn.Dropout(p)

    def forward(self, x):
        return self.drop(self.fc(x))


for p in (0.0, 0.25):
    torch.onnx.export(Model(p), torch.zeros(8, 4),
                      f"{out}/drop{int(p * 100)}.onnx", opset_version=13,
                      training=torch.onnx.TrainingMode.TRAINING,
                      do_constant_folding=False, input_names=["x"],
                      output_names=["y"])

ratio = helper.make_tensor("ratio", TensorProto.FLOAT, [], [0.3])
mode = helper.make_tensor("mode", TensorProto.BOOL, [], [True])
node = helper.make_node("Dropout", ["x", "ratio", "mode"], ["y", "mask"])
graph = helper.make_graph(
    [node], "mask_read",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, 3])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [8, 3]),
     helper.make_tensor_value_info("mask", TensorProto.BOOL, [8, 3])],
    initializer=[ratio, mode])
onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]),
          f"{out}/mask_read.onnx")
