//===- OnnxExporter.cpp - kiln inference graphs as ONNX models ------------===//
//
// One ONNX node (or a few) per kiln op of the inference form, in op order.
// kiln is channels-last and keeps Keras' weight layouts; ONNX convolutions
// and pools are channels-first and its recurrent ops have their own
// layouts and gate orders, so the translation inserts Transpose nodes
// around Conv/ConvTranspose/MaxPool/AveragePool and converts the weights
// in the graph (Transpose, Split + Concat, Unsqueeze) from the parameters
// as kiln stores them. The initializers are therefore kiln's parameters
// byte for byte, and the graph computes what kiln computes: the weight
// conversions are exact permutations. Operator semantics: the ONNX
// operator docs of opset 17 (onnx/defs/*/defs.cc of ONNX 1.12).
//
// Compiled with -fexceptions: the ONNX checker reports errors as C++
// exceptions, caught here.
//
//===----------------------------------------------------------------------===//

#include "frontend/onnx/OnnxExporter.h"

#include "ir/KilnDialect.h"
#include "ir/KilnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/raw_ostream.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

using namespace mlir;
using namespace mlir::kiln;

namespace {
/// ONNX TensorProto.DataType of a kiln element type; 0 for others.
int onnxDataType(Type type) {
  if (type.isF32())
    return onnx::TensorProto::FLOAT;
  if (type.isF64())
    return onnx::TensorProto::DOUBLE;
  if (type.isInteger(1))
    return onnx::TensorProto::BOOL;
  if (type.isInteger(32))
    return onnx::TensorProto::INT32;
  if (type.isInteger(64))
    return onnx::TensorProto::INT64;
  return 0;
}

void setType(onnx::ValueInfoProto *info, RankedTensorType type) {
  onnx::TypeProto_Tensor *tensor = info->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(onnxDataType(type.getElementType()));
  onnx::TensorShapeProto *shape = tensor->mutable_shape();
  for (int64_t d : type.getShape())
    shape->add_dim()->set_dim_value(d);
}

/// "'kiln.rnn' (reading lstm/kernel, ...) at model.json:3:5": the op, the
/// parameters it reads directly (the Keras importer's locations name only
/// the file; parameter names carry the layer's) and its first file
/// location (without a line when the importer gives none).
std::string describe(Operation *op,
                     const llvm::DenseMap<Value, std::string> &params) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "'" << op->getName() << "'";
  llvm::SmallVector<std::string> read;
  for (Value v : op->getOperands())
    if (auto it = params.find(v); it != params.end())
      read.push_back(it->second);
  if (!read.empty())
    os << " (reading " << llvm::join(read, ", ") << ")";
  FileLineColLoc file;
  op->getLoc()->walk([&](Location inner) {
    if (auto f = dyn_cast<FileLineColLoc>(inner)) {
      file = f;
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (file) {
    os << " at " << file.getFilename().getValue();
    if (file.getLine() > 0)
      os << ":" << file.getLine() << ":" << file.getColumn();
  } else {
    os << " at ";
    op->getLoc().print(os);
  }
  return text;
}

class Exporter {
public:
  explicit Exporter(onnx::GraphProto &graph) : graph(graph) {}

  std::vector<std::string> problems;

  /// A fresh value name starting with `hint`.
  std::string fresh(llvm::StringRef hint) {
    for (;;) {
      std::string name = (hint + "_" + llvm::Twine(counter++)).str();
      if (taken.insert(name).second)
        return name;
    }
  }
  void reserve(llvm::StringRef name) { taken.insert(name); }
  bool isTaken(llvm::StringRef name) const { return taken.contains(name); }

  void bind(Value v, std::string name) { names[v] = std::move(name); }
  void bindParam(Value v, std::string name) {
    paramNames[v] = name;
    bind(v, std::move(name));
  }
  std::string name(Value v) {
    auto it = names.find(v);
    return it == names.end() ? std::string() : it->second;
  }

  /// Adds a node; its outputs are fresh names unless given.
  onnx::NodeProto *node(llvm::StringRef opType,
                        llvm::ArrayRef<std::string> inputs,
                        llvm::ArrayRef<std::string> outputs) {
    onnx::NodeProto *n = graph.add_node();
    n->set_op_type(opType.str());
    n->set_name(fresh(opType));
    for (const std::string &in : inputs)
      n->add_input(in);
    for (const std::string &out : outputs)
      n->add_output(out);
    return n;
  }
  /// A one-output node; returns its output's name.
  std::string unary(llvm::StringRef opType,
                    llvm::ArrayRef<std::string> inputs) {
    std::string out = fresh(opType);
    node(opType, inputs, {out});
    return out;
  }

  static void attr(onnx::NodeProto *n, llvm::StringRef key, int64_t value) {
    onnx::AttributeProto *a = n->add_attribute();
    a->set_name(key.str());
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(value);
  }
  static void attrFloat(onnx::NodeProto *n, llvm::StringRef key, double value) {
    onnx::AttributeProto *a = n->add_attribute();
    a->set_name(key.str());
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(static_cast<float>(value));
  }
  static void attrInts(onnx::NodeProto *n, llvm::StringRef key,
                       llvm::ArrayRef<int64_t> values) {
    onnx::AttributeProto *a = n->add_attribute();
    a->set_name(key.str());
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t v : values)
      a->add_ints(v);
  }
  static void attrString(onnx::NodeProto *n, llvm::StringRef key,
                         llvm::StringRef value) {
    onnx::AttributeProto *a = n->add_attribute();
    a->set_name(key.str());
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(value.str());
  }
  static void attrStrings(onnx::NodeProto *n, llvm::StringRef key,
                          llvm::ArrayRef<std::string> values) {
    onnx::AttributeProto *a = n->add_attribute();
    a->set_name(key.str());
    a->set_type(onnx::AttributeProto::STRINGS);
    for (const std::string &v : values)
      a->add_strings(v);
  }

  /// An initializer of the graph proto itself (shapes, axes, constants).
  std::string constant(llvm::StringRef hint, int dataType,
                       llvm::ArrayRef<int64_t> dims, std::string raw) {
    onnx::TensorProto *t = graph.add_initializer();
    std::string n = fresh(hint);
    t->set_name(n);
    t->set_data_type(dataType);
    for (int64_t d : dims)
      t->add_dims(d);
    t->set_raw_data(std::move(raw));
    return n;
  }
  std::string ints(llvm::ArrayRef<int64_t> values) {
    std::string raw(values.size() * 8, '\0');
    if (!values.empty())
      std::memcpy(raw.data(), values.data(), raw.size());
    return constant("const", onnx::TensorProto::INT64,
                    {static_cast<int64_t>(values.size())}, std::move(raw));
  }
  /// A scalar (rank 0) of `elementType` (f32 or f64).
  std::string scalar(double value, Type elementType) {
    std::string raw;
    if (elementType.isF64()) {
      raw.resize(8);
      std::memcpy(raw.data(), &value, 8);
    } else {
      float f = static_cast<float>(value);
      raw.resize(4);
      std::memcpy(raw.data(), &f, 4);
    }
    return constant("const", onnxDataType(elementType), {}, std::move(raw));
  }
  /// Zeros of `elementType` with shape `dims`.
  std::string zeros(Type elementType, llvm::ArrayRef<int64_t> dims) {
    int64_t count = 1;
    for (int64_t d : dims)
      count *= d;
    size_t width = elementType.isF64() ? 8 : 4;
    return constant("zeros", onnxDataType(elementType), dims,
                    std::string(count * width, '\0'));
  }

  /// The elements of `attr` as raw little-endian bytes; false for element
  /// types or attribute kinds ONNX does not take here.
  static bool rawBytes(ElementsAttr attr, std::string &raw) {
    auto dense = dyn_cast<DenseElementsAttr>(attr);
    if (!dense)
      return false;
    Type e = dense.getElementType();
    auto append = [&](auto value) {
      raw.append(reinterpret_cast<const char *>(&value), sizeof value);
    };
    if (e.isF32())
      for (float v : dense.getValues<float>())
        append(v);
    else if (e.isF64())
      for (double v : dense.getValues<double>())
        append(v);
    else if (e.isInteger(1))
      for (bool v : dense.getValues<bool>())
        append(static_cast<uint8_t>(v));
    else if (e.isInteger(32))
      for (int32_t v : dense.getValues<int32_t>())
        append(v);
    else if (e.isInteger(64))
      for (int64_t v : dense.getValues<int64_t>())
        append(v);
    else
      return false;
    return true;
  }

  std::string transpose(const std::string &x, llvm::ArrayRef<int64_t> perm) {
    std::string out = fresh("Transpose");
    attrInts(node("Transpose", {x}, {out}), "perm", perm);
    return out;
  }

  /// Translates one op; false after recording a problem.
  bool translate(Operation *op);

private:
  bool fail(Operation *op, const llvm::Twine &why) {
    problems.push_back(describe(op, paramNames) + ": " + why.str());
    // Placeholders, so that the ops reading the results are still checked
    // and every problem is listed (the graph is not written).
    for (Value result : op->getResults())
      bind(result, fresh("unexported"));
    return false;
  }
  bool convolution(Operation *op, bool transposed);
  bool pool(Operation *op, bool isMax);
  bool rnn(RnnOp op);

  onnx::GraphProto &graph;
  llvm::DenseMap<Value, std::string> names, paramNames;
  llvm::StringSet<> taken;
  int64_t counter = 0;
};

/// [0, d+1, 1..d]: channels-last to channels-first for `d` spatial axes.
llvm::SmallVector<int64_t> toChannelsFirst(int64_t d) {
  llvm::SmallVector<int64_t> perm{0, d + 1};
  for (int64_t i = 1; i <= d; ++i)
    perm.push_back(i);
  return perm;
}
/// [0, 2..d+1, 1]: back to channels-last.
llvm::SmallVector<int64_t> toChannelsLast(int64_t d) {
  llvm::SmallVector<int64_t> perm{0};
  for (int64_t i = 2; i <= d + 1; ++i)
    perm.push_back(i);
  perm.push_back(1);
  return perm;
}

bool Exporter::convolution(Operation *op, bool transposed) {
  Value input = op->getOperand(0), filter = op->getOperand(1);
  auto inType = cast<RankedTensorType>(input.getType());
  auto filterType = cast<RankedTensorType>(filter.getType());
  auto resultType = cast<RankedTensorType>(op->getResult(0).getType());
  int64_t d = inType.getRank() - 2;
  ConvWindow w = transposed ? cast<ConvTransposeOp>(op).getWindow()
                            : cast<ConvOp>(op).getWindow();
  // Filter [K.., C/groups, F] -> ONNX [F, C/groups, K..] for Conv (M, C/g,
  // k..) and ConvTranspose (C_in = F, C_out/g, k..) alike.
  llvm::SmallVector<int64_t> filterPerm{d + 1, d};
  for (int64_t i = 0; i < d; ++i)
    filterPerm.push_back(i);
  std::string x = transpose(name(input), toChannelsFirst(d));
  std::string wt = transpose(name(filter), filterPerm);
  std::string y = fresh(transposed ? "ConvTranspose" : "Conv");
  onnx::NodeProto *n =
      node(transposed ? "ConvTranspose" : "Conv", {x, wt}, {y});
  attrInts(n, "kernel_shape", filterType.getShape().take_front(d));
  attrInts(n, "strides", w.strides);
  attrInts(n, "dilations", w.dilations);
  llvm::SmallVector<int64_t> pads(w.padLow.begin(), w.padLow.end());
  pads.append(w.padHigh.begin(), w.padHigh.end());
  attrInts(n, "pads", pads);
  attr(n, "group", w.groups);
  if (transposed) {
    // ONNX's size: S = stride (O - 1) + output_padding + (K - 1) dilation
    // + 1 - pads; kiln gives S, so output_padding is the difference.
    llvm::SmallVector<int64_t> outputPadding;
    for (int64_t i = 0; i < d; ++i) {
      int64_t O = inType.getDimSize(i + 1), S = resultType.getDimSize(i + 1),
              K = filterType.getDimSize(i);
      int64_t base = w.strides[i] * (O - 1) + (K - 1) * w.dilations[i] + 1 -
                     w.padLow[i] - w.padHigh[i];
      int64_t extra = S - base;
      if (extra < 0 || extra >= std::max(w.strides[i], w.dilations[i]))
        return fail(op, "its output size has no ONNX output_padding");
      outputPadding.push_back(extra);
    }
    attrInts(n, "output_padding", outputPadding);
  }
  bind(op->getResult(0), transpose(y, toChannelsLast(d)));
  return true;
}

bool Exporter::pool(Operation *op, bool isMax) {
  Value input = op->getOperand(0);
  int64_t d = cast<RankedTensorType>(input.getType()).getRank() - 2;
  PoolWindow w = isMax ? cast<MaxPoolOp>(op).getPoolWindow()
                       : cast<AvgPoolOp>(op).getPoolWindow();
  std::string x = transpose(name(input), toChannelsFirst(d));
  std::string y = fresh(isMax ? "MaxPool" : "AveragePool");
  onnx::NodeProto *n = node(isMax ? "MaxPool" : "AveragePool", {x}, {y});
  attrInts(n, "kernel_shape", w.window);
  attrInts(n, "strides", w.strides);
  llvm::SmallVector<int64_t> pads(w.padLow.begin(), w.padLow.end());
  pads.append(w.padHigh.begin(), w.padHigh.end());
  attrInts(n, "pads", pads);
  attr(n, "ceil_mode", w.ceilMode ? 1 : 0);
  if (!isMax)
    attr(n, "count_include_pad",
         cast<AvgPoolOp>(op).getCountIncludePad() ? 1 : 0);
  bind(op->getResult(0), transpose(y, toChannelsLast(d)));
  return true;
}

/// ONNX activation names of kiln.rnn's activations.
std::optional<std::string> rnnActivation(llvm::StringRef name) {
  if (name == "tanh")
    return "Tanh";
  if (name == "sigmoid")
    return "Sigmoid";
  if (name == "relu")
    return "Relu";
  return std::nullopt;
}

bool Exporter::rnn(RnnOp op) {
  if (op.getMask())
    return fail(op, "a Keras mask has no ONNX form (ONNX recurrent ops take "
                    "sequence lengths, not per-step masks)");
  if (!op.getWorkspace().use_empty())
    return fail(op, "its workspace is read (a training graph)");
  std::optional<std::string> act = rnnActivation(op.getActivation()),
                             recAct =
                                 rnnActivation(op.getRecurrentActivation());
  if (!act || !recAct)
    return fail(op,
                "the activation '" +
                    (act ? op.getRecurrentActivation() : op.getActivation()) +
                    "' has no ONNX recurrent activation (Tanh, Sigmoid, "
                    "Relu)");
  llvm::StringRef cell = op.getCell();
  auto inType = cast<RankedTensorType>(op.getInput().getType());
  auto resultType = cast<RankedTensorType>(op.getResult().getType());
  Type e = inType.getElementType();
  int64_t T = inType.getDimSize(1), H = resultType.getDimSize(2);
  int64_t G = cell == "lstm" ? 4 : cell == "gru" ? 3 : 1;
  // W [1, G*H, I] and R [1, G*H, H]: the Keras kernels transposed; LSTM's
  // gate blocks reordered from Keras' i, f, c, o to ONNX's i, o, f, c.
  // GRU's z, r, h is the same order in both.
  auto reorder = [&](const std::string &x, int64_t axis) {
    if (G != 4)
      return x;
    std::string parts[4] = {fresh("gate"), fresh("gate"), fresh("gate"),
                            fresh("gate")};
    onnx::NodeProto *split =
        node("Split", {x, ints({H, H, H, H})}, llvm::ArrayRef(parts));
    attr(split, "axis", axis);
    std::string out = fresh("Concat");
    attr(node("Concat", {parts[0], parts[3], parts[1], parts[2]}, {out}),
         "axis", axis);
    return out;
  };
  auto unsqueeze0 = [&](const std::string &x) {
    return unary("Unsqueeze", {x, ints({0})});
  };
  std::string W =
      unsqueeze0(reorder(transpose(name(op.getKernel()), {1, 0}), 0));
  std::string R =
      unsqueeze0(reorder(transpose(name(op.getRecurrentKernel()), {1, 0}), 0));
  // B [1, 2*G*H]: input biases then recurrent biases. Keras' one bias is
  // the input bias (the recurrent one zero), except a reset-after GRU's
  // [2, 3H] (row 0 input, row 1 recurrent; ONNX linear_before_reset).
  std::string bias = name(op.getBias());
  std::string B;
  bool resetAfter = cell == "gru" && op.getResetAfter();
  if (resetAfter) {
    B = unary("Reshape", {bias, ints({1, 2 * G * H})});
  } else {
    std::string both = fresh("Concat");
    attr(node("Concat", {reorder(bias, 0), zeros(e, {G * H})}, {both}), "axis",
         0);
    B = unsqueeze0(both);
  }
  llvm::StringRef opType = cell == "lstm"  ? "LSTM"
                           : cell == "gru" ? "GRU"
                                           : "RNN";
  std::string Y = fresh(opType), Yh = fresh("Y_h"), Yc = fresh("Y_c");
  // kiln's states [S, N, H] (h, then the LSTM's c) are ONNX's initial_h /
  // initial_c and Y_h / Y_c, each [N, 1, H] with layout 1.
  llvm::SmallVector<std::string> inputs = {name(op.getInput()), W, R, B};
  if (Value initial = op.getInitialState()) {
    std::string perm = transpose(name(initial), {1, 0, 2}); // [N, S, H]
    inputs.push_back("");                                   // sequence_lens
    if (cell == "lstm") {
      std::string parts[2] = {fresh("initial_h"), fresh("initial_c")};
      attr(node("Split", {perm, ints({1, 1})}, llvm::ArrayRef(parts)), "axis",
           1);
      inputs.append({parts[0], parts[1]});
    } else {
      inputs.push_back(perm);
    }
  }
  // Y_h / Y_c only when the final states are read (exports stay as before
  // for models without return_state).
  bool states = !op.getFinalState().use_empty();
  llvm::SmallVector<std::string> outputs = {Y};
  if (states)
    outputs.push_back(Yh);
  if (states && cell == "lstm")
    outputs.push_back(Yc);
  onnx::NodeProto *n = node(opType, inputs, outputs);
  attr(n, "hidden_size", H);
  attr(n, "layout", 1); // X [N, T, I], Y [N, T, 1, H]
  attrString(n, "direction", op.getGoBackwards() ? "reverse" : "forward");
  // Written only when not ONNX's defaults (LSTM Sigmoid, Tanh, Tanh; GRU
  // Sigmoid, Tanh; RNN Tanh): readers that take only the defaults, as
  // kiln's importer, then read the model.
  bool defaults = *act == "Tanh" && (cell == "simple" || *recAct == "Sigmoid");
  if (defaults)
    ;
  else if (cell == "lstm")
    attrStrings(n, "activations", {*recAct, *act, *act});
  else if (cell == "gru")
    attrStrings(n, "activations", {*recAct, *act});
  else
    attrStrings(n, "activations", {*act});
  if (cell == "gru")
    attr(n, "linear_before_reset", resetAfter ? 1 : 0);
  // ONNX's Y[t] is the state after reading input step t in either
  // direction; kiln stores step s's state at s (or T-1-s with
  // reverse_output), where step s reads input s (T-1-s with go_backwards).
  // They agree when go_backwards == reverse_output; otherwise the time
  // axis is reversed (a Gather of T-1..0: kiln's ONNX import takes no
  // negative Slice steps).
  std::string y = unary("Squeeze", {Y, ints({2})});
  if (op.getGoBackwards() != op.getReverseOutput()) {
    llvm::SmallVector<int64_t> reversed;
    for (int64_t t = T - 1; t >= 0; --t)
      reversed.push_back(t);
    std::string flipped = fresh("Gather");
    attr(node("Gather", {y, ints(reversed)}, {flipped}), "axis", 1);
    y = flipped;
  }
  bind(op.getResult(), y);
  if (states) {
    std::string both = Yh; // [N, S, H]
    if (cell == "lstm") {
      both = fresh("Concat");
      attr(node("Concat", {Yh, Yc}, {both}), "axis", 1);
    }
    bind(op.getFinalState(), transpose(both, {1, 0, 2}));
  }
  return true;
}

bool Exporter::translate(Operation *op) {
  auto out = [&](const std::string &n) {
    bind(op->getResult(0), n);
    return true;
  };
  auto in = [&](unsigned i) { return name(op->getOperand(i)); };
  auto simple = [&](llvm::StringRef opType) {
    llvm::SmallVector<std::string> inputs;
    for (Value v : op->getOperands())
      inputs.push_back(name(v));
    return out(unary(opType, inputs));
  };
  auto elementType = [&]() {
    return cast<ShapedType>(op->getResult(0).getType()).getElementType();
  };
  auto resultShape = [&]() {
    return cast<ShapedType>(op->getResult(0).getType()).getShape();
  };
  // Constants are stored in the program; a splat of 2^26 elements or more
  // (256 MiB of f32) would bloat it, and protobuf reads at most 2 GiB.
  const int64_t maxConstantElements = int64_t(1) << 26;
  auto constantOf = [&](Attribute value) {
    std::string raw;
    auto elements = dyn_cast<ElementsAttr>(value);
    if (elements && elements.getNumElements() >= maxConstantElements)
      return fail(op, "the constant is too large to store in the program");
    if (!elements || !rawBytes(elements, raw))
      return fail(op, "its value is not a dense tensor of a type ONNX takes");
    auto type = cast<ShapedType>(elements.getType());
    return out(constant("const", onnxDataType(type.getElementType()),
                        type.getShape(), std::move(raw)));
  };
  return llvm::TypeSwitch<Operation *, bool>(op)
      .Case([&](AddOp) { return simple("Add"); })
      .Case([&](SubOp) { return simple("Sub"); })
      .Case([&](MulOp) { return simple("Mul"); })
      .Case([&](DivOp) { return simple("Div"); })
      .Case([&](MaximumOp) { return simple("Max"); })
      .Case([&](MinimumOp) { return simple("Min"); })
      .Case([&](PowOp) { return simple("Pow"); })
      .Case([&](NegOp) { return simple("Neg"); })
      .Case([&](ExpOp) { return simple("Exp"); })
      .Case([&](LogOp) { return simple("Log"); })
      .Case([&](SqrtOp) { return simple("Sqrt"); })
      .Case([&](AbsOp) { return simple("Abs"); })
      .Case([&](TanhOp) { return simple("Tanh"); })
      .Case([&](SigmoidOp) { return simple("Sigmoid"); })
      .Case([&](ReluOp) { return simple("Relu"); })
      .Case([&](ErfOp) { return simple("Erf"); })
      .Case([&](SoftplusOp) { return simple("Softplus"); })
      .Case([&](StopGradientOp) { return simple("Identity"); })
      .Case([&](SelectOp) { return simple("Where"); })
      .Case([&](Log1pOp) {
        return out(
            unary("Log", {unary("Add", {in(0), scalar(1.0, elementType())})}));
      })
      .Case([&](RsqrtOp) {
        return out(unary("Reciprocal", {unary("Sqrt", {in(0)})}));
      })
      .Case([&](SquareOp) {
        return out(unary("Mul", {in(0), in(0)}));
      })
      .Case([&](LeakyReluOp o) {
        std::string y = fresh("LeakyRelu");
        attrFloat(node("LeakyRelu", {in(0)}, {y}), "alpha",
                  o.getAlpha().convertToDouble());
        return out(y);
      })
      .Case([&](EluOp o) {
        std::string y = fresh("Elu");
        attrFloat(node("Elu", {in(0)}, {y}), "alpha",
                  o.getAlpha().convertToDouble());
        return out(y);
      })
      .Case([&](HardSigmoidOp o) {
        std::string y = fresh("HardSigmoid");
        onnx::NodeProto *n = node("HardSigmoid", {in(0)}, {y});
        attrFloat(n, "alpha", o.getAlpha().convertToDouble());
        attrFloat(n, "beta", o.getBeta().convertToDouble());
        return out(y);
      })
      .Case([&](GeluOp o) {
        // kiln's formula (ir/ElementwiseScalar.cpp): 0.5 x (1 + erf(x /
        // sqrt 2)), or with `approximate` the tanh form; Gelu itself is
        // ONNX opset 20.
        Type e = elementType();
        std::string x = in(0), inner;
        if (o.getApproximate()) {
          std::string x3 = unary("Mul", {unary("Mul", {x, x}), x});
          std::string poly =
              unary("Add", {x, unary("Mul", {scalar(0.044715, e), x3})});
          inner = unary("Tanh",
                        {unary("Mul", {scalar(0.7978845608028654, e), poly})});
        } else {
          inner =
              unary("Erf", {unary("Mul", {x, scalar(0.70710678118654752, e)})});
        }
        std::string onePlus = unary("Add", {scalar(1.0, e), inner});
        std::string half = unary("Mul", {scalar(0.5, e), x});
        return out(unary("Mul", {half, onePlus}));
      })
      .Case([&](CompareOp o) {
        switch (o.getComparisonDirection()) {
        case ComparisonDirection::eq:
          return simple("Equal");
        case ComparisonDirection::ne:
          return out(unary("Not", {unary("Equal", {in(0), in(1)})}));
        case ComparisonDirection::lt:
          return simple("Less");
        case ComparisonDirection::le:
          return simple("LessOrEqual");
        case ComparisonDirection::gt:
          return simple("Greater");
        case ComparisonDirection::ge:
          return simple("GreaterOrEqual");
        }
        return fail(op, "unknown comparison");
      })
      .Case([&](ConvertOp) {
        std::string y = fresh("Cast");
        attr(node("Cast", {in(0)}, {y}), "to", onnxDataType(elementType()));
        return out(y);
      })
      .Case([&](ReduceSumOp o) {
        if (o.getAxes().empty())
          return simple("Identity");
        std::string y = fresh("ReduceSum");
        attr(node("ReduceSum", {in(0), ints(o.getAxes())}, {y}), "keepdims",
             o.getKeepDims() ? 1 : 0);
        return out(y);
      })
      .Case<ReduceMeanOp, ReduceMaxOp>([&](auto o) {
        if (o.getAxes().empty())
          return simple("Identity");
        llvm::StringRef opType =
            isa<ReduceMeanOp>(op) ? "ReduceMean" : "ReduceMax";
        std::string y = fresh(opType);
        onnx::NodeProto *n = node(opType, {in(0)}, {y});
        attrInts(n, "axes", o.getAxes());
        attr(n, "keepdims", o.getKeepDims() ? 1 : 0);
        return out(y);
      })
      .Case([&](ArgmaxOp o) {
        std::string y = fresh("ArgMax");
        onnx::NodeProto *n = node("ArgMax", {in(0)}, {y});
        attr(n, "axis", o.getAxis());
        attr(n, "keepdims", o.getKeepDims() ? 1 : 0);
        return out(y);
      })
      .Case([&](MatmulOp o) {
        int64_t rank = cast<ShapedType>(o.getLhs().getType()).getRank();
        if (rank == 2) {
          std::string y = fresh("Gemm");
          onnx::NodeProto *n = node("Gemm", {in(0), in(1)}, {y});
          attr(n, "transA", o.getTransposeLhs() ? 1 : 0);
          attr(n, "transB", o.getTransposeRhs() ? 1 : 0);
          return out(y);
        }
        llvm::SmallVector<int64_t> swap(rank);
        std::iota(swap.begin(), swap.end(), 0);
        std::swap(swap[rank - 1], swap[rank - 2]);
        std::string a = o.getTransposeLhs() ? transpose(in(0), swap) : in(0);
        std::string b = o.getTransposeRhs() ? transpose(in(1), swap) : in(1);
        return out(unary("MatMul", {a, b}));
      })
      .Case([&](ConvOp) { return convolution(op, false); })
      .Case([&](ConvTransposeOp) { return convolution(op, true); })
      .Case([&](MaxPoolOp) { return pool(op, true); })
      .Case([&](AvgPoolOp) { return pool(op, false); })
      .Case([&](GatherOp o) {
        std::string y = fresh("Gather");
        attr(node("Gather", {in(0), in(1)}, {y}), "axis", o.getAxis());
        return out(y);
      })
      .Case([&](RnnOp o) { return rnn(o); })
      .Case([&](ReshapeOp) {
        return out(unary("Reshape", {in(0), ints(resultShape())}));
      })
      .Case([&](TransposeOp o) {
        return out(transpose(in(0), o.getPermutation()));
      })
      .Case([&](ConcatOp o) {
        llvm::SmallVector<std::string> inputs;
        for (Value v : o.getInputs())
          inputs.push_back(name(v));
        std::string y = fresh("Concat");
        attr(node("Concat", inputs, {y}), "axis", o.getAxis());
        return out(y);
      })
      .Case([&](SliceOp o) {
        int64_t rank = o.getStart().size();
        llvm::SmallVector<int64_t> axes(rank);
        std::iota(axes.begin(), axes.end(), 0);
        return out(
            unary("Slice", {in(0), ints(o.getStart()), ints(o.getLimit()),
                            ints(axes), ints(o.getStrides())}));
      })
      .Case([&](PadOp o) {
        for (int64_t i : o.getInterior())
          if (i != 0)
            return fail(op, "interior padding has no ONNX form");
        llvm::SmallVector<int64_t> pads(o.getLow().begin(), o.getLow().end());
        pads.append(o.getHigh().begin(), o.getHigh().end());
        std::string y = fresh("Pad");
        attrString(
            node("Pad",
                 {in(0), ints(pads),
                  scalar(o.getPaddingValue().convertToDouble(), elementType())},
                 {y}),
            "mode", "constant");
        return out(y);
      })
      .Case([&](BroadcastInDimOp o) {
        auto operandType = cast<RankedTensorType>(o.getOperand().getType());
        llvm::ArrayRef<int64_t> shape = resultShape();
        // The operand's axes placed at their result axes, 1 elsewhere, then
        // Expand (NumPy broadcasting) to the result's shape.
        llvm::SmallVector<int64_t> placed(shape.size(), 1);
        for (auto [i, d] : llvm::enumerate(o.getBroadcastDimensions()))
          placed[d] = operandType.getDimSize(i);
        std::string x = in(0);
        if (llvm::ArrayRef<int64_t>(placed) != operandType.getShape())
          x = unary("Reshape", {x, ints(placed)});
        if (llvm::ArrayRef<int64_t>(placed) == shape)
          return out(x == in(0) ? unary("Identity", {x}) : x);
        return out(unary("Expand", {x, ints(shape)}));
      })
      .Case([&](SoftmaxOp o) {
        std::string y = fresh("Softmax");
        attr(node("Softmax", {in(0)}, {y}), "axis", o.getAxis());
        return out(y);
      })
      .Case([&](LogSoftmaxOp o) {
        std::string y = fresh("LogSoftmax");
        attr(node("LogSoftmax", {in(0)}, {y}), "axis", o.getAxis());
        return out(y);
      })
      .Case([&](ConstantOp o) { return constantOf(o.getValue()); })
      .Case([&](arith::ConstantOp o) { return constantOf(o.getValue()); })
      .Case([&](IotaOp o) {
        // Static: materialized as a constant.
        auto type = cast<RankedTensorType>(o.getType());
        int64_t dim = o.getDimension(), count = type.getNumElements();
        if (count >= maxConstantElements)
          return fail(op, "the iota is too large to store in the program");
        llvm::ArrayRef<int64_t> shape = type.getShape();
        int64_t inner = 1;
        for (int64_t i = dim + 1; i < type.getRank(); ++i)
          inner *= shape[i];
        std::string raw;
        Type e = type.getElementType();
        for (int64_t k = 0; k < count; ++k) {
          int64_t v = (k / inner) % shape[dim];
          auto append = [&](auto value) {
            raw.append(reinterpret_cast<const char *>(&value), sizeof value);
          };
          if (e.isF32())
            append(static_cast<float>(v));
          else if (e.isF64())
            append(static_cast<double>(v));
          else if (e.isInteger(32))
            append(static_cast<int32_t>(v));
          else
            append(v);
        }
        return out(constant("iota", onnxDataType(e), shape, std::move(raw)));
      })
      .Default([&](Operation *) {
        return fail(op, "no ONNX translation of this op");
      });
}
} // namespace

OnnxGraphExport kiln::exportOnnxGraph(func::FuncOp forward,
                                      llvm::StringRef modelName) {
  OnnxGraphExport result;
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.set_producer_name("kiln");
  model.set_model_version(1);
  onnx::OperatorSetIdProto *opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOnnxExportOpset);
  onnx::GraphProto &graph = *model.mutable_graph();
  graph.set_name(modelName.empty() ? "kiln" : modelName.str());
  Exporter ex(graph);

  // Parameters keep their names (the initializers the program appends);
  // inputs and outputs take their kiln.name.
  std::vector<std::pair<std::string, RankedTensorType>> params;
  for (BlockArgument arg : forward.getArguments()) {
    unsigned i = arg.getArgNumber();
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    if (!type || !type.hasStaticShape() ||
        !onnxDataType(type.getElementType())) {
      result.problems.push_back("argument " + std::to_string(i) +
                                " has a type ONNX export does not take");
      continue;
    }
    if (auto param = getArgAttr<KilnDialect::ParamAttrHelper>(forward, i)) {
      ex.reserve(param.getValue());
      ex.bindParam(arg, param.getValue().str());
      if (!arg.use_empty()) {
        result.initializers.push_back(param.getValue().str());
        params.push_back({param.getValue().str(), type});
      }
      continue;
    }
    auto nameAttr = getArgAttr<KilnDialect::NameAttrHelper>(forward, i);
    std::string name =
        nameAttr ? nameAttr.getValue().str() : "input_" + std::to_string(i);
    ex.reserve(name);
    ex.bind(arg, name);
    onnx::ValueInfoProto *info = graph.add_input();
    info->set_name(name);
    setType(info, type);
  }
  std::vector<std::string> outputNames;
  for (unsigned r = 0, e = forward.getNumResults(); r < e; ++r) {
    auto nameAttr = getResultAttr<KilnDialect::NameAttrHelper>(forward, r);
    std::string name =
        nameAttr ? nameAttr.getValue().str() : "output_" + std::to_string(r);
    // An output named like an input or parameter would define it twice.
    while (ex.isTaken(name))
      name += "_output";
    ex.reserve(name);
    outputNames.push_back(name);
  }

  for (Operation &op : forward.getBody().front()) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (auto [r, value] : llvm::enumerate(ret.getOperands())) {
        std::string source = ex.name(value);
        if (source.empty())
          continue; // its producer failed
        ex.node("Identity", {source}, {outputNames[r]});
        onnx::ValueInfoProto *info = graph.add_output();
        info->set_name(outputNames[r]);
        setType(info, cast<RankedTensorType>(value.getType()));
      }
      continue;
    }
    bool operandsKnown = llvm::all_of(
        op.getOperands(), [&](Value v) { return !ex.name(v).empty(); });
    if (!operandsKnown)
      continue; // reads a value whose producer failed; one problem is enough
    ex.translate(&op);
  }
  result.problems.insert(result.problems.end(), ex.problems.begin(),
                         ex.problems.end());
  if (!result.problems.empty())
    return result;

  // The ONNX checker on a copy with the parameters declared as graph
  // inputs (the exported file has them as initializers instead).
  onnx::ModelProto checked = model;
  for (auto &[name, type] : params) {
    onnx::ValueInfoProto *info = checked.mutable_graph()->add_input();
    info->set_name(name);
    setType(info, type);
  }
  try {
    onnx::checker::check_model(checked);
    onnx::ShapeInferenceOptions options(/*check_type=*/true,
                                        /*strict_mode=*/1,
                                        /*data_prop=*/false);
    onnx::shape_inference::InferShapes(
        checked, onnx::OpSchemaRegistry::Instance(), options);
  } catch (const std::exception &e) {
    result.problems.push_back(
        std::string("the exported graph fails the ONNX checker (a kiln "
                    "bug): ") +
        e.what());
    return result;
  }
  if (!model.SerializeToString(&result.model))
    result.problems.push_back("cannot serialize the ONNX model");
  return result;
}
