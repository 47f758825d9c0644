//===- KilnDialect.h - kiln dialect declaration -----------------*- C++ -*-===//
//
// Declares the kiln dialect class, its enums and its op
// interfaces. Include "ir/KilnOps.h" for the ops themselves.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_IR_KILNDIALECT_H
#define KILN_IR_KILNDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"

#include "ir/KilnDialect.h.inc"
#include "ir/KilnEnums.h.inc"

namespace mlir::OpTrait::kiln {
/// Ops whose gradient is zero almost everywhere (comparisons, argmax,
/// constants, iota, stop_gradient): kiln-derive-gradients propagates nothing
/// through them.
template <typename ConcreteType>
class ZeroGradient : public TraitBase<ConcreteType, ZeroGradient> {};
} // namespace mlir::OpTrait::kiln

#include "ir/KilnInterfaces.h.inc"

namespace mlir::kiln {
/// Adds the kiln dialect and the external models of its interfaces (the VJP
/// rules) to `registry`. Every tool that loads kiln calls this.
void registerKilnDialect(DialectRegistry &registry);
} // namespace mlir::kiln

#endif // KILN_IR_KILNDIALECT_H
