//===- OnnxLoader.cpp - reading an ONNX model with the ONNX library -------===//
//
// Built with -fexceptions (frontend/onnx/CMakeLists.txt): every call into
// the ONNX and protobuf libraries is wrapped in a try block that catches
// std::exception, so a malformed model gives an error message, never a
// crash.
//
//===----------------------------------------------------------------------===//

#include "frontend/onnx/OnnxLoader.h"

#include "llvm/ADT/StringExtras.h"

#include "onnx/checker.h"
#include "onnx/shape_inference/implementation.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

namespace mlir::kiln::onnx_import {
namespace {

std::string directoryOf(const std::string &path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos)
    return ".";
  return slash == 0 ? std::string("/") : path.substr(0, slash);
}

bool readFile(const std::string &path, std::string &bytes, std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open the file";
    return false;
  }
  bytes.assign(std::istreambuf_iterator<char>(in),
               std::istreambuf_iterator<char>());
  if (in.bad()) {
    error = "cannot read the file";
    return false;
  }
  return true;
}

/// Replaces the external data of one tensor by raw_data read from
/// `location` (relative to the model directory) at `offset`, `length` bytes
/// (default: to the end of the file).
bool loadExternalData(onnx::TensorProto &tensor, const std::string &dir,
                      std::string &error) {
  std::string location;
  uint64_t offset = 0;
  bool hasLength = false;
  uint64_t length = 0;
  for (const onnx::StringStringEntryProto &entry : tensor.external_data()) {
    const std::string &key = entry.key();
    if (key == "location") {
      location = entry.value();
    } else if (key == "offset" || key == "length") {
      char *end = nullptr;
      unsigned long long v = std::strtoull(entry.value().c_str(), &end, 10);
      if (entry.value().empty() || *end != '\0') {
        error = "tensor '" + tensor.name() + "': invalid external data " + key +
                " '" + entry.value() + "'";
        return false;
      }
      if (key == "offset") {
        offset = v;
      } else {
        hasLength = true;
        length = v;
      }
    }
  }
  if (location.empty()) {
    error = "tensor '" + tensor.name() + "': external data without location";
    return false;
  }
  if (location[0] == '/' || location.find("..") != std::string::npos) {
    error = "tensor '" + tensor.name() + "': external data location '" +
            location + "' must be a relative path inside the model directory";
    return false;
  }
  std::string file = dir.back() == '/' ? dir + location : dir + "/" + location;
  std::ifstream in(file, std::ios::binary | std::ios::ate);
  if (!in) {
    error = "tensor '" + tensor.name() + "': cannot open external data file '" +
            file + "'";
    return false;
  }
  uint64_t size = static_cast<uint64_t>(in.tellg());
  if (offset > size || (hasLength && length > size - offset)) {
    error = "tensor '" + tensor.name() + "': external data (offset " +
            std::to_string(offset) + ", length " +
            (hasLength ? std::to_string(length) : std::string("rest")) +
            ") is beyond the end of '" + file + "' (" + std::to_string(size) +
            " bytes)";
    return false;
  }
  if (!hasLength)
    length = size - offset;
  std::string bytes(length, '\0');
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(bytes.data(), static_cast<std::streamsize>(length));
  if (!in) {
    error = "tensor '" + tensor.name() + "': cannot read external data from '" +
            file + "'";
    return false;
  }
  tensor.set_raw_data(std::move(bytes));
  tensor.clear_external_data();
  tensor.set_data_location(onnx::TensorProto::DEFAULT);
  return true;
}

bool loadGraphExternalData(onnx::GraphProto &graph, const std::string &dir,
                           std::string &error) {
  for (onnx::TensorProto &tensor : *graph.mutable_initializer())
    if (tensor.data_location() == onnx::TensorProto::EXTERNAL &&
        !loadExternalData(tensor, dir, error))
      return false;
  for (onnx::NodeProto &node : *graph.mutable_node())
    for (onnx::AttributeProto &attr : *node.mutable_attribute()) {
      if (attr.has_t() &&
          attr.t().data_location() == onnx::TensorProto::EXTERNAL &&
          !loadExternalData(*attr.mutable_t(), dir, error))
        return false;
      if (attr.has_g() && !loadGraphExternalData(*attr.mutable_g(), dir, error))
        return false;
    }
  return true;
}

/// libonnx's shape inference of the windowed ops divides by the strides
/// and the dilations (a stride of 0 is a SIGFPE inside
/// onnx::convPoolShapeInference): every node of those ops must have
/// positive strides, dilations and kernel sizes before the library sees the
/// graph. Appends one line per offending attribute to `problems`.
void checkWindowAttributes(const onnx::GraphProto &graph,
                           std::vector<std::string> &problems) {
  static const char *const windowed[] = {
      "Conv",        "ConvTranspose", "ConvInteger", "QLinearConv", "MaxPool",
      "AveragePool", "LpPool",        "MaxUnpool",   "MaxRoiPool"};
  for (const onnx::NodeProto &node : graph.node()) {
    for (const onnx::AttributeProto &attr : node.attribute())
      if (attr.has_g())
        checkWindowAttributes(attr.g(), problems);
    if (!node.domain().empty() && node.domain() != "ai.onnx")
      continue;
    if (std::find(std::begin(windowed), std::end(windowed), node.op_type()) ==
        std::end(windowed))
      continue;
    for (const onnx::AttributeProto &attr : node.attribute()) {
      const std::string &name = attr.name();
      if (name != "strides" && name != "dilations" && name != "kernel_shape")
        continue;
      std::string values;
      bool bad = false;
      for (int64_t v : attr.ints()) {
        values += (values.empty() ? "" : ", ") + std::to_string(v);
        bad |= v < 1;
      }
      if (bad)
        problems.push_back("node '" + node.name() + "' (" + node.op_type() +
                           "): " + name + " [" + values +
                           "]: every entry must be >= 1");
    }
  }
}

} // namespace

bool loadModel(const std::string &path, onnx::ModelProto &model,
               std::string &error) {
  std::string bytes;
  if (!readFile(path, bytes, error))
    return false;
  try {
    if (bytes.size() > static_cast<size_t>(INT32_MAX) ||
        !model.ParseFromString(bytes)) {
      error = "not a valid ONNX model (the protobuf ModelProto cannot be "
              "parsed; truncated or not an ONNX file?)";
      return false;
    }
    if (!model.has_graph() || model.ir_version() <= 0) {
      error = "not a valid ONNX model (no ir_version or no graph; not an "
              "ONNX file?)";
      return false;
    }
    if (!loadGraphExternalData(*model.mutable_graph(), directoryOf(path),
                               error))
      return false;
  } catch (const std::exception &e) {
    error = std::string("cannot read the model: ") + e.what();
    return false;
  }
  std::vector<std::string> problems;
  checkWindowAttributes(model.graph(), problems);
  if (!problems.empty()) {
    error = "invalid window attributes: " + llvm::join(problems, "; ");
    return false;
  }
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception &e) {
    error = std::string("invalid ONNX model: ") + e.what();
    return false;
  }
  try {
    onnx::ShapeInferenceOptions options(/*check_type=*/true,
                                        /*strict_mode=*/1,
                                        /*data_prop=*/false);
    onnx::shape_inference::InferShapes(
        model, onnx::OpSchemaRegistry::Instance(), options);
  } catch (const std::exception &e) {
    error = std::string("shape inference failed: ") + e.what();
    return false;
  }
  return true;
}

} // namespace mlir::kiln::onnx_import
