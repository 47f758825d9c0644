#!/usr/bin/python3
"""Text models compiled by kilnc into standalone training programs vs the
same models in PyTorch (eager), on the Spam Assassin data of
examples/text_classifier: training throughput over whole epochs, peak
memory of the training process and test accuracy (a sanity check),
measured in one run on one machine, alternating between the two engines.

Usage: bench/text_models.py [--rounds N] [--quick] [--models a,b] [--output F]
Needs a built tree (scripts/build.sh), python3-torch and OpenBLAS
(scripts/setup.sh --bench, which this script runs) and the prepared data
(examples/text_classifier/prepare_data.py, which this script runs too: it
downloads nothing when data/spam_assassin holds the corpus).

Models (MODELS below; the Keras configs in examples/text_classifier, token
ids [N, 200] int32, labels [N, 1] 1 = spam, batch 32, Adam lr 1e-3 on both
sides; adding a model is one entry with its config and its torch.nn twin):
- embedding_pool: embedding_pool.json: Embedding(10000, 32),
  GlobalAveragePooling1D, Dense 32 relu, Dense 1 sigmoid; binary
  cross-entropy. torch: nn.Embedding(10000, 32) (uniform +-0.05 as Keras),
  mean over the time axis, nn.Linear(32, 32), ReLU, nn.Linear(32, 1) on
  the logit with BCEWithLogitsLoss.
- bilstm (not in the default --models until kilnc imports Bidirectional and
  LSTM): bilstm.json: Embedding(10000, 32), Bidirectional(LSTM(32)) concat,
  Dense 1 sigmoid. torch: nn.LSTM(32, 32, bidirectional=True,
  batch_first=True), the two final hidden states concatenated,
  nn.Linear(64, 1).

Method as bench/keras_models.py (whose helpers this script imports): kiln
`kilnc CONFIG --batch-size=32 --sequence-length=200 -o PROG` once per
round, then per measurement `PROG fit --epochs E --threads T --history
h.json --checkpoint ck` (training samples/s from the history's per-epoch
times, training steps only; peak RSS: ru_maxrss through a small C launcher)
and `PROG evaluate` on x_test. torch in a fresh process per measurement
(this script with --torch-worker) at 1 and 2 threads and with 1 torch thread
+ OpenBLAS on every core (the best of the three is the reference), thread
variables and OMP_WAIT_POLICY=PASSIVE as keras_models.py sets them;
Glorot-uniform kernels, zero biases; Adam(lr=1e-3, eps=1e-7); tensors in
memory (ids converted to int64 once, before timing), per epoch a
torch.randperm shuffle and index batching with the last partial batch, per
step zero_grad, forward, loss, backward, step, running loss and accuracy
accumulated as kiln's fit does; peak RSS: the worker's VmHWM at the end of
training. Training samples/s = samples per epoch / median epoch time,
epoch 1 (warm-up) excluded. Writes bench/results/text_models.md.
"""
import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import keras_models as km  # noqa: E402  (helpers: launcher, run, torch env)

ROOT = km.ROOT
BUILD = km.BUILD
DATA = os.path.join(ROOT, "data", "text_classifier")
PREPARE = os.path.join(ROOT, "examples", "text_classifier", "prepare_data.py")
SEQUENCE_LENGTH = 200
VOCAB = 10000
BATCH = 32
LR = 1e-3


# ------------------------------------------------------ torch.nn twins ----

def torch_embedding_pool(torch, nn):
    class MeanOverTime(nn.Module):
        def forward(self, t):
            return t.mean(1)

    embedding = nn.Embedding(VOCAB, 32)
    nn.init.uniform_(embedding.weight, -0.05, 0.05)
    return nn.Sequential(embedding, MeanOverTime(), nn.Linear(32, 32),
                         nn.ReLU(), nn.Linear(32, 1))


def torch_bilstm(torch, nn):
    class BiLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(VOCAB, 32)
            nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
            self.lstm = nn.LSTM(32, 32, batch_first=True, bidirectional=True)
            for name, p in self.lstm.named_parameters():
                if name.startswith("weight_ih"):  # Keras: glorot_uniform
                    nn.init.xavier_uniform_(p)
                elif name.startswith("weight_hh"):  # Keras: orthogonal
                    nn.init.orthogonal_(p)
                else:  # Keras: zeros, unit_forget_bias (torch: i, f, g, o)
                    nn.init.zeros_(p)
                    if name.startswith("bias_ih"):
                        p.data[32:64] = 1.0
            self.out = nn.Linear(64, 1)

        def forward(self, ids):
            _, (h, _) = self.lstm(self.embedding(ids))
            return self.out(torch.cat([h[0], h[1]], dim=1))

    return BiLSTM()


def torch_transformer(torch, nn):
    """The keras.io "Text classification with Transformer" block as in
    examples/text_classifier/transformer.json: token + position embeddings,
    2-head self-attention (key_dim 32, nn.MultiheadAttention with
    kdim = vdim = 32 per head: embed_dim 64 would change the shapes, so the
    projections are written out), dropout 0.1, residual + LayerNorm(1e-6),
    feed-forward 32-32, residual + LayerNorm, mean over time, dropout,
    Dense(20, relu), dropout, logit."""
    d, heads, kd = 32, 2, 32

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(VOCAB, d)
            nn.init.uniform_(self.tok.weight, -0.05, 0.05)
            self.pos = nn.Parameter(torch.empty(SEQUENCE_LENGTH, d))
            nn.init.xavier_uniform_(self.pos)
            self.q = nn.Linear(d, heads * kd)
            self.k = nn.Linear(d, heads * kd)
            self.v = nn.Linear(d, heads * kd)
            self.o = nn.Linear(heads * kd, d)
            self.norm1 = nn.LayerNorm(d, eps=1e-6)
            self.ff1 = nn.Linear(d, d)
            self.ff2 = nn.Linear(d, d)
            self.norm2 = nn.LayerNorm(d, eps=1e-6)
            self.hidden = nn.Linear(d, 20)
            self.out = nn.Linear(20, 1)
            self.drop = nn.Dropout(0.1)

        def forward(self, ids):
            n, t = ids.shape
            x = self.tok(ids) + self.pos[:t]
            split = lambda y: y.view(n, t, heads, kd).transpose(1, 2)
            q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
            probs = torch.softmax(q @ k.transpose(2, 3) / kd ** 0.5, dim=-1)
            a = (probs @ v).transpose(1, 2).reshape(n, t, heads * kd)
            h = self.norm1(x + self.drop(self.o(a)))
            h = self.norm2(h + self.drop(self.ff2(torch.relu(self.ff1(h)))))
            h = self.drop(torch.relu(self.hidden(self.drop(h.mean(1)))))
            return self.out(h)

    return Block()


MODELS = {
    "embedding_pool": dict(config="examples/text_classifier/embedding_pool.json",
                           epochs=10, quick_epochs=4,
                           torch=torch_embedding_pool),
    # torch: 48 s per epoch at 2 threads here (98 samples/s; test accuracy
    # 0.965 after one epoch), so 2 epochs: the second is the one timed.
    "bilstm": dict(config="examples/text_classifier/bilstm.json",
                   epochs=2, quick_epochs=2, torch=torch_bilstm),
    "transformer": dict(config="examples/text_classifier/transformer.json",
                        epochs=2, quick_epochs=2, torch=torch_transformer),
}
DEFAULT_MODELS = ["embedding_pool", "bilstm", "transformer"]


# --------------------------------------------------------- torch worker ----

def torch_worker(model_name, threads, epochs, seed):
    """One torch measurement in this (fresh) process; prints JSON."""
    import torch
    import torch.nn as nn
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(seed)

    def load(split):
        x = np.load(os.path.join(DATA, f"x_{split}.npy")).astype(np.int64)
        y = np.load(os.path.join(DATA, f"y_{split}.npy"))
        return torch.from_numpy(x), torch.from_numpy(y)

    x, y = load("train")
    n = x.shape[0]
    model = MODELS[model_name]["torch"](torch, nn)
    for m in model.modules():
        if isinstance(m, nn.Linear):  # Keras' initializers
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    loss_fn = nn.BCEWithLogitsLoss()
    opt = torch.optim.Adam(model.parameters(), lr=LR, eps=1e-7)

    times, history = [], []
    for _ in range(epochs):
        model.train()
        start = time.perf_counter()
        perm = torch.randperm(n)
        loss_sum = torch.zeros(())
        correct = torch.zeros(())
        for i in range(0, n, BATCH):
            idx = perm[i:i + BATCH]
            xb, yb = x[idx], y[idx]
            opt.zero_grad(set_to_none=True)
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            opt.step()
            with torch.no_grad():
                loss_sum += loss.detach() * idx.shape[0]
                correct += ((out > 0).float() == yb).sum()
        times.append(time.perf_counter() - start)
        history.append((loss_sum.item() / n, correct.item() / n))
    max_rss = km.vm_hwm_kib()

    model.eval()
    xt, yt = load("test")
    loss_sum, correct = 0.0, 0.0
    with torch.no_grad():
        for i in range(0, xt.shape[0], BATCH):
            out = model(xt[i:i + BATCH])
            loss_sum += loss_fn(out, yt[i:i + BATCH]).item() * out.shape[0]
            correct += ((out > 0).float() == yt[i:i + BATCH]).sum().item()
    print(json.dumps({
        "samples": n, "epoch_times": times, "history": history,
        "max_rss_kib": max_rss, "test_loss": loss_sum / xt.shape[0],
        "test_accuracy": correct / xt.shape[0],
        "threads": torch.get_num_threads(), "torch": torch.__version__}))
    return 0


# --------------------------------------------------------------- parent ----

def compile_kiln(model, round_dir):
    binary = os.path.join(round_dir, model)
    _, stderr, _, wall = km.run(
        [os.path.join(BUILD, "bin", "kilnc"),
         os.path.join(ROOT, MODELS[model]["config"]), f"--batch-size={BATCH}",
         f"--sequence-length={SEQUENCE_LENGTH}", "-o", binary])
    return binary, wall, stderr


def measure_kiln(binary, threads, epochs, seed, workdir, n):
    history = os.path.join(workdir, "history.json")
    checkpoint = os.path.join(workdir, "ck.safetensors")
    _, _, max_rss, _ = km.run(
        [binary, "fit", "--data", os.path.join(DATA, "x_train.npy"),
         "--labels", os.path.join(DATA, "y_train.npy"), "--epochs",
         str(epochs), "--history", history, "--checkpoint", checkpoint,
         "--threads", str(threads), "--seed", str(seed), "--quiet"])
    with open(history) as f:
        h = json.load(f)
    if len(h["time"]) != epochs:
        sys.exit(f"error: {history} has {len(h['time'])} epoch times, "
                 f"expected {epochs}")
    stdout, _, _, _ = km.run(
        [binary, "evaluate", "--data", os.path.join(DATA, "x_test.npy"),
         "--labels", os.path.join(DATA, "y_test.npy"), "--checkpoint",
         checkpoint, "--threads", str(threads), "--quiet"])
    e = re.search(r"loss: (\S+) - accuracy: (\S+)", stdout)
    if not e:
        sys.exit(f"error: unexpected evaluate output: {stdout!r}")
    return dict(train=km.median_epoch_rate(n, h["time"]), rss=max_rss,
                test_loss=float(e.group(1)), test_accuracy=float(e.group(2)),
                last_loss=h["loss"][-1], last_accuracy=h["accuracy"][-1])


def measure_torch(model, config, epochs, seed):
    env, threads = km.torch_env(config)
    stdout, _, process_rss, _ = km.run(
        [sys.executable, os.path.abspath(__file__), "--torch-worker", model,
         str(threads), str(epochs), str(seed)], env=env)
    r = json.loads(stdout.strip().splitlines()[-1])
    if r["threads"] != threads:
        sys.exit(f"error: torch runs {r['threads']} threads, not {threads}")
    return dict(train=km.median_epoch_rate(r["samples"], r["epoch_times"]),
                rss=r["max_rss_kib"], test_loss=r["test_loss"],
                test_accuracy=r["test_accuracy"],
                last_loss=r["history"][-1][0],
                last_accuracy=r["history"][-1][1], torch=r["torch"],
                process_rss=process_rss)


def report(args, models, thread_counts, epochs, results, compiles, meta,
           load_before, load_after, wall, torch_version):
    med = lambda model, engine, t, key: statistics.median(
        r[key] for r in results[(model, engine, t)])
    mib = lambda kib: kib / 1024
    col = lambda rs, key: [r[key] for r in rs]
    command = "bench/text_models.py" + "".join(
        f" {a}" for a in sys.argv[1:])
    lines = [
        f"# Text models: kiln (kilnc-generated program) vs PyTorch "
        f"{torch_version} eager, f32, median of {args.rounds} round(s) on "
        f"{os.cpu_count()} cores",
        "",
        f"`/usr/bin/python3 {command}` on {time.strftime('%Y-%m-%d')}. "
        f"Data: examples/text_classifier/prepare_data.py (Spam Assassin, "
        f"{meta['train']['mails']} training and {meta['test']['mails']} test "
        f"mails, {meta['sequence_length']} token ids each, vocabulary "
        f"{meta['vocab_size']}, spam fraction "
        f"{meta['test']['spam_fraction']:.3f}); batch {BATCH}.",
        "",
        "Training samples/s: samples per epoch / median epoch time (epoch 1 "
        "excluded; data loading and compilation excluded); peak RSS: max "
        "RSS of the training process (includes data loading; torch: also "
        "the interpreter and libtorch; kiln: ru_maxrss of `fit` started by "
        "a small launcher, torch: VmHWM at the end of training). Ratios "
        "are kiln / torch (> 1: kiln faster; for RSS, < 1: kiln smaller). "
        "Cells: median (min-max).",
    ]
    summary = [
        "",
        "## Summary (each engine at its best training configuration)",
        "",
        "| model | train samples/s kiln / torch | peak RSS kiln / torch (MiB) "
        "| kiln compile time s | test accuracy kiln | test accuracy torch |",
        "|---|---|---|---|---|---|",
    ]
    for model in models:
        lines += [
            "",
            f"## {model} ({MODELS[model]['config']}, {epochs[model]} epochs "
            f"per measurement)",
            "",
            "| threads | kiln train samples/s | torch train samples/s | "
            "train kiln / torch | kiln peak RSS MiB | torch peak RSS MiB | "
            "RSS kiln / torch |",
            "|---|---|---|---|---|---|---|",
        ]
        rel = lambda key, tk, tt: km.ratio(med(model, "kiln", tk, key),
                                           med(model, "torch", tt, key))
        torch_configs = [c for c in thread_counts + [km.BLAS_CONFIG]
                         if (model, "torch", c) in results]
        for t in thread_counts:
            k, p = results[(model, "kiln", t)], results[(model, "torch", t)]
            lines.append(
                f"| {t} | {km.spread(col(k, 'train'))} | "
                f"{km.spread(col(p, 'train'))} | {rel('train', t, t)} | "
                f"{km.spread([mib(v) for v in col(k, 'rss')], '{:.1f}')} | "
                f"{km.spread([mib(v) for v in col(p, 'rss')], '{:.1f}')} | "
                f"{rel('rss', t, t)} |")
        if km.BLAS_CONFIG in torch_configs:
            p = results[(model, "torch", km.BLAS_CONFIG)]
            lines.append(
                f"| {km.config_label(km.BLAS_CONFIG)} | - | "
                f"{km.spread(col(p, 'train'))} | - | - | "
                f"{km.spread([mib(v) for v in col(p, 'rss')], '{:.1f}')} "
                f"| - |")
        kt = max(thread_counts, key=lambda t: med(model, "kiln", t, "train"))
        tt = max(torch_configs, key=lambda t: med(model, "torch", t, "train"))
        sanity = {}
        for e, configs in (("kiln", thread_counts), ("torch", torch_configs)):
            rs = [r for t in configs for r in results[(model, e, t)]]
            sanity[e] = (f"{min(col(rs, 'test_accuracy')):.4f}-"
                         f"{max(col(rs, 'test_accuracy')):.4f} (loss "
                         f"{min(col(rs, 'test_loss')):.4f}-"
                         f"{max(col(rs, 'test_loss')):.4f})")
        summary.append(
            f"| {model} | {med(model, 'kiln', kt, 'train'):.0f} ({kt}T) / "
            f"{med(model, 'torch', tt, 'train'):.0f} "
            f"({km.config_short(tt)}) = **{rel('train', kt, tt)}** | "
            f"{mib(med(model, 'kiln', kt, 'rss')):.1f} / "
            f"{mib(med(model, 'torch', tt, 'rss')):.1f} = "
            f"**{rel('rss', kt, tt)}** | "
            f"{km.spread(compiles[model], '{:.2f}')} | {sanity['kiln']} | "
            f"{sanity['torch']} |")
    lines += summary
    lines += [
        "",
        "Test accuracy and loss: min-max over every run (all thread "
        "configurations and rounds), after the epochs of one measurement, on "
        "x_test: a sanity check that both engines train, not a comparison "
        "(different initial values and shuffles; torch's Adam puts eps on "
        "the bias-corrected sqrt(v_hat), Keras on sqrt(v)). The majority "
        f"class alone scores {meta['test']['majority_class_accuracy']:.4f}. "
        "Compile time: wall time of `kilnc CONFIG --batch-size=32 "
        "--sequence-length=200 -o PROG` (once per round).",
        "",
        f"kiln: `PROG fit/evaluate --threads T` (its thread pool). torch "
        f"{torch_version}: torch.set_num_threads(T), "
        f"set_num_interop_threads(1), OMP_NUM_THREADS=OPENBLAS_NUM_THREADS="
        f"MKL_NUM_THREADS=T, OMP_WAIT_POLICY=PASSIVE, and a third "
        f"configuration with 1 torch thread and OPENBLAS_NUM_THREADS="
        f"{os.cpu_count()}; the summary takes torch's best of all three; "
        f"BCEWithLogitsLoss on the logit; Adam(lr=1e-3, eps=1e-7); ids as "
        f"int64 tensors in memory, randperm + index batching, no "
        f"DataLoader; running loss and accuracy accumulated per step as "
        f"kiln's fit does.",
        "",
        f"{km.cpu_name()}, {os.cpu_count()} cores, {platform.system()} "
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
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS),
                        help="comma-separated subset of " + ",".join(MODELS)
                        + " (default " + ",".join(DEFAULT_MODELS) + ")")
    parser.add_argument("--output",
                        default=os.path.join(ROOT,
                                             "bench/results/text_models.md"))
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
            parser.error(f"unknown model {m!r} (known: {', '.join(MODELS)})")
    epochs = {m: MODELS[m]["quick_epochs" if args.quick else "epochs"]
              for m in models}

    subprocess.run([os.path.join(ROOT, "scripts/setup.sh"), "--bench"],
                   check=True)
    subprocess.run([sys.executable, PREPARE, "--out", DATA], check=True,
                   stdout=subprocess.DEVNULL)
    with open(os.path.join(DATA, "meta.json")) as f:
        meta = json.load(f)
    if (meta["sequence_length"], meta["vocab_size"]) != (SEQUENCE_LENGTH,
                                                        VOCAB):
        sys.exit(f"error: {DATA} has sequence length "
                 f"{meta['sequence_length']} and vocabulary "
                 f"{meta['vocab_size']}, the models take {SEQUENCE_LENGTH} "
                 f"and {VOCAB}")
    n = meta["train"]["mails"]
    kilnc = os.path.join(BUILD, "bin", "kilnc")
    if not os.path.exists(kilnc):
        sys.exit(f"error: {kilnc} is missing: run scripts/build.sh")
    thread_counts = list(range(1, os.cpu_count() + 1))

    workdir = tempfile.mkdtemp(prefix="kiln-bench-text-")
    km.LAUNCHER = km.build_launcher(workdir)
    start = time.perf_counter()
    load_before = os.getloadavg()
    results = {(m, e, t): [] for m in models for e in ("kiln", "torch")
               for t in thread_counts}
    if os.cpu_count() > 1:
        results.update({(m, "torch", km.BLAS_CONFIG): [] for m in models})
    compiles = {m: [] for m in models}
    torch_version = "?"
    for r in range(args.rounds):
        round_dir = os.path.join(workdir, f"round{r + 1}")
        os.makedirs(round_dir)
        for m in models:
            binary, wall, summary = compile_kiln(m, round_dir)
            compiles[m].append(wall)
            if r == 0:
                print(summary.rstrip(), flush=True)
            runs = []
            for i, t in enumerate(thread_counts):
                order = (("kiln", "torch") if (r + i) % 2 == 0
                         else ("torch", "kiln"))
                runs += [(engine, t) for engine in order]
            if (m, "torch", km.BLAS_CONFIG) in results:
                runs.append(("torch", km.BLAS_CONFIG))
            for engine, t in runs:
                if engine == "kiln":
                    res = measure_kiln(binary, t, epochs[m], r + 1,
                                       round_dir, n)
                else:
                    res = measure_torch(m, t, epochs[m], r + 1)
                    torch_version = res["torch"]
                results[(m, engine, t)].append(res)
                print(f"round {r + 1} {m} {engine}@{km.config_short(t)}: "
                      f"train {res['train']:.0f}/s, peak RSS "
                      f"{res['rss'] / 1024:.1f} MiB, last epoch loss "
                      f"{res['last_loss']:.4f} acc "
                      f"{res['last_accuracy']:.4f}, test acc "
                      f"{res['test_accuracy']:.4f}", flush=True)
    load_after = os.getloadavg()
    wall = time.perf_counter() - start

    text = report(args, models, thread_counts, epochs, results, compiles,
                  meta, load_before, load_after, wall, torch_version)
    print(text)
    floor = meta["test"]["majority_class_accuracy"] + 0.2
    for m in models:
        for e in ("kiln", "torch"):
            accs = [r["test_accuracy"] for (mm, ee, _), rs in results.items()
                    if (mm, ee) == (m, e) for r in rs]
            if min(accs) < floor:
                print(f"warning: {m} {e}: test accuracy {min(accs):.4f} < "
                      f"{floor:.4f} (the majority class + 0.2): a broken "
                      f"run?", file=sys.stderr)
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as f:
        f.write(text)
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
