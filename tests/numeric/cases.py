#!/usr/bin/python3
"""The numeric case table: every kiln op, compiled by `kilnc run` and compared
with an independent float64 numpy reference (run_numeric.py runs them).

A case is one small function `@f` in kiln IR, its inputs (seeded numpy
Generator per case, seed = crc32 of "name/dtype", so adding a case does not
change the others), a reference function and a tolerance per result. The
reference implements the formula documented in docs/spec.md (the op table and
the "Numerics conventions"), in float64 on the exact input values (f32 inputs
are widened exactly), never by calling the compiler or reading its code.
Where an equivalent but better-conditioned float64 form of the documented
formula exists it is used (np.expm1 for alpha*(e^x - 1), erfc for the exact
GELU, logaddexp for softplus), so that the reference error is negligible.

Tolerance policy (checked as |got - ref| <= atol + rtol*|ref| per element, in
float64; eps = 2^-23 for f32, 2^-52 for f64, i.e. one ulp at 1.0; see
`ulps`):
  - Exact (rtol = atol = 0): data movement (reshape, transpose, concat,
    slice, pad, broadcast_in_dim, constant, stop_gradient, select), neg, abs,
    maximum, minimum, relu, reduce_max, argmax, compare. The result is one of
    the input values (or its exact negation), so it must be bit-identical.
  - Correctly rounded IEEE operations (add, sub, mul, div, sqrt, square):
    rtol = 1 eps. The exact result rounded once is within 0.5 ulp, i.e.
    2^-24 (f32) / 2^-53 (f64) relative; 1 eps leaves a factor 2 margin.
  - Two roundings (rsqrt = 1/sqrt, leaky_relu = alpha*x with alpha rounded
    to the dtype, dropout's x / fl(1 - rate)): rtol = 2 eps.
  - One libm call plus a few roundings (exp, log, log1p, tanh, pow, sigmoid,
    softplus, elu): rtol = 8 eps. glibc documents <= 2 ulp for these
    functions in both precisions; 8 eps covers the extra roundings.
  - GELU (both forms): rtol = 8 eps plus atol = 8 eps * |x| per element: the
    documented form 0.5 x (1 + erf(.)) cancels in (1 + erf) for negative x,
    so the error is bounded by a few ulps of 1 times 0.5 |x|, not relative to
    the (tiny) result.
  - Sums (reduce_sum, reduce_mean, matmul): the recursive-summation bound
    |fl(sum) - sum| <= gamma_n * sum|terms| with gamma_n ~ n u (u = eps/2):
    atol = n eps sum|terms| per element (factor 2 margin; any summation order
    or blocking, FMA or not, obeys it), plus rtol = 1-2 eps for the final
    rounding / division. For matmul the terms are |A||B| (the same bound the
    issue text suggests as "scaled by K"; sqrt(K) is the probabilistic
    version, the deterministic one is used here).
  - softmax: rtol = (n + max|x - max x| + 8) eps (rounding of x - max
    propagates through exp relative to |x - max|, the sum adds n u).
    log_softmax: rtol = 8 eps plus atol = 8 eps (max|x - max x| + log n + 1):
    it is a difference d - log(sum) and cancels near 0.
  - Losses: rtol = (64 + N) eps plus, for the forms with a difference
    (from_logits), atol = 64 eps * the magnitude of the terms. A loss is a
    few dozen roundings (per-element term, class / non-batch mean, weighted
    batch mean), all positive terms except the ones covered by atol.
  - Every float comparison also allows atol >= the smallest normal number of
    the dtype (tiny), so that results in the subnormal range (softplus(-100),
    sigmoid(-100) in f32 are ~4e-44) may flush or round coarsely.
  - NaN and +-inf must appear exactly where the reference has them. For f32
    results a finite float64 reference that overflows f32 is expected to be
    +-inf (exp(100) in f32).
  - Integer and i1 results are compared exactly.
Dropout is compared exactly against a numpy reimplementation of the
counter-based hash documented above DropoutLowering (uint64 arithmetic), and
additionally checked statistically (keep fraction within 5 binomial sigmas of
1 - rate, every output 0 or x / (1 - rate)).

Expected failures: a case may carry `xfail="reason"` after the failure was
reported; run_numeric.py then reports it as XFAIL (and XPASS, counted as a
failure, when it starts passing).

Regenerate / run: /usr/bin/python3 tests/numeric/run_numeric.py KILNC WORKDIR
"""
import itertools
import math
import zlib

import numpy as np

NP = {"f32": np.float32, "f64": np.float64, "i32": np.int32,
      "i64": np.int64, "i1": np.bool_}
FLOAT_DTYPES = ("f32", "f64")


def eps(dt):
    """One ulp at 1.0: 2^-23 (f32), 2^-52 (f64)."""
    return float(np.finfo(NP[dt]).eps)


def ulps(dt, k):
    return k * eps(dt)


def clip_bounds(dt):
    """Keras' clip range [1e-7, 1 - 1e-7], as the constants are materialized
    in the input dtype (Keras clips with tensors of the output dtype)."""
    return float(NP[dt](1e-7)), float(NP[dt](1.0 - 1e-7))


class Tol:
    """|got - ref| <= atol + rtol * |ref|; atol may be an array (broadcast to
    the result). rtol = atol = 0 means exact."""

    def __init__(self, rtol=0.0, atol=0.0, why=""):
        self.rtol = rtol
        self.atol = atol
        self.why = why

    def __repr__(self):
        a = self.atol
        a = "%.3g" % float(np.max(a)) if np.size(a) else "0"
        return "rtol=%.3g atol<=%s" % (self.rtol, a)


EXACT = Tol(0.0, 0.0, "exact: result is an input value")


class Case:
    def __init__(self, name, dtype, mlir, inputs, ref, tols, result_types,
                 check=None, xfail=None):
        self.name = name
        self.dtype = dtype
        self.mlir = mlir
        self.inputs = inputs
        self.ref = ref
        self.tols = tols
        self.result_types = result_types  # element type names, e.g. "f32"
        self.check = check
        self.xfail = xfail

    @property
    def id(self):
        return "%s_%s" % (self.name, self.dtype)

    def reference(self):
        """The float64 reference results (ints and bools unchanged)."""
        args = [x.astype(np.float64) if x.dtype.kind == "f" else x
                for x in self.inputs]
        with np.errstate(all="ignore"):
            out = self.ref(*args)
        if not isinstance(out, (list, tuple)):
            out = [out]
        return [np.asarray(o) for o in out]


# ---------------------------------------------------------------------------
# IR text helpers
# ---------------------------------------------------------------------------

def et_of(arr):
    return {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64",
            np.dtype(np.int32): "i32", np.dtype(np.int64): "i64",
            np.dtype(np.bool_): "i1"}[arr.dtype]


def T(shape, et):
    return "tensor<" + "".join("%dx" % d for d in shape) + et + ">"


def TA(arr):
    return T(arr.shape, et_of(arr))


def module(inputs, body, results):
    """func.func @f(%a0, %a1, ...) with `body` lines and `results`, a list of
    (ssa value, type) pairs."""
    args = ", ".join("%%a%d: %s" % (i, TA(x)) for i, x in enumerate(inputs))
    rtypes = [t for _, t in results]
    sig = rtypes[0] if len(rtypes) == 1 else "(" + ", ".join(rtypes) + ")"
    lines = ["func.func @f(%s) -> %s {" % (args, sig)]
    lines += ["  " + l.strip() for l in body.strip().splitlines()]
    lines.append("  return %s : %s" % (", ".join(n for n, _ in results),
                                       ", ".join(rtypes)))
    lines.append("}")
    return "\n".join(lines) + "\n"


def elem_type(type_str):
    return type_str[type_str.rindex("x") + 1:-1] if "x" in type_str \
        else type_str[len("tensor<"):-1]


def ffmt(v, dt):
    """A decimal literal that parses to exactly the dtype value of v."""
    v = float(NP[dt](v)) if dt in FLOAT_DTYPES else v
    if dt in FLOAT_DTYPES:
        if math.isnan(v) or math.isinf(v):
            raise ValueError("no literal for %r" % v)
        return repr(float(v))
    if dt == "i1":
        return "true" if v else "false"
    return str(int(v))


def dense(arr, dt):
    """dense<...> literal of a numpy array (nested lists)."""
    if arr.ndim == 0:
        return "dense<%s>" % ffmt(arr.item(), dt)

    def rec(a):
        if a.ndim == 1:
            return "[" + ", ".join(ffmt(v, dt) for v in a.tolist()) + "]"
        return "[" + ", ".join(rec(s) for s in a) + "]"
    return "dense<%s>" % rec(arr)


def rng_for(name, dt):
    return np.random.default_rng(zlib.crc32(("%s/%s" % (name, dt)).encode()))


CASES = []


def add_case(name, dt, inputs, body, results, ref, tols, check=None,
             xfail=None):
    if isinstance(tols, Tol):
        tols = [tols] * len(results)
    assert len(tols) == len(results), name
    CASES.append(Case(name, dt, module(inputs, body, results), inputs, ref,
                      tols, [elem_type(t) for _, t in results], check, xfail))


# ---------------------------------------------------------------------------
# Elementwise binary
# ---------------------------------------------------------------------------

def uniform(rng, lo, hi, shape, dt):
    return rng.uniform(lo, hi, size=shape).astype(NP[dt])


def away_from_zero(rng, lo, hi, shape, dt):
    mag = rng.uniform(lo, hi, size=shape)
    sign = np.where(rng.random(shape) < 0.5, -1.0, 1.0)
    return (sign * mag).astype(NP[dt])


def binary(op, dt, a, b, ref, tol, name=None):
    t = TA(a)
    add_case(name or op, dt, [a, b], "%%r = kiln.%s %%a0, %%a1 : %s" % (op, t),
             [("%r", t)], ref, tol)


NAN = float("nan")
INF = float("inf")


def binary_cases(dt):
    r = rng_for("binary", dt)
    shape = (3, 4)
    one = Tol(ulps(dt, 1), 0.0, "correctly rounded: <= 0.5 ulp")
    binary("add", dt, uniform(r, -3, 3, shape, dt), uniform(r, -3, 3, shape, dt),
           lambda a, b: a + b, one)
    binary("sub", dt, uniform(r, -3, 3, shape, dt), uniform(r, -3, 3, shape, dt),
           lambda a, b: a - b, one)
    binary("mul", dt, uniform(r, -3, 3, shape, dt), uniform(r, -3, 3, shape, dt),
           lambda a, b: a * b, one)
    binary("div", dt, uniform(r, -3, 3, shape, dt),
           away_from_zero(r, 0.5, 3, shape, dt), lambda a, b: a / b, one)
    # IEEE division specials: x/0 = +-inf, 0/0 = NaN, x/inf = 0.
    a = np.array([1, -1, 0, 3, INF, -2], NP[dt])
    b = np.array([0, 0, 0, INF, 2, -0.0], NP[dt])
    binary("div", dt, a, b, lambda a, b: a / b, one, name="div_special")

    a = uniform(r, -3, 3, shape, dt)
    b = uniform(r, -3, 3, shape, dt)
    b[0, :2] = a[0, :2]  # ties
    binary("maximum", dt, a, b, np.maximum, EXACT)
    binary("minimum", dt, a, b, np.minimum, EXACT)
    # NaN propagates from either side (arith.maximumf, not maxnumf); +-inf.
    a = np.array([NAN, 1.0, NAN, -INF, INF, 2.0, -0.0, 5.0], NP[dt])
    b = np.array([1.0, NAN, NAN, 3.0, 4.0, -INF, 0.0, 5.0], NP[dt])
    binary("maximum", dt, a, b, np.maximum, EXACT, name="maximum_nan")
    binary("minimum", dt, a, b, np.minimum, EXACT, name="minimum_nan")

    lib = Tol(ulps(dt, 8), 0.0, "libm pow: <= 2 ulp + rounding")
    binary("pow", dt, np.exp(uniform(r, -2, 2, shape, dt)).astype(NP[dt]),
           uniform(r, -3, 3, shape, dt), np.power, lib)
    # C/IEEE pow: negative base with an integer exponent is defined, with a
    # non-integer exponent NaN; 0^0 = 1; 0^-1 = +inf.
    a = np.array([-2, -2, -8, 0, 0, 4, 2, -0.5], NP[dt])
    b = np.array([3, 2, 1 / 3, 0, -1, 0.5, -1, -3], NP[dt])
    binary("pow", dt, a, b, np.power, lib, name="pow_special")


# ---------------------------------------------------------------------------
# Elementwise unary and activations
# ---------------------------------------------------------------------------

def unary(op, dt, x, ref, tol, attrs="", name=None):
    t = TA(x)
    add_case(name or op, dt, [x], "%%r = kiln.%s %%a0 %s: %s" % (
        op, (attrs + " ") if attrs else "", t), [("%r", t)], ref, tol)


def gelu_exact_ref(x):
    # 0.5 x (1 + erf(x/sqrt2)) = 0.5 x erfc(-x/sqrt2), no cancellation.
    f = np.vectorize(lambda v: 0.5 * v * math.erfc(-v / math.sqrt(2.0)))
    return f(x).astype(np.float64)


def gelu_tanh_ref(x):
    # 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)), u = sqrt(2/pi)(x + 0.044715x^3)
    u = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)
    return x / (1.0 + np.exp(-2.0 * u))


def sigmoid_ref(x):
    # 1/(1+e^-x), evaluated without overflow: e^x/(1+e^x) for x < 0.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def unary_cases(dt):
    r = rng_for("unary", dt)
    shape = (3, 4)
    one = Tol(ulps(dt, 1), 0.0, "correctly rounded: <= 0.5 ulp")
    two = Tol(ulps(dt, 2), 0.0, "two roundings")
    lib = Tol(ulps(dt, 8), 0.0, "libm (<= 2 ulp) + a few roundings")

    unary("neg", dt, uniform(r, -3, 3, shape, dt), np.negative, EXACT)
    unary("abs", dt, uniform(r, -3, 3, shape, dt), np.abs, EXACT)
    unary("square", dt, uniform(r, -3, 3, shape, dt), np.square, one)
    unary("sqrt", dt, np.exp(uniform(r, -4, 4, shape, dt)).astype(NP[dt]),
          np.sqrt, one)
    unary("rsqrt", dt, np.exp(uniform(r, -4, 4, shape, dt)).astype(NP[dt]),
          lambda x: 1.0 / np.sqrt(x), two)
    unary("exp", dt, uniform(r, -5, 5, shape, dt), np.exp, lib)
    unary("log", dt, np.exp(uniform(r, -4, 4, shape, dt)).astype(NP[dt]),
          np.log, lib)
    unary("log1p", dt, uniform(r, -0.9, 5, shape, dt), np.log1p, lib)
    unary("tanh", dt, uniform(r, -4, 4, shape, dt), np.tanh, lib)
    unary("erf", dt, uniform(r, -3, 3, shape, dt), np.vectorize(math.erf),
          lib)
    unary("sigmoid", dt, uniform(r, -8, 8, shape, dt), sigmoid_ref, lib)
    unary("softplus", dt, uniform(r, -10, 10, shape, dt),
          lambda x: np.logaddexp(0.0, x), lib)
    x = uniform(r, -3, 3, shape, dt)
    x[0, 0] = 0.0
    unary("relu", dt, x, lambda x: np.maximum(x, 0.0), EXACT)
    x = uniform(r, -3, 3, shape, dt)
    x[0, 0] = 0.0
    unary("leaky_relu", dt, x, lambda x: np.where(x >= 0, x, 0.3 * x), two,
          name="leaky_relu_default")
    unary("leaky_relu", dt, x, lambda x: np.where(x >= 0, x, 0.2 * x), two,
          attrs="{alpha = 0.2 : f64}", name="leaky_relu_alpha")
    x = uniform(r, -4, 3, shape, dt)
    x[0, 0] = 0.0
    x[0, 1] = -1e-3  # expm1 region: alpha*(e^x - 1) without cancellation
    unary("elu", dt, x, lambda x: np.where(x > 0, x, np.expm1(x)), lib,
          name="elu_default")
    unary("elu", dt, x, lambda x: np.where(x > 0, x, 0.5 * np.expm1(x)), lib,
          attrs="{alpha = 0.5 : f64}", name="elu_alpha")
    x = uniform(r, -4, 4, shape, dt)
    gtol = Tol(ulps(dt, 8), ulps(dt, 8) * np.abs(x.astype(np.float64)),
               "cancellation in 1 + erf/tanh for x < 0: atol 8 eps |x|")
    unary("gelu", dt, x, gelu_exact_ref, gtol, name="gelu_exact")
    unary("gelu", dt, x, gelu_exact_ref, gtol,
          attrs="{approximate = false}", name="gelu_exact_explicit")
    unary("gelu", dt, x, gelu_tanh_ref, gtol, attrs="{approximate = true}",
          name="gelu_tanh")

    # hard_sigmoid = clip(alpha x + beta, 0, 1): alpha rounded to the dtype
    # and the product rounded (<= eps |alpha x| <= eps |x| for alpha <= 1,
    # absolute: the sum cancels to 0 at x = -beta/alpha), then the sum
    # rounded (<= 0.5 eps relative); atol 2 eps |x|, rtol 1 eps.
    x = uniform(rng_for("hard_sigmoid", dt), -5, 5, shape, dt)
    x[0, :4] = [-3.0, 3.0, 0.0, -2.5]  # the Keras 3 kinks, the ONNX kink
    htol = Tol(ulps(dt, 1), ulps(dt, 2) * np.abs(x.astype(np.float64)),
               "alpha rounded, product, sum: atol 2 eps |x| (alpha <= 1)")
    unary("hard_sigmoid", dt, x,
          lambda x: np.clip(x / 6.0 + 0.5, 0.0, 1.0), htol,
          name="hard_sigmoid_keras3")
    unary("hard_sigmoid", dt, x,
          lambda x: np.clip(0.2 * x + 0.5, 0.0, 1.0), htol,
          attrs="{alpha = 0.2 : f64, beta = 0.5 : f64}",
          name="hard_sigmoid_onnx")
    x = np.array([NAN, -INF, INF, -100.0, 100.0, -0.0], NP[dt])
    unary("hard_sigmoid", dt, x,
          lambda x: np.clip(x / 6.0 + 0.5, 0.0, 1.0), EXACT,
          name="hard_sigmoid_special")  # NaN stays NaN; +-inf -> 1 / 0

    # Special values where the semantics matter.
    x = np.array([NAN, 0.0, -0.0, -INF, INF, -2.0, 3.0, 1e-30], NP[dt])
    unary("relu", dt, x, lambda x: np.maximum(x, 0.0), EXACT,
          name="relu_special")  # relu(NaN) = NaN, relu(0) = 0
    x = np.array([100, -100, 0, 30, -30, 1e-20, -1e-20, NAN], NP[dt])
    unary("softplus", dt, x, lambda x: np.logaddexp(0.0, x), lib,
          name="softplus_special")  # +100 -> 100, -100 -> ~3.7e-44
    unary("sigmoid", dt, x, sigmoid_ref, lib, name="sigmoid_special")
    x = np.array([0, -0.0, 1, 100, -120, INF, -INF, NAN], NP[dt])
    unary("exp", dt, x, np.exp, lib, name="exp_special")  # exp(100) f32 = inf
    x = np.array([0, 1, INF, 1e-30, 2, 0.5, -1, NAN], NP[dt])
    unary("log", dt, x, np.log, lib, name="log_special")  # log 0 = -inf
    x = np.array([-1, 0, 1e-10, -1e-10, 1e-30, INF, 3, NAN], NP[dt])
    unary("log1p", dt, x, np.log1p, lib, name="log1p_special")
    x = np.array([0, -0.0, INF, 4, 1e-30, -1, 2, NAN], NP[dt])
    unary("sqrt", dt, x, np.sqrt, one, name="sqrt_special")
    unary("rsqrt", dt, x, lambda x: 1.0 / np.sqrt(x), two,
          name="rsqrt_special")
    x = np.array([20, -20, INF, -INF, 0, 1e-10, -1e-10, NAN], NP[dt])
    unary("tanh", dt, x, np.tanh, lib, name="tanh_special")
    x = np.array([6, -6, INF, -INF, 0, -0.0, 1e-30, NAN], NP[dt])
    unary("erf", dt, x, np.vectorize(math.erf), lib,
          name="erf_special")  # erf(+-inf) = +-1, erf(-0) = -0
    x = np.array([NAN, -INF, INF, -0.0, -5.0, 2.0, -1e-3, 1e-3], NP[dt])
    unary("leaky_relu", dt, x, lambda x: np.where(x >= 0, x, 0.3 * x), two,
          name="leaky_relu_special")
    unary("elu", dt, x, lambda x: np.where(x > 0, x, np.expm1(x)), lib,
          name="elu_special")  # elu(-inf) = -alpha, NaN stays NaN


# ---------------------------------------------------------------------------
# compare, select
# ---------------------------------------------------------------------------

DIRS = {"eq": np.equal, "ne": np.not_equal, "lt": np.less,
        "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal}


def compare_cases(dt):
    r = rng_for("compare", dt)
    if dt in FLOAT_DTYPES:
        a = np.round(uniform(r, -3, 3, (3, 4), dt)).astype(NP[dt])
        b = np.round(uniform(r, -3, 3, (3, 4), dt)).astype(NP[dt])
        # IEEE: every comparison with NaN is false except ne; -0 == +0.
        a[0, :] = [NAN, 1.0, NAN, -0.0]
        b[0, :] = [1.0, NAN, NAN, 0.0]
        a[1, :2] = [INF, -INF]
        b[1, :2] = [INF, 5.0]
    elif dt in ("i32", "i64"):
        a = r.integers(-3, 4, size=(3, 4)).astype(NP[dt])
        b = r.integers(-3, 4, size=(3, 4)).astype(NP[dt])
        info = np.iinfo(NP[dt])
        a[0, :] = [info.min, -1, info.max, 0]  # signed comparison
        b[0, :] = [info.max, 1, info.min, 0]
    elif dt == "i1":
        a = np.array([False, False, True, True])
        b = np.array([False, True, False, True])
    for d, fn in DIRS.items():
        if dt == "i1" and d not in ("eq", "ne"):
            continue  # ordering of i1 is not specified (note below the case table)
        add_case("compare_" + d, dt, [a, b],
                 "%%r = kiln.compare %s, %%a0, %%a1 : %s" % (d, TA(a)),
                 [("%r", T(a.shape, "i1"))], fn, EXACT)


def select_cases(dt):
    r = rng_for("select", dt)
    shape = (3, 4)
    pred = r.random(shape) < 0.5
    if dt in FLOAT_DTYPES:
        a = uniform(r, -3, 3, shape, dt)
        b = uniform(r, -3, 3, shape, dt)
        a[~pred] = NAN  # the unselected side never leaks
        b[pred] = INF
    elif dt == "i1":
        a = r.random(shape) < 0.5
        b = r.random(shape) < 0.5
    else:
        a = r.integers(-100, 100, size=shape).astype(NP[dt])
        b = r.integers(-100, 100, size=shape).astype(NP[dt])
    add_case("select", dt, [pred, a, b],
             "%%r = kiln.select %%a0, %%a1, %%a2 : %s, %s" % (TA(pred), TA(a)),
             [("%r", TA(a))], lambda p, a, b: np.where(p, a, b), EXACT)


# ---------------------------------------------------------------------------
# Reductions, argmax
# ---------------------------------------------------------------------------

REDUCE_VARIANTS = [
    # (variant, shape, axes, keep_dims)
    ("axis1", (3, 4), [1], False),
    ("axis0", (3, 4), [0], False),
    ("axes02", (2, 3, 5), [0, 2], False),
    ("axes20_keep", (2, 3, 5), [2, 0], True),   # unsorted axes list
    ("axis1_keep", (2, 3, 5), [1], True),
    ("all", (2, 3, 5), [0, 1, 2], False),        # rank-0 result
    ("all_keep", (3, 4), [0, 1], True),
    ("size1_axis", (3, 1, 4), [1], False),       # an axis of size 1
    ("size1_axis_keep", (3, 1, 4), [1], True),
    ("size1_only", (4, 1), [1], False),
    # Large enough for kiln-parallelize-loops to split the sum over the
    # first axis into partial sums (chunks of 21 and 205 rows, the last
    # shorter), into a vector and into a scalar.
    ("parallel_chunks_axes01", (97, 5, 80), [0, 1], False),
    ("parallel_chunks_all", (1030, 40), [0, 1], False),
]


def reduce_shape(shape, axes, keep):
    if keep:
        return tuple(1 if d in axes else s for d, s in enumerate(shape))
    return tuple(s for d, s in enumerate(shape) if d not in axes)


def reduction_cases(dt):
    for variant, shape, axes, keep in REDUCE_VARIANTS:
        for op in ("reduce_sum", "reduce_mean", "reduce_max"):
            r = rng_for(op + variant, dt)
            x = uniform(r, -3, 3, shape, dt)
            if op == "reduce_max":
                x = x - 4.0  # all negative: the init must not be 0
                x = x.astype(NP[dt])
            ax = tuple(axes)
            n = int(np.prod([shape[a] for a in axes]))
            x64 = x.astype(np.float64)
            if op == "reduce_sum":
                ref = (lambda ax, keep: lambda x: np.sum(
                    x, axis=ax, keepdims=keep))(ax, keep)
                tol = Tol(ulps(dt, 1), n * eps(dt) * np.sum(
                    np.abs(x64), axis=ax, keepdims=keep),
                    "summation bound n eps sum|x|")
            elif op == "reduce_mean":
                ref = (lambda ax, keep: lambda x: np.mean(
                    x, axis=ax, keepdims=keep))(ax, keep)
                tol = Tol(ulps(dt, 2), n * eps(dt) * np.mean(
                    np.abs(x64), axis=ax, keepdims=keep),
                    "summation bound + division")
            else:
                ref = (lambda ax, keep: lambda x: np.max(
                    x, axis=ax, keepdims=keep))(ax, keep)
                tol = EXACT
            attrs = "axes = array<i64: %s>" % ", ".join(map(str, axes))
            if keep:
                attrs += ", keep_dims = true"
            rt = T(reduce_shape(shape, axes, keep), dt)
            add_case("%s_%s" % (op, variant), dt, [x],
                     "%%r = kiln.%s %%a0 {%s} : %s -> %s" % (op, attrs, TA(x),
                                                             rt),
                     [("%r", rt)], ref, tol)
    # reduce_max propagates NaN; -inf rows stay -inf.
    x = np.array([[1, NAN, 3, -1], [-INF, -INF, -INF, -INF],
                  [-5, -7, -2, -9], [INF, 1, NAN, 2]], NP[dt])
    rt = T((4,), dt)
    add_case("reduce_max_nan", dt, [x],
             "%%r = kiln.reduce_max %%a0 {axes = array<i64: 1>} : %s -> %s"
             % (TA(x), rt), [("%r", rt)], lambda x: np.max(x, axis=1), EXACT)
    # Empty axes list: the identity (as a function result it must be a copy).
    x = uniform(rng_for("reduce_empty", dt), -3, 3, (3, 4), dt)
    y = uniform(rng_for("reduce_empty", dt), -3, 3, (3, 4), dt)
    add_case("reduce_sum_no_axes", dt, [x, y],
             """%%s = kiln.reduce_sum %%a0 {axes = array<i64>} : %s -> %s
                %%r = kiln.add %%s, %%a1 : %s""" % (TA(x), TA(x), TA(x)),
             [("%r", TA(x))], lambda x, y: x + y,
             Tol(ulps(dt, 1), 0.0, "one rounded add"))


def argmax_ref(axis, keep):
    # numpy's argmax: first index at ties, NaN counts as the maximum (the
    # first NaN wins), an all -inf row gives 0 -- the documented semantics.
    return lambda x: np.argmax(x, axis=axis, keepdims=keep).astype(np.int64)


def argmax_cases(dt):
    variants = [("axis1", (3, 4), 1, False), ("axis0", (3, 4), 0, False),
                ("axis1_keep", (2, 3, 5), 1, True),
                ("axis2", (2, 3, 5), 2, False),
                ("size1_axis", (3, 1), 1, False)]
    for variant, shape, axis, keep in variants:
        x = uniform(rng_for("argmax" + variant, dt), -3, 3, shape, dt)
        rshape = tuple(1 if (d == axis) else s for d, s in enumerate(shape)) \
            if keep else tuple(s for d, s in enumerate(shape) if d != axis)
        rt = T(rshape, "i64")
        attrs = "axis = %d : i64" % axis + (", keep_dims = true" if keep else "")
        add_case("argmax_" + variant, dt, [x],
                 "%%r = kiln.argmax %%a0 {%s} : %s -> %s" % (attrs, TA(x), rt),
                 [("%r", rt)], argmax_ref(axis, keep), EXACT)
    # Ties -> first index; NaN is larger than any number (first NaN wins);
    # all -inf -> 0; +inf before a later NaN loses to the NaN.
    x = np.array([[1, 3, 3, 2], [1, NAN, 5, NAN], [-INF, -INF, -INF, -INF],
                  [INF, 2, NAN, INF], [7, 7, 7, 7], [-1, -3, -0.5, -0.5]],
                 NP[dt])
    rt = T((6,), "i64")
    add_case("argmax_special", dt, [x],
             "%%r = kiln.argmax %%a0 {axis = 1 : i64} : %s -> %s" % (TA(x), rt),
             [("%r", rt)], argmax_ref(1, False), EXACT)


# ---------------------------------------------------------------------------
# matmul
# ---------------------------------------------------------------------------

def swap_last(a):
    return np.swapaxes(a, -1, -2)


def matmul_cases(dt):
    variants = [
        # (variant, batch, M, K, N, transpose_lhs, transpose_rhs)
        ("plain", (), 3, 5, 4, False, False),
        ("transpose_lhs", (), 3, 5, 4, True, False),
        ("transpose_rhs", (), 3, 5, 4, False, True),
        ("transpose_both", (), 3, 5, 4, True, True),
        ("k1", (), 3, 1, 4, False, False),            # contraction size 1
        ("vec", (), 1, 6, 1, False, False),           # 1x6 @ 6x1
        ("large", (), 17, 64, 9, False, False),
        ("large_transpose_rhs", (), 16, 33, 8, False, True),
        ("batch3", (2,), 3, 5, 4, False, False),
        ("batch3_transpose_lhs", (2,), 3, 5, 4, True, False),
        ("batch3_transpose_rhs", (2,), 3, 5, 4, False, True),
        ("batch3_transpose_both", (2,), 3, 5, 4, True, True),
        ("batch4", (2, 3), 3, 5, 4, False, False),
        ("batch4_transpose_lhs", (2, 3), 3, 5, 4, True, False),
        ("batch4_transpose_rhs", (2, 3), 3, 5, 4, False, True),
        ("batch4_transpose_both", (2, 3), 3, 5, 4, True, True),
    ]
    for variant, batch, m, k, n, tl, tr in variants:
        r = rng_for("matmul" + variant, dt)
        A = uniform(r, -2, 2, batch + (m, k), dt)     # logical lhs [.., M, K]
        B = uniform(r, -2, 2, batch + (k, n), dt)     # logical rhs [.., K, N]
        lhs = np.ascontiguousarray(swap_last(A)) if tl else A
        rhs = np.ascontiguousarray(swap_last(B)) if tr else B
        attrs = []
        if tl:
            attrs.append("transpose_lhs = true")
        if tr:
            attrs.append("transpose_rhs = true")
        attr = (" {" + ", ".join(attrs) + "}") if attrs else ""
        rt = T(batch + (m, n), dt)
        A64, B64 = A.astype(np.float64), B.astype(np.float64)
        tol = Tol(ulps(dt, 1), k * eps(dt) * (np.abs(A64) @ np.abs(B64)),
                  "dot-product bound K eps (|A||B|)_ij")
        ref = (lambda tl, tr: lambda a, b: (swap_last(a) if tl else a) @ (
            swap_last(b) if tr else b))(tl, tr)
        add_case("matmul_" + variant, dt, [lhs, rhs],
                 "%%r = kiln.matmul %%a0, %%a1%s : %s, %s -> %s" % (
                     attr, TA(lhs), TA(rhs), rt), [("%r", rt)], ref, tol)


# ---------------------------------------------------------------------------
# Convolution and pooling (channels-last)
# ---------------------------------------------------------------------------
# The references follow the formulas of docs/spec.md in float64 with plain
# numpy: the input is zero-padded (max pooling: -inf, so padding never
# wins), and for every window offset k the strided slice of the padded input
# that offset k reads for all outputs at once is combined (einsum per group
# for the convolutions, max / sum for pooling). The adjoints scatter-add into
# the padded input with the same slices and crop the padding.

def i64a(values):
    return "array<i64: %s>" % ", ".join(str(int(v)) for v in values)


def conv_out_size(S, K, s, d, pl, ph):
    return (S + pl + ph - d * (K - 1) - 1) // s + 1


def window_slices(k, strides, dilations, out):
    """The slices of the padded spatial axes that window offset k reads for
    every output position."""
    return tuple(slice(ki * di, ki * di + (oi - 1) * si + 1, si)
                 for ki, si, di, oi in zip(k, strides, dilations, out))


def offsets(kernel):
    return itertools.product(*[range(k) for k in kernel])


def conv_ref(strides, dilations, pl, ph, groups):
    def f(x, w):
        d = x.ndim - 2
        K, Cg, F = w.shape[:d], w.shape[d], w.shape[d + 1]
        out = [conv_out_size(x.shape[1 + i], K[i], strides[i], dilations[i],
                             pl[i], ph[i]) for i in range(d)]
        xp = np.pad(x, [(0, 0)] + list(zip(pl, ph)) + [(0, 0)])
        Fg = F // groups
        y = np.zeros([x.shape[0]] + out + [F])
        for k in offsets(K):
            sl = xp[(slice(None),) + window_slices(k, strides, dilations, out)]
            for g in range(groups):
                y[..., g * Fg:(g + 1) * Fg] += np.einsum(
                    "...c,cf->...f", sl[..., g * Cg:(g + 1) * Cg],
                    w[k][:, g * Fg:(g + 1) * Fg])
        return y
    return f


def conv_transpose_ref(x_shape, strides, dilations, pl, ph, groups):
    def f(dy, w):
        d = dy.ndim - 2
        K, Cg, F = w.shape[:d], w.shape[d], w.shape[d + 1]
        out = dy.shape[1:1 + d]
        S = x_shape[1:1 + d]
        dxp = np.zeros([x_shape[0]] + [S[i] + pl[i] + ph[i]
                                       for i in range(d)] + [x_shape[-1]])
        Fg = F // groups
        for k in offsets(K):
            idx = (slice(None),) + window_slices(k, strides, dilations, out)
            for g in range(groups):
                dxp[idx + (slice(g * Cg, (g + 1) * Cg),)] += np.einsum(
                    "...f,cf->...c", dy[..., g * Fg:(g + 1) * Fg],
                    w[k][:, g * Fg:(g + 1) * Fg])
        return dxp[(slice(None),) + tuple(slice(pl[i], pl[i] + S[i])
                                          for i in range(d))]
    return f


def conv_filter_grad_ref(w_shape, strides, dilations, pl, ph, groups):
    def f(x, dy):
        d = x.ndim - 2
        K, Cg, F = w_shape[:d], w_shape[d], w_shape[d + 1]
        out = dy.shape[1:1 + d]
        xp = np.pad(x, [(0, 0)] + list(zip(pl, ph)) + [(0, 0)])
        Fg = F // groups
        dw = np.zeros(w_shape)
        for k in offsets(K):
            sl = xp[(slice(None),) + window_slices(k, strides, dilations, out)]
            for g in range(groups):
                dw[k][:, g * Fg:(g + 1) * Fg] = (
                    sl[..., g * Cg:(g + 1) * Cg].reshape(-1, Cg).T @
                    dy[..., g * Fg:(g + 1) * Fg].reshape(-1, Fg))
        return dw
    return f


# (name, x shape, kernel spatial, C/groups... given as filter shape,
#  strides, dilations, pad_low, pad_high, groups)
CONV_CONFIGS = [
    ("2d", (2, 6, 6, 3), (3, 3, 3, 4), (1, 1), (1, 1), (0, 0), (0, 0), 1),
    ("2d_strided_asym_pad", (2, 8, 7, 3), (3, 2, 3, 5), (2, 1), (1, 1),
     (1, 0), (0, 2), 1),
    ("2d_dilated", (1, 9, 8, 2), (3, 3, 2, 3), (1, 1), (2, 3), (1, 2),
     (1, 0), 1),
    ("2d_grouped", (2, 5, 6, 6), (3, 3, 2, 6), (1, 2), (1, 1), (1, 1),
     (1, 1), 3),
    ("2d_depthwise", (2, 6, 5, 4), (3, 3, 1, 8), (2, 2), (1, 1), (1, 1),
     (1, 1), 4),
    ("1d", (3, 11, 4), (3, 4, 5), (2,), (2,), (1,), (2,), 1),
    ("1d_k1", (2, 5, 3), (1, 3, 2), (1,), (1,), (0,), (0,), 1),
    ("3d", (1, 5, 4, 5, 2), (2, 3, 2, 2, 3), (1, 2, 1), (1, 1, 2),
     (0, 1, 1), (1, 0, 1), 1),
]


def conv_attrs(strides, dilations, pl, ph, groups):
    a = "strides = %s, dilations = %s, pad_low = %s, pad_high = %s" % (
        i64a(strides), i64a(dilations), i64a(pl), i64a(ph))
    if groups != 1:
        a += ", groups = %d : i64" % groups
    return "{" + a + "}"


def conv_cases(dt):
    for (name, xs, ws, st, dil, pl, ph, groups) in CONV_CONFIGS:
        d = len(xs) - 2
        out = tuple(conv_out_size(xs[1 + i], ws[i], st[i], dil[i], pl[i],
                                  ph[i]) for i in range(d))
        ys = (xs[0],) + out + (ws[-1],)
        attrs = conv_attrs(st, dil, pl, ph, groups)
        r = rng_for("conv_" + name, dt)
        x = uniform(r, -2, 2, xs, dt)
        w = uniform(r, -2, 2, ws, dt)
        dy = uniform(r, -2, 2, ys, dt)
        x64, w64, dy64 = (a.astype(np.float64) for a in (x, w, dy))
        why = "dot-product bound n eps (|terms| summed)"
        # Forward: n = prod(K) * C/groups terms per output.
        n = int(np.prod(ws[:d])) * ws[d]
        fwd = conv_ref(st, dil, pl, ph, groups)
        tol = Tol(ulps(dt, 1), n * eps(dt) * fwd(np.abs(x64), np.abs(w64)),
                  why)
        add_case("conv_" + name, dt, [x, w],
                 "%%r = kiln.conv %%a0, %%a1 %s : %s, %s -> %s" % (
                     attrs, TA(x), TA(w), T(ys, dt)), [("%r", T(ys, dt))],
                 fwd, tol)
        # conv_transpose: at most prod(K) * F/groups terms per element.
        n = int(np.prod(ws[:d])) * (ws[-1] // groups)
        tr = conv_transpose_ref(xs, st, dil, pl, ph, groups)
        tol = Tol(ulps(dt, 1), n * eps(dt) * tr(np.abs(dy64), np.abs(w64)),
                  why)
        add_case("conv_transpose_" + name, dt, [dy, w],
                 "%%r = kiln.conv_transpose %%a0, %%a1 %s : %s, %s -> %s" % (
                     attrs, TA(dy), TA(w), T(xs, dt)), [("%r", T(xs, dt))],
                 tr, tol)
        # conv_filter_grad: N * prod(O) terms per element.
        n = xs[0] * int(np.prod(out))
        fg = conv_filter_grad_ref(ws, st, dil, pl, ph, groups)
        tol = Tol(ulps(dt, 1), n * eps(dt) * fg(np.abs(x64), np.abs(dy64)),
                  why)
        add_case("conv_filter_grad_" + name, dt, [x, dy],
                 "%%r = kiln.conv_filter_grad %%a0, %%a1 %s : %s, %s -> %s" % (
                     attrs, TA(x), TA(dy), T(ws, dt)), [("%r", T(ws, dt))],
                 fg, tol)


# conv + bias + activation: convert-kiln-to-linalg and elementwise fusion
# leave the kernel call followed by one generic act(C + bias[channel]), which
# kiln-fuse-conv-epilogues folds into the kernel (bias pointer and epilogue
# field of the descriptor), so these cases run the runtime's fused epilogue.
# (name, activation, reference, config as in CONV_CONFIGS)
CONV_EPILOGUE_CASES = [
    ("conv_bias_relu", "relu", lambda v: np.maximum(v, 0.0),
     ("2d_strided_asym_pad", (2, 8, 7, 3), (3, 2, 3, 5), (2, 1), (1, 1),
      (1, 0), (0, 2), 1)),
    ("conv_bias_relu_grouped", "relu", lambda v: np.maximum(v, 0.0),
     ("2d_grouped", (2, 5, 6, 6), (3, 3, 2, 6), (1, 2), (1, 1), (1, 1),
      (1, 1), 3)),
    ("conv_bias_tanh_1d", "tanh", np.tanh,
     ("1d", (3, 11, 4), (3, 4, 5), (2,), (2,), (1,), (2,), 1)),
]


def conv_epilogue_cases(dt):
    for (case, act, act_ref, config) in CONV_EPILOGUE_CASES:
        (_, xs, ws, st, dil, pl, ph, groups) = config
        d = len(xs) - 2
        out = tuple(conv_out_size(xs[1 + i], ws[i], st[i], dil[i], pl[i],
                                  ph[i]) for i in range(d))
        ys = (xs[0],) + out + (ws[-1],)
        yt = T(ys, dt)
        r = rng_for(case, dt)
        x = uniform(r, -2, 2, xs, dt)
        w = uniform(r, -2, 2, ws, dt)
        b = uniform(r, -2, 2, (ws[-1],), dt)
        x64, w64, b64 = (a.astype(np.float64) for a in (x, w, b))
        fwd = conv_ref(st, dil, pl, ph, groups)
        # The convolution's dot-product bound (n terms) plus one rounding of
        # the bias add, both absolute and carried unchanged through relu and
        # tanh (1-Lipschitz); relu is exact, tanh a libm call (8 eps).
        n = int(np.prod(ws[:d])) * ws[d]
        atol = (n + 1) * eps(dt) * (fwd(np.abs(x64), np.abs(w64)) + np.abs(b64))
        tol = Tol(ulps(dt, 8 if act == "tanh" else 1), atol,
                  "conv dot-product bound + bias add, then the activation")
        add_case(case, dt, [x, w, b],
                 """%%c = kiln.conv %%a0, %%a1 %s : %s, %s -> %s
                 %%bb = kiln.broadcast_in_dim %%a2, dims = [%d] : %s -> %s
                 %%s = kiln.add %%c, %%bb : %s
                 %%r = kiln.%s %%s : %s""" % (
                     conv_attrs(st, dil, pl, ph, groups), TA(x), TA(w), yt,
                     d + 1, TA(b), yt, yt, act, yt),
                 [("%r", yt)],
                 (lambda f, g: lambda x, w, b: g(f(x, w) + b))(fwd, act_ref),
                 tol)


def pool_out_size(S, k, s, pl, ph, ceil_mode):
    if not ceil_mode:
        return (S + pl + ph - k) // s + 1
    o = -(-(S + pl + ph - k) // s) + 1
    if (o - 1) * s >= S + pl:
        o -= 1
    return o


class PoolGeometry:
    def __init__(self, x_shape, window, strides, pl, ph, ceil_mode):
        self.d = len(x_shape) - 2
        self.x_shape = tuple(x_shape)
        self.window, self.strides = window, strides
        self.pl, self.ph = pl, ph
        self.out = tuple(pool_out_size(x_shape[1 + i], window[i], strides[i],
                                       pl[i], ph[i], ceil_mode)
                         for i in range(self.d))
        self.y_shape = (x_shape[0],) + self.out + (x_shape[-1],)
        # Extra padding after pad_high for a ceil_mode window that overhangs.
        self.extra = [max(0, (self.out[i] - 1) * strides[i] + window[i] -
                          (x_shape[1 + i] + pl[i] + ph[i]))
                      for i in range(self.d)]

    def pad(self, x, value):
        return np.pad(x, [(0, 0)] + [(self.pl[i], self.ph[i] + self.extra[i])
                                     for i in range(self.d)] + [(0, 0)],
                      constant_values=value)

    def slices(self, k):
        return (slice(None),) + window_slices(k, self.strides,
                                              (1,) * self.d, self.out)

    def crop(self, xp):
        return xp[(slice(None),) + tuple(
            slice(self.pl[i], self.pl[i] + self.x_shape[1 + i])
            for i in range(self.d))]

    def divisor(self, count_include_pad):
        """Per output position: in-bounds positions of the window, or with
        count_include_pad those inside [-pad_low, S + pad_high)."""
        ones = np.ones((1,) + self.x_shape[1:-1] + (1,))
        mask = np.pad(ones, [(0, 0)] + [
            (self.pl[i], self.ph[i]) for i in range(self.d)] + [(0, 0)],
            constant_values=1.0 if count_include_pad else 0.0)
        mask = np.pad(mask, [(0, 0)] + [(0, e) for e in self.extra] +
                      [(0, 0)])
        return sum(mask[self.slices(k)] for k in offsets(self.window))

    def windows(self, xp):
        """[W, N, O.., C]: the window elements in row-major window order."""
        return np.stack([xp[self.slices(k)] for k in offsets(self.window)])

    def scatter(self, per_offset):
        """Adds per_offset[j] ([N, O.., C]) into the window offset j's
        positions of a padded zero tensor; returns it cropped."""
        xp = self.pad(np.zeros(self.x_shape), 0.0)
        for j, k in enumerate(offsets(self.window)):
            xp[self.slices(k)] += per_offset[j]
        return self.crop(xp)

    def max_overlap(self):
        return int(np.prod([-(-w // s) for w, s in zip(self.window,
                                                       self.strides)]))


def first_argmax(win):
    """Index of the first maximum along axis 0, a NaN counting as the
    maximum (the first NaN)."""
    nan = np.isnan(win)
    first_max = np.argmax(win == np.max(win, axis=0), axis=0)
    return np.where(nan.any(axis=0), np.argmax(nan, axis=0), first_max)


def max_pool_ref(g):
    def f(x):
        return np.max(g.windows(g.pad(x, -np.inf)), axis=0)
    return f


def max_pool_grad_ref(g):
    def f(x, dy):
        win = g.windows(g.pad(x, -np.inf))
        am = first_argmax(win)
        return g.scatter([np.where(am == j, dy, 0.0)
                          for j in range(win.shape[0])])
    return f


def avg_pool_ref(g, cip):
    def f(x):
        return np.sum(g.windows(g.pad(x, 0.0)), axis=0) / g.divisor(cip)
    return f


def avg_pool_grad_ref(g, cip):
    def f(dy):
        share = dy / g.divisor(cip)
        return g.scatter([share] * int(np.prod(g.window)))
    return f


# (name, x shape, window, strides, pad_low, pad_high, ceil_mode)
POOL_CONFIGS = [
    ("2d", (2, 6, 6, 3), (2, 2), (2, 2), (0, 0), (0, 0), False),
    ("2d_overlap_asym_pad", (2, 7, 6, 3), (3, 3), (2, 1), (1, 0), (0, 2),
     False),
    ("2d_ceil", (1, 7, 8, 2), (3, 2), (2, 3), (1, 0), (1, 0), True),
    ("1d", (3, 10, 4), (3,), (2,), (1,), (1,), False),
    ("1d_ceil", (2, 10, 3), (4,), (3,), (1,), (0,), True),
    ("3d", (1, 5, 4, 5, 2), (2, 3, 2), (2, 1, 2), (1, 1, 0), (0, 1, 1),
     False),
]


def pool_attrs(g, ceil_mode, extra=""):
    a = "window = %s, strides = %s, pad_low = %s, pad_high = %s" % (
        i64a(g.window), i64a(g.strides), i64a(g.pl), i64a(g.ph))
    if ceil_mode:
        a += ", ceil_mode = true"
    return "{" + a + extra + "}"


def one_per_window_check(g, dy_index):
    """Property: with windows that do not overlap, each window's gradient
    lands on exactly one element (the first maximum; the reference checks
    which) and carries the whole dy."""
    def check(inputs, outputs):
        dy = inputs[dy_index].astype(np.float64)
        dx = outputs[0].astype(np.float64)
        win = g.windows(g.pad(dx, 0.0))
        nonzero = np.count_nonzero(win, axis=0)
        errors = []
        if (nonzero[dy != 0] != 1).any():
            errors.append("a window's gradient went to %s elements" %
                          sorted(set(nonzero[dy != 0].tolist())))
        if not np.array_equal(win.sum(axis=0), dy):
            errors.append("a window's gradient is not its dy")
        return errors
    return check


def pool_cases(dt):
    for (name, xs, win, st, pl, ph, ceil_mode) in POOL_CONFIGS:
        g = PoolGeometry(xs, win, st, pl, ph, ceil_mode)
        r = rng_for("pool_" + name, dt)
        x = uniform(r, -3, 3, xs, dt)
        dy = uniform(r, -2, 2, g.y_shape, dt)
        ys, xt = T(g.y_shape, dt), TA(x)
        attrs = pool_attrs(g, ceil_mode)
        add_case("max_pool_" + name, dt, [x],
                 "%%r = kiln.max_pool %%a0 %s : %s -> %s" % (attrs, xt, ys),
                 [("%r", ys)], max_pool_ref(g), EXACT)
        # Overlapping windows add up: rounding of up to max_overlap terms.
        n = g.max_overlap()
        gtol = (EXACT if n == 1 else Tol(0.0, n * eps(dt) * g.scatter(
            [np.abs(dy.astype(np.float64))] * int(np.prod(win))),
            "sum of the overlapping windows' dy"))
        add_case("max_pool_grad_" + name, dt, [x, dy],
                 "%%r = kiln.max_pool_grad %%a0, %%a1 %s : %s, %s -> %s" % (
                     attrs, xt, ys, xt), [("%r", xt)], max_pool_grad_ref(g),
                 gtol)
        for cip in (False, True):
            suffix = "_cip" if cip else ""
            attrs = pool_attrs(g, ceil_mode, ", count_include_pad = true"
                               if cip else "")
            n = int(np.prod(win))
            x64 = np.abs(x.astype(np.float64))
            tol = Tol(ulps(dt, 2), n * eps(dt) * avg_pool_ref(g, cip)(x64),
                      "window sum bound n eps |x| / divisor, then a division")
            add_case("avg_pool_" + name + suffix, dt, [x],
                     "%%r = kiln.avg_pool %%a0 %s : %s -> %s" % (
                         attrs, xt, ys), [("%r", ys)], avg_pool_ref(g, cip),
                     tol)
            n = g.max_overlap()
            tol = Tol(ulps(dt, 2), (n + 2) * eps(dt) * avg_pool_grad_ref(
                g, cip)(np.abs(dy.astype(np.float64))),
                "dy / divisor summed over overlapping windows")
            add_case("avg_pool_grad_" + name + suffix, dt, [dy],
                     "%%r = kiln.avg_pool_grad %%a0 %s : %s -> %s" % (
                         attrs, ys, xt), [("%r", xt)],
                     avg_pool_grad_ref(g, cip), tol)

    # Ties: small integers make most windows tied; the gradient must go to
    # exactly one element per window, the first maximum (row-major window
    # order), bit-exactly.
    g = PoolGeometry((2, 6, 6, 3), (2, 2), (2, 2), (0, 0), (0, 0), False)
    r = rng_for("pool_ties", dt)
    x = r.integers(0, 2, g.x_shape).astype(NP[dt])
    dy = uniform(r, 0.5, 2, g.y_shape, dt)
    xt, ys = TA(x), T(g.y_shape, dt)
    add_case("max_pool_grad_ties", dt, [x, dy],
             "%%r = kiln.max_pool_grad %%a0, %%a1 %s : %s, %s -> %s" % (
                 pool_attrs(g, False), xt, ys, xt), [("%r", xt)],
             max_pool_grad_ref(g), EXACT, check=one_per_window_check(g, 1))
    # NaN: a window holding a NaN gives NaN, and its gradient goes to the
    # first NaN.
    x = uniform(r, -3, 3, g.x_shape, dt)
    x[0, 0, 1, 0] = np.nan
    x[0, 1, 0, 0] = np.nan
    x[1, 3, 3, 2] = np.nan
    x[1, 4, 4, 1] = np.inf
    add_case("max_pool_nan", dt, [x],
             "%%r = kiln.max_pool %%a0 %s : %s -> %s" % (
                 pool_attrs(g, False), xt, ys), [("%r", ys)], max_pool_ref(g),
             EXACT)
    add_case("max_pool_grad_nan", dt, [x, dy],
             "%%r = kiln.max_pool_grad %%a0, %%a1 %s : %s, %s -> %s" % (
                 pool_attrs(g, False), xt, ys, xt), [("%r", xt)],
             max_pool_grad_ref(g), EXACT, check=one_per_window_check(g, 1))


# ---------------------------------------------------------------------------
# Shape ops
# ---------------------------------------------------------------------------

def random_tensor(r, shape, dt):
    if dt in FLOAT_DTYPES:
        return uniform(r, -3, 3, shape, dt)
    if dt == "i1":
        return r.random(shape) < 0.5
    return r.integers(-1000, 1000, size=shape).astype(NP[dt])


def shape_cases(dt):
    r = rng_for("shape", dt)
    # reshape
    for variant, src, dst in [("2d_2d", (3, 4), (2, 6)),
                              ("3d_2d", (2, 3, 5), (6, 5)),
                              ("2d_3d", (6, 5), (3, 2, 5)),
                              ("non_reassoc", (2, 3, 5), (5, 6)),
                              ("to_rank0", (1, 1), ()),
                              ("from_rank0", (), (1, 1, 1)),
                              ("flatten", (2, 3, 5), (30,))]:
        x = random_tensor(r, src, dt)
        rt = T(dst, et_of(x))
        add_case("reshape_" + variant, dt, [x],
                 "%%r = kiln.reshape %%a0 : %s -> %s" % (TA(x), rt),
                 [("%r", rt)], (lambda d: lambda x: x.reshape(d))(dst), EXACT)
    # transpose
    for variant, shape, perm in [("2d", (3, 4), (1, 0)),
                                 ("3d_201", (2, 3, 5), (2, 0, 1)),
                                 ("3d_021", (2, 3, 5), (0, 2, 1)),
                                 ("4d", (2, 3, 4, 5), (3, 1, 0, 2))]:
        x = random_tensor(r, shape, dt)
        rt = T(tuple(shape[p] for p in perm), et_of(x))
        add_case("transpose_" + variant, dt, [x],
                 "%%r = kiln.transpose %%a0 {permutation = array<i64: %s>} : "
                 "%s -> %s" % (", ".join(map(str, perm)), TA(x), rt),
                 [("%r", rt)],
                 (lambda p: lambda x: np.transpose(x, p))(perm), EXACT)
    # concat
    for variant, shapes, axis in [("axis0", [(2, 4), (3, 4)], 0),
                                  ("axis1_three", [(2, 3), (2, 4), (2, 3)], 1),
                                  ("3d_axis2", [(2, 3, 1), (2, 3, 4)], 2),
                                  ("single", [(3, 4)], 0)]:
        xs = [random_tensor(r, s, dt) for s in shapes]
        out = list(shapes[0])
        out[axis] = sum(s[axis] for s in shapes)
        rt = T(tuple(out), et_of(xs[0]))
        add_case("concat_" + variant, dt, xs,
                 "%%r = kiln.concat %s {axis = %d : i64} : %s -> %s" % (
                     ", ".join("%%a%d" % i for i in range(len(xs))), axis,
                     ", ".join(TA(x) for x in xs), rt), [("%r", rt)],
                 (lambda a: lambda *xs: np.concatenate(xs, axis=a))(axis),
                 EXACT)
    # slice
    for variant, shape, start, limit, strides in [
            ("contiguous_rows", (4, 5), (1, 0), (3, 5), (1, 1)),
            ("2d", (4, 5), (0, 1), (3, 4), (1, 1)),
            ("strided", (5, 7), (1, 0), (5, 7), (2, 3)),   # ceil((5-1)/2)=2
            ("3d_strided", (2, 6, 5), (0, 1, 4), (2, 6, 5), (1, 2, 1)),
            ("full", (3, 4), (0, 0), (3, 4), (1, 1))]:
        x = random_tensor(r, shape, dt)
        rshape = tuple(-(-(l - s) // st) for s, l, st in
                       zip(start, limit, strides))
        rt = T(rshape, et_of(x))
        arr = lambda v: ", ".join(map(str, v))
        add_case("slice_" + variant, dt, [x],
                 "%%r = kiln.slice %%a0 {start = array<i64: %s>, limit = "
                 "array<i64: %s>, strides = array<i64: %s>} : %s -> %s" % (
                     arr(start), arr(limit), arr(strides), TA(x), rt),
                 [("%r", rt)],
                 (lambda s, l, st: lambda x: x[tuple(
                     slice(a, b, c) for a, b, c in zip(s, l, st))])(
                     start, limit, strides), EXACT)
    if dt in FLOAT_DTYPES:
        # A strided slice consumed by an elementwise op (fused: read through
        # a strided view instead of being copied).
        x = random_tensor(r, (5, 7), dt)
        rt = T((2, 3), dt)
        add_case("slice_strided_then_neg", dt, [x],
                 """%%s = kiln.slice %%a0 {start = array<i64: 1, 0>, limit = array<i64: 5, 7>, strides = array<i64: 2, 3>} : %s -> %s
                    %%r = kiln.neg %%s : %s""" % (TA(x), rt, rt),
                 [("%r", rt)], lambda x: -x[1:5:2, 0:7:3], EXACT)
    # broadcast_in_dim
    for variant, src, dst, dims in [("bias", (4,), (3, 4), (1,)),
                                    ("col", (3,), (3, 4), (0,)),
                                    ("size1", (3, 1), (3, 4), (0, 1)),
                                    ("rank0", (), (2, 3), ()),
                                    ("3d", (3, 1), (2, 3, 5), (1, 2)),
                                    ("identity", (3, 4), (3, 4), (0, 1))]:
        x = random_tensor(r, src, dt)
        rt = T(dst, et_of(x))

        def bref(dst, dims, srcshape):
            def f(x):
                shp = [1] * len(dst)
                for i, d in enumerate(dims):
                    shp[d] = srcshape[i]
                return np.broadcast_to(x.reshape(shp), dst)
            return f
        body = "%%b = kiln.broadcast_in_dim %%a0, dims = [%s] : %s -> %s" % (
            ", ".join(map(str, dims)), TA(x), rt)
        if variant == "identity":
            # Same type: folds to the operand; negate so the function does
            # not return its argument (that crash has its own case below).
            if dt not in FLOAT_DTYPES:
                continue
            body += "\n%%r = kiln.neg %%b : %s" % rt
            ref = (lambda f: lambda x: -f(x))(bref(dst, dims, src))
        else:
            body = body.replace("%b =", "%r =")
            ref = bref(dst, dims, src)
        add_case("broadcast_in_dim_" + variant, dt, [x], body, [("%r", rt)],
                 ref, EXACT)
    if dt in FLOAT_DTYPES:
        # A bias add large enough to be split into chunks on the thread pool
        # (kiln-parallelize-loops): the bias is indexed without the split
        # dimension, so every chunk reads all of it.
        x = random_tensor(r, (97, 3, 130), dt)
        b = random_tensor(r, (130,), dt)
        rt = T((97, 3, 130), dt)
        add_case("broadcast_add_parallel_chunks", dt, [x, b],
                 """%%bb = kiln.broadcast_in_dim %%a1, dims = [2] : %s -> %s
                    %%r = kiln.add %%a0, %%bb : %s""" % (TA(b), rt, rt),
                 [("%r", rt)], lambda x, b: x + b,
                 Tol(ulps(dt, 1), 0.0, "correctly rounded: <= 0.5 ulp"))


def pad_cases(dt):
    r = rng_for("pad", dt)
    for variant, shape, low, high, value in [
            ("zero", (2, 3), (1, 0), (1, 2), None),
            ("value", (2, 3), (0, 1), (2, 0), -1.5),
            ("inexact_value", (3, 2), (1, 1), (1, 1), 0.1),  # rounds to dtype
            ("3d", (2, 3, 2), (0, 2, 1), (1, 0, 3), 7.0),
            ("none", (3, 4), (0, 0), (0, 0), 2.0)]:
        x = uniform(r, -3, 3, shape, dt)
        out = tuple(s + l + h for s, l, h in zip(shape, low, high))
        rt = T(out, dt)
        arr = lambda v: ", ".join(map(str, v))
        attrs = "low = array<i64: %s>, high = array<i64: %s>" % (arr(low),
                                                                arr(high))
        if value is not None:
            attrs += ", padding_value = %r : f64" % value
        pv = float(NP[dt](value if value is not None else 0.0))
        add_case("pad_" + variant, dt, [x],
                 "%%r = kiln.pad %%a0 {%s} : %s -> %s" % (attrs, TA(x), rt),
                 [("%r", rt)],
                 (lambda l, h, pv: lambda x: np.pad(
                     x, list(zip(l, h)), constant_values=pv))(low, high, pv),
                 EXACT)


def interior_pad_ref(low, high, interior, pv):
    """numpy reference of kiln.pad with interior padding: the input lands at
    low + i * (interior + 1) in a tensor filled with pv."""
    def f(x):
        out_shape = [l + s + max(s - 1, 0) * n + h
                     for s, l, h, n in zip(x.shape, low, high, interior)]
        out = np.full(out_shape, pv, dtype=x.dtype)
        index = tuple(slice(l, l + max(s - 1, 0) * (n + 1) + 1, n + 1)
                      for s, l, n in zip(x.shape, low, interior))
        out[index] = x
        return out
    return f


def interior_pad_cases(dt):
    r = rng_for("pad_interior", dt)
    arr = lambda v: ", ".join(map(str, v))
    for variant, shape, low, high, interior, value in [
            ("interior", (2, 3), (0, 1), (1, 0), (1, 2), 0.0),
            ("interior_3d", (3, 1, 2), (1, 0, 0), (0, 2, 1), (2, 3, 1), -2.0)]:
        x = uniform(r, -3, 3, shape, dt)
        out = tuple(l + s + max(s - 1, 0) * n + h
                    for s, l, h, n in zip(shape, low, high, interior))
        rt = T(out, dt)
        attrs = ("low = array<i64: %s>, high = array<i64: %s>, "
                 "interior = array<i64: %s>, padding_value = %r : f64" %
                 (arr(low), arr(high), arr(interior), value))
        add_case("pad_" + variant, dt, [x],
                 "%%r = kiln.pad %%a0 {%s} : %s -> %s" % (attrs, TA(x), rt),
                 [("%r", rt)], interior_pad_ref(low, high, interior, value),
                 EXACT)


# ---------------------------------------------------------------------------
# convert
# ---------------------------------------------------------------------------

def convert_cases(dt):
    """kiln.convert from `dt` to every other type and back (closed forms:
    IEEE round-to-nearest between floats, truncation toward zero to ints,
    x != 0 to i1; signed ints, i1 as 0/1)."""
    r = rng_for("convert", dt)
    x = uniform(r, -100, 100, (3, 4), dt)
    x[0, 0], x[0, 1], x[0, 2] = 0.0, -0.0, 2.5
    other = "f64" if dt == "f32" else "f32"
    for to in (other, "i32", "i64", "i1"):
        rt = T(x.shape, to)
        if to == "i1":
            ref = lambda x: x != 0
        elif to in ("i32", "i64"):
            ref = (lambda to: lambda x: np.trunc(x).astype(NP[to]))(to)
        else:
            ref = (lambda to: lambda x: x.astype(NP[to]))(to)
        add_case("convert_to_" + to, dt, [x],
                 "%%r = kiln.convert %%a0 : %s -> %s" % (TA(x), rt),
                 [("%r", rt)], ref, EXACT)
    labels = r.integers(-5, 10, size=(6,)).astype(np.int32)
    flags = np.array([True, False, True, True, False, False])
    for name, arr in (("i32", labels), ("i1", flags)):
        rt = T(arr.shape, dt)
        add_case("convert_from_" + name, dt, [arr],
                 "%%r = kiln.convert %%a0 : %s -> %s" % (TA(arr), rt),
                 [("%r", rt)],
                 (lambda dt: lambda a: a.astype(NP[dt]))(dt), EXACT)


# ---------------------------------------------------------------------------
# iota
# ---------------------------------------------------------------------------

def iota_cases(dt):
    """kiln.iota in float `dt` and the integer types: result[...] = index
    along `dimension` (closed form)."""
    for shape, dim in [((3, 4), 1), ((2, 3, 5), 0)]:
        for et in (dt, "i32", "i64") if dt == "f32" else (dt,):
            rt = T(shape, et)
            add_case("iota_d%d_%s" % (dim, et), dt, [],
                     "%%r = kiln.iota {dimension = %d : i64} : %s" % (dim, rt),
                     [("%r", rt)],
                     (lambda shape, dim, et: lambda: np.broadcast_to(
                         np.arange(shape[dim]).reshape(
                             [-1 if i == dim else 1
                              for i in range(len(shape))]),
                         shape).astype(NP[et]))(shape, dim, et),
                     EXACT)


# ---------------------------------------------------------------------------
# softmax, log_softmax
# ---------------------------------------------------------------------------

def softmax_ref(axis):
    def f(x):
        d = x - np.max(x, axis=axis, keepdims=True)
        e = np.exp(d)
        return e / np.sum(e, axis=axis, keepdims=True)
    return f


def log_softmax_ref(axis):
    def f(x):
        m = np.max(x, axis=axis, keepdims=True)
        return (x - m) - np.log(np.sum(np.exp(x - m), axis=axis,
                                       keepdims=True))
    return f


def softmax_cases(dt):
    variants = [("axis1", (3, 4), 1), ("axis0", (3, 4), 0),
                ("3d_axis1", (2, 3, 5), 1), ("3d_axis2", (2, 3, 5), 2),
                ("size1_axis", (3, 1), 1)]   # softmax over one element = 1
    for variant, shape, axis in variants:
        x = uniform(rng_for("softmax" + variant, dt), -3, 3, shape, dt)
        x64 = x.astype(np.float64)
        spread = float(np.max(np.max(x64, axis=axis, keepdims=True) - x64))
        n = shape[axis]
        for op in ("softmax", "log_softmax"):
            if op == "softmax":
                ref = softmax_ref(axis)
                tol = Tol(ulps(dt, n + spread + 8), 0.0,
                          "(n + max|x - max| + 8) eps")
            else:
                ref = log_softmax_ref(axis)
                tol = Tol(ulps(dt, 8), ulps(dt, 8) * (spread + math.log(n) + 1),
                          "difference d - log(sum): atol 8 eps scale")
            add_case("%s_%s" % (op, variant), dt, [x],
                     "%%r = kiln.%s %%a0 {axis = %d : i64} : %s" % (op, axis,
                                                                   TA(x)),
                     [("%r", TA(x))], ref, tol)
    # Stability: [1000, 0, -1000] -> log_softmax [0, -1000, -2000], softmax
    # [1, 0, 0]; [1e8, 1e8] rows -> ln(1/2); no inf/NaN.
    x = np.array([[1000, 0, -1000], [-1000, 0, 1000], [1e8, 1e8, -1e8],
                  [88, 89, 90]], NP[dt])
    for op, ref in (("softmax", softmax_ref(1)),
                    ("log_softmax", log_softmax_ref(1))):
        tol = Tol(ulps(dt, 16), ulps(dt, 16) * 4.0,
                  "results are exact or O(1) sums of 3 terms")
        add_case(op + "_extreme", dt, [x],
                 "%%r = kiln.%s %%a0 {axis = 1 : i64} : %s" % (op, TA(x)),
                 [("%r", TA(x))], ref, tol)


# ---------------------------------------------------------------------------
# constant, stop_gradient, dropout
# ---------------------------------------------------------------------------

def constant_cases(dt):
    if dt in FLOAT_DTYPES:
        value = np.array([[1.0, -2.5, 0.1], [1e-3, 3.0e10, -0.0]])
        value = value.astype(NP[dt])  # 0.1 rounds to the dtype
        splat = "dense<0.25>"
        splat_val = np.full((2, 2), 0.25, NP[dt])
    elif dt == "i1":
        value = np.array([[True, False, True], [False, False, True]])
        splat, splat_val = "dense<true>", np.full((2, 2), True)
    else:
        value = np.array([[1, -2, 3], [np.iinfo(NP[dt]).min,
                                       np.iinfo(NP[dt]).max, 0]], NP[dt])
        splat, splat_val = "dense<-7>", np.full((2, 2), -7, NP[dt])
    et = et_of(value)
    rt = T(value.shape, et)
    st = T(splat_val.shape, et)
    add_case("constant", dt, [],
             """%%r = kiln.constant %s : %s
                %%s = kiln.constant %s : %s""" % (dense(value, dt), rt, splat,
                                                 st),
             [("%r", rt), ("%s", st)],
             (lambda v, s: lambda: [v.astype(np.float64) if v.dtype.kind == "f"
                                    else v, s.astype(np.float64)
                                    if s.dtype.kind == "f" else s])(
                 value, splat_val), EXACT)
    if dt in FLOAT_DTYPES:
        # A constant combined with an argument (and a rank-0 constant).
        x = uniform(rng_for("constant_use", dt), -3, 3, (2, 3), dt)
        add_case("constant_use", dt, [x],
                 """%%c = kiln.constant %s : %s
                    %%r = kiln.mul %%a0, %%c : %s
                    %%z = kiln.constant dense<2.0> : %s""" % (
                     dense(value, dt), rt, rt, T((), dt)),
                 [("%r", rt), ("%z", T((), dt))],
                 (lambda v: lambda x: [x * v.astype(np.float64),
                                       np.float64(2.0)])(value),
                 [Tol(ulps(dt, 1), 0.0, "one rounded mul"), EXACT])


def stop_gradient_cases(dt):
    x = random_tensor(rng_for("stop_gradient", dt), (3, 4), dt)
    t = TA(x)
    if dt in FLOAT_DTYPES:
        add_case("stop_gradient", dt, [x],
                 """%%s = kiln.stop_gradient %%a0 : %s
                    %%r = kiln.neg %%s : %s""" % (t, t),
                 [("%r", t)], lambda x: -x, EXACT)
    # Returned directly: after lowering the function returns its argument.
    add_case("stop_gradient_returned", dt, [x],
             "%%r = kiln.stop_gradient %%a0 : %s" % t, [("%r", t)],
             lambda x: x, EXACT)


M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix64(z):
    """splitmix64 finalizer on a uint64 array (wrap-around arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def dropout_keep(seed, counter, shape, rate):
    """The keep mask documented above DropoutLowering
    (codegen/LowerElementwise.cpp): key = mix64((seed*G) ^ counter),
    h = mix64(key + i*G), keep = (h >> 40) >= ceil(rate * 2^24)."""
    with np.errstate(over="ignore"):
        pre = ((seed & M64) * GOLDEN & M64) ^ (counter & M64)
        key = mix64(np.array([pre], dtype=np.uint64))[0]
        n = int(np.prod(shape))
        i = np.arange(n, dtype=np.uint64)
        h = mix64(key + i * np.uint64(GOLDEN))
    threshold = math.ceil(rate * float(1 << 24))
    return ((h >> np.uint64(40)) >= np.uint64(threshold)).reshape(shape)


def dropout_stats_check(rate, index=0):
    """Independent of the hash: every output is 0 or x/(1-rate), and the keep
    fraction is within 5 binomial standard deviations of 1 - rate."""
    def check(inputs, outputs):
        x = inputs[0].astype(np.float64)
        y = outputs[index].astype(np.float64)
        errors = []
        kept = y != 0
        scaled = x / (1.0 - rate)
        bad = kept & ~np.isclose(y, scaled, rtol=1e-6, atol=0)
        if bad.any():
            errors.append("%d kept outputs are not x/(1-rate)" % bad.sum())
        n = y.size
        frac = kept.mean()
        sigma = math.sqrt(rate * (1 - rate) / n)
        if abs(frac - (1 - rate)) > 5 * sigma + 1e-12:
            errors.append("keep fraction %.4f, expected %.4f +- %.4f" % (
                frac, 1 - rate, 5 * sigma))
        return errors
    return check


def dropout_cases(dt):
    variants = [
        # (variant, shape, rate, seed, counter, counter dtype)
        ("rate03", (64, 128), 0.3, 42, 7, "i64"),
        ("rate05_i32_neg_counter", (2, 3, 5, 7), 0.5, 1234, -5, "i32"),
        ("neg_seed", (40, 50), 0.2, -3, 123456789012, "i64"),
        ("rate09", (1000,), 0.9, 7, 0, "i64"),
        ("rate0", (3, 4), 0.0, 5, 1, "i64"),          # identity
        ("rank0", (), 0.5, 11, 3, "i64"),
        # Large enough for kiln-parallelize-loops (>= 32768 elements): 97
        # rows in chunks of 12, the last one row, so the mask checks that
        # each chunk hashes its own global element indices.
        ("parallel_chunks", (97, 700), 0.3, 99, 5, "i64"),
    ]
    for variant, shape, rate, seed, counter, cdt in variants:
        r = rng_for("dropout" + variant, dt)
        x = away_from_zero(r, 0.5, 2.0, shape, dt)  # nonzero: mask visible
        c = np.array(counter, NP[cdt])
        keep = dropout_keep(seed, counter, shape, rate)
        add_case("dropout_" + variant, dt, [x, c],
                 "%%r = kiln.dropout %%a0, %%a1 {rate = %r : f64, seed = %d : "
                 "i64} : %s, %s" % (rate, seed, TA(x), TA(c)),
                 [("%r", TA(x))],
                 (lambda k, rate: lambda x, c: np.where(
                     k, x / (1.0 - rate), 0.0))(keep, rate),
                 Tol(ulps(dt, 2), 0.0, "x / fl(1 - rate): two roundings"),
                 check=dropout_stats_check(rate) if x.size >= 1000 else None)
    # Same (seed, counter) -> the same mask; another seed or counter ->
    # another mask.
    r = rng_for("dropout_masks", dt)
    shape = (16, 32)
    x = away_from_zero(r, 0.5, 2.0, shape, dt)
    y = away_from_zero(r, 0.5, 2.0, shape, dt)
    c = np.array(9, np.int64)
    t = TA(x)
    k1 = dropout_keep(1, 9, shape, 0.4)
    k2 = dropout_keep(2, 9, shape, 0.4)
    k3 = dropout_keep(1, 10, shape, 0.4)
    assert (k1 != k2).any() and (k1 != k3).any()
    c10 = np.array(10, np.int64)
    add_case("dropout_masks", dt, [x, c, y, c10],
             """%%d1 = kiln.dropout %%a0, %%a1 {rate = 0.4 : f64, seed = 1 : i64} : %s, tensor<i64>
                %%d2 = kiln.dropout %%a2, %%a1 {rate = 0.4 : f64, seed = 1 : i64} : %s, tensor<i64>
                %%d3 = kiln.dropout %%a0, %%a1 {rate = 0.4 : f64, seed = 2 : i64} : %s, tensor<i64>
                %%d4 = kiln.dropout %%a0, %%a3 {rate = 0.4 : f64, seed = 1 : i64} : %s, tensor<i64>"""
             % (t, t, t, t), [("%d1", t), ("%d2", t), ("%d3", t), ("%d4", t)],
             (lambda k1, k2, k3: lambda x, c, y, c10: [
                 np.where(k1, x / 0.6, 0.0), np.where(k1, y / 0.6, 0.0),
                 np.where(k2, x / 0.6, 0.0), np.where(k3, x / 0.6, 0.0)])(
                 k1, k2, k3),
             Tol(ulps(dt, 2), 0.0, "x / fl(1 - rate): two roundings"))


# ---------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------

def weighted(l, w):
    """sum_n(w_n l_n) / sum_n(w_n), 0 when every weight is 0."""
    s = np.sum(w)
    return np.float64(0.0) if s == 0 else np.sum(w * l) / s


def per_sample_mean(t):
    return t.reshape(t.shape[0], -1).mean(axis=1)


def loss_tol(dt, n, scale=0.0, why="positive terms"):
    return Tol(ulps(dt, 64 + n), ulps(dt, 64) * scale, why)


def loss_case(name, dt, op, p, y, w, ref, tol, from_logits=None):
    attr = "" if from_logits is None else (
        " {from_logits = %s}" % ("true" if from_logits else "false"))
    add_case(name, dt, [p, y, w],
             "%%r = kiln.%s %%a0, %%a1, %%a2%s : %s, %s, %s -> %s" % (
                 op, attr, TA(p), TA(y), TA(w), T((), dt)),
             [("%r", T((), dt))], ref, tol)


def weights(r, n, dt, zeros=()):
    w = r.uniform(0.2, 2.0, size=(n,))
    for i in zeros:
        w[i] = 0.0
    return w.astype(NP[dt])


def bce_prob_ref(dt):
    lo, hi = clip_bounds(dt)

    def f(p, y, w):
        pc = np.clip(p, lo, hi)
        t = -(y * np.log(pc) + (1 - y) * np.log(1 - pc))
        return weighted(per_sample_mean(t), w)
    return f


def bce_logits_ref(z, y, w):
    t = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    return weighted(per_sample_mean(t), w)


def cce_prob_ref(dt):
    lo, hi = clip_bounds(dt)

    def f(p, y, w):
        q = np.clip(p / np.sum(p, axis=-1, keepdims=True), lo, hi)
        return weighted(-np.sum(y * np.log(q), axis=-1), w)
    return f


def logsumexp(z):
    m = np.max(z, axis=-1, keepdims=True)
    return (m + np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True)))[..., 0]


def cce_logits_ref(z, y, w):
    # Documented: logsumexp(z) - sum_c y_c z_c (labels sum to 1 here).
    m = np.max(z, axis=-1, keepdims=True)
    d = z - m
    lse = np.log(np.sum(np.exp(d), axis=-1))
    return weighted(lse - np.sum(y * d, axis=-1), w)


def scce_prob_ref(dt):
    lo, hi = clip_bounds(dt)

    def f(p, labels, w):
        pl = np.take_along_axis(p, labels[..., None].astype(np.int64),
                                axis=-1)[..., 0]
        return weighted(per_sample_mean(-np.log(np.clip(pl, lo, hi))), w)
    return f


def scce_logits_ref(z, labels, w):
    m = np.max(z, axis=-1, keepdims=True)
    d = z - m
    lse = np.log(np.sum(np.exp(d), axis=-1))
    dl = np.take_along_axis(d, labels[..., None].astype(np.int64),
                            axis=-1)[..., 0]
    return weighted(per_sample_mean(lse - dl), w)


def softmax_rows(r, n, c):
    z = r.normal(size=(n, c)) * 1.5
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def loss_cases(dt):
    N, C = 6, 4
    # mean_squared_error / mean_absolute_error: 2-D and 3-D predictions.
    for op, fn in (("mean_squared_error", lambda p, y: (y - p) ** 2),
                   ("mean_absolute_error", lambda p, y: np.abs(y - p))):
        for variant, shape in (("2d", (N, C)), ("3d", (N, 3, 5)),
                               ("1d", (N,))):
            r = rng_for(op + variant, dt)
            p = uniform(r, -2, 2, shape, dt)
            y = uniform(r, -2, 2, shape, dt)
            w = weights(r, N, dt, zeros=(1,))
            loss_case("%s_%s" % (op, variant), dt, op, p, y, w,
                      (lambda fn: lambda p, y, w: weighted(
                          per_sample_mean(fn(p, y)), w))(fn),
                      loss_tol(dt, N, 4.0, "y - p rounded, then positive terms"))
        r = rng_for(op + "zero_w", dt)
        p = uniform(r, -2, 2, (N, C), dt)
        y = uniform(r, -2, 2, (N, C), dt)
        loss_case(op + "_zero_weights", dt, op, p, y,
                  np.zeros(N, NP[dt]),
                  lambda p, y, w: np.float64(0.0), EXACT)

    # binary_crossentropy, probabilities (default and explicit false).
    r = rng_for("bce_prob", dt)
    p = uniform(r, 0.02, 0.98, (N, C), dt)
    y = (r.random((N, C)) < 0.5).astype(NP[dt])
    y[0] = np.array([0.25, 0.5, 0.75, 1.0])  # soft labels
    w = weights(r, N, dt, zeros=(2,))
    for variant, fl in (("", None), ("_explicit", False)):
        loss_case("binary_crossentropy_prob" + variant, dt,
                  "binary_crossentropy", p, y, w, bce_prob_ref(dt),
                  loss_tol(dt, N), from_logits=fl)
    # Clipping at exactly 0 and 1 (Keras: -log(1e-7) ~ 16.1, in f32 the
    # upper bound 1 - 1e-7 rounds to 1 - 2^-23 and log(2^-23) ~ 15.9).
    p = np.array([[0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 0.5, 1e-9],
                  [0.3, 0.999999999, 1.0, 0.0]], NP[dt])
    y = np.array([[0.0, 1.0, 1.0, 0.0], [1.0, 0.0, 1.0, 1.0],
                  [0.0, 0.0, 0.5, 0.5]], NP[dt])
    w = np.array([1.0, 0.5, 2.0], NP[dt])
    loss_case("binary_crossentropy_prob_clip", dt, "binary_crossentropy", p,
              y, w, bce_prob_ref(dt), loss_tol(dt, 3))
    # 3-D predictions: mean over the non-batch axes.
    r = rng_for("bce_prob3", dt)
    p = uniform(r, 0.02, 0.98, (N, 2, 3), dt)
    y = (r.random((N, 2, 3)) < 0.5).astype(NP[dt])
    loss_case("binary_crossentropy_prob_3d", dt, "binary_crossentropy", p, y,
              weights(r, N, dt), bce_prob_ref(dt), loss_tol(dt, N))

    # binary_crossentropy from logits.
    r = rng_for("bce_logits", dt)
    z = uniform(r, -4, 4, (N, C), dt)
    y = (r.random((N, C)) < 0.5).astype(NP[dt])
    y[1] = np.array([0.1, 0.5, 0.9, 0.3])
    w = weights(r, N, dt, zeros=(0, 3))
    loss_case("binary_crossentropy_logits", dt, "binary_crossentropy", z, y,
              w, bce_logits_ref,
              loss_tol(dt, N, 5.0, "softplus(z) - z y: atol 64 eps (|z|+1)"),
              from_logits=True)
    z = np.array([[100, -100, 1e8, -1e8], [0, 30, -30, 1e-8]], NP[dt])
    y = np.array([[1, 0, 1, 0], [0.5, 0, 1, 1]], NP[dt])
    w = np.array([1.0, 3.0], NP[dt])
    loss_case("binary_crossentropy_logits_extreme", dt,
              "binary_crossentropy", z, y, w, bce_logits_ref,
              loss_tol(dt, 2, 31.0, "|z| <= 30 contributes; exact 0 for "
                       "|z| >= 100 with matching labels"), from_logits=True)

    # categorical_crossentropy, probabilities.
    r = rng_for("cce_prob", dt)
    p = softmax_rows(r, N, C).astype(NP[dt])
    y = np.eye(C)[r.integers(0, C, size=N)]
    y[0] = [0.1, 0.2, 0.3, 0.4]  # soft labels
    y = y.astype(NP[dt])
    w = weights(r, N, dt, zeros=(4,))
    for variant, fl in (("", None), ("_explicit", False)):
        loss_case("categorical_crossentropy_prob" + variant, dt,
                  "categorical_crossentropy", p, y, w, cce_prob_ref(dt),
                  loss_tol(dt, N + C), from_logits=fl)
    # Unnormalized rows are renormalized; exact 0 and 1 are clipped.
    p = np.array([[2.0, 1.0, 1.0, 0.0], [0.0, 0.0, 1.0, 0.0],
                  [0.0, 3.0, 0.0, 0.0], [0.5, 0.5, 0.5, 0.5]], NP[dt])
    y = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0],
                  [0, 0.5, 0.5, 0]], NP[dt])
    w = np.array([1.0, 2.0, 0.5, 1.0], NP[dt])
    loss_case("categorical_crossentropy_prob_clip", dt,
              "categorical_crossentropy", p, y, w, cce_prob_ref(dt),
              loss_tol(dt, 8))

    # categorical_crossentropy from logits.
    r = rng_for("cce_logits", dt)
    z = uniform(r, -4, 4, (N, C), dt)
    y = np.eye(C)[r.integers(0, C, size=N)]
    y[2] = [0.25, 0.25, 0.5, 0.0]
    y = y.astype(NP[dt])
    w = weights(r, N, dt, zeros=(5,))
    loss_case("categorical_crossentropy_logits", dt,
              "categorical_crossentropy", z, y, w, cce_logits_ref,
              loss_tol(dt, N + C, 10.0, "lse - d: atol 64 eps (max|d| + 2)"),
              from_logits=True)
    # [1000, 0, -1000]: label 0 -> 0, label 2 -> 2000; [1e8, 1e8] -> ln 2.
    z = np.array([[1000, 0, -1000], [1000, 0, -1000], [1e8, 1e8, -1e8]],
                 NP[dt])
    y = np.array([[1, 0, 0], [0, 0, 1], [1, 0, 0]], NP[dt])
    for variant, w in (("extreme", [1, 1, 1]), ("extreme_row0", [1, 0, 0]),
                       ("extreme_row1", [0, 1, 0]), ("ln2", [0, 0, 1])):
        w = np.array(w, NP[dt])
        loss_case("categorical_crossentropy_logits_" + variant, dt,
                  "categorical_crossentropy", z, y, w, cce_logits_ref,
                  loss_tol(dt, 3, 4.0, "exact or O(1) terms"),
                  from_logits=True)

    # A label outside [0, classes) makes the loss NaN in both forms (docs/
    # spec.md: never a plausible number), even with weight 0 on that row.
    for form in (False, True):
        z = np.array([[0.5, 1.0, -1.0], [2.0, 0.0, 1.0]], NP[dt])
        for bad in (3, -1):
            labels = np.array([1, bad], np.int32)
            loss_case("sparse_categorical_crossentropy_%s_label_%d" % (
                "logits" if form else "prob", bad), dt,
                "sparse_categorical_crossentropy", z, labels,
                np.array([1, 0], NP[dt]), lambda *args: np.array(np.nan),
                EXACT, from_logits=form)

    # sparse_categorical_crossentropy, i32 and i64 labels, both forms.
    for ldt in ("i32", "i64"):
        r = rng_for("scce" + ldt, dt)
        p = softmax_rows(r, N, C).astype(NP[dt])
        p[0, 1] = 0.0  # clipped to 1e-7 when picked
        labels = r.integers(0, C, size=N).astype(NP[ldt])
        labels[0] = 1
        w = weights(r, N, dt, zeros=(3,))
        loss_case("sparse_categorical_crossentropy_prob_" + ldt, dt,
                  "sparse_categorical_crossentropy", p, labels, w,
                  scce_prob_ref(dt), loss_tol(dt, N))
        z = uniform(r, -4, 4, (N, C), dt)
        loss_case("sparse_categorical_crossentropy_logits_" + ldt, dt,
                  "sparse_categorical_crossentropy", z, labels, w,
                  scce_logits_ref,
                  loss_tol(dt, N + C, 10.0, "lse - d: atol 64 eps (max|d|+2)"),
                  from_logits=True)
        z = np.array([[1000, 0, -1000], [1000, 0, -1000], [1e8, 1e8, -1e8],
                      [-1e8, 1e8, 1e8]], NP[dt])
        labels = np.array([0, 2, 1, 2], NP[ldt])
        for variant, w in (("extreme", [1, 1, 1, 1]),
                           ("extreme_row1", [0, 1, 0, 0]),
                           ("ln2", [0, 0, 1, 1]),
                           ("zero_weights", [0, 0, 0, 0])):
            w = np.array(w, NP[dt])
            loss_case("sparse_categorical_crossentropy_logits_%s_%s" % (
                variant, ldt), dt, "sparse_categorical_crossentropy", z,
                labels, w, scce_logits_ref,
                loss_tol(dt, 4, 4.0, "exact or O(1) terms"), from_logits=True)
    # Zero weights everywhere -> 0 for the cross-entropies as well.
    r = rng_for("xent_zero_w", dt)
    p = softmax_rows(r, 3, C).astype(NP[dt])
    y = np.eye(C)[[0, 1, 2]].astype(NP[dt])
    wz = np.zeros(3, NP[dt])
    loss_case("categorical_crossentropy_zero_weights", dt,
              "categorical_crossentropy", p, y, wz,
              lambda p, y, w: np.float64(0.0), EXACT)
    loss_case("binary_crossentropy_logits_zero_weights", dt,
              "binary_crossentropy", p, y, wz,
              lambda p, y, w: np.float64(0.0), EXACT, from_logits=True)


# ---------------------------------------------------------------------------
# Regressions of the compile pipeline met while writing this table.
# ---------------------------------------------------------------------------

def identity_return_cases(dt):
    x = uniform(rng_for("identity", dt), -3, 3, (3, 4), dt)
    t = TA(x)
    # A function whose result is its argument after folding (reduce over no
    # axes, identity transpose/broadcast) must return a copy.
    add_case("transpose_identity_returned", dt, [x],
             "%%r = kiln.transpose %%a0 {permutation = array<i64: 0, 1>} : "
             "%s -> %s" % (t, t), [("%r", t)], lambda x: x, EXACT)
    add_case("broadcast_in_dim_identity_returned", dt, [x],
             "%%r = kiln.broadcast_in_dim %%a0, dims = [0, 1] : %s -> %s"
             % (t, t), [("%r", t)], lambda x: x, EXACT)


# Not a bug per docs/spec.md, noted with the report: kiln.compare on i1
# compares signed (true = -1), so `lt(true, false)` is true; only eq/ne are
# tested on i1. sparse_categorical_crossentropy on probabilities is tested as
# documented (-log clip(p[label])); Keras additionally renormalizes p, so
# the inputs here are normalized rows.


def kiln_mnemonics(td_path=None):
    """Every op mnemonic defined in ir/KilnOps.td."""
    import os
    import re
    td_path = td_path or os.path.join(os.path.dirname(os.path.abspath(
        __file__)), "..", "..", "ir", "KilnOps.td")
    with open(td_path) as f:
        text = f.read()
    return re.findall(r'^def Kiln_\w+\s*:\s*Kiln_\w+<\s*"(\w+)"', text, re.M)


def missing_coverage(cases):
    """(mnemonic, dtype) pairs of KilnOps.td with no f32/f64 case using the
    op."""
    import re
    missing = []
    for m in kiln_mnemonics():
        pat = re.compile(r"kiln\.%s\s" % m)
        for dt in FLOAT_DTYPES:
            if not any(c.dtype == dt and pat.search(c.mlir) for c in cases):
                missing.append((m, dt))
    return missing


def op_of(case, mnemonics):
    """The op a case is about: the longest mnemonic prefixing its name."""
    best = ""
    for m in mnemonics:
        if (case.name == m or case.name.startswith(m + "_")) and \
                len(m) > len(best):
            best = m
    return best or case.name


# ---------------------------------------------------------------------------
# batch_norm (training form; docs/spec.md "Normalization")
# ---------------------------------------------------------------------------

def batch_norm_ref(axis, eps_, momentum, unbiased, weights):
    def f(x, scale, offset, mean, var, *rest):
        axes = tuple(d for d in range(x.ndim) if d != axis)
        shape = [1] * x.ndim
        shape[axis] = -1
        if weights:
            keep = (rest[0] != 0).reshape((-1,) + (1,) * (x.ndim - 1))
            mask = np.broadcast_to(keep, x.shape).astype(np.float64)
        else:
            mask = np.ones_like(x)
        m = mask.sum(axis=axes)
        mu = (x * mask).sum(axis=axes) / m
        v = ((x - mu.reshape(shape)) ** 2 * mask).sum(axis=axes) / m
        y = ((x - mu.reshape(shape)) / np.sqrt(v.reshape(shape) + eps_) *
             scale.reshape(shape) + offset.reshape(shape))
        sample = v * m / np.maximum(m - 1, 1) if unbiased else v
        return [y, momentum * mean + (1 - momentum) * mu,
                momentum * var + (1 - momentum) * sample]
    return f


def batch_norm_cases(dt):
    for name, shape, axis, unbiased, weights in (
            ("nhwc", (4, 3, 3, 5), 3, False, None),
            ("nchw_unbiased", (3, 4, 2, 3), 1, True, None),
            ("2d_sample_weight", (6, 4), 1, False, [1, 0, 2, 1, 0, 0.5]),
            ("2d_sample_weight_unbiased", (6, 4), 1, True,
             [1, 1, 0, 1, 0, 1])):
        r = rng_for("batch_norm_" + name, dt)
        c = shape[axis]
        x = (uniform(r, -2, 2, shape, dt) * 3 + 1).astype(NP[dt])
        inputs = [x, uniform(r, 0.5, 1.5, (c,), dt),
                  uniform(r, -1, 1, (c,), dt), uniform(r, -1, 1, (c,), dt),
                  uniform(r, 0.5, 2, (c,), dt)]
        operand = ""
        if weights:
            inputs.append(np.array(weights, NP[dt]))
            operand = " sample_weight(%%a5 : %s)" % T((shape[0],), dt)
        xt, ct = TA(x), T((c,), dt)
        attrs = ("{axis = %d : i64, epsilon = 1.0e-3 : f64, momentum = 0.9 : "
                 "f64%s}" % (axis, ", unbiased_moving_variance = true"
                             if unbiased else ""))
        m = x.size // c
        # Mean and variance are sums of M terms (recursive-summation bound
        # M eps relative to the terms), then rsqrt, a multiply-add and the
        # moving-average blend: about 30 roundings on top, relative to the
        # input magnitude (results are O(|x|): normalized values, means,
        # variances of x / its spread).
        mag = float(np.abs(x.astype(np.float64)).max()) + 1
        tol = Tol(ulps(dt, 32), (m + 32) * eps(dt) * mag,
                  "sums of M terms, then about 30 roundings, times |x|")
        add_case("batch_norm_" + name, dt, inputs,
                 "%%y, %%m, %%v = kiln.batch_norm %%a0, %%a1, %%a2, %%a3, "
                 "%%a4%s %s : %s, %s" % (operand, attrs, xt, ct),
                 [("%y", xt), ("%m", ct), ("%v", ct)],
                 batch_norm_ref(axis, 1e-3, 0.9, unbiased, weights), tol)


# ---------------------------------------------------------------------------
# gather / scatter_add (embedding lookup and its gradient)
# ---------------------------------------------------------------------------

def gather_ref(axis):
    def ref(x, idx):
        v = x.shape[axis]
        idx = idx.astype(np.int64)
        inside = (idx >= -v) & (idx < v)
        taken = np.take(x, np.where(inside, idx % v, 0), axis=axis)
        # Out-of-range indices give zero slices.
        mask = inside.reshape((1,) * axis + idx.shape +
                              (1,) * (x.ndim - axis - 1))
        return np.where(mask, taken, 0.0)
    return ref


def scatter_add_ref(axis, size):
    def ref(u, idx):
        idx = idx.astype(np.int64)
        lead = u.shape[:axis]
        tail = u.shape[axis + idx.ndim:]
        out = np.zeros(lead + (size,) + tail)
        flat_u = u.astype(np.float64).reshape(lead + (idx.size,) + tail)
        for j, v in enumerate(idx.reshape(-1)):
            if -size <= v < size:
                out[(slice(None),) * axis + (v % size,)] += \
                    flat_u[(slice(None),) * axis + (j,)]
        return out
    return ref


def gather_cases(dt):
    r = rng_for("gather", dt)
    # Embedding: a [V, D] table, [B, T] i32 token ids with repeats.
    table = uniform(r, -2, 2, (7, 5), dt)
    ids = np.array([[0, 6, 3, 3], [6, 0, 0, 2]], np.int32)
    add_case("gather_embedding", dt, [table, ids],
             "%%r = kiln.gather %%a0[%%a1] : %s, %s -> %s" % (
                 TA(table), TA(ids), T((2, 4, 5), dt)),
             [("%r", T((2, 4, 5), dt))], gather_ref(0), EXACT)
    # Axis 1, i64 indices counting from the end, one out of range (zeros).
    x = uniform(r, -2, 2, (2, 4, 3), dt)
    idx = np.array([3, -1, 0, -4, 4], np.int64)
    add_case("gather_axis1_negative", dt, [x, idx],
             "%%r = kiln.gather %%a0[%%a1] {axis = 1 : i64} : %s, %s -> %s" % (
                 TA(x), TA(idx), T((2, 5, 3), dt)),
             [("%r", T((2, 5, 3), dt))], gather_ref(1), EXACT)
    # A large lookup (parallel copy path: >= 256 KiB).
    table = uniform(r, -2, 2, (50, 64), dt)
    ids = r.integers(0, 50, size=(64, 40)).astype(np.int32)
    add_case("gather_large", dt, [table, ids],
             "%%r = kiln.gather %%a0[%%a1] : %s, %s -> %s" % (
                 TA(table), TA(ids), T((64, 40, 64), dt)),
             [("%r", T((64, 40, 64), dt))], gather_ref(0), EXACT)
    # scatter_add: repeated indices add in index order. Each element sums
    # at most n terms: recursive-summation bound n eps sum|terms|.
    u = uniform(r, -2, 2, (2, 4, 5), dt)
    ids = np.array([[0, 6, 3, 3], [6, 0, 0, 2]], np.int32)
    n = ids.size
    add_case("scatter_add_repeats", dt, [u, ids],
             "%%r = kiln.scatter_add %%a0[%%a1] {size = 7 : i64} : %s, %s "
             "-> %s" % (TA(u), TA(ids), T((7, 5), dt)),
             [("%r", T((7, 5), dt))], scatter_add_ref(0, 7),
             Tol(0.0, n * eps(dt) * 2.0 * n, "sums of up to n terms |u| <= 2"))
    u = uniform(r, -2, 2, (3, 5, 2), dt)
    idx = np.array([1, -1, 1, 9, 0], np.int64)
    add_case("scatter_add_axis1_negative", dt, [u, idx],
             "%%r = kiln.scatter_add %%a0[%%a1] {axis = 1 : i64, size = 3 : "
             "i64} : %s, %s -> %s" % (TA(u), TA(idx), T((3, 3, 2), dt)),
             [("%r", T((3, 3, 2), dt))], scatter_add_ref(1, 3),
             Tol(0.0, 5 * eps(dt) * 2.0 * 5, "sums of up to 5 terms |u| <= 2"))
    # Large (column-block parallel path).
    u = uniform(r, -1, 1, (64, 40, 300), dt)
    ids = r.integers(0, 50, size=(64, 40)).astype(np.int64)
    add_case("scatter_add_large", dt, [u, ids],
             "%%r = kiln.scatter_add %%a0[%%a1] {size = 50 : i64} : %s, %s "
             "-> %s" % (TA(u), TA(ids), T((50, 300), dt)),
             [("%r", T((50, 300), dt))], scatter_add_ref(0, 50),
             Tol(0.0, ids.size * eps(dt) * ids.size,
                 "sums of up to n terms |u| <= 1"))


# ---------------------------------------------------------------------------
# rnn (SimpleRNN, LSTM, GRU over a whole sequence; Keras 3 formulas)
# ---------------------------------------------------------------------------

def rnn_ref(cell, act="tanh", ract="sigmoid", go_backwards=False,
            reverse_output=False, reset_after=True):
    """Keras 3 simple_rnn.py / lstm.py / gru.py in float64, zero initial
    states; the result holds every step's state (return_sequences). Works
    on numpy arrays and (for rnn_vjp_ref) on float64 torch tensors."""

    def ref(x, k, rk, b):
        if isinstance(x, np.ndarray):
            x, k, rk, b = (a.astype(np.float64) for a in (x, k, rk, b))
            lib, stack = np, lambda v: np.stack(v, axis=1)
            relu = lambda v: np.maximum(v, 0)
        else:
            import torch as lib
            stack = lambda v: lib.stack(v, dim=1)
            relu = lib.relu
        fns = {"tanh": lib.tanh, "sigmoid": lambda v: 1 / (1 + lib.exp(-v)),
               "relu": relu, "linear": lambda v: v}
        f, rf = fns[act], fns[ract]
        n, t, _ = x.shape
        H = rk.shape[0]
        h = 0 * (x[:, 0] @ k[:, :H])  # zeros [N, H] of x's kind
        c = h
        states = [None] * t
        for s in range(t):
            xt = x[:, t - 1 - s if go_backwards else s]
            if cell == "simple":
                h = f(xt @ k + h @ rk + b)
            elif cell == "lstm":
                z = xt @ k + h @ rk + b
                i, fg = rf(z[:, :H]), rf(z[:, H:2 * H])
                g, o = f(z[:, 2 * H:3 * H]), rf(z[:, 3 * H:])
                c = fg * c + i * g
                h = o * f(c)
            else:
                if reset_after:
                    xz = xt @ k + b[0]
                    hz = h @ rk + b[1]
                    z = rf(xz[:, :H] + hz[:, :H])
                    r = rf(xz[:, H:2 * H] + hz[:, H:2 * H])
                    hh = f(xz[:, 2 * H:] + r * hz[:, 2 * H:])
                else:
                    xz = xt @ k + b
                    z = rf(xz[:, :H] + h @ rk[:, :H])
                    r = rf(xz[:, H:2 * H] + h @ rk[:, H:2 * H])
                    hh = f(xz[:, 2 * H:] + (r * h) @ rk[:, 2 * H:])
                h = z * h + (1 - z) * hh
            states[t - 1 - s if reverse_output else s] = h
        return stack(states)
    return ref


def rnn_vjp_ref(cell, **kw):
    """(dx, dk, drk, db) of sum(rnn(x, k, rk, b) * dy) by float64 torch
    autograd through rnn_ref's formulas (run on torch tensors)."""
    import torch
    forward = rnn_ref(cell, **kw)

    def ref(x, k, rk, b, dy):
        ts = [torch.tensor(a.astype(np.float64), requires_grad=True)
              for a in (x, k, rk, b)]
        y = forward(*ts)
        (y * torch.tensor(dy.astype(np.float64))).sum().backward()
        return [a.grad.numpy() for a in ts]
    return ref


def rnn_cases(dt):
    # (name, cell, N, T, I, H, attrs, reference keyword arguments)
    specs = [
        ("rnn_lstm", "lstm", 3, 5, 4, 6, "", {}),
        ("rnn_lstm_backwards", "lstm", 2, 4, 3, 5,
         ", go_backwards = true", {"go_backwards": True}),
        ("rnn_lstm_bidirectional_half", "lstm", 2, 4, 3, 5,
         ", go_backwards = true, reverse_output = true",
         {"go_backwards": True, "reverse_output": True}),
        ("rnn_gru", "gru", 3, 5, 4, 6, "", {}),
        ("rnn_gru_reset_before", "gru", 2, 4, 3, 5,
         ", reset_after = false", {"reset_after": False}),
        ("rnn_simple_relu", "simple", 3, 6, 4, 5,
         ", activation = \"relu\"", {"act": "relu"}),
        ("rnn_lstm_long", "lstm", 4, 40, 8, 16, "", {}),
    ]
    for name, cell, n, t, i, h, attrs, kw in specs:
        r = rng_for(name, dt)
        g = {"simple": 1, "lstm": 4, "gru": 3}[cell]
        reset_after = kw.get("reset_after", True)
        bshape = (2, 3 * h) if cell == "gru" and reset_after else (g * h,)
        x = uniform(r, -1, 1, (n, t, i), dt)
        k = uniform(r, -0.5, 0.5, (i, g * h), dt)
        rk = uniform(r, -0.5, 0.5, (h, g * h), dt)
        b = uniform(r, -0.3, 0.3, bshape, dt)
        per_row = g * h + h + (2 * h if cell == "lstm" else
                               h if cell == "gru" else 0)
        ws = n * t * per_row + (3 * n * h if cell == "gru" and reset_after
                                else 0)
        # The states are bounded (|h| <= 1 with tanh); each step is a few
        # dozen roundings on top of sums of I + H terms; the gates (< 1)
        # damp what earlier steps carry in, so the error stays at about one
        # step's: (I + H + 64) eps, times 4 as margin, relative to 1.
        tol = Tol(0.0, (i + h + 64) * eps(dt) * 4,
                  "a step's sums of I + H terms and ~60 roundings")
        st = T((2 if cell == "lstm" else 1, n, h), dt)
        add_case(name, dt, [x, k, rk, b],
                 "%%y, %%st, %%ws = kiln.rnn %%a0, %%a1, %%a2, %%a3 {cell = "
                 "\"%s\"%s} : %s, %s, %s, %s -> %s, %s, %s" % (
                     cell, attrs, TA(x), TA(k), TA(rk), TA(b),
                     T((n, t, h), dt), st, T((ws,), dt)),
                 [("%y", T((n, t, h), dt))], rnn_ref(cell, **kw), tol)

    # rnn_grad: the vector-Jacobian product of rnn_ref, by float64 torch
    # autograd on the same explicit formulas (numpy has no autograd; torch
    # only differentiates rnn_ref's arithmetic, nothing of kiln's).
    for name, cell, n, t, i, h, attrs, kw in specs[:6]:
        r = rng_for(name + "_grad", dt)
        g = {"simple": 1, "lstm": 4, "gru": 3}[cell]
        reset_after = kw.get("reset_after", True)
        bshape = (2, 3 * h) if cell == "gru" and reset_after else (g * h,)
        x = uniform(r, -1, 1, (n, t, i), dt)
        k = uniform(r, -0.5, 0.5, (i, g * h), dt)
        rk = uniform(r, -0.5, 0.5, (h, g * h), dt)
        b = uniform(r, -0.3, 0.3, bshape, dt)
        dy = uniform(r, -1, 1, (n, t, h), dt)
        per_row = g * h + h + (2 * h if cell == "lstm" else
                               h if cell == "gru" else 0)
        ws = n * t * per_row + (3 * n * h if cell == "gru" and reset_after
                                else 0)
        tol = Tol(0.0, (i + h + n * t + 64) * eps(dt) * 16,
                  "BPTT: sums of I + H terms per step, N T terms per weight")
        types = [TA(x), TA(k), TA(rk), TA(b)]
        st = T((2 if cell == "lstm" else 1, n, h), dt)
        add_case(name + "_grad", dt, [x, k, rk, b, dy],
                 "%%y, %%st, %%ws = kiln.rnn %%a0, %%a1, %%a2, %%a3 {cell = "
                 "\"%s\"%s} : %s, %s, %s, %s -> %s, %s, %s\n"
                 "%%dst = kiln.constant dense<0.0> : %s\n"
                 "%%dx, %%dk, %%drk, %%db, %%ds0 = kiln.rnn_grad %%a0, %%a1, "
                 "%%a2, %%ws, %%a4, %%dst {cell = \"%s\"%s} : %s, %s, %s, %s, "
                 "%s, %s -> %s, %s, %s, %s, %s" % (
                     cell, attrs, *types, T((n, t, h), dt), st, T((ws,), dt),
                     st, cell, attrs, types[0], types[1], types[2],
                     T((ws,), dt), T((n, t, h), dt), st, *types, st),
                 [("%dx", types[0]), ("%dk", types[1]), ("%drk", types[2]),
                  ("%db", types[3])], rnn_vjp_ref(cell, **kw), tol)


def torch_rnn(cell, x, k, rk, b, s0, backwards=False):
    """PyTorch's own nn.LSTM / nn.GRU / nn.RNN (float64) with kiln.rnn's
    Keras-layout weights loaded: every step's output and the final states
    [S, N, H] (h_n, c_n), from the initial states s0 [S, N, H]. The
    layouts: torch weight_ih = kernel^T, weight_hh = recurrent_kernel^T;
    LSTM gates i, f, g, o = Keras i, f, c, o (bias_ih = b, bias_hh = 0);
    GRU (torch's form is Keras' reset_after) gates r, z, n <- Keras z, r, h
    blocks, bias_ih = b[0], bias_hh = b[1]. `backwards` runs torch on the
    time-flipped input and flips its outputs back (Keras go_backwards with
    the states stored aligned)."""
    import torch
    n, t, i = x.shape
    h = rk.shape[0]
    mod = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU,
           "simple": torch.nn.RNN}[cell](i, h, batch_first=True).double()
    blocks = (lambda w: np.concatenate([w[:, h:2 * h], w[:, :h],
                                        w[:, 2 * h:]], axis=1)
              if cell == "gru" else w)
    with torch.no_grad():
        mod.weight_ih_l0.copy_(torch.tensor(blocks(k).T))
        mod.weight_hh_l0.copy_(torch.tensor(blocks(rk).T))
        if cell == "gru":
            mod.bias_ih_l0.copy_(torch.tensor(blocks(b[0:1])[0]))
            mod.bias_hh_l0.copy_(torch.tensor(blocks(b[1:2])[0]))
        else:
            mod.bias_ih_l0.copy_(torch.tensor(b))
            mod.bias_hh_l0.zero_()
    return mod


def torch_rnn_run(cell, mod, x, s0, backwards):
    import torch
    xs = x.flip(1) if backwards else x
    if cell == "lstm":
        y, (hn, cn) = mod(xs, (s0[0:1].contiguous(), s0[1:2].contiguous()))
        states = torch.cat([hn, cn], dim=0)
    else:
        y, states = mod(xs, s0)
    return (y.flip(1) if backwards else y), states


def rnn_state_cases(dt):
    """kiln.rnn with initial_state and final_state against PyTorch's
    nn.LSTM / nn.GRU / nn.RNN (independent implementations), forward and
    (rnn_grad) the vector-Jacobian product by torch autograd."""
    import torch
    specs = [("rnn_lstm_states", "lstm", ""),
             ("rnn_lstm_states_backwards", "lstm",
              ", go_backwards = true, reverse_output = true"),
             ("rnn_gru_states", "gru", ""),
             ("rnn_simple_states", "simple", "")]
    n, t, i, h = 3, 6, 4, 5
    for name, cell, attrs in specs:
        backwards = "go_backwards" in attrs
        r = rng_for(name, dt)
        g = {"simple": 1, "lstm": 4, "gru": 3}[cell]
        s = 2 if cell == "lstm" else 1
        bshape = (2, 3 * h) if cell == "gru" else (g * h,)
        x = uniform(r, -1, 1, (n, t, i), dt)
        k = uniform(r, -0.5, 0.5, (i, g * h), dt)
        rk = uniform(r, -0.5, 0.5, (h, g * h), dt)
        b = uniform(r, -0.3, 0.3, bshape, dt)
        s0 = uniform(r, -0.8, 0.8, (s, n, h), dt)
        dy = uniform(r, -1, 1, (n, t, h), dt)
        dst = uniform(r, -1, 1, (s, n, h), dt)
        per_row = g * h + h + (2 * h if cell == "lstm" else
                               h if cell == "gru" else 0)
        ws = n * t * per_row + (3 * n * h if cell == "gru" else 0)
        st = T((s, n, h), dt)
        types = [TA(x), TA(k), TA(rk), TA(b)]
        rnn = ("%%y, %%st, %%ws = kiln.rnn %%a0, %%a1, %%a2, %%a3 "
               "initial_state(%%a4 : %s) {cell = \"%s\"%s} : %s, %s, %s, %s "
               "-> %s, %s, %s" % (st, cell, attrs, *types, T((n, t, h), dt),
                                  st, T((ws,), dt)))

        def forward_ref(x, k, rk, b, s0, cell=cell, backwards=backwards):
            mod = torch_rnn(cell, x, k, rk, b, s0)
            with torch.no_grad():
                y, states = torch_rnn_run(cell, mod, torch.tensor(x),
                                          torch.tensor(s0), backwards)
            return [y.numpy(), states.numpy()]

        tol = Tol(0.0, (i + h + 64) * eps(dt) * 4,
                  "a step's sums of I + H terms and ~60 roundings")
        add_case(name, dt, [x, k, rk, b, s0], rnn,
                 [("%y", T((n, t, h), dt)), ("%st", st)], forward_ref, tol)

        def vjp_ref(x, k, rk, b, s0, dy, dst, cell=cell, backwards=backwards):
            mod = torch_rnn(cell, x, k, rk, b, s0)
            tx = torch.tensor(x, requires_grad=True)
            ts0 = torch.tensor(s0, requires_grad=True)
            y, states = torch_rnn_run(cell, mod, tx, ts0, backwards)
            ((y * torch.tensor(dy)).sum() +
             (states * torch.tensor(dst)).sum()).backward()
            unblock = (lambda w: np.concatenate(
                [w[:, h:2 * h], w[:, :h], w[:, 2 * h:]], axis=1)
                if cell == "gru" else w)
            dk = unblock(mod.weight_ih_l0.grad.numpy().T)
            drk = unblock(mod.weight_hh_l0.grad.numpy().T)
            if cell == "gru":
                db = np.stack([unblock(mod.bias_ih_l0.grad.numpy()[None])[0],
                               unblock(mod.bias_hh_l0.grad.numpy()[None])[0]])
            else:
                db = mod.bias_ih_l0.grad.numpy()
            return [tx.grad.numpy(), dk, drk, db, ts0.grad.numpy()]

        tol = Tol(0.0, (i + h + n * t + 64) * eps(dt) * 16,
                  "BPTT: sums of I + H terms per step, N T terms per weight")
        add_case(name + "_grad", dt, [x, k, rk, b, s0, dy, dst],
                 rnn + "\n"
                 "%%dx, %%dk, %%drk, %%db, %%ds0 = kiln.rnn_grad %%a0, %%a1, "
                 "%%a2, %%ws, %%a5, %%a6 {cell = \"%s\"%s} : %s, %s, %s, %s, "
                 "%s, %s -> %s, %s, %s, %s, %s" % (
                     cell, attrs, types[0], types[1], types[2],
                     T((ws,), dt), T((n, t, h), dt), st, *types, st),
                 [("%dx", types[0]), ("%dk", types[1]), ("%drk", types[2]),
                  ("%db", types[3]), ("%ds0", st)], vjp_ref, tol)


def build_cases():
    if CASES:
        return CASES
    for dt in FLOAT_DTYPES:
        binary_cases(dt)
        unary_cases(dt)
        compare_cases(dt)
        select_cases(dt)
        reduction_cases(dt)
        argmax_cases(dt)
        matmul_cases(dt)
        conv_cases(dt)
        conv_epilogue_cases(dt)
        pool_cases(dt)
        batch_norm_cases(dt)
        shape_cases(dt)
        pad_cases(dt)
        interior_pad_cases(dt)
        iota_cases(dt)
        convert_cases(dt)
        softmax_cases(dt)
        constant_cases(dt)
        stop_gradient_cases(dt)
        dropout_cases(dt)
        loss_cases(dt)
        identity_return_cases(dt)
        gather_cases(dt)
        rnn_cases(dt)
        rnn_state_cases(dt)
    # Integer and i1 tensors where the op takes any Kiln_Tensor.
    for dt in ("i32", "i64", "i1"):
        compare_cases(dt)
    for dt in ("i32", "i64", "i1"):
        select_cases(dt)
        shape_cases(dt)
        constant_cases(dt)
        stop_gradient_cases(dt)
    return CASES


if __name__ == "__main__":
    # Prints the case count per op and dtype, and any op without cases.
    from collections import defaultdict
    cases = build_cases()
    mn = kiln_mnemonics()
    table = defaultdict(lambda: defaultdict(int))
    for c in cases:
        table[op_of(c, mn)][c.dtype] += 1
    dts = ["f32", "f64", "i32", "i64", "i1"]
    print("%-34s" % "op" + "".join("%5s" % d for d in dts))
    for m in mn + sorted(set(table) - set(mn)):
        print("%-34s" % m + "".join("%5d" % table[m][d] for d in dts))
    print("%d cases, %d ops in KilnOps.td" % (len(cases), len(mn)))
    print("missing:", missing_coverage(cases) or "none")
