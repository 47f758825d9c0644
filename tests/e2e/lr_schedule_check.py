#!/usr/bin/env python3
"""Runs `PROG fit --lr-schedule ... --lr-trace` for every Keras schedule
and its variants (staircase, cycle, warmup, geometric and unit t_mul
restarts), in the command line's compact form and as Keras JSON, and checks
each step's rate against the numpy float32 transcription of Keras
(lr_schedule_reference.py) bit for bit.

Usage: lr_schedule_check.py PROG TRAIN.csv LABEL_COLUMN WORKDIR
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lr_schedule_reference as ref  # noqa: E402

CASES = [
    ("ExponentialDecay", {"initial_learning_rate": 0.01, "decay_steps": 7,
                          "decay_rate": 0.9}),
    ("ExponentialDecay", {"initial_learning_rate": 0.01, "decay_steps": 7,
                          "decay_rate": 0.9, "staircase": True}),
    ("PiecewiseConstantDecay", {"boundaries": [10, 20],
                                "values": [0.01, 0.005, 0.001]}),
    ("PolynomialDecay", {"initial_learning_rate": 0.01, "decay_steps": 20,
                         "power": 2.0}),
    ("PolynomialDecay", {"initial_learning_rate": 0.01, "decay_steps": 9,
                         "end_learning_rate": 0.001, "power": 0.5,
                         "cycle": True}),
    ("InverseTimeDecay", {"initial_learning_rate": 0.01, "decay_steps": 3,
                          "decay_rate": 0.7}),
    ("InverseTimeDecay", {"initial_learning_rate": 0.01, "decay_steps": 3,
                          "decay_rate": 0.7, "staircase": True}),
    ("CosineDecay", {"initial_learning_rate": 0.01, "decay_steps": 30,
                     "alpha": 0.1}),
    ("CosineDecay", {"initial_learning_rate": 0.0, "decay_steps": 25,
                     "alpha": 0.05, "warmup_target": 0.01,
                     "warmup_steps": 6}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.01,
                             "first_decay_steps": 5, "alpha": 0.1}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.01,
                             "first_decay_steps": 4, "t_mul": 1.0,
                             "m_mul": 0.5}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.02,
                             "first_decay_steps": 3, "t_mul": 1.5,
                             "m_mul": 0.8, "alpha": 0.01}),
]


def compact(name, config):
    def text(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list):
            return "[" + ",".join(repr(x) for x in v) + "]"
        return repr(v)
    return name + ":" + ",".join(f"{k}={text(v)}" for k, v in config.items())


def main():
    prog, data, column, work = sys.argv[1:5]
    failures = []
    for index, (name, config) in enumerate(CASES):
        schedule = {"class_name": name, "config": config}
        for form, spec in (("compact", compact(name, config)),
                           ("json", json.dumps({
                               "module": "keras.optimizers.schedules",
                               **schedule, "registered_name": None}))):
            trace = os.path.join(work, f"trace{index}_{form}.csv")
            subprocess.run([prog, "fit", "--data", data, "--label-column",
                            column, "--epochs", "3", "--lr-schedule", spec,
                            "--lr-trace", trace, "--quiet"], check=True)
            with open(trace) as f:
                rows = f.read().split("\n")[1:-1]
            steps = [int(r.split(",")[0]) for r in rows]
            bad = [s for s, r in zip(steps, rows)
                   if ref.f32(float(r.split(",")[1])).tobytes() !=
                   ref.reference(schedule, s).tobytes()]
            if steps != list(range(len(rows))) or len(rows) < 30 or bad:
                failures.append(f"{compact(name, config)} ({form}): "
                                f"{len(rows)} steps, differ at {bad[:5]}")
        print(f"{compact(name, config)}: {len(rows)} steps equal")
    for f in failures:
        print("FAILED:", f)
    print("FAILED" if failures else "PASSED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
