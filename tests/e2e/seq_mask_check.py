#!/usr/bin/python3
"""Checks Keras masks on per-step losses: a masked sequence tagger trained by
kiln against Keras 3's masked loss formula written out in PyTorch.

Usage: seq_mask_check.py KILN_OPT KILNC WORKDIR
       seq_mask_check.py make DIR   (tagger.json, x.npy, y.npy, w.npy only)

Model (Keras config, imported by kilnc): Embedding(20, 6, mask_zero) ->
LSTM(5, return_sequences) -> TimeDistributed(Dense(3, softmax)); token ids
[16, 10] right-padded with 0 plus 0 gaps (mask_train_check.padded_ids),
labels [16, 10] (one class per step), sparse categorical cross-entropy on
the probabilities, metric accuracy. The mask (ids != 0) reaches the output
through the LSTM and the TimeDistributed, so Keras weights every step by
it (keras/src/losses/loss.py apply_mask with sum_over_batch_size: weight
total/valid at valid steps, 0 elsewhere, then the mean over all steps:
loss = sum(l m w) / sum(m), 0 when no step is valid; metrics
(reduction_metrics.py MeanMetricWrapper): the mask as sample weight,
accuracy = sum(match m) / sum(m)). The torch side: Keras' masked LSTM
(mask_train_check.lstm_ref: masked steps keep the state and output it),
softmax, -log(clip(p[label], 1e-7, 1 - 1e-7)) per step, the masked mean.

1. @loss_grad (kiln-attach-loss + kiln-derive-gradients): the loss and
   every gradient against torch autograd (f32; float64 as the judge), the
   partials weight_sum = valid_count = sum(m) and the accuracy partial
   sum(match m) exactly.
2. Labels changed at every masked step: loss and gradients bitwise equal.
3. 3 Adam steps (PyTorch convention) of @train_step against torch.optim.Adam:
   loss and params after each step.
4. The compiled program (fit 4 epochs, then from its checkpoint):
   `predict` returns only the probabilities [N, T, 3] (no mask output), and
   `evaluate`, with and without per-sample weights, prints Keras' masked
   loss and accuracy of those probabilities (numpy, float64) over 40
   samples (3 batches, the last one padded).
Tolerances: as mlp_train_check.py (1e-5 relative). Prints one line per
check, then PASS, or FAIL lines and exits non-zero.
"""
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
import mask_train_check as masked  # noqa: E402
from text_train_check import (BATCH, CLASSES, LR, SEED, STEPS,  # noqa: E402
                              STEPS_T, VOCAB, as_numpy, sequential)

EMBED, UNITS = 6, 5
LOSS_OPTIONS = "loss=sparse_categorical_crossentropy metrics=accuracy"
NAMES = ["embedding/embeddings", "lstm/kernel", "lstm/recurrent_kernel",
         "lstm/bias", "td/dense/kernel", "td/dense/bias"]
CONFIG = sequential([
    {"class_name": "Embedding",
     "config": {"name": "embedding", "input_dim": VOCAB,
                "output_dim": EMBED, "mask_zero": True}},
    {"class_name": "LSTM",
     "config": {"name": "lstm", "units": UNITS, "return_sequences": True}},
    {"class_name": "TimeDistributed",
     "config": {"name": "td", "layer": {
         "class_name": "Dense",
         "config": {"name": "dense", "units": CLASSES,
                    "activation": "softmax"}}}},
])
EPS = 1e-7  # keras.backend.epsilon(), the probability clip


def init_data(rng):
    params = [rng.uniform(-0.8, 0.8, (VOCAB, EMBED)),
              rng.uniform(-0.6, 0.6, (EMBED, 4 * UNITS)),
              rng.uniform(-0.6, 0.6, (UNITS, 4 * UNITS)),
              rng.uniform(-0.3, 0.3, 4 * UNITS),
              rng.uniform(-0.7, 0.7, (UNITS, CLASSES)),
              rng.uniform(-0.1, 0.1, CLASSES)]
    params = [p.astype(np.float32) for p in params]
    ids = masked.padded_ids(all_padding=True)(rng).astype(np.int32)
    y = rng.integers(0, CLASSES, (BATCH, STEPS_T)).astype(np.int32)
    return params, ids, y


def probabilities(p, ids):
    """Keras' forward pass: [N, T, C] probabilities."""
    table, k, rk, b, dk, db = p
    e = torch.nn.functional.embedding(ids, table)
    h = masked.lstm_ref(e, k, rk, b, ids != 0)
    return torch.softmax(h @ dk + db, dim=-1)


def keras_masked_loss(prob, y, mask):
    """Keras 3 sum_over_batch_size with a mask (apply_mask): valid steps
    weigh total/valid, the mean over all total steps: sum(l m) / valid."""
    picked = prob.gather(-1, y.unsqueeze(-1)).squeeze(-1)
    per_step = -torch.log(picked.clamp(EPS, 1 - EPS))
    m = mask.to(prob.dtype)
    total = float(m.numel())
    valid = m.sum()
    weight = torch.where(mask, total / valid, torch.zeros_like(m))
    return (per_step * weight).sum() / total


def torch_loss_fn(params, dtype):
    tparams = [torch.tensor(p.astype(np.float64), dtype=dtype,
                            requires_grad=True) for p in params]

    def loss_fn(ids, y):
        tids = torch.from_numpy(ids.astype(np.int64))
        return keras_masked_loss(probabilities(tparams, tids),
                                 torch.from_numpy(y.astype(np.int64)),
                                 tids != 0)
    return tparams, loss_fn


def torch_grads(params, ids, y, dtype):
    tparams, loss_fn = torch_loss_fn(params, dtype)
    loss = loss_fn(ids, y)
    loss.backward()
    return loss.item(), [as_numpy(p.grad) for p in tparams]


def torch_adam(params, ids, y, dtype):
    tparams, loss_fn = torch_loss_fn(params, dtype)
    opt = torch.optim.Adam(tparams, lr=LR)
    history = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = loss_fn(ids, y)
        loss.backward()
        opt.step()
        history.append((loss.item(), [as_numpy(p) for p in tparams]))
    return history


def kiln_train(kiln, module, params, ids, y):
    """STEPS @train_step calls (Adam): per step (loss, params)."""
    state = []
    for p in params:
        state += [np.zeros_like(p), np.zeros_like(p)]
    step = np.array(0.0, np.float64)
    weight = np.ones(BATCH, np.float32)
    lr = np.array(LR, np.float32)
    history = []
    for _ in range(STEPS):
        # loss, 5 partials (loss_sum, weight_sum, sample_count,
        # valid_count, accuracy_sum), params, state, step.
        out = kiln.run(module, "train_step",
                       [*params, *state, step, ids, y, weight, lr],
                       6 + len(params) + len(state) + 1)
        params = out[6:6 + len(params)]
        state = out[6 + len(params):6 + len(params) + len(state)]
        step = out[-1]
        history.append((float(out[0]), params))
    return history


def fail(message):
    print("FAIL " + message)
    common.failures.append(message)


def check_steps(kiln, params, ids, y):
    grad_module = kiln.opt("grad", f"--kiln-attach-loss={LOSS_OPTIONS}",
                           "--kiln-derive-gradients=function=loss")

    def loss_grad(labels):
        return kiln.run(grad_module, "loss_grad",
                        [*params, ids, labels, np.ones(BATCH, np.float32)],
                        6 + len(params))

    out = loss_grad(y)
    loss, partials, grads = float(out[0]), out[1:6], out[6:]
    t_loss, t_grads = torch_grads(params, ids, y, torch.float32)
    r_loss, r_grads = torch_grads(params, ids, y, torch.float64)
    common.compare("grad: loss", loss, t_loss, r_loss,
                   elementwise_check=True)
    for name, g, tg, rg in zip(NAMES, grads, t_grads, r_grads):
        common.compare(f"grad: d loss / d {name}", g, tg, rg)

    # Partials: weight_sum and valid_count are the valid steps, the
    # accuracy partial the valid steps predicted right (argmax of float64
    # probabilities; a near tie at a valid step would make this fragile:
    # none here).
    mask = ids != 0
    with torch.no_grad():
        prob = probabilities([torch.tensor(p, dtype=torch.float64)
                              for p in params],
                             torch.from_numpy(ids.astype(np.int64))).numpy()
    top2 = np.sort(prob, axis=-1)[..., -2:]
    assert np.min((top2[..., 1] - top2[..., 0])[mask]) > 1e-5  # f32: ~1e-7
    correct = float(np.sum((prob.argmax(-1) == y) & mask))
    _, weight_sum, sample_count, valid_count, acc_sum = map(float, partials)
    print(f"grad: partials weight_sum {weight_sum:g} sample_count "
          f"{sample_count:g} valid_count {valid_count:g} accuracy_sum "
          f"{acc_sum:g}; numpy: {mask.sum()} valid steps of {mask.size}, "
          f"{correct:g} right")
    if (weight_sum, sample_count, valid_count, acc_sum) != (
            float(mask.sum()), float(BATCH), float(mask.sum()), correct):
        fail("grad: partials differ from numpy")
    if loss == 0 or mask.all() or not (~mask).any(axis=1).any():
        fail("grad: the data do not exercise the mask")

    # Labels at masked steps change nothing, bitwise.
    y2 = y.copy()
    y2[~mask] = (y2[~mask] + 1) % CLASSES
    out2 = loss_grad(y2)
    same = all(np.array_equal(a, b) for a, b in zip(out, out2))
    print(f"grad: labels changed at {int((~mask).sum())} masked steps: loss "
          f"and gradients {'bitwise equal' if same else 'DIFFER'}")
    if not same:
        fail("grad: masked labels change the loss or a gradient")
    # ... and they do change things at a valid step (the test can fail).
    y3 = y.copy()
    y3[0, 0] = (y3[0, 0] + 1) % CLASSES
    if np.array_equal(loss_grad(y3)[0], out[0]):
        fail("grad: a valid step's label does not change the loss")

    module = kiln.opt("train_pytorch", "--kiln-training-pipeline=" +
                      LOSS_OPTIONS + " optimizer=adam convention=pytorch")
    got = kiln_train(kiln, module, params, ids, y)
    want = torch_adam(params, ids, y, torch.float32)
    ref = torch_adam(params, ids, y, torch.float64)
    for s in range(STEPS):
        common.compare(f"adam step {s + 1}: loss", got[s][0], want[s][0],
                       ref[s][0], elementwise_check=True)
        for i, name in enumerate(NAMES):
            common.compare(f"adam step {s + 1}: {name}", got[s][1][i],
                           want[s][1][i], ref[s][1][i],
                           elementwise_check=True, floor=LR)
    got2 = kiln_train(kiln, module, params, ids, y2)
    same = all(np.array_equal(a, b) for a, b in
               zip(got[-1][1], got2[-1][1]))
    print(f"adam: masked labels changed: params after {STEPS} steps "
          f"{'bitwise equal' if same else 'DIFFER'}")
    if not same:
        fail("adam: masked labels change the params")


def make_program_inputs(workdir, rng):
    """Writes tagger.json (the model with a compile_config: Adam 0.05,
    accuracy) and x.npy (ids [40, 10]), y.npy (labels: mostly id mod 3),
    w.npy (sample weights 0.5/1/2, sample 3 weight 0) into `workdir`;
    returns (config path, ids, y, w, {name: path})."""
    config = dict(CONFIG)
    config["compile_config"] = {
        "loss": "sparse_categorical_crossentropy",
        "optimizer": {"class_name": "Adam",
                      "config": {"learning_rate": 0.05}},
        "metrics": ["accuracy"]}
    path = os.path.join(workdir, "tagger.json")
    with open(path, "w") as f:
        json.dump(config, f)
    n = 40
    ids = np.concatenate([masked.padded_ids(all_padding=True)(rng)
                          for _ in range(3)])[:n].astype(np.int32)
    # Learnable labels: the class of each step's id (id mod 3).
    y = (ids % CLASSES).astype(np.int32)
    flip = rng.uniform(size=y.shape) < 0.3
    y[flip] = rng.integers(0, CLASSES, int(flip.sum()))
    w = rng.choice([0.5, 1.0, 2.0], n).astype(np.float32)
    w[3] = 0.0
    files = {k: os.path.join(workdir, k + ".npy") for k in "xywp"}
    np.save(files["x"], ids)
    np.save(files["y"], y)
    np.save(files["w"], w)
    return path, ids, y, w, files


def check_program(kilnc, workdir, rng):
    """predict and evaluate of the compiled program over 40 samples (3
    batches of 16, the last padded with 8 rows), after 4 epochs of fit so
    that the predictions are far from uniform; evaluate with and without
    per-sample weights (Keras' sample_weight of shape [N, 1], broadcast
    over the steps; one sample of weight 0)."""
    path, ids, y, w, files = make_program_inputs(workdir, rng)
    n = len(ids)
    prog = os.path.join(workdir, "tagger")
    subprocess.run([kilnc, path, f"--batch-size={BATCH}", "-o", prog],
                   check=True)
    ckpt = os.path.join(workdir, "tagger.safetensors")
    subprocess.run([prog, "fit", "--data", files["x"], "--labels",
                    files["y"], "--epochs", "4", "--no-shuffle",
                    "--checkpoint", ckpt, "--quiet"], check=True)
    subprocess.run([prog, "predict", "--data", files["x"], "--checkpoint",
                    ckpt, "--output", files["p"]], check=True)
    prob = np.load(files["p"]).astype(np.float64)
    print(f"predict: output shape {prob.shape}")
    if prob.shape != (n, STEPS_T, CLASSES):
        fail(f"predict: shape {prob.shape}, not {(n, STEPS_T, CLASSES)}")
        return
    mask = ids != 0
    picked = np.take_along_axis(prob, y[..., None], -1)[..., 0]
    per_step = -np.log(np.clip(picked, EPS, 1 - EPS))
    match = prob.argmax(-1) == y

    def keras(weights, use_mask=True):
        """Keras' evaluate: per batch sum(l m w) / valid (apply_mask with
        sum_over_batch_size), the batches weighted by their sample counts
        (compile_utils records each batch's loss with sample_weight =
        batch size); accuracy sum(match m w) / sum(m w) over all steps
        (MeanMetricWrapper with the mask as sample weight)."""
        m = mask if use_mask else np.ones_like(mask)
        sw = weights[:, None] * m
        loss_sum = 0.0
        for b in range(0, n, BATCH):
            valid = m[b:b + BATCH].sum()
            batch = (per_step[b:b + BATCH] * sw[b:b + BATCH]).sum()
            loss_sum += (batch / valid if valid else 0.0) * sw[b:b + BATCH]\
                .shape[0]
        return loss_sum / n, (match * sw).sum() / sw.sum()

    for label, extra, weights in [
            ("evaluate", [], np.ones(n)),
            ("evaluate --sample-weight", ["--sample-weight", files["w"]],
             w.astype(np.float64))]:
        line = subprocess.run(
            [prog, "evaluate", "--data", files["x"], "--labels", files["y"],
             "--checkpoint", ckpt, "--quiet", *extra],
            check=True, capture_output=True, text=True).stdout
        got = {k: float(v) for k, v in
               re.findall(r"(\w+): ([0-9.e+-]+)", line)}
        loss, accuracy = keras(weights)
        u_loss, u_accuracy = keras(weights, use_mask=False)
        print(f"{label}: kiln loss {got.get('loss')} accuracy "
              f"{got.get('accuracy')}; numpy (Keras' masked formulas) loss "
              f"{loss:.6f} accuracy {accuracy:.6f} (unmasked: loss "
              f"{u_loss:.6f} accuracy {u_accuracy:.6f})")
        # evaluate prints 4 decimals.
        if abs(got.get("loss", -1) - loss) > 5.1e-5 or \
                abs(got.get("accuracy", -1) - accuracy) > 5.1e-5:
            fail(f"{label}: loss or accuracy differ from numpy")
        if abs(u_loss - loss) < 1e-3 or abs(u_accuracy - accuracy) < 1e-3:
            fail(f"{label}: the data do not tell masked from unmasked")


def main():
    if sys.argv[1] == "make":
        # seq_mask_check.py make DIR: the program inputs only (the
        # data-parallel test trains them on 1 and 2 processes).
        os.makedirs(sys.argv[2], exist_ok=True)
        rng = np.random.default_rng(SEED)
        init_data(rng)  # the same draws as a full run
        make_program_inputs(sys.argv[2], rng)
        return
    kiln_opt, kilnc, workdir = sys.argv[1:4]
    os.makedirs(workdir, exist_ok=True)
    torch.set_num_threads(1)
    print(f"tolerance {common.RTOL:g} relative")
    path = os.path.join(workdir, "tagger_train.json")
    with open(path, "w") as f:
        json.dump(CONFIG, f)
    kiln = common.Kiln(kiln_opt, kilnc, workdir)
    kiln.model = os.path.join(workdir, "tagger_forward.mlir")
    subprocess.run([kilnc, path, "--emit=kiln", f"--batch-size={BATCH}",
                    "-o", kiln.model], check=True)
    with open(kiln.model) as f:
        forward = f.read()
    order = re.findall(r'kiln.param = "([^"]+)"', forward)
    assert order == NAMES, order
    if "kiln.loss_mask" not in forward:
        fail("import: the output's mask is not a kiln.loss_mask result")
    rng = np.random.default_rng(SEED)
    params, ids, y = init_data(rng)
    check_steps(kiln, params, ids, y)
    check_program(kilnc, workdir, rng)
    if common.failures:
        print(f"{len(common.failures)} checks failed")
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
