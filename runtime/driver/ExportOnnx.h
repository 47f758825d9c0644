//===- ExportOnnx.h - the ONNX file of `prog export` ------------*- C++ -*-===//
//
// kilnc stores in every model the ONNX form of its inference graph without
// the parameters (a serialized onnx.ModelProto in initial_values, described
// by the manifest's export.onnx; frontend/onnx/OnnxExporter.h), or the list
// of ops that have none. `prog export --output model.onnx` completes it with
// the session's parameters as initializers. The driver does not link
// protobuf or ONNX: it writes the few wire-format fields itself.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_DRIVER_EXPORTONNX_H
#define KILN_DRIVER_EXPORTONNX_H

#include "Session.h"

#include "kiln/model.h"

#include <string>

namespace kiln::driver {

/// The bytes of a complete ONNX model: the stored graph followed by a
/// second ModelProto holding only graph.initializer, one TensorProto per
/// parameter the graph reads (name, dims, data_type, raw_data: the values in
/// `session`'s params region). Protobuf parsers merge concatenated messages
/// field by field (a repeated field appends), so the file parses as one
/// ModelProto. Throws std::runtime_error: the model has no ONNX form (the
/// message lists every op and why, from the manifest), a malformed
/// export.onnx entry, or an initializer that is no parameter.
std::string onnxModelBytes(const kiln_model_t *model, const Session &session);

/// Appends the protobuf varint of `value` (base 128, low groups first).
void appendVarint(std::string &out, uint64_t value);

} // namespace kiln::driver

#endif // KILN_DRIVER_EXPORTONNX_H
