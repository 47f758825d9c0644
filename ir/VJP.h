//===- VJP.h - registration of the kiln VJP rules ---------------*- C++ -*-===//
//
// The vector-Jacobian product rules of the kiln ops are external models of
// DifferentiableOpInterface, grouped by op family in VJP*.cpp. This header
// declares their registration and the builder helpers the rules share.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_IR_VJP_H
#define KILN_IR_VJP_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectRegistry.h"

namespace mlir::kiln {

/// Elementwise binary and unary ops, activations, select
/// (ir/VJPElementwise.cpp).
void registerElementwiseVJPModels(DialectRegistry &registry);

/// Reductions, matmul, shape ops, softmax, dropout and losses
/// (ir/VJPStructured.cpp).
void registerStructuredVJPModels(DialectRegistry &registry);

} // namespace mlir::kiln

#endif // KILN_IR_VJP_H
