"""Class and sample weights in fit/evaluate against a torch reference.

Usage: sample_weight_check.py KILNC WORKDIR

Keras 3 semantics (docs/spec.md "Sample and class weights"):
  - class_weight: each training sample weighs class_weight[label] (sparse
    labels; round() of [N, 1] binary labels; argmax of one-hot labels),
    classes not listed weigh 1; validation data get no class weights;
  - the loss of a batch is sum(w l) / n (reduction sum_over_batch_size),
    n the batch's samples (zero-weight samples count, padding does not);
  - the epoch loss is sum over batches of (batch loss * n) / N; metrics are
    sample-weighted means sum(w m) / sum(w).

Two models with a batch of 4 and 10 samples (batches of 4, 4 and 2, so the
last one is padded), trained one epoch with SGD (no shuffle) from the
initial parameters of a --lr 0 run: a 3-class linear model with sparse
softmax cross-entropy from logits and --class-weight, and a sigmoid unit
with binary cross-entropy (rewritten to logits) and --sample-weight-column
(one sample of weight 0). The reference recomputes the same steps in f64
torch; parameters, history values and a weighted evaluate must agree within
1e-5 (relative). Then the usage errors. Prints PASS/FAIL lines.
"""
import json
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_read  # noqa: E402

KILNC, WORK = sys.argv[1], sys.argv[2]
os.makedirs(WORK, exist_ok=True)
FAILED = []
TOL = 1e-5


def run(args, expect_ok=True):
    p = subprocess.run(args, capture_output=True, text=True)
    if expect_ok and p.returncode != 0:
        sys.exit("command failed: %s\n%s%s" % (" ".join(args), p.stdout,
                                                p.stderr))
    return p


def check(name, ok, text):
    print("%s %s: %s" % ("PASS" if ok else "FAIL", name, text))
    if not ok:
        FAILED.append(name)


def close(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b))))


MODELS = {
    "multiclass": (
        "func.func @forward(%w: tensor<3x3xf32> {kiln.param = \"d/kernel\", "
        "kiln.trainable}, %b: tensor<3xf32> {kiln.param = \"d/bias\", "
        "kiln.trainable}, %x: tensor<4x3xf32> {kiln.name = \"x\"}) -> "
        "(tensor<4x3xf32> {kiln.name = \"y\"}) {\n"
        "  %0 = kiln.matmul %x, %w : tensor<4x3xf32>, tensor<3x3xf32> -> "
        "tensor<4x3xf32>\n"
        "  %1 = kiln.broadcast_in_dim %b, dims = [1] : tensor<3xf32> -> "
        "tensor<4x3xf32>\n"
        "  %2 = kiln.add %0, %1 : tensor<4x3xf32>\n"
        "  return %2 : tensor<4x3xf32>\n}\n",
        ["--loss=sparse_categorical_crossentropy", "--from-logits",
         "--metrics=accuracy"]),
    "binary": (
        "func.func @forward(%w: tensor<3x1xf32> {kiln.param = \"d/kernel\", "
        "kiln.trainable}, %b: tensor<1xf32> {kiln.param = \"d/bias\", "
        "kiln.trainable}, %x: tensor<4x3xf32> {kiln.name = \"x\"}) -> "
        "(tensor<4x1xf32> {kiln.name = \"y\"}) {\n"
        "  %0 = kiln.matmul %x, %w : tensor<4x3xf32>, tensor<3x1xf32> -> "
        "tensor<4x1xf32>\n"
        "  %1 = kiln.broadcast_in_dim %b, dims = [1] : tensor<1xf32> -> "
        "tensor<4x1xf32>\n"
        "  %2 = kiln.add %0, %1 : tensor<4x1xf32>\n"
        "  %3 = kiln.sigmoid %2 : tensor<4x1xf32>\n"
        "  return %3 : tensor<4x1xf32>\n}\n",
        ["--loss=binary_crossentropy", "--metrics=accuracy"]),
}

rng = np.random.default_rng(7)
N = 10
X = rng.normal(size=(N, 3)).astype(np.float32)
Y3 = np.array([0, 1, 2, 1, 0, 2, 2, 1, 0, 2])
Y2 = np.array([1, 0, 1, 1, 0, 0, 1, 0, 1, 1])
SW = np.array([1.0, 2.5, 0.0, 1.0, 0.5, 3.0, 1.0, 2.0, 0.25, 1.5],
              np.float32)
CLASS_WEIGHT = {0: 1.0, 1: 3.5, 2: 0.5}
LR = 0.1


def write_csv(path, labels, weights=None):
    with open(path, "w") as f:
        f.write("a,b,label%s,c\n" % (",w" if weights is not None else ""))
        for i in range(N):
            cols = [repr(float(X[i, 0])), repr(float(X[i, 1])),
                    str(int(labels[i]))]
            if weights is not None:
                cols.append(repr(float(weights[i])))
            cols.append(repr(float(X[i, 2])))
            f.write(",".join(cols) + "\n")


def compile_model(name):
    src = os.path.join(WORK, name + ".mlir")
    with open(src, "w") as f:
        f.write(MODELS[name][0])
    exe = os.path.join(WORK, name)
    run([KILNC, src, *MODELS[name][1], "--optimizer=sgd", "-o", exe])
    return exe


def per_sample_loss(kind, z, y):
    if kind == "multiclass":
        return torch.nn.functional.cross_entropy(z, y, reduction="none")
    return torch.nn.functional.binary_cross_entropy_with_logits(
        z[:, 0], y.double(), reduction="none")


def matches(kind, z, y):
    if kind == "multiclass":
        return (z.argmax(1) == y).double()
    return ((z[:, 0] > 0) == (y > 0.5)).double()


def reference(kind, params, y, w):
    """One epoch of Keras fit (batches of 4, no shuffle) in f64: returns the
    parameters after it, the epoch loss and the weighted accuracy."""
    W = torch.tensor(params["d/kernel"], dtype=torch.float64,
                     requires_grad=True)
    b = torch.tensor(params["d/bias"], dtype=torch.float64,
                     requires_grad=True)
    x = torch.tensor(X, dtype=torch.float64)
    yt = torch.tensor(y)
    wt = torch.tensor(w, dtype=torch.float64)
    loss_sum = acc_sum = w_sum = 0.0
    for start in range(0, N, 4):
        s = slice(start, min(N, start + 4))
        z = x[s] @ W + b
        l = per_sample_loss(kind, z, yt[s])
        loss = (wt[s] * l).sum() / l.shape[0]  # sum_over_batch_size
        loss_sum += float(loss) * l.shape[0]
        acc_sum += float((wt[s] * matches(kind, z.detach(), yt[s])).sum())
        w_sum += float(wt[s].sum())
        W.grad = b.grad = None
        loss.backward()
        with torch.no_grad():
            W -= LR * W.grad
            b -= LR * b.grad
    return ({"d/kernel": W.detach().numpy(), "d/bias": b.detach().numpy()},
            loss_sum / N, acc_sum / w_sum)


def evaluate_reference(kind, params, y, w):
    W = torch.tensor(params["d/kernel"], dtype=torch.float64)
    b = torch.tensor(params["d/bias"], dtype=torch.float64)
    z = torch.tensor(X, dtype=torch.float64) @ W + b
    yt = torch.tensor(y)
    wt = torch.tensor(w, dtype=torch.float64)
    loss = float((wt * per_sample_loss(kind, z, yt)).sum()) / N
    acc = float((wt * matches(kind, z, yt)).sum() / wt.sum())
    return loss, acc


def params(path):
    tensors, _ = safetensors_read.read(path)
    return {k[len("params/"):]: v for k, v in tensors.items()
            if k.startswith("params/")}


def fit_case(kind, exe, csv, extra, weights, label_set):
    base = [exe, "fit", "--data", csv, "--label-column", "label",
            "--epochs", "1", "--no-shuffle", "--seed", "3", "--quiet"]
    ck0 = os.path.join(WORK, kind + "_ck0.safetensors")
    ck1 = os.path.join(WORK, kind + "_ck1.safetensors")
    hist = os.path.join(WORK, kind + "_history.json")
    for p in (ck0, ck1, hist):
        if os.path.exists(p):
            os.remove(p)
    run(base + extra + ["--lr", "0", "--checkpoint", ck0])
    run(base + extra + ["--lr", str(LR), "--checkpoint", ck1,
                        "--history", hist])
    p0, p1 = params(ck0), params(ck1)
    want, want_loss, want_acc = reference(kind, p0, label_set, weights)
    with open(hist) as f:
        h = json.load(f)
    acc_key = [k for k in h if k.endswith("accuracy")][0]
    err = max(close(p1["d/kernel"], want["d/kernel"]),
              close(p1["d/bias"], want["d/bias"]))
    check("%s_sgd_step" % kind, err <= TOL,
          "parameters after one weighted epoch vs torch: max rel err %.2g" %
          err)
    err_loss = close(h["loss"][0], want_loss)
    err_acc = close(h[acc_key][0], want_acc)
    check("%s_history" % kind, err_loss <= TOL and err_acc <= TOL,
          "loss %.7g (torch %.7g), %s %.7g (torch %.7g)" % (
              h["loss"][0], want_loss, acc_key, h[acc_key][0], want_acc))
    return p1


# --- 3 classes, --class-weight (CLI spelling and JSON file) ---------------
multi = compile_model("multiclass")
csv3 = os.path.join(WORK, "multi.csv")
write_csv(csv3, Y3)
cw = np.array([CLASS_WEIGHT[int(c)] for c in Y3], np.float32)
fit_case("multiclass", multi, csv3, ["--class-weight", "0:1,1:3.5,2:0.5"],
         cw, Y3)
cw_json = os.path.join(WORK, "class_weight.json")
with open(cw_json, "w") as f:
    json.dump({"1": 3.5, "2": 0.5}, f)  # class 0 not listed: weight 1
ck_cli = params(os.path.join(WORK, "multiclass_ck1.safetensors"))
fit_case("multiclass", multi, csv3, ["--class-weight", cw_json], cw, Y3)
ck_json = params(os.path.join(WORK, "multiclass_ck1.safetensors"))
same = all(np.array_equal(ck_cli[k], ck_json[k]) for k in ck_cli)
check("class_weight_json", same,
      "a .json class_weight file trains bit for bit as 0:1,1:3.5,2:0.5")

# Unit weights reproduce the unweighted run bit for bit.
run([multi, "fit", "--data", csv3, "--label-column", "label", "--epochs",
     "1", "--no-shuffle", "--seed", "3", "--quiet", "--lr", str(LR),
     "--checkpoint", os.path.join(WORK, "plain.safetensors")])
run([multi, "fit", "--data", csv3, "--label-column", "label", "--epochs",
     "1", "--no-shuffle", "--seed", "3", "--quiet", "--lr", str(LR),
     "--class-weight", "0:1,1:1", "--checkpoint",
     os.path.join(WORK, "ones.safetensors")])
a = params(os.path.join(WORK, "plain.safetensors"))
b = params(os.path.join(WORK, "ones.safetensors"))
check("unit_class_weights", all(np.array_equal(a[k], b[k]) for k in a),
      "class weights of 1 train bit for bit as no weights")

# --- binary, --sample-weight-column (a zero weight) ------------------------
binary = compile_model("binary")
csv2 = os.path.join(WORK, "binary.csv")
write_csv(csv2, Y2, SW)
p1 = fit_case("binary", binary, csv2, ["--sample-weight-column", "w"], SW,
              Y2)

# evaluate with a weight file (NPY) and with the column.
csv2plain = os.path.join(WORK, "binary_plain.csv")
write_csv(csv2plain, Y2)
npy = os.path.join(WORK, "w.npy")
np.save(npy, SW)
ck1 = os.path.join(WORK, "binary_ck1.safetensors")
want_loss, want_acc = evaluate_reference("binary", p1, Y2, SW)
for how, extra in (("file", ["--sample-weight", npy]),
                   ("column", ["--sample-weight-column", "w"])):
    data = csv2plain if how == "file" else csv2
    out = run([binary, "evaluate", "--data", data, "--label-column",
               "label", "--checkpoint", ck1, "--quiet"] + extra).stdout
    values = dict(part.split(": ") for part in out.strip().split(" - "))
    err = max(close(float(values["loss"]), want_loss),
              close(float(values["accuracy"]), want_acc))
    # evaluate prints 4 decimals.
    check("evaluate_weights_%s" % how, err <= 1e-4,
          "%s vs torch loss %.4f, binary_accuracy %.4f" % (
              out.strip(), want_loss, want_acc))

# Validation data get no class weights (Keras): with --validation-split the
# val_loss equals an unweighted evaluate of the held-out samples.
hist = os.path.join(WORK, "split_history.json")
ck = os.path.join(WORK, "split.safetensors")
run([multi, "fit", "--data", csv3, "--label-column", "label", "--epochs",
     "1", "--no-shuffle", "--seed", "3", "--quiet", "--lr", str(LR),
     "--validation-split", "0.2", "--class-weight", "0:1,1:3.5,2:0.5",
     "--checkpoint", ck, "--history", hist])
held = os.path.join(WORK, "held.csv")
with open(csv3) as f:
    lines = f.readlines()
with open(held, "w") as f:
    f.writelines([lines[0]] + lines[-2:])
out = run([multi, "evaluate", "--data", held, "--label-column", "label",
           "--checkpoint", ck, "--quiet"]).stdout
with open(hist) as f:
    val_loss = json.load(f)["val_loss"][0]
evaluated = float(out.split(" - ")[0].split(": ")[1])
check("validation_unweighted", abs(val_loss - evaluated) <= 5e-5,
      "val_loss %.6f, unweighted evaluate of the held-out samples %s" % (
          val_loss, out.strip()))

# --- usage errors -----------------------------------------------------------
bad_npy = os.path.join(WORK, "short.npy")
np.save(bad_npy, SW[:7])
neg_npy = os.path.join(WORK, "neg.npy")
np.save(neg_npy, np.where(np.arange(N) == 4, -1.0, 1.0))
# The same weights as a CSV file (header "w", sample 5 on line 6), once
# more under a name without .csv (CSV by content), and as the w column.
neg_csv = os.path.join(WORK, "neg.csv")
neg_txt = os.path.join(WORK, "neg_weights")
for path in (neg_csv, neg_txt):
    with open(path, "w") as f:
        f.write("w\n" + "".join("%g\n" % (-1.0 if i == 4 else 1.0)
                                for i in range(N)))
csv2neg = os.path.join(WORK, "binary_neg.csv")
write_csv(csv2neg, Y2, np.where(np.arange(N) == 4, -1.0, SW))
# Two bad weights: both are listed.
csv2bad = os.path.join(WORK, "binary_bad.csv")
write_csv(csv2bad, Y2, np.where(np.arange(N) == 1, -2.0,
                                np.where(np.arange(N) == 6, np.inf, SW)))
dup_json = os.path.join(WORK, "dup.json")
with open(dup_json, "w") as f:
    f.write('{"0": 1, "1": 2, "0": 3, "1": 4}')
ERRORS = [
    (["--class-weight", "0:1,3:2"], "class 3 is not a class of the model's "
     "labels (classes 0 to 1, from its output of 1 unit)"),
    (["--class-weight", "0:-1"], "the weight of class 0 is not a finite "
     "number >= 0"),
    (["--class-weight", "0:1,0:2"], "class 0 is given twice"),
    (["--class-weight", "zero:1"], "class 'zero' is not an integer class id"),
    (["--sample-weight", bad_npy], "sample weights have shape [7] but the "
     "data has 10 samples"),
    (["--sample-weight", neg_npy], "the sample weight -1 of sample 5 is not "
     "a finite number >= 0"),
    (["--sample-weight", neg_csv], "neg.csv:6: the sample weight -1 of "
     "sample 5 is not a finite number >= 0"),
    (["--sample-weight", neg_txt], "neg_weights:6: the sample weight -1 of "
     "sample 5 is not a finite number >= 0"),
    (["--sample-weight-column", "w"], "binary_neg.csv:6: column 'w': the "
     "sample weight -1 of sample 5 is not a finite number >= 0", csv2neg),
    (["--sample-weight-column", "w"], "2 sample weights are not finite "
     "numbers >= 0:\n  " + csv2bad + ":3: column 'w': the sample weight -2 "
     "of sample 2 is not a finite number >= 0\n  " + csv2bad + ":8: column "
     "'w': the sample weight inf of sample 7 is not a finite number >= 0",
     csv2bad),
    (["--sample-weight-column", "nope"], "no sample-weight column named "
     "'nope'"),
    # A duplicated JSON key is an error, not the last value silently.
    (["--class-weight", '{"0": 1, "0": 2}'], "--class-weight: class 0 is "
     "given twice (a JSON object key appears more than once)"),
    (["--class-weight", dup_json], "dup.json: classes 0, 1 are given twice"),
    (["--class-weight", '{"zero": 1}'], "class 'zero' is not an integer "
     "class id"),
    (["--class-weight", '{"0": 1, "2": 1}'], "class 2 is not a class of the "
     "model's labels (classes 0 to 1, from its output of 1 unit)"),
    (["--sample-weight-column", "w", "--class-weight", "0:1"],
     "give --class-weight or sample weights, not both"),
]
for extra, want, *given in ERRORS:
    data = csv2 if "--sample-weight-column" in extra else csv2plain
    data = given[0] if given else data
    p = run([binary, "fit", "--data", data, "--label-column", "label",
             "--quiet"] + extra, expect_ok=False)
    ok = p.returncode != 0 and want in p.stderr
    check("error " + " ".join(extra[:2]).replace(WORK + "/", ""), ok,
          p.stderr.strip().splitlines()[-1] if p.stderr.strip() else
          "(no message, exit %d)" % p.returncode)

print("sample_weight_check: %d failed" % len(FAILED))
sys.exit(1 if FAILED else 0)
