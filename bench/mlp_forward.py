#!/usr/bin/python3
"""Forward throughput of the 784-512-512-10 MLP (batch 128): kiln vs numpy vs
PyTorch, measured in one run on one machine, alternating between them.

Usage: bench/mlp_forward.py [--rounds N]
Needs a built tree (scripts/build.sh) and python3-torch (scripts/setup.sh
--bench). Compiles examples/mlp_forward with kilnc, links it with the
runtime, then times, per round, kiln (the C program, REPEATS calls), numpy
(float32) and torch (float32, eager, no_grad, F.linear as nn.Linear does,
at each thread count from 1 to the core count; the best is reported), and
reports the median samples/s of each and the ratios. numpy and torch use the
system BLAS: scripts/setup.sh --bench installs OpenBLAS so that they do not
run on Debian's reference BLAS. Writes bench/results/mlp_forward.md.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from mlp_common import BUILD, LAYERS, ROOT, mlp_params_and_input, setup_bench

BATCH, REPEATS = 128, 200


def build_kiln(workdir):
    subprocess.run([os.path.join(BUILD, "bin", "kilnc"),
                    os.path.join(ROOT, "examples/mlp_forward/mlp.mlir"),
                    "--emit=obj,header", "-o", os.path.join(workdir, "mlp")],
                   check=True)
    binary = os.path.join(workdir, "mlp_forward")
    subprocess.run(["clang-19", "-O2", "-I" + workdir,
                    "-I" + os.path.join(ROOT, "runtime/include"),
                    os.path.join(ROOT, "examples/mlp_forward/main.c"),
                    os.path.join(workdir, "mlp.o"),
                    os.path.join(BUILD, "runtime/libkiln_runtime.a"),
                    "-lstdc++", "-lm", "-lpthread", "-o", binary], check=True)
    return binary


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    setup_bench()
    import torch
    thread_counts = list(range(1, os.cpu_count() + 1))

    rng = np.random.default_rng(0)
    params, x = mlp_params_and_input(rng, BATCH)

    workdir = tempfile.mkdtemp(prefix="kiln-bench-")
    binary = build_kiln(workdir)
    for name, value in params.items():
        value.tofile(os.path.join(workdir, name + ".f32"))
    x.tofile(os.path.join(workdir, "x.f32"))

    def numpy_forward():
        h = x
        for i, (name, _, _) in enumerate(LAYERS):
            h = h @ params[name + "_kernel"] + params[name + "_bias"]
            h = np.maximum(h, 0) if i < 2 else h
        e = np.exp(h - h.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    # torch.nn.Linear keeps its weight as [out, in] and calls F.linear.
    tparams = {k: torch.from_numpy(v.T.copy() if v.ndim == 2 else v)
               for k, v in params.items()}
    tx = torch.from_numpy(x)

    def torch_forward():
        with torch.no_grad():
            h = tx
            for i, (name, _, _) in enumerate(LAYERS):
                h = torch.nn.functional.linear(h, tparams[name + "_kernel"],
                                               tparams[name + "_bias"])
                h = torch.relu(h) if i < 2 else h
            return torch.softmax(h, dim=1)

    def time_python(fn):
        fn()
        start = time.perf_counter()
        for _ in range(REPEATS):
            fn()
        return BATCH * REPEATS / (time.perf_counter() - start)

    def time_kiln():
        out = subprocess.run([binary, workdir, str(REPEATS)], check=True,
                             capture_output=True, text=True).stdout
        return float(out.split()[-1])

    results = {"kiln": [], "numpy": []}
    results.update({("torch", t): [] for t in thread_counts})
    for _ in range(args.rounds):
        results["kiln"].append(time_kiln())
        results["numpy"].append(time_python(numpy_forward))
        for t in thread_counts:
            torch.set_num_threads(t)
            results[("torch", t)].append(time_python(torch_forward))
    med = {k: statistics.median(v) for k, v in results.items()}
    # PyTorch at its best thread count.
    best = max(thread_counts, key=lambda t: med[("torch", t)])
    med["torch"] = med[("torch", best)]
    lines = [
        f"# MLP forward 784-512-512-10, batch {BATCH}, f32, median of "
        f"{args.rounds} rounds on {os.cpu_count()} cores (kiln and numpy "
        f"default threads; torch best of {thread_counts} threads: {best})",
        "",
        "| engine | samples/s | kiln / engine |",
        "|---|---|---|",
    ]
    for k in ("kiln", "numpy", "torch"):
        lines.append(f"| {k} | {med[k]:.0f} | {med['kiln'] / med[k]:.2f} |")
    lines.append("")
    lines.append(f"torch {torch.__version__}, numpy {np.__version__}")
    text = "\n".join(lines) + "\n"
    print(text)
    os.makedirs(os.path.join(ROOT, "bench/results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench/results/mlp_forward.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    sys.exit(main())
