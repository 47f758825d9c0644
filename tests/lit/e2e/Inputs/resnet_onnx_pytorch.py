#!/usr/bin/python3
"""A small ResNet exported from PyTorch to ONNX, trained by kiln, vs PyTorch.

    resnet_onnx_pytorch.py KILNC KILN_OPT WORKDIR

Model (CIFAR ResNet shapes, small): x [8, 3, 16, 16] -> conv3x3(8) - BN -
ReLU -> a residual block (conv3x3 - BN - ReLU - conv3x3 - BN, identity
shortcut, add, ReLU) -> a strided block (16 channels, stride 2, 1x1
projection conv + BN on the shortcut) -> global average pool -> flatten ->
Linear(10) logits. Exported with torch.onnx.export (opset 15, training mode
so the BatchNormalization nodes stay; a dynamic batch axis).

1. `kilnc run MODEL.onnx --batch-size=8 --loss=sparse_categorical_crossentropy
   --from-logits --optimizer=sgd:momentum=0.9 --convention=pytorch --entry
   train_step`, 3 times on fixed random data (each step's params, momenta
   and state fed to the next), against torch.optim.SGD(lr, momentum=0.9)
   with F.cross_entropy (mean) on the same module in train() mode: the loss
   of each step, every param and every BatchNorm running mean / variance
   after each step. The argument and result order of @train_step is read
   from `kiln-opt --kiln-training-pipeline` with the same settings.
2. `--entry predict` with the params and running statistics after 3 steps
   vs the torch module in eval() mode.
3. Property: predict compiled for batch 1 gives a sample (every other one
   of the batch) the output it gets inside the batch of 8 (BatchNorm's inference form uses the running
   statistics only).

Tolerance: 1e-5 relative, norm-wise per tensor (||kiln - torch|| /
||torch||). Both sides compute in f32, so they differ by f32 rounding; the
torch-f32 column gives torch f32's own distance from a float64 torch run.
A tensor passes when kiln is within 1e-5 of torch f32, or, if not, when
kiln is within max(1e-5, 2 x torch f32's error) of float64 (two f32
computations each rounding-distant from the exact value can be twice that
apart).

kiln stores conv weights channels-last ([kh, kw, in, out], ONNX's
[out, in, kh, kw] permuted once at import); this script converts.
Prints one line per tensor, then PASS, or FAIL lines and exits non-zero.
"""
import copy
import os
import re
import subprocess
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper

RTOL = 1e-5
BATCH, STEPS, LR, MOMENTUM, CLASSES = 8, 3, 0.05, 0.9, 10
TRAINING = ["--loss=sparse_categorical_crossentropy", "--from-logits",
            "--optimizer=sgd:momentum=%g" % MOMENTUM, "--convention=pytorch"]
PIPELINE = ("loss=sparse_categorical_crossentropy from_logits=1 "
            "optimizer=sgd momentum=%g convention=pytorch" % MOMENTUM)

failures = []


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False),
                nn.BatchNorm2d(cout))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return F.relu(h + (x if self.short is None else self.short(x)))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.b1 = Block(8, 8, 1)
        self.b2 = Block(8, 16, 2)
        self.fc = nn.Linear(16, CLASSES)

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)))
        x = self.b2(self.b1(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def errors(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    nb = np.linalg.norm(b)
    return np.linalg.norm(a - b) / nb if nb > 0 else np.linalg.norm(a)


def compare(label, got, want, f64):
    err = errors(got, want)
    torch_err = errors(want, f64)
    ok = bool(np.all(np.isfinite(got))) and err <= RTOL
    line = "%-46s %.2e  torch-f32 %.2e" % (label, err, torch_err)
    if not ok and np.all(np.isfinite(got)):
        kiln_err = errors(got, f64)
        ok = kiln_err <= max(RTOL, 2 * torch_err)
        line += "  kiln-f64 %.2e" % kiln_err
    print(("" if ok else "FAIL ") + line)
    if not ok:
        failures.append(label)


def signature(text, name):
    """(args, results) of func @name: args as (kind, name, update_of)."""
    header = next(l for l in text.splitlines()
                  if "func.func @%s(" % name in l)
    header = re.sub(r"kiln\.init = dense<[^>]*>", "", header)
    args_text, results_text = header.split(") -> ", 1)
    args = []
    for m in re.finditer(r"%arg\d+: [^{]*\{([^}]*)\}", args_text):
        a = m.group(1)
        param = re.search(r'kiln\.param = "([^"]*)"', a)
        slot = re.search(r'kiln\.opt_state = "([^"]*)"', a)
        io = re.search(r'kiln\.name = "([^"]*)"', a)
        args.append(("param", param.group(1)) if param else
                    ("opt", slot.group(1)) if slot else ("io", io.group(1)))
    results = []
    for m in re.finditer(r"tensor<[^>]*> \{([^}]*)\}", results_text):
        upd = re.search(r"kiln\.update_of = (\d+)", m.group(1))
        results.append(int(upd.group(1)) if upd else None)
    return args, results


def to_kiln(name, value):
    """A torch/ONNX tensor in kiln's layout (conv weights channels-last)."""
    value = np.asarray(value, np.float32)
    return value.transpose(2, 3, 1, 0).copy() if value.ndim == 4 else value


def to_torch(value):
    value = np.asarray(value)
    return value.transpose(3, 2, 0, 1) if value.ndim == 4 else value


class Kiln:
    def __init__(self, kilnc, workdir, model):
        self.kilnc, self.workdir, self.model = kilnc, workdir, model
        self.count = 0

    def run(self, entry, inputs, num_outputs, flags):
        self.count += 1
        tag = os.path.join(self.workdir, "run%d" % self.count)
        ins = ["%s_in%d.npy" % (tag, i) for i in range(len(inputs))]
        outs = ["%s_out%d.npy" % (tag, i) for i in range(num_outputs)]
        for path, value in zip(ins, inputs):
            np.save(path, value)
        cmd = [self.kilnc, "run", self.model, "--entry", entry] + flags
        for path in ins:
            cmd += ["--input", path]
        for path in outs:
            cmd += ["--output", path]
        subprocess.run(cmd, check=True)
        return [np.load(path) for path in outs]


def torch_train(model0, x, y, dtype):
    """STEPS SGD-momentum steps in train() mode: per step (loss, state)."""
    model = copy.deepcopy(model0).to(dtype)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    tx = torch.from_numpy(x).to(dtype)
    ty = torch.from_numpy(y.astype(np.int64))
    history = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = F.cross_entropy(model(tx), ty)
        loss.backward()
        opt.step()
        history.append((loss.item(), {k: v.detach().numpy().copy() for k, v
                                      in model.state_dict().items()}))
    return model, history


def main():
    kilnc, kiln_opt, workdir = sys.argv[1:4]
    os.makedirs(workdir, exist_ok=True)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = ResNet()
    # Non-trivial BatchNorm parameters and statistics.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((BATCH, 3, 16, 16)).astype(np.float32)
    y = rng.integers(0, CLASSES, BATCH).astype(np.int32)

    path = os.path.join(workdir, "resnet.onnx")
    exported = copy.deepcopy(model)  # the export traces in train() mode
    exported.train()
    torch.onnx.export(exported, (torch.from_numpy(x),), path,
                      input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}},
                      opset_version=15,
                      training=torch.onnx.TrainingMode.TRAINING,
                      do_constant_folding=False)
    onnx_model = onnx.load(path)
    ops = sorted({n.op_type for n in onnx_model.graph.node})
    print("exported ops: " + " ".join(ops))
    inits = {t.name: numpy_helper.to_array(t)
             for t in onnx_model.graph.initializer}
    # The reference starts from the exported values.
    state0 = model.state_dict()
    for k in state0:
        if k in inits:
            state0[k].copy_(torch.from_numpy(inits[k].copy()))
    model.load_state_dict(state0)

    forward = os.path.join(workdir, "forward.mlir")
    subprocess.run([kilnc, path, "--batch-size=%d" % BATCH, "--emit=kiln",
                    "-o", forward], check=True)
    text = subprocess.run([kiln_opt, "--kiln-training-pipeline=" + PIPELINE,
                           forward], check=True, capture_output=True,
                          text=True).stdout
    args, results = signature(text, "train_step")
    p_args, p_results = signature(text, "predict")
    n_params = sum(1 for kind, _ in args if kind == "param")
    print("train_step: %d params (%d running statistics), %d results" % (
        n_params, sum(1 for k, n in args if k == "param" and "running" in n),
        len(results)))

    kiln = Kiln(kilnc, workdir, path)
    flags = ["--batch-size=%d" % BATCH] + TRAINING
    values = []
    for kind, name in args:
        if kind == "param":
            values.append(to_kiln(name, inits[name]))
        elif kind == "opt":
            values.append(None)  # filled below from the signature's shapes
        elif name == "x":
            values.append(x)
        elif name == "labels":
            values.append(y)
        elif name == "sample_weight":
            values.append(np.ones(BATCH, np.float32))
        elif name == "learning_rate":
            values.append(np.array(LR, np.float32))
    # Optimizer slots start at 0: a momentum buffer per trainable param (its
    # name + "/momentum") and the f64 step counter.
    by_name = {name: i for i, (kind, name) in enumerate(args)
               if kind == "param"}
    for i, (kind, name) in enumerate(args):
        if kind == "opt":
            base = name.rsplit("/", 1)[0]
            values[i] = (np.zeros_like(values[by_name[base]])
                         if base in by_name else np.array(0.0, np.float64))

    want = torch_train(model, x, y, torch.float32)[1]
    ref = torch_train(model, x, y, torch.float64)[1]
    print("tolerance %g relative (norm-wise per tensor; kiln vs torch f32, "
          "else vs float64 within twice torch f32's error)" % RTOL)
    for s in range(STEPS):
        out = kiln.run("train_step", values, len(results), flags)
        loss = float(out[0])
        # kilnc run writes the plain results, then the arguments updated in
        # place, in argument order.
        plain = sum(1 for index in results if index is None)
        updated = sorted(index for index in results if index is not None)
        for k, index in enumerate(updated):
            values[index] = out[plain + k]
        t_loss, t_state = want[s]
        r_loss, r_state = ref[s]
        compare("step %d: loss" % (s + 1), loss, t_loss, r_loss)
        for i, (kind, name) in enumerate(args):
            if kind == "param":
                compare("step %d: %s" % (s + 1, name), to_torch(values[i]),
                        t_state[name], r_state[name])

    # The steps moved every trainable param and every running statistic
    # (the comparisons above are not of unchanged values).
    moved = min(errors(to_torch(values[i]), inits[name])
                for i, (kind, name) in enumerate(args) if kind == "param")
    print("%severy param and running statistic moved: min relative change "
          "%.2e" % ("" if moved > 100 * RTOL else "FAIL ", moved))
    if moved <= 100 * RTOL:
        failures.append("unchanged params")

    # Predict with the running statistics vs torch eval().
    trained32 = torch_train(model, x, y, torch.float32)[0].eval()
    trained64 = torch_train(model, x, y, torch.float64)[0].eval()
    xp = rng.standard_normal((BATCH, 3, 16, 16)).astype(np.float32)
    with torch.no_grad():
        t_pred = trained32(torch.from_numpy(xp)).numpy()
        r_pred = trained64(torch.from_numpy(xp).double()).numpy()
    p_values = [values[by_name[name]] if kind == "param" else xp
                for kind, name in p_args]
    pred = kiln.run("predict", p_values, len(p_results), flags)[0]
    compare("predict (running statistics) vs eval()", pred, t_pred, r_pred)

    # Property: a sample alone (predict at batch 1) gets what it gets in
    # the batch.
    flags1 = ["--batch-size=1"] + TRAINING
    worst = 0.0
    for b in range(0, BATCH, 2):
        p1 = [v if kind == "param" else xp[b:b + 1] for v, (kind, _) in
              zip(p_values, p_args)]
        alone = kiln.run("predict", p1, len(p_results), flags1)[0]
        worst = max(worst, errors(alone[0], pred[b]))
    ok = worst <= 1e-6
    print("%spredict: each sample alone (batch 1) vs in the batch of %d: "
          "max relative distance %.2e" % ("" if ok else "FAIL ", BATCH,
                                          worst))
    if not ok:
        failures.append("batch independence")

    if failures:
        print("FAIL: " + ", ".join(failures))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
