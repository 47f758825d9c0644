#!/usr/bin/python3
"""Writes ONNX recurrent models with initial states and final-state outputs
into DIR (rnn_states.test runs them through check_run.py), with references
from PyTorch's own modules in float64:

  lstm_states.onnx: torch nn.LSTM(4, 5, bidirectional, batch_first) called
    with (h0, c0) as graph inputs and returning (y, h_n, c_n), exported at
    opset 14 (LSTM with initial_h, initial_c, and Y, Y_h, Y_c used).
  gru_states.onnx: torch nn.GRU(4, 3) (time-major) with h0, returning
    (y, h_n), exported at opset 13.
  rnn_states14.onnx (opset 14, hand-built): ONNX RNN with layout 1, reverse,
    initial_h [N, 1, H] and Y_h; reference: numpy, the ONNX formula.
  lstm_only_c.onnx (opset 14, hand-built): LSTM with initial_c but no
    initial_h (zeros), Y_c used; reference: torch nn.LSTM with h0 = 0.
  lstm_lens.onnx (opset 14, hand-built): bidirectional LSTM with
    sequence_lens as a graph input; reference: torch's bidirectional
    nn.LSTM run on each sample's valid prefix alone.
  bad_states.onnx: an LSTM whose initial_h has the wrong batch, one whose
    initial_c has the wrong hidden size, one whose sequence_lens has the
    wrong batch: all reported in one run.
"""
import os
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
torch.manual_seed(5)
rng = np.random.default_rng(5)
F = TensorProto.FLOAT
N, T, IN = 3, 6, 4


def npy(name, a):
    np.save(os.path.join(out, name), np.asarray(a, np.float32))


def export(module, args, name, inputs, outputs, opset):
    torch.onnx.export(module, args, os.path.join(out, name), opset_version=opset,
                      input_names=inputs, output_names=outputs,
                      do_constant_folding=True)


# lstm_states: bidirectional, batch-first, given (h0, c0) ---------------------
class LstmStates(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(IN, 5, bidirectional=True, batch_first=True)

    def forward(self, x, h0, c0):
        y, (h, c) = self.lstm(x, (h0, c0))
        return y, h, c


lstm = LstmStates()
x = rng.uniform(-1, 1, (N, T, IN)).astype(np.float32)
h0 = rng.uniform(-0.8, 0.8, (2, N, 5)).astype(np.float32)
c0 = rng.uniform(-0.8, 0.8, (2, N, 5)).astype(np.float32)
export(lstm, (torch.from_numpy(x), torch.from_numpy(h0), torch.from_numpy(c0)),
       "lstm_states.onnx", ["x", "h0", "c0"], ["y", "h", "c"], 14)
with torch.no_grad():
    ref = lstm.double()(torch.from_numpy(x).double(),
                        torch.from_numpy(h0).double(),
                        torch.from_numpy(c0).double())
npy("x.npy", x)
npy("h0.npy", h0)
npy("c0.npy", c0)
for i, r in enumerate(ref):
    npy("lstm_states.%d.npy" % i, r.numpy())


# gru_states: time-major, given h0 --------------------------------------------
class GruStates(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = torch.nn.GRU(IN, 3)

    def forward(self, xt, h0):
        y, h = self.gru(xt, h0)
        return y, h


gru = GruStates()
xt = rng.uniform(-1, 1, (T, N, IN)).astype(np.float32)
g0 = rng.uniform(-0.8, 0.8, (1, N, 3)).astype(np.float32)
export(gru, (torch.from_numpy(xt), torch.from_numpy(g0)), "gru_states.onnx",
       ["xt", "g0"], ["gy", "gh"], 13)
with torch.no_grad():
    ref = gru.double()(torch.from_numpy(xt).double(),
                       torch.from_numpy(g0).double())
npy("xt.npy", xt)
npy("g0.npy", g0)
for i, r in enumerate(ref):
    npy("gru_states.%d.npy" % i, r.numpy())


# rnn_states14: ONNX RNN, layout 1, reverse, initial_h [N, 1, H] --------------
H = 4


def model_of(nodes, name, inputs, outputs, inits, opset):
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="kiln-tests")
    m.ir_version = 8
    return m


w = rng.uniform(-0.5, 0.5, (1, H, IN)).astype(np.float32)
r = rng.uniform(-0.5, 0.5, (1, H, H)).astype(np.float32)
b = rng.uniform(-0.3, 0.3, (1, 2 * H)).astype(np.float32)
i0 = rng.uniform(-0.8, 0.8, (N, 1, H)).astype(np.float32)
inits = [numpy_helper.from_array(a, n) for a, n in
         ((w, "W"), (r, "R"), (b, "B"))]
node = helper.make_node("RNN", ["x", "W", "R", "B", "", "i0"], ["Y", "Yh"],
                        hidden_size=H, direction="reverse", layout=1)
m = model_of([node], "rnn_states", [helper.make_tensor_value_info(
    "x", F, [N, T, IN]), helper.make_tensor_value_info("i0", F, [N, 1, H])],
    [helper.make_tensor_value_info("Y", F, [N, T, 1, H]),
     helper.make_tensor_value_info("Yh", F, [N, 1, H])], inits, 14)
onnx.checker.check_model(m, full_check=True)
onnx.save(m, os.path.join(out, "rnn_states14.onnx"))
# ONNX RNN: H_t = tanh(X_t W^T + H_{t-1} R^T + Wb + Rb), reverse direction
# from the last step; Y[t] is the state after reading step t.
h = i0[:, 0].astype(np.float64)
ys = [None] * T
for t in reversed(range(T)):
    h = np.tanh(x[:, t] @ w[0].T.astype(np.float64) + h @ r[0].T +
                b[0, :H] + b[0, H:])
    ys[t] = h
npy("i0.npy", i0)
npy("rnn_states14.0.npy", np.stack(ys, axis=1)[:, :, None])
npy("rnn_states14.1.npy", h[:, None])


# lstm_only_c: initial_c without initial_h ------------------------------------
lc = torch.nn.LSTM(IN, 5)
wi = lc.weight_ih_l0.detach().numpy()
wh = lc.weight_hh_l0.detach().numpy()
bi = lc.bias_ih_l0.detach().numpy()
bh = lc.bias_hh_l0.detach().numpy()


def onnx_gates(a):
    """torch's i, f, g, o blocks as ONNX's i, o, f, c."""
    i, f, g, o = np.split(a, 4, axis=0)
    return np.concatenate([i, o, f, g], axis=0)


inits = [numpy_helper.from_array(onnx_gates(wi)[None], "W"),
         numpy_helper.from_array(onnx_gates(wh)[None], "R"),
         numpy_helper.from_array(np.concatenate([onnx_gates(bi),
                                                 onnx_gates(bh)])[None], "B")]
node = helper.make_node("LSTM", ["xt", "W", "R", "B", "", "", "k0"],
                        ["Y", "", "Yc"], hidden_size=5)
m = model_of([node], "lstm_only_c", [
    helper.make_tensor_value_info("xt", F, [T, N, IN]),
    helper.make_tensor_value_info("k0", F, [1, N, 5])],
    [helper.make_tensor_value_info("Y", F, [T, 1, N, 5]),
     helper.make_tensor_value_info("Yc", F, [1, N, 5])], inits, 14)
onnx.checker.check_model(m, full_check=True)
onnx.save(m, os.path.join(out, "lstm_only_c.onnx"))
k0 = rng.uniform(-0.8, 0.8, (1, N, 5)).astype(np.float32)
with torch.no_grad():
    y, (_, cn) = lc.double()(torch.from_numpy(xt).double(),
                             (torch.zeros(1, N, 5, dtype=torch.float64),
                              torch.from_numpy(k0).double()))
npy("k0.npy", k0)
npy("lstm_only_c.0.npy", y.numpy()[:, None])
npy("lstm_only_c.1.npy", cn.numpy())


# bad_states --------------------------------------------------------------------
inits = [numpy_helper.from_array(onnx_gates(wi)[None], "W"),
         numpy_helper.from_array(onnx_gates(wh)[None], "R")]
nodes = [helper.make_node("LSTM", ["xt", "W", "R", "", "", "hb"], ["Y1"],
                          hidden_size=5, name="lstm_bad_h"),
         helper.make_node("LSTM", ["xt", "W", "R", "", "", "", "cb"],
                          ["Y2"], hidden_size=5, name="lstm_bad_c"),
         helper.make_node("LSTM", ["xt", "W", "R", "", "lb"], ["Y3"],
                          hidden_size=5, name="lstm_bad_lens")]
m = model_of(nodes, "bad_states", [
    helper.make_tensor_value_info("xt", F, [T, N, IN]),
    helper.make_tensor_value_info("hb", F, [1, N + 1, 5]),
    helper.make_tensor_value_info("cb", F, [1, N, 4]),
    helper.make_tensor_value_info("lb", TensorProto.INT32, [N + 1])],
    [helper.make_tensor_value_info("Y1", F, [T, 1, N, 5]),
     helper.make_tensor_value_info("Y2", F, [T, 1, N, 5]),
     helper.make_tensor_value_info("Y3", F, [T, 1, N, 5])], inits, 14)
onnx.save(m, os.path.join(out, "bad_states.onnx"))


# lstm_lens: bidirectional LSTM with sequence_lens (a graph input) --------------
# Reference: torch's bidirectional nn.LSTM run on each sample's valid prefix
# alone (ONNX: outputs past a sample's length are 0, Y_h/Y_c the states
# after its last valid step; the reverse direction starts at that step).
lb = torch.nn.LSTM(IN, 5, bidirectional=True).double()
ws = [getattr(lb, "%s_l0%s" % (kind, suffix)).detach().numpy()
      for suffix in ("", "_reverse")
      for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
inits = [numpy_helper.from_array(np.stack([onnx_gates(ws[0]), onnx_gates(
             ws[4])]).astype(np.float32), "W"),
         numpy_helper.from_array(np.stack([onnx_gates(ws[1]), onnx_gates(
             ws[5])]).astype(np.float32), "R"),
         numpy_helper.from_array(np.stack([
             np.concatenate([onnx_gates(ws[2]), onnx_gates(ws[3])]),
             np.concatenate([onnx_gates(ws[6]), onnx_gates(ws[7])])]).astype(
                 np.float32), "B")]
node = helper.make_node("LSTM", ["xt", "W", "R", "B", "lens"],
                        ["Y", "Yh", "Yc"], hidden_size=5,
                        direction="bidirectional")
m = model_of([node], "lstm_lens", [
    helper.make_tensor_value_info("xt", F, [T, N, IN]),
    helper.make_tensor_value_info("lens", TensorProto.INT32, [N])],
    [helper.make_tensor_value_info("Y", F, [T, 2, N, 5]),
     helper.make_tensor_value_info("Yh", F, [2, N, 5]),
     helper.make_tensor_value_info("Yc", F, [2, N, 5])], inits, 14)
onnx.checker.check_model(m, full_check=True)
onnx.save(m, os.path.join(out, "lstm_lens.onnx"))
lens = np.array([T, 3, 1], np.int32)
y_ref = np.zeros((T, 2, N, 5))
h_ref = np.zeros((2, N, 5))
c_ref = np.zeros((2, N, 5))
with torch.no_grad():
    for s in range(N):
        length = int(lens[s])
        xs = torch.from_numpy(xt[:length, s:s + 1].astype(np.float64))
        y, (hn, cn) = lb(xs)
        y_ref[:length, :, s] = y[:, 0].numpy().reshape(length, 2, 5)
        h_ref[:, s] = hn[:, 0].numpy()
        c_ref[:, s] = cn[:, 0].numpy()
np.save(os.path.join(out, "lens.npy"), lens)
npy("lstm_lens.0.npy", y_ref)
npy("lstm_lens.1.npy", h_ref)
npy("lstm_lens.2.npy", c_ref)
