#!/usr/bin/python3
"""kiln's training throughput with bf16 GEMM operands (kilnc
--precision=bf16) against the same program in f32, on the Keras MNIST MLP
(examples/mnist_mlp/model.json, batch 128, RMSprop), measured in one run,
alternating the two builds, at 1 and 2 threads.

Training samples/s: 60000 / the median per-epoch `time` of the history
(epochs 2..E; epoch 1 warms up), median over rounds. Test accuracy after the
epochs of each measurement (a sanity check, same seed for both builds).

Usage: bench/precision_speed.py [--rounds N] [--epochs E] [--output F]
Writes bench/results/precision_speed.md. Needs a built tree and MNIST
(scripts/fetch-mnist.sh).
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KILNC = os.path.join(ROOT, "build", "bin", "kilnc")
MNIST = os.environ.get("KILN_MNIST_DIR", os.path.join(ROOT, "data", "mnist"))


def cpu_flags():
    for line in open("/proc/cpuinfo"):
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_name():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def run_fit(prog, threads, epochs, work):
    history = os.path.join(work, "h.json")
    ck = os.path.join(work, "ck.safetensors")
    subprocess.run([prog, "fit", "--data", f"{MNIST}/train-images-idx3-ubyte",
                    "--labels", f"{MNIST}/train-labels-idx1-ubyte",
                    "--epochs", str(epochs), "--threads", str(threads),
                    "--seed", "1", "--history", history, "--checkpoint", ck,
                    "--quiet"], check=True, stderr=subprocess.DEVNULL)
    times = json.load(open(history))["time"][1:]
    out = subprocess.run([prog, "evaluate", "--data",
                          f"{MNIST}/t10k-images-idx3-ubyte", "--labels",
                          f"{MNIST}/t10k-labels-idx1-ubyte", "--checkpoint",
                          ck, "--quiet"], check=True, capture_output=True,
                         text=True).stdout
    accuracy = float(re.search(r"accuracy: ([0-9.]+)", out).group(1))
    return 60000 / statistics.median(times), accuracy


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--output", default=os.path.join(
        ROOT, "bench", "results", "precision_speed.md"))
    args = ap.parse_args()
    start = time.time()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as work:
        progs = {}
        for precision in ("f32", "bf16"):
            progs[precision] = os.path.join(work, precision)
            subprocess.run([KILNC, os.path.join(
                ROOT, "examples", "mnist_mlp", "model.json"),
                "--batch-size=128", f"--precision={precision}", "-o",
                progs[precision]], check=True, stderr=subprocess.DEVNULL)
        results = {}
        for _ in range(args.rounds):
            for threads in (1, 2):
                for precision in ("f32", "bf16"):
                    speed, acc = run_fit(progs[precision], threads,
                                         args.epochs, work)
                    results.setdefault((threads, precision), []).append(
                        (speed, acc))
    has_bf16 = "avx512_bf16" in cpu_flags()
    lines = [
        "# Training throughput: kiln --precision=bf16 vs f32 (MNIST MLP)",
        "",
        f"`bench/precision_speed.py --rounds {args.rounds} --epochs "
        f"{args.epochs}`: examples/mnist_mlp/model.json, batch 128, "
        "RMSprop; samples/s = 60000 / median epoch time (epochs 2.."
        f"{args.epochs}), median over rounds (min-max); the builds "
        "alternate. Test accuracy: min-max over the measurements (same "
        "seed for both builds).",
        "",
        f"Machine: {cpu_name()}, {os.cpu_count()} cores, AVX512_BF16: "
        f"{'yes' if has_bf16 else 'no (bf16 falls back to f32)'}; load "
        f"average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after. "
        f"Whole run: {time.time() - start:.0f} s.",
        "",
        "| threads | f32 samples/s | bf16 samples/s | bf16 / f32 | f32 test "
        "accuracy | bf16 test accuracy |",
        "|---|---|---|---|---|---|",
    ]
    for threads in (1, 2):
        f = results[(threads, "f32")]
        b = results[(threads, "bf16")]
        fs, bs = [s for s, _ in f], [s for s, _ in b]
        fa, ba = [a for _, a in f], [a for _, a in b]
        lines.append(
            f"| {threads} | {statistics.median(fs):.0f} ({min(fs):.0f}-"
            f"{max(fs):.0f}) | {statistics.median(bs):.0f} ({min(bs):.0f}-"
            f"{max(bs):.0f}) | **{statistics.median(bs) / statistics.median(fs):.2f}** "
            f"| {min(fa):.4f}-{max(fa):.4f} | {min(ba):.4f}-{max(ba):.4f} |")
    text = "\n".join(lines) + "\n"
    with open(args.output, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
