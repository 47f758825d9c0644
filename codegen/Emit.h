//===- Emit.h - LLVM IR, machine code and C header emission -----*- C++ -*-===//
//
// The last stage of kilnc: translate the LLVM-dialect module to LLVM IR,
// optimize it for a TargetMachine, write assembly or an object file, and
// write the C header that describes the generated interface (regions,
// tensor offsets, entry points) from the `kiln.abi` attributes that
// kiln-plan-memory recorded.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_CODEGEN_EMIT_H
#define KILN_CODEGEN_EMIT_H

#include "kiln/runtime.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"

#include <memory>
#include <string>
#include <vector>

namespace mlir::kiln {

/// Which machine to generate code for.
struct TargetSelection {
  /// LLVM target triple; empty means the host's.
  std::string triple;
  /// CPU name (e.g. "skylake-avx512"); empty means the host CPU when the
  /// triple is the host's, else "generic".
  std::string cpu;
  /// LLVM optimization level of the IR pipeline and of code generation,
  /// 0-3 (kilnc -O). At 2 the generated loops train as fast as at 3
  /// (bench/results/compile_time.md) while LLVM takes about half the time:
  /// -O3 adds non-trivial loop unswitching, which duplicates loop nests.
  unsigned optLevel = 2;
};

/// Creates the TargetMachine for `target` (PIC, code generation at
/// `target.optLevel`).
/// Errors: an unknown triple or CPU name.
llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
createTargetMachine(const TargetSelection &target);

/// Translates an LLVM-dialect `module` to LLVM IR for `machine` (its triple
/// and data layout). Errors: a module that is not fully in the LLVM dialect.
llvm::Expected<std::unique_ptr<llvm::Module>>
translateToLLVMIR(ModuleOp module, llvm::LLVMContext &context,
                  llvm::TargetMachine &machine);

/// Runs LLVM's default pipeline at the machine's optimization level.
llvm::Error optimizeLLVMModule(llvm::Module &module,
                               llvm::TargetMachine &machine);

/// What emitObjectsInParallel measured (wall seconds).
struct ParallelEmitTimes {
  double split = 0, optimizeAndCodegen = 0;
  /// The partitions made (at most the number of functions with a body)
  /// and the threads that compiled them.
  unsigned partitions = 0, threads = 0;
  /// CPU seconds of each partition's optimization and code generation.
  std::vector<double> partitionCpuSeconds;
};

/// Optimizes `module` and writes it as object files, one per partition, on
/// up to `threads` threads: llvm::SplitModule distributes the functions
/// into 4 partitions per thread (largest first, round robin; internal
/// symbols become hidden globals), each partition travels as bitcode into
/// its own LLVMContext and is optimized and compiled there by its own
/// TargetMachine for `target`; threads take the next partition when done.
/// The partitions' objects together define what the whole module's object
/// would; kiln's functions do not inline into each other (entry points call
/// their parts through noinline calls, parallel chunks through the thread
/// pool), so the code is the same as one partition's. Errors: a target
/// machine that cannot be created, a partition that fails to parse or to
/// compile (named).
llvm::Expected<std::vector<llvm::SmallString<0>>>
emitObjectsInParallel(std::unique_ptr<llvm::Module> module,
                      const TargetSelection &target, unsigned threads,
                      ParallelEmitTimes &times);

/// Writes `module` as an object file (`asObject`) or assembly to `os`.
llvm::Error emitMachineCode(llvm::Module &module, llvm::TargetMachine &machine,
                            bool asObject, llvm::raw_pwrite_stream &os);

/// The ABI name of a tensor element type: "f32", "f64", "i1", "i32",
/// "i64" (other types print as MLIR does).
std::string getDTypeName(Type type);

/// One tensor of the generated interface. Kinds and regions are the C
/// enums of kiln/runtime.h, shared with the driver; their names in the
/// `kiln.abi` attribute, the manifest and the header come from
/// kiln_tensor_kind_name / kiln_region_name.
struct AbiTensor {
  std::string name;        // kiln.param / kiln.name, or argN / outputN
  kiln_tensor_kind_t kind; // param, state, opt_state, input or output
  kiln_region_t region;    // params, opt_state or io
  int64_t offset;          // bytes from the region start
  std::vector<int64_t> shape;
  std::string dtype; // "f32", "f64", "i32", "i64", "i1"
  bool updated;      // an argument the entry point overwrites in place
};

/// The region layout of one entry point (kiln.abi).
struct EntryPointAbi {
  std::string symbol; // C symbol of the entry point
  int64_t alignment;
  int64_t paramsSize, optStateSize, ioSize, scratchSize; // bytes
  int64_t temporariesTotal; // bytes the temporaries would take unshared
  int64_t numTemporaries;
  std::vector<AbiTensor> tensors;
};

/// Reads the `kiln.abi` attribute of every function (func.func or
/// llvm.func) in `module`. Errors: a malformed attribute.
llvm::Expected<std::vector<EntryPointAbi>> collectAbi(ModuleOp module);

/// Writes the C11 header of the interface: region size and alignment macros,
/// per-tensor offset/shape/dtype macros and comments, entry-point
/// prototypes. `prefix` is the C symbol prefix (kilnc --name), `source` the
/// model file named in the banner. Errors: two tensor names of an entry
/// point that map to the same macro name (nothing is written then).
llvm::Error emitHeader(llvm::ArrayRef<EntryPointAbi> entries,
                       llvm::StringRef prefix, llvm::StringRef source,
                       bool declareModel, llvm::raw_ostream &os);

} // namespace mlir::kiln

#endif // KILN_CODEGEN_EMIT_H
