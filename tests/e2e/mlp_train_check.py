#!/usr/bin/python3
"""Checks a kiln-compiled training step of a 2-layer MLP against PyTorch.

Usage: mlp_train_check.py KILN_OPT KILNC WORKDIR

Model: x[32, 20] -> Dense(16, relu) -> Dense(4) logits, sparse categorical
cross-entropy from logits, mean over the batch (sample weights all 1), f32.
Seeded data: Glorot-uniform kernels, biases uniform in [-0.1, 0.1], x
standard normal, labels uniform in [0, 4).

1. Gradients: `kiln-opt --kiln-attach-loss --kiln-derive-gradients` gives
   @loss_grad; `kilnc run` evaluates it. The loss and the 4 gradients are
   compared with torch autograd on the same model (nn.Linear layers, whose
   weight is the transposed kiln kernel; F.cross_entropy, mean), in f32.
2. Adam, PyTorch convention: `kiln-opt --kiln-training-pipeline=... adam
   convention=pytorch` gives @train_step; 3 steps (each a `kilnc run`, the
   updated params and optimizer state fed into the next) against
   torch.optim.Adam(lr=1e-2) (betas 0.9/0.999, eps 1e-8). After each step:
   the loss, the 4 params and both moments of each param.
3. Adam, Keras convention (epsilon default 1e-7, and epsilon 1e-3, where the
   Keras "epsilon hat" form and the paper form differ by far more than the
   tolerance): 3 steps against the Keras 3 formula
   alpha = lr sqrt(1 - b2^t) / (1 - b1^t); w <- w - alpha m / (sqrt(v) + eps)
   computed in float64 from float64 torch gradients, except that, as in
   Keras 3, beta^t uses beta rounded to f32.

Error measures, per tensor (a = kiln, b = reference):
  norm-wise relative  ||a - b||_2 / ||b||_2, always <= 1e-5
  element-wise        max_i |a_i - b_i| / (|b_i| + 1e-6 max|b|) (the floor
                      keeps elements that are ~0 in b from dividing by 0),
                      also <= 1e-5 for the loss and the params vs torch
                      (lines marked [elementwise]), or, where torch f32
                      is itself further than that from float64 (a param
                      near 0 after an Adam step whose gradient element
                      is tiny: the update lr*m/(sqrt(v)+eps) amplifies
                      f32 rounding of g), kiln's element-wise error vs the
                      float64 run at most twice torch f32's; only
                      reported for the gradients, the Adam moments and
                      the Keras checks.
Element-wise 1e-5 is not feasible for the gradients and the moments: torch
f32 itself is up to ~9e-6 (gradients) and ~5e-5 (first moments) from
float64 on single elements (sums that cancel). The torch-f32 column gives,
for the torch comparisons, both measures of torch f32 against a float64
torch run: the size of f32 rounding alone.

The element-wise check on the params is what catches a systematic Adam
error: before commit 06b6525 kiln computed the PyTorch-convention bias
corrections 1 - beta^t in f32 from float32(0.999) = 0.99900001287 (1.29e-5
too small), so every update was ~6e-6 smaller than torch.optim.Adam's; that
stayed under 1e-5 norm-wise (~3e-6) but gave element-wise errors up to
~4e-4 on params near 0. The line "median kiln/torch update ratio - 1"
shows it directly (0 when the formulas agree).

Prints one line per tensor, then PASS, or FAIL lines and exits non-zero.
"""
import os
import subprocess
import sys

import numpy as np
import torch

RTOL = 1e-5
BATCH, IN, HIDDEN, CLASSES = 32, 20, 16, 4
LR = 1e-2
STEPS = 3
SEED = 20260214
NAMES = ["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"]

MODEL = f"""
func.func @forward(
    %w0: tensor<{IN}x{HIDDEN}xf32> {{kiln.param = "dense/kernel", kiln.trainable}},
    %b0: tensor<{HIDDEN}xf32> {{kiln.param = "dense/bias", kiln.trainable}},
    %w1: tensor<{HIDDEN}x{CLASSES}xf32> {{kiln.param = "dense_1/kernel", kiln.trainable}},
    %b1: tensor<{CLASSES}xf32> {{kiln.param = "dense_1/bias", kiln.trainable}},
    %x: tensor<{BATCH}x{IN}xf32> {{kiln.name = "x"}})
    -> (tensor<{BATCH}x{CLASSES}xf32> {{kiln.name = "logits"}}) {{
  %0 = kiln.matmul %x, %w0 : tensor<{BATCH}x{IN}xf32>, tensor<{IN}x{HIDDEN}xf32> -> tensor<{BATCH}x{HIDDEN}xf32>
  %1 = kiln.broadcast_in_dim %b0, dims = [1] : tensor<{HIDDEN}xf32> -> tensor<{BATCH}x{HIDDEN}xf32>
  %2 = kiln.add %0, %1 : tensor<{BATCH}x{HIDDEN}xf32>
  %3 = kiln.relu %2 : tensor<{BATCH}x{HIDDEN}xf32>
  %4 = kiln.matmul %3, %w1 : tensor<{BATCH}x{HIDDEN}xf32>, tensor<{HIDDEN}x{CLASSES}xf32> -> tensor<{BATCH}x{CLASSES}xf32>
  %5 = kiln.broadcast_in_dim %b1, dims = [1] : tensor<{CLASSES}xf32> -> tensor<{BATCH}x{CLASSES}xf32>
  %6 = kiln.add %4, %5 : tensor<{BATCH}x{CLASSES}xf32>
  return %6 : tensor<{BATCH}x{CLASSES}xf32>
}}
"""
LOSS_OPTIONS = ("loss=sparse_categorical_crossentropy from_logits=1 "
                "metrics=accuracy")

failures = []


def errors(a, b, floor=0.0):
    """Norm-wise and element-wise relative errors; the element-wise
    denominator is |b_i| + max(1e-6 max|b|, floor)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    nb = np.linalg.norm(b)
    normwise = np.linalg.norm(a - b) / nb if nb > 0 else np.linalg.norm(a)
    scale = np.abs(b).max() if b.size else 0.0
    elementwise = (np.abs(a - b) /
                   (np.abs(b) + max(1e-6 * scale, floor) + 1e-300)).max()
    return normwise, elementwise


def compare(label, got, want, f64=None, elementwise_check=False, floor=0.0):
    """Prints the errors of `got` against `want` (and of `want` against the
    float64 `f64`); records a failure beyond RTOL norm-wise, or element-wise
    when `elementwise_check` (element-wise floor: see errors)."""
    normwise, elementwise = errors(got, want, floor)
    line = (f"{label:<34} norm-wise {normwise:.2e}  element-wise "
            f"{elementwise:.2e}")
    if f64 is not None:
        line += "  torch-f32: %.2e %.2e" % errors(want, f64, floor)
    if elementwise_check:
        line += "  [elementwise]"
    elementwise_ok = elementwise <= RTOL
    if elementwise_check and not elementwise_ok and f64 is not None:
        # Two float32 computations each ~torch's rounding away from the
        # exact value can be twice that apart: judge kiln against float64.
        torch_error = errors(want, f64, floor)[1]
        kiln_error = errors(got, f64, floor)[1]
        elementwise_ok = kiln_error <= max(RTOL, 2 * torch_error)
        line += f"  kiln-f64: {kiln_error:.2e}"
    ok = (np.all(np.isfinite(got)) and normwise <= RTOL and
          (not elementwise_check or elementwise_ok))
    print(("" if ok else "FAIL ") + line)
    if not ok:
        failures.append(label)


def init_data():
    rng = np.random.default_rng(SEED)

    def glorot(fan_in, fan_out):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, (fan_in, fan_out))

    params = [glorot(IN, HIDDEN), rng.uniform(-0.1, 0.1, HIDDEN),
              glorot(HIDDEN, CLASSES), rng.uniform(-0.1, 0.1, CLASSES)]
    params = [p.astype(np.float32) for p in params]
    x = rng.standard_normal((BATCH, IN)).astype(np.float32)
    y = rng.integers(0, CLASSES, BATCH).astype(np.int32)
    return params, x, y


class Kiln:
    def __init__(self, kiln_opt, kilnc, workdir):
        self.kiln_opt, self.kilnc, self.workdir = kiln_opt, kilnc, workdir
        self.model = os.path.join(workdir, "model.mlir")
        with open(self.model, "w") as f:
            f.write(MODEL)
        self.count = 0

    def opt(self, name, *flags):
        out = os.path.join(self.workdir, name + ".mlir")
        subprocess.run([self.kiln_opt, *flags, self.model, "-o", out],
                       check=True)
        return out

    def run(self, module, entry, inputs, num_results):
        """Runs `entry` on `inputs` (numpy arrays, in argument order);
        returns the results then the updated arguments."""
        self.count += 1
        tag = os.path.join(self.workdir, f"run{self.count}")
        ins = [f"{tag}_in{i}.npy" for i in range(len(inputs))]
        outs = [f"{tag}_out{i}.npy" for i in range(num_results)]
        for path, value in zip(ins, inputs):
            np.save(path, value)
        cmd = [self.kilnc, "run", module, "--entry", entry]
        for path in ins:
            cmd += ["--input", path]
        for path in outs:
            cmd += ["--output", path]
        subprocess.run(cmd, check=True)
        return [np.load(path) for path in outs]


def torch_model(params, dtype):
    """nn.Linear layers holding the kiln params (weight = kernel^T)."""
    torch.manual_seed(0)
    l0 = torch.nn.Linear(IN, HIDDEN).to(dtype)
    l1 = torch.nn.Linear(HIDDEN, CLASSES).to(dtype)
    with torch.no_grad():
        l0.weight.copy_(torch.from_numpy(params[0].T.astype(np.float64)))
        l0.bias.copy_(torch.from_numpy(params[1].astype(np.float64)))
        l1.weight.copy_(torch.from_numpy(params[2].T.astype(np.float64)))
        l1.bias.copy_(torch.from_numpy(params[3].astype(np.float64)))
    tparams = [l0.weight, l0.bias, l1.weight, l1.bias]

    def loss_fn(x, y):
        logits = l1(torch.relu(l0(x)))
        return torch.nn.functional.cross_entropy(logits, y)

    return tparams, loss_fn


def as_kiln(tensor):
    """A torch param or gradient in the kiln layout (kernels [in, out])."""
    a = tensor.detach().numpy()
    # A copy: numpy() shares memory with the live (updated) tensor.
    return (a.T if a.ndim == 2 else a).copy()


def torch_grads(params, x, y, dtype):
    tparams, loss_fn = torch_model(params, dtype)
    loss = loss_fn(torch.from_numpy(x).to(dtype),
                   torch.from_numpy(y.astype(np.int64)))
    loss.backward()
    return loss.item(), [as_kiln(p.grad) for p in tparams]


def torch_adam(params, x, y, dtype):
    """STEPS torch.optim.Adam steps: per step (loss, params, m, v)."""
    tparams, loss_fn = torch_model(params, dtype)
    opt = torch.optim.Adam(tparams, lr=LR)
    tx = torch.from_numpy(x).to(dtype)
    ty = torch.from_numpy(y.astype(np.int64))
    history = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = loss_fn(tx, ty)
        loss.backward()
        opt.step()
        history.append((loss.item(), [as_kiln(p) for p in tparams],
                        [as_kiln(opt.state[p]["exp_avg"]) for p in tparams],
                        [as_kiln(opt.state[p]["exp_avg_sq"])
                         for p in tparams]))
    return history


def keras_adam(params, x, y, eps):
    """STEPS Keras 3 Adam steps (keras/src/optimizers/adam.py) in float64
    except for the beta powers: per step (loss, params)."""
    beta1, beta2 = 0.9, 0.999
    w = [p.astype(np.float64) for p in params]
    m = [np.zeros_like(p) for p in w]
    v = [np.zeros_like(p) for p in w]
    history = []
    for t in range(1, STEPS + 1):
        loss, g = torch_grads(w, x.astype(np.float64), y, torch.float64)
        # Keras 3 raises beta, cast to the variable dtype (f32), to the power
        # t: float32(0.999) = 0.99900001287 makes 1 - beta2^t 1.3e-5 smaller
        # than in exact arithmetic. The rest is float64 here.
        p1 = float(np.float32(beta1)) ** t
        p2 = float(np.float32(beta2)) ** t
        alpha = LR * np.sqrt(1 - p2) / (1 - p1)
        for i in range(len(w)):
            m[i] = beta1 * m[i] + (1 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] ** 2
            w[i] = w[i] - alpha * m[i] / (np.sqrt(v[i]) + eps)
        history.append((loss, [p.copy() for p in w]))
    return history


def paper_adam_f64(params, x, y, eps):
    """The paper/PyTorch form in float64, to show the Keras check
    discriminates: per step params."""
    beta1, beta2 = 0.9, 0.999
    w = [p.astype(np.float64) for p in params]
    m = [np.zeros_like(p) for p in w]
    v = [np.zeros_like(p) for p in w]
    history = []
    for t in range(1, STEPS + 1):
        _, g = torch_grads(w, x.astype(np.float64), y, torch.float64)
        for i in range(len(w)):
            m[i] = beta1 * m[i] + (1 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] ** 2
            w[i] = w[i] - LR * (m[i] / (1 - beta1 ** t)) / (
                np.sqrt(v[i] / (1 - beta2 ** t)) + eps)
        history.append([p.copy() for p in w])
    return history


def kiln_train(kiln, module, params, x, y, batch=BATCH, lr=LR, steps=STEPS):
    """`steps` @train_step calls of an Adam training step (sample weights
    1, learning rate `lr`): per step (loss, params, m, v, step counter)."""
    state = []
    for p in params:
        state += [np.zeros_like(p), np.zeros_like(p)]  # m, v
    step = np.array(0.0, np.float64)
    weight = np.ones(batch, np.float32)
    lr = np.array(lr, np.float32)
    history = []
    for _ in range(steps):
        # Results: loss, 4 partials (loss_sum, weight_sum, sample_count,
        # accuracy_sum); then updated params, state, step.
        out = kiln.run(module, "train_step",
                       [*params, *state, step, x, y, weight, lr],
                       5 + len(params) + len(state) + 1)
        loss = float(out[0])
        params = out[5:5 + len(params)]
        state = out[5 + len(params):5 + len(params) + len(state)]
        step = out[-1]
        history.append((loss, params, state[0::2], state[1::2], float(step)))
    return history


def main():
    kiln_opt, kilnc, workdir = sys.argv[1:4]
    os.makedirs(workdir, exist_ok=True)
    torch.set_num_threads(1)
    params, x, y = init_data()
    kiln = Kiln(kiln_opt, kilnc, workdir)
    print(f"tolerance {RTOL:g} relative: norm-wise per tensor, element-wise "
          f"on lines marked [elementwise]")

    # 1. Loss and gradients.
    grad_module = kiln.opt("grad", f"--kiln-attach-loss={LOSS_OPTIONS}",
                           "--kiln-derive-gradients=function=loss")
    out = kiln.run(grad_module, "loss_grad",
                   [*params, x, y, np.ones(BATCH, np.float32)], 9)
    loss, partials, grads = float(out[0]), out[1:5], out[5:]
    t_loss, t_grads = torch_grads(params, x, y, torch.float32)
    r_loss, r_grads = torch_grads(params, x, y, torch.float64)
    compare("grad: loss", loss, t_loss, r_loss, elementwise_check=True)
    for name, g, tg, rg in zip(NAMES, grads, t_grads, r_grads):
        compare(f"grad: d loss / d {name}", g, tg, rg)
    print(f"grad: partials loss_sum {float(partials[0]):.6f} weight_sum "
          f"{float(partials[1]):g} sample_count {float(partials[2]):g} "
          f"accuracy_sum {float(partials[3]):g}")
    assert float(partials[1]) == BATCH and float(partials[2]) == BATCH

    # 2. Adam, PyTorch convention, vs torch.optim.Adam.
    module = kiln.opt("train_pytorch", "--kiln-training-pipeline=" +
                      LOSS_OPTIONS + " optimizer=adam convention=pytorch")
    got = kiln_train(kiln, module, params, x, y)
    want = torch_adam(params, x, y, torch.float32)
    ref = torch_adam(params, x, y, torch.float64)
    # Diagnostic: the first update relative to torch's (median over the
    # elements). A systematic difference in the formula (such as bias
    # corrections in f32) shows here as a non-zero value.
    k_update = np.concatenate([(params[i] - got[0][1][i]).ravel()
                               for i in range(len(NAMES))])
    t_update = np.concatenate([(params[i] - want[0][1][i]).ravel()
                               for i in range(len(NAMES))])
    moved = t_update != 0
    ratios = k_update[moved] / t_update[moved] - 1
    print(f"adam-pytorch step 1: median kiln/torch update ratio - 1 = "
          f"{np.median(ratios):.2e}")
    for s in range(STEPS):
        k_loss, k_params, k_m, k_v, k_step = got[s]
        t_loss, t_params, t_m, t_v = want[s]
        r_loss, r_params, r_m, r_v = ref[s]
        assert k_step == s + 1, k_step
        compare(f"adam-pytorch step {s + 1}: loss", k_loss, t_loss, r_loss,
                elementwise_check=True)
        for i, name in enumerate(NAMES):
            compare(f"adam-pytorch step {s + 1}: {name}", k_params[i],
                    t_params[i], r_params[i], elementwise_check=True)
        for i, name in enumerate(NAMES):
            compare(f"adam-pytorch step {s + 1}: {name}/m", k_m[i], t_m[i],
                    r_m[i])
            compare(f"adam-pytorch step {s + 1}: {name}/v", k_v[i], t_v[i],
                    r_v[i])

    # 3. Adam, Keras convention, vs the Keras 3 formula in float64.
    for eps, flag in ((1e-7, ""), (1e-3, " epsilon=0.001")):
        module = kiln.opt(f"train_keras_{eps:g}", "--kiln-training-pipeline=" +
                          LOSS_OPTIONS + " optimizer=adam convention=keras" +
                          flag)
        got = kiln_train(kiln, module, params, x, y)
        want = keras_adam(params, x, y, eps)
        paper = paper_adam_f64(params, x, y, eps)
        for s in range(STEPS):
            compare(f"adam-keras eps={eps:g} step {s + 1}: loss", got[s][0],
                    want[s][0])
            for i, name in enumerate(NAMES):
                compare(f"adam-keras eps={eps:g} step {s + 1}: {name}",
                        got[s][1][i], want[s][1][i])
        if eps == 1e-3:
            # The paper form is far from the kiln result here: the check
            # above tells the two conventions apart.
            dist = max(errors(got[-1][1][i], paper[-1][i])[0]
                       for i in range(len(NAMES)))
            print(f"adam-keras eps=0.001: paper-form distance {dist:.2e}")
            if dist <= 10 * RTOL:
                print("FAIL adam-keras: Keras and paper forms not told apart")
                failures.append("keras discrimination")

    if failures:
        print(f"{len(failures)} tensors beyond tolerance")
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
