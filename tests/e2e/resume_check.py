#!/usr/bin/python3
"""SIGKILL during epoch 3, then --resume: the final weights must be bitwise
those of an uninterrupted run (one thread).

usage: resume_check.py PROG IMAGES LABELS WORKDIR

Runs `PROG fit --epochs 4 --threads 1` once to the end (checkpoint A), and
once more (checkpoint B) killed with SIGKILL 40% into epoch 3: the kill time
is estimated from when the epoch 1 and epoch 2 checkpoints appear. Checks
that the process died of the signal while B still held epoch 2, then runs
`fit --resume B --checkpoint B --epochs 4` and compares every tensor of A
and B (params and optimizer state, read by tests/e2e/safetensors_read.py)
byte for byte, plus the step and epoch counters.
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import safetensors_read  # noqa: E402


def main():
    prog, images, labels, work = sys.argv[1:5]
    os.makedirs(work, exist_ok=True)
    a, b = os.path.join(work, "a.safetensors"), os.path.join(work,
                                                              "b.safetensors")
    for path in (a, b):
        if os.path.exists(path):
            os.remove(path)
    fit = [prog, "fit", "--data", images, "--labels", labels, "--epochs",
           "4", "--threads", "1", "--quiet"]
    subprocess.run(fit + ["--checkpoint", a], check=True)

    proc = subprocess.Popen(fit + ["--checkpoint", b])
    seen = {}
    while proc.poll() is None and 2 not in seen:
        e = safetensors_read.checkpoint_epoch(b)
        if e and e not in seen:
            seen[e] = time.monotonic()
        time.sleep(0.002)
    if proc.poll() is not None or 1 not in seen:
        print(f"FAIL: fit ended (status {proc.returncode}) before epoch 3 "
              f"could be interrupted; checkpoints seen: {sorted(seen)}")
        return 1
    epoch_time = seen[2] - seen[1]
    time.sleep(0.4 * epoch_time)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = safetensors_read.checkpoint_epoch(b)
    print(f"epoch time {epoch_time:.3f} s; killed by signal "
          f"{-proc.returncode} with the checkpoint at epoch {killed_at}")
    if proc.returncode != -signal.SIGKILL or killed_at != 2:
        print("FAIL: not killed during epoch 3")
        return 1

    subprocess.run(fit + ["--resume", b, "--checkpoint", b], check=True)
    ta, ma = safetensors_read.read(a)
    tb, mb = safetensors_read.read(b)
    failures = []
    if sorted(ta) != sorted(tb):
        failures.append("different tensor names")
    for name in sorted(ta):
        if name in tb and ta[name].tobytes() != tb[name].tobytes():
            failures.append(f"{name} differs")
    for key in ("epoch", "steps", "fingerprint"):
        if ma.get(key) != mb.get(key):
            failures.append(f"metadata {key}: {ma.get(key)} vs {mb.get(key)}")
    print(f"compared {len(ta)} tensors; epoch {mb.get('epoch')}, "
          f"steps {mb.get('steps')}")
    for f in failures:
        print("FAIL:", f)
    print("FAILED" if failures else "PASSED: bitwise identical")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
