"""A sigmoid unit with binary cross-entropy (rewritten to its logits form by
kilnc's default pipeline) at logits that overflow to +-inf.

Usage: inf_logit_check.py KILNC WORKDIR

The model is Dense(1, sigmoid) on one feature; its kernel is set to 2 in a
checkpoint, so the samples x = 3e38 (label 1) and x = -3e38 (label 0) get
logits +inf and -inf: classified perfectly, each costs 0 (the limit), and
x = 1 (label 1) costs softplus(-2) = ln(1 + e^-2). Before the fix the
logits form computed inf - inf and evaluate printed "loss: nan" and fit
stopped with "the loss became NaN". Checks that evaluate gives
ln(1 + e^-2) / 3 (numpy, printed with 4 decimals) and that fit trains on
(loss finite, exit 0). Prints PASS/FAIL lines.
"""
import json
import math
import os
import struct
import subprocess
import sys

import numpy as np

KILNC, WORK = sys.argv[1], sys.argv[2]
os.makedirs(WORK, exist_ok=True)
FAILED = []


def run(args):
    return subprocess.run(args, capture_output=True, text=True)


def check(name, ok, text):
    print("%s %s: %s" % ("PASS" if ok else "FAIL", name, text))
    if not ok:
        FAILED.append(name)


src = os.path.join(WORK, "unit.mlir")
with open(src, "w") as f:
    f.write(
        "func.func @forward(%w: tensor<1x1xf32> {kiln.param = \"d/kernel\", "
        "kiln.trainable}, %b: tensor<1xf32> {kiln.param = \"d/bias\", "
        "kiln.trainable}, %x: tensor<3x1xf32> {kiln.name = \"x\"}) -> "
        "(tensor<3x1xf32> {kiln.name = \"y\"}) {\n"
        "  %0 = kiln.matmul %x, %w : tensor<3x1xf32>, tensor<1x1xf32> -> "
        "tensor<3x1xf32>\n"
        "  %1 = kiln.broadcast_in_dim %b, dims = [1] : tensor<1xf32> -> "
        "tensor<3x1xf32>\n"
        "  %2 = kiln.add %0, %1 : tensor<3x1xf32>\n"
        "  %3 = kiln.sigmoid %2 : tensor<3x1xf32>\n"
        "  return %3 : tensor<3x1xf32>\n}\n")
prog = os.path.join(WORK, "unit")
p = run([KILNC, src, "--loss=binary_crossentropy", "--metrics=accuracy",
         "--optimizer=sgd", "-o", prog])
if p.returncode:
    sys.exit(p.stderr)
data = os.path.join(WORK, "data.csv")
with open(data, "w") as f:
    f.write("x,label\n3e38,1\n-3e38,0\n1,1\n")

# A checkpoint with kernel 2, bias 0: from a --lr 0 run, values replaced.
ck = os.path.join(WORK, "ck.safetensors")
p = run([prog, "fit", "--data", data, "--label-column", "label", "--lr", "0",
         "--quiet", "--checkpoint", ck])
if p.returncode:
    sys.exit(p.stderr)
with open(ck, "rb") as f:
    blob = bytearray(f.read())
(n,) = struct.unpack("<Q", blob[:8])
header = json.loads(blob[8:8 + n])
for name, value in (("params/d/kernel", 2.0), ("params/d/bias", 0.0)):
    begin, end = header[name]["data_offsets"]
    blob[8 + n + begin:8 + n + end] = struct.pack("<f", value)
with open(ck, "wb") as f:
    f.write(blob)

want = math.log1p(math.exp(-2.0)) / 3
p = run([prog, "evaluate", "--data", data, "--label-column", "label",
         "--checkpoint", ck, "--quiet"])
out = p.stdout.strip()
ok = p.returncode == 0 and out.startswith("loss: %.4f " % want)
check("evaluate_inf_logits", ok, "%s (want loss %.4f = ln(1 + e^-2) / 3)" % (
    out or p.stderr.strip(), want))

hist = os.path.join(WORK, "h.json")
p = run([prog, "fit", "--data", data, "--label-column", "label", "--lr",
         "0.1", "--epochs", "2", "--resume", ck, "--quiet", "--history",
         hist])
losses = json.load(open(hist))["loss"] if p.returncode == 0 else []
ok = p.returncode == 0 and len(losses) == 2 and all(
    np.isfinite(losses))
check("fit_inf_logits", ok, "exit %d, losses %s %s" % (
    p.returncode, losses, p.stderr.strip()))

print("inf_logit_check: %d failed" % len(FAILED))
sys.exit(1 if FAILED else 0)
