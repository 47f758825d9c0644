#!/usr/bin/python3
"""Writes rnn_golden.txt, the reference values of RecurrentKernelTest.cpp.

For each case below: random inputs and weights (uniform, rounded to f32 so
that the f32 kernels see exactly the same inputs), then the forward pass of a
Keras recurrent layer written out step by step in float64 torch code from the
formulas of Keras 3 (keras/src/layers/rnn/simple_rnn.py, lstm.py, gru.py:
gate blocks in Keras' order, LSTM i f c o, GRU z r h), and every gradient by
torch autograd of

    loss = sum(y * dy) + sum(last_cell * dlast_cell)

so the backward values come from autograd, not from hand-derived formulas.
Masked cases follow Keras' backend rnn (keras/src/backend/*/rnn.py): at a
masked step the states carry over (torch.where) and the output is the
carried h, or zeros with zero_output_for_mask.
The LSTM and the reset_after=1 GRU reference is also cross-checked against
torch.nn.LSTM / torch.nn.GRU with the weights reordered into PyTorch's
layout, so that the explicit code is not only checked against itself.

Run with the system Python (torch 1.13 and numpy are installed there) and
commit the output:

    /usr/bin/python3 tests/unit/data/gen_rnn_golden.py

The output is deterministic (fixed seeds, CPU float64).

File format (text): per case a line
    case NAME CELL N T I H ACT RACT GO_BACKWARDS REVERSE_OUTPUT RESET_AFTER
         HAS_BIAS HAS_DLAST_CELL HAS_MASK ZERO_OUTPUT_FOR_MASK
(one line), then arrays, one per line: `NAME COUNT v0 v1 ...` with values in
'%.17g' (exact round trip), then `end`. Arrays: x, kernel, recurrent_kernel,
bias (if HAS_BIAS), mask (if HAS_MASK; [N, T] of 0/1), dy, dlast_cell (if
HAS_DLAST_CELL), y, last_cell (LSTM),
dx, dkernel, drecurrent_kernel, dbias (if HAS_BIAS). CELL: 0 simple, 1 LSTM,
2 GRU; ACT / RACT: kiln_epilogue_t (0 linear, 1 relu, 2 sigmoid, 3 tanh).
"""

import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SIMPLE, LSTM, GRU = 0, 1, 2
NONE, RELU, SIGMOID, TANH = 0, 1, 2, 3

torch.set_default_dtype(torch.float64)


def activation(code):
    return {
        NONE: lambda v: v,
        RELU: torch.relu,
        SIGMOID: torch.sigmoid,
        TANH: torch.tanh,
    }[code]


def gates(cell):
    return {SIMPLE: 1, LSTM: 4, GRU: 3}[cell]


def reference(c, x, kernel, rec, bias, mask=None):
    """Keras forward pass. Returns y [N, T, H] and last_cell [N, H] (LSTM)."""
    N, T, _ = x.shape
    H = c["H"]
    act, ra = activation(c["act"]), activation(c["ract"])
    h = torch.zeros(N, H)
    cs = torch.zeros(N, H)
    ys = [None] * T
    for s in range(T):
        t = T - 1 - s if c["go_backwards"] else s
        xt = x[:, t, :]
        h_prev, c_prev = h, cs
        if c["cell"] == SIMPLE:
            z = xt @ kernel + h @ rec
            if bias is not None:
                z = z + bias
            h = act(z)
        elif c["cell"] == LSTM:
            z = xt @ kernel + h @ rec
            if bias is not None:
                z = z + bias
            i = ra(z[:, 0:H])
            f = ra(z[:, H : 2 * H])
            g = act(z[:, 2 * H : 3 * H])
            o = ra(z[:, 3 * H :])
            cs = f * cs + i * g
            h = o * act(cs)
        elif c["reset_after"]:
            xz = xt @ kernel
            hz = h @ rec
            if bias is not None:
                xz = xz + bias[0]
                hz = hz + bias[1]
            z = ra(xz[:, :H] + hz[:, :H])
            r = ra(xz[:, H : 2 * H] + hz[:, H : 2 * H])
            hh = act(xz[:, 2 * H :] + r * hz[:, 2 * H :])
            h = z * h + (1 - z) * hh
        else:
            xz = xt @ kernel
            if bias is not None:
                xz = xz + bias
            z = ra(xz[:, :H] + h @ rec[:, :H])
            r = ra(xz[:, H : 2 * H] + h @ rec[:, H : 2 * H])
            hh = act(xz[:, 2 * H :] + (r * h) @ rec[:, 2 * H :])
            h = z * h + (1 - z) * hh
        out = h
        if mask is not None:
            valid = mask[:, t : t + 1] != 0
            h = torch.where(valid, h, h_prev)
            cs = torch.where(valid, cs, c_prev)
            out = torch.where(valid, out, torch.zeros_like(h)
                              if c["zero_output"] else h_prev)
        ys[T - 1 - s if c["reverse_output"] else s] = out
    y = torch.stack(ys, dim=1)
    return y, (cs if c["cell"] == LSTM else None)


def cross_check(c, x, kernel, rec, bias, y, last_cell):
    """Compares against torch.nn.LSTM / nn.GRU (tanh/sigmoid cases only)."""
    if c["act"] != TANH or c["ract"] != SIGMOID or c["N"] == 0:
        return False
    if c["cell"] == GRU and not c["reset_after"]:
        return False
    if c["cell"] == SIMPLE:
        return False
    H = c["H"]
    xs = torch.flip(x, [1]) if c["go_backwards"] else x
    with torch.no_grad():
        if c["cell"] == LSTM:
            # PyTorch's gate order i, f, g, o is Keras' i, f, c, o.
            m = torch.nn.LSTM(c["I"], H, batch_first=True)
            m.weight_ih_l0.copy_(kernel.T)
            m.weight_hh_l0.copy_(rec.T)
            m.bias_ih_l0.copy_(bias if bias is not None else torch.zeros(4 * H))
            m.bias_hh_l0.zero_()
            out, (_, cn) = m(xs)
            assert torch.allclose(cn[0], last_cell, rtol=1e-12, atol=1e-12)
        else:
            # PyTorch's order r, z, n with n = tanh(W_in x + b_in + r (W_hn h
            # + b_hn)), h' = (1 - z) n + z h: Keras' reset_after=1 GRU.
            def reorder(w):  # Keras blocks z, r, h -> PyTorch r, z, n
                return torch.cat([w[..., H : 2 * H], w[..., :H], w[..., 2 * H :]], -1)

            m = torch.nn.GRU(c["I"], H, batch_first=True)
            m.weight_ih_l0.copy_(reorder(kernel).T)
            m.weight_hh_l0.copy_(reorder(rec).T)
            b = bias if bias is not None else torch.zeros(2, 3 * H)
            m.bias_ih_l0.copy_(reorder(b[0]))
            m.bias_hh_l0.copy_(reorder(b[1]))
            out, _ = m(xs)
        if c["reverse_output"]:
            out = torch.flip(out, [1])
        assert torch.allclose(out, y, rtol=1e-12, atol=1e-12), c["name"]
    return True


def case(name, cell, N, T, I, H, act=TANH, ract=SIGMOID, go_backwards=0,
         reverse_output=0, reset_after=1, bias=True, dlast_cell=False,
         scale=0.5, seed=0, mask=False, zero_output=0):
    return dict(name=name, cell=cell, N=N, T=T, I=I, H=H, act=act, ract=ract,
                go_backwards=go_backwards, reverse_output=reverse_output,
                reset_after=reset_after, bias=bias, dlast_cell=dlast_cell,
                scale=scale, seed=seed, mask=mask, zero_output=zero_output)


CASES = [
    case("lstm", LSTM, 3, 5, 4, 3, dlast_cell=True, seed=1),
    case("lstm_nobias_backwards", LSTM, 2, 4, 3, 5, go_backwards=1,
         bias=False, seed=2),
    case("lstm_bidirectional_half", LSTM, 2, 5, 3, 4, go_backwards=1,
         reverse_output=1, dlast_cell=True, seed=3),
    case("lstm_t1", LSTM, 4, 1, 3, 2, dlast_cell=True, seed=4),
    case("lstm_linear_tanh_gates", LSTM, 2, 4, 3, 3, act=NONE, ract=TANH,
         seed=5),
    case("lstm_relu", LSTM, 3, 6, 2, 4, act=RELU, seed=6),
    case("lstm_long", LSTM, 2, 40, 3, 4, dlast_cell=True, seed=7),
    case("lstm_empty_batch", LSTM, 0, 3, 2, 3, seed=8),
    case("gru", GRU, 2, 6, 3, 4, seed=11),
    case("gru_nobias", GRU, 3, 4, 2, 3, bias=False, seed=12),
    case("gru_bidirectional_half", GRU, 2, 5, 4, 3, go_backwards=1,
         reverse_output=1, seed=13),
    case("gru_backwards", GRU, 2, 5, 3, 3, go_backwards=1, seed=14),
    case("gru_long", GRU, 2, 40, 3, 5, seed=15),
    case("gru_reset_before", GRU, 2, 6, 3, 4, reset_after=0, seed=21),
    case("gru_reset_before_nobias_backwards", GRU, 3, 4, 2, 3, reset_after=0,
         go_backwards=1, bias=False, seed=22),
    case("gru_reset_before_relu_t1", GRU, 2, 1, 3, 3, reset_after=0,
         act=RELU, seed=23),
    case("gru_reset_before_reverse_output", GRU, 2, 5, 3, 3, reset_after=0,
         reverse_output=1, seed=24),
    case("gru_empty_batch", GRU, 0, 2, 3, 2, seed=25),
    case("simple_tanh", SIMPLE, 3, 4, 5, 3, seed=31),
    case("simple_relu_nobias", SIMPLE, 2, 5, 3, 4, act=RELU, bias=False,
         seed=32),
    case("simple_linear_backwards", SIMPLE, 2, 4, 3, 3, act=NONE,
         go_backwards=1, scale=0.4, seed=33),
    case("simple_bidirectional_half", SIMPLE, 2, 5, 3, 3, go_backwards=1,
         reverse_output=1, seed=34),
    case("simple_t1", SIMPLE, 3, 1, 2, 3, seed=35),
    case("simple_long", SIMPLE, 2, 40, 3, 4, seed=36),
    case("simple_empty_batch", SIMPLE, 0, 4, 3, 2, seed=37),
    # Masks: right padding (mask_zero embeddings), gaps, a first and a last
    # masked step, a fully masked sample (see random_mask).
    case("lstm_masked", LSTM, 4, 6, 3, 3, dlast_cell=True, mask=True,
         seed=41),
    case("lstm_masked_bidirectional_half_zero_output", LSTM, 4, 5, 3, 3,
         go_backwards=1, reverse_output=1, mask=True, zero_output=1,
         dlast_cell=True, seed=42),
    case("gru_masked", GRU, 4, 6, 3, 4, mask=True, seed=43),
    case("gru_masked_backwards_zero_output", GRU, 4, 5, 2, 3, go_backwards=1,
         mask=True, zero_output=1, seed=44),
    case("gru_reset_before_masked", GRU, 4, 6, 3, 3, reset_after=0,
         mask=True, seed=45),
    case("simple_masked", SIMPLE, 4, 5, 3, 3, mask=True, seed=46),
    case("simple_masked_zero_output_relu", SIMPLE, 4, 6, 2, 3, act=RELU,
         mask=True, zero_output=1, seed=47),
]


def random_mask(rng, N, T):
    """[N, T] of 0/1: sample 0 right-padded, sample 1 with random gaps and
    its first and last steps masked, sample 2 fully masked, the rest
    random."""
    m = (rng.uniform(size=(N, T)) < 0.7).astype(np.float64)
    m[0, :] = 1
    m[0, T - 2 :] = 0
    m[1, 0] = m[1, T - 1] = 0
    m[2, :] = 0
    return torch.tensor(m)


def uniform(rng, shape, scale):
    # Rounded to f32, so both kernels see the same inputs.
    v = rng.uniform(-scale, scale, size=shape).astype(np.float32)
    return torch.tensor(v.astype(np.float64))


def write_array(out, name, t):
    v = t.detach().reshape(-1).numpy()
    out.write("%s %d%s\n" % (name, v.size, "".join(" %.17g" % e for e in v)))


def main():
    checked = []
    path = os.path.join(HERE, "rnn_golden.txt")
    with open(path, "w") as out:
        for c in CASES:
            rng = np.random.default_rng(c["seed"])
            N, T, I, H = c["N"], c["T"], c["I"], c["H"]
            GH = gates(c["cell"]) * H
            x = uniform(rng, (N, T, I), 1.0).requires_grad_()
            kernel = uniform(rng, (I, GH), c["scale"]).requires_grad_()
            rec = uniform(rng, (H, GH), c["scale"]).requires_grad_()
            bias = None
            if c["bias"]:
                shape = (2, GH) if c["cell"] == GRU and c["reset_after"] else (GH,)
                bias = uniform(rng, shape, c["scale"]).requires_grad_()
            mask = random_mask(rng, N, T) if c["mask"] else None
            dy = uniform(rng, (N, T, H), 1.0)
            dlast = uniform(rng, (N, H), 1.0) if c["dlast_cell"] else None

            y, last_cell = reference(c, x, kernel, rec, bias, mask)
            loss = (y * dy).sum()
            if dlast is not None:
                loss = loss + (last_cell * dlast).sum()
            params = [x, kernel, rec] + ([bias] if bias is not None else [])
            grads = torch.autograd.grad(loss, params, allow_unused=True)
            grads = [g if g is not None else torch.zeros_like(p)
                     for g, p in zip(grads, params)]
            if mask is None and cross_check(c, x, kernel, rec, bias, y,
                                            last_cell):
                checked.append(c["name"])

            out.write("case %s %d %d %d %d %d %d %d %d %d %d %d %d %d %d\n" % (
                c["name"], c["cell"], N, T, I, H, c["act"], c["ract"],
                c["go_backwards"], c["reverse_output"], c["reset_after"],
                int(bias is not None), int(dlast is not None),
                int(mask is not None), c["zero_output"]))
            write_array(out, "x", x)
            write_array(out, "kernel", kernel)
            write_array(out, "recurrent_kernel", rec)
            if bias is not None:
                write_array(out, "bias", bias)
            if mask is not None:
                write_array(out, "mask", mask)
            write_array(out, "dy", dy)
            if dlast is not None:
                write_array(out, "dlast_cell", dlast)
            write_array(out, "y", y)
            if c["cell"] == LSTM:
                write_array(out, "last_cell", last_cell if N else torch.zeros(0, H))
            write_array(out, "dx", grads[0])
            write_array(out, "dkernel", grads[1])
            write_array(out, "drecurrent_kernel", grads[2])
            if bias is not None:
                write_array(out, "dbias", grads[3])
            out.write("end\n")
    print("wrote %s: %d cases; cross-checked against torch.nn: %s" %
          (path, len(CASES), ", ".join(checked)))


if __name__ == "__main__":
    main()
