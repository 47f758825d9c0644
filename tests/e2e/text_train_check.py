#!/usr/bin/python3
"""Checks kiln-compiled training steps of Keras text models against PyTorch.

Usage: text_train_check.py KILN_OPT KILNC WORKDIR [MODEL...]

Models (Keras configs, imported by kilnc), int32 token ids [16, 10] drawn
from 20 values, so every id repeats (the embedding gradient must add every
occurrence: a scatter-add), sparse categorical cross-entropy from logits,
f32:
  pool: Embedding(20, 8) -> LayerNormalization(axis -1, epsilon 1e-3) ->
        Dense(8, tanh) on every step -> GlobalAveragePooling1D -> Dense(3)
  rnn:  Embedding(20, 6) -> Bidirectional(LSTM(5, return_sequences)) ->
        GRU(4) (reset_after, last step) -> Dense(3): the Bidirectional
        covers go_backwards with the states stored aligned, the GRU the
        last-step slice.
  onnx: a torch.nn module (nn.Embedding(20, 8) -> mean over time ->
        nn.Linear(8, 3)) exported to ONNX (opset 13) at test time
        (Gather, ReduceMean, Gemm), imported by kilnc.
  onnx_lstm, onnx_gru: torch modules nn.Embedding(20, 6) ->
        nn.LSTM(6, 5, bidirectional) (final states of both directions) or
        nn.GRU(6, 5, bidirectional) (mean of the sequence output) ->
        nn.Linear(10, 3), exported to ONNX (opset 13: Shape/Gather/
        Unsqueeze/Concat/Expand build the zero initial states, folded at
        import; LSTM/GRU with ONNX's gate orders and bias pairs). Compared
        with the torch module's own autograd and torch.optim.Adam, its
        params and gradients mapped to the ONNX layout (gate blocks i, f, g,
        o -> i, o, f, c for the LSTM; biases [b_ih, b_hh]).
  onnx_transformer, onnx_transformer17: nn.Embedding(20, 8) + a learned
        positional embedding [10, 8] -> nn.TransformerEncoderLayer(8,
        nhead 2, dim_feedforward 16, dropout 0, batch_first) -> mean over
        time -> nn.Linear(8, 3), exported in training mode with constant
        folding off (torch's param names and layouts; Dropout with
        training_mode; the attention's slice bounds as int64 Shape/Gather/
        Add/Div/Mul chains, folded at import) at opset 13 (LayerNorm as
        ReduceMean/Sub/Pow/Sqrt/Div/Mul/Add) and 17 (LayerNormalization);
        compared with the module's own autograd and torch.optim.Adam. The
        key block of the packed in_proj_bias has an identically zero
        gradient (checked to be rounding noise, then left out).
  transformer (functional): Embedding(20, 8) + PositionEmbedding(10) ->
        MultiHeadAttention(2 heads, key_dim 4, value_dim 3, causal mask)
        -> Add -> LayerNormalization -> Dense(8, relu) -> Dense(8) -> Add
        -> LayerNormalization -> GlobalAveragePooling1D -> Dense(3).
The torch side writes the Keras 3 formulas out (lstm.py, gru.py: gate orders
i, f, c, o and z, r, h; Bidirectional flips the backward sequence back and
concatenates) with autograd, independent of kiln's kernels.

1. `kilnc --emit=kiln` gives the forward form; `kiln-opt --kiln-attach-loss
   --kiln-derive-gradients` gives @loss_grad; the loss and every gradient
   are compared with torch autograd on the same model.
2. Adam, PyTorch convention: 3 @train_step calls against torch.optim.Adam
   (lr 1e-2): loss and params after each step, and both moments.

Tolerances and error measures: as tests/e2e/mlp_train_check.py (1e-5
relative, norm-wise per tensor; element-wise for the loss and the params,
judged against float64 where torch f32 itself is further off), except that
a param's element-wise error is relative to max(|w|, lr): after an Adam
step of size ~lr a param near 0 keeps the f32 rounding of its earlier
magnitude. A gradient that vanishes identically (the attention key bias's)
is checked to be rounding noise instead (<= 1e-6 of the largest gradient).
Prints one line per tensor, then PASS, or FAIL lines and exits non-zero.
"""
import copy
import json
import os
import re
import subprocess
import sys

import numpy as np
import torch

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mlp_train_check as common  # noqa: E402

BATCH, STEPS_T, VOCAB, CLASSES = 16, 10, 20, 3
LR = 1e-2
STEPS = 3
SEED = 20261207
LOSS_OPTIONS = ("loss=sparse_categorical_crossentropy from_logits=1 "
                "metrics=accuracy")


def sequential(layers):
    return {"class_name": "Sequential", "config": {"name": "text", "layers": [
        {"class_name": "InputLayer",
         "config": {"batch_shape": [BATCH, STEPS_T], "dtype": "int32",
                    "name": "tokens"}}] + layers}}


def lstm_ref(x, k, rk, b, backwards=False):
    """Keras 3 LSTM (i, f, c, o; sigmoid gates, tanh), every step's h in
    processing order."""
    n, t, _ = x.shape
    units = rk.shape[0]
    h = x.new_zeros(n, units)
    c = x.new_zeros(n, units)
    out = []
    for s in range(t):
        z = x[:, t - 1 - s if backwards else s] @ k + h @ rk + b
        i, f, g, o = z.split(units, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        out.append(h)
    return torch.stack(out, dim=1)


def gru_ref(x, k, rk, b):
    """Keras 3 GRU, reset_after (bias [2, 3H]), last state."""
    n, t, _ = x.shape
    units = rk.shape[0]
    h = x.new_zeros(n, units)
    for s in range(t):
        xz = x[:, s] @ k + b[0]
        hz = h @ rk + b[1]
        xzz, xzr, xzh = xz.split(units, dim=1)
        hzz, hzr, hzh = hz.split(units, dim=1)
        z = torch.sigmoid(xzz + hzz)
        r = torch.sigmoid(xzr + hzr)
        hh = torch.tanh(xzh + r * hzh)
        h = z * h + (1 - z) * hh
    return h


def pool_logits(p, ids):
    table, gamma, beta, k1, b1, k2, b2 = p
    e = torch.nn.functional.embedding(ids, table)
    h = torch.nn.functional.layer_norm(e, (e.shape[-1],), gamma, beta,
                                       eps=1e-3)
    h = torch.tanh(h @ k1 + b1)
    return h.mean(dim=1) @ k2 + b2


def rnn_logits(p, ids):
    table, fk, frk, fb, bk, brk, bb, gk, grk, gb, k2, b2 = p
    e = torch.nn.functional.embedding(ids, table)
    forward = lstm_ref(e, fk, frk, fb)
    # Keras Bidirectional: the backward layer runs on the reversed
    # sequence; its outputs are flipped back to align with the input.
    backward = lstm_ref(e, bk, brk, bb, backwards=True).flip(1)
    seq = torch.cat([forward, backward], dim=2)
    return gru_ref(seq, gk, grk, gb) @ k2 + b2


def mha_ref(x, wq, bq, wk, bk, wv, bv, wo, bo, causal):
    """Keras 3 MultiHeadAttention (self-attention): EinsumDense projections,
    query scaled by 1/sqrt(key_dim), -1e9 added to masked scores, softmax
    over the keys, output projection."""
    q = torch.einsum("abc,cde->abde", x, wq) + bq
    k = torch.einsum("abc,cde->abde", x, wk) + bk
    v = torch.einsum("abc,cde->abde", x, wv) + bv
    q = q / np.sqrt(wq.shape[-1])
    scores = torch.einsum("aecd,abcd->acbe", k, q)
    if causal:
        t = x.shape[1]
        allowed = torch.tril(torch.ones(t, t, dtype=torch.bool))
        scores = scores + (~allowed).to(scores.dtype) * -1e9
    probs = torch.softmax(scores, dim=-1)
    context = torch.einsum("acbe,aecd->abcd", probs, v)
    return torch.einsum("abcd,cde->abe", context, wo) + bo


def transformer_logits(p, ids):
    (table, pos, wq, bq, wk, bk, wv, bv, wo, bo, g1, b1, k1, c1, k2, c2, g2,
     b2, ko, bo2) = p
    ln = torch.nn.functional.layer_norm
    x = torch.nn.functional.embedding(ids, table) + pos[:ids.shape[1]]
    h = ln(x + mha_ref(x, wq, bq, wk, bk, wv, bv, wo, bo, True),
           (x.shape[-1],), g1, b1, eps=1e-3)
    f = torch.relu(h @ k1 + c1) @ k2 + c2
    h = ln(h + f, (x.shape[-1],), g2, b2, eps=1e-3)
    return h.mean(dim=1) @ ko + bo2


def transformer_params(rng):
    d, heads, kd, vd = 8, 2, 4, 3
    u = lambda lo, hi, shape: rng.uniform(lo, hi, shape)
    return [u(-0.8, 0.8, (VOCAB, d)), u(-0.3, 0.3, (STEPS_T, d)),
            u(-0.5, 0.5, (d, heads, kd)), u(-0.1, 0.1, (heads, kd)),
            u(-0.5, 0.5, (d, heads, kd)), u(-0.1, 0.1, (heads, kd)),
            u(-0.5, 0.5, (d, heads, vd)), u(-0.1, 0.1, (heads, vd)),
            u(-0.5, 0.5, (heads, vd, d)), u(-0.1, 0.1, d),
            u(0.5, 1.5, d), u(-0.2, 0.2, d),
            u(-0.5, 0.5, (d, d)), u(-0.1, 0.1, d),
            u(-0.5, 0.5, (d, d)), u(-0.1, 0.1, d),
            u(0.5, 1.5, d), u(-0.2, 0.2, d),
            u(-0.7, 0.7, (d, CLASSES)), u(-0.1, 0.1, CLASSES)]


def functional(layers, output, name="text"):
    """A Keras 3 functional config: `layers` are (class, config, args,
    kwargs); args entries are layer names or (name, tensor index), and
    kwargs values may hold such references in lists."""
    ref = lambda r: {"class_name": "__keras_tensor__", "config": {
        "keras_history": [r, 0, 0] if isinstance(r, str) else [r[0], 0, r[1]]}}
    entries = [{"class_name": "InputLayer", "name": "tokens",
                "config": {"batch_shape": [BATCH, STEPS_T], "dtype": "int32",
                           "name": "tokens"}, "inbound_nodes": []}]
    for cls, config, args, kwargs in layers:
        kw = {k: [ref(r) for r in v] if isinstance(v, list) else v
              for k, v in kwargs.items()}
        entries.append({"class_name": cls, "name": config["name"],
                        "config": config,
                        "inbound_nodes": [{"args": [ref(a) for a in args],
                                           "kwargs": kw}]})
    return {"class_name": "Functional", "config": {
        "name": name, "layers": entries,
        "input_layers": [["tokens", 0, 0]],
        "output_layers": [[output, 0, 0]]}}


def export_onnx(workdir):
    """The torch module of the `onnx` model, exported with dynamic batch."""
    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(VOCAB, 8)
            self.fc = torch.nn.Linear(8, CLASSES)

        def forward(self, ids):
            return self.fc(self.emb(ids).mean(dim=1))

    path = os.path.join(workdir, "embedding.onnx")
    torch.onnx.export(Model(), torch.zeros(BATCH, STEPS_T, dtype=torch.long),
                      path, input_names=["ids"], output_names=["logits"],
                      opset_version=13, dynamic_axes={"ids": {0: "batch"}})
    return path


def onnx_logits(p, ids):
    table, weight, bias = p  # nn.Linear's weight is [out, in] in ONNX too
    return torch.nn.functional.embedding(ids, table).mean(dim=1) @ weight.T \
        + bias


def onnx_params(rng):
    return [rng.uniform(-1, 1, (VOCAB, 8)), rng.uniform(-0.7, 0.7, (CLASSES, 8)),
            rng.uniform(-0.1, 0.1, CLASSES)]


def pool_params(rng):
    w = 8
    return [rng.uniform(-0.5, 0.5, (VOCAB, w)), rng.uniform(0.5, 1.5, w),
            rng.uniform(-0.2, 0.2, w), rng.uniform(-0.6, 0.6, (w, w)),
            rng.uniform(-0.1, 0.1, w), rng.uniform(-0.7, 0.7, (w, CLASSES)),
            rng.uniform(-0.1, 0.1, CLASSES)]


def rnn_params(rng):
    e, u, g = 6, 5, 4
    lstm = lambda: [rng.uniform(-0.6, 0.6, (e, 4 * u)),
                    rng.uniform(-0.6, 0.6, (u, 4 * u)),
                    rng.uniform(-0.3, 0.3, 4 * u)]
    return ([rng.uniform(-0.8, 0.8, (VOCAB, e))] + lstm() + lstm() +
            [rng.uniform(-0.6, 0.6, (2 * u, 3 * g)),
             rng.uniform(-0.6, 0.6, (g, 3 * g)),
             rng.uniform(-0.3, 0.3, (2, 3 * g)),
             rng.uniform(-0.7, 0.7, (g, CLASSES)),
             rng.uniform(-0.1, 0.1, CLASSES)])


MODELS = {
    "pool": (sequential([
        {"class_name": "Embedding",
         "config": {"name": "embedding", "input_dim": VOCAB,
                    "output_dim": 8}},
        {"class_name": "LayerNormalization", "config": {"name": "ln"}},
        {"class_name": "Dense",
         "config": {"name": "proj", "units": 8, "activation": "tanh"}},
        {"class_name": "GlobalAveragePooling1D", "config": {"name": "gap"}},
        {"class_name": "Dense", "config": {"name": "out", "units": CLASSES}},
    ]), ["embedding/embeddings", "ln/gamma", "ln/beta", "proj/kernel",
         "proj/bias", "out/kernel", "out/bias"], pool_params, pool_logits),
    "rnn": (sequential([
        {"class_name": "Embedding",
         "config": {"name": "embedding", "input_dim": VOCAB,
                    "output_dim": 6}},
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
         "gru/bias", "out/kernel", "out/bias"], rnn_params, rnn_logits),
    "onnx": (export_onnx, ["emb.weight", "fc.weight", "fc.bias"],
             onnx_params, onnx_logits),
    "transformer": (functional([
        ("Embedding", {"name": "embedding", "input_dim": VOCAB,
                       "output_dim": 8}, ["tokens"], {}),
        ("PositionEmbedding", {"name": "pos", "sequence_length": STEPS_T},
         ["embedding"], {}),
        ("Add", {"name": "add_pos"}, ["embedding", "pos"], {}),
        ("MultiHeadAttention", {"name": "mha", "num_heads": 2, "key_dim": 4,
                                "value_dim": 3},
         ["add_pos", "add_pos"], {"use_causal_mask": True}),
        ("Add", {"name": "res1"}, ["add_pos", "mha"], {}),
        ("LayerNormalization", {"name": "ln1"}, ["res1"], {}),
        ("Dense", {"name": "ff1", "units": 8, "activation": "relu"},
         ["ln1"], {}),
        ("Dense", {"name": "ff2", "units": 8}, ["ff1"], {}),
        ("Add", {"name": "res2"}, ["ln1", "ff2"], {}),
        ("LayerNormalization", {"name": "ln2"}, ["res2"], {}),
        ("GlobalAveragePooling1D", {"name": "gap"}, ["ln2"], {}),
        ("Dense", {"name": "out", "units": CLASSES}, ["gap"], {}),
    ], "out"), ["embedding/embeddings", "pos/embeddings", "mha/query/kernel",
                "mha/query/bias", "mha/key/kernel", "mha/key/bias",
                "mha/value/kernel", "mha/value/bias",
                "mha/attention_output/kernel", "mha/attention_output/bias",
                "ln1/gamma", "ln1/beta", "ff1/kernel", "ff1/bias",
                "ff2/kernel", "ff2/bias", "ln2/gamma", "ln2/beta",
                "out/kernel", "out/bias"], transformer_params,
        transformer_logits),
}


# Gradients that vanish identically: the key projection's bias adds the same
# q . b_k to every score of a query row, which the softmax cancels.
ZERO_GRADIENTS = {"mha/key/bias"}


def init_data(make_params, make_ids=None):
    """Params, ids [BATCH, STEPS_T] (uniform, or make_ids(rng)) and labels."""
    rng = np.random.default_rng(SEED)
    params = [np.asarray(p).astype(np.float32) for p in make_params(rng)]
    ids = (make_ids(rng) if make_ids else
           rng.integers(0, VOCAB, (BATCH, STEPS_T))).astype(np.int32)
    y = rng.integers(0, CLASSES, BATCH).astype(np.int32)
    return params, ids, y


def torch_model(params, dtype, logits_fn):
    tparams = [torch.tensor(p.astype(np.float64), dtype=dtype,
                            requires_grad=True) for p in params]

    def loss_fn(ids, y):
        return torch.nn.functional.cross_entropy(logits_fn(tparams, ids), y)

    return tparams, loss_fn


def as_numpy(t):
    return t.detach().numpy().copy()


def torch_grads(params, ids, y, dtype, logits_fn):
    tparams, loss_fn = torch_model(params, dtype, logits_fn)
    loss = loss_fn(torch.from_numpy(ids.astype(np.int64)),
                   torch.from_numpy(y.astype(np.int64)))
    loss.backward()
    return loss.item(), [as_numpy(p.grad) for p in tparams]


def torch_adam(params, ids, y, dtype, logits_fn):
    tparams, loss_fn = torch_model(params, dtype, logits_fn)
    opt = torch.optim.Adam(tparams, lr=LR)
    tids = torch.from_numpy(ids.astype(np.int64))
    ty = torch.from_numpy(y.astype(np.int64))
    history = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = loss_fn(tids, ty)
        loss.backward()
        opt.step()
        history.append((loss.item(), [as_numpy(p) for p in tparams],
                        [as_numpy(opt.state[p]["exp_avg"]) for p in tparams],
                        [as_numpy(opt.state[p]["exp_avg_sq"])
                         for p in tparams]))
    return history


def kiln_train(kiln, module, params, ids, y):
    """STEPS Adam steps of @train_step: per step (loss, params, m, v)."""
    return [h[:4] for h in common.kiln_train(kiln, module, params, ids, y,
                                              batch=BATCH, lr=LR,
                                              steps=STEPS)]


def check_model(kiln_opt, kilnc, workdir, model):
    # An optional fifth entry draws the ids (masked models pad with 0).
    config, names, make_params, logits_fn, *make_ids = MODELS[model]
    workdir = os.path.join(workdir, model)
    os.makedirs(workdir, exist_ok=True)
    if callable(config):
        path = config(workdir)
    else:
        path = os.path.join(workdir, "text.json")
        with open(path, "w") as f:
            json.dump(config, f)
    kiln = common.Kiln(kiln_opt, kilnc, workdir)
    kiln.model = os.path.join(workdir, "text_forward.mlir")
    subprocess.run([kilnc, path, "--emit=kiln", f"--batch-size={BATCH}",
                    "-o", kiln.model], check=True)
    with open(kiln.model) as f:
        order = re.findall(r'kiln.param = "([^"]+)"', f.read())
    assert order == names, order
    params, ids, y = init_data(make_params, *make_ids)
    assert len(np.unique(ids)) < ids.size  # repeated ids
    if callable(config):
        ids = ids.astype(np.int64)  # torch exports int64 ids

    grad_module = kiln.opt("grad", f"--kiln-attach-loss={LOSS_OPTIONS}",
                           "--kiln-derive-gradients=function=loss")
    out = kiln.run(grad_module, "loss_grad",
                   [*params, ids, y, np.ones(BATCH, np.float32)],
                   5 + len(params))  # loss, 4 partials, grads
    loss, grads = float(out[0]), out[5:]
    t_loss, t_grads = torch_grads(params, ids, y, torch.float32, logits_fn)
    r_loss, r_grads = torch_grads(params, ids, y, torch.float64, logits_fn)
    common.compare(f"{model} grad: loss", loss, t_loss, r_loss,
                   elementwise_check=True)
    scale = max(np.abs(g).max() for g in grads)
    for name, g, tg, rg in zip(names, grads, t_grads, r_grads):
        if name in ZERO_GRADIENTS:
            # Exactly zero in exact arithmetic; both engines give rounding
            # noise, which is all a comparison would see.
            worst = float(np.abs(g).max())
            ok = worst <= 1e-6 * scale
            print(("" if ok else "FAIL ") +
                  f"{model} grad: d loss / d {name} is zero: max |g| = "
                  f"{worst:.2e} (float64 torch {np.abs(rg).max():.2e}; other "
                  f"gradients up to {scale:.2e})")
            if not ok:
                common.failures.append(name)
            continue
        common.compare(f"{model} grad: d loss / d {name}", g, tg, rg)
    # Rows of ids that never occur get exactly zero gradient.
    unused = np.setdiff1d(np.arange(VOCAB), ids)
    if unused.size and np.any(grads[0][unused] != 0):
        print(f"FAIL {model} grad: unused embedding rows have a gradient")
        common.failures.append("unused rows")

    module = kiln.opt("train_pytorch", "--kiln-training-pipeline=" +
                      LOSS_OPTIONS + " optimizer=adam convention=pytorch")
    got = kiln_train(kiln, module, params, ids, y)
    want = torch_adam(params, ids, y, torch.float32, logits_fn)
    ref = torch_adam(params, ids, y, torch.float64, logits_fn)
    for s in range(STEPS):
        k_loss, k_params, k_m, k_v = got[s]
        t_loss, t_params, t_m, t_v = want[s]
        r_loss, r_params, r_m, r_v = ref[s]
        common.compare(f"{model} adam step {s + 1}: loss", k_loss, t_loss,
                       r_loss, elementwise_check=True)
        for i, name in enumerate(names):
            if name in ZERO_GRADIENTS:
                continue  # Adam on rounding noise: nothing to compare
            # Element-wise relative to max(|w|, LR): Adam moves a param by
            # up to LR per step, so a param that lands near 0 keeps the
            # rounding of its earlier magnitude (a 1e-5 relative error on
            # a value of 8e-5 would be below f32 resolution).
            common.compare(f"{model} adam step {s + 1}: {name}", k_params[i],
                           t_params[i], r_params[i], elementwise_check=True,
                           floor=LR)
            common.compare(f"{model} adam step {s + 1}: {name}/m", k_m[i],
                           t_m[i], r_m[i])
            common.compare(f"{model} adam step {s + 1}: {name}/v", k_v[i],
                           t_v[i], r_v[i])


class TorchRnn(torch.nn.Module):
    def __init__(self, lstm):
        super().__init__()
        self.lstm = lstm
        self.emb = torch.nn.Embedding(VOCAB, 6)
        cell = torch.nn.LSTM if lstm else torch.nn.GRU
        self.rnn = cell(6, 5, batch_first=True, bidirectional=True)
        self.fc = torch.nn.Linear(10, CLASSES)

    def forward(self, ids):
        out, state = self.rnn(self.emb(ids))
        if self.lstm:
            h = state[0]
            return self.fc(torch.cat([h[0], h[1]], dim=1))
        return self.fc(out.mean(dim=1))


def onnx_layout(module, names, shapes, attr):
    """The module's params (attr "data", "grad", or an Adam state key) in
    the ONNX initializer layout, by initializer name."""
    def get(p):
        if attr == "data":
            t = p.detach()
        elif attr == "grad":
            t = p.grad
        else:
            t = opt_state[p][attr]
        return t.detach().double().numpy()
    opt_state = getattr(module, "_adam_state", None)
    rnn = module.rnn
    gates = 4 if module.lstm else 3
    # torch gate blocks -> ONNX: LSTM i, f, g, o -> i, o, f, c; GRU
    # r, z, n -> z, r, h.
    order = [0, 3, 1, 2] if module.lstm else [1, 0, 2]

    def reorder(a):
        blocks = np.split(a, gates, axis=0)
        return np.concatenate([blocks[k] for k in order], axis=0)

    suffixes = ["_l0", "_l0_reverse"]
    w = np.stack([reorder(get(getattr(rnn, "weight_ih" + s)))
                  for s in suffixes])
    r = np.stack([reorder(get(getattr(rnn, "weight_hh" + s)))
                  for s in suffixes])
    b = np.stack([np.concatenate([reorder(get(getattr(rnn, "bias_ih" + s))),
                                  reorder(get(getattr(rnn, "bias_hh" + s)))])
                  for s in suffixes])
    by_shape = {w.shape: w, r.shape: r, b.shape: b}
    out = []
    for name, shape in zip(names, shapes):
        if name in ("emb.weight", "fc.weight", "fc.bias"):
            out.append(get(dict(module.named_parameters())[name]))
        else:
            out.append(by_shape[tuple(shape)])
    return out


class TorchTransformer(torch.nn.Module):
    """nn.Embedding + a learned positional embedding ->
    nn.TransformerEncoderLayer (d_model 8, 2 heads, feed-forward 16, ReLU,
    post-norm, dropout 0, batch_first) -> mean over time -> nn.Linear."""

    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(VOCAB, 8)
        self.pos = torch.nn.Parameter(0.3 * torch.randn(STEPS_T, 8))
        self.enc = torch.nn.TransformerEncoderLayer(
            8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
        self.fc = torch.nn.Linear(8, CLASSES)

    def forward(self, ids):
        return self.fc(self.enc(self.emb(ids) + self.pos).mean(dim=1))


def torch_layout(module, names, shapes, attr):
    """The module's params (attr "data", "grad", or an Adam state key) by
    initializer name: the export keeps torch's names and layouts (constant
    folding off)."""
    params = dict(module.named_parameters())
    out = []
    for name, shape in zip(names, shapes):
        p = params[name]
        t = (p.detach() if attr == "data" else p.grad if attr == "grad"
             else module._adam_state[p][attr])
        assert tuple(t.shape) == tuple(shape), (name, t.shape, shape)
        out.append(t.detach().double().numpy())
    return out


# Slices of params whose gradient vanishes identically: the key block of
# the attention's packed in_proj_bias ([q; k; v], 8 each) adds the same
# q . b_k to every score of a query row, which the softmax cancels.
ZERO_SLICES = {"enc.self_attn.in_proj_bias": slice(8, 16)}


def kept(name):
    """The index of a param's elements that are compared: all, or all but
    its ZERO_SLICES block."""
    zero = ZERO_SLICES.get(name)
    if zero is None:
        return Ellipsis
    return np.r_[0:zero.start, zero.stop:24]


# name: (module, opset, export in training mode, param layout)
ONNX_MODULES = {
    "onnx_lstm": (lambda: TorchRnn(True), 13, False, onnx_layout),
    "onnx_gru": (lambda: TorchRnn(False), 13, False, onnx_layout),
    # torch 1.13 exports the encoder layer's LayerNorms as ReduceMean/Sub/
    # Pow/Sqrt/Div/Mul/Add at opset 13 and as LayerNormalization at 17; the
    # attention's slice bounds as int64 Shape/Gather/Add/Div/Mul chains;
    # Dropout(p = 0) with training_mode = true.
    "onnx_transformer": (TorchTransformer, 13, True, torch_layout),
    "onnx_transformer17": (TorchTransformer, 17, True, torch_layout),
}


def check_onnx_module(kiln_opt, kilnc, workdir, model):
    import onnx
    from onnx import numpy_helper
    make_module, opset, training, layout = ONNX_MODULES[model]
    workdir = os.path.join(workdir, model)
    os.makedirs(workdir, exist_ok=True)
    torch.manual_seed(SEED % 1000)
    module = make_module()
    path = os.path.join(workdir, model + ".onnx")
    mode = (torch.onnx.TrainingMode.TRAINING if training
            else torch.onnx.TrainingMode.EVAL)
    torch.onnx.export(module, torch.zeros(BATCH, STEPS_T, dtype=torch.long),
                      path, input_names=["ids"], output_names=["logits"],
                      opset_version=opset, training=mode,
                      do_constant_folding=not training)
    module.train()
    ops = sorted({n.op_type for n in onnx.load(path).graph.node})
    print(f"{model} exported ops: {' '.join(ops)}")
    kiln = common.Kiln(kiln_opt, kilnc, workdir)
    kiln.model = os.path.join(workdir, "forward.mlir")
    subprocess.run([kilnc, path, "--emit=kiln", "-o", kiln.model], check=True)
    with open(kiln.model) as f:
        names = re.findall(r'kiln.param = "([^"]+)"', f.read())
    init = {i.name: numpy_helper.to_array(i)
            for i in onnx.load(path).graph.initializer}
    params = [init[n].astype(np.float32) for n in names]
    shapes = [p.shape for p in params]
    # The exported initializers are the module's params in ONNX layout.
    for name, mine, theirs in zip(names, layout(module, names, shapes,
                                                "data"), params):
        assert np.array_equal(mine.astype(np.float32), theirs), name
    rng = np.random.default_rng(SEED)
    ids = rng.integers(0, VOCAB, (BATCH, STEPS_T)).astype(np.int64)
    y = rng.integers(0, CLASSES, BATCH).astype(np.int32)
    tids = torch.from_numpy(ids)
    ty = torch.from_numpy(y.astype(np.int64))
    label = {n: ("W" if p.ndim == 3 and p.shape[2] == 6 else
                 "R" if p.ndim == 3 else "B" if n.startswith("onnx::")
                 else n) if layout is onnx_layout else n
             for n, p in zip(names, params)}

    grad_module = kiln.opt("grad", f"--kiln-attach-loss={LOSS_OPTIONS}",
                           "--kiln-derive-gradients=function=loss")
    out = kiln.run(grad_module, "loss_grad",
                   [*params, ids, y, np.ones(BATCH, np.float32)],
                   5 + len(params))  # loss, 4 partials, grads
    refs = []
    for dtype in (torch.float32, torch.float64):
        m = copy.deepcopy(module).to(dtype)
        loss = torch.nn.functional.cross_entropy(m(tids), ty)
        loss.backward()
        refs.append((loss.item(), layout(m, names, shapes, "grad")))
    common.compare(f"{model} grad: loss", float(out[0]), refs[0][0],
                   refs[1][0], elementwise_check=True)
    grads = out[5:]
    scale = max(np.abs(g).max() for g in grads)
    for i, name in enumerate(names):
        zero = ZERO_SLICES.get(name)
        if zero is not None:
            # Exactly zero in exact arithmetic: rounding noise on both sides.
            worst = float(np.abs(grads[i][zero]).max())
            ok = worst <= 1e-6 * scale
            print(("" if ok else "FAIL ") +
                  f"{model} grad: d loss / d {name}[{zero.start}:{zero.stop}]"
                  f" is zero: max |g| = {worst:.2e} (float64 torch "
                  f"{np.abs(refs[1][1][i][zero]).max():.2e}; other "
                  f"gradients up to {scale:.2e})")
            if not ok:
                common.failures.append(name)
        keep = kept(name)
        common.compare(f"{model} grad: d loss / d {label[name]}",
                       grads[i][keep], refs[0][1][i][keep],
                       refs[1][1][i][keep])

    train = kiln.opt("train_pytorch", "--kiln-training-pipeline=" +
                     LOSS_OPTIONS + " optimizer=adam convention=pytorch")
    got = kiln_train(kiln, train, params, ids, y)
    want = []
    for dtype in (torch.float32, torch.float64):
        m = copy.deepcopy(module).to(dtype)
        opt = torch.optim.Adam(m.parameters(), lr=LR)
        m._adam_state = opt.state
        history = []
        for _ in range(STEPS):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(m(tids), ty)
            loss.backward()
            opt.step()
            history.append((loss.item(),
                            layout(m, names, shapes, "data"),
                            layout(m, names, shapes, "exp_avg"),
                            layout(m, names, shapes, "exp_avg_sq")))
        want.append(history)
    for s in range(STEPS):
        k_loss, k_params, k_m, k_v = got[s]
        (t_loss, t_params, t_m, t_v), (r_loss, r_params, r_m, r_v) = (
            want[0][s], want[1][s])
        common.compare(f"{model} adam step {s + 1}: loss", k_loss, t_loss,
                       r_loss, elementwise_check=True)
        for i, name in enumerate(names):
            # Adam on rounding noise (a zero slice): nothing to compare.
            keep = kept(name)
            common.compare(f"{model} adam step {s + 1}: {label[name]}",
                           k_params[i][keep], t_params[i][keep],
                           r_params[i][keep], elementwise_check=True,
                           floor=LR)
            common.compare(f"{model} adam step {s + 1}: {label[name]}/m",
                           k_m[i][keep], t_m[i][keep], r_m[i][keep])
            common.compare(f"{model} adam step {s + 1}: {label[name]}/v",
                           k_v[i][keep], t_v[i][keep], r_v[i][keep])


def main_for(models):
    """The main of a script that adds Keras `models` ({name: (config
    builder, torch module builder, ids)}) to MODELS and checks the ones its
    command line names (all by default): mask_train_check.py,
    rnn_state_check.py."""
    kiln_opt, kilnc, workdir = sys.argv[1:4]
    names = sys.argv[4:] or list(models)
    MODELS.update(models)
    torch.set_num_threads(1)
    print(f"tolerance {common.RTOL:g} relative")
    for model in names:
        check_model(kiln_opt, kilnc, workdir, model)
    if common.failures:
        print(f"{len(common.failures)} tensors beyond tolerance")
        sys.exit(1)
    print("PASS")


def main():
    kiln_opt, kilnc, workdir = sys.argv[1:4]
    models = sys.argv[4:] or list(MODELS) + list(ONNX_MODULES)
    torch.set_num_threads(1)
    print(f"tolerance {common.RTOL:g} relative")
    for model in models:
        if model in ONNX_MODULES:
            check_onnx_module(kiln_opt, kilnc, workdir, model)
        else:
            check_model(kiln_opt, kilnc, workdir, model)
    if common.failures:
        print(f"{len(common.failures)} tensors beyond tolerance")
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
