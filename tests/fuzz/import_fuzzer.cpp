//===- import_fuzzer.cpp - kilnc's model readers
//---------------------------===//
//
// One source, four harnesses: the bytes are written to a model file with
// the extension KILN_FUZZ_EXTENSION (".onnx", ".json", ".keras" or ".mlir")
// and read through the entry point kilnc uses, Compiler::importFile (the
// ONNX or Keras importer, or the forward-form IR parser, then the forward
// form's verifier and the --max-ops cap), followed by the next steps kilnc
// takes on every model: collectModelInfo and trainingConfig. Diagnostics go
// through a SourceMgr handler into a null stream, as kilnc's would go to
// stderr. Each input gets a fresh MLIRContext (same dialects as kilnc).
//
//===----------------------------------------------------------------------===//

#include "FuzzUtil.h"
#include "codegen/Pipelines.h"
#include "compiler/Compile.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#ifndef KILN_FUZZ_EXTENSION
#error "KILN_FUZZ_EXTENSION must name the model file's extension"
#endif

using namespace mlir;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static DialectRegistry *registry = [] {
    auto *r = new DialectRegistry;
    mlir::kiln::registerCodegenDialects(*r);
    return r;
  }();
  std::string path = kiln_fuzz::writeScratchFile(
      std::string("model") + KILN_FUZZ_EXTENSION, data, size);

  MLIRContext context(*registry);
  context.loadAllAvailableDialects();
  context.printOpOnDiagnostic(false);
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(
          llvm::StringRef(reinterpret_cast<const char *>(data), size), path),
      llvm::SMLoc());
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context, llvm::nulls());

  mlir::kiln::CompileOptions options;
  options.name = "model";
  options.source = std::string("model") + KILN_FUZZ_EXTENSION;
  mlir::kiln::Compiler compiler(context, options);
  OwningOpRef<ModuleOp> module = compiler.importFile(path, sourceMgr);
  if (!module)
    return 0;
  if (llvm::Error err = compiler.collectModelInfo(*module))
    llvm::consumeError(std::move(err));
  (void)compiler.trainingConfig(*module);
  return 0;
}
