//===- import_fuzzer.cpp - kilnc's model readers
//---------------------------===//
//
// One source, four harnesses: the bytes are written to a model file with
// the extension KILN_FUZZ_EXTENSION (".onnx", ".json", ".keras" or ".mlir")
// and read through the entry point kilnc uses, Compiler::importFile (the
// ONNX or Keras importer, or the forward-form IR parser, then the forward
// form's verifier and the --max-ops cap), followed by the next steps kilnc
// takes on every model: collectModelInfo and trainingConfig. keras-h5 also
// takes the HDF5 child's snapshot stream (fuzzSnapshot below). Diagnostics go
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

#ifdef KILN_FUZZ_H5_SNAPSHOT
#include "frontend/keras/H5Snapshot.h"
#include "frontend/keras/KerasWeights.h"

/// keras-h5 only: an input that starts with the snapshot magic is a
/// snapshot stream, the HDF5 child's output (frontend/keras/H5Snapshot.h),
/// which the parent must check as untrusted bytes. The .h5 inputs go to a
/// child process (coverage of the parent side only); this mode fuzzes the
/// parent's parser in process, and then asks the parsed file every
/// question the importer can ask.
static void fuzzSnapshot(const uint8_t *data, size_t size) {
  namespace k = mlir::kiln::keras;
  auto file = k::H5File::parseSnapshot(
      std::string(reinterpret_cast<const char *>(data), size), "fuzz.h5");
  if (!file) {
    llvm::consumeError(file.takeError());
    return;
  }
  for (const char *root :
       {"", "model_weights", "layers", "_layer_checkpoint_dependencies"}) {
    (void)(*file)->exists(root);
    for (const char *attribute :
         {"model_config", "training_config", "layer_names", "weight_names"})
      if (auto strings = (*file)->stringAttribute(root, attribute); !strings)
        llvm::consumeError(strings.takeError());
    auto all = (*file)->datasets(root);
    if (!all) {
      llvm::consumeError(all.takeError());
      continue;
    }
    for (const std::string &path : *all) {
      auto shape = (*file)->floatShape(path);
      if (!shape) {
        llvm::consumeError(shape.takeError());
        continue;
      }
      uint64_t elements = 1;
      for (int64_t d : *shape)
        elements = d && elements > (uint64_t(1) << 24) / uint64_t(d)
                       ? (uint64_t(1) << 25)
                       : elements * uint64_t(d);
      if (elements > (uint64_t(1) << 24))
        continue; // the stream is shorter than that; not worth allocating
      for (bool f64 : {false, true}) {
        std::vector<char> out(elements * (f64 ? 8 : 4));
        if (llvm::Error e =
                (*file)->readFloats(path, f64, out.data(), out.size()))
          llvm::consumeError(std::move(e));
      }
    }
  }
}
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
#ifdef KILN_FUZZ_H5_SNAPSHOT
  if (llvm::StringRef(reinterpret_cast<const char *>(data), size)
          .starts_with(mlir::kiln::keras::snapshot::kMagic)) {
    fuzzSnapshot(data, size);
    return 0;
  }
#endif
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
