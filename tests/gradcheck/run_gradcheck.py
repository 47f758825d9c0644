#!/usr/bin/python3
"""Numeric gradient checks of compiled code (case table: cases.py).

Usage: run_gradcheck.py KILN_OPT KILNC WORKDIR [--filter SUBSTR] [--jobs N]

For each case: writes WORKDIR/<name>/loss.mlir and in<i>.npy, derives
@loss_grad (`KILN_OPT --kiln-derive-gradients=function=loss`), runs it once
with `KILNC run` (loss and analytic gradients), then evaluates the compiled
@loss at the unperturbed inputs (must give the same loss) and at x +- h e_i
for every element of every trainable argument (central differences,
h = 1e-6 * max(1, |x_i|)). The points are evaluated CHUNK at a time in one
JIT run each, through a driver fd<k>.mlir whose @fd calls the case's @loss
(made private and inlined by kilnc) once per point. Per element:

    |analytic - numeric| <= 1e-6 * max(1, |numeric|)

(cases.py states the policy and every per-case exception). Every trainable
argument must have a gradient that is not all zero (analytic and numeric),
except the zero-gradient checks, where it must be exactly zero. Cases run
two at a time (--jobs). WORKDIR/<name>/cmds.sh lists the commands run.

Then the explicit checks (cases.EXPLICIT): the issue's must-hold values,
printed with their values, and a few properties central differences cannot
express. Output:

  MUST-HOLD <description with values>: ok | FAILED
  PASS <case> [ops] <arg>: maxerr=<max |a - n|> (<max ratio to the tol>) ...
  FAIL <case> <reason: arg, index, input value, analytic vs numeric>
  gradcheck: N passed, M failed (T s)

Without --filter, an op of ir/KilnOps.td without a numeric case (or a
zero-gradient op without a zero check) is a failure too. Exits 1 if
anything failed.
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
import cases as table  # noqa: E402

TIMEOUT = 120


class Failure(Exception):
    pass


def run(cmd, cwd):
    with open(os.path.join(cwd, "cmds.sh"), "a") as f:
        f.write(" ".join(cmd) + "\n")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise Failure("%s timed out" % os.path.basename(cmd[0]))
    except OSError as e:
        raise Failure("cannot run %s: %s" % (cmd[0], e))
    return proc


def first_lines(text, n=4):
    lines = [l for l in text.splitlines() if l.strip()]
    return " | ".join(lines[:n])[:600]


def derive(kiln_opt, src, dst, cwd):
    proc = run([kiln_opt, "--kiln-derive-gradients=function=loss", src, "-o",
                dst], cwd)
    return proc


def run_entry(kilnc, mlir, entry, input_paths, n_out, cwd, tag):
    outs = [os.path.join(cwd, "%s_out%d.npy" % (tag, i)) for i in range(n_out)]
    for p in outs:
        if os.path.exists(p):
            os.remove(p)
    cmd = [kilnc, "run", mlir, "--entry", entry]
    for p in input_paths:
        cmd += ["--input", p]
    for p in outs:
        cmd += ["--output", p]
    proc = run(cmd, cwd)
    if proc.returncode != 0:
        raise Failure("kilnc run @%s exit %d: %s" % (
            entry, proc.returncode, first_lines(proc.stderr + proc.stdout)))
    return [np.load(p) for p in outs]


def save_inputs(cwd, values, prefix="in"):
    paths = []
    for i, v in enumerate(values):
        p = os.path.join(cwd, "%s%d.npy" % (prefix, i))
        np.save(p, v)
        paths.append(p)
    return paths


def index_text(idx):
    return "[%s]" % ", ".join(str(int(i)) for i in idx)


def check_case(case, kiln_opt, kilnc, workdir):
    """Returns (ok, text, seconds)."""
    start = time.time()
    ok, text = check_case_inner(case, kiln_opt, kilnc, workdir)
    return ok, text, time.time() - start


def check_case_inner(case, kiln_opt, kilnc, workdir):
    cwd = os.path.join(workdir, case.name)
    os.makedirs(cwd, exist_ok=True)
    open(os.path.join(cwd, "cmds.sh"), "w").close()
    src = os.path.join(cwd, "loss.mlir")
    with open(src, "w") as f:
        f.write(case.mlir)
    grad_mlir = os.path.join(cwd, "loss_grad.mlir")
    try:
        proc = derive(kiln_opt, src, grad_mlir, cwd)
        if proc.returncode != 0:
            raise Failure("kiln-opt exit %d: %s" % (
                proc.returncode, first_lines(proc.stderr)))
        base = save_inputs(cwd, case.inputs)
        train = case.trainable()
        outs = run_entry(kilnc, grad_mlir, "loss_grad", base, 1 + len(train),
                         cwd, "grad")
        loss = float(outs[0])
        numeric_args = [i for i in train
                        if case.kind(case.args[i]) in ("numeric", "zero")]
        loss0, nums = numeric_gradients(case, numeric_args, kilnc, cwd)
        if not np.isfinite(loss) or \
                abs(loss0 - loss) > 1e-12 * max(1.0, abs(loss)):
            raise Failure("@loss_grad's loss %r differs from @loss %r" % (
                loss, loss0))
        analytic = {}
        parts = []
        all_ok = True
        for k, i in enumerate(train):
            arg = case.args[i]
            g = outs[1 + k]
            analytic[arg.name] = g
            if g.shape != arg.value.shape or g.dtype != arg.value.dtype:
                raise Failure("gradient of %%%s has type %s%s, expected %s%s"
                              % (arg.name, g.dtype, list(g.shape),
                                 arg.value.dtype, list(arg.value.shape)))
            if not np.all(np.isfinite(g)):
                raise Failure("gradient of %%%s is not finite: %s" % (
                    arg.name, g))
            kind = case.kind(arg)
            if kind == "blocked":
                if np.any(g != 0):
                    raise Failure("%%%s reaches the loss only through "
                                  "stop_gradient but its gradient is %s" % (
                                      arg.name, g.tolist()))
                parts.append("%s: blocked, gradient 0" % arg.name)
                continue
            if isinstance(kind, tuple):
                want = np.asarray(kind[1])
                err = np.abs(g.astype(np.float64) - want)
                if np.any(err > 1e-15 * np.maximum(1.0, np.abs(want))):
                    idx = np.unravel_index(int(np.argmax(err)), err.shape)
                    raise Failure("%%%s%s: analytic %r, expected %r" % (
                        arg.name, index_text(idx), float(g[idx]),
                        float(want[idx])))
                parts.append("%s: exact (maxerr=%.2g)" % (arg.name, err.max()))
                continue
            num = nums[i]
            if kind == "zero":
                if np.any(g != 0) or np.any(np.abs(num) > case.tol):
                    raise Failure("%%%s should have a zero gradient: analytic "
                                  "%s, numeric %s" % (arg.name, g.tolist(),
                                                      num.tolist()))
                parts.append("%s: zero (analytic and numeric)" % arg.name)
                continue
            a = g.astype(np.float64)
            err = np.abs(a - num)
            bound = case.tol * np.maximum(1.0, np.abs(num))
            ratio = err / bound
            worst = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
            if ratio[worst] > 1.0:
                bad = int((ratio > 1.0).sum())
                all_ok = False
                parts.append(
                    "%s: %d of %d elements off; worst at %s (x=%r): analytic "
                    "%.17g vs numeric %.17g (|diff| %.3g > tol %.3g)" % (
                        arg.name, bad, err.size, index_text(worst),
                        float(arg.value[worst]), float(a[worst]),
                        float(num[worst]), float(err[worst]),
                        float(bound[worst])))
                continue
            if not np.any(a != 0) or not np.any(np.abs(num) > case.tol):
                raise Failure("%%%s: the gradient is all zero (analytic max "
                              "%.3g, numeric max %.3g): the check proves "
                              "nothing" % (arg.name, np.abs(a).max(),
                                           np.abs(num).max()))
            parts.append("%s: maxerr=%.2g (%.2g of tol)" % (
                arg.name, float(err.max()), float(ratio.max())))
        if case.check:
            errors = case.check(case, analytic)
            if errors:
                all_ok = False
                parts.extend(errors)
        return all_ok, "; ".join(parts)
    except Failure as e:
        return False, str(e)


# Points per JIT run. kilnc's compile time grows faster than linearly with
# the number of inlined @loss copies (25 copies of a 3-op @loss take ~1 s,
# 8 copies ~0.1 s, one copy ~0.04 s), so the points go in chunks of 8.
CHUNK = 8


def evaluate_points(case, points, cwd, kilnc):
    """loss at every point of `points` [(arg index, perturbed value)] (None:
    the unperturbed inputs), CHUNK points per JIT run: a driver @fd calls
    the case's @loss (made private, so kilnc inlines it) once per point."""
    losses = []
    for c in range(0, len(points), CHUNK):
        losses += evaluate_chunk(case, points[c:c + CHUNK], cwd, kilnc,
                                 c // CHUNK, c)
    return losses


def evaluate_chunk(case, points, cwd, kilnc, chunk, first):
    args = case.args
    params = ["%%a%d: %s" % (j, a.type) for j, a in enumerate(args)]
    calls = []
    paths = []
    for k, point in enumerate(points):
        operands = ["%%a%d" % j for j in range(len(args))]
        if point is not None:
            i, value = point
            params.append("%%p%d: %s" % (k, args[i].type))
            operands[i] = "%%p%d" % k
            p = os.path.join(cwd, "p%d.npy" % (first + k))
            np.save(p, value)
            paths.append(p)
        calls.append("  %%l%d = func.call @loss(%s) : (%s) -> tensor<f64>" % (
            k, ", ".join(operands), ", ".join(a.type for a in args)))
    results = ", ".join(["tensor<f64>"] * len(points))
    driver = case.mlir.replace("func.func @loss(", "func.func private @loss(",
                               1)
    driver += "func.func @fd(%s) -> (%s) {\n%s\n  return %s : %s\n}\n" % (
        ", ".join(params), results, "\n".join(calls),
        ", ".join("%%l%d" % k for k in range(len(points))), results)
    src = os.path.join(cwd, "fd%d.mlir" % chunk)
    with open(src, "w") as f:
        f.write(driver)
    base = [os.path.join(cwd, "in%d.npy" % j) for j in range(len(args))]
    # @fd's arguments: the base inputs, then one per perturbed point.
    outs = run_entry(kilnc, src, "fd", base + paths, len(points), cwd,
                     "fd%d" % chunk)
    return [float(o) for o in outs]


def numeric_gradients(case, arg_indices, kilnc, cwd):
    """The unperturbed loss and the central differences of the compiled
    @loss w.r.t. each argument of `arg_indices`."""
    points = [None]
    layout = []  # (arg index, element index, x+, x-)
    for i in arg_indices:
        x = case.args[i].value
        for idx in np.ndindex(*x.shape):
            xi = float(x[idx])
            h = case.h if case.h is not None else \
                table.H_REL * max(1.0, abs(xi))
            pair = []
            for sign in (1.0, -1.0):
                xp = x.copy()
                xp[idx] = xi + sign * h  # rounded to the argument's dtype
                pair.append(float(xp[idx]))
                points.append((i, xp))
            if pair[0] == pair[1]:
                raise Failure("perturbation of %%%s%s vanishes in %s" % (
                    case.args[i].name, index_text(idx), x.dtype))
            layout.append((i, idx, pair[0], pair[1]))
    losses = evaluate_points(case, points, cwd, kilnc)
    nums = {i: np.zeros(case.args[i].value.shape) for i in arg_indices}
    for n, (i, idx, xp, xm) in enumerate(layout):
        nums[i][idx] = (losses[1 + 2 * n] - losses[2 + 2 * n]) / (xp - xm)
    return losses[0], nums


def check_explicit(ex, kiln_opt, kilnc, workdir):
    """Returns [(ok, text)]."""
    cwd = os.path.join(workdir, ex.name)
    os.makedirs(cwd, exist_ok=True)
    open(os.path.join(cwd, "cmds.sh"), "w").close()
    src = os.path.join(cwd, "loss.mlir")
    with open(src, "w") as f:
        f.write(ex.mlir)
    grad_mlir = os.path.join(cwd, "loss_grad.mlir")
    try:
        proc = derive(kiln_opt, src, grad_mlir, cwd)
        if ex.expect_error:
            ok = proc.returncode != 0 and ex.expect_error in proc.stderr
            return [(ok, "kiln-opt %s: %s" % (
                "rejects it" if ok else "exit %d" % proc.returncode,
                first_lines(proc.stderr, 1) or "(no diagnostic)"))]
        if proc.returncode != 0:
            raise Failure("kiln-opt exit %d: %s" % (
                proc.returncode, first_lines(proc.stderr)))
        n_train = ex.mlir.count("{kiln.trainable}")
        outs = run_entry(kilnc, grad_mlir, "loss_grad",
                         save_inputs(cwd, ex.inputs), ex.n_results + n_train,
                         cwd, "grad")
        return ex.verify(outs)
    except Failure as e:
        return [(False, str(e))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("kiln_opt")
    ap.add_argument("kilnc")
    ap.add_argument("workdir")
    ap.add_argument("--filter", default="")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()

    cases = [c for c in table.build_cases() if args.filter in c.name]
    explicit = [e for e in table.build_explicit() if args.filter in e.name]
    os.makedirs(args.workdir, exist_ok=True)
    start = time.time()
    passed = failed = 0
    print("gradcheck: |analytic - numeric| <= %g * max(1, |numeric|), "
          "h = %g * max(1, |x|) unless a case states otherwise" % (
              table.TOL, table.H_REL))
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        ex_futures = [pool.submit(check_explicit, e, args.kiln_opt,
                                  args.kilnc, args.workdir) for e in explicit]
        futures = [pool.submit(check_case, c, args.kiln_opt, args.kilnc,
                               args.workdir) for c in cases]
        for ex, fut in zip(explicit, ex_futures):
            for ok, text in fut.result():
                if ex.must_hold:
                    print("MUST-HOLD %s: %s" % (text, "ok" if ok else
                                                "FAILED"))
                    if not ok:
                        print("FAIL %s" % ex.name)
                else:
                    print("%s %s: %s" % ("PASS" if ok else "FAIL", ex.name,
                                         text))
                passed += ok
                failed += not ok
            sys.stdout.flush()
        for case, fut in zip(cases, futures):
            ok, text, secs = fut.result()
            ops = ",".join(case.ops + case.zero_ops)
            if case.h is not None:
                text += " [h=%r: %s]" % (case.h, case.h_reason)
            if case.tol != table.TOL:
                text += " [tol=%g: %s]" % (case.tol, case.tol_reason)
            print("%s %s [%s] %s (%.1f s)" % ("PASS" if ok else "FAIL",
                                              case.name, ops, text, secs))
            passed += ok
            failed += not ok
            sys.stdout.flush()
    if not args.filter:
        for err in table.coverage_errors(table.build_cases()):
            print("FAIL coverage: %s" % err)
            failed += 1
    print("gradcheck: %d passed, %d failed (%.1f s)" % (
        passed, failed, time.time() - start))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
