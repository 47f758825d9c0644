//===- Jit.cpp - in-process compilation of kiln entry points --------------===//
//
// Implements Jit.h.
//
//===----------------------------------------------------------------------===//

#include "codegen/Jit.h"

#include "kiln/runtime.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "llvm/ExecutionEngine/Orc/Mangling.h"
#include "llvm/Support/TargetSelect.h"

#include <optional>

using namespace mlir;
using namespace mlir::kiln;

llvm::Expected<std::unique_ptr<JitModule>>
JitModule::create(ModuleOp module, unsigned optLevel) {
  std::optional<llvm::CodeGenOptLevel> level =
      llvm::CodeGenOpt::getLevel(static_cast<int>(optLevel));
  if (!level)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "optimization level %u is not 0-3",
                                   optLevel);
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();

  // ExecutionEngineOptions::transformer is a function_ref: the function it
  // refers to must outlive create() (a temporary did not: ASan reported a
  // stack use after scope in every JIT compile).
  std::function<llvm::Error(llvm::Module *)> transformer =
      makeOptimizingTransformer(optLevel, /*sizeLevel=*/0,
                                /*targetMachine=*/nullptr);
  ExecutionEngineOptions options;
  options.transformer = transformer;
  options.jitCodeGenOptLevel = *level;
  auto engine = ExecutionEngine::create(module, options);
  if (!engine)
    return engine.takeError();
  // Runtime kernels the generated code calls.
  (*engine)->registerSymbols([](llvm::orc::MangleAndInterner interner) {
    llvm::orc::SymbolMap symbols;
    auto bind = [&](llvm::StringRef name, void *address) {
      symbols[interner(name)] = {llvm::orc::ExecutorAddr::fromPtr(address),
                                 llvm::JITSymbolFlags::Exported};
    };
    bind("kiln_gemm_f32", reinterpret_cast<void *>(&kiln_gemm_f32));
    bind("kiln_gemm_f64", reinterpret_cast<void *>(&kiln_gemm_f64));
    bind("kiln_gemm_bf16_f32", reinterpret_cast<void *>(&kiln_gemm_bf16_f32));
#define KILN_BIND(name) bind(#name, reinterpret_cast<void *>(&name))
    KILN_BIND(kiln_conv_fwd_f32);
    KILN_BIND(kiln_conv_fwd_f64);
    KILN_BIND(kiln_conv_bwd_data_f32);
    KILN_BIND(kiln_conv_bwd_data_f64);
    KILN_BIND(kiln_conv_bwd_filter_f32);
    KILN_BIND(kiln_conv_bwd_filter_f64);
    KILN_BIND(kiln_max_pool_fwd_f32);
    KILN_BIND(kiln_max_pool_fwd_f64);
    KILN_BIND(kiln_max_pool_bwd_f32);
    KILN_BIND(kiln_max_pool_bwd_f64);
    KILN_BIND(kiln_avg_pool_fwd_f32);
    KILN_BIND(kiln_avg_pool_fwd_f64);
    KILN_BIND(kiln_avg_pool_bwd_f32);
    KILN_BIND(kiln_avg_pool_bwd_f64);
    KILN_BIND(kiln_gather_f32);
    KILN_BIND(kiln_gather_f64);
    KILN_BIND(kiln_scatter_add_f32);
    KILN_BIND(kiln_scatter_add_f64);
    KILN_BIND(kiln_rnn_fwd_f32);
    KILN_BIND(kiln_rnn_fwd_f64);
    KILN_BIND(kiln_rnn_bwd_f32);
    KILN_BIND(kiln_rnn_bwd_f64);
    KILN_BIND(kiln_parallel_for);
#undef KILN_BIND
    return symbols;
  });
  return std::unique_ptr<JitModule>(new JitModule(std::move(*engine)));
}

llvm::Expected<EntryPoint> JitModule::lookup(llvm::StringRef symbol) const {
  llvm::Expected<void *> address = engine->lookup(symbol);
  if (!address)
    return address.takeError();
  return reinterpret_cast<EntryPoint>(*address);
}
