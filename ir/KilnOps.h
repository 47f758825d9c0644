//===- KilnOps.h - kiln dialect operations ----------------------*- C++ -*-===//
//
// Declares every kiln op (generated from KilnOps.td).
//
//===----------------------------------------------------------------------===//

#ifndef KILN_IR_KILNOPS_H
#define KILN_IR_KILNOPS_H

#include "ir/KilnDialect.h"
#include "ir/ShapeInference.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include <utility>

namespace mlir::kiln {
/// Builds the kiln ops of VJP rules at one location (ir/VJP.h); the unary
/// and binary op families take it in their `vjp` rule.
struct VJPBuilder;

/// The number of elements of all ranked tensor results of `op`: the FLOP
/// count of ops that do one floating-point operation per result element.
inline double countResultElements(Operation *op) {
  double count = 0;
  for (Type type : op->getResultTypes())
    if (auto ranked = dyn_cast<RankedTensorType>(type))
      count += static_cast<double>(ranked.getNumElements());
  return count;
}
} // namespace mlir::kiln

#define GET_OP_CLASSES
#include "ir/KilnOps.h.inc"

#endif // KILN_IR_KILNOPS_H
