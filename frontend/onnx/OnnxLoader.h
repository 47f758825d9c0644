//===- OnnxLoader.h - reading a model with the ONNX library -----*- C++ -*-===//
//
// The only place kiln calls the ONNX library (which throws C++ exceptions):
// OnnxLoader.cpp is built with -fexceptions and turns every exception into
// an error message. The importer (built without exceptions) only reads the
// protobuf fields of the loaded model.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_FRONTEND_ONNX_ONNXLOADER_H
#define KILN_FRONTEND_ONNX_ONNXLOADER_H

#include "onnx/onnx_pb.h"

#include <string>

namespace mlir::kiln::onnx_import {

/// Parses the ModelProto in `path`, loads external tensor data (files
/// relative to the model's directory, honoring `offset` and `length`), runs
/// onnx::checker::check_model and strict onnx::shape_inference::InferShapes.
/// On failure returns false with a message in `error` (without the file
/// name, which the caller adds).
bool loadModel(const std::string &path, onnx::ModelProto &model,
               std::string &error);

} // namespace mlir::kiln::onnx_import

#endif // KILN_FRONTEND_ONNX_ONNXLOADER_H
