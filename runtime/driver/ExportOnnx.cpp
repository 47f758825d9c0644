//===- ExportOnnx.cpp - the ONNX file of `prog export` --------------------===//
//
// Protobuf wire format (https://protobuf.dev/programming-guides/encoding/):
// a field is its key varint((number << 3) | wire type) then its value;
// wire type 0 is a varint, 2 a length-delimited value (varint length, then
// the bytes). The field numbers are those of onnx/onnx.proto (ONNX 1.12,
// proto2):
//
//   ModelProto   graph = 7        (GraphProto, length-delimited)
//   GraphProto   initializer = 5  (repeated TensorProto, length-delimited)
//   TensorProto  dims = 1         (repeated int64, varint, unpacked)
//                data_type = 2    (int32, varint: FLOAT 1, INT32 6,
//                                  INT64 7, BOOL 9, DOUBLE 11)
//                name = 8         (string)
//                raw_data = 9     (bytes, little-endian elements)
//
//===----------------------------------------------------------------------===//

#include "ExportOnnx.h"

#include <nlohmann/json.hpp>

#include <stdexcept>

using nlohmann::json;
using namespace kiln::driver;

namespace {
[[noreturn]] void fail(const std::string &message) {
  throw std::runtime_error(message);
}

void appendKey(std::string &out, uint32_t field, uint32_t wireType) {
  appendVarint(out, (uint64_t(field) << 3) | wireType);
}
void appendBytes(std::string &out, uint32_t field, const char *data,
                 size_t size) {
  appendKey(out, field, 2);
  appendVarint(out, size);
  out.append(data, size);
}

int dataType(const std::string &dtype) {
  if (dtype == "f32")
    return 1;
  if (dtype == "i32")
    return 6;
  if (dtype == "i64")
    return 7;
  if (dtype == "i1")
    return 9;
  if (dtype == "f64")
    return 11;
  fail("no ONNX data type for dtype '" + dtype + "'");
}
} // namespace

void kiln::driver::appendVarint(std::string &out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

std::string kiln::driver::onnxModelBytes(const kiln_model_t *model,
                                         const Session &session) {
  json root = json::parse(model->manifest, nullptr, false);
  const json *onnx = nullptr;
  if (root.is_object() && root.contains("export") &&
      root.at("export").is_object() && root.at("export").contains("onnx"))
    onnx = &root.at("export").at("onnx");
  if (!onnx || !onnx->is_object())
    fail("the model has no ONNX form (compiled by a kilnc without ONNX "
         "export)");
  if (onnx->contains("unavailable")) {
    std::string message = "the model cannot be exported to ONNX:";
    for (const json &problem : onnx->at("unavailable"))
      message += "\n  " + (problem.is_string() ? problem.get<std::string>()
                                               : problem.dump());
    fail(message);
  }
  auto number = [&](const char *key) {
    if (!onnx->contains(key) || !onnx->at(key).is_number_unsigned())
      fail(std::string("malformed model manifest: export.onnx.") + key +
           " is not a non-negative integer");
    return onnx->at(key).get<uint64_t>();
  };
  uint64_t offset = number("offset"), size = number("size");
  if (!model->initial_values || offset > model->initial_values_size ||
      size > model->initial_values_size - offset)
    fail("malformed model manifest: export.onnx lies outside initial_values");
  if (!onnx->contains("initializers") || !onnx->at("initializers").is_array())
    fail("malformed model manifest: export.onnx.initializers is not a list");

  // Parameters and state (BatchNorm's moving statistics) alike live in the
  // params region, laid out as the training step (else predict) has it.
  const std::vector<char> params = session.paramsSnapshot();
  const Manifest &m = session.manifest();
  const EntryInfo &layout = m.trainStep ? *m.trainStep : m.predict;
  std::string graph; // GraphProto with only initializers
  for (const json &entry : onnx->at("initializers")) {
    if (!entry.is_string())
      fail("malformed model manifest: export.onnx.initializers holds a "
           "non-string");
    const std::string name = entry.get<std::string>();
    const TensorInfo *info = layout.findIn(KILN_REGION_PARAMS, name);
    if (!info || info->offset + info->bytes() > params.size())
      fail("malformed model manifest: export.onnx.initializers names '" + name +
           "', which is no parameter");
    const char *data = params.data() + info->offset;
    std::string tensor;
    for (int64_t d : info->shape) {
      appendKey(tensor, 1, 0);
      appendVarint(tensor, static_cast<uint64_t>(d));
    }
    appendKey(tensor, 2, 0);
    appendVarint(tensor, static_cast<uint64_t>(dataType(info->dtype)));
    appendBytes(tensor, 8, name.data(), name.size());
    appendBytes(tensor, 9, data, info->bytes());
    appendBytes(graph, 5, tensor.data(), tensor.size());
  }
  std::string out(static_cast<const char *>(model->initial_values) + offset,
                  size);
  appendBytes(out, 7, graph.data(), graph.size());
  // Protobuf refuses messages of 2 GiB or more.
  if (out.size() >= (uint64_t(1) << 31))
    fail("the ONNX model would have " + std::to_string(out.size()) +
         " bytes; protobuf reads at most 2 GiB (external data is not "
         "written)");
  return out;
}
