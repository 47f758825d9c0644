//===- OnnxImporter.cpp - ONNX model import -------------------------------===//
//
// Not written yet (frontends issue): reports that ONNX import is missing.
//
//===----------------------------------------------------------------------===//

#include "frontend/Import.h"

#include "mlir/IR/Diagnostics.h"

using namespace mlir;

OwningOpRef<ModuleOp> kiln::importOnnxModel(llvm::StringRef path,
                                            MLIRContext *context,
                                            const ImportOptions &) {
  emitError(FileLineColLoc::get(context, path, 0, 0))
      << "ONNX import is not implemented yet";
  return nullptr;
}
