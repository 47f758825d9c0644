#!/usr/bin/python3
"""Batch-1 predict latency of the keras.io MNIST convnet (examples/mnist_cnn):
kiln's generated program compiled with --batch-size=1 against the same
network in PyTorch eager (model.eval(), torch.no_grad()), one sample at a
time over the 10000 MNIST test images, measured in one run on one machine,
alternating the engines, for 1 and 2 threads.

- kiln: `kilnc examples/mnist_cnn/model.json --batch-size=1 -o PROG`, then
  `PROG predict --data t10k-images --threads T --output p.npy`; latency =
  1 / the samples/s it prints (its timer covers the predict steps only: no
  data loading, no output writing).
- torch: the network of bench/keras_models.py (mnist_cnn) in a fresh process
  per measurement, torch.set_num_threads(T); latency = wall time of the loop
  over single-sample forward passes plus the softmax, into a preallocated
  output, divided by the sample count (the same work kiln's predict does).

Usage: bench/predict_latency.py [--rounds N] [--output F]
Writes bench/results/predict_latency.md.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import keras_models as km  # noqa: E402


def torch_worker(threads):
    import torch
    import torch.nn as nn
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    x_np, _ = km.load("mnist_cnn", "test")
    x = torch.from_numpy(x_np)
    model = nn.Sequential(km_rescale(), nn.Unflatten(1, (1, 28)),
                          nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600, 10))
    model.eval()
    out = torch.empty((x.shape[0], 10))
    with torch.no_grad():
        for i in range(200):  # warm-up
            model(x[i:i + 1])
        start = time.perf_counter()
        for i in range(x.shape[0]):
            out[i:i + 1] = torch.softmax(model(x[i:i + 1]), 1)
        seconds = time.perf_counter() - start
    print(json.dumps({"latency_us": seconds / x.shape[0] * 1e6}))


def km_rescale():
    import torch.nn as nn

    class Rescale(nn.Module):
        def forward(self, t):
            return t * (1.0 / 255.0)
    return Rescale()


def measure_kiln(binary, threads, workdir):
    images = os.path.join(km.MNIST, "t10k-images-idx3-ubyte")
    out = subprocess.run([binary, "predict", "--data", images, "--threads",
                          str(threads), "--output",
                          os.path.join(workdir, "p.npy")],
                         capture_output=True, text=True, check=True)
    import re
    m = re.search(r"predict: (\d+) samples in \S+ s \((\S+) samples/s\)",
                  out.stdout + out.stderr)
    return 1e6 / float(m.group(2))


def measure_torch(threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, os.path.abspath(__file__),
                          "--torch-worker", str(threads)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["latency_us"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--output", default=os.path.join(
        ROOT, "bench/results/predict_latency.md"))
    ap.add_argument("--torch-worker", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_worker:
        return torch_worker(args.torch_worker)
    subprocess.run([os.path.join(ROOT, "scripts/fetch-mnist.sh"), km.MNIST],
                   check=True, stdout=subprocess.DEVNULL)
    workdir = tempfile.mkdtemp(prefix="kiln-bench-latency-")
    binary = os.path.join(workdir, "cnn1")
    subprocess.run([os.path.join(km.BUILD, "bin", "kilnc"),
                    os.path.join(ROOT, "examples/mnist_cnn/model.json"),
                    "--batch-size=1", "-o", binary], check=True,
                   capture_output=True)
    threads = list(range(1, os.cpu_count() + 1))
    results = {(e, t): [] for e in ("kiln", "torch") for t in threads}
    for r in range(args.rounds):
        for i, t in enumerate(threads):
            order = ("kiln", "torch") if (r + i) % 2 == 0 else ("torch",
                                                                "kiln")
            for e in order:
                us = (measure_kiln(binary, t, workdir) if e == "kiln"
                      else measure_torch(t))
                results[(e, t)].append(us)
                print(f"round {r + 1} {e} threads={t}: {us:.1f} us/sample",
                      flush=True)
    med = {k: statistics.median(v) for k, v in results.items()}
    best_kiln = min(med[("kiln", t)] for t in threads)
    best_torch = min(med[("torch", t)] for t in threads)
    lines = ["# Batch-1 predict latency: MNIST convnet", "",
             f"Machine: {km.cpu_name()}, {os.cpu_count()} cores. "
             f"Generated by `bench/predict_latency.py --rounds "
             f"{args.rounds}`; medians over the rounds (min-max).", "",
             "| threads | kiln us/sample | torch us/sample | torch / kiln |",
             "|---|---|---|---|"]
    for t in threads:
        k, p = results[("kiln", t)], results[("torch", t)]
        lines.append(f"| {t} | {med[('kiln', t)]:.1f} ({min(k):.1f}-"
                     f"{max(k):.1f}) | {med[('torch', t)]:.1f} ({min(p):.1f}-"
                     f"{max(p):.1f}) | {med[('torch', t)] / med[('kiln', t)]:.2f}"
                     " |")
    lines += ["", f"Each engine at its best thread count: kiln "
              f"{best_kiln:.1f} us, torch {best_torch:.1f} us: kiln's "
              f"latency is {best_torch / best_kiln:.2f}x lower (goal: 5x).",
              ""]
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
