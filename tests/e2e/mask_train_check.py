#!/usr/bin/python3
"""Checks kiln-compiled training steps of masked Keras text models against
PyTorch (the harness of text_train_check.py: loss and every gradient of
@loss_grad, then 3 PyTorch-convention Adam steps, within 1e-5 relative).

Usage: mask_train_check.py KILN_OPT KILNC WORKDIR [MODEL...]

Token ids [16, 10] in 1..19, each sample right-padded with 0 after a random
length of 3..10 plus random 0 gaps (masked steps in the middle and, through
go_backwards, at the start of the backward direction); sample 1 is all
padding in the models whose output stays defined for it.
  rnn_masked: Embedding(20, 6, mask_zero) -> Bidirectional(LSTM(5,
        return_sequences)) -> GRU(4) -> Dense(3). Keras' Bidirectional
        sets zero_output_for_mask = return_sequences on both halves (masked
        steps output 0); the GRU gets the propagated mask and its last
        output is the state carried over the padding. (The GRU ignores
        the masked steps' outputs, so this model cannot see whether they
        are 0: bigru_masked does.)
  bigru_masked: Embedding(20, 6, mask_zero) -> Bidirectional(GRU(4,
        return_sequences)) -> Flatten -> Dense(3): Flatten drops the mask
        (as Keras does, with a warning), so the Dense reads the zeros the
        masked steps output.
  masking: Embedding(20, 6) (row 0 zeroed) -> Masking(0.0) -> LSTM(5) ->
        Dense(3): the mask comes from the values (any feature != 0) and
        masked steps are zeroed.
  transformer_masked (functional): Embedding(20, 8, mask_zero) ->
        MultiHeadAttention(2 heads, key_dim 4, self-attention) -> Add ->
        LayerNormalization -> GlobalAveragePooling1D -> Dense(3): the
        attention mask is query_mask[:, :, None] & key_mask[:, None, :],
        the Add and LayerNormalization pass the mask on, the pooling
        averages the valid steps only.
The torch side writes Keras 3's masking rules out (keras/src/backend/*/
rnn.py: states = where(mask, new, old), output = where(mask, new,
zero_output ? 0 : old); Softmax with a mask: where(mask, x, -1e9), then
where(mask, probs, 0); GlobalAveragePooling1D: sum of valid steps / their
count, which kiln floors at 1 where Keras would divide 0 by 0: no sample of
that model is fully masked), independent of kiln's kernels.
Prints one line per tensor, then PASS, or FAIL lines and exits non-zero.
"""
import os
import sys

import numpy as np
import torch

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mlp_train_check as common  # noqa: E402
import text_train_check as text  # noqa: E402
from text_train_check import BATCH, CLASSES, STEPS_T, VOCAB  # noqa: E402


def padded_ids(all_padding):
    """make_ids for text.init_data: right padding, gaps, and (optionally)
    sample 1 all padding."""
    def make(rng):
        ids = rng.integers(1, VOCAB, (BATCH, STEPS_T))
        lengths = rng.integers(3, STEPS_T + 1, BATCH)
        for i, n in enumerate(lengths):
            ids[i, n:] = 0
        gaps = rng.uniform(size=ids.shape) < 0.12
        gaps[:, :2] = False  # every sample keeps 2 valid steps ...
        ids[gaps] = 0
        if all_padding:
            ids[1] = 0  # ... but this one
        return ids
    return make


def lstm_ref(x, k, rk, b, mask, backwards=False, zero_output=False):
    """Keras 3 LSTM with a mask [N, T] (bool): every step's output in
    processing order."""
    n, t, _ = x.shape
    units = rk.shape[0]
    h = x.new_zeros(n, units)
    c = x.new_zeros(n, units)
    out = []
    for s in range(t):
        ti = t - 1 - s if backwards else s
        z = x[:, ti] @ k + h @ rk + b
        i, f, g, o = z.split(units, dim=1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h_new = torch.sigmoid(o) * torch.tanh(c_new)
        m = mask[:, ti:ti + 1]
        out.append(torch.where(m, h_new, torch.zeros_like(h) if zero_output
                               else h))
        h = torch.where(m, h_new, h)
        c = torch.where(m, c_new, c)
    return torch.stack(out, dim=1)


def gru_ref(x, k, rk, b, mask, backwards=False, sequence=False):
    """Keras 3 GRU (reset_after) with a mask: the last (carried) state, or
    with `sequence` every step's output in processing order, 0 at masked
    steps (zero_output_for_mask, as under Bidirectional)."""
    n, t, _ = x.shape
    units = rk.shape[0]
    h = x.new_zeros(n, units)
    out = []
    for s in range(t):
        ti = t - 1 - s if backwards else s
        xz = x[:, ti] @ k + b[0]
        hz = h @ rk + b[1]
        xzz, xzr, xzh = xz.split(units, dim=1)
        hzz, hzr, hzh = hz.split(units, dim=1)
        z = torch.sigmoid(xzz + hzz)
        r = torch.sigmoid(xzr + hzr)
        hh = torch.tanh(xzh + r * hzh)
        h_new = z * h + (1 - z) * hh
        m = mask[:, ti:ti + 1]
        out.append(torch.where(m, h_new, torch.zeros_like(h)))
        h = torch.where(m, h_new, h)
    return torch.stack(out, dim=1) if sequence else h


def rnn_masked_logits(p, ids):
    table, fk, frk, fb, bk, brk, bb, gk, grk, gb, k2, b2 = p
    mask = ids != 0
    e = torch.nn.functional.embedding(ids, table)
    forward = lstm_ref(e, fk, frk, fb, mask, zero_output=True)
    backward = lstm_ref(e, bk, brk, bb, mask, backwards=True,
                        zero_output=True).flip(1)
    seq = torch.cat([forward, backward], dim=2)
    return gru_ref(seq, gk, grk, gb, mask) @ k2 + b2


def bigru_masked_logits(p, ids):
    table, fk, frk, fb, bk, brk, bb, k2, b2 = p
    mask = ids != 0
    e = torch.nn.functional.embedding(ids, table)
    forward = gru_ref(e, fk, frk, fb, mask, sequence=True)
    backward = gru_ref(e, bk, brk, bb, mask, backwards=True,
                       sequence=True).flip(1)
    seq = torch.cat([forward, backward], dim=2)
    return seq.reshape(seq.shape[0], -1) @ k2 + b2


def bigru_params(rng):
    e, u = 6, 4
    gru = lambda: [rng.uniform(-0.6, 0.6, (e, 3 * u)),
                   rng.uniform(-0.6, 0.6, (u, 3 * u)),
                   rng.uniform(-0.3, 0.3, (2, 3 * u))]
    return ([rng.uniform(-0.8, 0.8, (VOCAB, e))] + gru() + gru() +
            [rng.uniform(-0.3, 0.3, (STEPS_T * 2 * u, CLASSES)),
             rng.uniform(-0.1, 0.1, CLASSES)])


def masking_params(rng):
    e, u = 6, 5
    table = rng.uniform(-0.8, 0.8, (VOCAB, e))
    table[0] = 0  # Masking(0.0) masks the steps of id 0
    return [table, rng.uniform(-0.6, 0.6, (e, 4 * u)),
            rng.uniform(-0.6, 0.6, (u, 4 * u)), rng.uniform(-0.3, 0.3, 4 * u),
            rng.uniform(-0.7, 0.7, (u, CLASSES)),
            rng.uniform(-0.1, 0.1, CLASSES)]


def masking_logits(p, ids):
    table, k, rk, b, k2, b2 = p
    e = torch.nn.functional.embedding(ids, table)
    mask = (e != 0).any(dim=-1)  # Keras Masking: any feature != mask_value
    e = torch.where(mask[..., None], e, torch.zeros_like(e))
    return lstm_ref(e, k, rk, b, mask)[:, -1] @ k2 + b2


def mha_masked(x, mask, wq, bq, wk, bk, wv, bv, wo, bo):
    """Keras 3 MultiHeadAttention (self-attention) with the query's and the
    value's masks: scores where(mask, s, -1e9), softmax, where(mask, p, 0)."""
    q = torch.einsum("abc,cde->abde", x, wq) + bq
    k = torch.einsum("abc,cde->abde", x, wk) + bk
    v = torch.einsum("abc,cde->abde", x, wv) + bv
    q = q / np.sqrt(wq.shape[-1])
    scores = torch.einsum("aecd,abcd->acbe", k, q)  # [N, heads, Tq, Tk]
    allowed = (mask[:, :, None] & mask[:, None, :])[:, None]
    scores = torch.where(allowed, scores, torch.full_like(scores, -1e9))
    probs = torch.softmax(scores, dim=-1)
    probs = torch.where(allowed, probs, torch.zeros_like(probs))
    context = torch.einsum("acbe,aecd->abcd", probs, v)
    return torch.einsum("abcd,cde->abe", context, wo) + bo


def transformer_masked_logits(p, ids):
    table, wq, bq, wk, bk, wv, bv, wo, bo, g1, b1, ko, bo2 = p
    mask = ids != 0
    x = torch.nn.functional.embedding(ids, table)
    h = torch.nn.functional.layer_norm(
        x + mha_masked(x, mask, wq, bq, wk, bk, wv, bv, wo, bo),
        (x.shape[-1],), g1, b1, eps=1e-3)
    m = mask[..., None].to(h.dtype)
    pooled = (h * m).sum(dim=1) / m.sum(dim=1).clamp(min=1)
    return pooled @ ko + bo2


def transformer_masked_params(rng):
    d, heads, kd = 8, 2, 4
    u = lambda lo, hi, shape: rng.uniform(lo, hi, shape)
    return [u(-0.8, 0.8, (VOCAB, d)),
            u(-0.5, 0.5, (d, heads, kd)), u(-0.1, 0.1, (heads, kd)),
            u(-0.5, 0.5, (d, heads, kd)), u(-0.1, 0.1, (heads, kd)),
            u(-0.5, 0.5, (d, heads, kd)), u(-0.1, 0.1, (heads, kd)),
            u(-0.5, 0.5, (heads, kd, d)), u(-0.1, 0.1, d),
            u(0.5, 1.5, d), u(-0.2, 0.2, d),
            u(-0.7, 0.7, (d, CLASSES)), u(-0.1, 0.1, CLASSES)]


MODELS = {
    "rnn_masked": (text.sequential([
        {"class_name": "Embedding",
         "config": {"name": "embedding", "input_dim": VOCAB, "output_dim": 6,
                    "mask_zero": True}},
        {"class_name": "Bidirectional",
         "config": {"name": "bidi", "merge_mode": "concat",
                    "layer": {"module": "keras.layers", "class_name": "LSTM",
                              "config": {"name": "lstm", "units": 5,
                                         "return_sequences": True}}}},
        {"class_name": "GRU", "config": {"name": "gru", "units": 4}},
        {"class_name": "Dense", "config": {"name": "out", "units": CLASSES}},
    ]), ["embedding/embeddings", "bidi/forward_lstm/kernel",
         "bidi/forward_lstm/recurrent_kernel", "bidi/forward_lstm/bias",
         "bidi/backward_lstm/kernel", "bidi/backward_lstm/recurrent_kernel",
         "bidi/backward_lstm/bias", "gru/kernel", "gru/recurrent_kernel",
         "gru/bias", "out/kernel", "out/bias"], text.rnn_params,
        rnn_masked_logits, padded_ids(all_padding=True)),
    "bigru_masked": (text.sequential([
        {"class_name": "Embedding",
         "config": {"name": "embedding", "input_dim": VOCAB, "output_dim": 6,
                    "mask_zero": True}},
        {"class_name": "Bidirectional",
         "config": {"name": "bidi", "merge_mode": "concat",
                    "layer": {"module": "keras.layers", "class_name": "GRU",
                              "config": {"name": "gru", "units": 4,
                                         "return_sequences": True}}}},
        {"class_name": "Flatten", "config": {"name": "flatten"}},
        {"class_name": "Dense", "config": {"name": "out", "units": CLASSES}},
    ]), ["embedding/embeddings", "bidi/forward_gru/kernel",
         "bidi/forward_gru/recurrent_kernel", "bidi/forward_gru/bias",
         "bidi/backward_gru/kernel", "bidi/backward_gru/recurrent_kernel",
         "bidi/backward_gru/bias", "out/kernel", "out/bias"], bigru_params,
        bigru_masked_logits, padded_ids(all_padding=True)),
    "masking": (text.sequential([
        {"class_name": "Embedding",
         "config": {"name": "embedding", "input_dim": VOCAB,
                    "output_dim": 6}},
        {"class_name": "Masking", "config": {"name": "masking",
                                             "mask_value": 0.0}},
        {"class_name": "LSTM", "config": {"name": "lstm", "units": 5}},
        {"class_name": "Dense", "config": {"name": "out", "units": CLASSES}},
    ]), ["embedding/embeddings", "lstm/kernel", "lstm/recurrent_kernel",
         "lstm/bias", "out/kernel", "out/bias"], masking_params,
        masking_logits, padded_ids(all_padding=True)),
    "transformer_masked": (text.functional([
        ("Embedding", {"name": "embedding", "input_dim": VOCAB,
                       "output_dim": 8, "mask_zero": True}, ["tokens"], {}),
        ("MultiHeadAttention", {"name": "mha", "num_heads": 2, "key_dim": 4},
         ["embedding", "embedding"], {}),
        ("Add", {"name": "res"}, ["embedding", "mha"], {}),
        ("LayerNormalization", {"name": "ln"}, ["res"], {}),
        ("GlobalAveragePooling1D", {"name": "gap"}, ["ln"], {}),
        ("Dense", {"name": "out", "units": CLASSES}, ["gap"], {}),
    ], "out"), ["embedding/embeddings", "mha/query/kernel", "mha/query/bias",
                "mha/key/kernel", "mha/key/bias", "mha/value/kernel",
                "mha/value/bias", "mha/attention_output/kernel",
                "mha/attention_output/bias", "ln/gamma", "ln/beta",
                "out/kernel", "out/bias"], transformer_masked_params,
        transformer_masked_logits, padded_ids(all_padding=False)),
}


if __name__ == "__main__":
    text.main_for(MODELS)
