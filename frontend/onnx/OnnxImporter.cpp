//===- OnnxImporter.cpp - ONNX model import -------------------------------===//
//
// Builds `func.func @forward` in kiln's forward form from an ONNX model read
// (and checked, shape-inferred) by OnnxLoader.cpp. Initializers become
// params (`kiln.param`, `kiln.trainable` for floats, `kiln.init` holding the
// value), other graph inputs arguments named by `kiln.name`, outputs results
// named by `kiln.name`. Every shape is static (a dynamic leading dimension
// takes ImportOptions::batchSize). Numpy-style broadcasting becomes explicit
// kiln.broadcast_in_dim. Supported ops and opsets: docs/architecture.md,
// "ONNX import".
//
//===----------------------------------------------------------------------===//

#include "frontend/Import.h"
#include "frontend/onnx/OnnxLoader.h"

#include "ir/KilnBuilder.h"
#include "ir/KilnDialect.h"
#include "ir/KilnOps.h"
#include "ir/ShapeInference.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

using namespace mlir;
using namespace mlir::kiln;

namespace {

constexpr int64_t kMinOpset = 7;
constexpr int64_t kMaxOpset = 17;

std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (auto [i, d] : llvm::enumerate(shape))
    s += (i ? ", " : "") + std::to_string(d);
  return s + "]";
}

/// ONNX op types the importer supports (default domain), sorted; the one
/// list (kilnc --list-onnx-ops prints it, the conformance runner reads it).
// clang-format off
constexpr llvm::StringLiteral kSupportedOps[] = {
    "Abs",                 "Add",                 "AveragePool",
    "BatchNormalization",  "Cast",                "Clip",
    "Concat",              "Constant",            "ConstantOfShape",
    "Conv",                "ConvTranspose",       "Div",
    "Dropout",             "Elu",                 "Equal",
    "Erf",                 "Exp",                 "Expand",
    "Flatten",             "GRU",                 "Gather",
    "Gemm",                "GlobalAveragePool",   "GlobalMaxPool",
    "Greater",             "GreaterOrEqual",      "HardSigmoid",
    "Identity",            "LSTM",                "LayerNormalization",
    "LeakyRelu",           "Less",                "LessOrEqual",
    "Log",                 "LogSoftmax",          "MatMul",
    "Max",                 "MaxPool",             "Min",
    "Mul",                 "Neg",
    "Pad",                 "Pow",                 "RNN",
    "Range",               "Reciprocal",          "ReduceMax",
    "ReduceMean",          "ReduceSum",           "Relu",
    "Reshape",             "Shape",               "Sigmoid",
    "Size",                "Slice",               "Softmax",
    "Softplus",            "Split",               "Sqrt",
    "Squeeze",             "Sub",                 "Tanh",
    "Transpose",           "Unsqueeze",           "Where"};
// clang-format on

bool isSupportedOp(StringRef op) {
  return llvm::is_contained(kSupportedOps, op);
}

/// True when input `index` of a node must be a constant (read at import
/// time: shapes, axes, bounds) rather than a tensor value.
bool isConstantInput(StringRef op, unsigned index, int64_t opset) {
  if (op == "Reshape")
    return index == 1;
  if (op == "Slice")
    return index >= 1;
  if (op == "Squeeze" || op == "Unsqueeze" || op == "ReduceSum")
    return index == 1 && opset >= 13;
  if (op == "Clip")
    return index >= 1;
  if (op == "Dropout")
    return index >= 1;
  if (op == "Expand")
    return index == 1;
  if (op == "Pad")
    return index >= 1 && opset >= 11;
  if (op == "Split")
    return index == 1 && opset >= 13;
  if (op == "Range" || op == "ConstantOfShape")
    return true;
  return false;
}

class Importer {
public:
  Importer(StringRef path, MLIRContext *context, const ImportOptions &options,
           const onnx::ModelProto &model)
      : path(path), context(context), options(options), model(model),
        graph(model.graph()), builder(context),
        fileLoc(FileLineColLoc::get(context, path, 0, 0)) {}

  OwningOpRef<ModuleOp> run();

private:
  // Diagnostics ------------------------------------------------------------
  InFlightDiagnostic error() { return emitError(fileLoc); }
  InFlightDiagnostic nodeError() {
    InFlightDiagnostic d = emitError(currentLoc);
    d << "node '" << currentNode->name() << "' (" << currentNode->op_type()
      << ", opset " << opset << "): ";
    return d;
  }

  // Types and constants ----------------------------------------------------
  Type elementType(int32_t onnxType);
  FailureOr<RankedTensorType> tensorTypeOf(const onnx::TensorProto &tensor);
  FailureOr<DenseElementsAttr> toElements(const onnx::TensorProto &tensor);
  FailureOr<RankedTensorType> inputType(const onnx::ValueInfoProto &info);

  // Values -----------------------------------------------------------------
  FailureOr<Value> value(const std::string &name);
  FailureOr<DenseElementsAttr> constantInput(unsigned index);
  FailureOr<SmallVector<int64_t>> constantInts(unsigned index);
  FailureOr<std::optional<double>> optionalConstantScalar(unsigned index);
  bool hasInput(unsigned index) {
    return static_cast<int>(index) < currentNode->input_size() &&
           !currentNode->input(index).empty();
  }
  FailureOr<Value> input(unsigned index) {
    if (!hasInput(index)) {
      nodeError() << "missing input " << index;
      return failure();
    }
    return value(currentNode->input(index));
  }
  FailureOr<Value> floatInput(unsigned index);

  // Attributes -------------------------------------------------------------
  const onnx::AttributeProto *attr(StringRef name) {
    for (const onnx::AttributeProto &a : currentNode->attribute())
      if (a.name() == name)
        return &a;
    return nullptr;
  }
  int64_t intAttr(StringRef name, int64_t defaultValue) {
    const onnx::AttributeProto *a = attr(name);
    return a ? a->i() : defaultValue;
  }
  /// A float attribute as the double with the float's shortest decimal
  /// form (0.01f gives 0.01, not 0.009999999776).
  double floatAttr(StringRef name, double defaultValue) {
    const onnx::AttributeProto *a = attr(name);
    if (!a)
      return defaultValue;
    // The fewest significant digits that read back as the same float.
    for (int digits = 1; digits <= 9; ++digits) {
      char text[32];
      std::snprintf(text, sizeof(text), "%.*g", digits,
                    static_cast<double>(a->f()));
      double value = std::strtod(text, nullptr);
      if (static_cast<float>(value) == a->f())
        return value;
    }
    return static_cast<double>(a->f());
  }
  std::optional<SmallVector<int64_t>> intsAttr(StringRef name) {
    const onnx::AttributeProto *a = attr(name);
    if (!a)
      return std::nullopt;
    return SmallVector<int64_t>(a->ints().begin(), a->ints().end());
  }

  // Building ---------------------------------------------------------------
  template <typename OpT>
  Value create(Type type, ValueRange operands,
               ArrayRef<NamedAttribute> attrs = {}) {
    return builder.create<OpT>(currentLoc, TypeRange{type}, operands, attrs)
        .getResult();
  }
  static RankedTensorType typeOf(Value v) {
    return cast<RankedTensorType>(v.getType());
  }
  Value splat(RankedTensorType type, double v);
  Value reshape(Value v, ArrayRef<int64_t> shape);
  Value broadcastTo(Value v, ArrayRef<int64_t> shape);
  FailureOr<SmallVector<int64_t>> broadcastShape(ArrayRef<int64_t> a,
                                                 ArrayRef<int64_t> b);
  FailureOr<int64_t> normalizeAxis(int64_t axis, int64_t rank,
                                   StringRef what = "axis");
  NamedAttribute namedAttr(StringRef name, Attribute a) {
    return builder.getNamedAttr(name, a);
  }

  // Ops --------------------------------------------------------------------
  LogicalResult importNode(const onnx::NodeProto &node);
  LogicalResult checkInferredShapes(const onnx::NodeProto &node);
  LogicalResult setOutput(unsigned index, Value v);
  template <typename OpT> FailureOr<Value> broadcastBinary(Value a, Value b);
  template <typename OpT> LogicalResult binary();
  template <typename OpT> LogicalResult variadic();
  template <typename OpT> LogicalResult unary(ArrayRef<NamedAttribute> a = {});
  LogicalResult gemm();
  LogicalResult matmul();
  LogicalResult pow();
  template <typename OpT> LogicalResult softmax();
  LogicalResult clip();
  LogicalResult flatten();
  LogicalResult reshapeOp();
  LogicalResult transpose();
  LogicalResult concat();
  LogicalResult slice();
  LogicalResult squeeze();
  LogicalResult unsqueeze();
  LogicalResult constant();
  template <typename OpT> LogicalResult reduce();
  LogicalResult castOp();
  LogicalResult gather();
  LogicalResult shapeOp();
  LogicalResult sizeOp();
  LogicalResult expand();
  bool isConstant(const std::string &name) {
    return !name.empty() && constants.count(name) && !values.count(name);
  }
  std::optional<SmallVector<int64_t>> inferredShape(const std::string &name);
  LogicalResult foldShapeArithmetic(bool &folded);
  LogicalResult foldConstantElementwise(bool &folded);
  LogicalResult compare(ComparisonDirection direction);
  LogicalResult where();
  LogicalResult reciprocal();
  LogicalResult split();
  LogicalResult range();
  LogicalResult constantOfShape();
  LogicalResult layerNormalization();
  LogicalResult recurrent(StringRef cell);
  /// Whether a node or a graph output reads the value `name`.
  bool isConsumed(const std::string &name) {
    return llvm::any_of(graph.node(),
                        [&](const onnx::NodeProto &other) {
                          return llvm::is_contained(other.input(), name);
                        }) ||
           llvm::any_of(graph.output(),
                        [&](const auto &out) { return out.name() == name; });
  }
  LogicalResult dropout();

  // Convolution, pooling, normalization (ONNX NCHW, kiln channels-last) ----
  /// The spatial window of a Conv/ConvTranspose/pooling node, one entry per
  /// spatial axis, with auto_pad resolved.
  struct Window {
    SmallVector<int64_t> kernel, strides, dilations, padLow, padHigh;
  };
  std::optional<std::string> stringAttr(StringRef name) {
    const onnx::AttributeProto *a = attr(name);
    if (!a)
      return std::nullopt;
    return a->s();
  }
  FailureOr<SmallVector<int64_t>> spatialInts(StringRef name, int64_t d,
                                              int64_t defaultValue);
  LogicalResult readWindow(ArrayRef<int64_t> spatial, ArrayRef<int64_t> kernel,
                           bool allowDilations, Window &w);
  FailureOr<Value> spatialInput(unsigned index);
  Value transposeValue(Value v, ArrayRef<int64_t> perm);
  Value toChannelsLast(Value v);
  Value toChannelsFirst(Value v);
  FailureOr<Value> channelsLastFilter(unsigned index, int64_t rank);
  FailureOr<Value> addChannelBias(Value y, unsigned index);
  /// What Conv and ConvTranspose read first (convOperands).
  struct ConvOperands {
    Value input;
    Value filter;
    SmallVector<int64_t> kernel;
  };
  FailureOr<ConvOperands> convOperands();
  LogicalResult conv();
  LogicalResult convTranspose();
  template <typename OpT> LogicalResult pool();
  template <typename OpT> LogicalResult globalPool();
  LogicalResult batchNorm();
  LogicalResult padOp();
  LogicalResult placeholderOutputs(const onnx::NodeProto &node);

  StringRef path;
  MLIRContext *context;
  const ImportOptions &options;
  const onnx::ModelProto &model;
  const onnx::GraphProto &graph;
  OpBuilder builder;
  Location fileLoc;
  Location currentLoc = fileLoc;
  const onnx::NodeProto *currentNode = nullptr;
  int64_t opset = 0;

  /// Tensor values by ONNX name.
  llvm::StringMap<Value> values;
  /// Values known at import time (initializers that are not graph inputs,
  /// Constant outputs), for shape/axes/bound inputs.
  llvm::StringMap<DenseElementsAttr> constants;
  /// Types from ONNX shape inference (value_info, outputs), by name.
  llvm::StringMap<const onnx::TypeProto *> inferred;

  /// The forward function being built.
  ForwardFunctionBuilder *forward = nullptr;
  /// Conv/ConvTranspose weight initializers stored channels-last
  /// ([K.., C/groups, F], the ONNX [F, C/groups, K..] permuted once).
  llvm::StringSet<> channelsLastFilters;
  /// BatchNormalization running mean/var initializers (kiln.state params),
  /// and those that already have a state update.
  llvm::StringSet<> stateParams, updatedState;
  /// Names some node or graph output reads.
  llvm::StringSet<> usedNames;
};

//===----------------------------------------------------------------------===//
// Types and constants
//===----------------------------------------------------------------------===//

Type Importer::elementType(int32_t onnxType) {
  switch (onnxType) {
  case onnx::TensorProto::FLOAT:
    return builder.getF32Type();
  case onnx::TensorProto::DOUBLE:
    return builder.getF64Type();
  case onnx::TensorProto::INT32:
    return builder.getI32Type();
  case onnx::TensorProto::INT64:
    return builder.getI64Type();
  case onnx::TensorProto::BOOL:
    return builder.getI1Type();
  default:
    return nullptr;
  }
}

static const char *onnxTypeName(int32_t t) {
  if (onnx::TensorProto::DataType_IsValid(t))
    return onnx::TensorProto::DataType_Name(
               static_cast<onnx::TensorProto::DataType>(t))
        .c_str();
  return "unknown";
}

FailureOr<RankedTensorType>
Importer::tensorTypeOf(const onnx::TensorProto &tensor) {
  Type element = elementType(tensor.data_type());
  if (!element) {
    error() << "tensor '" << tensor.name() << "' has element type "
            << onnxTypeName(tensor.data_type())
            << " (supported: FLOAT, DOUBLE, INT32, INT64, BOOL)";
    return failure();
  }
  SmallVector<int64_t> shape(tensor.dims().begin(), tensor.dims().end());
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0) {
      error() << "tensor '" << tensor.name() << "' has a negative dimension";
      return failure();
    }
    // Element counts of 2^48 and more are rejected (no such tensor fits in
    // a protobuf or in memory; this also keeps the products from
    // overflowing).
    if (d != 0 && (count > (int64_t(1) << 48) / d)) {
      error() << "tensor '" << tensor.name() << "' of shape "
              << shapeString(shape) << " is too large";
      return failure();
    }
    count *= d;
  }
  return RankedTensorType::get(shape, element);
}

template <typename T>
static bool fromRaw(const std::string &raw, int64_t count,
                    SmallVectorImpl<T> &out) {
  if (raw.size() != static_cast<size_t>(count) * sizeof(T))
    return false;
  out.resize(count);
  if (count)
    std::memcpy(out.data(), raw.data(), raw.size());
  return true;
}

FailureOr<DenseElementsAttr>
Importer::toElements(const onnx::TensorProto &tensor) {
  FailureOr<RankedTensorType> type = tensorTypeOf(tensor);
  if (failed(type))
    return failure();
  int64_t count = type->getNumElements();
  bool raw = tensor.has_raw_data();
  const std::string &bytes = tensor.raw_data();
  auto sizeError = [&]() {
    error() << "tensor '" << tensor.name() << "' of shape "
            << shapeString(type->getShape()) << " holds the wrong number of "
            << "values";
    return failure();
  };
  switch (tensor.data_type()) {
  case onnx::TensorProto::FLOAT: {
    SmallVector<float> v;
    if (raw ? !fromRaw(bytes, count, v) : tensor.float_data_size() != count)
      return sizeError();
    if (!raw)
      v.assign(tensor.float_data().begin(), tensor.float_data().end());
    return DenseElementsAttr::get(*type, ArrayRef<float>(v));
  }
  case onnx::TensorProto::DOUBLE: {
    SmallVector<double> v;
    if (raw ? !fromRaw(bytes, count, v) : tensor.double_data_size() != count)
      return sizeError();
    if (!raw)
      v.assign(tensor.double_data().begin(), tensor.double_data().end());
    return DenseElementsAttr::get(*type, ArrayRef<double>(v));
  }
  case onnx::TensorProto::INT32: {
    SmallVector<int32_t> v;
    if (raw ? !fromRaw(bytes, count, v) : tensor.int32_data_size() != count)
      return sizeError();
    if (!raw)
      v.assign(tensor.int32_data().begin(), tensor.int32_data().end());
    return DenseElementsAttr::get(*type, ArrayRef<int32_t>(v));
  }
  case onnx::TensorProto::INT64: {
    SmallVector<int64_t> v;
    if (raw ? !fromRaw(bytes, count, v) : tensor.int64_data_size() != count)
      return sizeError();
    if (!raw)
      v.assign(tensor.int64_data().begin(), tensor.int64_data().end());
    return DenseElementsAttr::get(*type, ArrayRef<int64_t>(v));
  }
  case onnx::TensorProto::BOOL: {
    SmallVector<bool> v;
    if (raw) {
      if (bytes.size() != static_cast<size_t>(count))
        return sizeError();
      for (char c : bytes)
        v.push_back(c != 0);
    } else {
      if (tensor.int32_data_size() != count)
        return sizeError();
      for (int32_t x : tensor.int32_data())
        v.push_back(x != 0);
    }
    return DenseElementsAttr::get(*type, ArrayRef<bool>(v));
  }
  default:
    return failure();
  }
}

FailureOr<RankedTensorType>
Importer::inputType(const onnx::ValueInfoProto &info) {
  if (!info.type().has_tensor_type()) {
    error() << "graph input '" << info.name() << "' is not a tensor";
    return failure();
  }
  const onnx::TypeProto_Tensor &t = info.type().tensor_type();
  Type element = elementType(t.elem_type());
  if (!element) {
    error() << "graph input '" << info.name() << "' has element type "
            << onnxTypeName(t.elem_type())
            << " (supported: FLOAT, DOUBLE, INT32, INT64, BOOL)";
    return failure();
  }
  if (!t.has_shape()) {
    error() << "graph input '" << info.name()
            << "' has no shape (kiln needs static shapes)";
    return failure();
  }
  SmallVector<int64_t> shape;
  for (auto [i, dim] : llvm::enumerate(t.shape().dim())) {
    if (dim.has_dim_value() && dim.dim_value() >= 0) {
      shape.push_back(dim.dim_value());
      continue;
    }
    if (i == 0 && options.batchSize && *options.batchSize > 0) {
      shape.push_back(*options.batchSize);
      continue;
    }
    InFlightDiagnostic d = error();
    d << "dynamic dimension ";
    if (dim.has_dim_param())
      d << "'" << dim.dim_param() << "' ";
    d << "(axis " << i << ") of graph input '" << info.name()
      << "': kiln needs static shapes";
    if (i == 0)
      d << " (give a static batch size: kilnc --batch-size=N)";
    else
      d << " (export the model with static shapes)";
    return failure();
  }
  // An overridden batch size only applies to a dynamic leading dimension.
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d != 0 && count > (int64_t(1) << 48) / d) {
      error() << "graph input '" << info.name() << "' of shape "
              << shapeString(shape) << " is too large";
      return failure();
    }
    count *= d;
  }
  return RankedTensorType::get(shape, element);
}

//===----------------------------------------------------------------------===//
// Values
//===----------------------------------------------------------------------===//

FailureOr<Value> Importer::value(const std::string &name) {
  auto it = values.find(name);
  if (it != values.end())
    return it->second;
  auto c = constants.find(name);
  if (c != constants.end()) {
    Value v = builder
                  .create<ConstantOp>(
                      currentLoc, TypeRange{c->second.getType()}, ValueRange{},
                      ArrayRef<NamedAttribute>{namedAttr("value", c->second)})
                  .getResult();
    values[name] = v;
    return v;
  }
  InFlightDiagnostic d = currentNode ? nodeError() : error();
  d << "value '" << name << "' is not defined";
  return failure();
}

FailureOr<DenseElementsAttr> Importer::constantInput(unsigned index) {
  const std::string &name = currentNode->input(index);
  auto c = constants.find(name);
  if (c == constants.end()) {
    nodeError() << "input " << index << " ('" << name
                << "') must be a constant (an initializer that is not a graph "
                   "input, or a Constant)";
    return failure();
  }
  return c->second;
}

FailureOr<SmallVector<int64_t>> Importer::constantInts(unsigned index) {
  FailureOr<DenseElementsAttr> c = constantInput(index);
  if (failed(c))
    return failure();
  if (!c->getElementType().isInteger(64) &&
      !c->getElementType().isInteger(32)) {
    nodeError() << "input " << index << " must hold integers";
    return failure();
  }
  SmallVector<int64_t> out;
  for (const APInt &v : c->getValues<APInt>())
    out.push_back(v.getSExtValue());
  return out;
}

FailureOr<std::optional<double>>
Importer::optionalConstantScalar(unsigned index) {
  if (!hasInput(index))
    return std::optional<double>();
  FailureOr<DenseElementsAttr> c = constantInput(index);
  if (failed(c))
    return failure();
  if (c->getNumElements() != 1 || !isa<FloatType>(c->getElementType())) {
    nodeError() << "input " << index << " must be a float scalar";
    return failure();
  }
  return std::optional<double>(
      (*c->getValues<APFloat>().begin()).convertToDouble());
}

FailureOr<Value> Importer::floatInput(unsigned index) {
  FailureOr<Value> v = input(index);
  if (failed(v))
    return failure();
  if (!isa<FloatType>(typeOf(*v).getElementType())) {
    nodeError() << "input " << index << " has element type "
                << typeOf(*v).getElementType()
                << "; kiln supports this op on f32/f64 only";
    return failure();
  }
  return v;
}

//===----------------------------------------------------------------------===//
// Building helpers
//===----------------------------------------------------------------------===//

Value Importer::splat(RankedTensorType type, double v) {
  Attribute element = builder.getFloatAttr(type.getElementType(), v);
  auto attr = DenseElementsAttr::get(type, ArrayRef<Attribute>{element});
  return create<ConstantOp>(type, {}, {namedAttr("value", attr)});
}

Value Importer::reshape(Value v, ArrayRef<int64_t> shape) {
  RankedTensorType type = typeOf(v);
  if (type.getShape() == shape)
    return v;
  return create<ReshapeOp>(RankedTensorType::get(shape, type.getElementType()),
                           {v});
}

Value Importer::broadcastTo(Value v, ArrayRef<int64_t> shape) {
  RankedTensorType type = typeOf(v);
  if (type.getShape() == shape)
    return v;
  int64_t offset = shape.size() - type.getRank();
  SmallVector<int64_t> dims;
  for (int64_t i = 0; i < type.getRank(); ++i)
    dims.push_back(i + offset);
  return create<BroadcastInDimOp>(
      RankedTensorType::get(shape, type.getElementType()), {v},
      {namedAttr("broadcast_dimensions", builder.getDenseI64ArrayAttr(dims))});
}

FailureOr<SmallVector<int64_t>> Importer::broadcastShape(ArrayRef<int64_t> a,
                                                         ArrayRef<int64_t> b) {
  size_t rank = std::max(a.size(), b.size());
  SmallVector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t x = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t y = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (x != y && x != 1 && y != 1) {
      nodeError() << "shapes " << shapeString(a) << " and " << shapeString(b)
                  << " do not broadcast";
      return failure();
    }
    out[i] = x == 1 ? y : x;
  }
  return out;
}

FailureOr<int64_t> Importer::normalizeAxis(int64_t axis, int64_t rank,
                                           StringRef what) {
  if (axis < -rank || axis >= rank) {
    nodeError() << what << " " << axis << " is out of range for rank " << rank;
    return failure();
  }
  return axis < 0 ? axis + rank : axis;
}

LogicalResult Importer::setOutput(unsigned index, Value v) {
  if (static_cast<int>(index) >= currentNode->output_size() ||
      currentNode->output(index).empty())
    return success();
  values[currentNode->output(index)] = v;
  return success();
}

//===----------------------------------------------------------------------===//
// Ops
//===----------------------------------------------------------------------===//

/// OpT of `a` and `b` after ONNX multidirectional broadcasting.
template <typename OpT>
FailureOr<Value> Importer::broadcastBinary(Value a, Value b) {
  if (typeOf(a).getElementType() != typeOf(b).getElementType()) {
    nodeError() << "operand element types differ";
    return failure();
  }
  FailureOr<SmallVector<int64_t>> shape =
      broadcastShape(typeOf(a).getShape(), typeOf(b).getShape());
  if (failed(shape))
    return failure();
  Value lhs = broadcastTo(a, *shape), rhs = broadcastTo(b, *shape);
  return create<OpT>(typeOf(lhs), {lhs, rhs});
}

template <typename OpT> LogicalResult Importer::binary() {
  FailureOr<Value> a = floatInput(0), b = failure();
  if (failed(a) || failed(b = floatInput(1)))
    return failure();
  FailureOr<Value> result = broadcastBinary<OpT>(*a, *b);
  return failed(result) ? failure() : setOutput(0, *result);
}

/// An elementwise op of 1 to N inputs (ONNX Max, Min), folded left to
/// right over the broadcast operands: op(op(x0, x1), x2)...
template <typename OpT> LogicalResult Importer::variadic() {
  int n = currentNode->input_size();
  if (n < 1) {
    nodeError() << "needs at least one input";
    return failure();
  }
  FailureOr<Value> acc = floatInput(0);
  if (failed(acc))
    return failure();
  for (int i = 1; i < n; ++i) {
    FailureOr<Value> next = floatInput(i);
    if (failed(next) || failed(acc = broadcastBinary<OpT>(*acc, *next)))
      return failure();
  }
  return setOutput(0, *acc);
}

template <typename OpT>
LogicalResult Importer::unary(ArrayRef<NamedAttribute> a) {
  FailureOr<Value> x = floatInput(0);
  if (failed(x))
    return failure();
  return setOutput(0, create<OpT>(typeOf(*x), {*x}, a));
}

LogicalResult Importer::gemm() {
  FailureOr<Value> a = floatInput(0), b = failure();
  if (failed(a) || failed(b = floatInput(1)))
    return failure();
  RankedTensorType at = typeOf(*a), bt = typeOf(*b);
  if (at.getRank() != 2 || bt.getRank() != 2) {
    nodeError() << "A and B must be 2-D";
    return failure();
  }
  bool transA = intAttr("transA", 0), transB = intAttr("transB", 0);
  double alpha = floatAttr("alpha", 1.0), beta = floatAttr("beta", 1.0);
  int64_t m = at.getDimSize(transA ? 1 : 0), k = at.getDimSize(transA ? 0 : 1);
  int64_t kb = bt.getDimSize(transB ? 1 : 0), n = bt.getDimSize(transB ? 0 : 1);
  if (k != kb) {
    nodeError() << "inner dimensions differ (" << k << " vs " << kb << ")";
    return failure();
  }
  auto type = RankedTensorType::get({m, n}, at.getElementType());
  Value y = create<MatmulOp>(
      type, {*a, *b},
      {namedAttr("transpose_lhs", builder.getBoolAttr(transA)),
       namedAttr("transpose_rhs", builder.getBoolAttr(transB))});
  if (alpha != 1.0)
    y = create<MulOp>(type, {y, splat(type, alpha)});
  if (hasInput(2) && beta != 0.0) {
    FailureOr<Value> c = floatInput(2);
    if (failed(c))
      return failure();
    Value cv = *c;
    if (beta != 1.0)
      cv = create<MulOp>(typeOf(cv), {cv, splat(typeOf(cv), beta)});
    FailureOr<SmallVector<int64_t>> shape =
        broadcastShape(type.getShape(), typeOf(cv).getShape());
    if (failed(shape))
      return failure();
    if (ArrayRef<int64_t>(*shape) != type.getShape()) {
      nodeError() << "C of shape " << shapeString(typeOf(cv).getShape())
                  << " does not broadcast to " << shapeString(type.getShape());
      return failure();
    }
    y = create<AddOp>(type, {y, broadcastTo(cv, type.getShape())});
  }
  return setOutput(0, y);
}

LogicalResult Importer::matmul() {
  FailureOr<Value> a = floatInput(0), b = failure();
  if (failed(a) || failed(b = floatInput(1)))
    return failure();
  Value lhs = *a, rhs = *b;
  SmallVector<int64_t> ls(typeOf(lhs).getShape()), rs(typeOf(rhs).getShape());
  if (ls.empty() || rs.empty()) {
    nodeError() << "operands must have rank >= 1";
    return failure();
  }
  bool lhsVector = ls.size() == 1, rhsVector = rs.size() == 1;
  if (lhsVector)
    ls.insert(ls.begin(), 1);
  if (rhsVector)
    rs.push_back(1);
  if (ls.back() != rs[rs.size() - 2]) {
    nodeError() << "contraction sizes differ (" << ls.back() << " vs "
                << rs[rs.size() - 2] << ")";
    return failure();
  }
  lhs = reshape(lhs, ls);
  rhs = reshape(rhs, rs);
  FailureOr<SmallVector<int64_t>> batch = broadcastShape(
      ArrayRef<int64_t>(ls).drop_back(2), ArrayRef<int64_t>(rs).drop_back(2));
  if (failed(batch))
    return failure();
  SmallVector<int64_t> lshape(*batch), rshape(*batch), yshape(*batch);
  lshape.append({ls[ls.size() - 2], ls.back()});
  rshape.append({rs[rs.size() - 2], rs.back()});
  yshape.append({ls[ls.size() - 2], rs.back()});
  lhs = broadcastTo(lhs, lshape);
  rhs = broadcastTo(rhs, rshape);
  Type element = typeOf(lhs).getElementType();
  Value y =
      create<MatmulOp>(RankedTensorType::get(yshape, element), {lhs, rhs});
  SmallVector<int64_t> out(*batch);
  if (!lhsVector)
    out.push_back(ls[ls.size() - 2]);
  if (!rhsVector)
    out.push_back(rs.back());
  return setOutput(0, reshape(y, out));
}

LogicalResult Importer::pow() {
  FailureOr<Value> a = floatInput(0), b = input(1);
  if (failed(a) || failed(b))
    return failure();
  Type element = typeOf(*a).getElementType();
  Value e = *b;
  if (typeOf(e).getElementType() != element) {
    if (typeOf(e).getElementType().isInteger(1)) {
      nodeError() << "boolean exponent";
      return failure();
    }
    e = create<ConvertOp>(RankedTensorType::get(typeOf(e).getShape(), element),
                          {e});
  }
  FailureOr<SmallVector<int64_t>> shape =
      broadcastShape(typeOf(*a).getShape(), typeOf(e).getShape());
  if (failed(shape))
    return failure();
  Value lhs = broadcastTo(*a, *shape), rhs = broadcastTo(e, *shape);
  return setOutput(0, create<PowOp>(typeOf(lhs), {lhs, rhs}));
}

template <typename OpT> LogicalResult Importer::softmax() {
  FailureOr<Value> x = floatInput(0);
  if (failed(x))
    return failure();
  RankedTensorType type = typeOf(*x);
  int64_t rank = type.getRank();
  if (rank == 0) {
    nodeError() << "input must have rank >= 1";
    return failure();
  }
  FailureOr<int64_t> axis =
      normalizeAxis(intAttr("axis", opset >= 13 ? -1 : 1), rank);
  if (failed(axis))
    return failure();
  auto axisAttr = [&](int64_t a) {
    return namedAttr("axis", builder.getI64IntegerAttr(a));
  };
  if (opset >= 13 || *axis == rank - 1)
    return setOutput(0, create<OpT>(type, {*x}, {axisAttr(*axis)}));
  // Before opset 13: the input is coerced to 2-D at `axis`, normalized over
  // the second axis, and reshaped back.
  int64_t rows = 1, cols = 1;
  for (int64_t i = 0; i < rank; ++i)
    (i < *axis ? rows : cols) *= type.getDimSize(i);
  Value flat = reshape(*x, {rows, cols});
  Value y = create<OpT>(typeOf(flat), {flat}, {axisAttr(1)});
  return setOutput(0, reshape(y, type.getShape()));
}

LogicalResult Importer::clip() {
  FailureOr<Value> x = floatInput(0);
  if (failed(x))
    return failure();
  std::optional<double> lo, hi;
  if (opset < 11) {
    if (attr("min"))
      lo = floatAttr("min", 0);
    if (attr("max"))
      hi = floatAttr("max", 0);
  } else {
    FailureOr<std::optional<double>> l = optionalConstantScalar(1);
    if (failed(l))
      return failure();
    FailureOr<std::optional<double>> h = optionalConstantScalar(2);
    if (failed(h))
      return failure();
    lo = *l;
    hi = *h;
  }
  RankedTensorType type = typeOf(*x);
  Value y = *x;
  // kiln.maximum / kiln.minimum propagate NaN, as ONNX Clip does.
  if (lo)
    y = create<MaximumOp>(type, {y, splat(type, *lo)});
  if (hi)
    y = create<MinimumOp>(type, {y, splat(type, *hi)});
  return setOutput(0, y);
}

LogicalResult Importer::dropout() {
  FailureOr<Value> x = input(0);
  if (failed(x))
    return failure();
  // training_mode (opset 12+, a constant input): false (the default) is
  // the inference graph, the identity; true is a training graph (PyTorch's
  // export in training mode): kiln.dropout with the ratio (input 1, default
  // 0.5; before opset 12 the `ratio` attribute only matters in training),
  // which drops in train steps and is the identity in eval and predict. A
  // ratio of 0 is the identity either way.
  bool training = false;
  if (opset >= 12 && hasInput(2)) {
    FailureOr<DenseElementsAttr> mode = constantInput(2);
    if (failed(mode))
      return failure();
    training =
        mode->getElementType().isInteger(1) && *mode->getValues<bool>().begin();
  }
  double ratio = 0.5;
  if (training && hasInput(1)) {
    FailureOr<DenseElementsAttr> r = constantInput(1);
    if (failed(r))
      return failure();
    if (!isa<FloatType>(r->getElementType()) || r->getNumElements() != 1) {
      nodeError() << "ratio must be a float scalar";
      return failure();
    }
    ratio = (*r->getValues<APFloat>().begin()).convertToDouble();
  }
  if (training && !(ratio >= 0 && ratio < 1)) {
    nodeError() << "ratio " << ratio << " is not in [0, 1)";
    return failure();
  }
  bool drops = training && ratio > 0;
  if (currentNode->output_size() > 1 && !currentNode->output(1).empty()) {
    if (drops && isConsumed(currentNode->output(1))) {
      nodeError() << "the mask output of a training-mode Dropout is not "
                     "supported";
      return failure();
    }
    if (!drops) { // nothing is dropped: the mask is all true
      auto maskType =
          RankedTensorType::get(typeOf(*x).getShape(), builder.getI1Type());
      auto mask = DenseElementsAttr::get(maskType, true);
      (void)setOutput(
          1, create<ConstantOp>(maskType, {}, {namedAttr("value", mask)}));
    }
  }
  if (!drops)
    return setOutput(0, *x);
  // The node's position (1-based) seeds the mask unless `seed` is given.
  int64_t position = 0;
  while (position < graph.node_size() && &graph.node(position) != currentNode)
    ++position;
  int64_t seed = intAttr("seed", position + 1);
  return setOutput(
      0,
      create<DropoutOp>(typeOf(*x), {*x, forward->stepCounter()},
                        {namedAttr("rate", builder.getF64FloatAttr(ratio)),
                         namedAttr("seed", builder.getI64IntegerAttr(seed))}));
}

LogicalResult Importer::flatten() {
  FailureOr<Value> x = input(0);
  if (failed(x))
    return failure();
  RankedTensorType type = typeOf(*x);
  int64_t rank = type.getRank();
  int64_t axis = intAttr("axis", 1);
  if (axis < -rank || axis > rank) {
    nodeError() << "axis " << axis << " is out of range for rank " << rank;
    return failure();
  }
  if (axis < 0)
    axis += rank;
  int64_t rows = 1, cols = 1;
  for (int64_t i = 0; i < rank; ++i)
    (i < axis ? rows : cols) *= type.getDimSize(i);
  return setOutput(0, reshape(*x, {rows, cols}));
}

LogicalResult Importer::reshapeOp() {
  FailureOr<Value> x = input(0);
  FailureOr<SmallVector<int64_t>> spec = failure();
  if (failed(x) || failed(spec = constantInts(1)))
    return failure();
  RankedTensorType type = typeOf(*x);
  bool allowZero = intAttr("allowzero", 0);
  SmallVector<int64_t> shape;
  int64_t inferred = -1, known = 1;
  for (auto [i, d] : llvm::enumerate(*spec)) {
    if (d == 0 && !allowZero) {
      if (static_cast<int64_t>(i) >= type.getRank()) {
        nodeError() << "shape entry " << i
                    << " is 0 (copy) beyond the input rank";
        return failure();
      }
      d = type.getDimSize(i);
    }
    if (d == -1) {
      if (inferred >= 0) {
        nodeError() << "more than one -1 in the shape";
        return failure();
      }
      inferred = i;
      shape.push_back(1);
      continue;
    }
    if (d < 0) {
      nodeError() << "invalid shape entry " << d;
      return failure();
    }
    shape.push_back(d);
    known *= d;
  }
  int64_t total = type.getNumElements();
  if (inferred >= 0) {
    if (known == 0 || total % known != 0) {
      nodeError() << "cannot infer -1: " << total << " elements into "
                  << shapeString(*spec);
      return failure();
    }
    shape[inferred] = total / known;
    known = total;
  }
  if (known != total) {
    nodeError() << "cannot reshape " << shapeString(type.getShape()) << " to "
                << shapeString(shape);
    return failure();
  }
  return setOutput(0, reshape(*x, shape));
}

LogicalResult Importer::transpose() {
  FailureOr<Value> x = input(0);
  if (failed(x))
    return failure();
  RankedTensorType type = typeOf(*x);
  int64_t rank = type.getRank();
  SmallVector<int64_t> perm;
  if (std::optional<SmallVector<int64_t>> p = intsAttr("perm"))
    perm = *p;
  else
    for (int64_t i = rank - 1; i >= 0; --i)
      perm.push_back(i);
  if (static_cast<int64_t>(perm.size()) != rank) {
    nodeError() << "perm has " << perm.size() << " entries for rank " << rank;
    return failure();
  }
  SmallVector<int64_t> shape;
  SmallVector<bool> seen(rank, false);
  for (int64_t &p : perm) {
    if (p < 0)
      p += rank;
    if (p < 0 || p >= rank || seen[p]) {
      nodeError() << "perm is not a permutation";
      return failure();
    }
    seen[p] = true;
    shape.push_back(type.getDimSize(p));
  }
  if (llvm::equal(perm, llvm::seq<int64_t>(0, rank)))
    return setOutput(0, *x);
  return setOutput(
      0, create<TransposeOp>(
             RankedTensorType::get(shape, type.getElementType()), {*x},
             {namedAttr("permutation", builder.getDenseI64ArrayAttr(perm))}));
}

LogicalResult Importer::concat() {
  SmallVector<Value> inputs;
  for (int i = 0; i < currentNode->input_size(); ++i) {
    FailureOr<Value> v = input(i);
    if (failed(v))
      return failure();
    inputs.push_back(*v);
  }
  if (inputs.empty()) {
    nodeError() << "no inputs";
    return failure();
  }
  RankedTensorType first = typeOf(inputs[0]);
  FailureOr<int64_t> axis = normalizeAxis(intAttr("axis", 0), first.getRank());
  if (failed(axis))
    return failure();
  SmallVector<int64_t> shape(first.getShape());
  shape[*axis] = 0;
  for (Value v : inputs) {
    RankedTensorType t = typeOf(v);
    if (t.getRank() != first.getRank() ||
        t.getElementType() != first.getElementType()) {
      nodeError() << "inputs differ in rank or element type";
      return failure();
    }
    for (int64_t i = 0; i < t.getRank(); ++i)
      if (i != *axis && t.getDimSize(i) != first.getDimSize(i)) {
        nodeError() << "input shapes " << shapeString(first.getShape())
                    << " and " << shapeString(t.getShape())
                    << " differ outside axis " << *axis;
        return failure();
      }
    shape[*axis] += t.getDimSize(*axis);
  }
  if (inputs.size() == 1)
    return setOutput(0, inputs[0]);
  return setOutput(
      0, create<ConcatOp>(
             RankedTensorType::get(shape, first.getElementType()), inputs,
             {namedAttr("axis", builder.getI64IntegerAttr(*axis))}));
}

LogicalResult Importer::slice() {
  FailureOr<Value> x = input(0);
  if (failed(x))
    return failure();
  RankedTensorType type = typeOf(*x);
  int64_t rank = type.getRank();
  SmallVector<int64_t> starts, ends, axes, steps;
  if (opset < 10) {
    auto s = intsAttr("starts"), e = intsAttr("ends");
    if (!s || !e) {
      nodeError() << "starts and ends are required";
      return failure();
    }
    starts = *s;
    ends = *e;
    if (auto a = intsAttr("axes"))
      axes = *a;
  } else {
    FailureOr<SmallVector<int64_t>> s = constantInts(1), e = failure();
    if (failed(s) || failed(e = constantInts(2)))
      return failure();
    starts = *s;
    ends = *e;
    if (hasInput(3)) {
      FailureOr<SmallVector<int64_t>> a = constantInts(3);
      if (failed(a))
        return failure();
      axes = *a;
    }
    if (hasInput(4)) {
      FailureOr<SmallVector<int64_t>> st = constantInts(4);
      if (failed(st))
        return failure();
      steps = *st;
    }
  }
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i)
      axes.push_back(i);
  if (steps.empty())
    steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() ||
      steps.size() != starts.size()) {
    nodeError() << "starts, ends, axes and steps differ in length";
    return failure();
  }
  SmallVector<int64_t> lo(rank, 0), hi(type.getShape()), st(rank, 1),
      shape(type.getShape());
  SmallVector<bool> seen(rank, false);
  for (size_t i = 0; i < starts.size(); ++i) {
    FailureOr<int64_t> axis = normalizeAxis(axes[i], rank);
    if (failed(axis))
      return failure();
    if (seen[*axis]) {
      nodeError() << "axis " << *axis << " repeated";
      return failure();
    }
    seen[*axis] = true;
    int64_t dim = type.getDimSize(*axis), step = steps[i];
    if (step <= 0) {
      nodeError() << "step " << step
                  << " is not supported (kiln.slice needs steps >= 1)";
      return failure();
    }
    auto clampIndex = [&](int64_t v) {
      if (v < 0)
        v = v <= std::numeric_limits<int64_t>::min() + dim ? 0 : v + dim;
      return std::clamp<int64_t>(v, 0, dim);
    };
    int64_t s = clampIndex(starts[i]), e = clampIndex(ends[i]);
    e = std::max(e, s);
    lo[*axis] = s;
    hi[*axis] = e;
    st[*axis] = step;
    shape[*axis] = (e - s + step - 1) / step;
  }
  if (ArrayRef<int64_t>(shape) == type.getShape() &&
      llvm::all_of(st, [](int64_t s) { return s == 1; }))
    return setOutput(0, *x);
  return setOutput(
      0, create<SliceOp>(
             RankedTensorType::get(shape, type.getElementType()), {*x},
             {namedAttr("start", builder.getDenseI64ArrayAttr(lo)),
              namedAttr("limit", builder.getDenseI64ArrayAttr(hi)),
              namedAttr("strides", builder.getDenseI64ArrayAttr(st))}));
}

LogicalResult Importer::squeeze() {
  FailureOr<Value> x = input(0);
  if (failed(x))
    return failure();
  RankedTensorType type = typeOf(*x);
  int64_t rank = type.getRank();
  std::optional<SmallVector<int64_t>> axes;
  if (opset >= 13) {
    if (hasInput(1)) {
      FailureOr<SmallVector<int64_t>> a = constantInts(1);
      if (failed(a))
        return failure();
      axes = *a;
    }
  } else {
    axes = intsAttr("axes");
  }
  SmallVector<bool> drop(rank, false);
  if (!axes) {
    for (int64_t i = 0; i < rank; ++i)
      drop[i] = type.getDimSize(i) == 1;
  } else {
    for (int64_t a : *axes) {
      FailureOr<int64_t> axis = normalizeAxis(a, rank);
      if (failed(axis))
        return failure();
      if (type.getDimSize(*axis) != 1) {
        nodeError() << "cannot squeeze axis " << *axis << " of size "
                    << type.getDimSize(*axis);
        return failure();
      }
      drop[*axis] = true;
    }
  }
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < rank; ++i)
    if (!drop[i])
      shape.push_back(type.getDimSize(i));
  return setOutput(0, reshape(*x, shape));
}

LogicalResult Importer::unsqueeze() {
  FailureOr<Value> x = input(0);
  if (failed(x))
    return failure();
  RankedTensorType type = typeOf(*x);
  SmallVector<int64_t> axes;
  if (opset >= 13) {
    FailureOr<SmallVector<int64_t>> a = constantInts(1);
    if (failed(a))
      return failure();
    axes = *a;
  } else if (auto a = intsAttr("axes")) {
    axes = *a;
  } else {
    nodeError() << "axes are required";
    return failure();
  }
  int64_t outRank = type.getRank() + axes.size();
  SmallVector<bool> inserted(outRank, false);
  for (int64_t a : axes) {
    FailureOr<int64_t> axis = normalizeAxis(a, outRank);
    if (failed(axis))
      return failure();
    if (inserted[*axis]) {
      nodeError() << "axis " << *axis << " repeated";
      return failure();
    }
    inserted[*axis] = true;
  }
  SmallVector<int64_t> shape;
  int64_t next = 0;
  for (int64_t i = 0; i < outRank; ++i)
    shape.push_back(inserted[i] ? 1 : type.getDimSize(next++));
  return setOutput(0, reshape(*x, shape));
}

LogicalResult Importer::constant() {
  DenseElementsAttr value;
  auto vectorOf = [&](auto values, Type element) {
    using T = typename decltype(values)::value_type;
    auto type =
        RankedTensorType::get({static_cast<int64_t>(values.size())}, element);
    return DenseElementsAttr::get(type, ArrayRef<T>(values));
  };
  if (const onnx::AttributeProto *a = attr("value")) {
    FailureOr<DenseElementsAttr> v = toElements(a->t());
    if (failed(v))
      return failure();
    value = *v;
  } else if (const onnx::AttributeProto *a = attr("value_float")) {
    value = DenseElementsAttr::get(
        RankedTensorType::get({}, builder.getF32Type()), a->f());
  } else if (const onnx::AttributeProto *a = attr("value_floats")) {
    value = vectorOf(SmallVector<float>(a->floats().begin(), a->floats().end()),
                     builder.getF32Type());
  } else if (const onnx::AttributeProto *a = attr("value_int")) {
    value = DenseElementsAttr::get(
        RankedTensorType::get({}, builder.getI64Type()), a->i());
  } else if (const onnx::AttributeProto *a = attr("value_ints")) {
    value = vectorOf(SmallVector<int64_t>(a->ints().begin(), a->ints().end()),
                     builder.getI64Type());
  } else {
    nodeError() << "only value, value_float(s) and value_int(s) constants "
                   "are supported";
    return failure();
  }
  // Materialized as kiln.constant when used as a tensor value.
  constants[currentNode->output(0)] = value;
  return success();
}

template <typename OpT> LogicalResult Importer::reduce() {
  FailureOr<Value> x = floatInput(0);
  if (failed(x))
    return failure();
  RankedTensorType type = typeOf(*x);
  int64_t rank = type.getRank();
  bool keepDims = intAttr("keepdims", 1);
  SmallVector<int64_t> axes;
  bool axesGiven = false;
  if (std::is_same_v<OpT, ReduceSumOp> && opset >= 13) {
    if (hasInput(1)) {
      FailureOr<SmallVector<int64_t>> a = constantInts(1);
      if (failed(a))
        return failure();
      axes = *a;
      axesGiven = !axes.empty();
    }
    if (!axesGiven && intAttr("noop_with_empty_axes", 0))
      return setOutput(0, *x);
  } else if (auto a = intsAttr("axes")) {
    axes = *a;
    axesGiven = !axes.empty();
  }
  SmallVector<bool> reduced(rank, !axesGiven);
  for (int64_t a : axes) {
    FailureOr<int64_t> axis = normalizeAxis(a, rank);
    if (failed(axis))
      return failure();
    reduced[*axis] = true;
  }
  SmallVector<int64_t> list, shape;
  for (int64_t i = 0; i < rank; ++i) {
    if (reduced[i])
      list.push_back(i);
    if (!reduced[i])
      shape.push_back(type.getDimSize(i));
    else if (keepDims)
      shape.push_back(1);
  }
  if (list.empty())
    return setOutput(0, *x);
  return setOutput(
      0, create<OpT>(RankedTensorType::get(shape, type.getElementType()), {*x},
                     {namedAttr("axes", builder.getDenseI64ArrayAttr(list)),
                      namedAttr("keep_dims", builder.getBoolAttr(keepDims))}));
}

/// ONNX Gather (opsets 1-13): kiln.gather along `axis` (negative counts
/// from the end) with i32/i64 indices; indices in [-V, 0) count from the
/// end. Constant data and indices (shape arithmetic, as exporters emit it)
/// fold at import, for any element type.
LogicalResult Importer::gather() {
  const std::string &dataName = currentNode->input(0);
  const std::string &indexName = currentNode->input(1);
  auto dataConstant = constants.find(dataName);
  auto indexConstant = constants.find(indexName);
  bool folded = dataConstant != constants.end() && !values.count(dataName) &&
                indexConstant != constants.end() && !values.count(indexName);
  Type dataType;
  RankedTensorType indexType;
  ArrayRef<int64_t> dataShape;
  if (folded) {
    dataType = dataConstant->second.getType();
    indexType = cast<RankedTensorType>(indexConstant->second.getType());
  } else {
    FailureOr<Value> indices = input(1);
    if (failed(indices))
      return failure();
    indexType = typeOf(*indices);
    FailureOr<Value> data = floatInput(0);
    if (failed(data))
      return failure();
    dataType = data->getType();
  }
  dataShape = cast<RankedTensorType>(dataType).getShape();
  if (!indexType.getElementType().isInteger(32) &&
      !indexType.getElementType().isInteger(64)) {
    nodeError() << "indices must be int32 or int64, got "
                << indexType.getElementType();
    return failure();
  }
  FailureOr<int64_t> axis = normalizeAxis(intAttr("axis", 0), dataShape.size());
  if (failed(axis))
    return failure();
  SmallVector<int64_t> shape(dataShape.begin(), dataShape.begin() + *axis);
  llvm::append_range(shape, indexType.getShape());
  shape.append(dataShape.begin() + *axis + 1, dataShape.end());
  Type element = cast<RankedTensorType>(dataType).getElementType();
  auto resultType = RankedTensorType::get(shape, element);
  if (!folded) {
    Value data = *value(dataName), indices = *value(indexName);
    // Token ids read straight from a graph input: generated programs check
    // them against [-V, V) (ONNX's range) before training.
    forward->restrictInputRange(indices, -dataShape[*axis], dataShape[*axis]);
    return setOutput(
        0, create<GatherOp>(
               resultType, {data, indices},
               {namedAttr("axis", builder.getI64IntegerAttr(*axis))}));
  }
  // Fold: result[a, i, b] = data[a, idx[i], b].
  SmallVector<Attribute> data(dataConstant->second.getValues<Attribute>());
  SmallVector<int64_t> idx;
  for (const APInt &v : indexConstant->second.getValues<APInt>())
    idx.push_back(v.getSExtValue());
  int64_t outer = 1, inner = 1, v = dataShape[*axis];
  for (int64_t i = 0; i < *axis; ++i)
    outer *= dataShape[i];
  for (size_t i = *axis + 1; i < dataShape.size(); ++i)
    inner *= dataShape[i];
  SmallVector<Attribute> out;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j : idx) {
      if (j < -v || j >= v) {
        nodeError() << "index " << j << " is outside [" << -v << ", " << v
                    << ")";
        return failure();
      }
      int64_t row = j < 0 ? j + v : j;
      for (int64_t e = 0; e < inner; ++e)
        out.push_back(data[(o * v + row) * inner + e]);
    }
  constants[currentNode->output(0)] = DenseElementsAttr::get(resultType, out);
  return success();
}

std::optional<SmallVector<int64_t>>
Importer::inferredShape(const std::string &name) {
  auto t = inferred.find(name);
  if (t == inferred.end() || !t->second->has_tensor_type() ||
      !t->second->tensor_type().has_shape())
    return std::nullopt;
  SmallVector<int64_t> shape;
  for (const auto &dim : t->second->tensor_type().shape().dim()) {
    if (!dim.has_dim_value())
      return std::nullopt;
    shape.push_back(dim.dim_value());
  }
  return shape;
}

/// Unsqueeze, Squeeze, Reshape, Flatten, Identity of a constant (the
/// elements reshaped to the shape ONNX shape inference gives), and Concat
/// of constants, become constants.
LogicalResult Importer::foldShapeArithmetic(bool &folded) {
  const onnx::NodeProto &node = *currentNode;
  StringRef op = node.op_type();
  bool reshapeLike = op == "Unsqueeze" || op == "Squeeze" || op == "Reshape" ||
                     op == "Flatten" || op == "Identity";
  if (reshapeLike && node.input_size() >= 1 && isConstant(node.input(0))) {
    for (int i = 1; i < node.input_size(); ++i)
      if (!node.input(i).empty() && !isConstant(node.input(i)))
        return success();
    std::optional<SmallVector<int64_t>> shape = inferredShape(node.output(0));
    if (!shape)
      return success();
    DenseElementsAttr value = constants[node.input(0)];
    auto type = RankedTensorType::get(*shape, value.getElementType());
    if (type.getNumElements() != value.getNumElements())
      return success(); // the op's own import reports it
    constants[node.output(0)] = value.reshape(type);
    folded = true;
    return success();
  }
  // Slice of a 1-D constant (a shape vector) with constant bounds, steps
  // >= 1.
  if (op == "Slice" && node.input_size() >= 1 && isConstant(node.input(0)) &&
      constants[node.input(0)].getType().getRank() == 1 &&
      llvm::all_of(node.input(), [&](const std::string &name) {
        return name.empty() || isConstant(name);
      })) {
    DenseElementsAttr value = constants[node.input(0)];
    int64_t dim = value.getNumElements();
    SmallVector<int64_t> starts, ends, axes, steps;
    auto ints = [&](unsigned index) {
      SmallVector<int64_t> v;
      if (static_cast<int>(index) < node.input_size() &&
          !node.input(index).empty())
        for (const APInt &x : constants[node.input(index)].getValues<APInt>())
          v.push_back(x.getSExtValue());
      return v;
    };
    if (opset < 10) {
      starts = intsAttr("starts").value_or(SmallVector<int64_t>());
      ends = intsAttr("ends").value_or(SmallVector<int64_t>());
      axes = intsAttr("axes").value_or(SmallVector<int64_t>());
    } else {
      starts = ints(1);
      ends = ints(2);
      axes = ints(3);
      steps = ints(4);
    }
    if (starts.size() != 1 || ends.size() != 1 || axes.size() > 1 ||
        steps.size() > 1 || (!axes.empty() && axes[0] != 0 && axes[0] != -1) ||
        (!steps.empty() && steps[0] < 1))
      return success(); // slice() reports or imports it
    int64_t step = steps.empty() ? 1 : steps[0];
    auto clampIndex = [&](int64_t v) {
      if (v < 0)
        v = v <= std::numeric_limits<int64_t>::min() + dim ? 0 : v + dim;
      return std::clamp<int64_t>(v, 0, dim);
    };
    int64_t start = clampIndex(starts[0]), end = clampIndex(ends[0]);
    SmallVector<Attribute> all(value.getValues<Attribute>()), out;
    for (int64_t i = start; i < end; i += step)
      out.push_back(all[i]);
    constants[node.output(0)] = DenseElementsAttr::get(
        RankedTensorType::get({static_cast<int64_t>(out.size())},
                              value.getElementType()),
        out);
    folded = true;
    return success();
  }
  if (op == "Concat" && node.input_size() >= 1 &&
      llvm::all_of(node.input(),
                   [&](const std::string &name) { return isConstant(name); })) {
    std::optional<SmallVector<int64_t>> shape = inferredShape(node.output(0));
    if (!shape) {
      // No static inferred shape (e.g. the inputs came from folded
      // Slices): the inputs' shapes joined along the axis.
      auto first = cast<RankedTensorType>(constants[node.input(0)].getType());
      if (first.getRank() == 0)
        return success();
      int64_t a = intAttr("axis", 0);
      if (a < -first.getRank() || a >= first.getRank())
        return success(); // concat() reports it
      a = a < 0 ? a + first.getRank() : a;
      shape = SmallVector<int64_t>(first.getShape());
      (*shape)[a] = 0;
      for (const std::string &name : node.input()) {
        auto t = cast<RankedTensorType>(constants[name].getType());
        if (t.getRank() != first.getRank())
          return success();
        (*shape)[a] += t.getDimSize(a);
      }
    }
    if (shape->empty())
      return success();
    int64_t rank = shape->size();
    FailureOr<int64_t> axis = normalizeAxis(intAttr("axis", 0), rank);
    if (failed(axis))
      return failure();
    // Row-major: `outer` blocks, each input contributing its slab.
    int64_t outer = 1;
    for (int64_t i = 0; i < *axis; ++i)
      outer *= (*shape)[i];
    if (outer == 0)
      return success();
    SmallVector<SmallVector<Attribute>> parts;
    SmallVector<int64_t> slab;
    for (const std::string &name : node.input()) {
      DenseElementsAttr value = constants[name];
      parts.emplace_back(value.getValues<Attribute>());
      slab.push_back(value.getNumElements() / outer);
    }
    SmallVector<Attribute> out;
    for (int64_t o = 0; o < outer; ++o)
      for (size_t p = 0; p < parts.size(); ++p)
        for (int64_t e = 0; e < slab[p]; ++e)
          out.push_back(parts[p][o * slab[p] + e]);
    Type element = constants[node.input(0)].getElementType();
    auto type = RankedTensorType::get(*shape, element);
    if (static_cast<int64_t>(out.size()) != type.getNumElements())
      return success();
    constants[node.output(0)] = DenseElementsAttr::get(type, out);
    folded = true;
  }
  return success();
}

/// ONNX Shape: the input's static shape (all of kiln's shapes are static)
/// as an int64 constant; `start` / `end` (opset 15) slice it.
LogicalResult Importer::shapeOp() {
  const std::string &name = currentNode->input(0);
  SmallVector<int64_t> shape;
  if (isConstant(name)) {
    auto type = cast<RankedTensorType>(constants[name].getType());
    shape.assign(type.getShape().begin(), type.getShape().end());
  } else {
    FailureOr<Value> x = input(0);
    if (failed(x))
      return failure();
    shape.assign(typeOf(*x).getShape().begin(), typeOf(*x).getShape().end());
  }
  int64_t rank = shape.size();
  auto clampIndex = [&](int64_t i) {
    if (i < 0)
      i += rank;
    return std::clamp<int64_t>(i, 0, rank);
  };
  int64_t start = clampIndex(intAttr("start", 0));
  int64_t end = clampIndex(intAttr("end", rank));
  SmallVector<APInt> dims;
  for (int64_t i = start; i < end; ++i)
    dims.push_back(APInt(64, shape[i], /*isSigned=*/true));
  auto type = RankedTensorType::get({static_cast<int64_t>(dims.size())},
                                    builder.getI64Type());
  constants[currentNode->output(0)] = DenseElementsAttr::get(type, dims);
  return success();
}

/// ONNX Size: the input's static element count as an int64 scalar
/// constant.
LogicalResult Importer::sizeOp() {
  const std::string &name = currentNode->input(0);
  int64_t count;
  if (isConstant(name)) {
    count = constants[name].getNumElements();
  } else {
    FailureOr<Value> x = input(0);
    if (failed(x))
      return failure();
    count = typeOf(*x).getNumElements();
  }
  constants[currentNode->output(0)] = DenseElementsAttr::get(
      RankedTensorType::get({}, builder.getI64Type()), count);
  return success();
}

/// ONNX Expand: multidirectional broadcast of the input to the constant
/// shape; a constant splat input folds.
LogicalResult Importer::expand() {
  FailureOr<SmallVector<int64_t>> target = constantInts(1);
  if (failed(target))
    return failure();
  const std::string &name = currentNode->input(0);
  if (isConstant(name) && constants[name].isSplat()) {
    DenseElementsAttr value = constants[name];
    auto type = cast<RankedTensorType>(value.getType());
    FailureOr<SmallVector<int64_t>> shape =
        broadcastShape(type.getShape(), *target);
    if (failed(shape))
      return failure();
    constants[currentNode->output(0)] = DenseElementsAttr::get(
        RankedTensorType::get(*shape, type.getElementType()),
        value.getSplatValue<Attribute>());
    return success();
  }
  FailureOr<Value> x = input(0);
  if (failed(x))
    return failure();
  FailureOr<SmallVector<int64_t>> shape =
      broadcastShape(typeOf(*x).getShape(), *target);
  if (failed(shape))
    return failure();
  RankedTensorType type = typeOf(*x);
  int64_t offset = shape->size() - type.getRank();
  SmallVector<int64_t> dims;
  for (int64_t i = 0; i < type.getRank(); ++i)
    dims.push_back(i + offset);
  // Size-1 axes that grow are expanded by broadcast_in_dim.
  return setOutput(0, create<BroadcastInDimOp>(
                          RankedTensorType::get(*shape, type.getElementType()),
                          {*x},
                          {namedAttr("broadcast_dimensions",
                                     builder.getDenseI64ArrayAttr(dims))}));
}

/// ONNX LSTM / GRU (forward, reverse, bidirectional; layout 0 or 1) as one
/// kiln.rnn per direction. ONNX keeps W [D, G*H, I], R [D, G*H, H], B [D,
/// 2*G*H] (input then recurrent biases) with gate orders i, o, f, c (LSTM)
/// and z, r, h (GRU); kiln.rnn takes Keras' kernel [I, G*H] in i, f, c, o /
/// z, r, h, so each direction's blocks are reordered and transposed in the
/// graph (the params stay in ONNX layout; their gradients flow back through
/// the slices). Both layouts (0: time-major, 1: batch-major) are read. LSTM
/// bias = Wb + Rb; GRU with linear_before_reset = 1 is Keras' reset_after (bias
/// [Wb; Rb]), with 0 Keras' reset-before form (bias Wb + Rb). The reverse
/// direction runs with go_backwards and its states stored aligned with the
/// input, as ONNX's Y holds them. The initial states initial_h / initial_c
/// ([D, N, H], layout 1: [N, D, H]; either may be absent: zeros) become each
/// direction's kiln.rnn initial_state [S, N, H], and Y_h / Y_c come from
/// its final_state, so gradients flow through both. sequence_lens [N]
/// (int32) becomes kiln.rnn's mask (t < len) with zero_output_for_mask.
/// The activations must be the defaults (RNN: Tanh, Relu, Sigmoid).
LogicalResult Importer::recurrent(StringRef cell) {
  const onnx::NodeProto &node = *currentNode;
  bool lstm = cell == "lstm", simple = cell == "simple";
  int64_t gates = lstm ? 4 : simple ? 1 : 3;
  std::string direction =
      stringAttr("direction").value_or(std::string("forward"));
  if (direction != "forward" && direction != "reverse" &&
      direction != "bidirectional") {
    nodeError() << "direction '" << direction
                << "' is not forward, reverse or bidirectional";
    return failure();
  }
  int64_t layout = intAttr("layout", 0);
  if (layout != 0 && layout != 1) {
    nodeError() << "layout " << layout << " is not 0 or 1";
    return failure();
  }
  int64_t numDirections = direction == "bidirectional" ? 2 : 1;
  // RNN's activation per direction (ONNX default Tanh): kiln.rnn's simple
  // cell computes tanh, sigmoid or relu.
  SmallVector<std::string> activations(numDirections, "tanh");
  if (simple && attr("activations")) {
    const onnx::AttributeProto *a = attr("activations");
    if (a->strings_size() != numDirections) {
      nodeError() << "activations has " << a->strings_size() << " entries for "
                  << numDirections << " direction(s)";
      return failure();
    }
    for (int64_t d = 0; d < numDirections; ++d) {
      const std::string &name = a->strings(d);
      if (name != "Tanh" && name != "Relu" && name != "Sigmoid") {
        nodeError() << "activation '" << name
                    << "' is not supported (Tanh, Relu, Sigmoid)";
        return failure();
      }
      activations[d] = StringRef(name).lower();
    }
  }
  for (StringRef unsupported :
       {"activations", "activation_alpha", "activation_beta", "clip"})
    if (attr(unsupported) && !(simple && unsupported == "activations")) {
      nodeError() << "attribute '" << unsupported
                  << "' is not supported (only the default activations)";
      return failure();
    }
  if (lstm && intAttr("input_forget", 0) != 0) {
    nodeError() << "input_forget = 1 is not supported";
    return failure();
  }
  if (lstm && node.input_size() > 7 && !node.input(7).empty()) {
    nodeError() << "peephole weights (input P) are not supported";
    return failure();
  }
  FailureOr<Value> x = floatInput(0), w = floatInput(1), r = floatInput(2);
  if (failed(x) || failed(w) || failed(r))
    return failure();
  RankedTensorType xType = typeOf(*x), wType = typeOf(*w);
  int64_t h = intAttr("hidden_size", 0);
  if (xType.getRank() != 3 || wType.getRank() != 3 || h <= 0 ||
      h > (int64_t(1) << 24) || wType.getDimSize(0) != numDirections ||
      wType.getDimSize(1) != gates * h ||
      wType.getDimSize(2) != xType.getDimSize(2) ||
      typeOf(*r).getShape() != ArrayRef<int64_t>{numDirections, gates * h, h}) {
    nodeError() << "X " << xType << ", W " << wType << ", R " << typeOf(*r)
                << " do not match hidden_size " << h << " and " << numDirections
                << " direction(s)";
    return failure();
  }
  Type element = xType.getElementType();
  // layout 0: X [T, N, I], Y [T, D, N, H], Y_h [D, N, H]; layout 1 (opset
  // 14): X [N, T, I], Y [N, T, D, H], Y_h [N, D, H].
  int64_t t = xType.getDimSize(layout ? 1 : 0),
          n = xType.getDimSize(layout ? 0 : 1), in = xType.getDimSize(2);
  // initial_h (input 5) and initial_c (input 6) as [D, N, H] (null: zeros).
  SmallVector<int64_t> stateShape =
      layout ? SmallVector<int64_t>{n, numDirections, h}
             : SmallVector<int64_t>{numDirections, n, h};
  Value initial[2];
  for (int i = 5; i < std::min(node.input_size(), 7); ++i) {
    const std::string &name = node.input(i);
    // Constant zeros (what torch exports build with Expand) are the
    // default: the first step then skips its recurrent GEMM.
    if (name.empty() || (isConstant(name) && constants[name].isSplat() &&
                         isa<FloatType>(constants[name].getElementType()) &&
                         constants[name].getSplatValue<APFloat>().isZero()))
      continue;
    FailureOr<Value> state = floatInput(i);
    if (failed(state))
      return failure();
    if (typeOf(*state) != RankedTensorType::get(stateShape, element)) {
      nodeError() << "input " << i << " ("
                  << (i == 5 ? "initial_h" : "initial_c") << ") is "
                  << typeOf(*state) << ", expected "
                  << RankedTensorType::get(stateShape, element) << " ("
                  << (layout ? "batch, directions" : "directions, batch")
                  << ", hidden_size)";
      return failure();
    }
    initial[i - 5] = layout ? transposeValue(*state, {1, 0, 2}) : *state;
  }
  Value bias;
  if (node.input_size() > 3 && !node.input(3).empty()) {
    FailureOr<Value> b = floatInput(3);
    if (failed(b))
      return failure();
    bias = *b;
    if (typeOf(bias).getShape() !=
        ArrayRef<int64_t>{numDirections, 2 * gates * h}) {
      nodeError() << "B " << typeOf(bias) << " is not [" << numDirections
                  << ", " << 2 * gates * h << "]";
      return failure();
    }
  }
  bool resetAfter = !lstm && intAttr("linear_before_reset", 0) != 0;
  // The ONNX gate block of each Keras gate: LSTM i, f, c, o <- i (0), f (2),
  // c (3), o (1); GRU keeps z, r, h.
  SmallVector<int64_t> order = lstm     ? SmallVector<int64_t>{0, 2, 3, 1}
                               : simple ? SmallVector<int64_t>{0}
                                        : SmallVector<int64_t>{0, 1, 2};
  auto tensor = [&](ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, element);
  };
  auto axisAttr = [&](int64_t axis) {
    return namedAttr("axis", builder.getI64IntegerAttr(axis));
  };
  auto sliceOf = [&](Value v, ArrayRef<int64_t> start,
                     ArrayRef<int64_t> limit) {
    SmallVector<int64_t> shape, strides(start.size(), 1);
    for (size_t i = 0; i < start.size(); ++i)
      shape.push_back(limit[i] - start[i]);
    return create<SliceOp>(
        tensor(shape), {v},
        {namedAttr("start", builder.getDenseI64ArrayAttr(start)),
         namedAttr("limit", builder.getDenseI64ArrayAttr(limit)),
         namedAttr("strides", builder.getDenseI64ArrayAttr(strides))});
  };
  // Direction d of a [D, G*h, cols] weight, gate blocks in the Keras order,
  // transposed to [cols, G*h].
  auto kernelOf = [&](Value weight, int64_t d, int64_t cols) {
    SmallVector<Value> blocks;
    for (int64_t k : order)
      blocks.push_back(
          reshape(sliceOf(weight, {d, k * h, 0}, {d + 1, (k + 1) * h, cols}),
                  {h, cols}));
    Value rows =
        create<ConcatOp>(tensor({gates * h, cols}), blocks, {axisAttr(0)});
    return transposeValue(rows, {1, 0});
  };
  // Part `half` (0: Wb, 1: Rb) of direction d's bias, Keras gate order.
  auto biasOf = [&](int64_t d, int64_t half) {
    SmallVector<Value> blocks;
    for (int64_t k : order) {
      int64_t start = half * gates * h + k * h;
      blocks.push_back(
          reshape(sliceOf(bias, {d, start}, {d + 1, start + h}), {h}));
    }
    return create<ConcatOp>(tensor({gates * h}), blocks, {axisAttr(0)});
  };
  Value seq = layout ? *x : transposeValue(*x, {1, 0, 2}); // [N, T, I]
  // sequence_lens [N] (int32): steps t >= len of a sample are kiln.rnn's
  // masked steps with zero outputs (ONNX: Y = 0 there, Y_h the state
  // after the last valid step). A reverse direction then starts at the
  // sample's last valid step, as ONNX's does: the masked steps before it
  // carry the initial state.
  Value mask;
  if (node.input_size() > 4 && !node.input(4).empty()) {
    FailureOr<Value> lens = input(4);
    if (failed(lens))
      return failure();
    RankedTensorType lensType = typeOf(*lens);
    if (lensType.getShape() != ArrayRef<int64_t>{n} ||
        !lensType.getElementType().isInteger(32)) {
      nodeError() << "input 4 (sequence_lens) is " << lensType << ", expected "
                  << RankedTensorType::get({n}, builder.getI32Type())
                  << " (batch)";
      return failure();
    }
    auto steps = RankedTensorType::get({n, t}, builder.getI32Type());
    Value iota = create<IotaOp>(
        steps, {}, {namedAttr("dimension", builder.getI64IntegerAttr(1))});
    Value bounds = create<BroadcastInDimOp>(
        steps, {*lens},
        {namedAttr("broadcast_dimensions", builder.getDenseI64ArrayAttr({0}))});
    Value valid = builder.create<CompareOp>(currentLoc, ComparisonDirection::lt,
                                            iota, bounds);
    mask = create<ConvertOp>(tensor({n, t}), {valid});
  }
  // Direction d's initial_state [S, N, H] (null when neither is given).
  auto initialOf = [&](int64_t d) -> Value {
    if (!initial[0] && !initial[1])
      return Value();
    SmallVector<Value> parts;
    for (int64_t k = 0; k < (lstm ? 2 : 1); ++k)
      parts.push_back(initial[k] ? sliceOf(initial[k], {d, 0, 0}, {d + 1, n, h})
                                 : splat(tensor({1, n, h}), 0.0));
    return parts.size() == 1
               ? parts[0]
               : create<ConcatOp>(tensor({2, n, h}), parts, {axisAttr(0)});
  };
  SmallVector<Value> sequences, lasts, cells;
  for (int64_t d = 0; d < numDirections; ++d) {
    bool backward = direction == "reverse" || d == 1;
    Value kernel = kernelOf(*w, d, in);
    Value recurrentKernel = kernelOf(*r, d, h);
    Value b;
    if (!bias) {
      b = splat(resetAfter ? tensor({2, 3 * h}) : tensor({gates * h}), 0.0);
    } else if (resetAfter) {
      b = create<ConcatOp>(tensor({2, 3 * h}),
                           {reshape(biasOf(d, 0), {1, 3 * h}),
                            reshape(biasOf(d, 1), {1, 3 * h})},
                           {axisAttr(0)});
    } else {
      b = create<AddOp>(tensor({gates * h}), {biasOf(d, 0), biasOf(d, 1)});
    }
    auto rnn = builder.create<RnnOp>(
        currentLoc, seq, kernel, recurrentKernel, b, mask, initialOf(d),
        builder.getStringAttr(cell), builder.getStringAttr(activations[d]),
        builder.getStringAttr("sigmoid"), builder.getBoolAttr(backward),
        builder.getBoolAttr(backward),
        builder.getBoolAttr(cell == "gru" ? resetAfter : true),
        /*zero_output_for_mask=*/builder.getBoolAttr(static_cast<bool>(mask)));
    Value y = rnn.getResult(); // [N, T, H], aligned with the input
    sequences.push_back(reshape(y, {n, t, 1, h}));
    // final_state [S, N, H]: h (Y_h), then the LSTM's c (Y_c).
    Value states = rnn.getFinalState();
    lasts.push_back(lstm ? sliceOf(states, {0, 0, 0}, {1, n, h}) : states);
    if (lstm)
      cells.push_back(sliceOf(states, {1, 0, 0}, {2, n, h}));
  }
  Value all = sequences.size() == 1
                  ? sequences[0]
                  : create<ConcatOp>(tensor({n, t, numDirections, h}),
                                     sequences, {axisAttr(2)});
  if (failed(setOutput(0, layout ? all : transposeValue(all, {1, 2, 0, 3}))))
    return failure();
  // Y_h and Y_c: [D, N, H] (layout 1: [N, D, H]).
  auto stateOutput = [&](ArrayRef<Value> perDirection) {
    Value v = perDirection.size() == 1
                  ? perDirection[0]
                  : create<ConcatOp>(tensor({numDirections, n, h}),
                                     perDirection, {axisAttr(0)});
    return layout ? transposeValue(v, {1, 0, 2}) : v;
  };
  if (failed(setOutput(1, stateOutput(lasts))))
    return failure();
  if (lstm)
    return setOutput(2, stateOutput(cells));
  return success();
}

/// A double truncated towards zero to int64 (a float-to-integer Cast); NaN
/// and values outside int64 give 0 and the int64 bounds (ONNX leaves them
/// undefined).
static int64_t toInt(double v) {
  if (std::isnan(v))
    return 0;
  if (v >= 9.2233720368547758e18)
    return std::numeric_limits<int64_t>::max();
  if (v <= -9.2233720368547758e18)
    return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(std::trunc(v));
}

/// ONNX elementwise ops whose inputs are all import-time constants fold
/// at import, with multidirectional broadcasting: the shape arithmetic
/// exporters emit (PyTorch's nn.MultiheadAttention computes its slice
/// bounds as Add/Div/Mul of int64 sizes), comparisons, Where and Cast of
/// constants. Integer results are computed in int64 (Div truncates towards
/// zero, as C and ONNX Runtime), float ones in double and rounded once to
/// the element type (exact IEEE results for one f32 operation).
LogicalResult Importer::foldConstantElementwise(bool &folded) {
  const onnx::NodeProto &node = *currentNode;
  StringRef op = node.op_type();
  static const llvm::StringSet<> foldable = {"Add",         "Sub",
                                             "Mul",         "Div",
                                             "Neg",         "Abs",
                                             "Equal",       "Less",
                                             "LessOrEqual", "Greater",
                                             "Where",       "Cast",
                                             "Reciprocal",  "GreaterOrEqual",
                                             "Sqrt"};
  if (!foldable.contains(op) || node.input_size() == 0 ||
      !llvm::all_of(node.input(),
                    [&](const std::string &name) { return isConstant(name); }))
    return success();
  SmallVector<DenseElementsAttr> in;
  for (const std::string &name : node.input())
    in.push_back(constants[name]);
  auto shapeOf = [](DenseElementsAttr a) {
    return cast<RankedTensorType>(a.getType()).getShape();
  };
  SmallVector<int64_t> shape(shapeOf(in[0]));
  for (DenseElementsAttr a : ArrayRef(in).drop_front()) {
    FailureOr<SmallVector<int64_t>> s = broadcastShape(shape, shapeOf(a));
    if (failed(s))
      return failure();
    shape = *s;
  }
  // Large results (constant tensors, not shape arithmetic) are left to the
  // op's own import, which materializes its constant operands.
  int64_t resultSize = 1;
  for (int64_t d : shape)
    resultSize *= d;
  if (resultSize > (int64_t(1) << 16))
    return success();
  // Each input's elements as doubles and int64s, and whether it is float.
  struct Elements {
    SmallVector<double> f;
    SmallVector<int64_t> i;
    bool isFloat;
    SmallVector<int64_t> strides; // broadcast strides in the result shape
  };
  SmallVector<Elements> e(in.size());
  int64_t rank = shape.size();
  for (auto [k, a] : llvm::enumerate(in)) {
    Type t = a.getElementType();
    e[k].isFloat = isa<FloatType>(t);
    for (Attribute v : a.getValues<Attribute>()) {
      if (auto f = dyn_cast<FloatAttr>(v)) {
        e[k].f.push_back(f.getValueAsDouble());
        e[k].i.push_back(toInt(f.getValueAsDouble()));
      } else {
        const APInt &x = cast<IntegerAttr>(v).getValue();
        int64_t n = t.isInteger(1) ? x.getZExtValue() : x.getSExtValue();
        e[k].i.push_back(n);
        e[k].f.push_back(static_cast<double>(n));
      }
    }
    ArrayRef<int64_t> s = shapeOf(a);
    e[k].strides.assign(rank, 0);
    int64_t stride = 1;
    for (int64_t d = s.size() - 1; d >= 0; --d) {
      if (s[d] != 1)
        e[k].strides[rank - s.size() + d] = stride;
      stride *= s[d];
    }
  }
  Type element = in[0].getElementType();
  if (op == "Where")
    element = in[1].getElementType();
  else if (op == "Cast") {
    element = elementType(intAttr("to", 0));
    if (!element)
      return success(); // castOp reports it
  } else if (op == "Equal" || op == "Less" || op == "LessOrEqual" ||
             op == "Greater" || op == "GreaterOrEqual")
    element = builder.getI1Type();
  bool binaryArith = op == "Add" || op == "Sub" || op == "Mul" || op == "Div";
  if ((binaryArith || element.isInteger(1)) && op != "Cast" && op != "Where" &&
      in.size() == 2 && in[0].getElementType() != in[1].getElementType()) {
    nodeError() << "operand element types differ";
    return failure();
  }
  if ((op == "Sqrt" || op == "Reciprocal") && !e[0].isFloat)
    return success(); // the op's own import reports it
  bool floatMath = op == "Where" ? false : e[0].isFloat;
  auto type = RankedTensorType::get(shape, element);
  SmallVector<Attribute> out;
  int64_t count = type.getNumElements();
  SmallVector<int64_t> index(rank, 0);
  for (int64_t n = 0; n < count; ++n) {
    SmallVector<int64_t> at(in.size(), 0);
    for (size_t k = 0; k < in.size(); ++k)
      for (int64_t d = 0; d < rank; ++d)
        at[k] += index[d] * e[k].strides[d];
    auto f = [&](size_t k) { return e[k].f[at[k]]; };
    auto i = [&](size_t k) { return e[k].i[at[k]]; };
    // The result as a double, an int64 and a bool; the element type picks.
    double fv = 0;
    int64_t iv = 0;
    auto fromFloat = [&](double v) {
      fv = v;
      iv = toInt(v);
    };
    auto fromInt = [&](int64_t v) {
      iv = v;
      fv = static_cast<double>(v);
    };
    if (op == "Add")
      floatMath ? fromFloat(f(0) + f(1)) : fromInt(i(0) + i(1));
    else if (op == "Sub")
      floatMath ? fromFloat(f(0) - f(1)) : fromInt(i(0) - i(1));
    else if (op == "Mul")
      floatMath ? fromFloat(f(0) * f(1)) : fromInt(i(0) * i(1));
    else if (op == "Div") {
      if (!floatMath && i(1) == 0) {
        nodeError() << "integer division by zero";
        return failure();
      }
      floatMath ? fromFloat(f(0) / f(1)) : fromInt(i(0) / i(1));
    } else if (op == "Neg")
      floatMath ? fromFloat(-f(0)) : fromInt(-i(0));
    else if (op == "Abs")
      floatMath ? fromFloat(std::fabs(f(0))) : fromInt(i(0) < 0 ? -i(0) : i(0));
    else if (op == "Sqrt")
      fromFloat(std::sqrt(f(0)));
    else if (op == "Reciprocal")
      fromFloat(1.0 / f(0));
    else if (op == "Where") {
      size_t k = i(0) != 0 ? 1 : 2;
      e[k].isFloat ? fromFloat(f(k)) : fromInt(i(k));
    } else if (op == "Cast")
      e[0].isFloat ? fromFloat(f(0)) : fromInt(i(0));
    else {
      bool lt = floatMath ? f(0) < f(1) : i(0) < i(1);
      bool eq = floatMath ? f(0) == f(1) : i(0) == i(1);
      bool gt = floatMath ? f(0) > f(1) : i(0) > i(1);
      bool r = op == "Equal"         ? eq
               : op == "Less"        ? lt
               : op == "LessOrEqual" ? lt || eq
               : op == "Greater"     ? gt
                                     : gt || eq;
      fromInt(r);
    }
    if (element.isInteger(1))
      out.push_back(builder.getBoolAttr(fv != 0));
    else if (isa<FloatType>(element))
      out.push_back(builder.getFloatAttr(element, fv));
    else
      out.push_back(builder.getIntegerAttr(element, iv));
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++index[d] < shape[d])
        break;
      index[d] = 0;
    }
  }
  constants[node.output(0)] = DenseElementsAttr::get(type, out);
  folded = true;
  return success();
}

/// ONNX Equal, Less, LessOrEqual, Greater, GreaterOrEqual: kiln.compare of
/// the broadcast operands (same element type, float or integer), i1 result.
LogicalResult Importer::compare(ComparisonDirection direction) {
  FailureOr<Value> a = input(0), b = failure();
  if (failed(a) || failed(b = input(1)))
    return failure();
  if (typeOf(*a).getElementType() != typeOf(*b).getElementType()) {
    nodeError() << "operand element types differ ("
                << typeOf(*a).getElementType() << " vs "
                << typeOf(*b).getElementType() << ")";
    return failure();
  }
  FailureOr<SmallVector<int64_t>> shape =
      broadcastShape(typeOf(*a).getShape(), typeOf(*b).getShape());
  if (failed(shape))
    return failure();
  Value lhs = broadcastTo(*a, *shape), rhs = broadcastTo(*b, *shape);
  return setOutput(
      0,
      builder.create<CompareOp>(currentLoc, direction, lhs, rhs).getResult());
}

/// ONNX Where: kiln.select of the three broadcast operands (a bool
/// condition; X and Y of one element type).
LogicalResult Importer::where() {
  FailureOr<Value> c = input(0), x = failure(), y = failure();
  if (failed(c) || failed(x = input(1)) || failed(y = input(2)))
    return failure();
  if (!typeOf(*c).getElementType().isInteger(1)) {
    nodeError() << "condition must be bool, got "
                << typeOf(*c).getElementType();
    return failure();
  }
  if (typeOf(*x).getElementType() != typeOf(*y).getElementType()) {
    nodeError() << "X and Y element types differ";
    return failure();
  }
  FailureOr<SmallVector<int64_t>> shape =
      broadcastShape(typeOf(*c).getShape(), typeOf(*x).getShape());
  if (failed(shape))
    return failure();
  shape = broadcastShape(*shape, typeOf(*y).getShape());
  if (failed(shape))
    return failure();
  Value pred = broadcastTo(*c, *shape);
  Value onTrue = broadcastTo(*x, *shape), onFalse = broadcastTo(*y, *shape);
  return setOutput(
      0,
      builder.create<SelectOp>(currentLoc, pred, onTrue, onFalse).getResult());
}

/// ONNX Reciprocal: 1 / x (kiln.div, correctly rounded).
LogicalResult Importer::reciprocal() {
  FailureOr<Value> x = floatInput(0);
  if (failed(x))
    return failure();
  RankedTensorType type = typeOf(*x);
  return setOutput(0, create<DivOp>(type, {splat(type, 1.0), *x}));
}

/// ONNX Split (opsets 7-17): `axis` (default 0) cut into the `split`
/// sizes (an attribute before opset 13, a constant input from 13) or into
/// as many equal parts as the node has outputs; one kiln.slice each.
LogicalResult Importer::split() {
  FailureOr<Value> x = input(0);
  if (failed(x))
    return failure();
  RankedTensorType type = typeOf(*x);
  FailureOr<int64_t> axis = normalizeAxis(intAttr("axis", 0), type.getRank());
  if (failed(axis))
    return failure();
  int64_t size = type.getDimSize(*axis);
  int64_t parts = currentNode->output_size();
  SmallVector<int64_t> sizes;
  if (opset >= 13 && hasInput(1)) {
    FailureOr<SmallVector<int64_t>> s = constantInts(1);
    if (failed(s))
      return failure();
    sizes = *s;
  } else if (opset < 13 && attr("split")) {
    sizes = *intsAttr("split");
  } else {
    if (parts == 0 || size % parts != 0) {
      nodeError() << "axis " << *axis << " of size " << size
                  << " does not split into " << parts << " equal parts";
      return failure();
    }
    sizes.assign(parts, size / parts);
  }
  if (static_cast<int64_t>(sizes.size()) != parts) {
    nodeError() << "split has " << sizes.size() << " entries for " << parts
                << " outputs";
    return failure();
  }
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0) {
      nodeError() << "negative split size " << s;
      return failure();
    }
    total += s;
  }
  if (total != size) {
    nodeError() << "split sizes sum to " << total << ", axis " << *axis
                << " has size " << size;
    return failure();
  }
  int64_t offset = 0;
  for (int64_t k = 0; k < parts; ++k) {
    SmallVector<int64_t> start(type.getRank(), 0), limit(type.getShape()),
        strides(type.getRank(), 1), shape(type.getShape());
    start[*axis] = offset;
    limit[*axis] = offset + sizes[k];
    shape[*axis] = sizes[k];
    offset += sizes[k];
    Value part =
        sizes[k] == size
            ? *x
            : create<SliceOp>(
                  RankedTensorType::get(shape, type.getElementType()), {*x},
                  {namedAttr("start", builder.getDenseI64ArrayAttr(start)),
                   namedAttr("limit", builder.getDenseI64ArrayAttr(limit)),
                   namedAttr("strides",
                             builder.getDenseI64ArrayAttr(strides))});
    (void)setOutput(k, part);
  }
  return success();
}

/// ONNX Range of constant scalars: start, start + delta, ... before limit
/// (max(ceil((limit - start) / delta), 0) elements), folded at import.
LogicalResult Importer::range() {
  SmallVector<DenseElementsAttr> in;
  for (unsigned k = 0; k < 3; ++k) {
    FailureOr<DenseElementsAttr> c = constantInput(k);
    if (failed(c))
      return failure();
    if (c->getNumElements() != 1) {
      nodeError() << "input " << k << " must be a scalar";
      return failure();
    }
    in.push_back(*c);
  }
  Type element = in[0].getElementType();
  bool isFloat = isa<FloatType>(element);
  auto get = [&](unsigned k) {
    Attribute v = *in[k].getValues<Attribute>().begin();
    if (auto f = dyn_cast<FloatAttr>(v))
      return f.getValueAsDouble();
    return static_cast<double>(cast<IntegerAttr>(v).getValue().getSExtValue());
  };
  double start = get(0), limit = get(1), delta = get(2);
  if (delta == 0 || !std::isfinite(start) || !std::isfinite(limit) ||
      !std::isfinite(delta)) {
    nodeError() << "delta must be nonzero and the bounds finite";
    return failure();
  }
  double n = std::max(std::ceil((limit - start) / delta), 0.0);
  if (n > double(int64_t(1) << 32)) {
    nodeError() << "range of " << n << " elements is too large";
    return failure();
  }
  auto type = RankedTensorType::get({static_cast<int64_t>(n)}, element);
  SmallVector<Attribute> out;
  for (int64_t k = 0; k < static_cast<int64_t>(n); ++k) {
    if (isFloat)
      out.push_back(builder.getFloatAttr(element, start + k * delta));
    else
      out.push_back(
          builder.getIntegerAttr(element, static_cast<int64_t>(start) +
                                              k * static_cast<int64_t>(delta)));
  }
  constants[currentNode->output(0)] = DenseElementsAttr::get(type, out);
  return success();
}

/// ONNX ConstantOfShape of a constant shape: a splat of `value` (a
/// one-element tensor, default float 0), folded at import.
LogicalResult Importer::constantOfShape() {
  FailureOr<SmallVector<int64_t>> shape = constantInts(0);
  if (failed(shape))
    return failure();
  for (int64_t d : *shape)
    if (d < 0) {
      nodeError() << "negative dimension " << d << " in the shape";
      return failure();
    }
  Attribute v = builder.getF32FloatAttr(0.0f);
  Type element = builder.getF32Type();
  if (const onnx::AttributeProto *a = attr("value")) {
    FailureOr<DenseElementsAttr> t = toElements(a->t());
    if (failed(t))
      return failure();
    if (t->getNumElements() != 1) {
      nodeError() << "value must hold one element";
      return failure();
    }
    v = *t->getValues<Attribute>().begin();
    element = t->getElementType();
  }
  constants[currentNode->output(0)] =
      DenseElementsAttr::get(RankedTensorType::get(*shape, element), v);
  return success();
}

/// ONNX LayerNormalization (opset 17): over the axes [axis, rank) (axis
/// default -1, negative counts from the end), mean and biased variance,
/// Y = (X - mean) * rsqrt(variance + epsilon) * Scale + B (Ba et al. 2016;
/// epsilon default 1e-5), Scale and B broadcast to X's shape. The optional
/// outputs Mean and InvStdDev have X's shape with the normalized axes
/// kept as 1. stash_type 1 (float) only; f64 inputs compute in f64.
LogicalResult Importer::layerNormalization() {
  FailureOr<Value> x = floatInput(0), scale = failure();
  if (failed(x) || failed(scale = floatInput(1)))
    return failure();
  if (intAttr("stash_type", 1) != 1) {
    nodeError() << "stash_type " << intAttr("stash_type", 1)
                << " is not supported (1: float)";
    return failure();
  }
  RankedTensorType type = typeOf(*x);
  int64_t rank = type.getRank();
  FailureOr<int64_t> axis = normalizeAxis(intAttr("axis", -1), rank);
  if (failed(axis))
    return failure();
  double epsilon = floatAttr("epsilon", 1e-5);
  SmallVector<int64_t> axes, kept, reducedShape, statShape;
  for (int64_t d = 0; d < rank; ++d) {
    if (d >= *axis) {
      axes.push_back(d);
      statShape.push_back(1);
    } else {
      kept.push_back(d);
      reducedShape.push_back(type.getDimSize(d));
      statShape.push_back(type.getDimSize(d));
    }
  }
  Type element = type.getElementType();
  auto reducedType = RankedTensorType::get(reducedShape, element);
  auto expand = [&](Value v) {
    return create<BroadcastInDimOp>(
        type, {v},
        {namedAttr("broadcast_dimensions",
                   builder.getDenseI64ArrayAttr(kept))});
  };
  auto meanOf = [&](Value v) {
    return create<ReduceMeanOp>(
        reducedType, {v},
        {namedAttr("axes", builder.getDenseI64ArrayAttr(axes)),
         namedAttr("keep_dims", builder.getBoolAttr(false))});
  };
  Value mean = meanOf(*x);
  Value centered = create<SubOp>(type, {*x, expand(mean)});
  Value variance = meanOf(create<MulOp>(type, {centered, centered}));
  Value inv = create<RsqrtOp>(
      reducedType,
      {create<AddOp>(reducedType, {variance, splat(reducedType, epsilon)})});
  Value y = create<MulOp>(type, {centered, expand(inv)});
  auto affine = [&](Value p) -> FailureOr<Value> {
    FailureOr<SmallVector<int64_t>> s =
        broadcastShape(type.getShape(), typeOf(p).getShape());
    if (failed(s))
      return failure();
    if (ArrayRef<int64_t>(*s) != type.getShape() ||
        typeOf(p).getElementType() != element) {
      nodeError() << "Scale/B " << typeOf(p) << " does not broadcast to X "
                  << type;
      return failure();
    }
    return broadcastTo(p, type.getShape());
  };
  FailureOr<Value> s = affine(*scale);
  if (failed(s))
    return failure();
  y = create<MulOp>(type, {y, *s});
  if (hasInput(2)) {
    FailureOr<Value> b = floatInput(2);
    if (failed(b) || failed(b = affine(*b)))
      return failure();
    y = create<AddOp>(type, {y, *b});
  }
  (void)setOutput(1, reshape(mean, statShape));
  (void)setOutput(2, reshape(inv, statShape));
  return setOutput(0, y);
}

LogicalResult Importer::castOp() {
  FailureOr<Value> x = input(0);
  if (failed(x))
    return failure();
  int64_t to = intAttr("to", 0);
  Type element = elementType(to);
  if (!element) {
    nodeError() << "cast to " << onnxTypeName(to)
                << " is not supported (FLOAT, DOUBLE, INT32, INT64, BOOL)";
    return failure();
  }
  RankedTensorType type = typeOf(*x);
  if (type.getElementType() == element)
    return setOutput(0, *x);
  return setOutput(0, create<ConvertOp>(type.clone(element), {*x}));
}

//===----------------------------------------------------------------------===//
// Convolution, pooling and normalization
//===----------------------------------------------------------------------===//
//
// ONNX activations are NCHW and weights OIHW; kiln.conv and the pooling ops
// are channels-last. Activations are transposed NCHW -> NHWC before each
// conv/pool node and back after it; the canonicalization patterns of
// kiln.transpose (KilnOps.cpp) cancel the pairs between consecutive layers.
// Weight initializers read only as Conv/ConvTranspose filters are stored
// permuted to [K.., C/groups, F] (no per-step transpose); other filters
// (graph inputs, computed values) get a kiln.transpose.

/// The llvm::Error messages of a shape rule, joined on one line.
static std::string errorText(llvm::Error e) {
  std::string text = llvm::toString(std::move(e));
  std::string out;
  for (char c : StringRef(text).trim())
    out += c == '\n' ? std::string("; ") : std::string(1, c);
  return out;
}

/// [0, 2, .., rank-1, 1]: NC... -> N...C.
static SmallVector<int64_t> channelsLastPerm(int64_t rank) {
  SmallVector<int64_t> perm{0};
  for (int64_t i = 2; i < rank; ++i)
    perm.push_back(i);
  perm.push_back(1);
  return perm;
}

/// [0, rank-1, 1, .., rank-2]: N...C -> NC....
static SmallVector<int64_t> channelsFirstPerm(int64_t rank) {
  SmallVector<int64_t> perm{0, rank - 1};
  for (int64_t i = 1; i < rank - 1; ++i)
    perm.push_back(i);
  return perm;
}

/// [2, .., rank-1, 1, 0]: ONNX [F, C/groups, K..] -> kiln [K.., C/groups, F].
static SmallVector<int64_t> filterPerm(int64_t rank) {
  SmallVector<int64_t> perm;
  for (int64_t i = 2; i < rank; ++i)
    perm.push_back(i);
  perm.append({1, 0});
  return perm;
}

/// `value` with its axes permuted (result axis i is axis perm[i]).
static DenseElementsAttr permuteElements(DenseElementsAttr value,
                                         ArrayRef<int64_t> perm) {
  auto type = cast<RankedTensorType>(value.getType());
  ArrayRef<int64_t> shape = type.getShape();
  SmallVector<int64_t> newShape;
  for (int64_t p : perm)
    newShape.push_back(shape[p]);
  auto newType = RankedTensorType::get(newShape, type.getElementType());
  if (value.isSplat())
    return value.reshape(newType);
  int64_t rank = shape.size();
  SmallVector<int64_t> strides(rank, 1);
  for (int64_t i = rank - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  size_t width = type.getElementTypeBitWidth() / 8;
  ArrayRef<char> raw = value.getRawData();
  std::vector<char> out(raw.size());
  SmallVector<int64_t> index(rank, 0);
  for (int64_t n = 0, e = type.getNumElements(); n < e; ++n) {
    int64_t from = 0;
    for (int64_t i = 0; i < rank; ++i)
      from += index[i] * strides[perm[i]];
    std::memcpy(out.data() + n * width, raw.data() + from * width, width);
    for (int64_t i = rank - 1; i >= 0; --i) {
      if (++index[i] < newShape[i])
        break;
      index[i] = 0;
    }
  }
  return DenseElementsAttr::getFromRawBuffer(newType, out);
}

Value Importer::transposeValue(Value v, ArrayRef<int64_t> perm) {
  RankedTensorType type = typeOf(v);
  SmallVector<int64_t> shape;
  for (int64_t p : perm)
    shape.push_back(type.getDimSize(p));
  return create<TransposeOp>(
      RankedTensorType::get(shape, type.getElementType()), {v},
      {namedAttr("permutation", builder.getDenseI64ArrayAttr(perm))});
}

Value Importer::toChannelsLast(Value v) {
  return transposeValue(v, channelsLastPerm(typeOf(v).getRank()));
}

Value Importer::toChannelsFirst(Value v) {
  return transposeValue(v, channelsFirstPerm(typeOf(v).getRank()));
}

/// Input `index` as an [N, C, D1..Dd] float tensor, d in 1..3.
FailureOr<Value> Importer::spatialInput(unsigned index) {
  FailureOr<Value> x = floatInput(index);
  if (failed(x))
    return failure();
  int64_t rank = typeOf(*x).getRank();
  if (rank < 3 || rank > 5) {
    nodeError() << "input " << index << " has shape "
                << shapeString(typeOf(*x).getShape())
                << "; kiln supports [N, C, D1..Dd] with 1 to 3 spatial axes";
    return failure();
  }
  return x;
}

/// The filter input as kiln's [K.., C/groups, F]: the stored permuted
/// initializer, or a kiln.transpose of any other value.
FailureOr<Value> Importer::channelsLastFilter(unsigned index, int64_t rank) {
  FailureOr<Value> w = floatInput(index);
  if (failed(w))
    return failure();
  if (typeOf(*w).getRank() != rank) {
    nodeError() << "the weight has shape " << shapeString(typeOf(*w).getShape())
                << "; expected rank " << rank << " like the input";
    return failure();
  }
  if (channelsLastFilters.contains(currentNode->input(index)))
    return *w;
  return transposeValue(*w, filterPerm(rank));
}

/// `y` (channels-last) plus the [C] bias of input `index`, if given.
FailureOr<Value> Importer::addChannelBias(Value y, unsigned index) {
  if (!hasInput(index))
    return y;
  FailureOr<Value> b = floatInput(index);
  if (failed(b))
    return failure();
  RankedTensorType type = typeOf(y);
  int64_t rank = type.getRank();
  if (typeOf(*b).getShape() != ArrayRef<int64_t>{type.getDimSize(rank - 1)}) {
    nodeError() << "the bias has shape " << shapeString(typeOf(*b).getShape())
                << "; expected [" << type.getDimSize(rank - 1) << "]";
    return failure();
  }
  Value bias = create<BroadcastInDimOp>(
      type, {*b},
      {namedAttr("broadcast_dimensions",
                 builder.getDenseI64ArrayAttr({rank - 1}))});
  return create<AddOp>(type, {y, bias});
}

FailureOr<SmallVector<int64_t>> Importer::spatialInts(StringRef name, int64_t d,
                                                      int64_t defaultValue) {
  std::optional<SmallVector<int64_t>> v = intsAttr(name);
  if (!v)
    return SmallVector<int64_t>(d, defaultValue);
  if (static_cast<int64_t>(v->size()) != d) {
    nodeError() << name << " has " << v->size() << " entries for " << d
                << " spatial axes";
    return failure();
  }
  return *v;
}

/// Reads strides, dilations, pads and auto_pad for an input of spatial
/// sizes `spatial` and a window of `kernel`. SAME_UPPER puts the odd
/// padding element at the end, SAME_LOWER at the start; VALID pads nothing.
LogicalResult Importer::readWindow(ArrayRef<int64_t> spatial,
                                   ArrayRef<int64_t> kernel,
                                   bool allowDilations, Window &w) {
  int64_t d = spatial.size();
  w.kernel.assign(kernel.begin(), kernel.end());
  FailureOr<SmallVector<int64_t>> strides = spatialInts("strides", d, 1);
  FailureOr<SmallVector<int64_t>> dilations = spatialInts("dilations", d, 1);
  if (failed(strides) || failed(dilations))
    return failure();
  w.strides = *strides;
  w.dilations = *dilations;
  if (!allowDilations &&
      llvm::any_of(w.dilations, [](int64_t x) { return x != 1; })) {
    nodeError() << "dilations other than 1 are not supported (kiln's pooling "
                   "ops have no dilation)";
    return failure();
  }
  std::string autoPad = stringAttr("auto_pad").value_or("NOTSET");
  w.padLow.assign(d, 0);
  w.padHigh.assign(d, 0);
  if (autoPad == "NOTSET") {
    if (std::optional<SmallVector<int64_t>> pads = intsAttr("pads")) {
      if (static_cast<int64_t>(pads->size()) != 2 * d) {
        nodeError() << "pads has " << pads->size() << " entries for " << d
                    << " spatial axes (expected " << 2 * d << ")";
        return failure();
      }
      w.padLow.assign(pads->begin(), pads->begin() + d);
      w.padHigh.assign(pads->begin() + d, pads->end());
    }
    return success();
  }
  if (autoPad == "VALID")
    return success();
  if (autoPad != "SAME_UPPER" && autoPad != "SAME_LOWER") {
    nodeError() << "auto_pad '" << autoPad << "' is not one of NOTSET, "
                << "SAME_UPPER, SAME_LOWER, VALID";
    return failure();
  }
  for (int64_t i = 0; i < d; ++i) {
    if (w.strides[i] < 1) {
      nodeError() << "strides must be >= 1";
      return failure();
    }
    int64_t out = (spatial[i] + w.strides[i] - 1) / w.strides[i];
    int64_t total = std::max<int64_t>(0, (out - 1) * w.strides[i] +
                                             (kernel[i] - 1) * w.dilations[i] +
                                             1 - spatial[i]);
    int64_t small = total / 2, large = total - small;
    w.padLow[i] = autoPad == "SAME_UPPER" ? small : large;
    w.padHigh[i] = autoPad == "SAME_UPPER" ? large : small;
  }
  return success();
}

/// The input, the filter (channels-last, HWIO) and the filter's kernel
/// sizes of a Conv or ConvTranspose node, checked against the node's
/// kernel_shape and each other's element type.
FailureOr<Importer::ConvOperands> Importer::convOperands() {
  FailureOr<Value> x = spatialInput(0);
  if (failed(x))
    return failure();
  int64_t rank = typeOf(*x).getRank();
  FailureOr<Value> filter = channelsLastFilter(1, rank);
  if (failed(filter))
    return failure();
  if (typeOf(*filter).getElementType() != typeOf(*x).getElementType()) {
    nodeError() << "input and weight element types differ";
    return failure();
  }
  SmallVector<int64_t> kernel(typeOf(*filter).getShape().take_front(rank - 2));
  if (std::optional<SmallVector<int64_t>> k = intsAttr("kernel_shape"))
    if (*k != kernel) {
      nodeError() << "kernel_shape " << shapeString(*k)
                  << " differs from the weight's " << shapeString(kernel);
      return failure();
    }
  return ConvOperands{*x, *filter, std::move(kernel)};
}

LogicalResult Importer::conv() {
  FailureOr<ConvOperands> operands = convOperands();
  if (failed(operands))
    return failure();
  Value x = operands->input, filter = operands->filter;
  ArrayRef<int64_t> filterShape = typeOf(filter).getShape();
  ArrayRef<int64_t> kernel = operands->kernel;
  Window w;
  if (failed(readWindow(typeOf(x).getShape().drop_front(2), kernel, true, w)))
    return failure();
  int64_t groups = intAttr("group", 1);
  Value input = toChannelsLast(x);
  ConvWindow window{w.strides, w.dilations, w.padLow, w.padHigh, groups};
  llvm::Expected<Shape> shape =
      inferConvShape(typeOf(input).getShape(), filterShape, window);
  if (!shape) {
    nodeError() << errorText(shape.takeError());
    return failure();
  }
  Value y = create<ConvOp>(
      RankedTensorType::get(*shape, typeOf(input).getElementType()),
      {input, filter},
      {namedAttr("strides", builder.getDenseI64ArrayAttr(w.strides)),
       namedAttr("dilations", builder.getDenseI64ArrayAttr(w.dilations)),
       namedAttr("pad_low", builder.getDenseI64ArrayAttr(w.padLow)),
       namedAttr("pad_high", builder.getDenseI64ArrayAttr(w.padHigh)),
       namedAttr("groups", builder.getI64IntegerAttr(groups))});
  FailureOr<Value> biased = addChannelBias(y, 2);
  if (failed(biased))
    return failure();
  return setOutput(0, toChannelsFirst(*biased));
}

LogicalResult Importer::convTranspose() {
  FailureOr<ConvOperands> operands = convOperands();
  if (failed(operands))
    return failure();
  Value x = operands->input, filter = operands->filter;
  int64_t d = typeOf(x).getRank() - 2;
  ArrayRef<int64_t> filterShape = typeOf(filter).getShape();
  ArrayRef<int64_t> kernel = operands->kernel;
  ArrayRef<int64_t> in = typeOf(x).getShape().drop_front(2);
  Window w;
  // auto_pad and output_shape are resolved below (ONNX's ConvTranspose
  // rules); readWindow reads the explicit pads.
  std::string autoPad = stringAttr("auto_pad").value_or("NOTSET");
  FailureOr<SmallVector<int64_t>> strides = spatialInts("strides", d, 1);
  FailureOr<SmallVector<int64_t>> dilations = spatialInts("dilations", d, 1);
  FailureOr<SmallVector<int64_t>> outputPadding =
      spatialInts("output_padding", d, 0);
  if (failed(strides) || failed(dilations) || failed(outputPadding))
    return failure();
  if (autoPad == "NOTSET" || autoPad == "VALID") {
    if (failed(readWindow(in, kernel, true, w)))
      return failure();
  } else if (autoPad != "SAME_UPPER" && autoPad != "SAME_LOWER") {
    nodeError() << "auto_pad '" << autoPad << "' is not one of NOTSET, "
                << "SAME_UPPER, SAME_LOWER, VALID";
    return failure();
  } else {
    w.kernel.assign(kernel.begin(), kernel.end());
    w.strides = *strides;
    w.dilations = *dilations;
    w.padLow.assign(d, 0);
    w.padHigh.assign(d, 0);
  }
  SmallVector<int64_t> extra(*outputPadding);
  std::optional<SmallVector<int64_t>> outputShape = intsAttr("output_shape");
  if (outputShape && static_cast<int64_t>(outputShape->size()) == d + 2)
    outputShape =
        SmallVector<int64_t>(outputShape->begin() + 2, outputShape->end());
  if (outputShape && static_cast<int64_t>(outputShape->size()) != d) {
    nodeError() << "output_shape has " << outputShape->size() << " entries for "
                << d << " spatial axes";
    return failure();
  }
  if (!outputShape && autoPad != "NOTSET" && autoPad != "VALID") {
    outputShape.emplace();
    for (int64_t i = 0; i < d; ++i)
      outputShape->push_back(in[i] * w.strides[i]);
  }
  if (outputShape) {
    // total = stride (in - 1) + output_padding + (K - 1) dilation + 1 - out,
    // split as ONNX says: SAME_UPPER puts the larger half at the end.
    for (int64_t i = 0; i < d; ++i) {
      int64_t full = w.strides[i] * (in[i] - 1) + (*outputPadding)[i] +
                     (kernel[i] - 1) * w.dilations[i] + 1;
      int64_t total = full - (*outputShape)[i];
      if (total < 0) {
        // A larger output: the extra positions are output padding, fewer
        // than max(stride, dilation) of them.
        int64_t largest = full - (*outputPadding)[i] +
                          std::max(w.strides[i], w.dilations[i]) - 1;
        if ((*outputShape)[i] > largest) {
          nodeError() << "output_shape " << (*outputShape)[i]
                      << " of spatial axis " << i
                      << " exceeds the largest output, " << largest
                      << ", that this input, kernel, stride and dilation "
                         "give";
          return failure();
        }
        w.padLow[i] = w.padHigh[i] = 0;
        extra[i] = (*outputPadding)[i] - total;
        continue;
      }
      int64_t small = total / 2, large = total - small;
      w.padLow[i] = autoPad == "SAME_UPPER" ? small : large;
      w.padHigh[i] = autoPad == "SAME_UPPER" ? large : small;
      extra[i] = (*outputPadding)[i];
    }
  }
  int64_t groups = intAttr("group", 1);
  Value input = toChannelsLast(x);
  ConvWindow window{w.strides, w.dilations, w.padLow, w.padHigh, groups};
  llvm::Expected<Shape> shape = inferConvTransposeShape(
      typeOf(input).getShape(), filterShape, window, extra);
  if (!shape) {
    nodeError() << errorText(shape.takeError());
    return failure();
  }
  Value y = create<ConvTransposeOp>(
      RankedTensorType::get(*shape, typeOf(input).getElementType()),
      {input, filter},
      {namedAttr("strides", builder.getDenseI64ArrayAttr(w.strides)),
       namedAttr("dilations", builder.getDenseI64ArrayAttr(w.dilations)),
       namedAttr("pad_low", builder.getDenseI64ArrayAttr(w.padLow)),
       namedAttr("pad_high", builder.getDenseI64ArrayAttr(w.padHigh)),
       namedAttr("groups", builder.getI64IntegerAttr(groups))});
  FailureOr<Value> biased = addChannelBias(y, 2);
  if (failed(biased))
    return failure();
  return setOutput(0, toChannelsFirst(*biased));
}

template <typename OpT> LogicalResult Importer::pool() {
  constexpr bool isMax = std::is_same_v<OpT, MaxPoolOp>;
  FailureOr<Value> x = spatialInput(0);
  if (failed(x))
    return failure();
  int64_t rank = typeOf(*x).getRank(), d = rank - 2;
  std::optional<SmallVector<int64_t>> kernel = intsAttr("kernel_shape");
  if (!kernel || static_cast<int64_t>(kernel->size()) != d) {
    nodeError() << "kernel_shape must give " << d << " window sizes";
    return failure();
  }
  if (isMax && currentNode->output_size() > 1 &&
      !currentNode->output(1).empty()) {
    nodeError() << "the Indices output is not supported";
    return failure();
  }
  Window w;
  if (failed(
          readWindow(typeOf(*x).getShape().drop_front(2), *kernel, false, w)))
    return failure();
  bool ceilMode = intAttr("ceil_mode", 0);
  Value input = toChannelsLast(*x);
  PoolWindow window{w.kernel, w.strides, w.padLow, w.padHigh, ceilMode};
  llvm::Expected<Shape> shape =
      inferPoolShape(typeOf(input).getShape(), window);
  if (!shape) {
    nodeError() << errorText(shape.takeError());
    return failure();
  }
  SmallVector<NamedAttribute> attrs{
      namedAttr("window", builder.getDenseI64ArrayAttr(w.kernel)),
      namedAttr("strides", builder.getDenseI64ArrayAttr(w.strides)),
      namedAttr("pad_low", builder.getDenseI64ArrayAttr(w.padLow)),
      namedAttr("pad_high", builder.getDenseI64ArrayAttr(w.padHigh)),
      namedAttr("ceil_mode", builder.getBoolAttr(ceilMode))};
  if (!isMax)
    attrs.push_back(
        namedAttr("count_include_pad",
                  builder.getBoolAttr(intAttr("count_include_pad", 0))));
  Value y =
      create<OpT>(RankedTensorType::get(*shape, typeOf(input).getElementType()),
                  {input}, attrs);
  return setOutput(0, toChannelsFirst(y));
}

/// GlobalAveragePool / GlobalMaxPool: a reduction over the spatial axes
/// (kept as size 1), in the NCHW layout (no transposes).
template <typename OpT> LogicalResult Importer::globalPool() {
  FailureOr<Value> x = floatInput(0);
  if (failed(x))
    return failure();
  RankedTensorType type = typeOf(*x);
  if (type.getRank() < 3) {
    nodeError() << "input has shape " << shapeString(type.getShape())
                << "; expected [N, C, D1..Dd] with d >= 1";
    return failure();
  }
  SmallVector<int64_t> axes, shape(type.getShape());
  for (int64_t i = 2; i < type.getRank(); ++i) {
    axes.push_back(i);
    shape[i] = 1;
  }
  return setOutput(
      0, create<OpT>(RankedTensorType::get(shape, type.getElementType()), {*x},
                     {namedAttr("axes", builder.getDenseI64ArrayAttr(axes)),
                      namedAttr("keep_dims", builder.getBoolAttr(true))}));
}

/// BatchNormalization in any training_mode: kiln.batch_norm's training form
/// (batch statistics; `fit` updates the running mean/var initializers, which
/// are kiln.state params) whose inference form (@eval_step, @predict, a
/// model compiled without a loss) normalizes with the running statistics.
/// Channel axis 1 (NCHW); the moving variance is updated with the unbiased
/// batch variance as PyTorch does (docs/spec.md, kiln.batch_norm).
LogicalResult Importer::batchNorm() {
  SmallVector<Value> in;
  for (unsigned i = 0; i < 5; ++i) {
    FailureOr<Value> v = floatInput(i);
    if (failed(v))
      return failure();
    in.push_back(*v);
  }
  RankedTensorType type = typeOf(in[0]);
  if (type.getRank() < 2) {
    nodeError() << "input has shape " << shapeString(type.getShape())
                << "; expected [N, C, ...]";
    return failure();
  }
  if (opset < 9 && intAttr("spatial", 1) == 0) {
    nodeError() << "spatial = 0 (per-activation statistics) is not supported";
    return failure();
  }
  static const char *names[] = {"X", "scale", "B", "mean", "var"};
  for (unsigned i = 1; i < 5; ++i)
    if (typeOf(in[i]).getShape() != ArrayRef<int64_t>{type.getDimSize(1)} ||
        typeOf(in[i]).getElementType() != type.getElementType()) {
      nodeError() << names[i] << " has type " << typeOf(in[i]) << "; expected ["
                  << type.getDimSize(1) << "] of " << type.getElementType();
      return failure();
    }
  // Outputs 3 and 4 before opset 14 (saved_mean, saved_var) are not
  // computed.
  for (int i = 3; i < currentNode->output_size(); ++i)
    if (!currentNode->output(i).empty() &&
        usedNames.contains(currentNode->output(i))) {
      nodeError() << "output " << i << " ('" << currentNode->output(i)
                  << "', the saved batch statistics) is not supported";
      return failure();
    }
  double epsilon = floatAttr("epsilon", 1e-5);
  double momentum = floatAttr("momentum", 0.9);
  bool valid = true;
  if (!(epsilon > 0) || !std::isfinite(epsilon)) {
    nodeError() << "[batch_norm_c3] epsilon " << epsilon
                << " must be finite and > 0";
    valid = false;
  }
  if (!(momentum >= 0 && momentum <= 1)) {
    nodeError() << "[batch_norm_c3] momentum " << momentum
                << " must be in [0, 1]";
    valid = false;
  }
  if (!valid)
    return failure();
  auto channelType = cast<RankedTensorType>(in[1].getType());
  // The batch's sample weights keep the zero-weight rows of a padded last
  // batch out of the statistics (kiln.batch_norm, docs/spec.md).
  SmallVector<Value> operands(in.begin(), in.end());
  operands.push_back(
      forward->sampleWeights(type.getDimSize(0), type.getElementType()));
  Operation *op = builder.create<BatchNormOp>(
      currentLoc, TypeRange{type, channelType, channelType}, operands,
      ArrayRef<NamedAttribute>{
          namedAttr("axis", builder.getI64IntegerAttr(1)),
          namedAttr("epsilon", builder.getF64FloatAttr(epsilon)),
          namedAttr("momentum", builder.getF64FloatAttr(momentum)),
          namedAttr("unbiased_moving_variance", builder.getBoolAttr(true))});
  // Running statistics that are initializers are state: a training step
  // writes the new values back.
  for (unsigned i : {3u, 4u}) {
    const std::string &name = currentNode->input(i);
    if (!stateParams.contains(name))
      continue;
    if (!updatedState.insert(name).second) {
      nodeError() << "the running statistic '" << name
                  << "' is already updated by another BatchNormalization";
      return failure();
    }
    forward->addStateUpdate(in[i], op->getResult(i - 2));
  }
  (void)setOutput(1, op->getResult(1));
  (void)setOutput(2, op->getResult(2));
  return setOutput(0, op->getResult(0));
}

/// Pad in constant mode with constant pads (negative pads crop).
LogicalResult Importer::padOp() {
  FailureOr<Value> x = floatInput(0);
  if (failed(x))
    return failure();
  std::string mode = stringAttr("mode").value_or("constant");
  if (mode != "constant") {
    nodeError() << "mode '" << mode << "' is not supported (only constant)";
    return failure();
  }
  RankedTensorType type = typeOf(*x);
  int64_t rank = type.getRank();
  SmallVector<int64_t> pads;
  double value = 0;
  if (opset < 11) {
    std::optional<SmallVector<int64_t>> p = intsAttr("pads");
    if (!p) {
      nodeError() << "pads is required";
      return failure();
    }
    pads = *p;
    value = floatAttr("value", 0.0);
  } else {
    FailureOr<SmallVector<int64_t>> p = constantInts(1);
    if (failed(p))
      return failure();
    pads = *p;
    FailureOr<std::optional<double>> v = optionalConstantScalar(2);
    if (failed(v))
      return failure();
    value = v->value_or(0.0);
  }
  if (static_cast<int64_t>(pads.size()) != 2 * rank) {
    nodeError() << "pads has " << pads.size() << " entries for rank " << rank
                << " (expected " << 2 * rank << ")";
    return failure();
  }
  SmallVector<int64_t> low(rank), high(rank), start(rank), limit(rank),
      shape(rank);
  bool crop = false, grow = false;
  for (int64_t i = 0; i < rank; ++i) {
    int64_t lo = pads[i], hi = pads[i + rank];
    low[i] = std::max<int64_t>(lo, 0);
    high[i] = std::max<int64_t>(hi, 0);
    grow |= lo > 0 || hi > 0;
    int64_t size = type.getDimSize(i) + low[i] + high[i];
    start[i] = lo < 0 ? -lo : 0;
    limit[i] = size - (hi < 0 ? -hi : 0);
    crop |= lo < 0 || hi < 0;
    if (start[i] > limit[i]) {
      nodeError() << "pads crop axis " << i << " of size " << type.getDimSize(i)
                  << " below 0";
      return failure();
    }
    shape[i] = size;
  }
  Value y = *x;
  if (grow)
    y = create<PadOp>(
        RankedTensorType::get(shape, type.getElementType()), {y},
        {namedAttr("low", builder.getDenseI64ArrayAttr(low)),
         namedAttr("high", builder.getDenseI64ArrayAttr(high)),
         namedAttr("padding_value", builder.getF64FloatAttr(value))});
  if (crop) {
    SmallVector<int64_t> cropped;
    for (int64_t i = 0; i < rank; ++i)
      cropped.push_back(limit[i] - start[i]);
    y = create<SliceOp>(
        RankedTensorType::get(cropped, type.getElementType()), {y},
        {namedAttr("start", builder.getDenseI64ArrayAttr(start)),
         namedAttr("limit", builder.getDenseI64ArrayAttr(limit)),
         namedAttr("strides", builder.getDenseI64ArrayAttr(
                                  SmallVector<int64_t>(rank, 1)))});
  }
  return setOutput(0, y);
}

/// After a node failed to import: zeros of the ONNX-inferred output types,
/// so the nodes after it are checked too (the module is discarded). Fails
/// when an output has no static inferred type.
LogicalResult Importer::placeholderOutputs(const onnx::NodeProto &node) {
  for (const std::string &name : node.output()) {
    if (name.empty())
      continue;
    auto t = inferred.find(name);
    if (t == inferred.end() || !t->second->has_tensor_type() ||
        !t->second->tensor_type().has_shape())
      return failure();
    const onnx::TypeProto_Tensor &tensor = t->second->tensor_type();
    Type element = elementType(tensor.elem_type());
    SmallVector<int64_t> shape;
    for (const auto &dim : tensor.shape().dim()) {
      if (!dim.has_dim_value())
        return failure();
      shape.push_back(dim.dim_value());
    }
    if (!element)
      return failure();
    auto type = RankedTensorType::get(shape, element);
    values[name] = builder.create<ConstantOp>(
        fileLoc, TypeRange{type}, ValueRange{},
        ArrayRef<NamedAttribute>{namedAttr(
            "value",
            DenseElementsAttr::get(type, builder.getZeroAttr(element)))});
  }
  return success();
}

LogicalResult Importer::importNode(const onnx::NodeProto &node) {
  currentNode = &node;
  currentLoc = NameLoc::get(
      builder.getStringAttr(node.name().empty() ? node.op_type() : node.name()),
      fileLoc);
  StringRef op = node.op_type();
  // Shape arithmetic on constants (as exporters emit it around LSTM/GRU
  // and Reshape) folds at import, so the ops that read shapes see
  // constants.
  bool folded = false;
  if (failed(foldShapeArithmetic(folded)))
    return failure();
  if (folded)
    return success();
  if (failed(foldConstantElementwise(folded)))
    return failure();
  if (folded)
    return success();
  if (op == "Shape")
    return shapeOp();
  if (op == "Size")
    return sizeOp();
  if (op == "Expand")
    return expand();
  if (op == "LSTM")
    return recurrent("lstm");
  if (op == "GRU")
    return recurrent("gru");
  if (op == "RNN")
    return recurrent("simple");
  if (op == "Equal")
    return compare(ComparisonDirection::eq);
  if (op == "Less")
    return compare(ComparisonDirection::lt);
  if (op == "LessOrEqual")
    return compare(ComparisonDirection::le);
  if (op == "Greater")
    return compare(ComparisonDirection::gt);
  if (op == "GreaterOrEqual")
    return compare(ComparisonDirection::ge);
  if (op == "Where")
    return where();
  if (op == "Erf")
    return unary<ErfOp>();
  if (op == "Reciprocal")
    return reciprocal();
  if (op == "Split")
    return split();
  if (op == "Range")
    return range();
  if (op == "ConstantOfShape")
    return constantOfShape();
  if (op == "LayerNormalization")
    return layerNormalization();
  if (op == "Gemm")
    return gemm();
  if (op == "MatMul")
    return matmul();
  if (op == "Add")
    return binary<AddOp>();
  if (op == "Sub")
    return binary<SubOp>();
  // ONNX Max/Min take 1 to N inputs (multidirectional broadcasting);
  // kiln's exporter writes Max for Normalization's variance floor.
  if (op == "Max")
    return variadic<MaximumOp>();
  if (op == "Min")
    return variadic<MinimumOp>();
  if (op == "Mul")
    return binary<MulOp>();
  if (op == "Div")
    return binary<DivOp>();
  if (op == "Pow")
    return pow();
  if (op == "Neg")
    return unary<NegOp>();
  if (op == "Abs")
    return unary<AbsOp>();
  if (op == "Exp")
    return unary<ExpOp>();
  if (op == "Log")
    return unary<LogOp>();
  if (op == "Sqrt")
    return unary<SqrtOp>();
  if (op == "Relu")
    return unary<ReluOp>();
  if (op == "Sigmoid")
    return unary<SigmoidOp>();
  if (op == "Tanh")
    return unary<TanhOp>();
  if (op == "Softplus")
    return unary<SoftplusOp>();
  if (op == "LeakyRelu")
    return unary<LeakyReluOp>({namedAttr(
        "alpha", builder.getF64FloatAttr(floatAttr("alpha", 0.01)))});
  if (op == "Elu")
    return unary<EluOp>(
        {namedAttr("alpha", builder.getF64FloatAttr(floatAttr("alpha", 1.0)))});
  if (op == "HardSigmoid")
    return unary<HardSigmoidOp>(
        {namedAttr("alpha", builder.getF64FloatAttr(floatAttr("alpha", 0.2))),
         namedAttr("beta", builder.getF64FloatAttr(floatAttr("beta", 0.5)))});
  if (op == "Softmax")
    return softmax<SoftmaxOp>();
  if (op == "LogSoftmax")
    return softmax<LogSoftmaxOp>();
  if (op == "Clip")
    return clip();
  if (op == "Dropout")
    return dropout();
  if (op == "Flatten")
    return flatten();
  if (op == "Reshape")
    return reshapeOp();
  if (op == "Transpose")
    return transpose();
  if (op == "Concat")
    return concat();
  if (op == "Slice")
    return slice();
  if (op == "Squeeze")
    return squeeze();
  if (op == "Unsqueeze")
    return unsqueeze();
  if (op == "Constant")
    return constant();
  if (op == "Identity") {
    if (constants.count(node.input(0)) && !values.count(node.input(0))) {
      constants[node.output(0)] = constants[node.input(0)];
      return success();
    }
    FailureOr<Value> x = input(0);
    return failed(x) ? failure() : setOutput(0, *x);
  }
  if (op == "ReduceSum")
    return reduce<ReduceSumOp>();
  if (op == "ReduceMean")
    return reduce<ReduceMeanOp>();
  if (op == "ReduceMax")
    return reduce<ReduceMaxOp>();
  if (op == "Cast")
    return castOp();
  if (op == "Gather")
    return gather();
  if (op == "Conv")
    return conv();
  if (op == "ConvTranspose")
    return convTranspose();
  if (op == "MaxPool")
    return pool<MaxPoolOp>();
  if (op == "AveragePool")
    return pool<AvgPoolOp>();
  if (op == "GlobalAveragePool")
    return globalPool<ReduceMeanOp>();
  if (op == "GlobalMaxPool")
    return globalPool<ReduceMaxOp>();
  if (op == "BatchNormalization")
    return batchNorm();
  if (op == "Pad")
    return padOp();
  nodeError() << "unsupported op";
  return failure();
}

/// Cross-checks the shapes kiln computed for a node's outputs with the ones
/// ONNX shape inference recorded (every static dimension must agree).
LogicalResult Importer::checkInferredShapes(const onnx::NodeProto &node) {
  for (const std::string &name : node.output()) {
    auto v = values.find(name);
    auto t = inferred.find(name);
    if (name.empty() || v == values.end() || t == inferred.end() ||
        !t->second->has_tensor_type() || !t->second->tensor_type().has_shape())
      continue;
    const onnx::TensorShapeProto &shape = t->second->tensor_type().shape();
    RankedTensorType type = typeOf(v->second);
    bool agree = shape.dim_size() == type.getRank();
    for (int i = 0; agree && i < shape.dim_size(); ++i)
      if (shape.dim(i).has_dim_value() &&
          shape.dim(i).dim_value() != type.getDimSize(i))
        agree = false;
    if (agree)
      continue;
    std::string onnxShape = "[";
    for (int i = 0; i < shape.dim_size(); ++i) {
      onnxShape += i ? ", " : "";
      onnxShape += shape.dim(i).has_dim_value()
                       ? std::to_string(shape.dim(i).dim_value())
                       : std::string("?");
    }
    onnxShape += "]";
    nodeError() << "output '" << name << "' has shape "
                << shapeString(type.getShape()) << " in kiln but " << onnxShape
                << " by ONNX shape inference";
    return failure();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// The model
//===----------------------------------------------------------------------===//

OwningOpRef<ModuleOp> Importer::run() {
  context->loadDialect<KilnDialect, func::FuncDialect>();

  // Opset of the default domain.
  for (const onnx::OperatorSetIdProto &id : model.opset_import())
    if (id.domain().empty() || id.domain() == "ai.onnx")
      opset = id.version();
  if (opset == 0) {
    std::string domains;
    for (const onnx::OperatorSetIdProto &id : model.opset_import())
      domains += (domains.empty() ? "" : ", ") + id.domain();
    error() << "the model imports no default-domain (ai.onnx) opset, only "
            << (domains.empty() ? std::string("none") : domains)
            << "; kiln imports ai.onnx opsets " << kMinOpset << ".."
            << kMaxOpset;
    return nullptr;
  }
  if (opset < kMinOpset || opset > kMaxOpset) {
    error() << "ONNX opset " << opset << " is not supported (kiln imports "
            << "opsets " << kMinOpset << ".." << kMaxOpset << ")";
    return nullptr;
  }

  // Every unsupported node, in one report.
  {
    std::string list;
    llvm::raw_string_ostream os(list);
    unsigned count = 0;
    for (const onnx::NodeProto &node : graph.node()) {
      bool defaultDomain = node.domain().empty() || node.domain() == "ai.onnx";
      if (defaultDomain && isSupportedOp(node.op_type()))
        continue;
      ++count;
      os << "\n  node '" << node.name() << "': ";
      if (!defaultDomain)
        os << node.domain() << ".";
      os << node.op_type() << " (opset ";
      int64_t version = opset;
      if (!defaultDomain)
        for (const onnx::OperatorSetIdProto &id : model.opset_import())
          if (id.domain() == node.domain())
            version = id.version();
      os << version << ")";
    }
    if (count) {
      error() << count << " unsupported ONNX node" << (count == 1 ? "" : "s")
              << ":" << list;
      return nullptr;
    }
  }

  // Initializers: params, and constants for shape/axes inputs unless they
  // are also graph inputs (then they are overridable and never folded).
  llvm::StringSet<> graphInputs;
  for (const onnx::ValueInfoProto &in : graph.input())
    graphInputs.insert(in.name());
  llvm::StringMap<DenseElementsAttr> initializers;
  SmallVector<std::string> initializerOrder;
  for (const onnx::TensorProto &t : graph.initializer()) {
    FailureOr<DenseElementsAttr> v = toElements(t);
    if (failed(v))
      return nullptr;
    if (!initializers.count(t.name()))
      initializerOrder.push_back(t.name());
    initializers[t.name()] = *v;
    if (!graphInputs.contains(t.name()))
      constants[t.name()] = *v;
  }

  // An initializer becomes a param when a node reads it as a tensor value
  // (not only as a shape/axes constant), when it is a graph input, or when
  // it is a graph output.
  llvm::StringSet<> usedAsValue;
  for (const onnx::NodeProto &node : graph.node())
    for (auto [i, name] : llvm::enumerate(node.input()))
      if (!name.empty() && !isConstantInput(node.op_type(), i, opset))
        usedAsValue.insert(name);
  for (const onnx::ValueInfoProto &out : graph.output())
    usedAsValue.insert(out.name());
  for (const onnx::NodeProto &node : graph.node())
    for (const std::string &name : node.input())
      if (!name.empty())
        usedNames.insert(name);
  for (const onnx::ValueInfoProto &out : graph.output())
    usedNames.insert(out.name());

  // Conv/ConvTranspose weights that are initializers read only as filters
  // (not graph inputs or outputs) are stored channels-last; the running
  // statistics of BatchNormalization nodes are state.
  llvm::StringSet<> filterCandidates, otherUses;
  for (const onnx::NodeProto &node : graph.node()) {
    bool convNode =
        node.op_type() == "Conv" || node.op_type() == "ConvTranspose";
    for (auto [i, name] : llvm::enumerate(node.input())) {
      if (name.empty())
        continue;
      if (convNode && i == 1)
        filterCandidates.insert(name);
      else
        otherUses.insert(name);
      if (node.op_type() == "BatchNormalization" && (i == 3 || i == 4) &&
          initializers.count(name))
        stateParams.insert(name);
    }
  }
  for (const auto &entry : filterCandidates) {
    StringRef name = entry.getKey();
    auto init = initializers.find(name);
    if (init == initializers.end() || otherUses.contains(name) ||
        graphInputs.contains(name) || stateParams.contains(name) ||
        !isa<FloatType>(init->second.getElementType()))
      continue;
    bool graphOutput = false;
    for (const onnx::ValueInfoProto &out : graph.output())
      graphOutput |= out.name() == name;
    int64_t rank = cast<RankedTensorType>(init->second.getType()).getRank();
    if (graphOutput || rank < 3 || rank > 5)
      continue;
    channelsLastFilters.insert(name);
  }

  // The forward function: params (initializers read as values), then the
  // other graph inputs.
  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
  ForwardFunctionBuilder forward(*module, fileLoc);
  for (const std::string &name : initializerOrder) {
    if (!usedAsValue.contains(name) && !graphInputs.contains(name))
      continue;
    DenseElementsAttr init = initializers[name];
    if (channelsLastFilters.contains(name))
      init = permuteElements(
          init, filterPerm(cast<RankedTensorType>(init.getType()).getRank()));
    ParamSpec spec;
    spec.name = name;
    spec.initValue = init;
    spec.state = stateParams.contains(name);
    spec.trainable = !spec.state && isa<FloatType>(init.getElementType());
    values[name] =
        forward.addParam(cast<RankedTensorType>(init.getType()), spec);
  }
  for (const onnx::ValueInfoProto &in : graph.input()) {
    if (initializers.count(in.name()))
      continue;
    FailureOr<RankedTensorType> type = inputType(in);
    if (failed(type))
      return nullptr;
    values[in.name()] = forward.addInput(*type, in.name());
  }
  builder.setInsertionPointToEnd(&forward.getFunction().getBody().front());

  for (const onnx::ValueInfoProto &info : graph.value_info())
    inferred[info.name()] = &info.type();
  for (const onnx::ValueInfoProto &info : graph.output())
    inferred[info.name()] = &info.type();
  // A node that fails gets placeholder outputs (its ONNX-inferred types) so
  // that every bad node is reported, not only the first.
  this->forward = &forward;
  unsigned failedNodes = 0;
  for (const onnx::NodeProto &node : graph.node()) {
    if (succeeded(importNode(node)) && succeeded(checkInferredShapes(node)))
      continue;
    ++failedNodes;
    if (failed(placeholderOutputs(node)))
      return nullptr;
  }
  if (failedNodes)
    return nullptr;
  currentNode = nullptr;
  currentLoc = fileLoc;

  for (const onnx::ValueInfoProto &out : graph.output()) {
    FailureOr<Value> v = value(out.name());
    if (failed(v))
      return nullptr;
    forward.addOutput(*v, out.name());
  }
  forward.finish();

  if (failed(verify(*module))) {
    error() << "the imported kiln module does not verify";
    return nullptr;
  }
  return module;
}

} // namespace

OwningOpRef<ModuleOp> kiln::importOnnxModel(llvm::StringRef path,
                                            MLIRContext *context,
                                            const ImportOptions &options) {
  onnx::ModelProto model;
  std::string message;
  if (!onnx_import::loadModel(path.str(), model, message)) {
    // ONNX messages span lines (node dumps); keep the diagnostic on one.
    std::string oneLine;
    for (char c : StringRef(message).trim()) {
      if (c == '\n' || c == '\t')
        c = ' ';
      if (c == ' ' && !oneLine.empty() && oneLine.back() == ' ')
        continue;
      oneLine.push_back(c);
    }
    emitError(FileLineColLoc::get(context, path, 0, 0)) << oneLine;
    return nullptr;
  }
  return Importer(path, context, options, model).run();
}

llvm::ArrayRef<llvm::StringLiteral> kiln::getSupportedOnnxOps() {
  return kSupportedOps;
}
