#!/usr/bin/python3
"""Checks a breast-cancer run of the kiln-generated program against numpy.

usage: breast_cancer_check.py DATA_DIR OUT_DIR EVALUATE_OUTPUT

OUT_DIR holds what the test produced: checkpoint.safetensors (after fit
with --validation-split 0.2), history.csv, predictions.npy (predict on the
test features). EVALUATE_OUTPUT is the `evaluate --quiet` line on test.csv.

Independent reference: the model's forward pass written in float64 numpy
from its Keras definition (Normalization (x - mean) / max(sqrt(var), 1e-7),
Dense relu, Dense sigmoid; dropout off), with the weights read from the
checkpoint by tests/e2e/safetensors_read.py. Checks:
  - Normalization adapted to the training part of train.csv (the first 80%
    of the rows, Keras' validation_split) with population variance;
  - predict matches the numpy forward pass (max abs error 1e-5);
  - evaluate's loss (binary cross-entropy from the logits, kiln's
    documented rewrite) and accuracy over all 114 test rows, 3 full batches
    of 32 and a partial batch of 18 (exact through sample weights), match
    numpy to the 4 printed decimals;
  - the history has 30 epochs and a final val_accuracy >= 0.95.
"""
import csv
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import safetensors_read  # noqa: E402


def load(path):
    with open(path) as f:
        rows = list(csv.reader(f))
    header, values = rows[0], np.array(rows[1:], dtype=np.float64)
    label = header.index("malignant")
    return np.delete(values, label, axis=1), values[:, label]


def main():
    data_dir, out, evaluate_line = sys.argv[1], sys.argv[2], sys.argv[3]
    failures = []
    tensors, meta = safetensors_read.read(
        os.path.join(out, "checkpoint.safetensors"))
    p = {k[len("params/"):]: v.astype(np.float64)
         for k, v in tensors.items() if k.startswith("params/")}
    assert meta["format"] == "kiln-checkpoint" and meta["epoch"] == "30", meta

    x_train, _ = load(os.path.join(data_dir, "train.csv"))
    split = int(len(x_train) * (1 - 0.2))
    mean, var = x_train[:split].mean(0), x_train[:split].var(0)
    for name, ref in (("mean", mean), ("variance", var)):
        got = p["normalization/" + name]
        err = np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-12))
        print(f"adapted {name}: max relative error {err:.2e}")
        if err > 1e-6:
            failures.append(f"normalization/{name} differs by {err:.2e}")

    x_test, y_test = load(os.path.join(data_dir, "test.csv"))
    h = (x_test - p["normalization/mean"]) / np.maximum(
        np.sqrt(p["normalization/variance"]), 1e-7)
    h = np.maximum(h @ p["dense/kernel"] + p["dense/bias"], 0)
    logits = (h @ p["dense_1/kernel"] + p["dense_1/bias"])[:, 0]
    prob = 1 / (1 + np.exp(-logits))

    predicted = np.load(os.path.join(out, "predictions.npy"))
    err = np.max(np.abs(predicted[:, 0] - prob))
    print(f"predict: shape {predicted.shape}, max abs error {err:.2e}")
    if predicted.shape != (114, 1) or err > 1e-5:
        failures.append(f"predict differs: shape {predicted.shape}, {err:.2e}")

    # BCE from logits: max(z, 0) - z * y + log1p(exp(-|z|)).
    loss = np.mean(np.maximum(logits, 0) - logits * y_test +
                   np.log1p(np.exp(-np.abs(logits))))
    accuracy = np.mean((prob > 0.5) == (y_test > 0.5))
    got = dict(re.findall(r"(\w+): ([0-9.]+)", evaluate_line))
    print(f"evaluate: kiln loss {got.get('loss')} accuracy "
          f"{got.get('accuracy')}; numpy loss {loss:.6f} accuracy "
          f"{accuracy:.6f}")
    if abs(float(got["loss"]) - loss) > 1.5e-4 or \
            abs(float(got["accuracy"]) - accuracy) > 1.5e-4:
        failures.append("evaluate differs from numpy")

    with open(os.path.join(out, "history.csv")) as f:
        history = list(csv.DictReader(f))
    final = float(history[-1]["val_accuracy"])
    print(f"history: {len(history)} epochs, final val_accuracy {final:.4f}")
    if len(history) != 30 or final < 0.95:
        failures.append(f"history: {len(history)} epochs, val {final}")

    for f in failures:
        print("FAIL:", f)
    print("FAILED" if failures else "PASSED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
