#!/usr/bin/python3
"""Checks kiln-compiled training steps of Keras functional models whose
recurrent layers return their states (return_state=True) and start from
given ones (layer(x, initial_state=[...])) against PyTorch (the harness of
text_train_check.py: loss and every gradient of @loss_grad, then 3
PyTorch-convention Adam steps, within 1e-5 relative).

Usage: rnn_state_check.py KILN_OPT KILNC WORKDIR [MODEL...]

Token ids [16, 10] in 0..19, Keras 3 functional configs (outputs of a layer
with return_state read as keras_history [layer, 0, k]):
  lstm_states: Embedding(20, 6) -> LSTM(5, return_state) "enc" gives
        [out, h, c]; LSTM(5) "dec" over the same embedding with
        initial_state=[h, c]; Concatenate([dec, c]) -> Dense(3). The
        gradient reaches enc through dec's initial states and through its
        returned c directly.
  gru_states: Embedding(20, 6) -> GRU(4, return_sequences, return_state,
        go_backwards) "enc" gives [seq, h]; SimpleRNN(4) over seq with
        initial_state=[h] -> Dense(3).
  masked_states: Embedding(20, 6, mask_zero) (ids right-padded with 0, with
        gaps) -> LSTM(5, return_state) "enc" gives [out, h, c] (the states
        carried over the padding); LSTM(5) "dec" over the embedding (masked
        too) with initial_state=[h, c]; Concatenate([dec, h]) -> Dense(3).
The torch side writes the Keras 3 formulas out (lstm.py, gru.py,
simple_rnn.py; masks as keras/src/backend/*/rnn.py: states = where(mask,
new, old)), with given initial states and the final states returned,
independent of kiln's kernels. Prints one line per tensor, then PASS, or
FAIL lines and exits non-zero.
"""
import os
import sys

import torch

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mlp_train_check as common  # noqa: E402
import mask_train_check as masking  # noqa: E402
import text_train_check as text  # noqa: E402
from text_train_check import BATCH, CLASSES, STEPS_T, VOCAB  # noqa: E402


def functional(layers, output):
    """text_train_check.functional, named "states"."""
    return text.functional(layers, output, name="states")


def run(cell, x, k, rk, b, state, mask=None, backwards=False):
    """Keras 3 SimpleRNN / LSTM / GRU (reset_after) from `state` (a list:
    [h] or [h, c]); returns (every step's output in processing order, the
    final states). Masked steps keep the states and output the old h."""
    n, t, _ = x.shape
    units = rk.shape[0]
    state = list(state)
    out = []
    for s in range(t):
        ti = t - 1 - s if backwards else s
        h = state[0]
        if cell == "lstm":
            z = x[:, ti] @ k + h @ rk + b
            i, f, g, o = z.split(units, dim=1)
            c = torch.sigmoid(f) * state[1] + torch.sigmoid(i) * torch.tanh(g)
            new = [torch.sigmoid(o) * torch.tanh(c), c]
        elif cell == "gru":
            xz = x[:, ti] @ k + b[0]
            hz = h @ rk + b[1]
            xzz, xzr, xzh = xz.split(units, dim=1)
            hzz, hzr, hzh = hz.split(units, dim=1)
            z = torch.sigmoid(xzz + hzz)
            r = torch.sigmoid(xzr + hzr)
            hh = torch.tanh(xzh + r * hzh)
            new = [z * h + (1 - z) * hh]
        else:
            new = [torch.tanh(x[:, ti] @ k + h @ rk + b)]
        if mask is not None:
            m = mask[:, ti:ti + 1]
            new = [torch.where(m, a, old) for a, old in zip(new, state)]
        state = new
        out.append(state[0])
    return torch.stack(out, dim=1), state


def zeros(x, units):
    return x.new_zeros(x.shape[0], units)


def lstm_states_logits(p, ids):
    table, ek, erk, eb, dk, drk, db, ok, ob = p
    e = torch.nn.functional.embedding(ids, table)
    _, (h, c) = run("lstm", e, ek, erk, eb, [zeros(e, 5), zeros(e, 5)])
    _, (dh, _) = run("lstm", e, dk, drk, db, [h, c])
    return torch.cat([dh, c], dim=1) @ ok + ob


def gru_states_logits(p, ids):
    table, gk, grk, gb, sk, srk, sb, ok, ob = p
    e = torch.nn.functional.embedding(ids, table)
    seq, (h,) = run("gru", e, gk, grk, gb, [zeros(e, 4)], backwards=True)
    _, (sh,) = run("simple", seq, sk, srk, sb, [h])
    return sh @ ok + ob


def masked_states_logits(p, ids):
    table, ek, erk, eb, dk, drk, db, ok, ob = p
    mask = ids != 0
    e = torch.nn.functional.embedding(ids, table)
    _, (h, c) = run("lstm", e, ek, erk, eb, [zeros(e, 5), zeros(e, 5)], mask)
    _, (dh, _) = run("lstm", e, dk, drk, db, [h, c], mask)
    return torch.cat([dh, h], dim=1) @ ok + ob


def lstm_params(rng, concat):
    e, u = 6, 5
    lstm = lambda: [rng.uniform(-0.6, 0.6, (e, 4 * u)),
                    rng.uniform(-0.6, 0.6, (u, 4 * u)),
                    rng.uniform(-0.3, 0.3, 4 * u)]
    return ([rng.uniform(-0.8, 0.8, (VOCAB, e))] + lstm() + lstm() +
            [rng.uniform(-0.7, 0.7, (concat, CLASSES)),
             rng.uniform(-0.1, 0.1, CLASSES)])


def gru_params(rng):
    e, u = 6, 4
    return [rng.uniform(-0.8, 0.8, (VOCAB, e)),
            rng.uniform(-0.6, 0.6, (e, 3 * u)),
            rng.uniform(-0.6, 0.6, (u, 3 * u)),
            rng.uniform(-0.3, 0.3, (2, 3 * u)),
            rng.uniform(-0.6, 0.6, (u, u)),
            rng.uniform(-0.6, 0.6, (u, u)),
            rng.uniform(-0.3, 0.3, u),
            rng.uniform(-0.7, 0.7, (u, CLASSES)),
            rng.uniform(-0.1, 0.1, CLASSES)]


def two_lstms(mask_zero):
    return [
        ("Embedding", {"name": "embedding", "input_dim": VOCAB,
                       "output_dim": 6, "mask_zero": mask_zero},
         ["tokens"], {}),
        ("LSTM", {"name": "enc", "units": 5, "return_state": True},
         ["embedding"], {}),
        ("LSTM", {"name": "dec", "units": 5}, ["embedding"],
         {"initial_state": [("enc", 1), ("enc", 2)]}),
    ]


LSTM_NAMES = ["embedding/embeddings", "enc/kernel", "enc/recurrent_kernel",
              "enc/bias", "dec/kernel", "dec/recurrent_kernel", "dec/bias",
              "out/kernel", "out/bias"]

MODELS = {
    "lstm_states": (functional(two_lstms(False) + [
        ("Concatenate", {"name": "cat"}, ["dec", ("enc", 2)], {}),
        ("Dense", {"name": "out", "units": CLASSES}, ["cat"], {}),
    ], "out"), LSTM_NAMES, lambda rng: lstm_params(rng, 10),
        lstm_states_logits),
    "gru_states": (functional([
        ("Embedding", {"name": "embedding", "input_dim": VOCAB,
                       "output_dim": 6}, ["tokens"], {}),
        ("GRU", {"name": "enc", "units": 4, "return_sequences": True,
                 "return_state": True, "go_backwards": True},
         ["embedding"], {}),
        ("SimpleRNN", {"name": "rnn", "units": 4}, [("enc", 0)],
         {"initial_state": [("enc", 1)]}),
        ("Dense", {"name": "out", "units": CLASSES}, ["rnn"], {}),
    ], "out"), ["embedding/embeddings", "enc/kernel", "enc/recurrent_kernel",
                "enc/bias", "rnn/kernel", "rnn/recurrent_kernel", "rnn/bias",
                "out/kernel", "out/bias"], gru_params, gru_states_logits),
    "masked_states": (functional(two_lstms(True) + [
        ("Concatenate", {"name": "cat"}, ["dec", ("enc", 1)], {}),
        ("Dense", {"name": "out", "units": CLASSES}, ["cat"], {}),
    ], "out"), LSTM_NAMES, lambda rng: lstm_params(rng, 10),
        masked_states_logits, masking.padded_ids(all_padding=False)),
}


if __name__ == "__main__":
    text.main_for(MODELS)
