//===- Jit.h - in-process compilation of kiln entry points ------*- C++ -*-===//
//
// Compiles an LLVM-dialect module (the output of buildCodegenPipeline) with
// MLIR's ExecutionEngine (ORC JIT) and hands out its entry points with the
// same region ABI as the object files kilnc writes:
// `void entry(void *params, void *opt_state, void *io, void *scratch)`. The
// runtime GEMM symbols are bound to the kiln runtime linked into this process.
// Used by `kilnc run` and by in-process tests.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_CODEGEN_JIT_H
#define KILN_CODEGEN_JIT_H

#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

#include <memory>

namespace mlir::kiln {

/// An entry point of a compiled module.
using EntryPoint = void (*)(void *params, void *optState, void *io,
                            void *scratch);

/// A module compiled in-process. Thread-safety: lookups are not
/// synchronized; the returned entry points follow the ABI's rules
/// (reentrant across distinct regions).
class JitModule {
public:
  /// JIT-compiles `module` (fully in the LLVM dialect) for the host at LLVM
  /// optimization level `optLevel` (0-3; kilnc run -O). Errors: translation
  /// or code generation failures.
  static llvm::Expected<std::unique_ptr<JitModule>>
  create(ModuleOp module, unsigned optLevel = 2);

  /// The entry point with C symbol `symbol`. Errors: no such symbol.
  llvm::Expected<EntryPoint> lookup(llvm::StringRef symbol) const;

private:
  explicit JitModule(std::unique_ptr<ExecutionEngine> engine)
      : engine(std::move(engine)) {}
  std::unique_ptr<ExecutionEngine> engine;
};

} // namespace mlir::kiln

#endif // KILN_CODEGEN_JIT_H
