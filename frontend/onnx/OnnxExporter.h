//===- OnnxExporter.h - kiln inference graphs as ONNX models ----*- C++ -*-===//
//
// Translates a forward function in the inference form (kiln-inference-form:
// dropout is the identity, BatchNorm reads its moving statistics) into an
// ONNX ModelProto (opset 17, IR version 8) whose parameters are left out:
// every `kiln.param` argument the graph reads is a tensor of that name that
// the ModelProto does not define. A generated program appends them as
// initializers from its params region (`prog export --output model.onnx`,
// runtime/driver/ExportOnnx.cpp); docs/architecture.md, "ONNX export",
// describes the translation of each op and the weight layouts.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_FRONTEND_ONNX_ONNXEXPORTER_H
#define KILN_FRONTEND_ONNX_ONNXEXPORTER_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringRef.h"

#include <string>
#include <vector>

namespace mlir::kiln {

/// The result of exportOnnxGraph.
struct OnnxGraphExport {
  /// The serialized ModelProto without the parameters' initializers (empty
  /// when `problems` is not).
  std::string model;
  /// The `kiln.param` names the graph reads, in argument order: the
  /// initializers to append, each with its parameter's dtype and shape.
  std::vector<std::string> initializers;
  /// Why the model cannot be exported, one entry per op without an ONNX
  /// form ("'kiln.rnn' at model.json:3:5: a Keras mask ..."), or a graph
  /// the ONNX checker refuses. Empty: exportable.
  std::vector<std::string> problems;
};

/// Translates `forward` (inference form; every argument and result a
/// statically shaped tensor) into an ONNX model named `modelName`. The
/// graph's inputs are the non-param arguments (named by `kiln.name`), its
/// outputs the results (named by `kiln.name`, else `output_<i>`); shapes
/// are static, the batch axis included. The model (with the parameters
/// declared as graph inputs) passes onnx::checker::check_model and strict
/// shape inference, else that failure is a problem.
OnnxGraphExport exportOnnxGraph(func::FuncOp forward,
                                llvm::StringRef modelName);

/// The ONNX opset exportOnnxGraph writes.
constexpr int64_t kOnnxExportOpset = 17;

} // namespace mlir::kiln

#endif // KILN_FRONTEND_ONNX_ONNXEXPORTER_H
