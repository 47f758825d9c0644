#!/usr/bin/python3
"""Runs the optimizer cases (data/manifest.json, from gen_reference.py)
through kiln and compares with the golden data.

Usage: run_optimizers.py KILN_OPT KILNC WORKDIR [--data DIR] [--filter S]
                         [--jobs N]

For each case: writes WORKDIR/<case>/model.mlir (the controlled-gradient
model of gen_reference.py: dL/dp = x_p exactly), runs
`KILN_OPT --kiln-training-pipeline="loss=mean_absolute_error <options>"`,
checks the @train_step signature (optimizer-state slots named
<param>/<slot> per trainable parameter in order, then `step`; with fresh
state, kiln.initial_value equals the reference's initial state), then per
step runs `KILNC run train.mlir --entry train_step` on the current
parameters and state, that step's gradient (as the x inputs) and learning
rate, and compares the updated parameters, every slot and `step` with the
reference: per element |kiln - ref| <= rtol * max(|ref|, |before|) (rtol
1e-6, f32; `before` is the value the step started from, the size of the
operands of the final w - update, so that cancellation in the ONNX data,
e.g. onnx_adam_t3: 1.2 - 1.226 = -0.026, does not turn f32 rounding into a
failure; the generated cases avoid cancellation, so there this is |ref|);
the step counter exactly. The next step starts from kiln's own outputs.
Pinned values (numerics-conventions.md) must be within 4 f32 ulps of the
exact float64 formula value, which the generator checked rounds to the
design note's decimal.

Prints one line per case (PASS / FAIL / XFAIL / XPASS), a PINNED line per
pinned value, an UNMAPPED line per ONNX case without a kiln mapping, and
"optimizers: N passed, M failed" (XPASS counts as failed); exits 1 if any
case failed.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

LABEL = -1.0e6  # below every prediction: the MAE gradient is +1


def tensor_type(shape, dtype="f32"):
    return "tensor<%s%s>" % ("".join("%dx" % d for d in shape), dtype)


def model_text(params):
    """forward(params..., x_p...) -> [1]: sum_p sum(reshape(p) * x_p)."""
    args, body, terms = [], [], []
    for i, p in enumerate(params):
        attrs = 'kiln.param = "%s", kiln.trainable' % p["name"]
        if p["l2"]:
            attrs += ", kiln.l2 = %.17e : f64" % p["l2"]
        args.append("%%p%d: %s {%s}" % (i, tensor_type(p["shape"]), attrs))
    for i, p in enumerate(params):
        args.append('%%x%d: %s {kiln.name = "x_%s"}' % (
            i, tensor_type([1] + p["shape"]), p["name"]))
    for i, p in enumerate(params):
        shape, batched = p["shape"], [1] + p["shape"]
        body.append("  %%r%d = kiln.reshape %%p%d : %s -> %s" % (
            i, i, tensor_type(shape), tensor_type(batched)))
        body.append("  %%m%d = kiln.mul %%r%d, %%x%d : %s" % (
            i, i, i, tensor_type(batched)))
        axes = ", ".join(str(a) for a in range(1, len(batched)))
        body.append("  %%s%d = kiln.reduce_sum %%m%d {axes = array<i64: %s>} "
                    ": %s -> tensor<1xf32>" % (i, i, axes,
                                               tensor_type(batched)))
        terms.append("%%s%d" % i)
    acc = terms[0]
    for j, t in enumerate(terms[1:]):
        body.append("  %%a%d = kiln.add %s, %s : tensor<1xf32>" % (j, acc, t))
        acc = "%%a%d" % j
    return ("func.func @forward(%s) -> tensor<1xf32> {\n%s\n"
            "  return %s : tensor<1xf32>\n}\n" % (
                ",\n    ".join(args), "\n".join(body), acc))


def parse_state_args(text):
    """[(opt_state name, kiln.initial_value)] of @train_step, in order."""
    m = re.search(r"func\.func @train_step\((.*?)\)\s*->", text, re.S)
    if not m:
        return None
    out = []
    for attrs in re.findall(r"\{([^{}]*)\}", m.group(1)):
        name = re.search(r'kiln\.opt_state = "([^"]+)"', attrs)
        if name:
            init = re.search(r"kiln\.initial_value = ([-+0-9.eE]+) : f64",
                             attrs)
            out.append((name.group(1), float(init.group(1)) if init else None))
    return out


def run(cmd, log):
    with open(log, "a") as f:
        f.write(" ".join(cmd) + "\n")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return "timed out: " + cmd[0]
    except OSError as e:
        return "cannot run %s: %s" % (cmd[0], e)
    if proc.returncode != 0:
        lines = [l for l in (proc.stderr + proc.stdout).splitlines()
                 if l.strip()]
        return "%s exit %d: %s" % (os.path.basename(cmd[0]), proc.returncode,
                                   " | ".join(lines[:3])[:400])
    return None


def compare(got, exp, before, rtol, what):
    """Returns (max relative error, message or None): relative to
    max(|exp|, |before|) per element."""
    if got.dtype != exp.dtype or got.shape != exp.shape:
        return None, "%s: got %s%s, expected %s%s" % (
            what, got.dtype, got.shape, exp.dtype, exp.shape)
    g, e = got.astype(np.float64), exp.astype(np.float64)
    if not np.all(np.isfinite(g)):
        return None, "%s: non-finite values %s" % (what, got.ravel()[:4])
    err = np.abs(g - e)
    scale = np.maximum(np.abs(e), np.abs(before.astype(np.float64)))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(scale > 0, err / np.where(scale > 0, scale, 1),
                       np.where(err > 0, np.inf, 0.0))
    worst = float(rel.max()) if rel.size else 0.0
    if worst > rtol:
        i = np.unravel_index(int(np.argmax(rel)), rel.shape)
        return worst, "%s%s: got %.9g, expected %.9g (rel %.2g > %g)" % (
            what, list(i), g[i], e[i], worst, rtol)
    return worst, None


def check_gradient_model(kiln_opt, kilnc, workdir):
    """The premise of every case: kiln's gradient of the model is x_p, bit
    for bit (and x_p + 2 l2 w with kiln.l2). Runs @loss_grad directly.
    Returns an error message or None."""
    cdir = os.path.join(workdir, "gradient_model")
    os.makedirs(cdir, exist_ok=True)
    log = os.path.join(cdir, "cmd.sh")
    if os.path.exists(log):
        os.remove(log)
    rng = np.random.default_rng(7)
    params = [{"name": "kernel", "shape": [2, 3], "l2": 0.0},
              {"name": "bias", "shape": [3], "l2": 0.0},
              {"name": "scale", "shape": [4], "l2": 0.05}]
    model = os.path.join(cdir, "model.mlir")
    with open(model, "w") as f:
        f.write(model_text(params))
    grad = os.path.join(cdir, "grad.mlir")
    err = run([kiln_opt, model, "--kiln-attach-loss=loss=mean_absolute_error",
               "--kiln-derive-gradients=function=loss", "-o", grad], log)
    if err:
        return err
    ws = [rng.normal(size=p["shape"]).astype(np.float32) for p in params]
    # Gradients of all signs over nine decades.
    xs = [(rng.normal(size=[1] + p["shape"]) *
           10.0 ** rng.integers(-7, 2, [1] + p["shape"])).astype(np.float32)
          for p in params]
    ins = ws + xs + [np.array([LABEL], np.float32),
                     np.array([1.0], np.float32)]
    cmd = [kilnc, "run", grad, "--entry", "loss_grad"]
    for i, x in enumerate(ins):
        path = os.path.join(cdir, "in%d.npy" % i)
        np.save(path, x)
        cmd += ["--input", path]
    outs = [os.path.join(cdir, "out%d.npy" % i) for i in range(4 + len(params))]
    for path in outs:
        cmd += ["--output", path]
    err = run(cmd, log)
    if err:
        return err
    for p, w, x, path in zip(params, ws, xs, outs[4:]):
        g = np.load(path)
        if not p["l2"]:
            if not np.array_equal(g, x[0]):
                return "dL/d%s is not x_%s bit for bit: %s vs %s" % (
                    p["name"], p["name"], g.ravel()[:3], x[0].ravel()[:3])
            continue
        want = x[0].astype(np.float64) + 2 * p["l2"] * w.astype(np.float64)
        rel, msg = compare(g, want.astype(np.float32), g, 1e-6,
                           "dL/d%s with kiln.l2" % p["name"])
        if msg:
            return msg
    return None


def run_case(case, data_dir, kiln_opt, kilnc, workdir):
    """Returns (ok, max relative error, message, pinned results)."""
    name = case["name"]
    cdir = os.path.join(workdir, name)
    os.makedirs(cdir, exist_ok=True)
    log = os.path.join(cdir, "cmd.sh")
    if os.path.exists(log):
        os.remove(log)
    data = np.load(os.path.join(data_dir, name + ".npz"))
    params = case["params"]
    pnames = [p["name"] for p in params]
    slots = case["slots"]
    model = os.path.join(cdir, "model.mlir")
    with open(model, "w") as f:
        f.write(model_text(params))
    train = os.path.join(cdir, "train.mlir")
    err = run([kiln_opt, model, "--kiln-training-pipeline=loss="
               "mean_absolute_error " + case["options"], "-o", train], log)
    if err:
        return False, None, err, []
    with open(train) as f:
        state_args = parse_state_args(f.read())
    want = ["%s/%s" % (p, s) for p in pnames for s in slots] + ["step"]
    if state_args is None or [n for n, _ in state_args] != want:
        return False, None, "train_step state %s, expected %s" % (
            state_args and [n for n, _ in state_args], want), []
    if case["fresh_state"]:
        for (sname, init) in state_args:
            key = "init." + sname.replace("/", ".")
            if not np.all(data[key] == np.asarray(init, data[key].dtype)):
                return False, None, "%s: kiln.initial_value %r, reference " \
                    "starts at %r" % (sname, init, data[key].ravel()[0]), []

    cur = {"%s" % p: data["init.%s" % p] for p in pnames}
    for p in pnames:
        for s in slots:
            cur["%s.%s" % (p, s)] = data["init.%s.%s" % (p, s)]
    cur["step"] = data["init.step"]
    order = pnames + ["%s.%s" % (p, s) for p in pnames for s in slots] + \
        ["step"]
    worst = 0.0
    outputs_of_step = {}
    for k in range(1, case["steps"] + 1):
        sdir = os.path.join(cdir, "step%d" % k)
        os.makedirs(sdir, exist_ok=True)
        ins = [cur[key] for key in order]
        ins += [data["grad.%d.%s" % (k, p)][None] for p in pnames]
        ins += [np.array([LABEL], np.float32), np.array([1.0], np.float32),
                data["lr.%d" % k]]
        cmd = [kilnc, "run", train, "--entry", "train_step"]
        for i, x in enumerate(ins):
            path = os.path.join(sdir, "in%d.npy" % i)
            np.save(path, x)
            cmd += ["--input", path]
        outs = [os.path.join(sdir, "out%d.npy" % i)
                for i in range(4 + len(order))]
        for path in outs:
            if os.path.exists(path):
                os.remove(path)
            cmd += ["--output", path]
        err = run(cmd, log)
        if err:
            return False, None, "step %d: %s" % (k, err), []
        got = [np.load(path) for path in outs[4:]]
        for key, g in zip(order, got):
            exp = data["exp.%d.%s" % (k, key)]
            if key == "step":
                if not np.array_equal(g, exp):
                    return False, None, "step %d: step counter %s, " \
                        "expected %s" % (k, g, exp), []
                continue
            rel, msg = compare(g, exp, cur[key], case["rtol"],
                               "step %d %s" % (k, key))
            if msg:
                return False, rel, msg, []
            worst = max(worst, rel)
        cur = dict(zip(order, got))
        outputs_of_step[k] = dict(cur)

    pinned = []
    for pin in case["pinned"]:
        _, k, p = pin["key"].split(".", 2)
        value = np.float32(outputs_of_step[int(k)][p].ravel()[0])
        exact = pin["exact"]
        ulp = float(np.spacing(np.float32(abs(exact))))
        ok = abs(float(value) - exact) <= 4 * ulp
        pinned.append((ok, pin["label"], pin["doc"], float(value), exact))
        if not ok:
            return False, worst, "pinned %s: kiln %.9g, exact %.9g (doc %s)" \
                % (pin["label"], value, exact, pin["doc"]), pinned
    return True, worst, "", pinned


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("kiln_opt")
    ap.add_argument("kilnc")
    ap.add_argument("workdir")
    ap.add_argument("--data", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "data"))
    ap.add_argument("--filter", default="")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()

    with open(os.path.join(args.data, "manifest.json")) as f:
        manifest = json.load(f)
    cases = [c for c in manifest["cases"] if args.filter in c["name"]]
    os.makedirs(args.workdir, exist_ok=True)
    start = time.time()
    passed = failed = xfailed = 0
    err = check_gradient_model(args.kiln_opt, args.kilnc, args.workdir)
    if err:
        failed += 1
        print("FAIL gradient_model: %s" % err)
    else:
        passed += 1
        print("PASS gradient_model: dL/dp = x_p bit for bit (x_p + 2 l2 w "
              "with kiln.l2)")
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_case, c, args.data, args.kiln_opt,
                               args.kilnc, args.workdir) for c in cases]
        for case, fut in zip(cases, futures):
            ok, worst, msg, pinned = fut.result()
            tag = "%s [%s] steps=%d" % (case["name"], case["group"],
                                        case["steps"])
            err = "" if worst is None else " maxrel=%.2g" % worst
            if case["xfail"]:
                if ok:
                    failed += 1
                    print("XPASS %s%s [marked xfail: %s]" % (tag, err,
                                                            case["xfail"]))
                else:
                    xfailed += 1
                    print("XFAIL %s: %s [%s]" % (tag, msg, case["xfail"]))
            elif ok:
                passed += 1
                print("PASS %s%s" % (tag, err))
            else:
                failed += 1
                print("FAIL %s: %s" % (tag, msg))
            for pok, label, doc, value, exact in pinned:
                if pok:
                    print("PINNED %s = %s (kiln f32 %.9g, exact %.9g)" % (
                        label, doc, value, exact))
            sys.stdout.flush()
    if not args.filter:
        for u in manifest["unmapped"]:
            print("UNMAPPED %s: %s (%s)" % (u["name"], u["reason"],
                                            u["source"]))
    print("optimizers: %d passed, %d failed%s (%.1f s)" % (
        passed, failed, ", %d expected failures" % xfailed if xfailed else "",
        time.time() - start))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
