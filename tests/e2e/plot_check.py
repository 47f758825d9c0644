"""Training curves as a picture: fit --plot and `prog plot`.

Usage: plot_check.py KILNC WORKDIR

Trains a 3-class linear model for 4 epochs with a validation split and
--history / --plot, then draws the history files again with `prog plot`.
Checks that each picture exists and parses (SVG: XML with the svg root;
PNG: the signature and an IHDR chunk of the expected size), that the SVG
has exactly one stroked path per series in the series' colour (training
#1f77b4: loss and accuracy; validation #ff7f0e: val_loss and
val_accuracy), each running from epoch 1 to the last epoch (the left and
right edges of its panel's plot area; cairo merges collinear segments, so
vertices are not counted), and that bad history files and options give
clear errors.
Prints PASS/FAIL lines.
"""
import os
import re
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET

KILNC, WORK = sys.argv[1], sys.argv[2]
os.makedirs(WORK, exist_ok=True)
FAILED = []
EPOCHS = 4
TRAIN = "stroke:rgb(12.156863%,46.666667%,70.588235%)"
VALIDATION = "stroke:rgb(100%,49.803922%,5.490196%)"


def run(args, expect_ok=True):
    # A hang is a failure too (the timeout raises).
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if expect_ok and p.returncode != 0:
        sys.exit("command failed: %s\n%s%s" % (" ".join(args), p.stdout,
                                                p.stderr))
    return p


def check(name, ok, text):
    print("%s %s: %s" % ("PASS" if ok else "FAIL", name, text))
    if not ok:
        FAILED.append(name)


MODEL = (
    "func.func @forward(%w: tensor<3x3xf32> {kiln.param = \"d/kernel\", "
    "kiln.trainable}, %b: tensor<3xf32> {kiln.param = \"d/bias\", "
    "kiln.trainable}, %x: tensor<4x3xf32> {kiln.name = \"x\"}) -> "
    "(tensor<4x3xf32> {kiln.name = \"y\"}) {\n"
    "  %0 = kiln.matmul %x, %w : tensor<4x3xf32>, tensor<3x3xf32> -> "
    "tensor<4x3xf32>\n"
    "  %1 = kiln.broadcast_in_dim %b, dims = [1] : tensor<3xf32> -> "
    "tensor<4x3xf32>\n"
    "  %2 = kiln.add %0, %1 : tensor<4x3xf32>\n"
    "  return %2 : tensor<4x3xf32>\n}\n")
src = os.path.join(WORK, "model.mlir")
with open(src, "w") as f:
    f.write(MODEL)
prog = os.path.join(WORK, "model")
run([KILNC, src, "--loss=sparse_categorical_crossentropy", "--from-logits",
     "--metrics=accuracy", "--optimizer=sgd", "-o", prog])
data = os.path.join(WORK, "data.csv")
with open(data, "w") as f:
    f.write("a,b,c,label\n")
    for i in range(20):
        f.write("%g,%g,%g,%d\n" % ((i % 7) / 7.0, (i % 3) - 1.0,
                                   ((i * 5) % 11) / 11.0, i % 3))

csv, js = os.path.join(WORK, "h.csv"), os.path.join(WORK, "h.json")
svg, png = os.path.join(WORK, "fit.svg"), os.path.join(WORK, "fit.png")
run([prog, "fit", "--data", data, "--label-column", "label", "--epochs",
     str(EPOCHS), "--validation-split", "0.25", "--lr", "0.2", "--quiet",
     "--history", csv, "--plot", svg])
run([prog, "fit", "--data", data, "--label-column", "label", "--epochs",
     str(EPOCHS), "--validation-split", "0.25", "--lr", "0.2", "--quiet",
     "--history", js, "--plot", png])


def svg_curves(path):
    root = ET.parse(path).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == ns + "svg", root.tag
    curves = {"training": [], "validation": []}
    for p in root.iter(ns + "path"):
        style = p.get("style", "")
        if "fill:none" not in style:
            continue
        for kind, colour in (("training", TRAIN), ("validation",
                                                   VALIDATION)):
            if colour in style:
                xs = [float(v) for v in re.findall(
                    r"[ML] ([-0-9.]+) [-0-9.]+", p.get("d"))]
                curves[kind].append((round(xs[0]), round(xs[-1])))
    return root, curves


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(33)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


for name, path in (("fit_plot_svg", svg),
                   ("plot_csv_svg", os.path.join(WORK, "csv.svg")),
                   ("plot_json_svg", os.path.join(WORK, "json.svg"))):
    if name == "plot_csv_svg":
        run([prog, "plot", csv, "-o", path])
    elif name == "plot_json_svg":
        run([prog, "plot", js, "--output", path])
    try:
        root, curves = svg_curves(path)
        # 2 panels (loss, accuracy), 460 wide, plot areas [72, 442] and
        # [532, 902].
        want = [(72, 442), (532, 902)]
        ok = curves["training"] == want and curves["validation"] == want
        text = "%s %s, stroked paths: training %s, validation %s (want %s " \
            "each)" % (root.get("width"), root.get("height"),
                       curves["training"], curves["validation"], want)
    except (ET.ParseError, AssertionError) as e:
        ok, text = False, "not SVG: %s" % e
    check(name, ok, text)

for name, path in (("fit_plot_png", png),
                   ("plot_csv_png", os.path.join(WORK, "csv.png"))):
    if name == "plot_csv_png":
        run([prog, "plot", csv, "-o", path])
    size = png_size(path)
    check(name, size == (920, 300), "PNG signature and IHDR %s (want "
          "920 x 300)" % (size,))

# Bad histories and options: clear errors naming the file and line.
BAD = [
    ("epoch,loss\n0,0.5\n1,0.4,0.3\n", "bad.csv", "bad.csv:3: expected 2 "
     "fields, got 3"),
    ("epoch,loss\n0,abc\n", "word.csv", "word.csv:2: field 2 ('loss'): "
     "'abc' is not a number"),
    ("step,loss\n0,0.5\n", "noepoch.csv", "noepoch.csv:1: the first column "
     "is 'step', not 'epoch'"),
    ("", "empty.csv", "empty.csv: the file is empty"),
    ("epoch,loss\n", "header.csv", "header.csv: no epochs"),
    ('{"epoch": [1, 2], "loss": [0.5]}', "short.json", "short.json: "
     "\"loss\" is not a list of 2 values"),
]
for text, name, want in BAD:
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        f.write(text)
    p = run([prog, "plot", path, "-o", os.path.join(WORK, "x.svg")],
            expect_ok=False)
    ok = p.returncode == 1 and want in p.stderr and not os.path.exists(
        os.path.join(WORK, "x.svg"))
    check("bad history " + name, ok, p.stderr.strip().replace(WORK + "/", ""))
for args, want in (([csv, "-o", os.path.join(WORK, "x.pdf")],
                    "-o takes a .svg or .png file name"),
                   ([csv], "'plot' needs -o FILE.svg or FILE.png"),
                   ([os.path.join(WORK, "missing.csv"), "-o",
                     os.path.join(WORK, "x.svg")], "missing.csv: No such "
                    "file")):
    p = run([prog, "plot"] + args, expect_ok=False)
    ok = p.returncode != 0 and want in p.stderr
    check("plot usage " + os.path.basename(args[-1]), ok,
          p.stderr.strip().replace(WORK + "/", ""))
p = run([prog, "fit", "--data", data, "--label-column", "label", "--plot",
         os.path.join(WORK, "c.jpg")], expect_ok=False)
check("fit --plot usage", p.returncode == 2 and "--plot takes a .svg or "
      ".png file name" in p.stderr, p.stderr.strip().replace(WORK + "/", ""))

# Histories with values at the ends of the double range, infinities and
# NaN: the picture is drawn (no hang, every coordinate finite), the values
# beyond +-1e300 or infinite are left out of the curve and said, in the
# panel and on stderr; the rest of the curve is drawn.
EXTREME = ("epoch,loss,val_loss\n0,1e308,0.5\n1,0.5,-1e308\n2,inf,nan\n"
           "3,0.25,0.4\n4,-inf,0.3\n5,0.125,1e-308\n")
extreme = os.path.join(WORK, "extreme.csv")
with open(extreme, "w") as f:
    f.write(EXTREME)
for ext in ("svg", "png"):
    out = os.path.join(WORK, "extreme." + ext)
    p = run([prog, "plot", extreme, "-o", out], expect_ok=False)
    warned = ("plot: warning: " in p.stderr and "loss: not drawn: 4 infinite "
              "or beyond +-1e300, 1 missing (NaN)" in p.stderr)
    if ext == "png":
        ok = p.returncode == 0 and warned and png_size(out) == (460, 300)
        text = "exit %d, PNG %s, stderr %s" % (p.returncode, png_size(out),
                                              p.stderr.strip())
    else:
        try:
            root = ET.parse(out).getroot()
            ds = " ".join(q.get("d", "") for q in root.iter(
                "{http://www.w3.org/2000/svg}path"))
            finite = not re.search(r"nan|inf", ds, re.I)
            _, curves = svg_curves(out)
            # Training: epochs 2, 4, 6 drawn (x 1..6 on the plot area
            # [72, 442]: 146 to 442), lone points between gaps; validation:
            # epochs 1, 4, 5, 6 (72 to 442).
            ok = (p.returncode == 0 and warned and finite and
                  curves["training"] == [(146, 442)] and
                  curves["validation"] == [(72, 442)])
            text = "exit %d, finite coordinates %s, curves %s, stderr %s" % (
                p.returncode, finite, curves, p.stderr.strip())
        except ET.ParseError as e:
            ok, text = False, "not SVG: %s" % e
    check("extreme values " + ext, ok, text.replace(WORK + "/", ""))

# Size caps: more panels than 64, or epoch numbers beyond +-1e15, are
# errors (the picture's size and the x axis would not be sane).
wide = os.path.join(WORK, "wide.csv")
with open(wide, "w") as f:
    f.write("epoch," + ",".join("m%d" % i for i in range(65)) + "\n")
    f.write("0," + ",".join("0.5" for _ in range(65)) + "\n")
far = os.path.join(WORK, "far.json")
with open(far, "w") as f:
    f.write('{"epoch": [1, 1e300], "loss": [0.5, 0.4]}')
# One epoch at 1e17: the axis' unit ticks would not advance (1e17 + 1 is
# 1e17), which hung the tick loop before.
one = os.path.join(WORK, "one.json")
with open(one, "w") as f:
    f.write('{"epoch": [1e17], "loss": [0.5]}')
for path, want in ((wide, "the history has 65 quantities to plot; at most "
                    "64 panels are drawn"),
                   (far, "far.json: an epoch number is not finite or beyond "
                    "+-1e15"),
                   (one, "one.json: an epoch number is not finite or beyond "
                    "+-1e15")):
    p = run([prog, "plot", path, "-o", os.path.join(WORK, "x.svg")],
            expect_ok=False)
    ok = p.returncode == 1 and want in p.stderr and not os.path.exists(
        os.path.join(WORK, "x.svg"))
    check("plot limit " + os.path.basename(path), ok,
          p.stderr.strip().replace(WORK + "/", ""))

print("plot_check: %d failed" % len(FAILED))
sys.exit(1 if FAILED else 0)
