"""Writes ONNX models whose initializer 'w' keeps its data in an external
location that is not a regular file inside the model's folder
(external_locations.test): argv[1] is the model folder, argv[2] a folder
outside it."""
import os
import sys

import numpy as np
from onnx import TensorProto, helper

models, outside = sys.argv[1], sys.argv[2]


def save(name, location):
    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2])
    w.data_location = TensorProto.EXTERNAL
    entry = w.external_data.add()
    entry.key, entry.value = "location", location
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"], name="add0")], "external",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])], [w])
    model = helper.make_model(graph,
                              opset_imports=[helper.make_opsetid("", 13)])
    with open(os.path.join(models, name), "wb") as f:
        f.write(model.SerializeToString())


data = np.array([1.5, -2.0], np.float32).tobytes()
with open(os.path.join(outside, "secret.bin"), "wb") as f:
    f.write(data)
with open(os.path.join(models, "w.bin"), "wb") as f:
    f.write(data)
os.mkdir(os.path.join(models, "dir.bin"))
os.mkfifo(os.path.join(models, "fifo.bin"))
os.symlink(os.path.join(outside, "secret.bin"),
           os.path.join(models, "escape.bin"))
os.symlink("w.bin", os.path.join(models, "inside.bin"))
os.mkdir(os.path.join(models, "sub"))
os.symlink("../w.bin", os.path.join(models, "sub", "up.bin"))

save("directory.onnx", "dir.bin")
save("fifo.onnx", "fifo.bin")
save("escape.onnx", "escape.bin")
save("absolute.onnx", os.path.join(outside, "secret.bin"))
save("parent.onnx", "sub/../../outside/secret.bin")
save("missing.onnx", "missing.bin")
# Symbolic links that stay inside the folder are fine.
save("inside.onnx", "inside.bin")
save("sub_up.onnx", "sub/up.bin")
