//===- KerasImporter.cpp - Keras model-config import ----------------------===//
//
// Not written yet (frontends issue): reports that Keras import is missing.
//
//===----------------------------------------------------------------------===//

#include "frontend/Import.h"

#include "mlir/IR/Diagnostics.h"

using namespace mlir;

OwningOpRef<ModuleOp> kiln::importKerasModel(llvm::StringRef path,
                                             MLIRContext *context,
                                             const ImportOptions &) {
  emitError(FileLineColLoc::get(context, path, 0, 0))
      << "Keras import is not implemented yet";
  return nullptr;
}
