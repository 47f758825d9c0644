"""Compares two fit history CSV files (epoch, then one column per metric).

Usage: compare_history.py A B [--rtol R]
Every column but `epoch` must agree within |a - b| <= rtol * |b| (default
1e-5); prints the largest relative difference; exits 1 otherwise, or when
the headers or row counts differ.
"""
import argparse
import csv
import sys


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], [[float(v) for v in r] for r in rows[1:]]


p = argparse.ArgumentParser()
p.add_argument("a")
p.add_argument("b")
p.add_argument("--rtol", type=float, default=1e-5)
args = p.parse_args()
(ha, a), (hb, b) = read(args.a), read(args.b)
if ha != hb or len(a) != len(b) or not a:
    print(f"headers or rows differ: {ha} x {len(a)} vs {hb} x {len(b)}")
    sys.exit(1)
worst = 0.0
bad = False
for ra, rb in zip(a, b):
    for name, x, y in zip(ha, ra, rb):
        if name == "epoch":
            continue
        d = abs(x - y)
        worst = max(worst, d / abs(y) if y else d)
        bad |= d > args.rtol * abs(y)
print(f"{len(a)} epochs, columns {','.join(ha[1:])}: max relative difference "
      f"{worst:.3g}{' FAIL' if bad else ''}")
sys.exit(1 if bad else 0)
