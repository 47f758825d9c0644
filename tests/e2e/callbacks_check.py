#!/usr/bin/env python3
"""Checks the fit callbacks of generated programs against Python
transcriptions of Keras 3's callbacks (keras/src/callbacks/), replayed on
the values the program logged in its history (Keras' CSVLogger columns:
the 0-based epoch, then the sorted names).

  callbacks_check.py reduce HISTORY.csv TRACE.csv MONITOR FACTOR PATIENCE
      MIN_DELTA COOLDOWN MIN_LR INITIAL_LR [MODE]
    ReduceLROnPlateau.on_epoch_end: the history's learning_rate column and
    every traced step's rate equal the rates Keras would set.
  callbacks_check.py early HISTORY.csv MONITOR PATIENCE MIN_DELTA MODE EPOCHS
      [BASELINE|none [START_FROM_EPOCH]]
    EarlyStopping.on_epoch_end: the run stopped after the epoch Keras stops
    at (or ran all EPOCHS).
  callbacks_check.py best CHECKPOINT HISTORY.csv MONITOR MODE
      [INITIAL_VALUE_THRESHOLD]
    ModelCheckpoint(save_best_only=True): the checkpoint holds the last
    epoch Keras saves (or none is written when Keras saves none).
  callbacks_check.py same-params A.safetensors B.safetensors
    Both checkpoints hold the same parameter bytes.
Prints PASSED or FAILED with the difference.
"""

import csv
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_read  # noqa: E402


def history(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == list(range(len(rows))), rows
    return rows


def minimizes(monitor, mode):
    """MonitorCallback._set_monitor_op (Keras 3.16, shared by EarlyStopping,
    ReduceLROnPlateau and ModelCheckpoint): the loss is minimized, a metric
    follows its _direction (accuracies up, mae/mse down)."""
    if mode != "auto":
        return mode == "min"
    name = monitor[4:] if monitor.startswith("val_") else monitor
    if name == "loss" or name in ("mae", "mse"):
        return True
    if "accuracy" in name or name in ("precision", "recall", "f1"):
        return False
    raise ValueError(f"cannot tell the direction of {monitor}")


def is_improvement(current, reference, min_delta, lower):
    """MonitorCallback._is_improvement: min_delta = abs(min_delta), negated
    in min mode; monitor_op(current - min_delta, reference) on Python
    floats, which ops.less / ops.greater convert to float32 tensors (the
    TensorFlow, JAX and PyTorch backends); True when the reference is
    None."""
    if reference is None:
        return True
    min_delta = abs(min_delta) * (-1 if lower else 1)
    shifted = np.float32(current - min_delta)
    reference = np.float32(reference)
    return bool(shifted < reference) if lower else bool(shifted > reference)


def reduce_lr(values, factor, patience, min_delta, cooldown, min_lr,
              initial, lower):
    """ReduceLROnPlateau.on_epoch_end and _reduce_optimizer_lr; the
    optimizer's rate is a float32 variable. Returns the rate of each epoch
    (the logged learning_rate)."""
    best = None
    lr = np.float32(initial)
    wait = cooldown_counter = 0
    rates = []
    for current in values:
        rates.append(float(lr))
        if cooldown_counter > 0:
            cooldown_counter -= 1
            wait = 0
        if is_improvement(current, best, min_delta, lower):
            best = current
            wait = 0
        elif not cooldown_counter > 0:
            wait += 1
            if wait >= patience:
                old = float(lr)
                if old > np.float32(min_lr):
                    lr = np.float32(max(old * factor, min_lr))
                    cooldown_counter = cooldown
                    wait = 0
    return rates


def early_stop_epochs(values, patience, min_delta, lower, baseline=None,
                      start_from_epoch=0):
    """EarlyStopping.on_epoch_end: how many epochs run (None: all)."""
    best = None
    wait = 0
    for epoch, current in enumerate(values):
        if epoch < start_from_epoch:
            continue
        wait += 1
        if is_improvement(current, best, min_delta, lower):
            best = current
            if baseline is None or is_improvement(current, baseline,
                                                  min_delta, lower):
                wait = 0
            continue
        if wait >= patience and epoch > 0:
            return epoch + 1
    return None


def main():
    mode = sys.argv[1]
    failures = []
    if mode == "reduce":
        (hist, trace, monitor, factor, patience, min_delta, cooldown, min_lr,
         initial) = sys.argv[2:11]
        cmode = sys.argv[11] if len(sys.argv) > 11 else "auto"
        rows = history(hist)
        values = [float(r[monitor]) for r in rows]
        want = reduce_lr(values, float(factor), int(patience),
                         float(min_delta), int(cooldown), float(min_lr),
                         float(initial), minimizes(monitor, cmode))
        got = [float(r["learning_rate"]) for r in rows]
        print("learning_rate per epoch:", got)
        if got != want:
            failures.append(f"history learning_rate {got}, Keras {want}")
        with open(trace) as f:
            steps = list(csv.DictReader(f))
        per_epoch = len(steps) // len(rows)
        for s in steps:
            epoch = int(s["iteration"]) // per_epoch
            if np.float32(float(s["learning_rate"])) != np.float32(
                    want[epoch]):
                failures.append(f"step {s['iteration']}: rate "
                                f"{s['learning_rate']}, Keras {want[epoch]}")
                break
    elif mode == "early":
        hist, monitor, patience, min_delta, cmode, epochs = sys.argv[2:8]
        baseline = sys.argv[8] if len(sys.argv) > 8 else "none"
        start = int(sys.argv[9]) if len(sys.argv) > 9 else 0
        rows = history(hist)
        values = [float(r[monitor]) for r in rows]
        stop = early_stop_epochs(
            values, int(patience), float(min_delta),
            minimizes(monitor, cmode),
            None if baseline == "none" else float(baseline), start)
        want = stop if stop is not None else int(epochs)
        print(f"ran {len(rows)} epochs, Keras stops after {want}")
        if len(rows) != want:
            failures.append(f"{len(rows)} epochs, Keras {want}")
    elif mode == "best":
        ckpt, hist, monitor, cmode = sys.argv[2:6]
        best = float(sys.argv[6]) if len(sys.argv) > 6 else None
        values = [float(r[monitor]) for r in history(hist)]
        lower = minimizes(monitor, cmode)
        best_epoch = None
        for epoch, v in enumerate(values):
            if is_improvement(v, best, 0, lower):
                best, best_epoch = v, epoch + 1
        if best_epoch is None:
            print(f"no best checkpoint written: {not os.path.exists(ckpt)}")
            if os.path.exists(ckpt):
                failures.append(f"{ckpt} written, Keras saves no epoch")
        else:
            _, meta = safetensors_read.read(ckpt)
            print(f"best checkpoint holds epoch {meta['epoch']}, "
                  f"Keras saves epoch {best_epoch}")
            if int(meta["epoch"]) != best_epoch:
                failures.append(f"epoch {meta['epoch']}, Keras {best_epoch}")
    elif mode == "same-params":
        a, _ = safetensors_read.read(sys.argv[2])
        b, _ = safetensors_read.read(sys.argv[3])
        names = [n for n in a if n.startswith("params/")]
        differ = [n for n in names if a[n].tobytes() != b[n].tobytes()]
        print(f"{len(names)} params, {len(differ)} differ")
        if differ or not names:
            failures.append(f"params differ: {differ}")
    for f in failures:
        print("FAILED:", f)
    print("FAILED" if failures else "PASSED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
