#!/usr/bin/python3
"""SIGINT during fit: the program stops before its next step with status
130, the checkpoint of the last finished epoch stays valid, no temporary
file is left behind, and --resume continues from it.

usage: interrupt_check.py PROG IMAGES LABELS WORKDIR
"""
import glob
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
    ckpt = os.path.join(work, "ck.safetensors")
    fit = [prog, "fit", "--data", images, "--labels", labels, "--threads",
           "1", "--checkpoint", ckpt, "--history",
           os.path.join(work, "history.csv")]
    proc = subprocess.Popen(fit + ["--epochs", "100"],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    while proc.poll() is None and safetensors_read.checkpoint_epoch(ckpt) < 1:
        time.sleep(0.002)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate()
    epoch = safetensors_read.checkpoint_epoch(ckpt)
    leftovers = sorted(glob.glob(os.path.join(work, "*.tmp*")))
    print(f"status {proc.returncode}; checkpoint epoch {epoch}; "
          f"temporary files {leftovers}")
    print(err.strip())
    if proc.returncode != 130 or epoch < 1 or leftovers:
        print("FAILED")
        return 1
    out = subprocess.run(fit + ["--epochs", str(epoch + 1), "--resume", ckpt,
                                "--quiet"], capture_output=True, text=True)
    print(f"resume: status {out.returncode}, checkpoint epoch "
          f"{safetensors_read.checkpoint_epoch(ckpt)}")
    ok = out.returncode == 0 and safetensors_read.checkpoint_epoch(ckpt) == epoch + 1
    print("PASSED" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
