#!/usr/bin/python3
"""Writes ONNX models of the sequence/attention ops with numpy references
into DIR (sequence_ops.test runs them through check_run.py):

  elementwise13.onnx (opset 13): x [2, 3, 4] f32, ids [2, 3] int64 ->
    y0 = Where(GreaterOrEqual(x, 0), Erf(x), Reciprocal(x - 1))
    y1, y2 = Split(x, axis 2, split input [1, 3])
    y3 = Cast(Equal(ids, 3), FLOAT) + Cast(Less(ids, 2), FLOAT) * 2
         + Cast(Greater(ids, 4), FLOAT) * 4 + Cast(LessOrEqual(ids, 0), FLOAT)
         * 8
    y4 = x[:, :, :k] with k = (Gather(Shape(x), -1) + 2) / 3 * 3 - 2 (int64
         shape arithmetic, as torch's MultiheadAttention exports it) + Range
         (0, k, 1) cast to float + ConstantOfShape([k], 0.5) + Sqrt(4)
  split11.onnx (opset 11): Split with the `split` attribute, and an equal
    split without sizes.
  layernorm17.onnx (opset 17): LayerNormalization over the last axis
    (Scale, B; default epsilon) and over axes 1.. (axis 1, Scale [3, 4],
    no B, epsilon 1e-3) with its Mean and InvStdDev outputs.
  rnn.onnx (opset 14): RNN forward (tanh, bias), reverse (Relu, no bias),
    bidirectional (layout 1), their Y and Y_h.
  gelu.onnx: torch nn.Linear -> nn.GELU() exported (opset 13: the exact
    GELU as Div, Erf, Add, Mul, Mul), against the module in float64.
  bad.onnx: an RNN with sequence_lens (imported since sequence_lens is
    supported; tests/lit/frontend/onnx/rnn_states.test checks its numbers),
    an RNN with a LeakyRelu activation,
    a LayerNormalization with stash_type 0 and a Range of graph inputs:
    each reported in one run.
Every reference is numpy (float64, then f32), independent of kiln.
"""
import math
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
rng = np.random.default_rng(12)
F, I64 = TensorProto.FLOAT, TensorProto.INT64


def model_of(nodes, name, inputs, outputs, inits, opset):
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="kiln-tests")
    m.ir_version = 8
    return m


def save(model, name, check=True):
    if check:
        onnx.checker.check_model(model, full_check=True)
    onnx.save(model, os.path.join(out, name))


def npy(name, a):
    np.save(os.path.join(out, name), a)


def const(name, value, dtype=np.int64):
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(
        np.asarray(value, dtype), name))


def vinfo(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


# elementwise13 -------------------------------------------------------------
x = rng.uniform(-2, 2, (2, 3, 4)).astype(np.float32)
x[0, 0, 0] = 1.0 + 2.0 ** -20  # Reciprocal(x - 1) of a tiny value is not chosen
ids = np.array([[0, 3, 5], [2, 1, 3]], np.int64)
nodes = [
    const("zero", 0.0, np.float32), const("one", 1.0, np.float32),
    helper.make_node("GreaterOrEqual", ["x", "zero"], ["pos"]),
    helper.make_node("Erf", ["x"], ["erf"]),
    helper.make_node("Sub", ["x", "one"], ["xm1"]),
    helper.make_node("Reciprocal", ["xm1"], ["rec"]),
    helper.make_node("Where", ["pos", "erf", "rec"], ["y0"]),
    const("sizes", [1, 3]),
    helper.make_node("Split", ["x", "sizes"], ["y1", "y2"], axis=2),
]
terms = []
for k, (op, c) in enumerate([("Equal", 3), ("Less", 2), ("Greater", 4),
                             ("LessOrEqual", 0)]):
    nodes += [const(f"c{k}", c),
              helper.make_node(op, ["ids", f"c{k}"], [f"b{k}"]),
              helper.make_node("Cast", [f"b{k}"], [f"f{k}"], to=F),
              const(f"w{k}", float(2 ** k), np.float32),
              helper.make_node("Mul", [f"f{k}", f"w{k}"], [f"t{k}"])]
    terms.append(f"t{k}")
nodes += [helper.make_node("Add", terms[:2], ["s01"]),
          helper.make_node("Add", ["s01", terms[2]], ["s012"]),
          helper.make_node("Add", ["s012", terms[3]], ["y3"])]
# k = ((4 + 2) / 3) * 3 - 2 = 4, the way torch exports slice bounds.
nodes += [
    helper.make_node("Shape", ["x"], ["shape"]),
    const("last", [-1]), const("two", [2]), const("three", [3]),
    helper.make_node("Gather", ["shape", "last"], ["dim"], axis=0),
    helper.make_node("Add", ["dim", "two"], ["dim2"]),
    helper.make_node("Div", ["dim2", "three"], ["q"]),
    helper.make_node("Mul", ["q", "three"], ["k"]),
    helper.make_node("Sub", ["k", "two"], ["k2"]),
    const("start", [0]), const("axis2", [2]),
    helper.make_node("Slice", ["x", "start", "k2", "axis2"], ["xs"]),
    const("r0", 0), const("r1", 1),
    helper.make_node("Squeeze", ["k2"], ["k2s"]),
    helper.make_node("Range", ["r0", "k2s", "r1"], ["iota"]),
    helper.make_node("Cast", ["iota"], ["iotaf"], to=F),
    helper.make_node("ConstantOfShape", ["k2"], ["halves"],
                     value=numpy_helper.from_array(np.array([0.5],
                                                            np.float32))),
    const("four", 4.0, np.float32),
    helper.make_node("Sqrt", ["four"], ["root"]),
    helper.make_node("Add", ["xs", "iotaf"], ["a1"]),
    helper.make_node("Add", ["a1", "halves"], ["a2"]),
    helper.make_node("Add", ["a2", "root"], ["y4"]),
]
m = model_of(nodes, "elementwise13",
             [vinfo("x", F, [2, 3, 4]), vinfo("ids", I64, [2, 3])],
             [vinfo("y0", F, [2, 3, 4]), vinfo("y1", F, [2, 3, 1]),
              vinfo("y2", F, [2, 3, 3]), vinfo("y3", F, [2, 3]),
              vinfo("y4", F, [2, 3, 4])], [], 13)
save(m, "elementwise13.onnx")
npy("x.npy", x)
npy("ids.npy", ids)
xd = x.astype(np.float64)
erf = np.vectorize(math.erf)(xd)
npy("e13.0.npy", np.where(xd >= 0, erf, 1.0 / (xd - 1.0)).astype(np.float32))
npy("e13.1.npy", x[:, :, :1])
npy("e13.2.npy", x[:, :, 1:])
npy("e13.3.npy", ((ids == 3) * 1.0 + (ids < 2) * 2.0 + (ids > 4) * 4.0 +
                  (ids <= 0) * 8.0).astype(np.float32))
npy("e13.4.npy", (xd[:, :, :4] + np.arange(4) + 0.5 + 2.0).astype(np.float32))

# split11 ---------------------------------------------------------------------
nodes = [helper.make_node("Split", ["x"], ["p0", "p1"], axis=-1, split=[3, 1]),
         helper.make_node("Split", ["x"], ["q0", "q1", "q2"], axis=1)]
m = model_of(nodes, "split11", [vinfo("x", F, [2, 3, 4])],
             [vinfo("p0", F, [2, 3, 3]), vinfo("p1", F, [2, 3, 1]),
              vinfo("q0", F, [2, 1, 4]), vinfo("q1", F, [2, 1, 4]),
              vinfo("q2", F, [2, 1, 4])], [], 11)
save(m, "split11.onnx")
for i, a in enumerate([x[:, :, :3], x[:, :, 3:], x[:, :1], x[:, 1:2],
                       x[:, 2:]]):
    npy(f"s11.{i}.npy", a)

# layernorm17 -----------------------------------------------------------------
scale = rng.uniform(0.5, 1.5, 4).astype(np.float32)
bias = rng.uniform(-0.5, 0.5, 4).astype(np.float32)
scale2 = rng.uniform(0.5, 1.5, (3, 4)).astype(np.float32)
inits = [numpy_helper.from_array(scale, "scale"),
         numpy_helper.from_array(bias, "bias"),
         numpy_helper.from_array(scale2, "scale2")]
nodes = [helper.make_node("LayerNormalization", ["x", "scale", "bias"],
                          ["ln0"]),
         helper.make_node("LayerNormalization", ["x", "scale2"],
                          ["ln1", "mean", "inv"], axis=1, epsilon=1e-3)]
m = model_of(nodes, "layernorm17", [vinfo("x", F, [2, 3, 4])],
             [vinfo("ln0", F, [2, 3, 4]), vinfo("ln1", F, [2, 3, 4]),
              vinfo("mean", F, [2, 1, 1]), vinfo("inv", F, [2, 1, 1])],
             inits, 17)
save(m, "layernorm17.onnx")


def layer_norm(v, axes, eps):
    mean = v.mean(axis=axes, keepdims=True)
    var = ((v - mean) ** 2).mean(axis=axes, keepdims=True)
    inv = 1.0 / np.sqrt(var + eps)
    return (v - mean) * inv, mean, inv


n0, _, _ = layer_norm(xd, (2,), 1e-5)
n1, mean, inv = layer_norm(xd, (1, 2), 1e-3)
npy("ln.0.npy", (n0 * scale + bias).astype(np.float32))
npy("ln.1.npy", (n1 * scale2).astype(np.float32))
npy("ln.2.npy", mean.astype(np.float32))
npy("ln.3.npy", inv.astype(np.float32))

# rnn -------------------------------------------------------------------------
T, N, IN, H = 5, 2, 3, 4
seq = rng.uniform(-1, 1, (T, N, IN)).astype(np.float32)
w = rng.uniform(-0.6, 0.6, (1, H, IN)).astype(np.float32)
r = rng.uniform(-0.6, 0.6, (1, H, H)).astype(np.float32)
b = rng.uniform(-0.3, 0.3, (1, 2 * H)).astype(np.float32)
w2 = rng.uniform(-0.6, 0.6, (2, H, IN)).astype(np.float32)
r2 = rng.uniform(-0.6, 0.6, (2, H, H)).astype(np.float32)
b2 = rng.uniform(-0.3, 0.3, (2, 2 * H)).astype(np.float32)
inits = [numpy_helper.from_array(v, k) for k, v in
         [("W", w), ("R", r), ("B", b), ("W2", w2), ("R2", r2), ("B2", b2)]]
nodes = [helper.make_node("RNN", ["X", "W", "R", "B"], ["Yf", "Hf"],
                          hidden_size=H),
         helper.make_node("RNN", ["X", "W", "R"], ["Yr", "Hr"], hidden_size=H,
                          direction="reverse", activations=["Relu"]),
         helper.make_node("Transpose", ["X"], ["Xb"], perm=[1, 0, 2]),
         helper.make_node("RNN", ["Xb", "W2", "R2", "B2"], ["Yb", "Hb"],
                          hidden_size=H, direction="bidirectional", layout=1,
                          activations=["Tanh", "Sigmoid"])]
m = model_of(nodes, "rnn", [vinfo("X", F, [T, N, IN])],
             [vinfo("Yf", F, [T, 1, N, H]), vinfo("Hf", F, [1, N, H]),
              vinfo("Yr", F, [T, 1, N, H]), vinfo("Hr", F, [1, N, H]),
              vinfo("Yb", F, [N, T, 2, H]), vinfo("Hb", F, [N, 2, H])],
             inits, 14)
save(m, "rnn.onnx")
npy("X.npy", seq)


def rnn_ref(xs, wd, rd, bd, act, backwards):
    """ONNX RNN, one direction: H_t = f(X_t W^T + H_{t-1} R^T + Wb + Rb);
    the outputs stored at the step of the input they read."""
    xs = xs.astype(np.float64)
    h = np.zeros((xs.shape[1], wd.shape[0]))
    ys = np.zeros((xs.shape[0], xs.shape[1], wd.shape[0]))
    steps = range(xs.shape[0] - 1, -1, -1) if backwards else range(xs.shape[0])
    for t in steps:
        h = act(xs[t] @ wd.T + h @ rd.T + bd[:H] + bd[H:])
        ys[t] = h
    return ys, h


tanh = np.tanh
relu = lambda v: np.maximum(v, 0)
sigmoid = lambda v: 1 / (1 + np.exp(-v))
yf, hf = rnn_ref(seq, w[0], r[0], b[0], tanh, False)
yr, hr = rnn_ref(seq, w[0], r[0], np.zeros(2 * H), relu, True)
y0, h0 = rnn_ref(seq, w2[0], r2[0], b2[0], tanh, False)
y1, h1 = rnn_ref(seq, w2[1], r2[1], b2[1], sigmoid, True)
f32 = lambda a: a.astype(np.float32)
npy("rnn.0.npy", f32(yf[:, None]))
npy("rnn.1.npy", f32(hf[None]))
npy("rnn.2.npy", f32(yr[:, None]))
npy("rnn.3.npy", f32(hr[None]))
npy("rnn.4.npy", f32(np.stack([y0, y1], axis=2).transpose(1, 0, 2, 3)))
npy("rnn.5.npy", f32(np.stack([h0, h1], axis=1)))

# gelu: torch exports nn.GELU() decomposed (Div, Erf, Add, Mul, Mul) -------
import torch  # noqa: E402

torch.manual_seed(3)
gelu = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.GELU())
gx = rng.uniform(-3, 3, (4, 3)).astype(np.float32)
torch.onnx.export(gelu, torch.from_numpy(gx), os.path.join(out, "gelu.onnx"),
                  input_names=["x"], output_names=["y"], opset_version=13)
npy("gx.npy", gx)
with torch.no_grad():
    npy("gelu.0.npy", gelu.double()(torch.from_numpy(gx).double()).numpy()
        .astype(np.float32))

# bad -------------------------------------------------------------------------
nodes = [
    helper.make_node("RNN", ["X", "W", "R", "", "lens"], ["Ys", "Hs"],
                     hidden_size=H, name="rnn_lens"),
    helper.make_node("RNN", ["X", "W", "R"], ["Ya", "Ha"], hidden_size=H,
                     activations=["LeakyRelu"], name="rnn_leaky"),
    helper.make_node("LayerNormalization", ["x", "scale"], ["ln"],
                     stash_type=0, name="ln_stash"),
    const("one64", 1),
    helper.make_node("Range", ["start", "n", "one64"], ["iota"],
                     name="range_input"),
]
lens = numpy_helper.from_array(np.full(N, T, np.int32), "lens")
m = model_of(nodes, "bad",
             [vinfo("X", F, [T, N, IN]), vinfo("start", I64, []),
              vinfo("n", I64, []), vinfo("x", F, [2, 3, 4])],
             [vinfo("Ys", F, [T, 1, N, H]), vinfo("Ya", F, [T, 1, N, H]),
              vinfo("ln", F, [2, 3, 4]), vinfo("iota", I64, ["len"])],
             [inits[0], inits[1], lens, numpy_helper.from_array(scale,
                                                                "scale")], 17)
save(m, "bad.onnx", check=False)
