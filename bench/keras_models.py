#!/usr/bin/python3
"""Keras models compiled by kilnc into standalone training programs vs the
same models in PyTorch (eager): training and inference throughput, peak
memory, and kiln's compile time and binary size, measured in one run on one
machine, alternating between the two engines.

Usage: bench/keras_models.py [--rounds N] [--quick] [--models a,b] [--output F]
Needs a built tree (scripts/build.sh), python3-torch and OpenBLAS
(scripts/setup.sh --bench, which this script runs) and MNIST
(scripts/fetch-mnist.sh, which this script runs too: it downloads nothing
when data/mnist is complete).

Models (the Keras JSON configs in examples/, same data, batch size and
hyperparameters on both sides):
- breast_cancer: examples/breast_cancer/model.json: Normalization (adapted
  to the training features: mean and population variance), Dense 16 relu,
  Dropout 0.2, Dense 1 sigmoid; binary cross-entropy; Adam lr 1e-3; batch
  32; train.csv (455 rows, 30 features, label column `malignant`),
  test.csv (114 rows).
- mnist_cnn: examples/mnist_cnn/model.json, the keras.io "Simple MNIST
  convnet": Rescaling 1/255, Conv2D 32 3x3 relu, MaxPooling2D 2, Conv2D 64
  3x3 relu, MaxPooling2D 2, Flatten, Dropout 0.5, Dense 10 softmax; sparse
  categorical cross-entropy; Adam lr 1e-3 eps 1e-7; batch 128; MNIST. torch:
  nn.Conv2d / nn.MaxPool2d on NCHW (its native layout; torch picks its own
  convolution backend, mkldnn on this CPU).
- mnist_mlp: examples/mnist_mlp/model.json: 28x28 images (the IDX bytes,
  held as f32 0..255 in memory since the config's input dtype is float32),
  Rescaling 1/255, Flatten, Dense 512 relu, Dropout 0.2, Dense 512 relu,
  Dropout 0.2, Dense 10 softmax; sparse categorical cross-entropy; RMSprop
  lr 1e-3 rho 0.9 eps 1e-7; batch 128; data/mnist (60000 training, 10000
  test images).

- kiln: `kilnc model.json --batch-size=B -o PROG` (compile time: its wall
  time; binary size: the bytes of PROG, a standalone executable needing only
  libc/libm/libstdc++), then per measurement three fresh processes:
  `PROG fit --epochs E --threads T --history h.json --checkpoint ck` (peak
  memory: its ru_maxrss from wait4, through a small C launcher since Linux
  carries the high-water mark of the spawning Python process across exec;
  training speed: the per-epoch `time` of the history, training steps
  only), `PROG predict` over the training
  features (the samples/s it prints, data loading and output writing
  excluded) and `PROG evaluate` on the test set (loss, accuracy).
- torch: the same architecture in torch.nn, float32, eager, in a fresh
  process per measurement (this script with --torch-worker), with
  torch.set_num_threads(T), set_num_interop_threads(1) and OMP / OpenBLAS /
  MKL_NUM_THREADS=T so that neither OpenMP nor OpenBLAS adds threads. Glorot
  uniform kernels and zero biases as Keras; Normalization = fixed
  (x - mean) / sqrt(var) from the training features; nn.Dropout(0.2);
  BCEWithLogitsLoss on the logit for breast_cancer (the sigmoid is applied
  at inference), CrossEntropyLoss on the logits for MNIST (softmax at
  inference); torch.optim.Adam(lr=1e-3, eps=1e-7) and
  torch.optim.RMSprop(lr=1e-3, alpha=0.9, eps=1e-7). The eps placement of
  torch's Adam (on the bias-corrected sqrt(v_hat)) differs from Keras' (on
  the uncorrected sqrt(v)); for throughput that is immaterial. Data in
  memory as tensors; per epoch a torch.randperm shuffle and manual batching
  by indexing (no DataLoader), the last partial batch included as kiln does;
  per step zero_grad, forward, loss, backward, step, and the running loss
  and accuracy accumulated as tensors (kiln's fit computes both every step).
  Inference: model.eval() + torch.no_grad() over the training features in
  batches of B, into a preallocated output. Peak memory: the worker's own
  VmHWM (/proc/self/status) at the end of training, before inference and
  the test set.

Training samples/s = samples per epoch / median epoch time, epoch 1 (warm-up)
excluded. Each round measures every (model, thread count 1..cores, engine),
kiln and torch alternating which goes first; the report gives medians over
the rounds (min-max), the ratios kiln/torch per thread count and with each
engine at its best thread count, and the test accuracy of every run as a
sanity check. Writes bench/results/keras_models.md.
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("KILN_BUILD_DIR", os.path.join(ROOT, "build"))
MNIST = os.path.join(ROOT, "data/mnist")
BC_DIR = os.path.join(ROOT, "examples/breast_cancer")

MODELS = {
    "breast_cancer": dict(config="examples/breast_cancer/model.json",
                          batch=32, epochs=30, quick_epochs=6),
    "mnist_mlp": dict(config="examples/mnist_mlp/model.json",
                      batch=128, epochs=3, quick_epochs=2),
    "mnist_cnn": dict(config="examples/mnist_cnn/model.json",
                      batch=128, epochs=3, quick_epochs=2),
}
LR = 1e-3


# ---------------------------------------------------------------- data ----

def read_csv(path, label="malignant"):
    """Features [N, F] f32 and labels [N] f32 of a CSV with a header row."""
    with open(path) as f:
        header = f.readline().strip().split(",")
    table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64)
    col = header.index(label)
    x = np.delete(table, col, axis=1).astype(np.float32)
    return x, table[:, col].astype(np.float32)


def read_idx(path, offset):
    return np.fromfile(path, dtype=np.uint8, offset=offset)


def load(model, split):
    """(x, y) of `split` ("train" or "test") as numpy arrays, x in f32 as
    kiln's generated program holds it (the model input dtype)."""
    if model == "breast_cancer":
        return read_csv(os.path.join(BC_DIR, f"{split}.csv"))
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(MNIST, f"{prefix}-images-idx3-ubyte"), 16)
    y = read_idx(os.path.join(MNIST, f"{prefix}-labels-idx1-ubyte"), 8)
    return x.reshape(-1, 28, 28).astype(np.float32), y.astype(np.int64)


def kiln_data_args(model, split, workdir):
    """fit/evaluate data options, and the features-only file for predict."""
    if model == "breast_cancer":
        return (["--data", os.path.join(BC_DIR, f"{split}.csv"),
                 "--label-column", "malignant"],
                os.path.join(workdir, f"breast_cancer_{split}_x.npy"))
    prefix = "train" if split == "train" else "t10k"
    images = os.path.join(MNIST, f"{prefix}-images-idx3-ubyte")
    return (["--data", images,
             "--labels", os.path.join(MNIST, f"{prefix}-labels-idx1-ubyte")],
            images)


# --------------------------------------------------------- torch worker ----

def vm_hwm_kib():
    """Peak RSS of this process's address space (since its exec), KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def torch_worker(model_name, threads, epochs, seed):
    """One torch measurement in this (fresh) process; prints JSON."""
    import torch
    import torch.nn as nn
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(seed)
    batch = MODELS[model_name]["batch"]

    x_np, y_np = load(model_name, "train")
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    n = x.shape[0]

    class Normalize(nn.Module):
        def __init__(self, mean, var):
            super().__init__()
            self.register_buffer("mean", mean)
            self.register_buffer("std", var.sqrt())

        def forward(self, t):
            return (t - self.mean) / self.std

    class Rescale(nn.Module):
        def forward(self, t):
            return t * (1.0 / 255.0)

    if model_name == "breast_cancer":
        var, mean = torch.var_mean(x, dim=0, unbiased=False)
        model = nn.Sequential(Normalize(mean, var), nn.Linear(30, 16),
                              nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 1),
                              nn.Flatten(0))
        loss_fn = nn.BCEWithLogitsLoss()
        opt = torch.optim.Adam(model.parameters(), lr=LR, eps=1e-7)
        correct_fn = lambda out, t: ((out > 0).float() == t).sum()
        prob_fn = torch.sigmoid
        out_shape = (n,)
    elif model_name == "mnist_cnn":
        model = nn.Sequential(Rescale(), nn.Unflatten(1, (1, 28)),
                              nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(32, 64, 3), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.5),
                              nn.Linear(1600, 10))
        loss_fn = nn.CrossEntropyLoss()
        opt = torch.optim.Adam(model.parameters(), lr=LR, eps=1e-7)
        correct_fn = lambda out, t: (out.argmax(1) == t).sum()
        prob_fn = lambda out: torch.softmax(out, 1)
        out_shape = (n, 10)
    else:
        model = nn.Sequential(Rescale(), nn.Flatten(), nn.Linear(784, 512),
                              nn.ReLU(), nn.Dropout(0.2),
                              nn.Linear(512, 512), nn.ReLU(), nn.Dropout(0.2),
                              nn.Linear(512, 10))
        loss_fn = nn.CrossEntropyLoss()
        opt = torch.optim.RMSprop(model.parameters(), lr=LR, alpha=0.9,
                                  eps=1e-7)
        correct_fn = lambda out, t: (out.argmax(1) == t).sum()
        prob_fn = lambda out: torch.softmax(out, 1)
        out_shape = (n, 10)
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):  # Keras' initializers
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)

    times, history = [], []
    for _ in range(epochs):
        model.train()
        start = time.perf_counter()
        perm = torch.randperm(n)
        loss_sum = torch.zeros(())
        correct = torch.zeros(())
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            xb, yb = x[idx], y[idx]
            opt.zero_grad(set_to_none=True)
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            opt.step()
            with torch.no_grad():
                loss_sum += loss.detach() * idx.shape[0]
                correct += correct_fn(out, yb)
        times.append(time.perf_counter() - start)
        history.append((loss_sum.item() / n, correct.item() / n))
    max_rss = vm_hwm_kib()

    model.eval()
    preds = torch.empty(out_shape)
    with torch.no_grad():
        start = time.perf_counter()
        for i in range(0, n, batch):
            preds[i:i + batch] = prob_fn(model(x[i:i + batch]))
        predict_seconds = time.perf_counter() - start

    xt_np, yt_np = load(model_name, "test")
    xt, yt = torch.from_numpy(xt_np), torch.from_numpy(yt_np)
    loss_sum, correct = 0.0, 0.0
    with torch.no_grad():
        for i in range(0, xt.shape[0], batch):
            out = model(xt[i:i + batch])
            loss_sum += loss_fn(out, yt[i:i + batch]).item() * out.shape[0]
            correct += correct_fn(out, yt[i:i + batch]).item()
    print(json.dumps({
        "samples": n, "epoch_times": times, "history": history,
        "max_rss_kib": max_rss, "predict_samples_per_s": n / predict_seconds,
        "test_loss": loss_sum / xt.shape[0],
        "test_accuracy": correct / xt.shape[0],
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "torch": torch.__version__}))
    return 0


# --------------------------------------------------------------- parent ----

# ru_maxrss is inherited across exec: Linux records the RSS high-water mark
# of the mm an exec replaces, so a program spawned (fork or vfork) straight
# from this Python process, which holds numpy and the data, reports at least
# this process's peak. A tiny C launcher forks and execs the measured program
# from its own small address space and reports the child's ru_maxrss
# (wait4); its floor is the launcher's own RSS, about 1 MiB.
LAUNCHER_C = r"""
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s RSS_FILE PROGRAM [ARGS...]\n", argv[0]);
    return 2;
  }
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 2;
  }
  if (pid == 0) {
    execvp(argv[2], argv + 2);
    perror(argv[2]);
    _exit(127);
  }
  int status;
  struct rusage usage;
  if (wait4(pid, &status, 0, &usage) < 0) {
    perror("wait4");
    return 2;
  }
  FILE *f = fopen(argv[1], "w");
  if (!f) {
    perror(argv[1]);
    return 2;
  }
  fprintf(f, "%ld\n", usage.ru_maxrss);
  fclose(f);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
"""


def build_launcher(workdir):
    source = os.path.join(workdir, "maxrss_launcher.c")
    with open(source, "w") as f:
        f.write(LAUNCHER_C)
    binary = os.path.join(workdir, "maxrss_launcher")
    subprocess.run(["clang-19", "-O2", source, "-o", binary], check=True)
    return binary


LAUNCHER = None  # set by main()


def run(cmd, env=None):
    """Runs cmd to completion through LAUNCHER; returns (stdout, stderr,
    peak RSS KiB, wall s). Fails with the command line and its output when
    it exits non-zero."""
    with tempfile.TemporaryDirectory() as tmp:
        rss_file = os.path.join(tmp, "maxrss")
        with open(os.path.join(tmp, "out"), "w+") as out, \
                open(os.path.join(tmp, "err"), "w+") as err:
            start = time.perf_counter()
            code = subprocess.run([LAUNCHER, rss_file, *cmd], stdout=out,
                                  stderr=err, env=env).returncode
            wall = time.perf_counter() - start
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        if code != 0:
            sys.exit(f"error: exit status {code}: {' '.join(cmd)}\n"
                     f"stdout:\n{stdout}\nstderr:\n{stderr}")
        with open(rss_file) as f:
            max_rss = int(f.read())
    return stdout, stderr, max_rss, wall


def median_epoch_rate(samples, times):
    steady = times[1:] if len(times) > 1 else times
    return samples / statistics.median(steady)


def compile_kiln(model, round_dir):
    binary = os.path.join(round_dir, model)
    _, stderr, _, wall = run([os.path.join(BUILD, "bin", "kilnc"),
                              os.path.join(ROOT, MODELS[model]["config"]),
                              f"--batch-size={MODELS[model]['batch']}",
                              "-o", binary])
    return binary, wall, os.path.getsize(binary), stderr


def measure_kiln(model, binary, threads, epochs, seed, datadir, workdir, n):
    train_args, predict_file = kiln_data_args(model, "train", datadir)
    test_args, _ = kiln_data_args(model, "test", datadir)
    history = os.path.join(workdir, "history.json")
    checkpoint = os.path.join(workdir, "ck.safetensors")
    _, _, max_rss, _ = run(
        [binary, "fit", *train_args, "--epochs", str(epochs), "--history",
         history, "--checkpoint", checkpoint, "--threads", str(threads),
         "--seed", str(seed), "--quiet"])
    with open(history) as f:
        h = json.load(f)
    if len(h["time"]) != epochs:
        sys.exit(f"error: {history} has {len(h['time'])} epoch times, "
                 f"expected {epochs}")
    _, stderr, _, _ = run([binary, "predict", "--data", predict_file,
                           "--checkpoint", checkpoint, "--output",
                           os.path.join(workdir, "predictions.npy"),
                           "--threads", str(threads)])
    m = re.search(r"predict: (\d+) samples in \S+ s \((\S+) samples/s\)",
                  stderr)
    if not m or int(m.group(1)) != n:
        sys.exit(f"error: unexpected predict output: {stderr!r}")
    stdout, _, _, _ = run([binary, "evaluate", *test_args, "--checkpoint",
                           checkpoint, "--threads", str(threads), "--quiet"])
    e = re.search(r"loss: (\S+) - accuracy: (\S+)", stdout)
    if not e:
        sys.exit(f"error: unexpected evaluate output: {stdout!r}")
    return dict(train=median_epoch_rate(n, h["time"]),
                predict=float(m.group(2)), rss=max_rss,
                test_loss=float(e.group(1)), test_accuracy=float(e.group(2)),
                last_loss=h["loss"][-1], last_accuracy=h["accuracy"][-1])


# torch's extra configuration: 1 torch thread with OpenBLAS on every core
# (the best one for the MNIST MLP on some machines: torch's GEMMs go to
# OpenBLAS' own threads while the rest of torch runs on one).
BLAS_CONFIG = "1+blas"


def config_label(config):
    if config == BLAS_CONFIG:
        return f"1 torch thread + {os.cpu_count()} OpenBLAS threads"
    return f"{config}"


def config_short(config):
    return (f"1T+{os.cpu_count()} BLAS" if config == BLAS_CONFIG
            else f"{config}T")


def torch_env(config):
    """(environment, torch thread count) of a torch worker process for a
    thread configuration: a count, or BLAS_CONFIG. Also used by
    bench/text_models.py."""
    env = dict(os.environ)
    threads = 1 if config == BLAS_CONFIG else config
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    if config == BLAS_CONFIG:
        env["OPENBLAS_NUM_THREADS"] = str(os.cpu_count())
    # By default libgomp's idle worker threads spin while OpenBLAS' own
    # pthreads run a GEMM: at 2 threads on 2 cores that oversubscribes the
    # cores (epochs 2-5x slower than at 1 thread, measured here). Passive
    # waiting avoids it.
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    return env, threads


def measure_torch(model, config, epochs, seed):
    env, threads = torch_env(config)
    stdout, _, process_rss, _ = run(
        [sys.executable, os.path.abspath(__file__), "--torch-worker", model,
         str(threads), str(epochs), str(seed)], env=env)
    r = json.loads(stdout.strip().splitlines()[-1])
    if r["threads"] != threads:
        sys.exit(f"error: torch runs {r['threads']} threads, not {threads}")
    return dict(train=median_epoch_rate(r["samples"], r["epoch_times"]),
                predict=r["predict_samples_per_s"], rss=r["max_rss_kib"],
                test_loss=r["test_loss"], test_accuracy=r["test_accuracy"],
                last_loss=r["history"][-1][0],
                last_accuracy=r["history"][-1][1], torch=r["torch"],
                interop=r["interop_threads"], process_rss=process_rss)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def ratio(a, b):
    v = a / b
    return f"{v:.2f}" if v >= 0.1 else f"{v:.3f}"


def spread(values, fmt="{:.0f}"):
    return (f"{fmt.format(statistics.median(values))} "
            f"({fmt.format(min(values))}-{fmt.format(max(values))})")


def report(args, models, thread_counts, epochs, results, compiles,
           load_before, load_after, wall, torch_version):
    med = lambda model, engine, t, key: statistics.median(
        r[key] for r in results[(model, engine, t)])
    mib = lambda kib: kib / 1024
    lines = [
        f"# Keras models: kiln (kilnc-generated program) vs PyTorch "
        f"{torch_version} eager, f32, median of {args.rounds} round(s) on "
        f"{os.cpu_count()} cores",
        "",
        "Training samples/s: samples per epoch / median epoch time (epoch 1 "
        "excluded, data loading and compilation excluded); predict "
        "samples/s: one inference pass over the training set in batches of "
        "the training batch size; peak RSS: max RSS of the training process "
        "(includes data loading; torch: also the interpreter and libtorch; "
        "kiln: ru_maxrss of `fit` started by a small launcher, torch: VmHWM "
        "at the end of training). "
        "Ratios are kiln / torch (> 1: kiln faster; for RSS, < 1: kiln "
        "smaller). Cells: median (min-max).",
    ]
    summary = [
        "",
        "## Summary (each engine at its best training thread count)",
        "",
        "| model | train kiln / torch | predict kiln / torch (best threads) "
        "| peak RSS kiln / torch (MiB) | kiln compile time s | kiln binary "
        "bytes | test accuracy kiln | test accuracy torch |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for model in models:
        cfg = MODELS[model]
        n = results[(model, "kiln", thread_counts[0])][0]["samples"]
        lines += [
            "",
            f"## {model} ({cfg['config']}, {n} training samples, batch "
            f"{cfg['batch']}, {epochs[model]} epochs per measurement)",
            "",
            "| threads | kiln train samples/s | torch train samples/s | "
            "train kiln / torch | kiln predict samples/s | torch predict "
            "samples/s | predict kiln / torch | kiln peak RSS MiB | torch "
            "peak RSS MiB | RSS kiln / torch |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        # kiln / torch of the medians of `key`, kiln at tk and torch at tt
        # threads.
        rel = lambda key, tk, tt: ratio(med(model, "kiln", tk, key),
                                        med(model, "torch", tt, key))
        torch_configs = [c for c in thread_counts + [BLAS_CONFIG]
                         if (model, "torch", c) in results]
        for t in thread_counts:
            k, p = results[(model, "kiln", t)], results[(model, "torch", t)]
            col = lambda rs, key: [r[key] for r in rs]
            lines.append(
                f"| {t} | {spread(col(k, 'train'))} | "
                f"{spread(col(p, 'train'))} | {rel('train', t, t)} | "
                f"{spread(col(k, 'predict'))} | {spread(col(p, 'predict'))} | "
                f"{rel('predict', t, t)} | "
                f"{spread([mib(v) for v in col(k, 'rss')], '{:.1f}')} | "
                f"{spread([mib(v) for v in col(p, 'rss')], '{:.1f}')} | "
                f"{rel('rss', t, t)} |")
        if BLAS_CONFIG in torch_configs:
            p = results[(model, "torch", BLAS_CONFIG)]
            col = lambda rs, key: [r[key] for r in rs]
            lines.append(
                f"| {config_label(BLAS_CONFIG)} | - | "
                f"{spread(col(p, 'train'))} | - | - | "
                f"{spread(col(p, 'predict'))} | - | - | "
                f"{spread([mib(v) for v in col(p, 'rss')], '{:.1f}')} | - |")
        best = {(e, key): max(thread_counts if e == "kiln" else torch_configs,
                              key=lambda t: med(model, e, t, key))
                for e in ("kiln", "torch") for key in ("train", "predict")}
        kt, tt = best[("kiln", "train")], best[("torch", "train")]
        kp, tp = best[("kiln", "predict")], best[("torch", "predict")]
        runs = {e: [r for t in thread_counts for r in results[(model, e, t)]]
                for e in ("kiln", "torch")}
        sanity = {e: f"{min(r['test_accuracy'] for r in rs):.4f}-"
                     f"{max(r['test_accuracy'] for r in rs):.4f} (loss "
                     f"{min(r['test_loss'] for r in rs):.4f}-"
                     f"{max(r['test_loss'] for r in rs):.4f})"
                  for e, rs in runs.items()}
        c = compiles[model]
        summary.append(
            f"| {model} | {med(model, 'kiln', kt, 'train'):.0f} ({kt}T) / "
            f"{med(model, 'torch', tt, 'train'):.0f} ({config_short(tt)}) = "
            f"**{rel('train', kt, tt)}** | "
            f"{med(model, 'kiln', kp, 'predict'):.0f} ({kp}T) / "
            f"{med(model, 'torch', tp, 'predict'):.0f} ({config_short(tp)}) = "
            f"**{rel('predict', kp, tp)}** | "
            f"{mib(med(model, 'kiln', kt, 'rss')):.1f} / "
            f"{mib(med(model, 'torch', tt, 'rss')):.1f} = "
            f"**{rel('rss', kt, tt)}** | "
            f"{spread([w for w, _ in c], '{:.2f}')} | "
            f"{statistics.median(s for _, s in c):.0f} | "
            f"{sanity['kiln']} | {sanity['torch']} |")
    lines += summary
    lines += [
        "",
        "Test accuracy and loss: min-max over every run (all thread counts "
        "and rounds), after the epochs of one measurement, on the test set "
        "(breast_cancer test.csv, MNIST t10k): a sanity check that both "
        "engines train, not a comparison (different initial values, "
        "shuffles and dropout masks). Compile time: wall time of `kilnc "
        "model.json --batch-size=B -o PROG` (once per round); binary size: "
        "the generated executable (dynamically linked to libc, libm, "
        "libstdc++ only).",
        "",
        f"kiln: `PROG fit/predict/evaluate --threads T` (its thread pool). "
        f"torch {torch_version}: torch.set_num_threads(T), "
        f"set_num_interop_threads(1), OMP_NUM_THREADS=OPENBLAS_NUM_THREADS="
        f"MKL_NUM_THREADS=T, OMP_WAIT_POLICY=PASSIVE (with libgomp's default "
        f"spinning, its idle threads and OpenBLAS' oversubscribe 2 cores at "
        f"T=2), and a third configuration with 1 torch thread and "
        f"OPENBLAS_NUM_THREADS={os.cpu_count()}; the summary takes torch's "
        f"best of all three; BCEWithLogitsLoss (breast_cancer) / "
        f"CrossEntropyLoss (MNIST) on logits; Adam(lr=1e-3, eps=1e-7) / "
        f"RMSprop(lr=1e-3, alpha=0.9, eps=1e-7) (eps placement as torch "
        f"defines it, immaterial for throughput); tensors in memory, "
        f"randperm + index batching, no DataLoader; running loss and "
        f"accuracy accumulated per step as kiln's fit does.",
        "",
        f"{cpu_name()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}; load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after (the machine is shared: numbers are "
        f"noisy). numpy {np.__version__}, Python "
        f"{platform.python_version()}. Whole run: {wall:.0f} s.",
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds per configuration (default 3; 1 with "
                             "--quick)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 1 round, fewer epochs")
    parser.add_argument("--models", default=",".join(MODELS),
                        help="comma-separated subset of " + ",".join(MODELS))
    parser.add_argument("--output",
                        default=os.path.join(ROOT,
                                             "bench/results/keras_models.md"))
    parser.add_argument("--torch-worker", nargs=4,
                        metavar=("MODEL", "THREADS", "EPOCHS", "SEED"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.torch_worker:
        model, threads, epochs, seed = args.torch_worker
        return torch_worker(model, int(threads), int(epochs), int(seed))
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    models = [m for m in args.models.split(",") if m]
    for m in models:
        if m not in MODELS:
            parser.error(f"unknown model {m!r}")
    epochs = {m: MODELS[m]["quick_epochs" if args.quick else "epochs"]
              for m in models}

    subprocess.run([os.path.join(ROOT, "scripts/setup.sh"), "--bench"],
                   check=True)
    if any(m.startswith("mnist") for m in models):
        subprocess.run([os.path.join(ROOT, "scripts/fetch-mnist.sh"), MNIST],
                       check=True, stdout=subprocess.DEVNULL)
    kilnc = os.path.join(BUILD, "bin", "kilnc")
    if not os.path.exists(kilnc):
        sys.exit(f"error: {kilnc} is missing: run scripts/build.sh")
    thread_counts = list(range(1, os.cpu_count() + 1))

    workdir = tempfile.mkdtemp(prefix="kiln-bench-keras-")
    global LAUNCHER
    LAUNCHER = build_launcher(workdir)
    samples = {}
    for m in models:
        if m == "breast_cancer":
            x, _ = load(m, "train")
            np.save(kiln_data_args(m, "train", workdir)[1], x)
            samples[m] = x.shape[0]
        else:  # the item count in the IDX header
            with open(kiln_data_args(m, "train", workdir)[1], "rb") as f:
                samples[m] = int.from_bytes(f.read(8)[4:], "big")

    start = time.perf_counter()
    load_before = os.getloadavg()
    results = {(m, e, t): [] for m in models for e in ("kiln", "torch")
               for t in thread_counts}
    if os.cpu_count() > 1:
        results.update({(m, "torch", BLAS_CONFIG): [] for m in models})
    compiles = {m: [] for m in models}
    torch_version = "?"
    for r in range(args.rounds):
        round_dir = os.path.join(workdir, f"round{r + 1}")
        os.makedirs(round_dir)
        for m in models:
            binary, wall, size, summary = compile_kiln(m, round_dir)
            compiles[m].append((wall, size))
            if r == 0:
                print(summary.rstrip(), flush=True)
            runs = []
            for i, t in enumerate(thread_counts):
                order = (("kiln", "torch") if (r + i) % 2 == 0
                         else ("torch", "kiln"))
                runs += [(engine, t) for engine in order]
            if (m, "torch", BLAS_CONFIG) in results:
                runs.append(("torch", BLAS_CONFIG))
            for engine, t in runs:
                if engine == "kiln":
                    res = measure_kiln(m, binary, t, epochs[m], r + 1,
                                       workdir, round_dir, samples[m])
                else:
                    res = measure_torch(m, t, epochs[m], r + 1)
                    torch_version = res["torch"]
                res["samples"] = samples[m]
                results[(m, engine, t)].append(res)
                whole = (f" (whole process "
                         f"{res['process_rss'] / 1024:.1f})"
                         if "process_rss" in res else "")
                print(f"round {r + 1} {m} {engine}@{config_short(t)}: train "
                      f"{res['train']:.0f}/s, predict "
                      f"{res['predict']:.0f}/s, peak RSS "
                      f"{res['rss'] / 1024:.1f} MiB{whole}, last epoch "
                      f"loss {res['last_loss']:.4f} acc "
                      f"{res['last_accuracy']:.4f}, test acc "
                      f"{res['test_accuracy']:.4f}", flush=True)
    load_after = os.getloadavg()
    wall = time.perf_counter() - start

    text = report(args, models, thread_counts, epochs, results, compiles,
                  load_before, load_after, wall, torch_version)
    print(text)
    for m in models:
        for e in ("kiln", "torch"):
            accs = [r["test_accuracy"] for t in thread_counts
                    for r in results[(m, e, t)]]
            floor = 0.9 if m == "breast_cancer" else 0.95
            if min(accs) < floor:
                print(f"warning: {m} {e}: test accuracy {min(accs):.4f} < "
                      f"{floor}: a broken run?", file=sys.stderr)
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
