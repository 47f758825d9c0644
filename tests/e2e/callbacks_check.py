#!/usr/bin/env python3
"""Checks the fit callbacks of generated programs against Python
transcriptions of Keras 3's callbacks (keras/src/callbacks/), replayed on
the values the program logged in its history (Keras' CSVLogger columns:
the 0-based epoch, then the sorted names).

  callbacks_check.py reduce HISTORY.csv TRACE.csv MONITOR FACTOR PATIENCE
      MIN_DELTA COOLDOWN MIN_LR INITIAL_LR
    ReduceLROnPlateau.on_epoch_end: the history's learning_rate column and
    every traced step's rate equal the rates Keras would set.
  callbacks_check.py early HISTORY.csv MONITOR PATIENCE MIN_DELTA MODE EPOCHS
    EarlyStopping.on_epoch_end: the run stopped after the epoch Keras stops
    at (or ran all EPOCHS).
  callbacks_check.py best CHECKPOINT HISTORY.csv MONITOR MODE
    ModelCheckpoint(save_best_only=True): the checkpoint holds the epoch
    whose value was the first strict best.
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
    """MonitorCallback._set_monitor_op for EarlyStopping / ModelCheckpoint:
    the loss is minimized, accuracies maximized (their _direction)."""
    if mode != "auto":
        return mode == "min"
    name = monitor[4:] if monitor.startswith("val_") else monitor
    return name == "loss" or name in ("mae", "mse")


def reduce_lr(values, factor, patience, min_delta, cooldown, min_lr,
              initial, monitor):
    """ReduceLROnPlateau: mode auto minimizes unless 'acc' is in the name;
    the optimizer's rate is a float32 variable. Returns the rate of each
    epoch (the logged learning_rate)."""
    lower = "acc" not in monitor
    best = math.inf if lower else -math.inf
    lr = np.float32(initial)
    wait = cooldown_counter = 0
    rates = []
    for current in values:
        rates.append(float(lr))
        if cooldown_counter > 0:
            cooldown_counter -= 1
            wait = 0
        if (current < best - min_delta) if lower else \
                (current > best + min_delta):
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


def early_stop_epochs(values, patience, min_delta, lower):
    """EarlyStopping: how many epochs run (wait counts first; stop when
    wait >= patience and epoch > 0)."""
    min_delta = abs(min_delta) * (-1 if lower else 1)
    best = math.inf if lower else -math.inf
    wait = 0
    for epoch, current in enumerate(values):
        wait += 1
        better = (current - min_delta < best) if lower else \
            (current - min_delta > best)
        if better:
            best = current
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
        rows = history(hist)
        values = [float(r[monitor]) for r in rows]
        want = reduce_lr(values, float(factor), int(patience),
                         float(min_delta), int(cooldown), float(min_lr),
                         float(initial), monitor)
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
        rows = history(hist)
        values = [float(r[monitor]) for r in rows]
        stop = early_stop_epochs(values, int(patience), float(min_delta),
                                 minimizes(monitor, cmode))
        want = stop if stop is not None else int(epochs)
        print(f"ran {len(rows)} epochs, Keras stops after {want}")
        if len(rows) != want:
            failures.append(f"{len(rows)} epochs, Keras {want}")
    elif mode == "best":
        ckpt, hist, monitor, cmode = sys.argv[2:6]
        values = [float(r[monitor]) for r in history(hist)]
        lower = minimizes(monitor, cmode)
        best, best_epoch = (math.inf if lower else -math.inf), None
        for epoch, v in enumerate(values):
            if (v < best) if lower else (v > best):
                best, best_epoch = v, epoch + 1
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
