//===- VJP.h - builder shared by the kiln VJP rules -------------*- C++ -*-===//
//
// The vector-Jacobian product rules of the kiln ops implement
// DifferentiableOpInterface, declared on the op records in KilnOps.td and
// defined beside their family in VJP*.cpp. The unary and binary elementwise
// families take a short `vjp(VJPBuilder &, Value g)` rule per op; this
// header defines VJPBuilder, which keeps each rule a line or two.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_IR_VJP_H
#define KILN_IR_VJP_H

#include "ir/KilnOps.h"

#include "mlir/IR/Builders.h"

namespace mlir::kiln {

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
  Value cmp(ComparisonDirection direction, Value x, Value y) {
    return b.create<CompareOp>(loc, direction, x, y);
  }
  /// x <direction> c for a scalar c.
  Value cmp(ComparisonDirection direction, Value x, double c) {
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

} // namespace mlir::kiln

#endif // KILN_IR_VJP_H
