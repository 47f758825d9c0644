//===- ElementwiseScalar.h - scalar formulas of the kiln ops ----*- C++ -*-===//
//
// Scalar (arith/math) formulas shared by the elementwise ops' bodies
// (ElementwiseScalarOpInterface, ir/ElementwiseScalar.cpp) and the loss
// lowerings (codegen/LowerLosses.cpp), so that each formula exists once.
// No fast-math flags anywhere (docs/spec.md, Numerics conventions).
//
//===----------------------------------------------------------------------===//

#ifndef KILN_IR_ELEMENTWISESCALAR_H
#define KILN_IR_ELEMENTWISESCALAR_H

#include "mlir/IR/Builders.h"

namespace mlir::kiln::scalar {

/// A floating-point scalar constant of type `type` (f32 or f64).
Value floatConst(OpBuilder &b, Location loc, Type type, double value);

/// clip(x, lo, hi) = min(max(x, lo), hi) with arith.maximumf/minimumf; NaN
/// propagates.
Value clip(OpBuilder &b, Location loc, Value x, double lo, double hi);

/// Stable softplus: max(x, 0) + log1p(exp(-|x|)). Never overflows; equals
/// ln(1 + e^x) in exact arithmetic. Also the first term of binary
/// cross-entropy from logits (TensorFlow `sigmoid_cross_entropy_with_logits`).
Value softplus(OpBuilder &b, Location loc, Value x);

} // namespace mlir::kiln::scalar

#endif // KILN_IR_ELEMENTWISESCALAR_H
