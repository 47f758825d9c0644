#!/usr/bin/python3
"""Runs the numeric case table (cases.py) through `kilnc run`.

Usage: run_numeric.py KILNC WORKDIR [--filter SUBSTR] [--jobs N] [--verbose]

For each case: writes WORKDIR/<name>_<dtype>/case.mlir and in<i>.npy, runs
`KILNC run case.mlir --entry f --input ... --output out<i>.npy` (two
processes at a time), and compares every result with the float64 reference
of the case under its stated tolerance (see the policy in cases.py):
dtype and shape must match, NaN and +-inf positions must match exactly, the
remaining elements satisfy |got - ref| <= atol + rtol*|ref|. Integer and
bool results are compared exactly. Prints one line per case

  PASS <name> <dtype> maxerr=<max |got - ref|> (<max ratio to the tolerance>)
  FAIL <name> <dtype> <reason>
  XFAIL / XPASS for cases marked as expected failures

and a summary line "numeric: N passed, M failed" (XPASS counts as failed);
exits 1 if any case failed. --filter keeps the cases whose "<name>_<dtype>"
contains SUBSTR.
"""
import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cases as case_table  # noqa: E402

NP_OF = {"f32": np.float32, "f64": np.float64, "i32": np.int32,
         "i64": np.int64, "i1": np.bool_}


def describe_mismatch(idx, got, exp, inputs):
    """A short "at [i, j]: got G, expected E (inputs ...)" text."""
    idx = tuple(int(i) for i in idx)
    where = list(idx)
    ins = []
    for k, x in enumerate(inputs):
        if x.shape == got.shape:
            ins.append("in%d=%r" % (k, x[idx].item()))
    return "at %s: got %r, expected %r%s" % (
        where, got[idx].item(), exp[idx].item(),
        (" (" + ", ".join(ins) + ")") if ins else "")


def compare(got, exp, tol, out_type, inputs):
    """Returns (ok, maxerr, ratio, message)."""
    want = np.dtype(NP_OF[out_type])
    if got.dtype != want:
        return False, None, None, "dtype %s, expected %s" % (got.dtype, want)
    if got.shape != exp.shape:
        return False, None, None, "shape %s, expected %s" % (got.shape,
                                                            exp.shape)
    if got.dtype.kind in "iub":
        bad = got != exp.astype(got.dtype)
        if bad.any():
            idx = np.argwhere(bad)[0]
            return False, None, None, "%d of %d elements differ; %s" % (
                bad.sum(), bad.size, describe_mismatch(idx, got, exp, inputs))
        return True, 0.0, 0.0, ""
    g = got.astype(np.float64)
    e = exp.astype(np.float64)
    with np.errstate(all="ignore"):
        # An f32 result overflows where the float64 reference leaves the
        # f32 range: expect the infinity f32 rounding gives.
        if out_type == "f32":
            e32 = e.astype(np.float32).astype(np.float64)
            e = np.where(np.isfinite(e) & ~np.isfinite(e32), e32, e)
    nan_g, nan_e = np.isnan(g), np.isnan(e)
    if (nan_g != nan_e).any():
        idx = np.argwhere(nan_g != nan_e)[0]
        return False, None, None, "NaN mismatch; " + describe_mismatch(
            idx, got, e, inputs)
    inf_e = np.isinf(e)
    inf_mis = (np.isinf(g) | inf_e) & (g != e)
    if inf_mis.any():
        idx = np.argwhere(inf_mis)[0]
        return False, None, None, "inf mismatch; " + describe_mismatch(
            idx, got, e, inputs)
    fin = np.isfinite(e)
    tiny = float(np.finfo(NP_OF[out_type]).tiny)
    atol = np.broadcast_to(np.asarray(tol.atol, np.float64), e.shape)
    exact = tol.rtol == 0 and not np.any(atol)
    ef = np.where(fin, e, 0.0)
    bound = np.maximum(atol, 0.0 if exact else tiny) + tol.rtol * np.abs(ef)
    err = np.abs(np.where(fin, g, 0.0) - ef)
    maxerr = float(err.max()) if err.size else 0.0
    with np.errstate(all="ignore"):
        ratio_arr = np.where(bound > 0, err / np.where(bound > 0, bound, 1),
                             np.where(err > 0, np.inf, 0.0))
    ratio = float(ratio_arr.max()) if err.size else 0.0
    bad = fin & (err > bound)
    if bad.any():
        idx = np.unravel_index(int(np.argmax(np.where(bad, ratio_arr, -1))),
                               e.shape)
        return False, maxerr, ratio, "%d of %d elements off (%r); %s" % (
            bad.sum(), bad.size, tol, describe_mismatch(idx, got, e, inputs))
    return True, maxerr, ratio, ""


def run_case(case, kilnc, workdir):
    cdir = os.path.join(workdir, case.id)
    os.makedirs(cdir, exist_ok=True)
    mlir = os.path.join(cdir, "case.mlir")
    with open(mlir, "w") as f:
        f.write(case.mlir)
    cmd = [kilnc, "run", mlir, "--entry", "f"]
    for i, x in enumerate(case.inputs):
        path = os.path.join(cdir, "in%d.npy" % i)
        np.save(path, x)
        cmd += ["--input", path]
    outs = [os.path.join(cdir, "out%d.npy" % i)
            for i in range(len(case.result_types))]
    for path in outs:
        if os.path.exists(path):
            os.remove(path)
        cmd += ["--output", path]
    with open(os.path.join(cdir, "cmd.sh"), "w") as f:
        f.write(" ".join(cmd) + "\n")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=120)
    except subprocess.TimeoutExpired:
        return False, None, None, "kilnc timed out"
    except OSError as e:
        return False, None, None, "cannot run %s: %s" % (kilnc, e)
    if proc.returncode != 0:
        lines = [l for l in (proc.stderr + proc.stdout).splitlines()
                 if l.strip() and not l.lstrip().startswith("#")]
        msg = " | ".join(lines[:3])
        return False, None, None, "kilnc exit %d: %s" % (proc.returncode,
                                                         msg[:400])
    expected = case.reference()
    if len(expected) != len(outs):
        return False, None, None, "reference has %d results, case %d" % (
            len(expected), len(outs))
    maxerr, ratio = 0.0, 0.0
    results = []
    for i, (path, exp, tol, rt) in enumerate(zip(outs, expected, case.tols,
                                                 case.result_types)):
        got = np.load(path)
        results.append(got)
        ok, m, q, msg = compare(got, exp, tol, rt, case.inputs)
        if not ok:
            return False, m, q, "result %d: %s" % (i, msg)
        maxerr, ratio = max(maxerr, m), max(ratio, q)
    if case.check:
        errors = case.check(case.inputs, results)
        if errors:
            return False, maxerr, ratio, "; ".join(errors)
    return True, maxerr, ratio, ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("kilnc")
    ap.add_argument("workdir")
    ap.add_argument("--filter", default="")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()

    all_cases = case_table.build_cases()
    selected = [c for c in all_cases if args.filter in c.id]
    ids = [c.id for c in selected]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        sys.exit("duplicate case ids: %s" % sorted(dup))
    os.makedirs(args.workdir, exist_ok=True)
    start = time.time()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_case, c, args.kilnc, args.workdir)
                   for c in selected]
        passed = failed = xfailed = 0
        for case, fut in zip(selected, futures):
            ok, maxerr, ratio, msg = fut.result()
            err = "" if maxerr is None else "maxerr=%.3g (%.2f of tol)" % (
                maxerr, ratio)
            if case.xfail:
                if ok:
                    failed += 1
                    print("XPASS %s %s %s [marked xfail: %s]" % (
                        case.name, case.dtype, err, case.xfail))
                else:
                    xfailed += 1
                    print("XFAIL %s %s %s [%s]" % (case.name, case.dtype, msg,
                                                   case.xfail))
            elif ok:
                passed += 1
                print("PASS %s %s %s" % (case.name, case.dtype, err))
            else:
                failed += 1
                print("FAIL %s %s %s" % (case.name, case.dtype, msg))
            sys.stdout.flush()
    if not args.filter:
        # Every op of ir/KilnOps.td has at least one f32 and one f64 case.
        for m, dt in case_table.missing_coverage(all_cases):
            failed += 1
            print("FAIL coverage %s: no case uses kiln.%s" % (dt, m))
    print("numeric: %d passed, %d failed%s (%.1f s)" % (
        passed, failed, ", %d expected failures" % xfailed if xfailed else "",
        time.time() - start))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
