#!/usr/bin/python3
"""The gradient-check case table (run_gradcheck.py runs it).

Every case is a small f64 function

    func.func @loss(args..., %r) -> tensor<f64>

whose trainable arguments carry `{kiln.trainable}`. For the op cases the
function applies one kiln op and reduces its output to a scalar with a fixed
random projection R (a non-trainable argument): loss = reduce_sum(op(x) * R).
Loss ops already produce a scalar and are used as the loss directly.
run_gradcheck.py derives @loss_grad with `kiln-opt --kiln-derive-gradients`,
runs it with `kilnc run` (the analytic gradient, compiled code), and compares
it with central differences of the compiled @loss (evaluated by `kilnc run`
through a driver function that calls @loss once per perturbed point):

    numeric_i = (loss(x + h e_i) - loss(x - h e_i)) / ((x_i + h) - (x_i - h)),
    h = 1e-6 * max(1, |x_i|)

(the denominator is the difference of the perturbed values as stored in the
argument's element type).

Tolerance, per gradient element: |analytic - numeric| <= 1e-6 * max(1,
|numeric|). Rationale: in f64 the truncation error of central differences is
h^2 |f'''| / 6 ~ 1e-12 and the rounding error is ~ eps64 |loss| / h ~ 1e-10
for losses of size ~1, so 1e-6 leaves four orders of magnitude for
conditioning while a wrong rule (a missing factor, a wrong sign, a dropped
term) is off by O(1). A case may change h or the tolerance only with a
written reason (`h_reason`, `tol_reason`); none loosens the tolerance today.

Inputs stay away from the points where an op is not differentiable (relu,
leaky_relu, elu, abs away from 0; hard_sigmoid away from its two kinks;
maximum/minimum/reduce_max without ties; mean_absolute_error away from
p == y; probabilities inside or well outside the clip range), by at least
0.05, far more than h.

Every trainable argument's analytic gradient and numeric gradient must not
be all zero (a check whose gradients vanish proves nothing), except for the
arguments a case declares:
  - "blocked": the loss reaches the argument only through kiln.stop_gradient;
    the analytic gradient must be exactly zero (the numeric one is not, by
    design, so it is not compared);
  - "zero": the loss depends on the argument only piecewise constantly
    (compare, argmax, float-to-integer convert) or not at all (all sample
    weights zero); analytic and numeric gradients must both be zero;
  - ("exact", value): the analytic gradient must equal `value` (used where
    stop_gradient makes the analytic gradient differ from the numeric one on
    purpose).

The zero-gradient ops (ZeroGradient trait in ir/KilnOps.td: compare, argmax,
constant, iota, stop_gradient) have such checks; every other op of
ir/KilnOps.td has at least one numeric case (run_gradcheck.py fails when
one is missing, or when the ZeroGradient set of KilnOps.td changes).

Inputs come from a numpy Generator seeded with crc32(case name), so adding a
case does not change the others.
"""
import math
import os
import re
import zlib

import numpy as np

TOL = 1e-6      # |analytic - numeric| <= TOL * max(1, |numeric|)
H_REL = 1e-6    # h = H_REL * max(1, |x_i|)

# Ops with the ZeroGradient trait (checked against ir/KilnOps.td).
ZERO_GRADIENT_OPS = ("compare", "argmax", "constant", "iota",
                     "stop_gradient")

# Ops whose VJP rule reports an error (no second derivatives); each has an
# explicit check that kiln-derive-gradients fails with this text.
NO_VJP_OPS = {"max_pool_grad": "second derivatives of max pooling are not "
                               "supported",
              "rnn_grad": "second derivatives of recurrent layers are not "
                          "supported"}

MLIR_TYPE = {np.dtype(np.float64): "f64", np.dtype(np.float32): "f32",
             np.dtype(np.int32): "i32", np.dtype(np.int64): "i64",
             np.dtype(np.bool_): "i1"}


def T(shape, dt="f64"):
    """tensor<2x3xf64>; rank 0 gives tensor<f64>."""
    return "tensor<%s>" % "x".join([str(d) for d in shape] + [dt])


def ttype(value):
    return T(value.shape, MLIR_TYPE[value.dtype])


def axes_attr(axes):
    return "array<i64%s>" % ("" if not axes else
                             ": " + ", ".join(str(a) for a in axes))


class Arg:
    """A function argument: %name, its value (the dtype gives the MLIR
    type) and whether it is trainable."""

    def __init__(self, name, value, trainable=False):
        self.name = name
        self.value = np.asarray(value)
        self.trainable = trainable

    @property
    def type(self):
        return ttype(self.value)


class Case:
    """One gradient check; see the module docstring."""

    def __init__(self, name, ops, args, body, loss="%loss", grad_kinds=None,
                 zero_ops=(), h=None, h_reason="", tol=TOL, tol_reason="",
                 check=None):
        self.name = name
        self.ops = tuple(ops)            # ops whose VJP this case checks
        self.zero_ops = tuple(zero_ops)  # zero-gradient ops it checks
        self.args = args
        self.body = body
        self.loss = loss
        self.grad_kinds = grad_kinds or {}
        self.h = h                       # None: H_REL * max(1, |x_i|)
        self.h_reason = h_reason
        self.tol = tol
        self.tol_reason = tol_reason
        self.check = check               # f(case, analytic dict) -> errors
        if h is not None:
            assert h_reason, name + ": a changed h needs a reason"
        if tol != TOL:
            assert tol_reason, name + ": a changed tolerance needs a reason"

    @property
    def mlir(self):
        decls = ", ".join(
            "%%%s: %s%s" % (a.name, a.type,
                            " {kiln.trainable}" if a.trainable else "")
            for a in self.args)
        lines = "\n".join("  " + l for l in self.body)
        return ("func.func @loss(%s) -> tensor<f64> {\n%s\n"
                "  return %s : tensor<f64>\n}\n" % (decls, lines, self.loss))

    @property
    def inputs(self):
        return [a.value for a in self.args]

    def trainable(self):
        return [i for i, a in enumerate(self.args) if a.trainable]

    def kind(self, arg):
        return self.grad_kinds.get(arg.name, "numeric")


CASES = []


def rng_for(name):
    return np.random.default_rng(zlib.crc32(name.encode()))


def add(case):
    CASES.append(case)
    return case


def projected(name, ops, args, body, out, out_shape, rng, **kw):
    """A case with loss = reduce_sum(out * R), R a fixed random argument."""
    r = Arg("r", rng.standard_normal(out_shape))
    ty = T(out_shape)
    if len(out_shape) == 0:
        tail = ["%%loss = kiln.mul %s, %%r : %s" % (out, ty)]
    else:
        tail = ["%%proj = kiln.mul %s, %%r : %s" % (out, ty),
                "%%loss = kiln.reduce_sum %%proj {axes = %s} : %s -> "
                "tensor<f64>" % (axes_attr(range(len(out_shape))), ty)]
    return add(Case(name, ops, list(args) + [r], list(body) + tail, **kw))


# ----------------------------------------------------------------------------
# Input helpers: values away from kinks and ties.
# ----------------------------------------------------------------------------

def away(rng, shape, lo, hi, kinks=(0.0,), margin=0.05):
    """Uniform in [lo, hi], at least `margin` from every kink."""
    x = rng.uniform(lo, hi, shape)
    for _ in range(1000):
        bad = np.zeros(x.shape, bool)
        for k in kinks:
            bad |= np.abs(x - k) < margin
        if not bad.any():
            return x
        x = np.where(bad, rng.uniform(lo, hi, shape), x)
    raise AssertionError("cannot sample away from kinks")


def signed(rng, shape, lo, hi):
    """Random sign times uniform [lo, hi]: |x| >= lo."""
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(lo, hi, shape)


def distinct(rng, shape, gap=0.15):
    """Pairwise distinct values (every gap >= `gap`), random order."""
    n = int(np.prod(shape))
    v = (rng.permutation(n) + rng.uniform(0.0, 1.0 - gap / 0.3, n)) * 0.3
    return (v - v.mean()).reshape(shape)


# ----------------------------------------------------------------------------
# Elementwise binary ops
# ----------------------------------------------------------------------------

def binary_cases():
    shape = (2, 3)
    ty = T(shape)
    def case(op, a, b, name=None, b_trainable=True):
        name = name or op
        rng = rng_for(name)
        projected(name, [op], [Arg("a", a(rng), True),
                               Arg("b", b(rng), b_trainable)],
                  ["%%y = kiln.%s %%a, %%b : %s" % (op, ty)], "%y", shape, rng)
    n = lambda r: r.standard_normal(shape)
    case("add", n, n)
    case("sub", n, n)
    case("mul", n, n)
    case("div", n, lambda r: signed(r, shape, 0.5, 2.0))
    # No ties: b = a +- [0.2, 1].
    for op in ("maximum", "minimum"):
        rng = rng_for(op)
        a = rng.standard_normal(shape)
        b = a + signed(rng, shape, 0.2, 1.0)
        projected(op, [op], [Arg("a", a, True), Arg("b", b, True)],
                  ["%%y = kiln.%s %%a, %%b : %s" % (op, ty)], "%y", shape,
                  rng)
    case("pow", lambda r: r.uniform(0.5, 2.0, shape),
         lambda r: r.uniform(-2.0, 2.0, shape))
    # Negative base, integer exponent (C pow is defined there): the base
    # gradient b * a^(b-1); the exponent is data (d/db needs ln(a)).
    case("pow", lambda r: signed(r, shape, 0.5, 2.0),
         lambda r: r.integers(-2, 4, shape).astype(np.float64),
         name="pow_negative_base", b_trainable=False)


# ----------------------------------------------------------------------------
# Elementwise unary ops and activations
# ----------------------------------------------------------------------------

def unary_cases():
    shape = (2, 3)
    ty = T(shape)
    table = [
        # name, op text (with attributes), input sampler
        ("neg", "neg", lambda r: r.standard_normal(shape)),
        ("exp", "exp", lambda r: r.uniform(-2, 2, shape)),
        ("log", "log", lambda r: r.uniform(0.3, 3, shape)),
        ("log1p", "log1p", lambda r: r.uniform(-0.6, 2, shape)),
        ("sqrt", "sqrt", lambda r: r.uniform(0.3, 3, shape)),
        ("rsqrt", "rsqrt", lambda r: r.uniform(0.3, 3, shape)),
        ("abs", "abs", lambda r: away(r, shape, -2, 2)),
        ("square", "square", lambda r: r.uniform(-2, 2, shape)),
        ("tanh", "tanh", lambda r: r.uniform(-2, 2, shape)),
        ("erf", "erf", lambda r: r.uniform(-2, 2, shape)),
        ("sigmoid", "sigmoid", lambda r: r.uniform(-4, 4, shape)),
        ("relu", "relu", lambda r: away(r, shape, -2, 2)),
        ("softplus", "softplus", lambda r: r.uniform(-4, 4, shape)),
        ("leaky_relu", "leaky_relu", lambda r: away(r, shape, -2, 2)),
        ("leaky_relu_alpha", "leaky_relu {alpha = 0.2 : f64}",
         lambda r: away(r, shape, -2, 2)),
        ("elu", "elu", lambda r: away(r, shape, -3, 2)),
        ("elu_alpha", "elu {alpha = 0.5 : f64}",
         lambda r: away(r, shape, -3, 2)),
        ("gelu", "gelu", lambda r: r.uniform(-3, 3, shape)),
        ("gelu_approximate", "gelu {approximate = true}",
         lambda r: r.uniform(-3, 3, shape)),
        ("hard_sigmoid", "hard_sigmoid",
         lambda r: away(r, shape, -3.5, 3.5, kinks=(-3.0, 3.0))),
        ("hard_sigmoid_onnx",
         "hard_sigmoid {alpha = 0.2 : f64, beta = 0.5 : f64}",
         lambda r: away(r, shape, -3, 3, kinks=(-2.5, 2.5))),
    ]
    for name, text, sample in table:
        rng = rng_for(name)
        op = text.split()[0]
        mnemonic_attrs = text[len(op):]
        projected(name, [op], [Arg("x", sample(rng), True)],
                  ["%%y = kiln.%s %%x%s : %s" % (op, mnemonic_attrs, ty)],
                  "%y", shape, rng)


# ----------------------------------------------------------------------------
# select, convert
# ----------------------------------------------------------------------------

def select_convert_cases():
    shape = (2, 3)
    ty = T(shape)
    rng = rng_for("select")
    p = np.array([[True, False, True], [False, False, True]])
    projected("select", ["select"],
              [Arg("p", p), Arg("a", rng.standard_normal(shape), True),
               Arg("b", rng.standard_normal(shape), True)],
              ["%%y = kiln.select %%p, %%a, %%b : %s, %s" % (T(shape, "i1"),
                                                          ty)],
              "%y", shape, rng)

    # f32 -> f64: a trainable f32 argument; the loss is linear in it and
    # exact in f64, so the numeric gradient is R; the analytic one is R
    # rounded to f32 (relative 6e-8).
    rng = rng_for("convert_f32_f64")
    projected("convert_f32_f64", ["convert"],
              [Arg("x", rng.standard_normal(shape).astype(np.float32), True)],
              ["%%y = kiln.convert %%x : %s -> %s" % (T(shape, "f32"), ty)],
              "%y", shape, rng)

    # f64 -> f32 -> f64. The forward rounds to f32, so loss(x +- h) moves in
    # steps of an f32 ulp; with h = 1e-6 |x| central differences would be
    # quantized to ~6% (2h spans ~17 f32 ulps). Inputs are multiples of
    # 2^-10 with |x| < 4 and h = 2^-10: x +- h are exact in f32, the loss is
    # linear in x, so the numeric gradient is exact; the analytic gradient is
    # R rounded to f32 and back (convert rule), within 6e-8 relative.
    rng = rng_for("convert_f64_f32")
    x = rng.integers(-4096, 4096, shape).astype(np.float64) / 1024.0
    projected("convert_f64_f32", ["convert"], [Arg("x", x, True)],
              ["%%h = kiln.convert %%x : %s -> %s" % (ty, T(shape, "f32")),
               "%%y = kiln.convert %%h : %s -> %s" % (T(shape, "f32"), ty)],
              "%y", shape, rng, h=2.0 ** -10,
              h_reason="the forward rounds to f32: x +- 2^-10 is exact in "
              "f32, so the quantization of loss(x +- h) cannot bias the "
              "quotient")


# ----------------------------------------------------------------------------
# Reductions
# ----------------------------------------------------------------------------

def reduction_cases():
    shape = (2, 3, 2)
    for op in ("reduce_sum", "reduce_mean", "reduce_max"):
        for axes, keep in (((1,), False), ((0, 2), True), ((0, 1, 2), False)):
            name = "%s_%s%s" % (op, "".join(map(str, axes)),
                                "_keep" if keep else "")
            rng = rng_for(name)
            x = distinct(rng, shape) if op == "reduce_max" else \
                rng.standard_normal(shape)
            out = [1 if d in axes else s for d, s in enumerate(shape)] \
                if keep else [s for d, s in enumerate(shape) if d not in axes]
            attrs = "axes = %s%s" % (axes_attr(axes),
                                     ", keep_dims = true" if keep else "")
            projected(name, [op], [Arg("x", x, True)],
                      ["%%y = kiln.%s %%x {%s} : %s -> %s" % (
                          op, attrs, T(shape), T(out))], "%y", out, rng)


# ----------------------------------------------------------------------------
# matmul
# ----------------------------------------------------------------------------

def matmul_cases():
    M, K, N = 2, 3, 2
    for batch in ((), (2,)):
        for ta, tb in ((0, 0), (0, 1), (1, 0), (1, 1)):
            if batch and (ta, tb) in ((0, 1), (1, 0)):
                continue
            name = "matmul%s_tl%d_tr%d" % ("_batched" if batch else "", ta, tb)
            rng = rng_for(name)
            a_shape = batch + ((K, M) if ta else (M, K))
            b_shape = batch + ((N, K) if tb else (K, N))
            flags = [f + " = true" for f, on in (("transpose_lhs", ta),
                                                 ("transpose_rhs", tb)) if on]
            attr = " {%s}" % ", ".join(flags) if flags else ""
            out = batch + (M, N)
            projected(name, ["matmul"],
                      [Arg("a", rng.standard_normal(a_shape), True),
                       Arg("b", rng.standard_normal(b_shape), True)],
                      ["%%y = kiln.matmul %%a, %%b%s : %s, %s -> %s" % (
                          attr, T(a_shape), T(b_shape), T(out))],
                      "%y", out, rng)


# ----------------------------------------------------------------------------
# Convolution and pooling
# ----------------------------------------------------------------------------

def i64a(values):
    return "array<i64: %s>" % ", ".join(str(int(v)) for v in values)


def conv_out(S, K, s, d, pl, ph):
    return (S + pl + ph - d * (K - 1) - 1) // s + 1


def pool_out(S, k, s, pl, ph, ceil_mode):
    if not ceil_mode:
        return (S + pl + ph - k) // s + 1
    o = -(-(S + pl + ph - k) // s) + 1
    return o - 1 if (o - 1) * s >= S + pl else o


def conv_cases():
    # (name, x shape, filter shape, strides, dilations, pad_low, pad_high,
    #  groups)
    configs = [
        ("2d", (2, 5, 5, 2), (3, 3, 2, 3), (1, 1), (1, 1), (0, 0), (0, 0), 1),
        ("2d_strided_asym_pad", (2, 6, 5, 2), (3, 2, 2, 3), (2, 1), (1, 1),
         (1, 0), (0, 2), 1),
        ("2d_dilated", (1, 7, 6, 2), (2, 3, 2, 2), (1, 1), (2, 2), (1, 0),
         (0, 1), 1),
        ("2d_grouped", (2, 4, 5, 4), (2, 2, 2, 6), (1, 2), (1, 1), (1, 0),
         (0, 1), 2),
        ("2d_depthwise", (1, 5, 5, 3), (3, 3, 1, 3), (2, 2), (1, 1), (1, 1),
         (1, 1), 3),
        ("1d", (2, 9, 3), (3, 3, 2), (2,), (2,), (1,), (2,), 1),
    ]
    for name, xs, ws, st, dil, pl, ph, groups in configs:
        d = len(xs) - 2
        out = tuple(conv_out(xs[1 + i], ws[i], st[i], dil[i], pl[i], ph[i])
                    for i in range(d))
        ys = (xs[0],) + out + (ws[-1],)
        attrs = "{strides = %s, dilations = %s, pad_low = %s, pad_high = %s%s}" \
            % (i64a(st), i64a(dil), i64a(pl), i64a(ph),
               ", groups = %d : i64" % groups if groups != 1 else "")
        # conv: gradients of input and filter (conv_transpose and
        # conv_filter_grad in @loss_grad).
        rng = rng_for("conv_" + name)
        projected("conv_" + name, ["conv"],
                  [Arg("x", rng.standard_normal(xs), True),
                   Arg("w", rng.standard_normal(ws), True)],
                  ["%%y = kiln.conv %%x, %%w %s : %s, %s -> %s" % (
                      attrs, T(xs), T(ws), T(ys))], "%y", ys, rng)
        # The two adjoints are differentiable too (their VJPs are convs).
        rng = rng_for("conv_transpose_" + name)
        projected("conv_transpose_" + name, ["conv_transpose"],
                  [Arg("dy", rng.standard_normal(ys), True),
                   Arg("w", rng.standard_normal(ws), True)],
                  ["%%y = kiln.conv_transpose %%dy, %%w %s : %s, %s -> %s" % (
                      attrs, T(ys), T(ws), T(xs))], "%y", xs, rng)
        rng = rng_for("conv_filter_grad_" + name)
        projected("conv_filter_grad_" + name, ["conv_filter_grad"],
                  [Arg("x", rng.standard_normal(xs), True),
                   Arg("dy", rng.standard_normal(ys), True)],
                  ["%%y = kiln.conv_filter_grad %%x, %%dy %s : %s, %s -> %s" % (
                      attrs, T(xs), T(ys), T(ws))], "%y", ws, rng)


def pool_cases():
    # (name, x shape, window, strides, pad_low, pad_high, ceil_mode)
    configs = [
        ("2d", (2, 4, 4, 2), (2, 2), (2, 2), (0, 0), (0, 0), False),
        ("2d_overlap_asym_pad", (2, 5, 6, 2), (3, 3), (2, 1), (1, 0), (0, 2),
         False),
        ("2d_ceil", (1, 7, 6, 2), (3, 2), (2, 3), (1, 0), (1, 0), True),
        ("1d_overlap", (2, 9, 3), (3,), (2,), (1,), (1,), False),
        ("1d_ceil", (2, 10, 2), (4,), (3,), (1,), (0,), True),
    ]
    for name, xs, win, st, pl, ph, ceil_mode in configs:
        d = len(xs) - 2
        out = tuple(pool_out(xs[1 + i], win[i], st[i], pl[i], ph[i],
                             ceil_mode) for i in range(d))
        ys = (xs[0],) + out + (xs[-1],)
        base = "window = %s, strides = %s, pad_low = %s, pad_high = %s%s" % (
            i64a(win), i64a(st), i64a(pl), i64a(ph),
            ", ceil_mode = true" if ceil_mode else "")
        # Max pooling: pairwise distinct inputs (gaps >= 0.15 >> h), so no
        # window has a tie and the loss is differentiable at x.
        rng = rng_for("max_pool_" + name)
        projected("max_pool_" + name, ["max_pool"],
                  [Arg("x", distinct(rng, xs), True)],
                  ["%%y = kiln.max_pool %%x {%s} : %s -> %s" % (
                      base, T(xs), T(ys))], "%y", ys, rng)
        for cip in (False, True):
            attrs = "{%s%s}" % (base, ", count_include_pad = true"
                                if cip else "")
            suffix = "_cip" if cip else ""
            rng = rng_for("avg_pool_" + name + suffix)
            projected("avg_pool_" + name + suffix, ["avg_pool"],
                      [Arg("x", rng.standard_normal(xs), True)],
                      ["%%y = kiln.avg_pool %%x %s : %s -> %s" % (
                          attrs, T(xs), T(ys))], "%y", ys, rng)
            rng = rng_for("avg_pool_grad_" + name + suffix)
            projected("avg_pool_grad_" + name + suffix, ["avg_pool_grad"],
                      [Arg("dy", rng.standard_normal(ys), True)],
                      ["%%y = kiln.avg_pool_grad %%dy %s : %s -> %s" % (
                          attrs, T(ys), T(xs))], "%y", xs, rng)


# ----------------------------------------------------------------------------
# Shape ops
# ----------------------------------------------------------------------------

def shape_cases():
    def one(name, op, x_shape, text, out_shape):
        rng = rng_for(name)
        projected(name, [op], [Arg("x", rng.standard_normal(x_shape), True)],
                  ["%%y = %s : %s -> %s" % (text, T(x_shape), T(out_shape))],
                  "%y", out_shape, rng)

    one("reshape", "reshape", (2, 6), "kiln.reshape %x", (3, 4))
    one("reshape_rank", "reshape", (2, 3, 2), "kiln.reshape %x", (12,))
    one("transpose", "transpose", (2, 3, 2),
        "kiln.transpose %x {permutation = array<i64: 2, 0, 1>}", (2, 2, 3))
    one("slice_strided", "slice", (3, 4),
        "kiln.slice %x {start = array<i64: 0, 1>, limit = array<i64: 3, 4>, "
        "strides = array<i64: 2, 2>}", (2, 2))
    one("slice", "slice", (3, 4),
        "kiln.slice %x {start = array<i64: 1, 0>, limit = array<i64: 3, 3>, "
        "strides = array<i64: 1, 1>}", (2, 3))
    one("pad", "pad", (2, 3),
        "kiln.pad %x {low = array<i64: 1, 0>, high = array<i64: 0, 2>}",
        (3, 5))
    one("pad_interior", "pad", (2, 3),
        "kiln.pad %x {low = array<i64: 0, 1>, high = array<i64: 1, 0>, "
        "interior = array<i64: 1, 2>, padding_value = 0.5 : f64}", (4, 8))
    one("broadcast_in_dim_bias", "broadcast_in_dim", (4,),
        "kiln.broadcast_in_dim %x, dims = [2]", (2, 3, 4))
    one("broadcast_in_dim_expand", "broadcast_in_dim", (2, 1, 3),
        "kiln.broadcast_in_dim %x, dims = [0, 1, 3]", (2, 2, 2, 3))
    one("broadcast_in_dim_scalar", "broadcast_in_dim", (),
        "kiln.broadcast_in_dim %x, dims = []", (2, 3))

    # gather: an embedding table read at repeated token ids (its gradient,
    # a scatter-add, must add both contributions of a repeated id) ...
    rng = rng_for("gather_embedding")
    table = Arg("table", rng.standard_normal((6, 3)), True)
    ids = Arg("ids", np.array([[1, 4, 1], [0, 4, 1]], np.int32))
    projected("gather_embedding", ["gather"], [table, ids],
              ["%%y = kiln.gather %%table[%%ids] : %s, %s -> %s" % (
                  table.type, ids.type, T((2, 3, 3)))],
              "%y", (2, 3, 3), rng)
    # ... along axis 1 with i64 indices counting from the end.
    rng = rng_for("gather_axis1")
    x = Arg("x", rng.standard_normal((2, 4, 2)), True)
    idx = Arg("idx", np.array([-1, 0, 3, 0], np.int64))
    projected("gather_axis1", ["gather"], [x, idx],
              ["%%y = kiln.gather %%x[%%idx] {axis = 1 : i64} : %s, %s -> %s"
               % (x.type, idx.type, T((2, 4, 2)))],
              "%y", (2, 4, 2), rng)
    # scatter_add (linear; its VJP gathers), repeated and negative indices.
    rng = rng_for("scatter_add")
    u = Arg("u", rng.standard_normal((2, 3, 2)), True)
    ids = Arg("ids", np.array([[2, 0, 2], [-1, 2, 0]], np.int32))
    projected("scatter_add", ["scatter_add"], [u, ids],
              ["%%y = kiln.scatter_add %%u[%%ids] {size = 4 : i64} : %s, %s "
               "-> %s" % (u.type, ids.type, T((4, 2)))],
              "%y", (4, 2), rng)

    # rnn: every cell, both GRU forms, go_backwards with and without
    # reverse_output; the loss reads every step (return_sequences), so
    # the gradient flows back through the whole recurrence.
    for name, cell, attrs, bshape_of in (
            ("rnn_lstm", "lstm", "", lambda h: (4 * h,)),
            ("rnn_lstm_backwards", "lstm", ", go_backwards = true",
             lambda h: (4 * h,)),
            ("rnn_lstm_bidirectional_half", "lstm",
             ", go_backwards = true, reverse_output = true",
             lambda h: (4 * h,)),
            ("rnn_gru", "gru", "", lambda h: (2, 3 * h)),
            ("rnn_gru_reset_before", "gru", ", reset_after = false",
             lambda h: (3 * h,)),
            ("rnn_simple", "simple", "", lambda h: (h,)),
            ("rnn_simple_relu", "simple", ', activation = "relu"',
             lambda h: (h,))):
        rng = rng_for(name)
        n, t, i, h = 2, 4, 3, 3
        g = {"simple": 1, "lstm": 4, "gru": 3}[cell]
        reset_after = cell == "gru" and "reset_after = false" not in attrs
        per_row = g * h + h + (2 * h if cell == "lstm" else
                               h if cell == "gru" else 0)
        ws = n * t * per_row + (3 * n * h if reset_after else 0)
        x = Arg("x", rng.uniform(-1, 1, (n, t, i)), True)
        k = Arg("k", rng.uniform(-0.8, 0.8, (i, g * h)), True)
        rk = Arg("rk", rng.uniform(-0.8, 0.8, (h, g * h)), True)
        b = Arg("b", rng.uniform(-0.4, 0.4, bshape_of(h)), True)
        s = 2 if cell == "lstm" else 1
        projected(name, ["rnn"], [x, k, rk, b],
                  ['%%y, %%st, %%ws = kiln.rnn %%x, %%k, %%rk, %%b {cell = '
                   '"%s"%s} : %s, %s, %s, %s -> %s, %s, %s' % (
                       cell, attrs, x.type, k.type, rk.type, b.type,
                       T((n, t, h)), T((s, n, h)), T((ws,)))],
                  "%y", (n, t, h), rng)

    # rnn with initial states (Keras initial_state, ONNX initial_h/_c) and
    # the final states (return_state, Y_h/Y_c) in the loss: the loss reads
    # every step and the final [S, N, H] states, so the gradient reaches the
    # initial states and flows in from the final ones. With a mask (steps
    # masked at the start, so a sample's first steps carry s0 through; at
    # the end, so the final state is a carried one; one sample all masked:
    # its final state is s0 itself).
    for name, cell, attrs, bshape_of, masked in (
            ("rnn_lstm_states", "lstm", "", lambda h: (4 * h,), False),
            ("rnn_lstm_states_backwards", "lstm",
             ", go_backwards = true, reverse_output = true",
             lambda h: (4 * h,), False),
            ("rnn_lstm_states_masked", "lstm", "", lambda h: (4 * h,), True),
            ("rnn_gru_states", "gru", "", lambda h: (2, 3 * h), False),
            ("rnn_gru_reset_before_states", "gru", ", reset_after = false",
             lambda h: (3 * h,), False),
            ("rnn_gru_states_masked", "gru",
             ", zero_output_for_mask = true", lambda h: (2, 3 * h), True),
            ("rnn_simple_states", "simple", "", lambda h: (h,), False),
            ("rnn_simple_states_masked", "simple", ", go_backwards = true",
             lambda h: (h,), True)):
        rng = rng_for(name)
        n, t, i, h = 3, 4, 3, 3
        g = {"simple": 1, "lstm": 4, "gru": 3}[cell]
        s = 2 if cell == "lstm" else 1
        reset_after = cell == "gru" and "reset_after = false" not in attrs
        per_row = g * h + h + (2 * h if cell == "lstm" else
                               h if cell == "gru" else 0)
        ws = n * t * per_row + (3 * n * h if reset_after else 0)
        x = Arg("x", rng.uniform(-1, 1, (n, t, i)), True)
        k = Arg("k", rng.uniform(-0.8, 0.8, (i, g * h)), True)
        rk = Arg("rk", rng.uniform(-0.8, 0.8, (h, g * h)), True)
        b = Arg("b", rng.uniform(-0.4, 0.4, bshape_of(h)), True)
        s0 = Arg("s0", rng.uniform(-0.9, 0.9, (s, n, h)), True)
        args = [x, k, rk, b]
        mask_text = ""
        if masked:
            m = Arg("m", np.array([[0, 1, 1, 0], [1, 0, 1, 1], [0, 0, 0, 0]],
                                  np.float64))
            args.append(m)
            mask_text = " mask(%%m : %s)" % m.type
        args.append(s0)
        size = n * t * h + s * n * h
        projected(name, ["rnn"], args,
                  ['%%y, %%st, %%ws = kiln.rnn %%x, %%k, %%rk, %%b%s '
                   'initial_state(%%s0 : %s) {cell = "%s"%s} : %s, %s, %s, '
                   '%s -> %s, %s, %s' % (
                       mask_text, s0.type, cell, attrs, x.type, k.type,
                       rk.type, b.type, T((n, t, h)), T((s, n, h)),
                       T((ws,))),
                   "%%yf = kiln.reshape %%y : %s -> %s" % (
                       T((n, t, h)), T((n * t * h,))),
                   "%%sf = kiln.reshape %%st : %s -> %s" % (
                       T((s, n, h)), T((s * n * h,))),
                   "%%out = kiln.concat %%yf, %%sf {axis = 0 : i64} : %s, %s "
                   "-> %s" % (T((n * t * h,)), T((s * n * h,)), T((size,)))],
                  "%out", (size,), rng)

    # concat with an input used twice (its gradient sums both slices).
    for name, axis, bshape, out in (("concat", 1, (2, 2), (2, 8)),
                                    ("concat_axis0", 0, (1, 3), (5, 3))):
        rng = rng_for(name)
        a = Arg("a", rng.standard_normal((2, 3)), True)
        b = Arg("b", rng.standard_normal(bshape), True)
        projected(name, ["concat"], [a, b],
                  ["%%y = kiln.concat %%a, %%b, %%a {axis = %d : i64} : "
                   "%s, %s, %s -> %s" % (axis, a.type, b.type, a.type,
                                         T(out))], "%y", out, rng)


# ----------------------------------------------------------------------------
# softmax, log_softmax, dropout
# ----------------------------------------------------------------------------

def softmax_dropout_cases():
    shape = (3, 4)
    for op in ("softmax", "log_softmax"):
        for axis in (0, 1):
            name = "%s_axis%d" % (op, axis)
            rng = rng_for(name)
            projected(name, [op], [Arg("x", 2 * rng.standard_normal(shape),
                                       True)],
                      ["%%y = kiln.%s %%x {axis = %d : i64} : %s" % (
                          op, axis, T(shape))], "%y", shape, rng)

    # dropout: the VJP applies the same mask (seed, counter, index) as the
    # forward; @loss and @loss_grad get the same counter.
    rate = 0.4
    rng = rng_for("dropout")
    x = Arg("x", rng.standard_normal(shape), True)
    step = Arg("step", np.array(3, np.int64))

    def dropout_check(case, grads):
        # The gradient is R / (1 - rate) where kept and exactly 0 where
        # dropped, and both happen.
        g = grads["x"]
        r = case.args[-1].value
        kept = g != 0
        errors = []
        if kept.all() or not kept.any():
            errors.append("dropout kept %d of %d elements" % (kept.sum(),
                                                              kept.size))
        want = r / (1 - rate)
        bad = kept & (np.abs(g - want) > 1e-12 * np.abs(want))
        if bad.any():
            errors.append("kept gradient is not R / (1 - rate)")
        return errors

    projected("dropout", ["dropout"], [x, step],
              ["%%y = kiln.dropout %%x, %%step {rate = %r : f64, seed = 7 : "
               "i64} : %s, tensor<i64>" % (rate, T(shape))], "%y", shape, rng,
              check=dropout_check)


# ----------------------------------------------------------------------------
# Losses (the loss op is the loss; predictions are trainable, labels and
# sample weights are data)
# ----------------------------------------------------------------------------

def loss_case(name, op, p, y, w, from_logits=None, **kw):
    attr = "" if from_logits is None else " {from_logits = %s}" % (
        "true" if from_logits else "false")
    args = [Arg("p", p, True), Arg("y", y), Arg("w", w)]
    body = ["%%loss = kiln.%s %%p, %%y, %%w%s : %s, %s, %s -> tensor<f64>" % (
        op, attr, args[0].type, args[1].type, args[2].type)]
    return add(Case(name, [op], args, body, **kw))


def weights(n):
    return np.array([1.0, 0.0, 2.5, 0.5][:n]) if n == 4 else \
        np.array([1.5, 0.5][:n])


def loss_cases():
    for shape in ((4,), (4, 3), (2, 2, 3)):
        tag = "rank%d" % len(shape)
        w = weights(shape[0])
        rng = rng_for("mse_" + tag)
        loss_case("mean_squared_error_" + tag, "mean_squared_error",
                  rng.standard_normal(shape), rng.standard_normal(shape), w)
        if len(shape) == 1:
            continue
        rng = rng_for("mae_" + tag)
        y = rng.standard_normal(shape)
        loss_case("mean_absolute_error_" + tag, "mean_absolute_error",
                  y + signed(rng, shape, 0.1, 1.0), y, w)
        rng = rng_for("bce_" + tag)
        yb = rng.uniform(0, 1, shape)
        loss_case("binary_crossentropy_logits_" + tag, "binary_crossentropy",
                  3 * rng.standard_normal(shape), yb, w, from_logits=True)
        loss_case("binary_crossentropy_probs_" + tag, "binary_crossentropy",
                  rng.uniform(0.05, 0.95, shape), yb, w, from_logits=False)
        rng = rng_for("cce_" + tag)
        yc = rng.uniform(0, 1, shape)
        yc /= yc.sum(-1, keepdims=True)
        loss_case("categorical_crossentropy_logits_" + tag,
                  "categorical_crossentropy", 3 * rng.standard_normal(shape),
                  yc, w, from_logits=True)
        loss_case("categorical_crossentropy_probs_" + tag,
                  "categorical_crossentropy", rng.uniform(0.05, 1.0, shape),
                  yc, w, from_logits=False)
        rng = rng_for("scce_" + tag)
        it = np.int32 if len(shape) == 2 else np.int64
        lab = rng.integers(0, shape[-1], shape[:-1]).astype(it)
        loss_case("sparse_categorical_crossentropy_logits_" + tag,
                  "sparse_categorical_crossentropy",
                  3 * rng.standard_normal(shape), lab, w, from_logits=True)
        loss_case("sparse_categorical_crossentropy_probs_" + tag,
                  "sparse_categorical_crossentropy",
                  rng.uniform(0.05, 0.95, shape), lab.astype(
                      np.int64 if it == np.int32 else np.int32), w,
                  from_logits=False)

    # Default from_logits (false) and probabilities outside the clip range
    # [1e-7, 1 - 1e-7] (the clipped loss is flat there: zero gradient on
    # those elements, the others nonzero).
    rng = rng_for("bce_clip")
    p = rng.uniform(0.05, 0.95, (4, 3))
    p[0, 0], p[2, 1], p[3, 2] = -0.2, 1.3, -0.05
    loss_case("binary_crossentropy_probs_clipped", "binary_crossentropy", p,
              rng.uniform(0, 1, (4, 3)), np.array([1.0, 2.0, 0.5, 1.0]))
    # Categorical labels whose rows do not sum to 1 (kiln's logits form is
    # logsumexp(z) - sum_c y_c z_c; its gradient must match whatever the
    # compiled forward computes).
    rng = rng_for("cce_unnormalized")
    yc = rng.uniform(0, 1, (3, 4))
    loss_case("categorical_crossentropy_logits_unnormalized_labels",
              "categorical_crossentropy", 2 * rng.standard_normal((3, 4)),
              yc, np.array([1.0, 0.5, 2.0]), from_logits=True)
    # Every sample weight zero: loss 0 and zero gradient (no 0/0).
    rng = rng_for("weights_zero")
    for op, extra in (("mean_squared_error", None),
                      ("sparse_categorical_crossentropy", True)):
        y = rng.standard_normal((3, 2)) if extra is None else \
            np.array([1, 0, 1], np.int32)
        loss_case(op + "_all_weights_zero", op, rng.standard_normal((3, 2)),
                  y, np.zeros(3), from_logits=extra,
                  grad_kinds={"p": "zero"})


# ----------------------------------------------------------------------------
# Zero-gradient ops: compare, argmax, constant, iota, stop_gradient (and the
# float-to-integer convert)
# ----------------------------------------------------------------------------

def zero_gradient_cases():
    shape = (2, 3)
    ty = T(shape)
    # stop_gradient: a reaches the loss only through stop_gradient (blocked,
    # zero gradient), b normally.
    rng = rng_for("stop_gradient")
    projected("stop_gradient", ["mul"],
              [Arg("a", rng.standard_normal(shape), True),
               Arg("b", rng.standard_normal(shape), True)],
              ["%%s = kiln.stop_gradient %%a : %s" % ty,
               "%%y = kiln.mul %%s, %%b : %s" % ty], "%y", shape, rng,
              zero_ops=["stop_gradient"], grad_kinds={"a": "blocked"})
    # x used directly and through stop_gradient: loss = sum((x + sg(x)) R);
    # the gradient is R (only the direct path), the numeric one 2R, so the
    # expected value is stated instead (R is the last argument).
    rng = rng_for("stop_gradient_partial")
    c = projected("stop_gradient_partial", [],
                  [Arg("x", rng.standard_normal(shape), True)],
                  ["%%s = kiln.stop_gradient %%x : %s" % ty,
                   "%%y = kiln.add %%x, %%s : %s" % ty], "%y", shape, rng,
                  zero_ops=["stop_gradient"])
    c.grad_kinds["x"] = ("exact", c.args[-1].value)
    # compare inside select (the gradient flows through select's branches,
    # none through compare), away from the threshold.
    rng = rng_for("compare_select")
    x = away(rng, shape, -2, 2, kinks=(0.3,))
    projected("compare_select", ["select", "square", "mul"],
              [Arg("x", x, True), Arg("t", np.full(shape, 0.3)),
               Arg("k", np.full(shape, 3.0))],
              ["%%m = kiln.compare gt, %%x, %%t : %s" % ty,
               "%%sq = kiln.square %%x : %s" % ty,
               "%%x3 = kiln.mul %%x, %%k : %s" % ty,
               "%%y = kiln.select %%m, %%sq, %%x3 : %s, %s" % (T(shape, "i1"),
                                                             ty)],
              "%y", shape, rng, zero_ops=["compare"])
    # compare only: loss = sum(convert(x > t) R) is piecewise constant.
    rng = rng_for("compare_only")
    x = away(rng, shape, -2, 2, kinks=(0.3,))
    projected("compare_only", [],
              [Arg("x", x, True), Arg("t", np.full(shape, 0.3))],
              ["%%m = kiln.compare gt, %%x, %%t : %s" % ty,
               "%%y = kiln.convert %%m : %s -> %s" % (T(shape, "i1"), ty)],
              "%y", shape, rng, zero_ops=["compare"],
              grad_kinds={"x": "zero"})
    # argmax only: loss = sum(convert(argmax(x)) R).
    rng = rng_for("argmax")
    projected("argmax", [], [Arg("x", distinct(rng, (2, 4)), True)],
              ["%%i = kiln.argmax %%x {axis = 1 : i64} : %s -> %s" % (
                  T((2, 4)), T((2,), "i64")),
               "%%y = kiln.convert %%i : %s -> %s" % (T((2,), "i64"),
                                                      T((2,)))],
              "%y", (2,), rng, zero_ops=["argmax"], grad_kinds={"x": "zero"})
    # argmax beside a differentiable path: contributes nothing.
    rng = rng_for("argmax_mixed")
    projected("argmax_mixed", ["add", "tanh"],
              [Arg("x", distinct(rng, (2, 4)), True)],
              ["%%i = kiln.argmax %%x {axis = 1 : i64, keep_dims = true} : "
               "%s -> %s" % (T((2, 4)), T((2, 1), "i64")),
               "%%f = kiln.convert %%i : %s -> %s" % (T((2, 1), "i64"),
                                                      T((2, 1))),
               "%%b = kiln.broadcast_in_dim %%f, dims = [0, 1] : %s -> %s" % (
                   T((2, 1)), T((2, 4))),
               "%%t = kiln.tanh %%x : %s" % T((2, 4)),
               "%%y = kiln.add %%t, %%b : %s" % T((2, 4))],
              "%y", (2, 4), rng, zero_ops=["argmax"])
    # float -> integer convert: no gradient (piecewise constant).
    rng = rng_for("convert_to_int")
    x = away(rng, shape, -3, 3, kinks=(-2, -1, 0, 1, 2), margin=0.1)
    projected("convert_to_int", [], [Arg("x", x, True)],
              ["%%i = kiln.convert %%x : %s -> %s" % (ty, T(shape, "i32")),
               "%%y = kiln.convert %%i : %s -> %s" % (T(shape, "i32"), ty)],
              "%y", shape, rng, grad_kinds={"x": "zero"})
    # constant and iota as operands of differentiable ops.
    rng = rng_for("constant")
    cval = rng.standard_normal(shape)
    dense = "[%s]" % ", ".join("[%s]" % ", ".join(repr(float(v)) for v in row)
                               for row in cval)
    projected("constant", ["mul", "exp"], [Arg("x", rng.standard_normal(shape),
                                               True)],
              ["%%c = kiln.constant dense<%s> : %s" % (dense, ty),
               "%%m = kiln.mul %%x, %%c : %s" % ty,
               "%%y = kiln.exp %%m : %s" % ty], "%y", shape, rng,
              zero_ops=["constant"])
    rng = rng_for("iota")
    projected("iota", ["mul", "tanh"],
              [Arg("x", rng.standard_normal(shape), True)],
              ["%%i = kiln.iota {dimension = 1 : i64} : %s" % ty,
               "%%m = kiln.mul %%x, %%i : %s" % ty,
               "%%y = kiln.tanh %%m : %s" % ty], "%y", shape, rng,
              zero_ops=["iota"])


# ----------------------------------------------------------------------------
# Composite graphs
# ----------------------------------------------------------------------------

def dense_layer(rng, x_shape, units, margin=0.05):
    """x, W, b with every pre-activation xW + b at least `margin` from 0."""
    for _ in range(1000):
        x = rng.standard_normal(x_shape)
        w = rng.standard_normal((x_shape[-1], units))
        b = 0.5 * rng.standard_normal(units)
        if np.abs(x @ w + b).min() >= margin:
            return x, w, b
    raise AssertionError("cannot sample a dense layer away from relu's kink")


def composite_cases():
    # Dense layer: relu(x W + broadcast(b)).
    rng = rng_for("dense_relu")
    x, w, b = dense_layer(rng, (4, 3), 2)
    projected("dense_relu", ["matmul", "broadcast_in_dim", "add", "relu"],
              [Arg("x", x, True), Arg("w", w, True), Arg("b", b, True)],
              ["%z = kiln.matmul %x, %w : tensor<4x3xf64>, tensor<3x2xf64> "
               "-> tensor<4x2xf64>",
               "%bb = kiln.broadcast_in_dim %b, dims = [1] : tensor<2xf64> -> "
               "tensor<4x2xf64>",
               "%za = kiln.add %z, %bb : tensor<4x2xf64>",
               "%y = kiln.relu %za : tensor<4x2xf64>"], "%y", (4, 2), rng)

    # 2-layer MLP, relu hidden layer, sparse softmax cross-entropy from
    # logits with sample weights.
    rng = rng_for("mlp_sparse_ce")
    for _ in range(1000):
        x, w1, b1 = dense_layer(rng, (4, 3), 3)
        if (x @ w1 + b1 > 0).any(axis=0).all():  # every hidden unit active
            break
    w2 = rng.standard_normal((3, 3))
    b2 = 0.5 * rng.standard_normal(3)
    add(Case("mlp_sparse_ce",
             ["matmul", "broadcast_in_dim", "add", "relu",
              "sparse_categorical_crossentropy"],
             [Arg("x", x), Arg("w1", w1, True), Arg("b1", b1, True),
              Arg("w2", w2, True), Arg("b2", b2, True),
              Arg("y", np.array([2, 0, 1, 2], np.int32)),
              Arg("sw", np.array([1.0, 2.0, 0.5, 1.0]))],
             ["%h = kiln.matmul %x, %w1 : tensor<4x3xf64>, tensor<3x3xf64> -> "
              "tensor<4x3xf64>",
              "%hb = kiln.broadcast_in_dim %b1, dims = [1] : tensor<3xf64> -> "
              "tensor<4x3xf64>",
              "%ha = kiln.add %h, %hb : tensor<4x3xf64>",
              "%hr = kiln.relu %ha : tensor<4x3xf64>",
              "%o = kiln.matmul %hr, %w2 : tensor<4x3xf64>, tensor<3x3xf64> "
              "-> tensor<4x3xf64>",
              "%ob = kiln.broadcast_in_dim %b2, dims = [1] : tensor<3xf64> -> "
              "tensor<4x3xf64>",
              "%oa = kiln.add %o, %ob : tensor<4x3xf64>",
              "%loss = kiln.sparse_categorical_crossentropy %oa, %y, %sw "
              "{from_logits = true} : tensor<4x3xf64>, tensor<4xi32>, "
              "tensor<4xf64> -> tensor<f64>"]))

    # Dropout inside a graph: two dropout ops with their own seeds; the VJP
    # must apply the same masks as the forward.
    rng = rng_for("mlp_dropout")
    add(Case("mlp_dropout", ["matmul", "dropout", "tanh",
                             "mean_squared_error"],
             [Arg("x", rng.standard_normal((4, 3))),
              Arg("w1", rng.standard_normal((3, 3)), True),
              Arg("w2", rng.standard_normal((3, 2)), True),
              Arg("step", np.array(5, np.int64)),
              Arg("y", rng.standard_normal((4, 2))),
              Arg("sw", np.array([1.0, 1.0, 0.0, 2.0]))],
             ["%xd = kiln.dropout %x, %step {rate = 0.25 : f64, seed = 3 : "
              "i64} : tensor<4x3xf64>, tensor<i64>",
              "%h = kiln.matmul %xd, %w1 : tensor<4x3xf64>, tensor<3x3xf64> "
              "-> tensor<4x3xf64>",
              "%ht = kiln.tanh %h : tensor<4x3xf64>",
              "%hd = kiln.dropout %ht, %step {rate = 0.5 : f64, seed = 11 : "
              "i64} : tensor<4x3xf64>, tensor<i64>",
              "%o = kiln.matmul %hd, %w2 : tensor<4x3xf64>, tensor<3x2xf64> "
              "-> tensor<4x2xf64>",
              "%loss = kiln.mean_squared_error %o, %y, %sw : tensor<4x2xf64>, "
              "tensor<4x2xf64>, tensor<4xf64> -> tensor<f64>"]))

    # Dense bias on an input of shape [2, 3, 5] (batched matmul with equal
    # batch axes, bias broadcast with dims = [2]); the must-hold check of
    # the bias gradient's shape and row sum is in dense_bias_must_holds.
    rng = rng_for("dense_bias_2x3x5")
    projected("dense_bias_2x3x5", ["matmul", "broadcast_in_dim", "add",
                                   "tanh"],
              [Arg("x", rng.standard_normal((2, 3, 5))),
               Arg("w", rng.standard_normal((2, 5, 4))),
               Arg("b", rng.standard_normal(4), True)],
              ["%z = kiln.matmul %x, %w : tensor<2x3x5xf64>, "
               "tensor<2x5x4xf64> -> tensor<2x3x4xf64>",
               "%bb = kiln.broadcast_in_dim %b, dims = [2] : tensor<4xf64> -> "
               "tensor<2x3x4xf64>",
               "%za = kiln.add %z, %bb : tensor<2x3x4xf64>",
               "%y = kiln.tanh %za : tensor<2x3x4xf64>"], "%y", (2, 3, 4), rng)

    # y = 3x, loss = sum(2y + 5y) (the must-hold value 21 is checked exactly
    # in fan_out_must_holds; here against central differences).
    rng = rng_for("fan_out_3x")
    add(Case("fan_out_3x", ["mul", "add", "reduce_sum"],
             [Arg("x", rng.standard_normal(4), True)],
             ["%c3 = kiln.constant dense<3.0> : tensor<4xf64>",
              "%c2 = kiln.constant dense<2.0> : tensor<4xf64>",
              "%c5 = kiln.constant dense<5.0> : tensor<4xf64>",
              "%y = kiln.mul %c3, %x : tensor<4xf64>",
              "%a = kiln.mul %c2, %y : tensor<4xf64>",
              "%b = kiln.mul %c5, %y : tensor<4xf64>",
              "%s = kiln.add %a, %b : tensor<4xf64>",
              "%loss = kiln.reduce_sum %s {axes = array<i64: 0>} : "
              "tensor<4xf64> -> tensor<f64>"]))

    # Fan-out: x and tanh(x) each feed several ops (contributions summed).
    rng = rng_for("fan_out")
    t = "tensor<2x3xf64>"
    projected("fan_out", ["tanh", "mul", "add", "exp", "neg", "sub"],
              [Arg("x", rng.standard_normal((2, 3)), True)],
              ["%a = kiln.tanh %x : " + t,
               "%b = kiln.mul %a, %x : " + t,
               "%c = kiln.add %b, %a : " + t,
               "%d = kiln.mul %c, %a : " + t,
               "%n = kiln.neg %x : " + t,
               "%e = kiln.exp %n : " + t,
               "%f = kiln.mul %e, %x : " + t,
               "%y = kiln.sub %d, %f : " + t], "%y", (2, 3), rng)

    # concat / slice / pad / transpose / reshape chain.
    rng = rng_for("concat_slice_pad_chain")
    projected("concat_slice_pad_chain",
              ["concat", "slice", "pad", "transpose", "reshape", "sigmoid"],
              [Arg("a", rng.standard_normal((2, 3)), True),
               Arg("b", rng.standard_normal((2, 2)), True)],
              ["%c = kiln.concat %a, %b {axis = 1 : i64} : tensor<2x3xf64>, "
               "tensor<2x2xf64> -> tensor<2x5xf64>",
               "%s = kiln.slice %c {start = array<i64: 0, 0>, limit = "
               "array<i64: 2, 5>, strides = array<i64: 1, 2>} : "
               "tensor<2x5xf64> -> tensor<2x3xf64>",
               "%s2 = kiln.slice %c {start = array<i64: 0, 1>, limit = "
               "array<i64: 2, 5>, strides = array<i64: 1, 2>} : "
               "tensor<2x5xf64> -> tensor<2x2xf64>",
               "%j = kiln.concat %s, %s2 {axis = 1 : i64} : tensor<2x3xf64>, "
               "tensor<2x2xf64> -> tensor<2x5xf64>",
               "%p = kiln.pad %j {low = array<i64: 1, 0>, high = "
               "array<i64: 0, 1>, interior = array<i64: 0, 1>, "
               "padding_value = 0.25 : f64} : tensor<2x5xf64> -> "
               "tensor<3x10xf64>",
               "%t = kiln.transpose %p {permutation = array<i64: 1, 0>} : "
               "tensor<3x10xf64> -> tensor<10x3xf64>",
               "%r2 = kiln.reshape %t : tensor<10x3xf64> -> tensor<30xf64>",
               "%y = kiln.sigmoid %r2 : tensor<30xf64>"], "%y", (30,), rng)

    # Losses with sample weights including zeros, after a small layer.
    rng = rng_for("weighted_losses")
    x = rng.standard_normal((4, 3))
    sw = np.array([0.0, 1.5, 0.0, 0.5])
    for name, op, labels, attr in (
            ("weighted_mse", "mean_squared_error",
             rng.standard_normal((4, 2)), ""),
            ("weighted_cce_logits", "categorical_crossentropy",
             np.eye(2)[[0, 1, 1, 0]], " {from_logits = true}"),
            ("weighted_bce_logits", "binary_crossentropy",
             rng.uniform(0, 1, (4, 2)), " {from_logits = true}"),
            ("weighted_scce_logits", "sparse_categorical_crossentropy",
             np.array([1, 0, 1, 1], np.int64), " {from_logits = true}")):
        y = Arg("y", labels)
        add(Case(name, ["matmul", "tanh", op],
                 [Arg("x", x), Arg("w", rng.standard_normal((3, 2)), True),
                  y, Arg("sw", sw)],
                 ["%h = kiln.matmul %x, %w : tensor<4x3xf64>, tensor<3x2xf64> "
                  "-> tensor<4x2xf64>",
                  "%o = kiln.tanh %h : tensor<4x2xf64>",
                  "%%loss = kiln.%s %%o, %%y, %%sw%s : tensor<4x2xf64>, %s, "
                  "tensor<4xf64> -> tensor<f64>" % (op, attr, y.type)]))


# ----------------------------------------------------------------------------
# Explicit checks: the must-hold values of the issue (printed with their
# values) and a few properties that central differences cannot express.
# ----------------------------------------------------------------------------

class Explicit:
    """A module with @loss (n_results results, the first is the loss); the
    runner derives @loss_grad, runs it once and calls
    verify(outputs) -> [(ok, text)], outputs = loss_grad's results (the
    original ones, then one gradient per trainable argument). With
    `expect_error`, kiln-opt must fail and print that text instead."""

    def __init__(self, name, mlir, inputs, n_results=1, verify=None,
                 must_hold=False, expect_error=None):
        self.name = name
        self.mlir = mlir
        self.inputs = inputs
        self.n_results = n_results
        self.verify = verify
        self.must_hold = must_hold
        self.expect_error = expect_error


EXPLICIT = []


def fmt(values, dt="f64"):
    """Integers as such, other values as the shortest text that round-trips
    in the dtype."""
    values = np.asarray(values)

    def one(v):
        v = float(v)
        if not math.isfinite(v):
            return repr(v)
        if v == int(v) and abs(v) < 1e6:
            return "%d" % v
        return repr(v) if dt == "f64" else str(np.float32(v))
    if values.ndim == 0:
        return one(values)
    return "[%s]" % ", ".join(fmt(v, dt) for v in values)


def finite(*arrays):
    return all(np.all(np.isfinite(np.asarray(a, np.float64))) for a in arrays)


def softmax_ce_must_holds():
    """Softmax cross-entropy from logits, sparse and categorical labels, f32
    and f64: [1000, 0, -1000] with label 0 -> loss 0 (gradient 0), label 2
    -> loss 2000, gradient [1, 0, -1]; [1e8, 1e8] -> ln 2 (gradient
    [-0.5, 0.5]); never inf or NaN. Tolerance: 4 ulps of the dtype times
    max(1, |expected|) on the loss and on every gradient element."""
    scenarios = (([1000.0, 0.0, -1000.0], 0, 0.0, [0.0, 0.0, 0.0]),
                 ([1000.0, 0.0, -1000.0], 2, 2000.0, [1.0, 0.0, -1.0]),
                 ([1e8, 1e8], 0, math.log(2.0), [-0.5, 0.5]))
    logits_text = {3: "[1000, 0, -1000]", 2: "[1e8, 1e8]"}
    for op in ("sparse_categorical_crossentropy",
               "categorical_crossentropy"):
        for dt, npt in (("f32", np.float32), ("f64", np.float64)):
            for logits, label, want_loss, want_grad in scenarios:
                c = len(logits)
                z = np.array([logits], npt)
                if op.startswith("sparse"):
                    y = np.array([label], np.int64)
                else:
                    y = np.eye(c, dtype=npt)[[label]]
                w = np.ones(1, npt)
                zt, yt, wt = ttype(z), ttype(y), ttype(w)
                mlir = ("func.func @loss(%%z: %s {kiln.trainable}, %%y: %s, "
                        "%%w: %s) -> tensor<%s> {\n"
                        "  %%l = kiln.%s %%z, %%y, %%w {from_logits = true} : "
                        "%s, %s, %s -> tensor<%s>\n"
                        "  return %%l : tensor<%s>\n}\n" % (
                            zt, yt, wt, dt, op, zt, yt, wt, dt, dt))
                ulp = float(np.finfo(npt).eps)
                text = "%s %s logits=%s label=%d" % (
                    op, dt, logits_text[c], label)
                want_text = "ln 2 = %r" % want_loss if c == 2 else \
                    fmt(want_loss)

                def verify(out, want_loss=want_loss, want_grad=want_grad,
                           ulp=ulp, text=text, want_text=want_text, dt=dt):
                    loss, grad = out[0], out[1][0]
                    tol = 4 * ulp * max(1.0, abs(want_loss))
                    ok = (finite(loss, grad) and
                          abs(float(loss) - want_loss) <= tol and
                          np.all(np.abs(grad - want_grad) <= 4 * ulp))
                    return [(ok, "%s: loss=%s (want %s) grad=%s (want %s)" % (
                        text, fmt(loss, dt), want_text, fmt(grad, dt),
                        fmt(want_grad)))]
                EXPLICIT.append(Explicit(
                    "must_%s_%s_%s_%d" % (op, dt, "1e8" if c == 2 else
                                          "1000", label),
                    mlir, [z, y, w], verify=verify, must_hold=True))


def infinite_logit_must_holds():
    """Losses from logits at z = +-inf (what a sigmoid or softmax output
    becomes under kiln-rewrite-losses-to-logits): the mathematical limit,
    0 where the sample is classified perfectly and +inf only where the limit
    is infinite; never NaN from inf - inf or 0 * inf. The gradient (one
    sample of weight 1: dl/dz itself) is the finite limit sigmoid(z) - y or
    softmax(z) - y, logits equal to an infinite maximum sharing the
    probability evenly. A row of weight 0 adds nothing even when its loss is
    infinite. Expected values are the limits worked by hand (stated in the
    text); tolerance 4 ulps of the dtype."""
    inf = math.inf
    # (op, logits, label (an index, or a binary label), want loss, want grad)
    scenarios = [
        ("binary_crossentropy", [inf], 1.0, 0.0, [0.0]),
        ("binary_crossentropy", [-inf], 0.0, 0.0, [0.0]),
        ("binary_crossentropy", [inf], 0.0, inf, [1.0]),
        ("binary_crossentropy", [-inf], 1.0, inf, [-1.0]),
        ("binary_crossentropy", [inf], 0.25, inf, [0.75]),
    ]
    for op in ("sparse_categorical_crossentropy",
               "categorical_crossentropy"):
        scenarios += [
            (op, [inf, 0.0, -inf], 0, 0.0, [0.0, 0.0, 0.0]),
            (op, [inf, 0.0, -inf], 2, inf, [1.0, 0.0, -1.0]),
            (op, [0.0, -inf], 0, 0.0, [0.0, 0.0]),
            (op, [inf, inf, 0.0], 0, math.log(2.0), [-0.5, 0.5, 0.0]),
            (op, [-inf, -inf], 1, math.log(2.0), [0.5, -0.5]),
        ]
    for dt, npt in (("f32", np.float32), ("f64", np.float64)):
        for op, logits, label, want_loss, want_grad in scenarios:
            c = len(logits)
            z = np.array([logits], npt)
            if op.startswith("sparse"):
                y = np.array([label], np.int64)
            elif op.startswith("categorical"):
                y = np.eye(c, dtype=npt)[[label]]
            else:
                y = np.array([[label]], npt)
            w = np.ones(1, npt)
            zt, yt, wt = ttype(z), ttype(y), ttype(w)
            mlir = ("func.func @loss(%%z: %s {kiln.trainable}, %%y: %s, "
                    "%%w: %s) -> tensor<%s> {\n"
                    "  %%l = kiln.%s %%z, %%y, %%w {from_logits = true} : "
                    "%s, %s, %s -> tensor<%s>\n"
                    "  return %%l : tensor<%s>\n}\n" % (
                        zt, yt, wt, dt, op, zt, yt, wt, dt, dt))
            ulp = float(np.finfo(npt).eps)
            text = "%s %s logits=%s label=%s" % (
                op, dt, fmt(logits), fmt(label))
            want_text = "ln 2 = %r" % want_loss if 0 < want_loss < 1 else \
                ("inf" if want_loss == inf else fmt(want_loss))

            def verify(out, want_loss=want_loss, want_grad=want_grad,
                       ulp=ulp, text=text, want_text=want_text, dt=dt):
                loss, grad = float(out[0]), out[1].reshape(-1)
                if want_loss == inf:
                    loss_ok = loss == inf
                else:
                    loss_ok = abs(loss - want_loss) <= 4 * ulp * max(
                        1.0, want_loss)
                ok = (loss_ok and finite(grad) and
                      np.all(np.abs(grad - want_grad) <= 4 * ulp))
                return [(ok, "%s: loss=%s (want %s) grad=%s (want %s)" % (
                    text, "inf" if loss == inf else fmt(loss, dt), want_text,
                    fmt(grad, dt), fmt(want_grad)))]
            EXPLICIT.append(Explicit(
                "must_inf_%s_%s_%d" % (op, dt, len(EXPLICIT)),
                mlir, [z, y, w], verify=verify, must_hold=True))
        # A padded row (weight 0) whose loss is infinite adds nothing.
        z = np.array([[inf], [0.0]], npt)
        y = np.array([[0.0], [1.0]], npt)
        w = np.array([0.0, 1.0], npt)
        zt, yt, wt = ttype(z), ttype(y), ttype(w)
        mlir = ("func.func @loss(%%z: %s {kiln.trainable}, %%y: %s, "
                "%%w: %s) -> tensor<%s> {\n"
                "  %%l = kiln.binary_crossentropy %%z, %%y, %%w "
                "{from_logits = true} : %s, %s, %s -> tensor<%s>\n"
                "  return %%l : tensor<%s>\n}\n" % (
                    zt, yt, wt, dt, zt, yt, wt, dt, dt))
        ulp = float(np.finfo(npt).eps)

        def verify_padded(out, ulp=ulp, dt=dt):
            loss, grad = float(out[0]), out[1].reshape(-1)
            ok = (abs(loss - math.log(2.0)) <= 4 * ulp and finite(grad) and
                  np.all(np.abs(grad - [0.0, -0.5]) <= 4 * ulp))
            return [(ok, "binary_crossentropy %s logits=[inf, 0] labels=[0, 1]"
                     " weights=[0, 1]: loss=%s (want ln 2) grad=%s (want "
                     "[0, -0.5])" % (dt, fmt(loss, dt), fmt(grad, dt)))]
        EXPLICIT.append(Explicit(
            "must_inf_padded_%s" % dt, mlir, [z, y, w],
            verify=verify_padded, must_hold=True))


def fan_out_must_holds():
    """y = 3x, loss = reduce_sum(2y + 5y): dloss/dx = 21 for every element,
    exactly (every product and sum is exact), f32 and f64."""
    for dt, npt in (("f32", np.float32), ("f64", np.float64)):
        x = np.array([0.5, -1.25, 2.0, 3.0], npt)
        t = ttype(x)
        mlir = ("func.func @loss(%%x: %s {kiln.trainable}) -> tensor<%s> {\n"
                "  %%c3 = kiln.constant dense<3.0> : %s\n"
                "  %%c2 = kiln.constant dense<2.0> : %s\n"
                "  %%c5 = kiln.constant dense<5.0> : %s\n"
                "  %%y = kiln.mul %%c3, %%x : %s\n"
                "  %%a = kiln.mul %%c2, %%y : %s\n"
                "  %%b = kiln.mul %%c5, %%y : %s\n"
                "  %%s = kiln.add %%a, %%b : %s\n"
                "  %%l = kiln.reduce_sum %%s {axes = array<i64: 0>} : %s -> "
                "tensor<%s>\n"
                "  return %%l : tensor<%s>\n}\n" % ((t, dt) + (t,) * 7 +
                                                    (t, dt, dt)))

        def verify(out, dt=dt, x=x):
            loss, g = out
            ok = g.shape == x.shape and np.all(g == 21.0) and \
                float(loss) == float(np.sum(21.0 * x.astype(np.float64)))
            return [(ok, "fan-out %s y=3x, loss=reduce_sum(2y+5y): "
                     "loss=%s dloss/dx=%s (want 21 per element)" % (
                         dt, fmt(loss, dt), fmt(g, dt)))]
        EXPLICIT.append(Explicit("must_fan_out_21_" + dt, mlir, [x],
                                 verify=verify, must_hold=True))


def dense_bias_must_holds():
    """Dense layer with bias on an input of shape [2, 3, 5], 4 units: the
    bias (broadcast with dims = [2] to [2, 3, 4]) gets a gradient of shape
    [4] that is the sum over the 6 rows of the upstream gradient. The
    upstream gradient is read from a trainable zero tensor d added to the
    pre-activation (its gradient is exactly the upstream gradient).
    Tolerance: 8 eps64 * the sum of |terms| (a sum of 6 rounded terms)."""
    units = 4
    rng = rng_for("dense_bias_must_hold")
    x = rng.standard_normal((2, 3, 5))
    b = rng.standard_normal(units)
    d = np.zeros((2, 3, units))
    r = rng.standard_normal((2, 3, units))
    head = ("  %bb = kiln.broadcast_in_dim %b, dims = [2] : tensor<4xf64> -> "
            "tensor<2x3x4xf64>\n"
            "  %zb = kiln.add %z, %bb : tensor<2x3x4xf64>\n"
            "  %zd = kiln.add %zb, %d : tensor<2x3x4xf64>\n"
            "  %t = kiln.tanh %zd : tensor<2x3x4xf64>\n"
            "  %p = kiln.mul %t, %r : tensor<2x3x4xf64>\n"
            "  %l = kiln.reduce_sum %p {axes = array<i64: 0, 1, 2>} : "
            "tensor<2x3x4xf64> -> tensor<f64>\n"
            "  return %l : tensor<f64>\n}\n")
    variants = (
        ("batched matmul [2,3,5]x[2,5,4]", rng.standard_normal((2, 5, units)),
         "  %z = kiln.matmul %x, %w : tensor<2x3x5xf64>, tensor<2x5x4xf64> "
         "-> tensor<2x3x4xf64>\n"),
        ("reshape [6,5] matmul [5,4]", rng.standard_normal((5, units)),
         "  %x2 = kiln.reshape %x : tensor<2x3x5xf64> -> tensor<6x5xf64>\n"
         "  %z2 = kiln.matmul %x2, %w : tensor<6x5xf64>, tensor<5x4xf64> -> "
         "tensor<6x4xf64>\n"
         "  %z = kiln.reshape %z2 : tensor<6x4xf64> -> tensor<2x3x4xf64>\n"))
    for label, w, matmul in variants:
        mlir = ("func.func @loss(%%x: tensor<2x3x5xf64>, %%w: %s, "
                "%%b: tensor<4xf64> {kiln.trainable}, %%d: tensor<2x3x4xf64> "
                "{kiln.trainable}, %%r: tensor<2x3x4xf64>) -> tensor<f64> {\n"
                % ttype(w) + matmul + head)

        def verify(out, label=label):
            loss, gb, gd = out
            rows = gd.reshape(6, units)
            want = rows.sum(axis=0)
            tol = 8 * np.finfo(np.float64).eps * np.abs(rows).sum(axis=0)
            ok = (gb.shape == (units,) and gd.shape == (2, 3, units) and
                  finite(gb, gd) and np.all(np.abs(gb - want) <= tol) and
                  np.any(gb != 0))
            return [(ok, "dense bias on [2,3,5] (%s): bias gradient shape "
                     "%s = sum over %d rows of the upstream gradient: %s "
                     "(rows sum %s)" % (label, list(gb.shape), rows.shape[0],
                                        fmt(gb), fmt(want)))]
        EXPLICIT.append(Explicit("must_dense_bias_" + label.split()[0], mlir,
                                 [x, w, b, d, r], verify=verify,
                                 must_hold=True))


def other_explicit_checks():
    # A padded last batch (weight-0 rows) gives the loss and gradient of the
    # short batch; padding rows get a zero gradient.
    rng = rng_for("padded_batch")
    short = 3 * rng.standard_normal((2, 3))
    padded = np.concatenate([short, 3 * rng.standard_normal((2, 3))])
    lab_s = np.array([2, 0], np.int32)
    lab_p = np.array([2, 0, 1, 1], np.int32)
    mlir = (
        "func.func @loss(%p: tensor<4x3xf64> {kiln.trainable}, %s: "
        "tensor<2x3xf64> {kiln.trainable}, %yp: tensor<4xi32>, %ys: "
        "tensor<2xi32>, %wp: tensor<4xf64>, %ws: tensor<2xf64>) -> "
        "(tensor<f64>, tensor<f64>, tensor<f64>) {\n"
        "  %lp = kiln.sparse_categorical_crossentropy %p, %yp, %wp "
        "{from_logits = true} : tensor<4x3xf64>, tensor<4xi32>, tensor<4xf64> "
        "-> tensor<f64>\n"
        "  %ls = kiln.sparse_categorical_crossentropy %s, %ys, %ws "
        "{from_logits = true} : tensor<2x3xf64>, tensor<2xi32>, tensor<2xf64> "
        "-> tensor<f64>\n"
        "  %l = kiln.add %lp, %ls : tensor<f64>\n"
        "  return %l, %lp, %ls : tensor<f64>, tensor<f64>, tensor<f64>\n}\n")

    def verify(out):
        _, lp, ls, gp, gs = out
        ok = (abs(float(lp) - float(ls)) <= 4e-16 * max(1.0, abs(float(ls)))
              and np.all(np.abs(gp[:2] - gs) <= 4e-16 * np.maximum(
                  1.0, np.abs(gs)))
              and np.all(gp[2:] == 0) and np.any(gs != 0))
        return [(ok, "padded batch (2 rows + 2 weight-0 rows) vs short "
                 "batch: loss %s vs %s, padding-row gradient %s" % (
                     fmt(lp), fmt(ls), fmt(gp[2:].ravel())))]
    EXPLICIT.append(Explicit("padded_batch_equals_short_batch", mlir,
                             [padded, short, lab_p, lab_s,
                              np.array([1.0, 2.0, 0.0, 0.0]),
                              np.array([1.0, 2.0])], n_results=3,
                             verify=verify))

    # Labels are data: making them trainable is an error, not a silent zero.
    mlir = ("func.func @loss(%p: tensor<2x3xf64> {kiln.trainable}, %y: "
            "tensor<2x3xf64> {kiln.trainable}, %w: tensor<2xf64>) -> "
            "tensor<f64> {\n"
            "  %l = kiln.mean_squared_error %p, %y, %w : tensor<2x3xf64>, "
            "tensor<2x3xf64>, tensor<2xf64> -> tensor<f64>\n"
            "  return %l : tensor<f64>\n}\n")
    EXPLICIT.append(Explicit(
        "trainable_labels_rejected", mlir, [], expect_error=(
            "has no gradient for an operand that depends on a trainable "
            "argument")))


def no_vjp_checks():
    # max_pool_grad is not differentiated again: a model that needs it (a
    # second derivative through max pooling) is an error, not wrong numbers.
    mlir = ("func.func @loss(%x: tensor<1x4x4x1xf64> {kiln.trainable}, "
            "%dy: tensor<1x2x2x1xf64> {kiln.trainable}) -> tensor<f64> {\n"
            "  %g = kiln.max_pool_grad %x, %dy {window = array<i64: 2, 2>, "
            "strides = array<i64: 2, 2>, pad_low = array<i64: 0, 0>, "
            "pad_high = array<i64: 0, 0>} : tensor<1x4x4x1xf64>, "
            "tensor<1x2x2x1xf64> -> tensor<1x4x4x1xf64>\n"
            "  %l = kiln.reduce_sum %g {axes = array<i64: 0, 1, 2, 3>} : "
            "tensor<1x4x4x1xf64> -> tensor<f64>\n"
            "  return %l : tensor<f64>\n}\n")
    EXPLICIT.append(Explicit("max_pool_grad_no_vjp", mlir, [],
                             expect_error=NO_VJP_OPS["max_pool_grad"]))
    # rnn_grad likewise (a gradient of a gradient through a recurrence).
    mlir = ("func.func @loss(%x: tensor<1x2x1xf64> {kiln.trainable}, "
            "%k: tensor<1x1xf64>, %rk: tensor<1x1xf64>, "
            "%ws: tensor<4xf64>, %dy: tensor<1x2x1xf64>, "
            "%dst: tensor<1x1x1xf64>) -> tensor<f64> {\n"
            '  %dx, %dk, %drk, %db, %ds0 = kiln.rnn_grad %x, %k, %rk, %ws, '
            '%dy, %dst {cell = "simple"} : tensor<1x2x1xf64>, '
            "tensor<1x1xf64>, tensor<1x1xf64>, tensor<4xf64>, "
            "tensor<1x2x1xf64>, tensor<1x1x1xf64> -> "
            "tensor<1x2x1xf64>, tensor<1x1xf64>, tensor<1x1xf64>, "
            "tensor<1xf64>, tensor<1x1x1xf64>\n"
            "  %l = kiln.reduce_sum %dk {axes = array<i64: 0, 1>} : "
            "tensor<1x1xf64> -> tensor<f64>\n"
            "  return %l : tensor<f64>\n}\n")
    EXPLICIT.append(Explicit("rnn_grad_no_vjp", mlir, [],
                             expect_error=NO_VJP_OPS["rnn_grad"]))


def hard_sigmoid_kink_checks():
    """hard_sigmoid's gradient at and around its kinks, Keras 3 form (kinks
    at -3 and 3): alpha strictly inside the linear part, 0 on the flat parts
    and at both kinks (PyTorch `hardsigmoid_backward`), exactly, f32 and
    f64."""
    for dt, npt in (("f32", np.float32), ("f64", np.float64)):
        x = np.array([-3.0, 3.0, 0.0, -3.5, 2.5, 4.0], npt)
        want = np.array([0, 0, 1, 0, 1, 0], npt) * npt(1.0 / 6.0)
        t = ttype(x)
        mlir = ("func.func @loss(%%x: %s {kiln.trainable}) -> tensor<%s> {\n"
                "  %%y = kiln.hard_sigmoid %%x : %s\n"
                "  %%l = kiln.reduce_sum %%y {axes = array<i64: 0>} : %s -> "
                "tensor<%s>\n"
                "  return %%l : tensor<%s>\n}\n" % (t, dt, t, t, dt, dt))

        def verify(out, dt=dt, want=want):
            _, g = out
            ok = g.shape == want.shape and np.all(g == want)
            return [(ok, "hard_sigmoid %s at x=[-3, 3, 0, -3.5, 2.5, 4]: "
                     "grad=%s (want %s)" % (dt, fmt(g, dt), fmt(want, dt)))]
        EXPLICIT.append(Explicit("hard_sigmoid_kinks_" + dt, mlir, [x],
                                 verify=verify))


# ----------------------------------------------------------------------------
# batch_norm (training form: batch statistics; the moving statistics are
# data, their updated values are not differentiated)
# ----------------------------------------------------------------------------

def batch_norm_cases():
    for name, shape, axis, weights in (
            ("batch_norm_2d", (5, 3), 1, None),
            ("batch_norm_nhwc", (3, 2, 3, 2), 3, None),
            ("batch_norm_nchw", (3, 2, 2, 3), 1, None),
            # A zero weight drops row 2 from the statistics; nonzero weights
            # count as 1.
            ("batch_norm_sample_weight", (4, 3), 1, [1.0, 2.0, 0.0, 0.5])):
        rng = rng_for(name)
        c = shape[axis]
        args = [Arg("x", 2 * rng.standard_normal(shape) + 0.5, True),
                Arg("g", rng.uniform(0.5, 1.5, (c,)), True),
                Arg("b", rng.standard_normal((c,)), True),
                Arg("m", rng.standard_normal((c,))),
                Arg("v", rng.uniform(0.5, 2.0, (c,)))]
        weight_operand = ""
        if weights is not None:
            args.append(Arg("w", np.array(weights)))
            weight_operand = " sample_weight(%%w : %s)" % T((shape[0],))
        body = ["%%y, %%mm, %%mv = kiln.batch_norm %%x, %%g, %%b, %%m, %%v%s "
                "{axis = %d : i64, epsilon = 1.0e-3 : f64, momentum = 0.9 : "
                "f64} : %s, %s" % (weight_operand, axis, T(shape), T((c,)))]
        projected(name, ["batch_norm"], args, body, "%y", shape, rng)



def build_explicit():
    if not EXPLICIT:
        softmax_ce_must_holds()
        infinite_logit_must_holds()
        fan_out_must_holds()
        dense_bias_must_holds()
        other_explicit_checks()
        hard_sigmoid_kink_checks()
        no_vjp_checks()
    return EXPLICIT


def build_cases():
    if not CASES:
        binary_cases()
        unary_cases()
        select_convert_cases()
        reduction_cases()
        matmul_cases()
        conv_cases()
        pool_cases()
        shape_cases()
        softmax_dropout_cases()
        batch_norm_cases()
        loss_cases()
        zero_gradient_cases()
        composite_cases()
        names = [c.name for c in CASES]
        dup = sorted({n for n in names if names.count(n) > 1})
        assert not dup, "duplicate case names: %s" % dup
    return CASES


# ----------------------------------------------------------------------------
# Coverage against ir/KilnOps.td
# ----------------------------------------------------------------------------

def kilnops_td():
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                        "..", "ir", "KilnOps.td")


def kiln_ops(td_path=None):
    """{mnemonic: has the ZeroGradient trait} for every op of KilnOps.td."""
    with open(td_path or kilnops_td()) as f:
        text = f.read()
    ops = {}
    for m in re.finditer(r'^def Kiln_\w+\s*:\s*Kiln_\w+<\s*"(\w+)"', text,
                         re.M):
        # The trait list runs to the opening brace (or ';') of the def.
        rest = text[m.end():]
        end = min(i for i in (rest.find("{"), rest.find(";"), len(rest))
                  if i >= 0)
        ops[m.group(1)] = "Kiln_ZeroGradient" in rest[:end]
    return ops


def coverage_errors(cases):
    """Differentiable ops without a numeric case, zero-gradient ops without
    a zero check, and a changed ZeroGradient set."""
    ops = kiln_ops()
    errors = []
    zero_td = sorted(m for m, z in ops.items() if z)
    if zero_td != sorted(ZERO_GRADIENT_OPS):
        errors.append("ZeroGradient ops in KilnOps.td are %s, the suite "
                      "expects %s" % (zero_td, sorted(ZERO_GRADIENT_OPS)))
    for m, zero in sorted(ops.items()):
        if zero:
            if not any(m in c.zero_ops for c in cases):
                errors.append("no zero-gradient check uses kiln.%s" % m)
        elif m in NO_VJP_OPS:
            if not any(ex.expect_error == NO_VJP_OPS[m] and
                       re.search(r"kiln\.%s\s" % m, ex.mlir)
                       for ex in build_explicit()):
                errors.append("no check that kiln.%s has no VJP" % m)
        elif not any(m in c.ops and re.search(r"kiln\.%s\s" % m, c.mlir)
                     for c in cases):
            errors.append("no numeric gradient check of kiln.%s" % m)
    return errors
