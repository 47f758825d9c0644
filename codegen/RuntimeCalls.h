//===- RuntimeCalls.h - calling runtime kernels from bufferized code -*- C++
//-*-===//
//
// What the passes that turn bufferized ops into runtime calls share
// (kiln-lower-matmul-to-runtime, kiln-lower-kernel-calls): the pointer to a
// memref's first element and the private declaration of a runtime function.
// Internal to codegen/.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_CODEGEN_RUNTIMECALLS_H
#define KILN_CODEGEN_RUNTIMECALLS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir::kiln {

/// An !llvm.ptr to the first element of `memref`: the aligned pointer of
/// the nearest memref.view's source, plus the view's byte shift, plus the
/// strided-metadata element offset. (Upstream folding of
/// extract_aligned_pointer_as_index through memref.view drops the shift,
/// hence the explicit walk.)
Value getElementPointer(OpBuilder &b, Location loc, Value memref);

/// The private func.func `name` of `type` in `module`, declared at the start
/// of the module when absent.
func::FuncOp getOrDeclareRuntimeFunction(ModuleOp module, StringRef name,
                                         FunctionType type);

} // namespace mlir::kiln

#endif // KILN_CODEGEN_RUNTIMECALLS_H
