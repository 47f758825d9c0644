"""A small ONNX evaluator in numpy (float64) for the ops `prog export` writes.

ONNX 1.12 has no onnx.reference evaluator, so the export tests run the
exported graphs here. Each op follows the ONNX operator documentation
(https://onnx.ai/onnx/operators/, opset 17; LSTM/GRU/RNN equations as given
there, layout = 1); convolutions and pooling use torch.nn.functional on
explicitly padded float64 tensors. Floating-point tensors are computed in
float64, so the comparison with kiln's float32 results measures kiln's error.
Usage: run(model, {input name: array}) -> {output name: array}.
"""

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

_ACT = {
    "Tanh": np.tanh,
    "Sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "Relu": lambda x: np.maximum(x, 0.0),
}


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _f(x):
    return x.astype(np.float64) if np.issubdtype(x.dtype, np.floating) else x


def _pad_spatial(x, pads, value):
    d = len(pads) // 2
    width = [(0, 0), (0, 0)] + [(pads[i], pads[i + d]) for i in range(d)]
    return np.pad(x, width, constant_values=value)


def _torch_fn(name, d):
    return getattr(F, f"{name}{d}d")


def _recurrent(op, x, w, r, b, a, h0=None, c0=None):
    """LSTM / GRU / RNN with one direction, layout 1: x [N, T, I], initial
    states h0, c0 [N, 1, H] (None: zeros). Returns Y [N, T, 1, H], Y_h and
    (LSTM) Y_c [N, 1, H]."""
    h_size = a["hidden_size"]
    assert a.get("layout", 0) == 1
    direction = a.get("direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else direction
    default = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"],
               "RNN": ["Tanh"]}[op]
    acts = [s.decode() if isinstance(s, bytes) else s
            for s in a.get("activations", default)]
    n, t_len, _ = x.shape
    w, r, b = w[0], r[0], b[0]
    g = w.shape[0] // h_size
    wb, rb = b[: g * h_size], b[g * h_size:]
    h = np.zeros((n, h_size)) if h0 is None else h0[:, 0].astype(np.float64)
    c = np.zeros((n, h_size)) if c0 is None else c0[:, 0].astype(np.float64)
    y = np.zeros((n, t_len, 1, h_size))
    steps = range(t_len) if direction == "forward" else range(t_len - 1, -1, -1)
    for t in steps:
        xt = x[:, t]
        if op == "LSTM":
            f_act, g_act, h_act = (_ACT[s] for s in acts)
            gates = xt @ w.T + h @ r.T + wb + rb
            i, o, f, cc = np.split(gates, 4, axis=1)
            i, o, f, cc = f_act(i), f_act(o), f_act(f), g_act(cc)
            c = f * c + i * cc
            h = o * h_act(c)
        elif op == "GRU":
            f_act, g_act = (_ACT[s] for s in acts)
            wz, wr, wh = np.split(w, 3, axis=0)
            rz, rr, rh = np.split(r, 3, axis=0)
            wbz, wbr, wbh = np.split(wb, 3)
            rbz, rbr, rbh = np.split(rb, 3)
            z = f_act(xt @ wz.T + h @ rz.T + wbz + rbz)
            rr_t = f_act(xt @ wr.T + h @ rr.T + wbr + rbr)
            if a.get("linear_before_reset", 0):
                hh = g_act(xt @ wh.T + rr_t * (h @ rh.T + rbh) + wbh)
            else:
                hh = g_act(xt @ wh.T + (rr_t * h) @ rh.T + rbh + wbh)
            h = (1 - z) * hh + z * h
        else:
            h = _ACT[acts[0]](xt @ w.T + h @ r.T + wb + rb)
        y[:, t, 0] = h
    return [y, h[:, None], c[:, None]] if op == "LSTM" else [y, h[:, None]]


def _node(node, v):
    op, a = node.op_type, _attrs(node)
    x = [v[i] if i else None for i in node.input]
    unary = {
        "Identity": lambda t: t, "Neg": np.negative, "Exp": np.exp,
        "Log": np.log, "Sqrt": np.sqrt, "Abs": np.abs, "Tanh": np.tanh,
        "Sigmoid": _ACT["Sigmoid"], "Relu": _ACT["Relu"],
        "Reciprocal": lambda t: 1.0 / t, "Not": np.logical_not,
        "Softplus": lambda t: np.log1p(np.exp(t)),
        "Erf": lambda t: torch.erf(torch.from_numpy(t)).numpy(),
    }
    binary = {
        "Add": np.add, "Sub": np.subtract, "Mul": np.multiply,
        "Div": np.divide, "Max": np.maximum, "Min": np.minimum,
        "Pow": np.power, "Equal": np.equal, "Less": np.less,
        "LessOrEqual": np.less_equal, "Greater": np.greater,
        "GreaterOrEqual": np.greater_equal,
    }
    if op in unary:
        return [unary[op](x[0])]
    if op in binary:
        return [binary[op](x[0], x[1])]
    if op == "Where":
        return [np.where(x[0], x[1], x[2])]
    if op == "LeakyRelu":
        return [np.where(x[0] >= 0, x[0], a["alpha"] * x[0])]
    if op == "Elu":
        return [np.where(x[0] > 0, x[0], a["alpha"] * (np.exp(x[0]) - 1))]
    if op == "HardSigmoid":
        return [np.clip(a["alpha"] * x[0] + a["beta"], 0, 1)]
    if op == "Cast":
        to = onnx.helper.tensor_dtype_to_np_dtype(a["to"])
        return [_f(x[0].astype(to))]
    if op in ("ReduceSum", "ReduceMean", "ReduceMax"):
        axes = tuple(x[1]) if op == "ReduceSum" else tuple(a["axes"])
        fn = {"ReduceSum": np.sum, "ReduceMean": np.mean,
              "ReduceMax": np.max}[op]
        return [fn(x[0], axis=axes, keepdims=bool(a.get("keepdims", 1)))]
    if op == "ArgMax":
        return [np.argmax(x[0], axis=a["axis"]) if not a.get("keepdims", 1)
                else np.expand_dims(np.argmax(x[0], axis=a["axis"]),
                                    a["axis"])]
    if op == "Gemm":
        A = x[0].T if a.get("transA", 0) else x[0]
        B = x[1].T if a.get("transB", 0) else x[1]
        y = a.get("alpha", 1.0) * (A @ B)
        if len(x) > 2 and x[2] is not None:
            y = y + a.get("beta", 1.0) * x[2]
        return [y]
    if op == "MatMul":
        return [np.matmul(x[0], x[1])]
    if op == "Conv":
        d = x[0].ndim - 2
        xp = _pad_spatial(x[0], a["pads"], 0.0)
        return [_torch_fn("conv", d)(
            torch.from_numpy(xp), torch.from_numpy(x[1]),
            stride=a["strides"], dilation=a["dilations"],
            groups=a.get("group", 1)).numpy()]
    if op == "ConvTranspose":
        d = x[0].ndim - 2
        y = _torch_fn("conv_transpose", d)(
            torch.from_numpy(x[0]), torch.from_numpy(x[1]),
            stride=a["strides"], dilation=a["dilations"],
            groups=a.get("group", 1),
            output_padding=0).numpy()
        # Full output, then ONNX's crop by pads and output_padding extension.
        pads, extra = a["pads"], a.get("output_padding", [0] * d)
        out = y
        for i in range(d):
            size = y.shape[2 + i] + extra[i]
            padded = np.zeros(out.shape[:2 + i] + (size,) + out.shape[3 + i:])
            sl = [slice(None)] * out.ndim
            sl[2 + i] = slice(0, y.shape[2 + i])
            padded[tuple(sl)] = out
            sl[2 + i] = slice(pads[i], size - pads[i + d])
            out = padded[tuple(sl)]
        return [out]
    if op in ("MaxPool", "AveragePool"):
        assert not a.get("ceil_mode", 0)
        d = x[0].ndim - 2
        k, s, pads = a["kernel_shape"], a["strides"], a["pads"]
        if op == "MaxPool":
            xp = _pad_spatial(x[0], pads, -np.inf)
            return [_torch_fn("max_pool", d)(torch.from_numpy(xp), k,
                                              stride=s).numpy()]
        xp = _pad_spatial(x[0], pads, 0.0)
        pool = _torch_fn("avg_pool", d)
        total = pool(torch.from_numpy(xp), k, stride=s).numpy()
        if a.get("count_include_pad", 0):
            return [total]
        ones = _pad_spatial(np.ones_like(x[0]), pads, 0.0)
        return [total / pool(torch.from_numpy(ones), k, stride=s).numpy()]
    if op == "Gather":
        return [np.take(x[0], x[1], axis=a.get("axis", 0))]
    if op in ("LSTM", "GRU", "RNN"):
        if len(x) > 4 and x[4] is not None:
            raise NotImplementedError("sequence_lens")
        state = lambda i: x[i] if len(x) > i else None
        return _recurrent(op, x[0], x[1], x[2], x[3], a, state(5), state(6))
    if op == "Reshape":
        return [x[0].reshape(tuple(x[1]))]
    if op == "Transpose":
        return [np.transpose(x[0], a["perm"])]
    if op == "Concat":
        return [np.concatenate(x, axis=a["axis"])]
    if op == "Split":
        bounds = np.cumsum(x[1])[:-1]
        return np.split(x[0], bounds, axis=a.get("axis", 0))
    if op == "Squeeze":
        return [np.squeeze(x[0], axis=tuple(x[1]))]
    if op == "Unsqueeze":
        return [np.expand_dims(x[0], axis=tuple(x[1]))]
    if op == "Slice":
        sl = [slice(None)] * x[0].ndim
        for st, en, ax, sp in zip(x[1], x[2], x[3], x[4]):
            sl[ax] = slice(st, en, sp)
        return [x[0][tuple(sl)]]
    if op == "Pad":
        d = x[0].ndim
        p = x[1]
        return [np.pad(x[0], [(p[i], p[i + d]) for i in range(d)],
                       constant_values=x[2])]
    if op == "Expand":
        return [np.broadcast_to(x[0], tuple(x[1])).copy()]
    if op in ("Softmax", "LogSoftmax"):
        z = x[0] - x[0].max(axis=a["axis"], keepdims=True)
        lse = np.log(np.exp(z).sum(axis=a["axis"], keepdims=True))
        return [np.exp(z - lse) if op == "Softmax" else z - lse]
    raise NotImplementedError(op)


def run(model, feeds):
    values = {t.name: _f(numpy_helper.to_array(t))
              for t in model.graph.initializer}
    values.update({k: _f(np.asarray(x)) for k, x in feeds.items()})
    for node in model.graph.node:
        for name, out in zip(node.output, _node(node, values)):
            values[name] = out
    return {o.name: values[o.name] for o in model.graph.output}
