#!/usr/bin/python3
"""Kills kilnc while its HDF5 reader child hangs in libhdf5 and checks that
the child dies with it (tests/lit/frontend/keras/hdf5_isolation.test).

Usage: kill_reader_check.py KILNC HANG_H5
Starts `KILNC HANG_H5 --emit=kiln` with KILN_HDF5_TIMEOUT=100, waits until
it has a child, SIGKILLs kilnc, then checks within 5 s that the child is
gone (not reparented and left spinning). Prints PASSED or FAILED.
"""
import os
import signal
import subprocess
import sys
import time


def children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def alive(pid):
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def main():
    kilnc, hang = sys.argv[1:3]
    env = dict(os.environ, KILN_HDF5_TIMEOUT="100")
    proc = subprocess.Popen([kilnc, hang, "--emit=kiln"], env=env,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    kids = []
    while time.time() < deadline and not kids:
        kids = children(proc.pid)
        time.sleep(0.05)
    if not kids:
        print("FAILED: kilnc started no reader process")
        proc.kill()
        sys.exit(1)
    time.sleep(0.5)  # the child is inside libhdf5 now
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 5
    while time.time() < deadline and any(alive(k) for k in kids):
        time.sleep(0.05)
    left = [k for k in kids if alive(k)]
    for k in left:
        os.kill(k, signal.SIGKILL)
    print("FAILED: reader left running" if left else "PASSED: the reader died with kilnc")
    sys.exit(1 if left else 0)


if __name__ == "__main__":
    main()
