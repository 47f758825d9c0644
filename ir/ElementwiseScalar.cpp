//===- ElementwiseScalar.cpp - scalar bodies of the elementwise kiln ops --===//
//
// ElementwiseScalarOpInterface: the per-element computation of every
// elementwise kiln op (binary, unary and activations, compare, select,
// convert) as arith/math ops on scalars. convert-kiln-to-linalg wraps each
// in one linalg.generic (codegen/LowerElementwise.cpp); an op declared in an
// elementwise family of KilnOps.td without its body here does not link.
//
// Numerics (docs/spec.md, Numerics conventions): no fast-math flags, so no
// reassociation; max/min/relu propagate NaN (arith.maximumf/minimumf);
// tanh, erf, log1p and expm1 go to libm in the LLVM lowering; softplus and
// sigmoid are in overflow-free forms.
//
//===----------------------------------------------------------------------===//

#include "ir/ElementwiseScalar.h"
#include "ir/KilnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;
using namespace mlir::kiln;

//===----------------------------------------------------------------------===//
// Shared formulas
//===----------------------------------------------------------------------===//

Value scalar::floatConst(OpBuilder &b, Location loc, Type type, double value) {
  return b.create<arith::ConstantOp>(loc, b.getFloatAttr(type, value));
}

Value scalar::clip(OpBuilder &b, Location loc, Value x, double lo, double hi) {
  Type t = x.getType();
  Value low = b.create<arith::MaximumFOp>(loc, x, floatConst(b, loc, t, lo));
  return b.create<arith::MinimumFOp>(loc, low, floatConst(b, loc, t, hi));
}

Value scalar::softplus(OpBuilder &b, Location loc, Value x) {
  Type t = x.getType();
  Value pos = b.create<arith::MaximumFOp>(loc, x, floatConst(b, loc, t, 0.0));
  Value negAbs = b.create<arith::NegFOp>(loc, b.create<math::AbsFOp>(loc, x));
  Value tail = b.create<math::Log1pOp>(loc, b.create<math::ExpOp>(loc, negAbs));
  return b.create<arith::AddFOp>(loc, pos, tail);
}

namespace {
/// A constant of the type of `like`.
Value cst(OpBuilder &b, Location loc, Value like, double value) {
  return scalar::floatConst(b, loc, like.getType(), value);
}
} // namespace

//===----------------------------------------------------------------------===//
// Binary ops
//===----------------------------------------------------------------------===//

Value AddOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return b.create<arith::AddFOp>(loc, args[0], args[1]);
}

Value SubOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return b.create<arith::SubFOp>(loc, args[0], args[1]);
}

Value MulOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return b.create<arith::MulFOp>(loc, args[0], args[1]);
}

Value DivOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return b.create<arith::DivFOp>(loc, args[0], args[1]);
}

/// NaN propagating (IEEE 754-2019 maximum).
Value MaximumOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return b.create<arith::MaximumFOp>(loc, args[0], args[1]);
}

/// NaN propagating (IEEE 754-2019 minimum).
Value MinimumOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return b.create<arith::MinimumFOp>(loc, args[0], args[1]);
}

Value PowOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return b.create<math::PowFOp>(loc, args[0], args[1]);
}

//===----------------------------------------------------------------------===//
// Unary ops
//===----------------------------------------------------------------------===//

Value NegOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return b.create<arith::NegFOp>(loc, args[0]);
}

Value ExpOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return b.create<math::ExpOp>(loc, args[0]);
}

Value LogOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return b.create<math::LogOp>(loc, args[0]);
}

Value Log1pOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return b.create<math::Log1pOp>(loc, args[0]);
}

Value SqrtOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return b.create<math::SqrtOp>(loc, args[0]);
}

/// 1 / sqrt(x): two correctly rounded operations (math.rsqrt has no libm
/// lowering and LLVM's expansion is the same division).
Value RsqrtOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  Value root = b.create<math::SqrtOp>(loc, args[0]);
  return b.create<arith::DivFOp>(loc, cst(b, loc, args[0], 1.0), root);
}

Value ErfOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return b.create<math::ErfOp>(loc, args[0]);
}

Value AbsOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return b.create<math::AbsFOp>(loc, args[0]);
}

Value SquareOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return b.create<arith::MulFOp>(loc, args[0], args[0]);
}

//===----------------------------------------------------------------------===//
// Activations
//===----------------------------------------------------------------------===//

Value TanhOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return b.create<math::TanhOp>(loc, args[0]);
}

/// 1 / (1 + exp(-x)). Stable in IEEE arithmetic: for very negative x,
/// exp(-x) overflows to +inf and the quotient is exactly 0.
Value SigmoidOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  Value x = args[0];
  Value one = cst(b, loc, x, 1.0);
  Value e = b.create<math::ExpOp>(loc, b.create<arith::NegFOp>(loc, x));
  return b.create<arith::DivFOp>(loc, one,
                                 b.create<arith::AddFOp>(loc, one, e));
}

/// max(x, 0), NaN propagating.
Value ReluOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return b.create<arith::MaximumFOp>(loc, args[0], cst(b, loc, args[0], 0.0));
}

Value SoftplusOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return scalar::softplus(b, loc, args[0]);
}

/// x >= 0 ? x : alpha * x (NaN -> alpha * NaN = NaN).
Value LeakyReluOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  Value x = args[0];
  Value isPos = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OGE, x,
                                        cst(b, loc, x, 0.0));
  Value scaled = b.create<arith::MulFOp>(
      loc, cst(b, loc, x, getAlpha().convertToDouble()), x);
  return b.create<arith::SelectOp>(loc, isPos, x, scaled);
}

/// x > 0 ? x : alpha * expm1(x) (Keras: alpha * ops.expm1(x)).
Value EluOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  Value x = args[0];
  Value isPos = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OGT, x,
                                        cst(b, loc, x, 0.0));
  Value neg =
      b.create<arith::MulFOp>(loc, cst(b, loc, x, getAlpha().convertToDouble()),
                              b.create<math::ExpM1Op>(loc, x));
  return b.create<arith::SelectOp>(loc, isPos, x, neg);
}

/// clip(alpha * x + beta, 0, 1) with maximumf/minimumf: NaN propagates.
Value HardSigmoidOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  Value x = args[0];
  Value ax = b.create<arith::MulFOp>(
      loc, cst(b, loc, x, getAlpha().convertToDouble()), x);
  Value t = b.create<arith::AddFOp>(
      loc, ax, cst(b, loc, x, getBeta().convertToDouble()));
  return scalar::clip(b, loc, t, 0.0, 1.0);
}

/// Exact: 0.5 x (1 + erf(x / sqrt(2))); approximate (tanh form):
/// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (Hendrycks & Gimpel).
Value GeluOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  Value x = args[0];
  Value inner;
  if (getApproximate()) {
    Value x3 =
        b.create<arith::MulFOp>(loc, b.create<arith::MulFOp>(loc, x, x), x);
    Value poly = b.create<arith::AddFOp>(
        loc, x, b.create<arith::MulFOp>(loc, cst(b, loc, x, 0.044715), x3));
    Value arg = b.create<arith::MulFOp>(loc, cst(b, loc, x, 0.7978845608028654),
                                        poly); // sqrt(2/pi)
    inner = b.create<math::TanhOp>(loc, arg);
  } else {
    Value arg = b.create<arith::MulFOp>(
        loc, x, cst(b, loc, x, 0.70710678118654752)); // 1/sqrt(2)
    inner = b.create<math::ErfOp>(loc, arg);
  }
  Value onePlus = b.create<arith::AddFOp>(loc, cst(b, loc, x, 1.0), inner);
  Value half = b.create<arith::MulFOp>(loc, cst(b, loc, x, 0.5), x);
  return b.create<arith::MulFOp>(loc, half, onePlus);
}

//===----------------------------------------------------------------------===//
// Comparison, selection, conversion
//===----------------------------------------------------------------------===//

namespace {
arith::CmpFPredicate floatPredicate(ComparisonDirection dir) {
  switch (dir) {
  case ComparisonDirection::eq:
    return arith::CmpFPredicate::OEQ;
  case ComparisonDirection::ne:
    return arith::CmpFPredicate::UNE; // true when either side is NaN (IEEE)
  case ComparisonDirection::lt:
    return arith::CmpFPredicate::OLT;
  case ComparisonDirection::le:
    return arith::CmpFPredicate::OLE;
  case ComparisonDirection::gt:
    return arith::CmpFPredicate::OGT;
  case ComparisonDirection::ge:
    return arith::CmpFPredicate::OGE;
  }
  llvm_unreachable("covered switch");
}

arith::CmpIPredicate intPredicate(ComparisonDirection dir) {
  switch (dir) {
  case ComparisonDirection::eq:
    return arith::CmpIPredicate::eq;
  case ComparisonDirection::ne:
    return arith::CmpIPredicate::ne;
  case ComparisonDirection::lt:
    return arith::CmpIPredicate::slt;
  case ComparisonDirection::le:
    return arith::CmpIPredicate::sle;
  case ComparisonDirection::gt:
    return arith::CmpIPredicate::sgt;
  case ComparisonDirection::ge:
    return arith::CmpIPredicate::sge;
  }
  llvm_unreachable("covered switch");
}
} // namespace

/// IEEE 754 for floats (ordered predicates, `ne` unordered); signed for
/// integers.
Value CompareOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  ComparisonDirection dir = getComparisonDirection();
  if (isa<FloatType>(args[0].getType()))
    return b.create<arith::CmpFOp>(loc, floatPredicate(dir), args[0], args[1]);
  return b.create<arith::CmpIOp>(loc, intPredicate(dir), args[0], args[1]);
}

Value SelectOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return b.create<arith::SelectOp>(loc, args[0], args[1], args[2]);
}

/// Float to float rounds to nearest even (truncf) or is exact (extf);
/// integer to float rounds to nearest, i1 as unsigned (true -> 1); float to
/// integer truncates toward zero, float to i1 is `x != 0` (unordered, so
/// NaN -> 1); integer to integer sign-extends (i1 zero-extends) or
/// truncates, integer to i1 is `x != 0`.
Value ConvertOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  Value x = args[0];
  Type from = x.getType();
  Type to = cast<RankedTensorType>(getType()).getElementType();
  bool fromFloat = isa<FloatType>(from), toFloat = isa<FloatType>(to);
  if (from == to)
    return x;
  if (fromFloat && toFloat)
    return from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth()
               ? b.create<arith::ExtFOp>(loc, to, x).getResult()
               : b.create<arith::TruncFOp>(loc, to, x).getResult();
  if (!fromFloat && toFloat)
    return from.isInteger(1)
               ? b.create<arith::UIToFPOp>(loc, to, x).getResult()
               : b.create<arith::SIToFPOp>(loc, to, x).getResult();
  if (fromFloat && !toFloat) {
    if (to.isInteger(1))
      return b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::UNE, x,
                                     scalar::floatConst(b, loc, from, 0.0));
    return b.create<arith::FPToSIOp>(loc, to, x);
  }
  unsigned fw = from.getIntOrFloatBitWidth();
  unsigned tw = to.getIntOrFloatBitWidth();
  if (to.isInteger(1))
    return b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ne, x,
                                   b.create<arith::ConstantIntOp>(loc, 0, fw));
  if (fw < tw)
    return from.isInteger(1) ? b.create<arith::ExtUIOp>(loc, to, x).getResult()
                             : b.create<arith::ExtSIOp>(loc, to, x).getResult();
  return b.create<arith::TruncIOp>(loc, to, x);
}
