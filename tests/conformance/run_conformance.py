#!/usr/bin/python3
"""ONNX backend node-test conformance runner for kiln's ONNX importer.

    run_conformance.py KILNC WORKDIR [--filter PATTERN ...] [--supported-only]
                       [--jobs N] [--write-doc docs/onnx-conformance.md]

Generates the ONNX backend node test data from the installed (Debian
python3-onnx 1.12) package into WORKDIR/data (once; reused when
WORKDIR/data/.complete exists), then for every case under data/node:

  * with --supported-only, only the cases whose nodes all use op types
    that `kilnc --list-onnx-ops` prints are run;
  * `kilnc model.onnx --emit=kiln`; an "unsupported ONNX node" report makes
    the case `unsupported` (the reported op types are the reason);
  * a model with a BatchNormalization node in inference mode
    (training_mode 0, the default) is run in kiln's inference form
    (`kiln-opt --kiln-inference-form` on the imported module: what @predict
    and a model compiled without a loss run; kiln imports every
    BatchNormalization as its training form, whose @forward normalizes with
    the batch statistics);
  * otherwise every test_data_set_* is run with `kilnc run --entry forward`
    (params = initializers first, then the graph inputs, in the order of the
    @forward signature) and the results are compared with output_*.pb like
    onnx.backend.test.runner does: same dtype, then
    np.testing.assert_allclose(rtol=1e-3, atol=1e-7).

A case that fails and is listed in expected_failures.txt (`case: reason`)
counts as an expected failure. Prints one line per case and the summary
`conformance: P passed, F failed, U unsupported, X expected failures`;
exits with 1 on any unexpected failure (or an expected failure that passes,
which is reported as `unexpected pass` so the list stays accurate).
Use /usr/bin/python3 (numpy, onnx).
"""
import argparse
import concurrent.futures
import fnmatch
import glob
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
RTOL = 1e-3
ATOL = 1e-7
TIMEOUT = 300

# The op types kiln's ONNX importer supports (`kilnc --list-onnx-ops`), set
# by main(): with --supported-only, the cases whose nodes all use them; and
# when kilnc stops before its op check (an unsupported opset or domain, a
# non-tensor input), a case that also uses an op outside the set counts as
# unsupported, not as a failure of a supported op.
SUPPORTED_OPS = set()


def generate_data(workdir):
    data = os.path.join(workdir, "data")
    marker = os.path.join(data, ".complete")
    if os.path.exists(marker):
        return data
    if os.path.exists(data):
        shutil.rmtree(data)
    # onnx 1.12's generators still use the removed numpy aliases.
    code = ("import numpy as np\n"
            "np.float = float; np.int = int; np.bool = bool; "
            "np.object = object\n"
            "import sys\n"
            "from onnx.backend.test import cmd_tools\n"
            "sys.argv = ['cmd_tools', 'generate-data', '-o', %r]\n"
            "cmd_tools.main()\n" % data)
    subprocess.run([sys.executable, "-c", code], check=True,
                   stdout=subprocess.DEVNULL)
    open(marker, "w").close()
    return data


def load_expected_failures(path):
    result = {}
    if not os.path.exists(path):
        return result
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, _, reason = line.partition(":")
            result[name.strip()] = reason.strip()
    return result


def first_error(text):
    for line in text.splitlines():
        if "error:" in line:
            return line.split("error:", 1)[1].strip()
    lines = [l for l in text.splitlines() if l.strip()]
    return lines[-1].strip() if lines else "(no output)"


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


def forward_arguments(kiln_text):
    header = next(line for line in kiln_text.splitlines()
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


def compare(got, want):
    """Returns None if equal at the runner's tolerances, else a reason."""
    if got.dtype != want.dtype:
        return "dtype %s, expected %s" % (got.dtype, want.dtype)
    if got.shape != want.shape:
        return "shape %s, expected %s" % (got.shape, want.shape)
    try:
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    except AssertionError:
        if np.issubdtype(want.dtype, np.number) and want.size:
            diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
            diff = np.where(np.isnan(diff), np.inf, diff)
            return "values differ (max abs diff %.3g)" % np.nanmax(diff)
        return "values differ"
    return None


def run_case(kilnc, case_dir, scratch):
    """Returns (status, reason): status in pass / fail / unsupported."""
    import onnx
    from onnx import numpy_helper

    model_path = os.path.join(case_dir, "model.onnx")
    proc = subprocess.run([kilnc, model_path, "--emit=kiln", "-o", "-"],
                          capture_output=True, text=True, timeout=TIMEOUT)
    if proc.returncode != 0:
        err = proc.stderr + proc.stdout
        if "unsupported ONNX node" in err:
            ops = sorted(set(re.findall(r"node '[^']*': (\S+ \(opset \d+\))",
                                        err)))
            return "unsupported", "unsupported op " + ", ".join(ops)
        model = onnx.load(model_path)
        other = sorted({"%s%s" % (n.domain + "." if n.domain else "",
                                  n.op_type) for n in model.graph.node
                        if n.domain not in ("", "ai.onnx")
                        or n.op_type not in SUPPORTED_OPS})
        if other:
            return "unsupported", "unsupported op %s (kilnc stops earlier: " \
                "%s)" % (", ".join(other), first_error(err))
        return "fail", "import: " + first_error(err)
    try:
        args = forward_arguments(proc.stdout)
    except StopIteration:
        return "fail", "no @forward in the imported module"

    model = onnx.load(model_path)
    run_path = model_path
    if any(n.op_type == "BatchNormalization" and
           not any(a.name == "training_mode" and a.i
                   for a in n.attribute) for n in model.graph.node):
        os.makedirs(scratch, exist_ok=True)
        run_path = os.path.join(scratch, "inference.mlir")
        kiln_opt = os.path.join(os.path.dirname(kilnc), "kiln-opt")
        proc = subprocess.run([kiln_opt, "--kiln-inference-form", "-o",
                               run_path], input=proc.stdout,
                              capture_output=True, text=True,
                              timeout=TIMEOUT)
        if proc.returncode != 0:
            return "fail", "inference form: " + first_error(proc.stderr)
        with open(run_path) as f:  # without the sample-weight argument
            args = forward_arguments(f.read())
    inits = {t.name: numpy_helper.to_array(t)
             for t in model.graph.initializer}
    graph_inputs = [i.name for i in model.graph.input if i.name not in inits]
    graph_outputs = [o.name for o in model.graph.output]

    os.makedirs(scratch, exist_ok=True)
    sets = sorted(glob.glob(os.path.join(case_dir, "test_data_set_*")))
    if not sets:
        return "fail", "no test data sets"
    for ds in sets:
        ds_name = os.path.basename(ds)
        feeds = {}
        for i, pb in enumerate(sorted(glob.glob(os.path.join(ds,
                                                             "input_*.pb")),
                                      key=lambda p: int(re.findall(
                                          r"\d+", os.path.basename(p))[0]))):
            t = onnx.TensorProto()
            with open(pb, "rb") as f:
                t.ParseFromString(f.read())
            name = t.name or (graph_inputs[i] if i < len(graph_inputs)
                              else "input_%d" % i)
            feeds[name] = numpy_helper.to_array(t)
        want = []
        for i in range(len(graph_outputs)):
            pb = os.path.join(ds, "output_%d.pb" % i)
            t = onnx.TensorProto()
            with open(pb, "rb") as f:
                t.ParseFromString(f.read())
            want.append(numpy_helper.to_array(t))
        files = []
        for i, (kind, name, shape) in enumerate(args):
            if kind == "param":
                value = kiln_layout(inits[name], shape)
            elif kind == "sample_weight":  # every sample counts
                value = np.ones(shape, np.float32)
            elif name in feeds:
                value = feeds[name]
            else:
                return "fail", "%s: no data for input '%s'" % (ds_name, name)
            path = os.path.join(scratch, "%s_arg%d.npy" % (ds_name, i))
            np.save(path, np.asarray(value))  # keeps 0-d shapes
            files.append(path)
        outs = [os.path.join(scratch, "%s_out%d.npy" % (ds_name, i))
                for i in range(len(want))]
        cmd = [kilnc, "run", run_path, "--entry", "forward"]
        for f in files:
            cmd += ["--input", f]
        for f in outs:
            cmd += ["--output", f]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True,
                                  timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            return "fail", "run: timeout after %ds" % TIMEOUT
        if proc.returncode != 0:
            return "fail", "run: " + first_error(proc.stderr + proc.stdout)
        for i, (out, ref) in enumerate(zip(outs, want)):
            try:
                got = np.load(out)
            except Exception as e:  # noqa: BLE001
                return "fail", "%s output %d: cannot read: %s" % (ds_name, i,
                                                                  e)
            why = compare(got, ref)
            if why:
                return "fail", "%s output %d (%s): %s" % (
                    ds_name, i, graph_outputs[i], why)
    return "pass", ""


def write_doc(path, results, summary, argv_hint):
    with open(path, "w") as f:
        f.write("# ONNX backend node-test conformance\n\n")
        f.write("*Generated file, do not edit.* Regenerate from the "
                "repository root with `%s` (after building kilnc).\n\n"
                % argv_hint)
        f.write("Generated by `tests/conformance/run_conformance.py` from "
                "the ONNX backend node tests of Debian's python3-onnx 1.12 "
                "(`onnx.backend.test.cmd_tools generate-data`). Each case is "
                "imported with `kilnc`, run with `kilnc run --entry forward` "
                "(in kiln's inference form, `kiln-opt "
                "--kiln-inference-form`, when a BatchNormalization node is in "
                "inference mode) "
                "and compared with the reference outputs at the ONNX backend "
                "runner's tolerances (same dtype, rtol=1e-3, atol=1e-7). "
                "`unsupported`: the case uses an op outside the "
                "supported list (`kilnc --list-onnx-ops`; kilnc's "
                "unsupported-node report, or, when kilnc stops earlier, the "
                "model's op types); `expected "
                "failure`: listed with its reason in "
                "`tests/conformance/expected_failures.txt`.\n\n")
        f.write("%s\n\n" % summary)
        for name, status, reason in results:
            line = "- `%s`: %s" % (name, status)
            if reason:
                line += " — %s" % reason.replace("\n", " ")
            f.write(line + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kilnc")
    parser.add_argument("workdir")
    parser.add_argument("--filter", action="append", default=[],
                        help="fnmatch pattern(s) of case names to run")
    parser.add_argument("--supported-only", action="store_true",
                        help="only the cases whose nodes all use op types "
                        "of `kilnc --list-onnx-ops` (default domain)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--write-doc")
    parser.add_argument("--expected-failures",
                        default=os.path.join(HERE, "expected_failures.txt"))
    opts = parser.parse_args()

    kilnc = shutil.which(opts.kilnc) or os.path.abspath(opts.kilnc)
    listed = subprocess.run([kilnc, "--list-onnx-ops"], capture_output=True,
                            text=True, check=True).stdout.split()
    if not listed:
        sys.exit("run_conformance: kilnc --list-onnx-ops printed nothing")
    SUPPORTED_OPS.update(listed)
    os.makedirs(opts.workdir, exist_ok=True)
    start = time.time()
    data = generate_data(opts.workdir)
    node_dir = os.path.join(data, "node")
    cases = sorted(d for d in os.listdir(node_dir)
                   if os.path.isdir(os.path.join(node_dir, d)))
    if opts.filter:
        cases = [c for c in cases
                 if any(fnmatch.fnmatchcase(c, p) for p in opts.filter)]
    if opts.supported_only:
        import onnx

        def supported(name):
            model = onnx.load(os.path.join(node_dir, name, "model.onnx"))
            return all(n.domain in ("", "ai.onnx")
                       and n.op_type in SUPPORTED_OPS
                       for n in model.graph.node)
        cases = [c for c in cases if supported(c)]
    expected = load_expected_failures(opts.expected_failures)
    scratch_root = os.path.join(opts.workdir, "run")

    def work(name):
        try:
            return run_case(kilnc, os.path.join(node_dir, name),
                            os.path.join(scratch_root, name))
        except subprocess.TimeoutExpired:
            return "fail", "timeout after %ds" % TIMEOUT
        except Exception as e:  # noqa: BLE001
            return "fail", "runner error: %s: %s" % (type(e).__name__, e)

    with concurrent.futures.ThreadPoolExecutor(max(1, opts.jobs)) as pool:
        outcomes = list(pool.map(work, cases))

    counts = {"pass": 0, "fail": 0, "unsupported": 0, "xfail": 0}
    unexpected_pass = []
    results = []
    for name, (status, reason) in zip(cases, outcomes):
        if status == "fail" and name in expected:
            counts["xfail"] += 1
            results.append((name, "expected failure", expected[name]))
            print("XFAIL %s: %s [%s]" % (name, expected[name], reason))
            continue
        if status == "pass" and name in expected:
            unexpected_pass.append(name)
        counts[status] += 1
        results.append((name, status, reason))
        tag = {"pass": "PASS", "fail": "FAIL",
               "unsupported": "UNSUPPORTED"}[status]
        print("%s %s%s" % (tag, name, ": " + reason if reason else ""))
    for name in unexpected_pass:
        print("UNEXPECTED PASS %s (listed in %s)" %
              (name, os.path.basename(opts.expected_failures)))
    summary = ("conformance: %d passed, %d failed, %d unsupported, "
               "%d expected failures" % (counts["pass"], counts["fail"],
                                         counts["unsupported"],
                                         counts["xfail"]))
    print(summary)
    print("time: %.1f s" % (time.time() - start))
    if opts.write_doc:
        write_doc(opts.write_doc, results, summary,
                  "/usr/bin/python3 tests/conformance/run_conformance.py "
                  "build/bin/kilnc /tmp/kiln-conformance "
                  "--write-doc docs/onnx-conformance.md --jobs 2")
    return 1 if counts["fail"] or unexpected_pass else 0


if __name__ == "__main__":
    sys.exit(main())
