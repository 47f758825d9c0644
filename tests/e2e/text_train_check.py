#!/usr/bin/python3
"""Checks a kiln-compiled training step of a Keras text model against PyTorch.

Usage: text_train_check.py KILN_OPT KILNC WORKDIR

Model (a Keras config, imported by kilnc): int32 token ids [16, 10] ->
Embedding(20, 8) -> LayerNormalization(axis -1, epsilon 1e-3) ->
Dense(8, tanh) on every step -> GlobalAveragePooling1D -> Dense(3) logits,
sparse categorical cross-entropy from logits, f32. The ids are drawn from 20
values for 160 positions, so every id repeats: the embedding gradient must
add every occurrence (scatter-add), which a gather VJP that overwrote would
fail.

1. `kilnc --emit=kiln` gives the forward form; `kiln-opt --kiln-attach-loss
   --kiln-derive-gradients` gives @loss_grad; the loss and the 7 gradients
   are compared with torch autograd on the same model (F.embedding,
   F.layer_norm with eps 1e-3, nn.Linear weights = transposed kiln kernels).
2. Adam, PyTorch convention: 3 @train_step calls against torch.optim.Adam
   (lr 1e-2): loss and params after each step, and both moments.

Tolerances and error measures: as tests/e2e/mlp_train_check.py (1e-5
relative, norm-wise per tensor; element-wise for the loss and the params,
judged against float64 where torch f32 itself is further off).
Prints one line per tensor, then PASS, or FAIL lines and exits non-zero.
"""
import json
import os
import subprocess
import sys

import numpy as np
import torch

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mlp_train_check as common  # noqa: E402

BATCH, STEPS_T, VOCAB, WIDTH, CLASSES = 16, 10, 20, 8, 3
LR = 1e-2
STEPS = 3
SEED = 20261207
NAMES = ["embedding/embeddings", "ln/gamma", "ln/beta", "proj/kernel",
         "proj/bias", "out/kernel", "out/bias"]
LOSS_OPTIONS = ("loss=sparse_categorical_crossentropy from_logits=1 "
                "metrics=accuracy")

CONFIG = {"class_name": "Sequential", "config": {"name": "text", "layers": [
    {"class_name": "InputLayer",
     "config": {"batch_shape": [BATCH, STEPS_T], "dtype": "int32",
                "name": "tokens"}},
    {"class_name": "Embedding",
     "config": {"name": "embedding", "input_dim": VOCAB,
                "output_dim": WIDTH}},
    {"class_name": "LayerNormalization", "config": {"name": "ln"}},
    {"class_name": "Dense",
     "config": {"name": "proj", "units": WIDTH, "activation": "tanh"}},
    {"class_name": "GlobalAveragePooling1D", "config": {"name": "gap"}},
    {"class_name": "Dense", "config": {"name": "out", "units": CLASSES}}]}}


def init_data():
    rng = np.random.default_rng(SEED)
    params = [rng.uniform(-0.5, 0.5, (VOCAB, WIDTH)),     # embeddings
              rng.uniform(0.5, 1.5, WIDTH),               # gamma
              rng.uniform(-0.2, 0.2, WIDTH),              # beta
              rng.uniform(-0.6, 0.6, (WIDTH, WIDTH)),     # proj kernel
              rng.uniform(-0.1, 0.1, WIDTH),              # proj bias
              rng.uniform(-0.7, 0.7, (WIDTH, CLASSES)),   # out kernel
              rng.uniform(-0.1, 0.1, CLASSES)]            # out bias
    params = [p.astype(np.float32) for p in params]
    ids = rng.integers(0, VOCAB, (BATCH, STEPS_T)).astype(np.int32)
    y = rng.integers(0, CLASSES, BATCH).astype(np.int32)
    return params, ids, y


def torch_model(params, dtype):
    tparams = [torch.tensor(p.astype(np.float64), dtype=dtype,
                            requires_grad=True) for p in params]
    table, gamma, beta, k1, b1, k2, b2 = tparams

    def loss_fn(ids, y):
        e = torch.nn.functional.embedding(ids, table)
        h = torch.nn.functional.layer_norm(e, (WIDTH,), gamma, beta, eps=1e-3)
        h = torch.tanh(h @ k1 + b1)
        logits = h.mean(dim=1) @ k2 + b2
        return torch.nn.functional.cross_entropy(logits, y)

    return tparams, loss_fn


def as_numpy(t):
    return t.detach().numpy().copy()


def torch_grads(params, ids, y, dtype):
    tparams, loss_fn = torch_model(params, dtype)
    loss = loss_fn(torch.from_numpy(ids.astype(np.int64)),
                   torch.from_numpy(y.astype(np.int64)))
    loss.backward()
    return loss.item(), [as_numpy(p.grad) for p in tparams]


def torch_adam(params, ids, y, dtype):
    tparams, loss_fn = torch_model(params, dtype)
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
    state = []
    for p in params:
        state += [np.zeros_like(p), np.zeros_like(p)]  # m, v
    step = np.array(0.0, np.float64)
    weight = np.ones(BATCH, np.float32)
    lr = np.array(LR, np.float32)
    history = []
    for _ in range(STEPS):
        out = kiln.run(module, "train_step",
                       [*params, *state, step, ids, y, weight, lr],
                       4 + len(params) + len(state) + 1)
        params = out[4:4 + len(params)]
        state = out[4 + len(params):4 + len(params) + len(state)]
        step = out[-1]
        history.append((float(out[0]), params, state[0::2], state[1::2]))
    return history


def main():
    kiln_opt, kilnc, workdir = sys.argv[1:4]
    os.makedirs(workdir, exist_ok=True)
    torch.set_num_threads(1)
    config = os.path.join(workdir, "text.json")
    with open(config, "w") as f:
        json.dump(CONFIG, f)
    kiln = common.Kiln(kiln_opt, kilnc, workdir)
    kiln.model = os.path.join(workdir, "text_forward.mlir")
    subprocess.run([kilnc, config, "--emit=kiln", "-o", kiln.model],
                   check=True)
    params, ids, y = init_data()
    assert len(np.unique(ids)) < ids.size  # repeated ids
    print(f"tolerance {common.RTOL:g} relative")

    grad_module = kiln.opt("grad", f"--kiln-attach-loss={LOSS_OPTIONS}",
                           "--kiln-derive-gradients=function=loss")
    out = kiln.run(grad_module, "loss_grad",
                   [*params, ids, y, np.ones(BATCH, np.float32)],
                   4 + len(params))
    loss, grads = float(out[0]), out[4:]
    t_loss, t_grads = torch_grads(params, ids, y, torch.float32)
    r_loss, r_grads = torch_grads(params, ids, y, torch.float64)
    common.compare("grad: loss", loss, t_loss, r_loss, elementwise_check=True)
    for name, g, tg, rg in zip(NAMES, grads, t_grads, r_grads):
        common.compare(f"grad: d loss / d {name}", g, tg, rg)
    # Rows of ids that never occur get exactly zero gradient.
    unused = np.setdiff1d(np.arange(VOCAB), ids)
    if unused.size and np.any(grads[0][unused] != 0):
        print("FAIL grad: unused embedding rows have a gradient")
        common.failures.append("unused rows")

    module = kiln.opt("train_pytorch", "--kiln-training-pipeline=" +
                      LOSS_OPTIONS + " optimizer=adam convention=pytorch")
    got = kiln_train(kiln, module, params, ids, y)
    want = torch_adam(params, ids, y, torch.float32)
    ref = torch_adam(params, ids, y, torch.float64)
    for s in range(STEPS):
        k_loss, k_params, k_m, k_v = got[s]
        t_loss, t_params, t_m, t_v = want[s]
        r_loss, r_params, r_m, r_v = ref[s]
        common.compare(f"adam step {s + 1}: loss", k_loss, t_loss, r_loss,
                       elementwise_check=True)
        for i, name in enumerate(NAMES):
            common.compare(f"adam step {s + 1}: {name}", k_params[i],
                           t_params[i], r_params[i], elementwise_check=True)
            common.compare(f"adam step {s + 1}: {name}/m", k_m[i], t_m[i],
                           r_m[i])
            common.compare(f"adam step {s + 1}: {name}/v", k_v[i], t_v[i],
                           r_v[i])
    if common.failures:
        print(f"{len(common.failures)} tensors beyond tolerance")
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
