//===- OnnxLoader.cpp - reading an ONNX model with the ONNX library -------===//
//
// Built with -fexceptions (frontend/onnx/CMakeLists.txt): every call into
// the ONNX and protobuf libraries is wrapped in a try block that catches
// std::exception, so a malformed model gives an error message, never a
// crash.
//
//===----------------------------------------------------------------------===//

#include "frontend/onnx/OnnxLoader.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/Path.h"

#include "onnx/checker.h"
#include "onnx/shape_inference/implementation.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <exception>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string_view>
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

/// At most this many characters of a name from the model go into a message
/// (a hostile model may have megabyte names).
constexpr size_t kMaxQuotedName = 200;

std::string quoted(const std::string &name) {
  if (name.size() <= kMaxQuotedName)
    return "'" + name + "'";
  return "'" + name.substr(0, kMaxQuotedName) + "...' (" +
         std::to_string(name.size()) + " characters)";
}

/// What a file system entry is, for messages.
const char *fileKind(llvm::sys::fs::file_type type) {
  using llvm::sys::fs::file_type;
  switch (type) {
  case file_type::directory_file:
    return "a directory";
  case file_type::fifo_file:
    return "a FIFO";
  case file_type::socket_file:
    return "a socket";
  case file_type::block_file:
  case file_type::character_file:
    return "a device";
  default:
    return "not a regular file";
  }
}

/// Replaces the external data of one tensor by raw_data read from
/// `location` (relative to the model directory) at `offset`, `length` bytes
/// (default: to the end of the file). As the ONNX checker requires, the
/// location must name a regular file inside the model's folder: an
/// absolute path, a `..` component, a symbolic link that resolves outside
/// the folder, a directory (whose size reads as 2^63 - 1), a FIFO (which
/// would block) or a device is refused before the file is opened.
bool loadExternalData(onnx::TensorProto &tensor, const std::string &dir,
                      std::string &error) {
  std::string location;
  uint64_t offset = 0;
  bool hasLength = false;
  uint64_t length = 0;
  std::string what = "tensor " + quoted(tensor.name());
  for (const onnx::StringStringEntryProto &entry : tensor.external_data()) {
    const std::string &key = entry.key();
    if (key == "location") {
      location = entry.value();
    } else if (key == "offset" || key == "length") {
      char *end = nullptr;
      errno = 0;
      unsigned long long v = std::strtoull(entry.value().c_str(), &end, 10);
      if (entry.value().empty() || *end != '\0' || errno == ERANGE ||
          entry.value()[0] == '-') {
        error = what + ": invalid external data " + key + " " +
                quoted(entry.value());
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
    error = what + ": external data without location";
    return false;
  }
  bool parent = false;
  for (llvm::StringRef component : llvm::make_range(
           llvm::sys::path::begin(location), llvm::sys::path::end(location)))
    parent |= component == "..";
  if (llvm::sys::path::is_absolute(location) || parent ||
      location.find('\0') != std::string::npos) {
    error = what + ": external data location " + quoted(location) +
            " must be a relative path inside the model directory";
    return false;
  }
  llvm::SmallString<256> file(dir);
  llvm::sys::path::append(file, location);
  std::string place = what + ": external data location " + quoted(location);
  // The entry's type (following symbolic links) before anything opens it.
  llvm::sys::fs::file_status status;
  if (std::error_code ec = llvm::sys::fs::status(file, status)) {
    error = place + ": cannot open '" + file.str().str() + "': " + ec.message();
    return false;
  }
  if (status.type() != llvm::sys::fs::file_type::regular_file) {
    error = place + " is " + fileKind(status.type()) +
            "; external data must be a regular file";
    return false;
  }
  // Symbolic links may point anywhere: the resolved file must be inside
  // the resolved model directory.
  llvm::SmallString<256> realDir, realFile;
  if (std::error_code ec = llvm::sys::fs::real_path(dir, realDir)) {
    error = place + ": cannot resolve the model directory '" + dir +
            "': " + ec.message();
    return false;
  }
  if (std::error_code ec = llvm::sys::fs::real_path(file, realFile)) {
    error =
        place + ": cannot resolve '" + file.str().str() + "': " + ec.message();
    return false;
  }
  llvm::SmallString<256> prefix(realDir);
  if (!prefix.ends_with("/"))
    prefix += "/";
  if (!realFile.str().starts_with(prefix)) {
    error = place + " resolves to '" + realFile.str().str() +
            "', outside the model directory '" + realDir.str().str() + "'";
    return false;
  }
  llvm::Expected<llvm::sys::fs::file_t> fd =
      llvm::sys::fs::openNativeFileForRead(realFile);
  if (!fd) {
    error = place + ": cannot open '" + realFile.str().str() +
            "': " + llvm::toString(fd.takeError());
    return false;
  }
  auto closeFd = llvm::make_scope_exit([&] { llvm::sys::fs::closeFile(*fd); });
  // The file opened must be the one checked (not replaced in between).
  llvm::sys::fs::file_status opened;
  if (llvm::sys::fs::status(*fd, opened) ||
      opened.type() != llvm::sys::fs::file_type::regular_file ||
      opened.getUniqueID() != status.getUniqueID()) {
    error =
        place + ": '" + realFile.str().str() + "' changed while it was opened";
    return false;
  }
  uint64_t size = opened.getSize();
  if (offset > size || (hasLength && length > size - offset)) {
    error = what + ": external data (offset " + std::to_string(offset) +
            ", length " +
            (hasLength ? std::to_string(length) : std::string("rest")) +
            ") is beyond the end of '" + file.str().str() + "' (" +
            std::to_string(size) + " bytes)";
    return false;
  }
  if (!hasLength)
    length = size - offset;
  std::string bytes(length, '\0');
  size_t done = 0;
  while (done < length) {
    llvm::Expected<size_t> n = llvm::sys::fs::readNativeFileSlice(
        *fd,
        llvm::MutableArrayRef<char>(bytes.data() + done,
                                    std::min<uint64_t>(length - done, 1 << 30)),
        offset + done);
    if (!n || *n == 0) {
      error = place + ": cannot read '" + file.str().str() + "'" +
              (n ? std::string(": the file is shorter than its size")
                 : ": " + llvm::toString(n.takeError()));
      return false;
    }
    done += *n;
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

/// Where a tensor sits in the model, for messages: "initializer 'w'",
/// "attribute 'value' of node 'c'".
using Place = std::string;

/// Bytes per element of `type` in raw_data; 0 for STRING (no raw form) and
/// for types that are not ONNX 1.12 data types.
uint64_t rawElementSize(int32_t type) {
  switch (type) {
  case onnx::TensorProto::UINT8:
  case onnx::TensorProto::INT8:
  case onnx::TensorProto::BOOL:
    return 1;
  case onnx::TensorProto::UINT16:
  case onnx::TensorProto::INT16:
  case onnx::TensorProto::FLOAT16:
  case onnx::TensorProto::BFLOAT16:
    return 2;
  case onnx::TensorProto::FLOAT:
  case onnx::TensorProto::INT32:
  case onnx::TensorProto::UINT32:
    return 4;
  case onnx::TensorProto::DOUBLE:
  case onnx::TensorProto::INT64:
  case onnx::TensorProto::UINT64:
  case onnx::TensorProto::COMPLEX64:
    return 8;
  case onnx::TensorProto::COMPLEX128:
    return 16;
  default:
    return 0;
  }
}

/// The typed field that holds a tensor's values when it has no raw_data
/// (onnx.proto3's TensorProto comments), and how many entries of that
/// field one element takes.
struct TypedField {
  const char *name;
  int entriesPerElement;
};

std::optional<TypedField> typedFieldOf(int32_t type) {
  switch (type) {
  case onnx::TensorProto::FLOAT:
    return TypedField{"float_data", 1};
  case onnx::TensorProto::COMPLEX64:
    return TypedField{"float_data", 2};
  case onnx::TensorProto::UINT8:
  case onnx::TensorProto::INT8:
  case onnx::TensorProto::UINT16:
  case onnx::TensorProto::INT16:
  case onnx::TensorProto::INT32:
  case onnx::TensorProto::BOOL:
  case onnx::TensorProto::FLOAT16:
  case onnx::TensorProto::BFLOAT16:
    return TypedField{"int32_data", 1};
  case onnx::TensorProto::INT64:
    return TypedField{"int64_data", 1};
  case onnx::TensorProto::STRING:
    return TypedField{"string_data", 1};
  case onnx::TensorProto::DOUBLE:
    return TypedField{"double_data", 1};
  case onnx::TensorProto::COMPLEX128:
    return TypedField{"double_data", 2};
  case onnx::TensorProto::UINT32:
  case onnx::TensorProto::UINT64:
    return TypedField{"uint64_data", 1};
  default:
    return std::nullopt;
  }
}

/// Checks that a tensor's stored values match its dims and data type:
/// raw_data of exactly (product of dims) x (element size) bytes, or the one
/// typed field of its type with exactly that many entries. libonnx trusts
/// both (its shape inference read an INT64 initializer with 4 bytes of
/// raw_data past the end: SIGSEGV), so this runs before any library call.
/// Appends one line per problem to `problems`.
void checkTensor(const onnx::TensorProto &tensor, const Place &place,
                 std::vector<std::string> &problems) {
  auto problem = [&](const std::string &what) {
    problems.push_back(place + ": " + what);
  };
  if (tensor.data_location() == onnx::TensorProto::EXTERNAL) {
    // Graph initializers and node attributes had their external data read
    // before this check; kiln reads no other external tensor.
    problem("external data is only supported for graph initializers and "
            "node attributes");
    return;
  }
  int32_t type = tensor.data_type();
  std::optional<TypedField> field = typedFieldOf(type);
  if (!field) {
    problem("data_type " + std::to_string(type) + " is not an ONNX data type");
    return;
  }
  std::string typeName = onnx::TensorProto::DataType_Name(
      static_cast<onnx::TensorProto::DataType>(type));
  // Element count, with overflow and negative dimensions caught.
  uint64_t count = 1;
  bool tooLarge = false;
  std::string dims;
  for (int64_t d : tensor.dims()) {
    dims += (dims.empty() ? "" : ", ") + std::to_string(d);
    if (d < 0) {
      problem("dimension " + std::to_string(d) + " is negative");
      return;
    }
    bool overflow = false;
    count =
        llvm::SaturatingMultiply(count, static_cast<uint64_t>(d), &overflow);
    tooLarge |= overflow;
  }
  std::string described = typeName + " [" + dims + "]";
  // At most 2^48 elements (as the importer): no such tensor fits in a
  // protobuf, and the byte counts below cannot overflow.
  if (tooLarge || count > (uint64_t(1) << 48)) {
    problem(described + " has too many elements");
    return;
  }
  uint64_t entries = count * field->entriesPerElement;
  uint64_t elementSize = rawElementSize(type);
  uint64_t rawBytes = count * elementSize;
  // Entries in each value field (at most one may be set).
  const std::pair<const char *, int64_t> fields[] = {
      {"float_data", tensor.float_data_size()},
      {"int32_data", tensor.int32_data_size()},
      {"string_data", tensor.string_data_size()},
      {"int64_data", tensor.int64_data_size()},
      {"double_data", tensor.double_data_size()},
      {"uint64_data", tensor.uint64_data_size()}};
  if (tensor.has_raw_data()) {
    if (!elementSize) {
      problem(described + " cannot be stored in raw_data");
      return;
    }
    if (tensor.raw_data().size() != rawBytes) {
      problem(described + " has " + std::to_string(tensor.raw_data().size()) +
              " bytes of raw_data; " + std::to_string(count) + " elements of " +
              std::to_string(elementSize) + " bytes need " +
              std::to_string(rawBytes));
      return;
    }
  } else {
    for (const auto &[name, size] : fields)
      if (std::string_view(name) == field->name &&
          static_cast<uint64_t>(size) != entries) {
        problem(described + " has " + std::to_string(size) + " entries in " +
                name + "; " + std::to_string(count) + " elements need " +
                std::to_string(entries));
        return;
      }
  }
  for (const auto &[name, size] : fields)
    if (size != 0 &&
        (tensor.has_raw_data() || std::string_view(name) != field->name)) {
      problem(described + " also has values in " + name + " (" +
              (tensor.has_raw_data() ? std::string("raw_data")
                                     : std::string(field->name)) +
              " holds them)");
      return;
    }
}

void checkTensors(const onnx::GraphProto &graph,
                  std::vector<std::string> &problems);

void checkNodeTensors(const onnx::NodeProto &node,
                      std::vector<std::string> &problems) {
  for (const onnx::AttributeProto &attr : node.attribute()) {
    Place place =
        "attribute " + quoted(attr.name()) + " of node " + quoted(node.name());
    if (attr.has_t())
      checkTensor(attr.t(), place, problems);
    for (const onnx::TensorProto &t : attr.tensors())
      checkTensor(t, place, problems);
    if (attr.has_sparse_tensor() || attr.sparse_tensors_size())
      problems.push_back(place + ": sparse tensors are not supported");
    if (attr.has_g())
      checkTensors(attr.g(), problems);
    for (const onnx::GraphProto &g : attr.graphs())
      checkTensors(g, problems);
  }
}

void checkTensors(const onnx::GraphProto &graph,
                  std::vector<std::string> &problems) {
  for (const onnx::TensorProto &t : graph.initializer())
    checkTensor(t, "initializer " + quoted(t.name()), problems);
  for (const onnx::SparseTensorProto &t : graph.sparse_initializer())
    problems.push_back("sparse initializer " + quoted(t.values().name()) +
                       ": sparse initializers are not supported");
  for (const onnx::NodeProto &node : graph.node())
    checkNodeTensors(node, problems);
}

/// Every tensor stored in the model: graph and subgraph initializers, node
/// attributes, training-info graphs and model-local functions.
void checkModelTensors(const onnx::ModelProto &model,
                       std::vector<std::string> &problems) {
  checkTensors(model.graph(), problems);
  for (const onnx::TrainingInfoProto &info : model.training_info()) {
    checkTensors(info.initialization(), problems);
    checkTensors(info.algorithm(), problems);
  }
  for (const onnx::FunctionProto &function : model.functions())
    for (const onnx::NodeProto &node : function.node())
      checkNodeTensors(node, problems);
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
  checkModelTensors(model, problems);
  if (!problems.empty()) {
    error = "invalid tensor data: " + llvm::join(problems, "; ");
    return false;
  }
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
