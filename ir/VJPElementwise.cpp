//===- VJPElementwise.cpp - VJP rules of the elementwise kiln ops ---------===//
//
// Vector-Jacobian product rules (DifferentiableOpInterface external models)
// of the elementwise binary and unary ops, the activations and select. Each
// rule builds its gradient from kiln ops only, at the builder's insertion
// point (after the forward ops, so the op's operands and result are used
// directly). `g` is the gradient of the result, `y` the result; each rule
// states its formula and the framework whose convention it follows at
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

namespace {

using CD = ComparisonDirection;

/// Builds kiln ops at one location; keeps each rule a line or two.
struct VJPBuilder {
  OpBuilder &b;
  Location loc;

  /// A splat kiln.constant of the float tensor type `type` holding `value`.
  Value splat(Type type, double value) {
    auto tensorType = cast<RankedTensorType>(type);
    return b.create<ConstantOp>(
        loc,
        DenseElementsAttr::get(
            tensorType, b.getFloatAttr(tensorType.getElementType(), value)));
  }
  /// splat(like.getType(), value).
  Value splatLike(Value like, double value) {
    return splat(like.getType(), value);
  }
  Value add(Value x, Value y) { return b.create<AddOp>(loc, x, y); }
  Value sub(Value x, Value y) { return b.create<SubOp>(loc, x, y); }
  Value mul(Value x, Value y) { return b.create<MulOp>(loc, x, y); }
  Value div(Value x, Value y) { return b.create<DivOp>(loc, x, y); }
  Value mul(Value x, double c) { return mul(x, splatLike(x, c)); }
  Value neg(Value x) { return b.create<NegOp>(loc, x); }
  Value exp(Value x) { return b.create<ExpOp>(loc, x); }
  Value log(Value x) { return b.create<LogOp>(loc, x); }
  Value pow(Value x, Value y) { return b.create<PowOp>(loc, x, y); }
  Value abs(Value x) { return b.create<AbsOp>(loc, x); }
  Value tanh(Value x) { return b.create<TanhOp>(loc, x); }
  Value sigmoid(Value x) { return b.create<SigmoidOp>(loc, x); }
  Value cmp(CD direction, Value x, Value y) {
    return b.create<CompareOp>(loc, direction, x, y);
  }
  /// x <direction> c for a scalar c.
  Value cmp(CD direction, Value x, double c) {
    return cmp(direction, x, c == 0.0 ? zerosLike(x) : splatLike(x, c));
  }
  Value select(Value pred, Value onTrue, Value onFalse) {
    return b.create<SelectOp>(loc, pred, onTrue, onFalse);
  }
  /// A zero tensor like `like`, built once per rule.
  Value zerosLike(Value like) {
    if (!zeros || zeros.getType() != like.getType())
      zeros = splatLike(like, 0.0);
    return zeros;
  }
  /// pred ? g : 0.
  Value gradIf(Value pred, Value g) { return select(pred, g, zerosLike(g)); }
  /// pred ? 0 : g.
  Value gradUnless(Value pred, Value g) {
    return select(pred, zerosLike(g), g);
  }

  /// The zeros of zerosLike.
  Value zeros = {};
};

/// Model of a rule for a one-operand op: `ConcreteModel::grad(vb, op, g)`
/// returns the operand gradient.
template <typename ConcreteModel, typename OpTy>
struct UnaryVJP
    : DifferentiableOpInterface::ExternalModel<ConcreteModel, OpTy> {
  LogicalResult buildVJP(Operation *op, OpBuilder &b, ValueRange resultGrads,
                         SmallVectorImpl<Value> &operandGrads) const {
    VJPBuilder vb{b, op->getLoc()};
    operandGrads.push_back(
        ConcreteModel::grad(vb, cast<OpTy>(op), resultGrads[0]));
    return success();
  }
};

/// Model of a rule for a two-operand op: `ConcreteModel::grads(vb, op, g)`
/// returns the (lhs, rhs) gradients.
template <typename ConcreteModel, typename OpTy>
struct BinaryVJP
    : DifferentiableOpInterface::ExternalModel<ConcreteModel, OpTy> {
  LogicalResult buildVJP(Operation *op, OpBuilder &b, ValueRange resultGrads,
                         SmallVectorImpl<Value> &operandGrads) const {
    VJPBuilder vb{b, op->getLoc()};
    auto [lhs, rhs] = ConcreteModel::grads(vb, cast<OpTy>(op), resultGrads[0]);
    operandGrads.push_back(lhs);
    operandGrads.push_back(rhs);
    return success();
  }
};

using Grads = std::pair<Value, Value>;

/// The machine epsilon (distance from 1 to the next float) of the element
/// type of a float tensor type: 2^-23 for f32, 2^-52 for f64.
double machineEpsilon(Type tensorType) {
  auto elementType = cast<FloatType>(getElementTypeOrSelf(tensorType));
  int precision =
      llvm::APFloat::semanticsPrecision(elementType.getFloatSemantics());
  return std::ldexp(1.0, 1 - precision);
}

//===----------------------------------------------------------------------===//
// Binary ops
//===----------------------------------------------------------------------===//

/// d(a + b) = (g, g).
struct AddVJP : BinaryVJP<AddVJP, AddOp> {
  static Grads grads(VJPBuilder &, AddOp, Value g) { return {g, g}; }
};

/// d(a - b) = (g, -g).
struct SubVJP : BinaryVJP<SubVJP, SubOp> {
  static Grads grads(VJPBuilder &vb, SubOp, Value g) { return {g, vb.neg(g)}; }
};

/// d(a * b) = (g * b, g * a).
struct MulVJP : BinaryVJP<MulVJP, MulOp> {
  static Grads grads(VJPBuilder &vb, MulOp op, Value g) {
    return {vb.mul(g, op.getRhs()), vb.mul(g, op.getLhs())};
  }
};

/// d(a / b) = (g / b, -(g / b) * y), y = a / b. The rhs form is
/// -g * a / b^2 without forming b^2 (which over/underflows first); PyTorch
/// `div_tensor_other_backward` uses the same -g * (a / b) / b.
struct DivVJP : BinaryVJP<DivVJP, DivOp> {
  static Grads grads(VJPBuilder &vb, DivOp op, Value g) {
    Value da = vb.div(g, op.getRhs());
    return {da, vb.neg(vb.mul(da, op.getResult()))};
  }
};

/// d max(a, b) = (a >= b ? g : 0, a >= b ? 0 : g): a tie sends the whole
/// gradient to the lhs (numerics conventions: exactly one element gets it,
/// the first; TensorFlow `_MaximumGrad` uses the same `x >= y` mask). With
/// a NaN operand `a >= b` is false and the gradient goes to the rhs.
struct MaximumVJP : BinaryVJP<MaximumVJP, MaximumOp> {
  static Grads grads(VJPBuilder &vb, MaximumOp op, Value g) {
    Value lhsWins = vb.cmp(CD::ge, op.getLhs(), op.getRhs());
    return {vb.gradIf(lhsWins, g), vb.gradUnless(lhsWins, g)};
  }
};

/// d min(a, b) = (a <= b ? g : 0, a <= b ? 0 : g); ties and NaN as for
/// maximum (TensorFlow `_MinimumGrad`: `x <= y`).
struct MinimumVJP : BinaryVJP<MinimumVJP, MinimumOp> {
  static Grads grads(VJPBuilder &vb, MinimumOp op, Value g) {
    Value lhsWins = vb.cmp(CD::le, op.getLhs(), op.getRhs());
    return {vb.gradIf(lhsWins, g), vb.gradUnless(lhsWins, g)};
  }
};

/// d a^b = (b == 0 ? 0 : g * b * a^(b-1),
///          a == 0 && b >= 0 ? 0 : g * y * ln(a)).
/// PyTorch `pow_backward_self` / `pow_backward_exponent`: the masks avoid
/// 0 * inf = NaN at a == 0 (0^0 = 1 is constant in a; 0^b for b >= 0 is
/// taken as constant in b). For a < 0, ln(a) is NaN and so is the rhs
/// gradient (as in PyTorch).
struct PowVJP : BinaryVJP<PowVJP, PowOp> {
  static Grads grads(VJPBuilder &vb, PowOp op, Value g) {
    Value a = op.getLhs(), b = op.getRhs();
    Value bMinus1 = vb.sub(b, vb.splatLike(b, 1.0));
    Value da = vb.mul(vb.mul(g, b), vb.pow(a, bMinus1));
    Value db = vb.mul(vb.mul(g, op.getResult()), vb.log(a));
    Value bNonNeg = vb.cmp(CD::ge, b, 0.0);
    return {vb.gradUnless(vb.cmp(CD::eq, b, 0.0), da),
            vb.select(vb.cmp(CD::eq, a, 0.0), vb.gradUnless(bNonNeg, db), db)};
  }
};

//===----------------------------------------------------------------------===//
// Unary ops
//===----------------------------------------------------------------------===//

/// d(-x) = -g.
struct NegVJP : UnaryVJP<NegVJP, NegOp> {
  static Value grad(VJPBuilder &vb, NegOp, Value g) { return vb.neg(g); }
};

/// d e^x = g * y.
struct ExpVJP : UnaryVJP<ExpVJP, ExpOp> {
  static Value grad(VJPBuilder &vb, ExpOp op, Value g) {
    return vb.mul(g, op.getResult());
  }
};

/// d ln(x) = g / x.
struct LogVJP : UnaryVJP<LogVJP, LogOp> {
  static Value grad(VJPBuilder &vb, LogOp op, Value g) {
    return vb.div(g, op.getOperand());
  }
};

/// d ln(1 + x) = g / (1 + x).
struct Log1pVJP : UnaryVJP<Log1pVJP, Log1pOp> {
  static Value grad(VJPBuilder &vb, Log1pOp op, Value g) {
    Value x = op.getOperand();
    return vb.div(g, vb.add(x, vb.splatLike(x, 1.0)));
  }
};

/// d sqrt(x) = g / (2 y) (PyTorch `sqrt` backward); +inf * g at x = 0.
struct SqrtVJP : UnaryVJP<SqrtVJP, SqrtOp> {
  static Value grad(VJPBuilder &vb, SqrtOp op, Value g) {
    return vb.div(g, vb.mul(op.getResult(), 2.0));
  }
};

/// d x^(-1/2) = -0.5 * g * y^3 (PyTorch `rsqrt` backward).
struct RsqrtVJP : UnaryVJP<RsqrtVJP, RsqrtOp> {
  static Value grad(VJPBuilder &vb, RsqrtOp op, Value g) {
    Value y = op.getResult();
    return vb.mul(vb.mul(g, vb.mul(vb.mul(y, y), y)), -0.5);
  }
};

/// d |x| = g * sign(x) with sign(0) = 0 (PyTorch `sgn`; TensorFlow also
/// gives 0 at 0). Built as x > 0 ? g : (x < 0 ? -g : 0); a NaN x gets 0.
struct AbsVJP : UnaryVJP<AbsVJP, AbsOp> {
  static Value grad(VJPBuilder &vb, AbsOp op, Value g) {
    Value x = op.getOperand();
    return vb.select(vb.cmp(CD::gt, x, 0.0), g,
                     vb.gradIf(vb.cmp(CD::lt, x, 0.0), vb.neg(g)));
  }
};

/// d x^2 = g * 2x.
struct SquareVJP : UnaryVJP<SquareVJP, SquareOp> {
  static Value grad(VJPBuilder &vb, SquareOp op, Value g) {
    return vb.mul(g, vb.mul(op.getOperand(), 2.0));
  }
};

/// d tanh(x) = g * (1 - y^2).
struct TanhVJP : UnaryVJP<TanhVJP, TanhOp> {
  static Value grad(VJPBuilder &vb, TanhOp op, Value g) {
    Value y = op.getResult();
    return vb.mul(g, vb.sub(vb.splatLike(y, 1.0), vb.mul(y, y)));
  }
};

/// d sigmoid(x) = g * y * (1 - y).
struct SigmoidVJP : UnaryVJP<SigmoidVJP, SigmoidOp> {
  static Value grad(VJPBuilder &vb, SigmoidOp op, Value g) {
    Value y = op.getResult();
    return vb.mul(vb.mul(g, y), vb.sub(vb.splatLike(y, 1.0), y));
  }
};

/// d relu(x) = x > 0 ? g : 0; relu'(0) = 0 (numerics conventions; Keras,
/// PyTorch). A NaN x gets 0.
struct ReluVJP : UnaryVJP<ReluVJP, ReluOp> {
  static Value grad(VJPBuilder &vb, ReluOp op, Value g) {
    return vb.gradIf(vb.cmp(CD::gt, op.getOperand(), 0.0), g);
  }
};

/// d leaky_relu(x) = x > 0 ? g : alpha * g; the slope at 0 is alpha
/// (TensorFlow `LeakyReluGrad` and PyTorch `leaky_relu_backward` both test
/// `x > 0`). A NaN x gets alpha * g.
struct LeakyReluVJP : UnaryVJP<LeakyReluVJP, LeakyReluOp> {
  static Value grad(VJPBuilder &vb, LeakyReluOp op, Value g) {
    double alpha = op.getAlpha().convertToDouble();
    return vb.select(vb.cmp(CD::gt, op.getOperand(), 0.0), g, vb.mul(g, alpha));
  }
};

/// d elu(x) = x > 0 ? g : g * alpha * e^x; the slope at 0 is alpha (PyTorch
/// `elu_backward`; Keras/TensorFlow agree). alpha * e^x equals y + alpha
/// but keeps full relative precision for x << 0, where y + alpha cancels.
/// A NaN x gets NaN.
struct EluVJP : UnaryVJP<EluVJP, EluOp> {
  static Value grad(VJPBuilder &vb, EluOp op, Value g) {
    Value x = op.getOperand();
    double alpha = op.getAlpha().convertToDouble();
    return vb.select(vb.cmp(CD::gt, x, 0.0), g,
                     vb.mul(g, vb.mul(vb.exp(x), alpha)));
  }
};

/// d softplus(x) = g * sigmoid(x).
struct SoftplusVJP : UnaryVJP<SoftplusVJP, SoftplusOp> {
  static Value grad(VJPBuilder &vb, SoftplusOp op, Value g) {
    return vb.mul(g, vb.sigmoid(op.getOperand()));
  }
};

/// Exact: d x Phi(x) = g * (Phi(x) + x phi(x)), phi(x) = e^(-x^2/2) /
/// sqrt(2 pi) (Hendrycks & Gimpel 2016; PyTorch `gelu_backward`). kiln has
/// no erf, so Phi(x) = y / x, and Phi(x) = 0.5 where |x| < epsilon of the
/// element type (there Phi(x) = 0.5 + x phi(0) rounds to 0.5 within 1 ulp,
/// and y / x would lose precision as y becomes subnormal). For x << 0, y / x
/// has the relative error of y, but the gradient is then ~0 in absolute
/// terms.
///
/// Tanh form: y = 0.5 x (1 + t), t = tanh(u), u = sqrt(2/pi) (x + k x^3),
/// k = 0.044715: dy/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi)
/// (1 + 3k x^2) (PyTorch `gelu_backward`, approximate='tanh'). As in
/// PyTorch, |x| > sqrt(max float) gives 0 * inf = NaN.
struct GeluVJP : UnaryVJP<GeluVJP, GeluOp> {
  static Value grad(VJPBuilder &vb, GeluOp op, Value g) {
    Value x = op.getOperand();
    Value x2 = vb.mul(x, x);
    if (op.getApproximate()) {
      constexpr double k = 0.044715;
      double sqrt2OverPi = std::sqrt(2.0 / llvm::numbers::pi);
      Value one = vb.splatLike(x, 1.0);
      Value u = vb.mul(vb.mul(x, vb.add(vb.mul(x2, k), one)), sqrt2OverPi);
      Value t = vb.tanh(u);
      Value du = vb.mul(vb.add(vb.mul(x2, 3.0 * k), one), sqrt2OverPi);
      Value left = vb.mul(vb.add(t, one), 0.5);
      Value right =
          vb.mul(vb.mul(vb.mul(x, 0.5), vb.sub(one, vb.mul(t, t))), du);
      return vb.mul(g, vb.add(left, right));
    }
    Value nearZero = vb.cmp(CD::lt, vb.abs(x), machineEpsilon(x.getType()));
    Value cdf =
        vb.select(nearZero, vb.splatLike(x, 0.5), vb.div(op.getResult(), x));
    Value pdf = vb.mul(vb.exp(vb.mul(x2, -0.5)),
                       1.0 / std::sqrt(2.0 * llvm::numbers::pi));
    return vb.mul(g, vb.add(cdf, vb.mul(x, pdf)));
  }
};

//===----------------------------------------------------------------------===//
// select
//===----------------------------------------------------------------------===//

/// d select(p, a, b) = (none, p ? g : 0, p ? 0 : g). The i1 predicate has
/// no gradient, nor do integer on_true/on_false.
struct SelectVJP
    : DifferentiableOpInterface::ExternalModel<SelectVJP, SelectOp> {
  LogicalResult buildVJP(Operation *op, OpBuilder &b, ValueRange resultGrads,
                         SmallVectorImpl<Value> &operandGrads) const {
    auto select = cast<SelectOp>(op);
    operandGrads.push_back(Value());
    if (!isa<FloatType>(getElementTypeOrSelf(select.getType()))) {
      operandGrads.append(2, Value());
      return success();
    }
    VJPBuilder vb{b, op->getLoc()};
    Value g = resultGrads[0];
    operandGrads.push_back(vb.gradIf(select.getPred(), g));
    operandGrads.push_back(vb.gradUnless(select.getPred(), g));
    return success();
  }
};

/// d convert(x) = convert(g) back to x's type for float-to-float
/// conversions (the derivative of rounding is taken as 1, as in PyTorch's
/// `.to(dtype)`); conversions from or to integers have no gradient.
struct ConvertVJP
    : DifferentiableOpInterface::ExternalModel<ConvertVJP, ConvertOp> {
  LogicalResult buildVJP(Operation *op, OpBuilder &b, ValueRange resultGrads,
                         SmallVectorImpl<Value> &operandGrads) const {
    auto convert = cast<ConvertOp>(op);
    auto from = cast<RankedTensorType>(convert.getOperand().getType());
    if (!isa<FloatType>(from.getElementType()) ||
        !isa<FloatType>(getElementTypeOrSelf(convert.getType()))) {
      operandGrads.push_back(Value());
      return success();
    }
    operandGrads.push_back(
        b.create<ConvertOp>(op->getLoc(), from, resultGrads[0]));
    return success();
  }
};

} // namespace

void mlir::kiln::registerElementwiseVJPModels(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, KilnDialect *) {
    AddOp::attachInterface<AddVJP>(*ctx);
    ConvertOp::attachInterface<ConvertVJP>(*ctx);
    SubOp::attachInterface<SubVJP>(*ctx);
    MulOp::attachInterface<MulVJP>(*ctx);
    DivOp::attachInterface<DivVJP>(*ctx);
    MaximumOp::attachInterface<MaximumVJP>(*ctx);
    MinimumOp::attachInterface<MinimumVJP>(*ctx);
    PowOp::attachInterface<PowVJP>(*ctx);
    NegOp::attachInterface<NegVJP>(*ctx);
    ExpOp::attachInterface<ExpVJP>(*ctx);
    LogOp::attachInterface<LogVJP>(*ctx);
    Log1pOp::attachInterface<Log1pVJP>(*ctx);
    SqrtOp::attachInterface<SqrtVJP>(*ctx);
    RsqrtOp::attachInterface<RsqrtVJP>(*ctx);
    AbsOp::attachInterface<AbsVJP>(*ctx);
    SquareOp::attachInterface<SquareVJP>(*ctx);
    TanhOp::attachInterface<TanhVJP>(*ctx);
    SigmoidOp::attachInterface<SigmoidVJP>(*ctx);
    ReluOp::attachInterface<ReluVJP>(*ctx);
    LeakyReluOp::attachInterface<LeakyReluVJP>(*ctx);
    EluOp::attachInterface<EluVJP>(*ctx);
    SoftplusOp::attachInterface<SoftplusVJP>(*ctx);
    GeluOp::attachInterface<GeluVJP>(*ctx);
    SelectOp::attachInterface<SelectVJP>(*ctx);
  });
}
