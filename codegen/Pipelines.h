//===- Pipelines.h - the kiln codegen pipelines -----------------*- C++ -*-===//
//
// The pass pipelines kilnc runs, as functions over an OpPassManager. The same
// functions are registered as kiln-opt pipelines (registerKilnPipelines), so
// `kiln-opt --kiln-codegen-pipeline` reproduces what `kilnc` does.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_CODEGEN_PIPELINES_H
#define KILN_CODEGEN_PIPELINES_H

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"

namespace mlir::kiln {

/// Stage 1-2: kiln -> linalg on tensors, then elementwise fusion.
/// Contract after: no kiln ops; linalg/tensor/arith/math on tensors.
void buildKilnToLinalgPipeline(OpPassManager &pm);

/// Stage 3-4: one-shot bufferization with function boundaries, results as
/// out-params, GEMMs as runtime calls, then the static memory plan.
/// Contract after: no tensors; public functions take (params, opt_state,
/// io, scratch)
/// byte regions; no memref.alloc.
void buildBufferizePipeline(OpPassManager &pm);

/// Stage 5: loops, then the LLVM dialect (bare-pointer calling convention,
/// so an entry point is
/// `void f(void *params, void *opt_state, void *io, void *scratch)`).
void buildLowerToLLVMPipeline(OpPassManager &pm);

/// All of the above, in order.
void buildCodegenPipeline(OpPassManager &pm);

/// Adds every dialect the pipelines produce or consume, with the external
/// models bufferization and LLVM IR translation need, to `registry`.
void registerCodegenDialects(DialectRegistry &registry);

/// Registers the pipelines above with kiln-opt: kiln-lower-to-linalg,
/// kiln-bufferize, kiln-lower-to-llvm, kiln-codegen-pipeline.
void registerKilnPipelines();

} // namespace mlir::kiln

#endif // KILN_CODEGEN_PIPELINES_H
