#!/usr/bin/python3
"""Compares an exported ONNX model, evaluated by tests/e2e/onnx_eval.py (an
independent numpy reading of the ONNX operator definitions), with the
generated program's predictions.

    check_state_export.py MODEL.onnx INPUT.npy PREDICTIONS.npy

Prints the LSTM nodes' inputs/outputs count and the largest difference;
exits 1 if it exceeds 1e-5.
"""
import os
import sys

import numpy as np
import onnx

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "..", "..", "e2e"))
import onnx_eval  # noqa: E402

model = onnx.load(sys.argv[1])
x, want = np.load(sys.argv[2]), np.load(sys.argv[3])
for n in model.graph.node:
    if n.op_type == "LSTM":
        print("LSTM inputs %d outputs %d" % (len(n.input), len(n.output)))
(got,) = onnx_eval.run(model, {model.graph.input[0].name: x}).values()
err = float(np.abs(got.reshape(want.shape) - want).max())
print("max |onnx - predict| = %.2e" % err)
sys.exit(0 if err <= 1e-5 else 1)
