#!/usr/bin/python3
"""Whole-model check: exports PyTorch models to ONNX (torch.onnx.export, a
static batch), imports them with kilnc and compares kiln's @forward
(`kilnc run`) with PyTorch's outputs within 1e-5 relative.

    torch_models.py KILNC WORKDIR

Models: a 784-64-32-10 MLP (Linear/ReLU, softmax, opset 13) and a small
functional model with a skip connection (flatten, Linear/tanh, a residual
add, concat, sigmoid, opset 11).
"""
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 64)
        self.fc2 = nn.Linear(64, 32)
        self.fc3 = nn.Linear(32, 10)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return F.softmax(self.fc3(x), dim=-1)


class Skip(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(10, 16)
        self.block = nn.Linear(16, 16)
        self.out = nn.Linear(32, 4)

    def forward(self, x):
        h = torch.tanh(self.inp(torch.flatten(x, 1)))
        r = F.relu(self.block(h)) + h          # skip connection
        z = torch.cat([h, r * 0.5], dim=1)
        return torch.sigmoid(self.out(z)), r.mean(dim=1)


def main():
    kilnc, workdir = sys.argv[1], sys.argv[2]
    os.makedirs(workdir, exist_ok=True)
    torch.manual_seed(0)
    cases = [("mlp", Mlp(), torch.randn(16, 784), 13, ["probs"]),
             ("skip", Skip(), torch.randn(8, 2, 5), 11, ["y", "mean"])]
    status = 0
    for name, model, x, opset, outputs in cases:
        model.eval()
        path = os.path.join(workdir, name + ".onnx")
        torch.onnx.export(model, (x,), path, input_names=["x"],
                          output_names=outputs, opset_version=opset)
        with torch.no_grad():
            expected = model(x)
        if not isinstance(expected, tuple):
            expected = (expected,)
        np.save(os.path.join(workdir, name + ".x.npy"), x.numpy())
        cmd = [sys.executable, os.path.join(HERE, "check_run.py"), kilnc,
               path, os.path.join(workdir, name),
               "--input", "x=" + os.path.join(workdir, name + ".x.npy")]
        for i, e in enumerate(expected):
            f = os.path.join(workdir, "%s.expected.%d.npy" % (name, i))
            np.save(f, e.numpy())
            cmd += ["--expected", f]
        print("model %s (opset %d)" % (name, opset), flush=True)
        status |= subprocess.run(cmd).returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
