"""Numeric check of the imported spatial layers against a numpy reference of
Keras' (TF's) formulas, for run_conv.test.

usage: check_conv.py OUTDIR            writes conv_model.json and arg*.npy
       check_conv.py OUTDIR --check    compares OUTDIR/y.npy with numpy

The model (Keras 3 Sequential config): Input [4, 7, 6, 2] ->
DepthwiseConv2D 2x2, depth_multiplier 2 (valid) -> Conv2D 3 filters 3x3,
stride 2, same, relu -> BatchNormalization -> MaxPooling2D 2, stride 1,
same -> AveragePooling2D 2, stride 2, same (padding not counted).
`kilnc run --entry forward` runs the forward form as imported, the training
form of BatchNormalization: batch statistics over the samples of nonzero
weight (the last argument, `kiln.sample_weight`), and the new moving
statistics
(Keras: momentum * old + (1 - momentum) * batch, biased variance) as the
second and third results.
"""
import json
import math
import sys

import numpy as np

out_dir = sys.argv[1]


def layer(cls, **config):
    return {"module": "keras.layers", "class_name": cls, "config": config,
            "registered_name": None}


model = {
    "module": "keras", "class_name": "Sequential",
    "config": {"name": "conv_model", "layers": [
        layer("InputLayer", name="x", batch_shape=[4, 7, 6, 2],
              dtype="float32"),
        layer("DepthwiseConv2D", name="dw", kernel_size=[2, 2],
              strides=[1, 1], padding="valid", depth_multiplier=2,
              data_format="channels_last", dilation_rate=[1, 1],
              activation="linear", use_bias=True),
        layer("Conv2D", name="conv", filters=3, kernel_size=[3, 3],
              strides=[2, 2], padding="same", data_format="channels_last",
              dilation_rate=[1, 1], groups=1, activation="relu",
              use_bias=True),
        layer("BatchNormalization", name="bn", axis=-1, momentum=0.99,
              epsilon=0.001, center=True, scale=True),
        layer("MaxPooling2D", name="maxp", pool_size=[2, 2],
              strides=[1, 1], padding="same"),
        layer("AveragePooling2D", name="avgp", pool_size=[2, 2],
              strides=[2, 2], padding="same"),
    ]}}

rng = np.random.default_rng(0)
args = {  # the forward's argument order: params, the input, sample weights
    "dw/kernel": rng.normal(size=(2, 2, 2, 2)),
    "dw/bias": rng.normal(size=4),
    "conv/kernel": rng.normal(scale=0.5, size=(3, 3, 4, 3)),
    "conv/bias": rng.normal(size=3),
    "bn/gamma": rng.uniform(0.5, 2.0, size=3),
    "bn/beta": rng.normal(size=3),
    "bn/moving_mean": rng.normal(size=3),
    "bn/moving_variance": rng.uniform(0.5, 2.0, size=3),
    "x": rng.normal(size=(4, 7, 6, 2)),
    # BatchNormalization's row mask (kiln.sample_weight): sample 2 has
    # weight 0, as a padding row would, and is left out of the statistics.
    "sample_weight": np.array([1.0, 0.5, 0.0, 2.0]),
}
args = {k: v.astype(np.float32) for k, v in args.items()}

if "--check" not in sys.argv:
    with open(f"{out_dir}/conv_model.json", "w") as f:
        json.dump(model, f, indent=1)
    for i, value in enumerate(args.values()):
        np.save(f"{out_dir}/arg{i}.npy", value)
    sys.exit(0)


def same_pads(size, kernel, stride):
    """TF 'SAME': the extra padding goes after."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv2d(x, w, stride, padding, groups=1):
    """x [N, H, W, C], w [kh, kw, C/groups, F]: TF's cross-correlation."""
    n, h, wd, c = x.shape
    kh, kw, cg, f = w.shape
    if padding == "same":
        (pt, pb), (pl, pr) = same_pads(h, kh, stride), same_pads(wd, kw, stride)
    else:
        pt = pb = pl = pr = 0
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    oh = (h + pt + pb - kh) // stride + 1
    ow = (wd + pl + pr - kw) // stride + 1
    y = np.zeros((n, oh, ow, f))
    fg = f // groups
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            for g in range(groups):
                y[:, i, j, g * fg:(g + 1) * fg] = np.einsum(
                    "nhwc,hwcf->nf", patch[..., g * cg:(g + 1) * cg],
                    w[..., g * fg:(g + 1) * fg])
    return y


def depthwise(x, k):
    """Keras DepthwiseConv2D, kernel [kh, kw, C, dm]: output channel
    c * dm + m is input channel c convolved with k[..., c, m]."""
    n, h, wd, c = x.shape
    kh, kw, _, dm = k.shape
    oh, ow = h - kh + 1, wd - kw + 1
    y = np.zeros((n, oh, ow, c * dm))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i:i + kh, j:j + kw, :]
            for ch in range(c):
                for m in range(dm):
                    y[:, i, j, ch * dm + m] = np.sum(
                        patch[..., ch] * k[:, :, ch, m], axis=(1, 2))
    return y


def pool(x, size, stride, op):
    """'same' pooling over the in-bounds positions only (TF)."""
    n, h, wd, c = x.shape
    (pt, _), (pl, _) = same_pads(h, size, stride), same_pads(wd, size, stride)
    oh, ow = math.ceil(h / stride), math.ceil(wd / stride)
    y = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * stride - pt, j * stride - pl
            win = x[:, max(r0, 0):min(r0 + size, h),
                    max(c0, 0):min(c0 + size, wd), :]
            y[:, i, j, :] = op(win, axis=(1, 2))
    return y


a = {k: v.astype(np.float64) for k, v in args.items()}
y = depthwise(a["x"], a["dw/kernel"]) + a["dw/bias"]
y = np.maximum(conv2d(y, a["conv/kernel"], 2, "same") + a["conv/bias"], 0)
counted = y[a["sample_weight"] != 0]
mean, var = counted.mean(axis=(0, 1, 2)), counted.var(axis=(0, 1, 2))
y = (y - mean) / np.sqrt(var + 0.001) * a["bn/gamma"] + a["bn/beta"]
y = pool(y, 2, 1, np.max)
expected = {
    "y": pool(y, 2, 2, np.mean),
    "mm": 0.99 * a["bn/moving_mean"] + 0.01 * mean,
    "mv": 0.99 * a["bn/moving_variance"] + 0.01 * var,
}
for name, want in expected.items():
    got = np.load(f"{out_dir}/{name}.npy")
    assert got.shape == want.shape, (name, got.shape, want.shape)
    # Relative to max(|want|, 1% of the largest |want|): BatchNorm's
    # y - mean cancels, so an output near 0 carries the f32 rounding of
    # inputs ~100x larger (an element of 0.0078 among outputs up to 5.2 was
    # 1.4e-7 off with kiln's GEMM, 1.8e-5 relative to itself).
    floor = max(1e-2 * np.max(np.abs(want)), 1e-3)
    err = np.max(np.abs(got - want) / np.maximum(np.abs(want), floor))
    print(f"{name}: max relative error {err:.2e}")
    assert err < 1e-5, (name, err)
print("PASS conv_model vs numpy")
