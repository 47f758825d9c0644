#!/usr/bin/env python3
"""Keras 3 learning-rate schedules in numpy float32: the golden values for
the per-step learning rates of generated programs (`fit --lr-trace`).

Keras and TensorFlow are not installable here, so each schedule below
transcribes `__call__` of keras/src/optimizers/schedules/
learning_rate_schedule.py (Keras 3) operation by operation:
`convert_to_tensor(initial_learning_rate)` is float32 (Keras' floatx),
`cast(x, dtype)` is `np.float32(x)`, Python float constants mixed with a
float32 tensor are weakly typed (float32), and the step is the optimizer's
`iterations` counter (int64, 0 for the first step). numpy 1.x would promote
`np.float32 * python float` to float64, so every constant is made float32
explicitly. pow, log and cos are evaluated in float64 and rounded to float32
(what kiln's driver does; the float32 kernels of Keras' backends agree to
within an ulp).

Usage:
  lr_schedule_reference.py SCHEDULE_JSON TRACE.csv [--min-steps N]
SCHEDULE_JSON is Keras' serialization ({"class_name": ..., "config": ...});
TRACE.csv is `iteration,learning_rate` as `fit --lr-trace` writes it. Every
traced rate must equal the reference bit for bit; prints PASSED.
"""

import csv
import json
import math
import sys

import numpy as np

f32 = np.float32


def _pow(a, b):
    return f32(np.power(np.float64(a), np.float64(b)))


def _log(a):
    return f32(np.log(np.float64(a)))


def _cos(a):
    return f32(np.cos(np.float64(a)))


def exponential_decay(step, initial_learning_rate, decay_steps, decay_rate,
                      staircase=False, name=None):
    """ExponentialDecay.__call__: `p = step / decay_steps` (floored when
    staircase); `initial_learning_rate * decay_rate ** p`."""
    initial = f32(initial_learning_rate)
    p = f32(step) / f32(decay_steps)
    if staircase:
        p = np.floor(p)
    return initial * _pow(f32(decay_rate), p)


def piecewise_constant_decay(step, boundaries, values, name=None):
    """PiecewiseConstantDecay.__call__: boundaries are cast to the step's
    int64; the sum of `cast(step <= b0) * v0`, `cast(step > b_last) *
    v_last` and `cast(b_{i-1} < step <= b_i) * v_i`, in float32."""
    b = [np.int64(x) for x in boundaries]
    v = [f32(x) for x in values]
    s = np.int64(step)
    result = f32(0)
    result = result + f32(s <= b[0]) * v[0]
    result = result + f32(s > b[-1]) * v[-1]
    for low, high, value in zip(b[:-1], b[1:], v[1:-1]):
        result = result + f32((s > low) and (s <= high)) * value
    return result


def polynomial_decay(step, initial_learning_rate, decay_steps,
                     end_learning_rate=0.0001, power=1.0, cycle=False,
                     name=None):
    """PolynomialDecay.__call__: with cycle, `decay_steps *= (1 if step == 0
    else ceil(step / decay_steps))`, else `step = min(step, decay_steps)`;
    `(initial - end) * (1 - step / decay_steps) ** power + end`."""
    initial = f32(initial_learning_rate)
    end = f32(end_learning_rate)
    pw = f32(power)
    g = f32(step)
    d = f32(decay_steps)
    if cycle:
        multiplier = f32(1.0) if g == 0 else np.ceil(g / f32(decay_steps))
        d = d * multiplier
    else:
        g = np.minimum(g, d)
    p = g / d
    return (initial - end) * _pow(f32(1) - p, pw) + end


def inverse_time_decay(step, initial_learning_rate, decay_steps, decay_rate,
                       staircase=False, name=None):
    """InverseTimeDecay.__call__: `p = step / decay_steps` (floored when
    staircase); `initial / (1 + decay_rate * p)`."""
    initial = f32(initial_learning_rate)
    p = f32(step) / f32(decay_steps)
    if staircase:
        p = np.floor(p)
    denom = f32(1) + f32(decay_rate) * p
    return initial / denom


def cosine_decay(step, initial_learning_rate, decay_steps, alpha=0.0,
                 name=None, warmup_target=None, warmup_steps=0):
    """CosineDecay.__call__ and its _decay_function / _warmup_function:
    without warmup_target, `step = min(step, decay_steps)` and
    `initial * ((1 - alpha) * 0.5 * (1 + cos(pi * step / decay_steps)) +
    alpha)`; with it, `step = min(step, decay_steps + warmup_steps)`, below
    warmup_steps `(target - initial) * step / warmup_steps + initial`, then
    the decay from warmup_target at `step - warmup_steps`. `(1 - alpha)` is
    computed on the Python float, then weakly typed to float32."""
    initial = f32(initial_learning_rate)
    d = f32(decay_steps)
    g = f32(step)
    pi = f32(math.pi)

    def decay(s, frm):
        fraction = s / d
        cosine_decayed = f32(0.5) * (f32(1.0) + _cos(pi * fraction))
        decayed = f32(1 - alpha) * cosine_decayed + f32(alpha)
        return frm * decayed

    if warmup_target is None:
        return decay(np.minimum(g, d), initial)
    target = f32(warmup_target)
    w = f32(warmup_steps)
    g = np.minimum(g, d + w)
    if g < w:
        fraction = g / w
        return (target - initial) * fraction + initial
    return decay(g - w, target)


def cosine_decay_restarts(step, initial_learning_rate, first_decay_steps,
                          t_mul=2.0, m_mul=1.0, alpha=0.0, name=None):
    """CosineDecayRestarts.__call__: `fraction = step / first_decay_steps`;
    with t_mul == 1, `i = floor(fraction)`, `fraction -= i`; otherwise
    `i = floor(log(1 - fraction * (1 - t_mul)) / log(t_mul))`,
    `fraction = (fraction - (1 - t_mul ** i) / (1 - t_mul)) / t_mul ** i`;
    `initial * ((1 - alpha) * 0.5 * m_mul ** i * (1 + cos(pi * fraction)) +
    alpha)` with alpha, t_mul, m_mul cast to float32 first."""
    initial = f32(initial_learning_rate)
    first = f32(first_decay_steps)
    a = f32(alpha)
    t = f32(t_mul)
    m = f32(m_mul)
    fraction = f32(step) / first
    if t == f32(1.0):
        i = np.floor(fraction)
        fraction = fraction - i
    else:
        i = np.floor(_log(f32(1.0) - fraction * (f32(1.0) - t)) / _log(t))
        sum_r = (f32(1.0) - _pow(t, i)) / (f32(1.0) - t)
        fraction = (fraction - sum_r) / _pow(t, i)
    m_fac = _pow(m, i)
    cosine_decayed = f32(0.5) * m_fac * (f32(1.0) + _cos(f32(math.pi) *
                                                          fraction))
    decayed = (f32(1) - a) * cosine_decayed + a
    return initial * decayed


SCHEDULES = {
    "ExponentialDecay": exponential_decay,
    "PiecewiseConstantDecay": piecewise_constant_decay,
    "PolynomialDecay": polynomial_decay,
    "InverseTimeDecay": inverse_time_decay,
    "CosineDecay": cosine_decay,
    "CosineDecayRestarts": cosine_decay_restarts,
}


def reference(schedule, step):
    value = SCHEDULES[schedule["class_name"]](step, **schedule["config"])
    assert isinstance(value, np.float32), (schedule, type(value))
    return value


def main():
    schedule = json.loads(sys.argv[1])
    min_steps = 1
    if len(sys.argv) > 4 and sys.argv[3] == "--min-steps":
        min_steps = int(sys.argv[4])
    with open(sys.argv[2]) as f:
        rows = list(csv.DictReader(f))
    if len(rows) < min_steps:
        print(f"FAILED: {len(rows)} traced steps, expected >= {min_steps}")
        return 1
    failures = 0
    for row in rows:
        step = int(row["iteration"])
        got = f32(float(row["learning_rate"]))
        want = reference(schedule, step)
        if got.tobytes() != want.tobytes():
            failures += 1
            if failures <= 5:
                print(f"step {step}: kiln {got!r}, Keras formula {want!r}")
    print(f"{schedule['class_name']}: {len(rows)} steps "
          f"({rows[0]['iteration']}..{rows[-1]['iteration']}), "
          f"{failures} differ")
    print("FAILED" if failures else "PASSED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
