//===- KilnRuntime.h - the kiln_rt dialect ----------------------*- C++ -*-===//
//
// kiln_rt.kernel_call: runtime kernel calls in destination-passing style
// (KilnRuntime.td).
//
//===----------------------------------------------------------------------===//

#ifndef KILN_IR_KILNRUNTIME_H
#define KILN_IR_KILNRUNTIME_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "ir/KilnRuntimeDialect.h.inc"

#define GET_OP_CLASSES
#include "ir/KilnRuntimeOps.h.inc"

namespace mlir::kiln_rt {
/// True for a static memref whose elements are dense in row-major order
/// (any offset): what the runtime kernels take.
bool isDenseRowMajor(MemRefType type);

/// Registers the kiln_rt dialect (with its bufferization model).
void registerKilnRuntimeDialect(DialectRegistry &registry);
} // namespace mlir::kiln_rt

#endif // KILN_IR_KILNRUNTIME_H
