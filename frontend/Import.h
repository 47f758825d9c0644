//===- Import.h - model importers -------------------------------*- C++ -*-===//
//
// Entry points of the frontends: each reads a model file and builds a kiln
// module in the forward form (docs/architecture.md, "The forward form"):
// `func.func @forward(params {kiln.param, kiln.trainable, kiln.init or
// kiln.initializer}..., inputs {kiln.name}...) -> outputs`. Errors are
// reported through the context's diagnostic handler, naming the file and
// the node / layer, and give a null module; every unsupported op or layer is
// listed in one report.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_FRONTEND_IMPORT_H
#define KILN_FRONTEND_IMPORT_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/JSON.h"

#include <cstdint>
#include <optional>

namespace mlir::kiln {

/// Options shared by the importers.
struct ImportOptions {
  /// Overrides the leading (batch) dimension of every model input.
  std::optional<int64_t> batchSize;
  /// Keras inputs: the length of a variable-length time axis (the first
  /// axis after the batch, `shape=(None, ...)`), kilnc --sequence-length.
  std::optional<int64_t> sequenceLength;
  /// Keras files: ignore the stored weights (a `.keras` archive's
  /// model.weights.h5, a Keras 2 `.h5` file's model_weights) and start from
  /// the initializers (kilnc --no-weights).
  bool noWeights = false;
  /// Keras files: ignore the stored optimizer state (`optimizer/vars`, Keras
  /// 2 `optimizer_weights`) but keep the weights (kilnc
  /// --no-optimizer-state).
  bool noOptimizerState = false;
};

/// Imports an ONNX model (.onnx) with the ONNX library (frontend/onnx).
OwningOpRef<ModuleOp> importOnnxModel(llvm::StringRef path,
                                      MLIRContext *context,
                                      const ImportOptions &options);

/// The ONNX op types (default domain) importOnnxModel supports, sorted
/// (`kilnc --list-onnx-ops`).
llvm::ArrayRef<llvm::StringLiteral> getSupportedOnnxOps();

/// Imports a Keras model config (model.to_json() output, a .keras
/// archive's config.json, or a Keras 2 .h5 file's model_config attribute)
/// (frontend/keras). The stored weights of a .keras archive
/// (model.weights.h5) or a Keras 2 .h5 file become the parameters' initial
/// values (`kiln.init`) unless `options.noWeights`; a stored variable that
/// is missing, extra or of another shape is one error naming its path and
/// both shapes, and the import fails. Every Keras model records its
/// parameters' Keras 3 variable paths (`kiln.keras_variables`). A stored
/// optimizer state (Keras 3 `optimizer/vars`, Keras 2 `optimizer_weights`)
/// is recorded as `kiln.keras_optimizer_state` unless
/// `options.noOptimizerState` (or noWeights); kiln-attach-optimizer maps it
/// to the slots (docs/spec.md, "Keras weights files").
OwningOpRef<ModuleOp> importKerasModel(llvm::StringRef path,
                                       MLIRContext *context,
                                       const ImportOptions &options);

/// Imports a Keras model config that is already parsed (the C++ builder
/// makes one in memory); `sourceName` names it in locations and messages
/// and must outlive the call. Errors as importKerasModel.
OwningOpRef<ModuleOp> importKerasConfig(const llvm::json::Value &config,
                                        llvm::StringRef sourceName,
                                        MLIRContext *context,
                                        const ImportOptions &options);

} // namespace mlir::kiln

#endif // KILN_FRONTEND_IMPORT_H
