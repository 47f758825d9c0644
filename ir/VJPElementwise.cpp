//===- VJPElementwise.cpp - VJP rules of the elementwise kiln ops ---------===//
//
// Vector-Jacobian product rules of the elementwise binary and unary ops, the
// activations, select and convert. A unary op's rule is `XOp::vjp(vb, g)`,
// returning the operand gradient; a binary op's returns the (lhs, rhs) pair;
// the op families in KilnOps.td turn them into DifferentiableOpInterface's
// buildVJP, so an op declared in a family without its rule here does not
// link. Each rule builds its gradient from kiln ops only, at the builder's
// insertion point (after the forward ops, so the op's operands and result
// are used directly). `g` is the gradient of the result, `y` the result; each
// rule states its formula and the framework whose convention it follows at
// points where the derivative is undefined. docs/spec.md lists them.
//
// Comparisons inside a rule follow IEEE 754 (every comparison with a NaN is
// false), so at a NaN operand a select-based rule takes its "false" branch;
// the rules below say what that gives.
//
//===----------------------------------------------------------------------===//

#include "ir/KilnOps.h"
#include "ir/VJP.h"

#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/APFloat.h"
#include "llvm/Support/MathExtras.h"

#include <cmath>
#include <utility>

using namespace mlir;
using namespace mlir::kiln;

using CD = ComparisonDirection;
using Grads = std::pair<Value, Value>;

namespace {
/// The machine epsilon (distance from 1 to the next float) of the element
/// type of a float tensor type: 2^-23 for f32, 2^-52 for f64.
double machineEpsilon(Type tensorType) {
  auto elementType = cast<FloatType>(getElementTypeOrSelf(tensorType));
  int precision =
      llvm::APFloat::semanticsPrecision(elementType.getFloatSemantics());
  return std::ldexp(1.0, 1 - precision);
}
} // namespace

//===----------------------------------------------------------------------===//
// Binary ops
//===----------------------------------------------------------------------===//

/// d(a + b) = (g, g).
Grads AddOp::vjp(VJPBuilder &, Value g) { return {g, g}; }

/// d(a - b) = (g, -g).
Grads SubOp::vjp(VJPBuilder &vb, Value g) { return {g, vb.neg(g)}; }

/// d(a * b) = (g * b, g * a).
Grads MulOp::vjp(VJPBuilder &vb, Value g) {
  return {vb.mul(g, getRhs()), vb.mul(g, getLhs())};
}

/// d(a / b) = (g / b, -(g / b) * y), y = a / b. The rhs form is
/// -g * a / b^2 without forming b^2 (which over/underflows first); PyTorch
/// `div_tensor_other_backward` uses the same -g * (a / b) / b.
Grads DivOp::vjp(VJPBuilder &vb, Value g) {
  Value da = vb.div(g, getRhs());
  return {da, vb.neg(vb.mul(da, getResult()))};
}

/// d max(a, b) = (a >= b ? g : 0, a >= b ? 0 : g): a tie sends the whole
/// gradient to the lhs (numerics conventions: exactly one element gets it,
/// the first; TensorFlow `_MaximumGrad` uses the same `x >= y` mask). With
/// a NaN operand `a >= b` is false and the gradient goes to the rhs.
Grads MaximumOp::vjp(VJPBuilder &vb, Value g) {
  Value lhsWins = vb.cmp(CD::ge, getLhs(), getRhs());
  return {vb.gradIf(lhsWins, g), vb.gradUnless(lhsWins, g)};
}

/// d min(a, b) = (a <= b ? g : 0, a <= b ? 0 : g); ties and NaN as for
/// maximum (TensorFlow `_MinimumGrad`: `x <= y`).
Grads MinimumOp::vjp(VJPBuilder &vb, Value g) {
  Value lhsWins = vb.cmp(CD::le, getLhs(), getRhs());
  return {vb.gradIf(lhsWins, g), vb.gradUnless(lhsWins, g)};
}

/// d a^b = (b == 0 ? 0 : g * b * a^(b-1),
///          a == 0 && b >= 0 ? 0 : g * y * ln(a)).
/// PyTorch `pow_backward_self` / `pow_backward_exponent`: the masks avoid
/// 0 * inf = NaN at a == 0 (0^0 = 1 is constant in a; 0^b for b >= 0 is
/// taken as constant in b). For a < 0, ln(a) is NaN and so is the rhs
/// gradient (as in PyTorch).
Grads PowOp::vjp(VJPBuilder &vb, Value g) {
  Value a = getLhs(), b = getRhs();
  Value bMinus1 = vb.sub(b, vb.splatLike(b, 1.0));
  Value da = vb.mul(vb.mul(g, b), vb.pow(a, bMinus1));
  Value db = vb.mul(vb.mul(g, getResult()), vb.log(a));
  Value bNonNeg = vb.cmp(CD::ge, b, 0.0);
  return {vb.gradUnless(vb.cmp(CD::eq, b, 0.0), da),
          vb.select(vb.cmp(CD::eq, a, 0.0), vb.gradUnless(bNonNeg, db), db)};
}

//===----------------------------------------------------------------------===//
// Unary ops
//===----------------------------------------------------------------------===//

/// d(-x) = -g.
Value NegOp::vjp(VJPBuilder &vb, Value g) { return vb.neg(g); }

/// d e^x = g * y.
Value ExpOp::vjp(VJPBuilder &vb, Value g) { return vb.mul(g, getResult()); }

/// d ln(x) = g / x.
Value LogOp::vjp(VJPBuilder &vb, Value g) { return vb.div(g, getOperand()); }

/// d ln(1 + x) = g / (1 + x).
Value Log1pOp::vjp(VJPBuilder &vb, Value g) {
  Value x = getOperand();
  return vb.div(g, vb.add(x, vb.splatLike(x, 1.0)));
}

/// d erf(x) = g * 2/sqrt(pi) * e^(-x^2) (Abramowitz & Stegun 7.1.19;
/// PyTorch `erf` backward). e^(-x^2) underflows to 0 for large |x|, where
/// erf is flat to working precision.
Value ErfOp::vjp(VJPBuilder &vb, Value g) {
  Value x = getOperand();
  Value density = vb.exp(vb.neg(vb.mul(x, x)));
  return vb.mul(g, vb.mul(density, 2.0 / std::sqrt(llvm::numbers::pi)));
}

/// d sqrt(x) = g / (2 y) (PyTorch `sqrt` backward); +inf * g at x = 0.
Value SqrtOp::vjp(VJPBuilder &vb, Value g) {
  return vb.div(g, vb.mul(getResult(), 2.0));
}

/// d x^(-1/2) = -0.5 * g * y^3 (PyTorch `rsqrt` backward).
Value RsqrtOp::vjp(VJPBuilder &vb, Value g) {
  Value y = getResult();
  return vb.mul(vb.mul(g, vb.mul(vb.mul(y, y), y)), -0.5);
}

/// d |x| = g * sign(x) with sign(0) = 0 (PyTorch `sgn`; TensorFlow also
/// gives 0 at 0). Built as x > 0 ? g : (x < 0 ? -g : 0); a NaN x gets 0.
Value AbsOp::vjp(VJPBuilder &vb, Value g) {
  Value x = getOperand();
  return vb.select(vb.cmp(CD::gt, x, 0.0), g,
                   vb.gradIf(vb.cmp(CD::lt, x, 0.0), vb.neg(g)));
}

/// d x^2 = g * 2x.
Value SquareOp::vjp(VJPBuilder &vb, Value g) {
  return vb.mul(g, vb.mul(getOperand(), 2.0));
}

/// d tanh(x) = g * (1 - y^2).
Value TanhOp::vjp(VJPBuilder &vb, Value g) {
  Value y = getResult();
  return vb.mul(g, vb.sub(vb.splatLike(y, 1.0), vb.mul(y, y)));
}

/// d sigmoid(x) = g * y * (1 - y).
Value SigmoidOp::vjp(VJPBuilder &vb, Value g) {
  Value y = getResult();
  return vb.mul(vb.mul(g, y), vb.sub(vb.splatLike(y, 1.0), y));
}

/// d relu(x) = x > 0 ? g : 0; relu'(0) = 0 (numerics conventions; Keras,
/// PyTorch). A NaN x gets 0. Tested on the result y = relu(x), as PyTorch's
/// `threshold_backward` does: y > 0 exactly when x > 0 (NaN and -0
/// included), and the backward pass then does not read x, which lets a
/// convolution producing x apply the activation in its epilogue.
Value ReluOp::vjp(VJPBuilder &vb, Value g) {
  return vb.gradIf(vb.cmp(CD::gt, getResult(), 0.0), g);
}

/// d leaky_relu(x) = x > 0 ? g : alpha * g; the slope at 0 is alpha
/// (TensorFlow `LeakyReluGrad` and PyTorch `leaky_relu_backward` both test
/// `x > 0`). A NaN x gets alpha * g.
Value LeakyReluOp::vjp(VJPBuilder &vb, Value g) {
  double alpha = getAlpha().convertToDouble();
  return vb.select(vb.cmp(CD::gt, getOperand(), 0.0), g, vb.mul(g, alpha));
}

/// d elu(x) = x > 0 ? g : g * alpha * e^x; the slope at 0 is alpha (PyTorch
/// `elu_backward`; Keras/TensorFlow agree). alpha * e^x equals y + alpha
/// but keeps full relative precision for x << 0, where y + alpha cancels.
/// A NaN x gets NaN.
Value EluOp::vjp(VJPBuilder &vb, Value g) {
  Value x = getOperand();
  double alpha = getAlpha().convertToDouble();
  return vb.select(vb.cmp(CD::gt, x, 0.0), g,
                   vb.mul(g, vb.mul(vb.exp(x), alpha)));
}

/// d softplus(x) = g * sigmoid(x).
Value SoftplusOp::vjp(VJPBuilder &vb, Value g) {
  return vb.mul(g, vb.sigmoid(getOperand()));
}

/// d hard_sigmoid(x) = 0 < y < 1 ? alpha * g : 0: the slope inside the
/// linear part, 0 on the flat parts and at both kinks (PyTorch
/// `hardsigmoid_backward`: -3 < x < 3 strictly for the Keras 3 form). A NaN
/// x gets 0.
Value HardSigmoidOp::vjp(VJPBuilder &vb, Value g) {
  Value y = getResult(), slope = vb.mul(g, getAlpha().convertToDouble());
  return vb.gradIf(vb.cmp(CD::gt, y, 0.0),
                   vb.gradIf(vb.cmp(CD::lt, y, 1.0), slope));
}

/// Exact: d x Phi(x) = g * (Phi(x) + x phi(x)), phi(x) = e^(-x^2/2) /
/// sqrt(2 pi) (Hendrycks & Gimpel 2016; PyTorch `gelu_backward`). Written
/// before kiln.erf, the rule reads y and x only: Phi(x) = y / x, and Phi(x) =
/// 0.5 where |x| < epsilon of the element type (there Phi(x) = 0.5 + x phi(0)
/// rounds to 0.5 within 1 ulp, and y / x would lose precision as y becomes
/// subnormal). For x << 0, y / x has the relative error of y, but the gradient
/// is then ~0 in absolute terms.
///
/// Tanh form: y = 0.5 x (1 + t), t = tanh(u), u = sqrt(2/pi) (x + k x^3),
/// k = 0.044715: dy/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi)
/// (1 + 3k x^2) (PyTorch `gelu_backward`, approximate='tanh'). As in
/// PyTorch, |x| > sqrt(max float) gives 0 * inf = NaN.
Value GeluOp::vjp(VJPBuilder &vb, Value g) {
  Value x = getOperand();
  Value x2 = vb.mul(x, x);
  if (getApproximate()) {
    constexpr double k = 0.044715;
    double sqrt2OverPi = std::sqrt(2.0 / llvm::numbers::pi);
    Value one = vb.splatLike(x, 1.0);
    Value u = vb.mul(vb.mul(x, vb.add(vb.mul(x2, k), one)), sqrt2OverPi);
    Value t = vb.tanh(u);
    Value du = vb.mul(vb.add(vb.mul(x2, 3.0 * k), one), sqrt2OverPi);
    Value left = vb.mul(vb.add(t, one), 0.5);
    Value right = vb.mul(vb.mul(vb.mul(x, 0.5), vb.sub(one, vb.mul(t, t))), du);
    return vb.mul(g, vb.add(left, right));
  }
  Value nearZero = vb.cmp(CD::lt, vb.abs(x), machineEpsilon(x.getType()));
  Value cdf = vb.select(nearZero, vb.splatLike(x, 0.5), vb.div(getResult(), x));
  Value pdf = vb.mul(vb.exp(vb.mul(x2, -0.5)),
                     1.0 / std::sqrt(2.0 * llvm::numbers::pi));
  return vb.mul(g, vb.add(cdf, vb.mul(x, pdf)));
}

//===----------------------------------------------------------------------===//
// select and convert
//===----------------------------------------------------------------------===//

/// d select(p, a, b) = (none, p ? g : 0, p ? 0 : g). The i1 predicate has
/// no gradient, nor do integer on_true/on_false.
LogicalResult SelectOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                 SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(Value());
  if (!isa<FloatType>(getElementTypeOrSelf(getType()))) {
    operandGrads.append(2, Value());
    return success();
  }
  VJPBuilder vb{b, getLoc()};
  Value g = resultGrads[0];
  operandGrads.push_back(vb.gradIf(getPred(), g));
  operandGrads.push_back(vb.gradUnless(getPred(), g));
  return success();
}

/// d convert(x) = convert(g) back to x's type for float-to-float
/// conversions (the derivative of rounding is taken as 1, as in PyTorch's
/// `.to(dtype)`); conversions from or to integers have no gradient.
LogicalResult ConvertOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                  SmallVectorImpl<Value> &operandGrads) {
  auto from = cast<RankedTensorType>(getOperand().getType());
  if (!isa<FloatType>(from.getElementType()) ||
      !isa<FloatType>(getElementTypeOrSelf(getType()))) {
    operandGrads.push_back(Value());
    return success();
  }
  operandGrads.push_back(b.create<ConvertOp>(getLoc(), from, resultGrads[0]));
  return success();
}
