#!/usr/bin/python3
"""kilnc compile time for every example model, and what LLVM's -O level
costs or buys in training speed.

For each model: `kilnc CONFIG [--batch-size/--sequence-length] -O<L> -j <J>
--verbose -o PROG`, ROUNDS times each (the configurations alternating), the
minimum wall time per configuration with its stage breakdown (the
`--verbose` lines of the fastest run). With --fit, each program also trains
(`PROG fit ... --threads 1`, the examples' data, ROUNDS alternating runs)
and the table gives the minimum of the epoch times its history records.

Usage: /usr/bin/python3 bench/compile_time.py [--configs O2j2,O3j1,...]
           [--models m1,m2] [--rounds N] [--fit] [--output results/X.md]

Needs a built kilnc (scripts/build.sh), MNIST (KILN_MNIST_DIR or
data/mnist) and the text classifier's arrays (examples/text_classifier/
prepare_data.py) for the models that train on them.
"""

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("KILN_BUILD_DIR", os.path.join(ROOT, "build"))
MNIST = os.environ.get("KILN_MNIST_DIR", os.path.join(ROOT, "data", "mnist"))
TEXT = os.path.join(ROOT, "data", "text_classifier")
EX = os.path.join(ROOT, "examples")
SEQ = ["--batch-size=32", "--sequence-length=200"]


def mnist_subset(workdir):
    """The first 6,000 MNIST training images and labels as .npy (u8)."""
    def idx(name, offset):
        with open(os.path.join(MNIST, name), "rb") as f:
            return np.frombuffer(f.read(), dtype=np.uint8)[offset:]
    x = idx("train-images-idx3-ubyte", 16).reshape(-1, 28, 28)[:6000]
    y = idx("train-labels-idx1-ubyte", 8)[:6000]
    np.save(os.path.join(workdir, "x.npy"), x)
    np.save(os.path.join(workdir, "y.npy"), y)
    return ["--data", os.path.join(workdir, "x.npy"),
            "--labels", os.path.join(workdir, "y.npy")]


def models(workdir):
    text = ["--data", os.path.join(TEXT, "x_train.npy"),
            "--labels", os.path.join(TEXT, "y_train.npy")]
    return {
        "breast_cancer": ([os.path.join(EX, "breast_cancer", "model.json")],
                          ["--data", os.path.join(EX, "breast_cancer",
                                                  "train.csv"),
                           "--label-column", "malignant", "--epochs", "20"]),
        "mnist_mlp": ([os.path.join(EX, "mnist_mlp", "model.json")],
                      ["--data", os.path.join(MNIST,
                                              "train-images-idx3-ubyte"),
                       "--labels", os.path.join(MNIST,
                                                "train-labels-idx1-ubyte")]),
        "mnist_cnn": ([os.path.join(EX, "mnist_cnn", "model.json")],
                      lambda: mnist_subset(workdir)),
        "embedding_pool": ([os.path.join(EX, "text_classifier",
                                         "embedding_pool.json"), *SEQ], text),
        "bilstm": ([os.path.join(EX, "text_classifier", "bilstm.json"), *SEQ],
                   text),
        "transformer": ([os.path.join(EX, "text_classifier",
                                      "transformer.json"), *SEQ], text),
    }


def parse_config(text):
    m = re.fullmatch(r"O([0-3])j([0-9]+)", text)
    if not m:
        sys.exit(f"error: bad configuration '{text}' (want O<level>j<jobs>, "
                 "e.g. O2j2)")
    return int(m.group(1)), int(m.group(2))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default="O2j2,O2j1,O3j1")
    parser.add_argument("--models", default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fit", action="store_true")
    parser.add_argument("--output", default=None)
    args = parser.parse_args()
    kilnc = os.path.join(BUILD, "bin", "kilnc")
    if not os.path.exists(kilnc):
        sys.exit(f"error: {kilnc} is missing: run scripts/build.sh")
    configs = args.configs.split(",")
    for c in configs:
        parse_config(c)
    started = time.time()
    load_before = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        table = models(workdir)
        names = args.models.split(",") if args.models else list(table)
        for name in names:
            if name not in table:
                sys.exit(f"error: unknown model '{name}' ({', '.join(table)})")
            compile_args, fit_args = table[name]
            if callable(fit_args):
                fit_args = fit_args()
            best = {c: (1e9, "") for c in configs}
            fits = {c: [] for c in configs}
            for _ in range(args.rounds):
                for c in configs:
                    level, jobs = parse_config(c)
                    prog = os.path.join(workdir, f"{name}.{c}")
                    start = time.perf_counter()
                    done = subprocess.run(
                        [kilnc, *compile_args, f"-O{level}", "-j", str(jobs),
                         "--verbose", "-o", prog], capture_output=True,
                        text=True)
                    wall = time.perf_counter() - start
                    if done.returncode != 0:
                        sys.exit(f"error: kilnc failed on {name}:\n"
                                 f"{done.stderr}")
                    if wall < best[c][0]:
                        stages = [re.sub(r"\s+", " ", line.strip()) for line in
                                  done.stderr.splitlines()
                                  if re.search(r" [0-9.]+ s$", line)]
                        best[c] = (wall, "; ".join(stages))
                    if args.fit:
                        history = os.path.join(workdir, "history.json")
                        subprocess.run([prog, "fit", *fit_args, "--threads",
                                        "1", "--seed", "1", "--history",
                                        history, "--quiet"], check=True,
                                       capture_output=True)
                        with open(history) as f:
                            fits[c].append(min(json.load(f)["time"]))
            for c in configs:
                rows.append((name, c, best[c][0],
                             min(fits[c]) if fits[c] else None,
                             os.path.getsize(os.path.join(workdir,
                                                          f"{name}.{c}")),
                             best[c][1]))
                print(f"{name} {c}: compile {best[c][0]:.2f} s"
                      + (f", epoch {min(fits[c]):.4g} s" if fits[c] else ""),
                      flush=True)
    load_after = os.getloadavg()[0]
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    lines = [
        "# kilnc compile time per example model",
        "",
        f"`/usr/bin/python3 bench/compile_time.py --configs {args.configs} "
        f"--rounds {args.rounds}{' --fit' if args.fit else ''}`: the "
        "minimum wall time of `kilnc MODEL -O<L> -j <J> --verbose -o PROG` "
        f"over {args.rounds} rounds (configurations alternating)"
        + ("; epoch: the shortest epoch of `PROG fit --threads 1` over the "
           "rounds (MNIST CNN: 6,000 images; breast cancer: 20 epochs of "
           "455 rows)" if args.fit else "") + ".",
        "",
        "| model | config | compile s | " + ("epoch s | " if args.fit else "")
        + "binary MB | stages of the fastest compile |",
        "|---|---|---|" + ("---|" if args.fit else "") + "---|---|",
    ]
    for name, c, wall, fit, size, stages in rows:
        lines.append(f"| {name} | {c} | {wall:.2f} | "
                     + (f"{fit:.4g} | " if fit is not None else "")
                     + f"{size / 1e6:.2f} | {stages} |")
    lines += ["", f"{cpu}, {os.cpu_count()} CPUs, Linux {platform.release()}; "
              f"load average {load_before:.2f} before, {load_after:.2f} "
              f"after; whole run {time.time() - started:.0f} s."]
    text = "\n".join(lines) + "\n"
    if args.output:
        with open(os.path.join(os.path.dirname(__file__), args.output)
                  if not os.path.isabs(args.output) else args.output,
                  "w") as f:
            f.write(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
