#!/usr/bin/python3
"""Train-step throughput of the 784-512-512-10 MLP (batch 128): kiln vs
PyTorch, measured in one run on one machine, alternating between them.

Usage: bench/mlp_train.py [--rounds N] [--repeats R] [--warmup W]
Needs a built tree (scripts/build.sh) and python3-torch (scripts/setup.sh
--bench). One training step: forward, sparse categorical cross-entropy from
logits (mean over the batch), backward, Adam (lr 1e-3, PyTorch convention)
updating every parameter.

- kiln: examples/mlp_train/mlp.mlir through `kiln-opt
  --kiln-training-pipeline="loss=sparse_categorical_crossentropy
  from_logits=1 metrics=accuracy optimizer=adam convention=pytorch"` and
  `kilnc --emit=obj,header --name=mlp`, linked with
  examples/mlp_train/bench_main.c and the runtime. The program (a fresh
  process per measurement) runs W untimed then R timed calls of
  mlp_train_step and prints samples/s.
- torch: the same model (nn.Linear layers holding the same initial params),
  float32, eager: per step opt.zero_grad(), F.cross_entropy(model(x), y),
  backward(), torch.optim.Adam.step(). Each measurement starts from the
  initial params and a fresh optimizer, and runs W untimed then R timed
  steps, as kiln does.

Both run on the same fixed batch (seeded: Glorot-uniform kernels, zero
biases, x uniform in [0, 1), labels uniform in [0, 10)), at each thread
count from 1 to the core count (kiln_set_num_threads, torch.set_num_threads);
per round every (engine, thread count) is measured once, kiln and torch
alternating. The report gives the median samples/s over the rounds (and the
min-max spread) per thread count, and each engine at its best thread count.
As a sanity check it also gives the loss of the first step (same params,
same batch: the two must agree to f32 rounding) and of the last step.
Writes bench/results/mlp_train.md.
"""
import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from mlp_common import BUILD, LAYERS, ROOT, mlp_params_and_input, setup_bench

BATCH, CLASSES, LR = 128, 10, 1e-3
PIPELINE = ("loss=sparse_categorical_crossentropy from_logits=1 "
            "metrics=accuracy optimizer=adam convention=pytorch")


def build_kiln(workdir):
    module = os.path.join(workdir, "mlp_train.mlir")
    subprocess.run([os.path.join(BUILD, "bin", "kiln-opt"),
                    f"--kiln-training-pipeline={PIPELINE}",
                    os.path.join(ROOT, "examples/mlp_train/mlp.mlir"),
                    "-o", module], check=True)
    subprocess.run([os.path.join(BUILD, "bin", "kilnc"), module,
                    "--emit=obj,header", "--name=mlp",
                    "-o", os.path.join(workdir, "mlp")], check=True)
    binary = os.path.join(workdir, "mlp_train_bench")
    subprocess.run(["clang-19", "-O2", "-I" + workdir,
                    "-I" + os.path.join(ROOT, "runtime/include"),
                    os.path.join(ROOT, "examples/mlp_train/bench_main.c"),
                    os.path.join(workdir, "mlp.o"),
                    os.path.join(BUILD, "runtime/libkiln_runtime.a"),
                    "-lstdc++", "-lm", "-lpthread", "-o", binary], check=True)
    return binary


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=200,
                        help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=5,
                        help="untimed steps before them (>= 1)")
    args = parser.parse_args()
    setup_bench()
    import torch
    import torch.nn.functional as F
    thread_counts = list(range(1, os.cpu_count() + 1))

    rng = np.random.default_rng(0)
    params, x = mlp_params_and_input(rng, BATCH)
    labels = rng.integers(0, CLASSES, BATCH).astype(np.int32)

    workdir = tempfile.mkdtemp(prefix="kiln-bench-train-")
    binary = build_kiln(workdir)
    for name, value in params.items():
        value.tofile(os.path.join(workdir, name + ".f32"))
    x.tofile(os.path.join(workdir, "x.f32"))
    labels.tofile(os.path.join(workdir, "labels.i32"))

    tx = torch.from_numpy(x)
    ty = torch.from_numpy(labels.astype(np.int64))

    def fresh_torch_model():
        # torch.nn.Linear keeps its weight as [out, in]: the kernel^T.
        layers = []
        for i, (name, fan_in, fan_out) in enumerate(LAYERS):
            linear = torch.nn.Linear(fan_in, fan_out)
            with torch.no_grad():
                linear.weight.copy_(
                    torch.from_numpy(params[name + "_kernel"].T.copy()))
                linear.bias.copy_(torch.from_numpy(params[name + "_bias"]))
            layers.append(linear)
            if i < len(LAYERS) - 1:
                layers.append(torch.nn.ReLU())
        return torch.nn.Sequential(*layers)

    def time_torch(threads):
        torch.set_num_threads(threads)
        model = fresh_torch_model()
        opt = torch.optim.Adam(model.parameters(), lr=LR)

        def step():
            opt.zero_grad()
            loss = F.cross_entropy(model(tx), ty)
            loss.backward()
            opt.step()
            return loss

        first = step().item()
        for _ in range(args.warmup - 1):
            step()
        start = time.perf_counter()
        for _ in range(args.repeats):
            loss = step()
        seconds = time.perf_counter() - start
        return BATCH * args.repeats / seconds, first, loss.item()

    def time_kiln(threads):
        out = subprocess.run([binary, workdir, str(args.repeats),
                              str(args.warmup), str(threads), repr(LR)],
                             check=True, capture_output=True,
                             text=True).stdout
        fields = dict(line.split() for line in out.splitlines())
        assert int(fields["threads"]) == threads, out
        assert float(fields["steps"]) == args.warmup + args.repeats, out
        return (float(fields["samples_per_second"]),
                float(fields["loss_first"]), float(fields["loss_last"]))

    load_before = os.getloadavg()
    results = {(e, t): [] for e in ("kiln", "torch") for t in thread_counts}
    losses = {}
    for r in range(args.rounds):
        for t in thread_counts:
            # Alternate which engine goes first from round to round.
            order = ("kiln", "torch") if r % 2 == 0 else ("torch", "kiln")
            for engine in order:
                rate, first, last = (time_kiln if engine == "kiln"
                                     else time_torch)(t)
                results[(engine, t)].append(rate)
                losses[engine] = (first, last)
        print(f"round {r + 1}: " + ", ".join(
            f"{e}@{t} {v[-1]:.0f}" for (e, t), v in results.items()),
            flush=True)
    load_after = os.getloadavg()

    med = {k: statistics.median(v) for k, v in results.items()}
    best = {e: max(thread_counts, key=lambda t: med[(e, t)])
            for e in ("kiln", "torch")}
    k_best, t_best = med[("kiln", best["kiln"])], med[("torch", best["torch"])]
    lines = [
        f"# MLP train step 784-512-512-10, batch {BATCH}, f32, sparse "
        f"categorical cross-entropy from logits + Adam (lr {LR:g}), median "
        f"of {args.rounds} rounds of {args.repeats} timed steps (after "
        f"{args.warmup} untimed), on {os.cpu_count()} cores",
        "",
        "| threads | kiln samples/s (min-max) | torch samples/s (min-max) "
        "| kiln / torch |",
        "|---|---|---|---|",
    ]
    for t in thread_counts:
        k, p = results[("kiln", t)], results[("torch", t)]
        lines.append(
            f"| {t} | {med[('kiln', t)]:.0f} ({min(k):.0f}-{max(k):.0f}) | "
            f"{med[('torch', t)]:.0f} ({min(p):.0f}-{max(p):.0f}) | "
            f"{med[('kiln', t)] / med[('torch', t)]:.2f} |")
    lines += [
        "",
        "| engine (best thread count) | samples/s | ms/step | kiln / engine |",
        "|---|---|---|---|",
        f"| kiln ({best['kiln']}) | {k_best:.0f} | "
        f"{1e3 * BATCH / k_best:.2f} | 1.00 |",
        f"| torch ({best['torch']}) | {t_best:.0f} | "
        f"{1e3 * BATCH / t_best:.2f} | {k_best / t_best:.2f} |",
        "",
        f"Sanity (last measurement, {args.warmup + args.repeats} steps on "
        f"the same batch): first-step loss kiln {losses['kiln'][0]:.7f}, "
        f"torch {losses['torch'][0]:.7f} (same params and batch: equal to "
        f"f32 rounding); last-step loss kiln {losses['kiln'][1]:.3e}, torch "
        f"{losses['torch'][1]:.3e} (close, but not guaranteed to stay "
        f"so over many steps: a relu input near 0 that crosses the kink in "
        f"one engine only changes the trajectory; correctness is tested by "
        f"tests/lit/e2e/mlp_train_pytorch.test).",
        "",
        f"{cpu_name()}; load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after (the machine is shared: numbers are "
        f"noisy). torch {torch.__version__} (eager; "
        f"zero_grad/forward/cross_entropy/backward/Adam.step per step), "
        f"numpy {np.__version__}.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    first_k, first_t = losses["kiln"][0], losses["torch"][0]
    if abs(first_k - first_t) > 1e-5 * abs(first_t):
        print(f"warning: first-step losses differ: kiln {first_k}, torch "
              f"{first_t}", file=sys.stderr)
    os.makedirs(os.path.join(ROOT, "bench/results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench/results/mlp_train.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    sys.exit(main())
