#!/usr/bin/python3
"""Runs an ONNX model's @forward through `kilnc run` and compares the results
with expected .npy files.

    check_run.py KILNC MODEL.onnx WORKDIR --input NAME=FILE.npy ...
                 --expected FILE.npy ... [--rtol 1e-5]

The argument order of @forward is read from `kilnc MODEL --emit=kiln` (the
kiln.param / kiln.name attributes); params get the initializer values
(onnx.numpy_helper, external data loaded), inputs the given files. Prints one
line per result and PASS or FAIL; the exit status is 1 on failure.
"""
import argparse
import os
import re
import subprocess
import sys

import numpy as np


def kiln_layout(value, shape):
    """An initializer as kiln's param of `shape`: kiln stores Conv /
    ConvTranspose weight initializers channels-last ([K.., C/groups, F],
    ONNX's [F, C/groups, K..] permuted once at import)."""
    value = np.asarray(value)
    if value.shape != tuple(shape) and 3 <= value.ndim <= 5:
        perm = tuple(range(2, value.ndim)) + (1, 0)
        if value.transpose(perm).shape == tuple(shape):
            return value.transpose(perm).copy()
    return value


def forward_arguments(kilnc, model):
    text = subprocess.run([kilnc, model, "--emit=kiln", "-o", "-"],
                          check=True, capture_output=True, text=True).stdout
    header = next(line for line in text.splitlines()
                  if "func.func @forward(" in line)
    args_text = header.split(") -> ")[0]
    args = []
    for match in re.finditer(r"%arg\d+: tensor<([^>]*)> \{([^}]*)\}",
                             args_text):
        shape = tuple(int(d) for d in match.group(1).split("x")[:-1])
        attrs = match.group(2)
        param = re.search(r'kiln\.param = "([^"]*)"', attrs)
        name = re.search(r'kiln\.name = "([^"]*)"', attrs)
        if param:
            args.append(("param", param.group(1), shape))
        elif name:
            args.append(("input", name.group(1), shape))
        else:  # BatchNormalization's row mask (kiln.sample_weight)
            assert "kiln.sample_weight" in attrs, attrs
            args.append(("sample_weight", None, shape))
    return args


def initializers(model):
    import onnx
    from onnx import numpy_helper
    m = onnx.load(model)  # loads external data next to the model
    return {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("kilnc")
    parser.add_argument("model")
    parser.add_argument("workdir")
    parser.add_argument("--input", action="append", default=[])
    parser.add_argument("--expected", action="append", default=[])
    parser.add_argument("--rtol", type=float, default=1e-5)
    opts = parser.parse_args()

    os.makedirs(opts.workdir, exist_ok=True)
    inputs = dict(item.split("=", 1) for item in opts.input)
    inits = initializers(opts.model)
    files = []
    for i, (kind, name, shape) in enumerate(forward_arguments(opts.kilnc,
                                                       opts.model)):
        if kind == "input":
            files.append(inputs[name])
        elif kind == "sample_weight":  # every sample counts
            path = os.path.join(opts.workdir, "arg%d.npy" % i)
            np.save(path, np.ones(shape, np.float32))
            files.append(path)
        else:
            path = os.path.join(opts.workdir, "arg%d.npy" % i)
            np.save(path, kiln_layout(inits[name], shape))
            files.append(path)
    outputs = [os.path.join(opts.workdir, "out%d.npy" % i)
               for i in range(len(opts.expected))]
    cmd = [opts.kilnc, "run", opts.model, "--entry", "forward"]
    for f in files:
        cmd += ["--input", f]
    for f in outputs:
        cmd += ["--output", f]
    subprocess.run(cmd, check=True)

    ok = True
    print("tolerance %g relative" % opts.rtol)
    for i, (out, exp) in enumerate(zip(outputs, opts.expected)):
        got = np.load(out).astype(np.float64)
        want = np.load(exp).astype(np.float64)
        if got.shape != want.shape:
            print("result %d: FAIL shape %s, expected %s" %
                  (i, got.shape, want.shape))
            ok = False
            continue
        norm = np.linalg.norm(want)
        rel = np.linalg.norm(got - want) / norm if norm else \
            np.abs(got - want).max(initial=0)
        scale = np.abs(want).max(initial=0)
        elementwise = np.abs(got - want) <= opts.rtol * (np.abs(want) +
                                                         1e-2 * scale)
        good = rel <= opts.rtol and bool(elementwise.all())
        ok &= good
        print("result %d %s: relative distance %.2e %s" %
              (i, list(got.shape), rel, "ok" if good else "FAIL"))
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
