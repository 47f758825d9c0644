//===- Model.cpp - a Keras-like C++ API for kiln ----------------*- C++ -*-===//
//
// Sequential::build writes the layers as a Keras Sequential model config
// (llvm::json) and imports it with the Keras importer, so the builder has
// exactly the importer's layers and activations. compile turns the Loss,
// Optimizer and metrics into a TrainingConfig (the builder's adapter),
// compiles a clone through the compile library into a JIT model with its
// in-memory model descriptor, and opens a session on it: fit, evaluate,
// predict and the weights go through the session API (kiln/session.h),
// the same training loop as generated programs.
//
//===----------------------------------------------------------------------===//

#include "builder/Model.h"

#include "compiler/Compile.h"
#include "frontend/Import.h"
#include "kiln/session.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include "codegen/Pipelines.h"
#include "ir/KilnDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <array>
#include <cctype>
#include <cmath>
#include <cstring>
#include <numeric>
#include <sstream>

namespace mk = mlir::kiln;

namespace kiln {

//===----------------------------------------------------------------------===//
// Layers and optimizers
//===----------------------------------------------------------------------===//

namespace layers {
Layer Input(std::vector<int64_t> shape, std::string name) {
  Layer l;
  l.kind = Layer::Kind::Input;
  l.shape = std::move(shape);
  l.name = std::move(name);
  return l;
}
Layer Dense(int64_t units, std::string activation, bool useBias,
            std::string name) {
  Layer l;
  l.kind = Layer::Kind::Dense;
  l.units = units;
  l.activation = std::move(activation);
  l.useBias = useBias;
  l.name = std::move(name);
  return l;
}
Layer Activation(std::string activation, std::string name) {
  Layer l;
  l.kind = Layer::Kind::Activation;
  l.activation = std::move(activation);
  l.name = std::move(name);
  return l;
}
Layer Dropout(double rate, int64_t seed, std::string name) {
  Layer l;
  l.kind = Layer::Kind::Dropout;
  l.rate = rate;
  l.seed = seed;
  l.name = std::move(name);
  return l;
}
Layer Flatten(std::string name) {
  Layer l;
  l.kind = Layer::Kind::Flatten;
  l.name = std::move(name);
  return l;
}

static Layer spatial(Layer::Kind kind, int64_t filters,
                     std::vector<int64_t> kernelSize, std::string activation,
                     std::vector<int64_t> strides, std::string padding,
                     std::string name) {
  Layer l;
  l.kind = kind;
  l.filters = filters;
  l.kernelSize = std::move(kernelSize);
  l.activation = std::move(activation);
  l.strides = std::move(strides);
  l.padding = std::move(padding);
  l.name = std::move(name);
  return l;
}
Layer Conv1D(int64_t filters, std::vector<int64_t> kernelSize,
             std::string activation, std::vector<int64_t> strides,
             std::string padding, std::string name) {
  return spatial(Layer::Kind::Conv1D, filters, std::move(kernelSize),
                 std::move(activation), std::move(strides), std::move(padding),
                 std::move(name));
}
Layer Conv2D(int64_t filters, std::vector<int64_t> kernelSize,
             std::string activation, std::vector<int64_t> strides,
             std::string padding, std::string name) {
  return spatial(Layer::Kind::Conv2D, filters, std::move(kernelSize),
                 std::move(activation), std::move(strides), std::move(padding),
                 std::move(name));
}
Layer Conv2DTranspose(int64_t filters, std::vector<int64_t> kernelSize,
                      std::string activation, std::vector<int64_t> strides,
                      std::string padding, std::string name) {
  return spatial(Layer::Kind::Conv2DTranspose, filters, std::move(kernelSize),
                 std::move(activation), std::move(strides), std::move(padding),
                 std::move(name));
}
Layer DepthwiseConv2D(std::vector<int64_t> kernelSize, int64_t depthMultiplier,
                      std::string activation, std::vector<int64_t> strides,
                      std::string padding, std::string name) {
  Layer l = spatial(Layer::Kind::DepthwiseConv2D, 0, std::move(kernelSize),
                    std::move(activation), std::move(strides),
                    std::move(padding), std::move(name));
  l.depthMultiplier = depthMultiplier;
  return l;
}
Layer SeparableConv2D(int64_t filters, std::vector<int64_t> kernelSize,
                      std::string activation, std::vector<int64_t> strides,
                      std::string padding, std::string name) {
  return spatial(Layer::Kind::SeparableConv2D, filters, std::move(kernelSize),
                 std::move(activation), std::move(strides), std::move(padding),
                 std::move(name));
}
#define KILN_POOL(NAME)                                                        \
  Layer NAME(std::vector<int64_t> poolSize, std::vector<int64_t> strides,      \
             std::string padding, std::string name) {                          \
    return spatial(Layer::Kind::NAME, 0, std::move(poolSize), "linear",        \
                   std::move(strides), std::move(padding), std::move(name));   \
  }
KILN_POOL(MaxPooling1D)
KILN_POOL(MaxPooling2D)
KILN_POOL(AveragePooling1D)
KILN_POOL(AveragePooling2D)
#undef KILN_POOL
#define KILN_GLOBAL_POOL(NAME)                                                 \
  Layer NAME(bool keepDims, std::string name) {                                \
    Layer l;                                                                   \
    l.kind = Layer::Kind::NAME;                                                \
    l.keepDims = keepDims;                                                     \
    l.name = std::move(name);                                                  \
    return l;                                                                  \
  }
KILN_GLOBAL_POOL(GlobalAveragePooling1D)
KILN_GLOBAL_POOL(GlobalAveragePooling2D)
KILN_GLOBAL_POOL(GlobalMaxPooling1D)
KILN_GLOBAL_POOL(GlobalMaxPooling2D)
#undef KILN_GLOBAL_POOL
Layer BatchNormalization(int64_t axis, double momentum, double epsilon,
                         std::string name) {
  Layer l;
  l.kind = Layer::Kind::BatchNormalization;
  l.axis = axis;
  l.momentum = momentum;
  l.epsilon = epsilon;
  l.name = std::move(name);
  return l;
}
Layer ZeroPadding2D(std::vector<std::pair<int64_t, int64_t>> padding,
                    std::string name) {
  Layer l;
  l.kind = Layer::Kind::ZeroPadding2D;
  l.amounts = std::move(padding);
  l.name = std::move(name);
  return l;
}
Layer Cropping2D(std::vector<std::pair<int64_t, int64_t>> cropping,
                 std::string name) {
  Layer l;
  l.kind = Layer::Kind::Cropping2D;
  l.amounts = std::move(cropping);
  l.name = std::move(name);
  return l;
}
Layer UpSampling2D(std::vector<int64_t> size, std::string name) {
  Layer l;
  l.kind = Layer::Kind::UpSampling2D;
  l.size = std::move(size);
  l.name = std::move(name);
  return l;
}
Layer SpatialDropout2D(double rate, int64_t seed, std::string name) {
  Layer l;
  l.kind = Layer::Kind::SpatialDropout2D;
  l.rate = rate;
  l.seed = seed;
  l.name = std::move(name);
  return l;
}
Layer Embedding(int64_t inputDim, int64_t outputDim, std::string name) {
  Layer l;
  l.kind = Layer::Kind::Embedding;
  l.inputDim = inputDim;
  l.outputDim = outputDim;
  l.name = std::move(name);
  return l;
}
Layer Masking(double maskValue, std::string name) {
  Layer l;
  l.kind = Layer::Kind::Masking;
  l.maskValue = maskValue;
  l.name = std::move(name);
  return l;
}
Layer LayerNormalization(double epsilon, std::string name) {
  Layer l;
  l.kind = Layer::Kind::LayerNormalization;
  l.epsilon = epsilon;
  l.name = std::move(name);
  return l;
}
static Layer recurrent(Layer::Kind kind, int64_t units, bool returnSequences,
                       std::string name) {
  Layer l;
  l.kind = kind;
  l.units = units;
  l.returnSequences = returnSequences;
  l.name = std::move(name);
  return l;
}
Layer SimpleRNN(int64_t units, bool returnSequences, std::string name) {
  return recurrent(Layer::Kind::SimpleRNN, units, returnSequences,
                   std::move(name));
}
Layer LSTM(int64_t units, bool returnSequences, std::string name) {
  return recurrent(Layer::Kind::LSTM, units, returnSequences, std::move(name));
}
Layer GRU(int64_t units, bool returnSequences, std::string name) {
  return recurrent(Layer::Kind::GRU, units, returnSequences, std::move(name));
}
} // namespace layers

Optimizer Optimizer::SGD(double learningRate, double momentum, bool nesterov) {
  Optimizer o;
  o.name = "sgd";
  o.learningRate = learningRate;
  o.hyperparameters = {{"momentum", momentum}, {"nesterov", nesterov}};
  return o;
}
Optimizer Optimizer::Adam(double learningRate, double beta1, double beta2,
                          double epsilon) {
  Optimizer o;
  o.name = "adam";
  o.learningRate = learningRate;
  o.hyperparameters = {
      {"beta_1", beta1}, {"beta_2", beta2}, {"epsilon", epsilon}};
  return o;
}
Optimizer Optimizer::AdamW(double learningRate, double weightDecay) {
  Optimizer o;
  o.name = "adamw";
  o.learningRate = learningRate;
  o.hyperparameters = {{"weight_decay", weightDecay}};
  return o;
}
Optimizer Optimizer::RMSprop(double learningRate, double rho) {
  Optimizer o;
  o.name = "rmsprop";
  o.learningRate = learningRate;
  o.hyperparameters = {{"rho", rho}};
  return o;
}
Optimizer Optimizer::Adagrad(double learningRate) {
  Optimizer o;
  o.name = "adagrad";
  o.learningRate = learningRate;
  return o;
}

//===----------------------------------------------------------------------===//
// Implementation state
//===----------------------------------------------------------------------===//

namespace {
llvm::Error error(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

std::string shapeText(llvm::ArrayRef<int64_t> shape, bool batch,
                      int64_t batchSize) {
  std::string text = "(";
  if (batch)
    text += batchSize > 0 ? std::to_string(batchSize) : "None";
  for (auto [i, d] : llvm::enumerate(shape))
    text += (i || batch ? ", " : "") + std::to_string(d);
  if (!batch && shape.size() == 1)
    text += ",";
  return text + ")";
}

int64_t product(llvm::ArrayRef<int64_t> shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1},
                         std::multiplies<int64_t>());
}

/// Collects the diagnostics of a scope into a string.
struct DiagnosticCollector {
  explicit DiagnosticCollector(mlir::MLIRContext &context)
      : handler(&context, [this](mlir::Diagnostic &diag) {
          llvm::raw_string_ostream os(text);
          os << "\n  " << diag.getLocation() << ": " << diag;
          for (mlir::Diagnostic &note : diag.getNotes())
            os << "\n    note: " << note;
          return mlir::success();
        }) {}
  std::string text;
  mlir::ScopedDiagnosticHandler handler;
};

/// One layer after shape inference.
struct ResolvedLayer {
  Layer layer;
  std::string type; // "Dense", ...
  std::vector<int64_t> outShape;
  int64_t params = 0;
  /// False when the shape is known only after build().
  bool known = true;
};

/// The Keras class of a spatial layer kind.
const char *spatialClassName(Layer::Kind kind) {
  switch (kind) {
  case Layer::Kind::Conv1D:
    return "Conv1D";
  case Layer::Kind::Conv2D:
    return "Conv2D";
  case Layer::Kind::Conv2DTranspose:
    return "Conv2DTranspose";
  case Layer::Kind::DepthwiseConv2D:
    return "DepthwiseConv2D";
  case Layer::Kind::SeparableConv2D:
    return "SeparableConv2D";
  case Layer::Kind::MaxPooling1D:
    return "MaxPooling1D";
  case Layer::Kind::MaxPooling2D:
    return "MaxPooling2D";
  case Layer::Kind::AveragePooling1D:
    return "AveragePooling1D";
  case Layer::Kind::AveragePooling2D:
    return "AveragePooling2D";
  case Layer::Kind::GlobalAveragePooling1D:
    return "GlobalAveragePooling1D";
  case Layer::Kind::GlobalAveragePooling2D:
    return "GlobalAveragePooling2D";
  case Layer::Kind::GlobalMaxPooling1D:
    return "GlobalMaxPooling1D";
  case Layer::Kind::GlobalMaxPooling2D:
    return "GlobalMaxPooling2D";
  case Layer::Kind::BatchNormalization:
    return "BatchNormalization";
  case Layer::Kind::ZeroPadding2D:
    return "ZeroPadding2D";
  case Layer::Kind::Cropping2D:
    return "Cropping2D";
  case Layer::Kind::UpSampling2D:
    return "UpSampling2D";
  case Layer::Kind::SpatialDropout2D:
    return "SpatialDropout2D";
  case Layer::Kind::Embedding:
    return "Embedding";
  case Layer::Kind::Masking:
    return "Masking";
  case Layer::Kind::LayerNormalization:
    return "LayerNormalization";
  case Layer::Kind::SimpleRNN:
    return "SimpleRNN";
  case Layer::Kind::LSTM:
    return "LSTM";
  case Layer::Kind::GRU:
    return "GRU";
  default:
    return "";
  }
}

/// Keras' default layer names: "MaxPooling2D" -> "max_pooling2d".
std::string snakeCase(llvm::StringRef name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (std::isupper(static_cast<unsigned char>(c))) {
      // Keras' to_snake_case: "MaxPooling2D" -> "max_pooling2d".
      bool afterLower =
          i && std::islower(static_cast<unsigned char>(name[i - 1]));
      bool wordStart = i && i + 1 < name.size() &&
                       std::islower(static_cast<unsigned char>(name[i + 1]));
      if (afterLower || wordStart)
        out += '_';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out;
}

} // namespace

struct Sequential::Impl {
  std::vector<Layer> layers;
  uint32_t seed = 0;
  int64_t batch = 0;
  std::vector<ResolvedLayer> resolved;

  std::unique_ptr<mlir::MLIRContext> context;
  mlir::OwningOpRef<mlir::ModuleOp> module;

  // Compiled state: the JIT model and a session on it.
  std::unique_ptr<mk::JitModel> jit;
  kiln_session_t *session = nullptr;
  bool sparseLabels = false;
  double learningRate = -1; // kiln_fit_options_t: the model's
  /// "loss", then the metrics as given to compile (kiln_session_metric_name).
  std::vector<std::string> names;

  ~Impl() { kiln_session_destroy(session); }
  bool compiled() const { return session != nullptr; }

  llvm::Error resolve();
  /// The output shapes (kiln.layers) and parameter counts (kiln.param
  /// arguments "<layer>/...") of the imported module.
  void refreshFromModule();
  /// The layers as a Keras Sequential model config.
  llvm::json::Value kerasConfig() const;
  llvm::Error checkData(const std::vector<float> &x, size_t labelCount,
                        bool sparse, size_t &samples);
  /// The session's last error as an llvm::Error prefixed with `what`.
  llvm::Error sessionError(const char *what) const {
    return error(llvm::Twine(what) + ": " + kiln_session_error(session));
  }
  /// The session's values (evaluate, last epoch) by name.
  Metrics named(const std::vector<double> &values) const {
    Metrics out;
    for (auto [name, value] : llvm::zip(names, values))
      out[name] = value;
    return out;
  }
};

/// A kiln_array_t describing caller memory (read-only use by the session).
template <typename T>
static kiln_array_t view(const std::vector<T> &data, kiln_dtype_t dtype,
                         int64_t samples, llvm::ArrayRef<int64_t> sampleShape) {
  kiln_array_t a = {};
  a.dtype = dtype;
  a.rank = static_cast<int32_t>(sampleShape.size() + 1);
  a.shape[0] = samples;
  for (auto [i, d] : llvm::enumerate(sampleShape))
    a.shape[i + 1] = d;
  a.data = const_cast<T *>(data.data());
  a.nbytes = data.size() * sizeof(T);
  return a;
}

//===----------------------------------------------------------------------===//
// Shapes and the Keras config
//===----------------------------------------------------------------------===//

llvm::Error Sequential::Impl::resolve() {
  resolved.clear();
  if (layers.empty())
    return error("the model has no layers");
  if (layers.front().kind != Layer::Kind::Input)
    return error("the first layer must be kiln::layers::Input");
  llvm::StringMap<int> counts;
  llvm::StringSet<> snakeNames; // owns the spatial layers' base names
  llvm::StringSet<> names;
  std::vector<int64_t> shape;
  // False after a spatial layer until build() (its shape is the importer's).
  bool known = true;
  for (auto [index, layer] : llvm::enumerate(layers)) {
    ResolvedLayer r;
    r.layer = layer;
    const char *base = "";
    switch (layer.kind) {
    case Layer::Kind::Input:
      if (index != 0)
        return error("layer " + llvm::Twine(index) +
                     ": Input is only allowed as the first layer");
      base = "input";
      r.type = "InputLayer";
      for (int64_t d : layer.shape)
        if (d <= 0)
          return error("Input: every extent of the shape must be > 0, got " +
                       shapeText(layer.shape, false, 0));
      shape = layer.shape;
      break;
    case Layer::Kind::Dense:
      base = "dense";
      r.type = "Dense";
      if (layer.units <= 0)
        return error("layer " + llvm::Twine(index) +
                     ": Dense units must be > 0, got " +
                     llvm::Twine(layer.units));
      if (known && shape.empty())
        return error("layer " + llvm::Twine(index) +
                     ": Dense needs an input with a feature axis, got a "
                     "scalar sample");
      if (known) {
        r.params =
            shape.back() * layer.units + (layer.useBias ? layer.units : 0);
        shape.back() = layer.units;
      }
      break;
    case Layer::Kind::Activation:
      base = "activation";
      r.type = "Activation";
      break;
    case Layer::Kind::Dropout:
      base = "dropout";
      r.type = "Dropout";
      if (!(layer.rate >= 0 && layer.rate < 1))
        return error("layer " + llvm::Twine(index) +
                     ": Dropout rate must be in [0, 1), got " +
                     std::to_string(layer.rate));
      break;
    case Layer::Kind::Flatten:
      base = "flatten";
      r.type = "Flatten";
      if (known)
        shape = {product(shape)};
      break;
    default:
      // Spatial layers: the Keras importer checks them and gives their
      // shapes at build() (kiln.layers); before, later shapes are unknown.
      r.type = spatialClassName(layer.kind);
      base = r.type == "Conv1D"               ? "conv1d"
             : r.type == "Conv2D"             ? "conv2d"
             : r.type == "Conv2DTranspose"    ? "conv2d_transpose"
             : r.type == "DepthwiseConv2D"    ? "depthwise_conv2d"
             : r.type == "SeparableConv2D"    ? "separable_conv2d"
             : r.type == "BatchNormalization" ? "batch_normalization"
             : r.type == "LayerNormalization" ? "layer_normalization"
             : r.type == "SimpleRNN"          ? "simple_rnn"
             : r.type == "LSTM"               ? "lstm"
             : r.type == "GRU"                ? "gru"
             : r.type == "Embedding"          ? "embedding"
                                              : nullptr;
      if (!base)
        base = snakeNames.insert(snakeCase(r.type)).first->getKey().data();
      if (layer.kind == Layer::Kind::SpatialDropout2D &&
          !(layer.rate >= 0 && layer.rate < 1))
        return error("layer " + llvm::Twine(index) +
                     ": SpatialDropout2D rate must be in [0, 1), got " +
                     std::to_string(layer.rate));
      known = false;
      break;
    }
    if (r.layer.name.empty()) {
      int &n = counts[base];
      r.layer.name = n ? std::string(base) + "_" + std::to_string(n) : base;
      ++n;
    }
    if (!names.insert(r.layer.name).second)
      return error("duplicate layer name '" + r.layer.name + "'");
    r.outShape = known ? shape : std::vector<int64_t>();
    r.known = known;
    resolved.push_back(std::move(r));
  }
  return llvm::Error::success();
}

/// A spatial layer's Keras config arguments (model.to_json() spelling).
static void spatialConfig(const Layer &l, llvm::json::Object &config) {
  auto tuple = [](const std::vector<int64_t> &v) {
    llvm::json::Array a;
    for (int64_t x : v)
      a.push_back(x);
    return v.size() == 1 ? llvm::json::Value(v[0])
                         : llvm::json::Value(std::move(a));
  };
  auto pairs = [](const std::vector<std::pair<int64_t, int64_t>> &v) {
    llvm::json::Array a;
    for (auto [lo, hi] : v)
      a.push_back(llvm::json::Array{lo, hi});
    return a;
  };
  llvm::StringRef cls = spatialClassName(l.kind);
  bool conv = cls.contains("Conv");
  bool pool = cls.starts_with("MaxPooling") || cls.starts_with("Average");
  if (!l.trainable)
    config["trainable"] = false;
  if (conv || pool || cls.starts_with("Global") ||
      cls.starts_with("ZeroPadding") || cls.starts_with("Cropping") ||
      cls.starts_with("UpSampling") || cls.starts_with("SpatialDropout"))
    config["data_format"] = l.dataFormat;
  if (conv) {
    if (l.kind != Layer::Kind::DepthwiseConv2D)
      config["filters"] = l.filters;
    config["kernel_size"] = tuple(l.kernelSize);
    config["strides"] =
        tuple(l.strides.empty() ? std::vector<int64_t>{1} : l.strides);
    config["padding"] = l.padding;
    config["dilation_rate"] = tuple(l.dilationRate);
    config["activation"] = l.activation;
    config["use_bias"] = l.useBias;
    if (l.kind == Layer::Kind::Conv1D || l.kind == Layer::Kind::Conv2D)
      config["groups"] = l.groups;
    if (l.kind == Layer::Kind::DepthwiseConv2D ||
        l.kind == Layer::Kind::SeparableConv2D)
      config["depth_multiplier"] = l.depthMultiplier;
    if (l.kind == Layer::Kind::Conv2DTranspose && !l.outputPadding.empty())
      config["output_padding"] = tuple(l.outputPadding);
  } else if (pool) {
    config["pool_size"] =
        tuple(l.kernelSize.empty() ? std::vector<int64_t>{2} : l.kernelSize);
    config["strides"] =
        l.strides.empty() ? llvm::json::Value(nullptr) : tuple(l.strides);
    config["padding"] = l.padding;
  } else if (cls.starts_with("Global")) {
    config["keepdims"] = l.keepDims;
  } else if (l.kind == Layer::Kind::BatchNormalization) {
    config["axis"] = l.axis;
    config["momentum"] = l.momentum;
    config["epsilon"] = l.epsilon;
    config["center"] = l.center;
    config["scale"] = l.scale;
  } else if (l.kind == Layer::Kind::ZeroPadding2D) {
    config["padding"] = pairs(l.amounts);
  } else if (l.kind == Layer::Kind::Cropping2D) {
    config["cropping"] = pairs(l.amounts);
  } else if (l.kind == Layer::Kind::UpSampling2D) {
    config["size"] = tuple(l.size.empty() ? std::vector<int64_t>{2} : l.size);
  } else if (l.kind == Layer::Kind::SpatialDropout2D) {
    config["rate"] = l.rate;
    if (l.seed)
      config["seed"] = l.seed;
  }
}

llvm::json::Value Sequential::Impl::kerasConfig() const {
  // Keras 3's model.to_json() layout; the importer's defaults give the
  // initializers (glorot_uniform kernels, zero biases) and the Dropout seed
  // (the layer's 1-based position).
  llvm::json::Array list;
  for (const ResolvedLayer &r : resolved) {
    const Layer &l = r.layer;
    llvm::json::Object config{{"name", l.name}};
    const char *className = "";
    switch (l.kind) {
    case Layer::Kind::Input: {
      className = "InputLayer";
      llvm::json::Array batchShape{batch};
      for (int64_t d : l.shape)
        batchShape.push_back(d);
      config["batch_shape"] = std::move(batchShape);
      config["dtype"] = "float32";
      break;
    }
    case Layer::Kind::Dense:
      className = "Dense";
      config["units"] = l.units;
      config["activation"] = l.activation;
      config["use_bias"] = l.useBias;
      break;
    case Layer::Kind::Activation:
      className = "Activation";
      config["activation"] = l.activation;
      break;
    case Layer::Kind::Dropout:
      className = "Dropout";
      config["rate"] = l.rate;
      if (l.seed)
        config["seed"] = l.seed;
      break;
    case Layer::Kind::Flatten:
      className = "Flatten";
      break;
    case Layer::Kind::Embedding:
      className = "Embedding";
      config["input_dim"] = l.inputDim;
      config["output_dim"] = l.outputDim;
      config["mask_zero"] = l.maskZero;
      break;
    case Layer::Kind::Masking:
      className = "Masking";
      config["mask_value"] = l.maskValue;
      break;
    case Layer::Kind::LayerNormalization:
      className = "LayerNormalization";
      config["epsilon"] = l.epsilon;
      break;
    case Layer::Kind::SimpleRNN:
    case Layer::Kind::LSTM:
    case Layer::Kind::GRU: {
      config["units"] = l.units;
      config["return_sequences"] = l.returnSequences;
      config["go_backwards"] = l.goBackwards;
      className = spatialClassName(l.kind);
      if (l.bidirectional) {
        llvm::json::Object inner{{"class_name", className},
                                 {"config", std::move(config)}};
        config = llvm::json::Object{{"name", l.name},
                                    {"merge_mode", "concat"},
                                    {"layer", std::move(inner)}};
        className = "Bidirectional";
      }
      break;
    }
    default:
      className = spatialClassName(l.kind);
      spatialConfig(l, config);
      break;
    }
    list.push_back(llvm::json::Object{{"class_name", className},
                                      {"config", std::move(config)}});
  }
  return llvm::json::Object{
      {"class_name", "Sequential"},
      {"config", llvm::json::Object{{"name", "sequential"},
                                    {"layers", std::move(list)}}}};
}

//===----------------------------------------------------------------------===//
// Sequential
//===----------------------------------------------------------------------===//

Sequential::Sequential(std::vector<Layer> layers)
    : impl(std::make_unique<Impl>()) {
  impl->layers = std::move(layers);
}
Sequential::~Sequential() = default;
Sequential::Sequential(Sequential &&) noexcept = default;
Sequential &Sequential::operator=(Sequential &&) noexcept = default;

void Sequential::setSeed(uint32_t seed) { impl->seed = seed; }

llvm::Error Sequential::build(int64_t batchSize) {
  Impl &m = *impl;
  if (m.module)
    return error("build: the model is already built");
  if (batchSize <= 0)
    return error("build: the batch size must be > 0, got " +
                 llvm::Twine(batchSize));
  if (llvm::Error e = m.resolve())
    return e;
  m.batch = batchSize;
  mlir::DialectRegistry registry;
  mk::registerCodegenDialects(registry);
  m.context = std::make_unique<mlir::MLIRContext>(registry);
  m.context->loadAllAvailableDialects();
  DiagnosticCollector diags(*m.context);
  mk::ImportOptions options;
  options.batchSize = batchSize;
  m.module = mk::importKerasConfig(m.kerasConfig(), "kiln::Sequential",
                                   m.context.get(), options);
  mk::Compiler compiler(*m.context, mk::CompileOptions());
  if (!m.module || failed(compiler.verifyForward(*m.module))) {
    m.module = nullptr;
    return error("build: the model is invalid:" + diags.text);
  }
  m.refreshFromModule();
  return llvm::Error::success();
}

void Sequential::Impl::refreshFromModule() {
  llvm::StringMap<std::vector<int64_t>> shapes;
  if (auto records = (*module)->getAttrOfType<mlir::ArrayAttr>(
          mk::KilnDialect::LayersAttrHelper::getNameStr()))
    for (mlir::Attribute a : records) {
      auto record = mlir::cast<mlir::DictionaryAttr>(a);
      auto name = record.getAs<mlir::StringAttr>("name");
      auto shape = record.getAs<mlir::ArrayAttr>("shape");
      if (!name || !shape)
        continue;
      std::vector<int64_t> dims;
      for (mlir::Attribute d : shape.getValue().drop_front())
        dims.push_back(mlir::cast<mlir::IntegerAttr>(d).getInt());
      shapes[name.getValue()] = dims;
    }
  llvm::StringMap<int64_t> params;
  module->walk([&](mlir::func::FuncOp func) {
    for (unsigned i = 0; i < func.getNumArguments(); ++i)
      if (auto name = mk::getArgAttr<mk::KilnDialect::ParamAttrHelper>(func, i))
        params[name.getValue().split('/').first] +=
            mlir::cast<mlir::RankedTensorType>(func.getArgument(i).getType())
                .getNumElements();
  });
  for (ResolvedLayer &r : resolved) {
    auto it = shapes.find(r.layer.name);
    if (it != shapes.end())
      r.outShape = it->second;
    r.known = true;
    r.params = params.lookup(r.layer.name);
  }
}

mlir::ModuleOp Sequential::module() const {
  return impl->module ? *impl->module : mlir::ModuleOp();
}

std::string Sequential::ir() const {
  if (!impl->module)
    return "";
  std::string text;
  llvm::raw_string_ostream os(text);
  impl->module->print(os);
  return text;
}

std::vector<int64_t> Sequential::outputShape() const {
  return impl->resolved.empty() ? std::vector<int64_t>()
                                : impl->resolved.back().outShape;
}
int64_t Sequential::inputSize() const {
  return impl->resolved.empty() ? 0 : product(impl->resolved.front().outShape);
}
int64_t Sequential::batchSize() const { return impl->batch; }

std::string Sequential::summary() const {
  if (impl->resolved.empty())
    if (llvm::Error e = impl->resolve())
      return "invalid model: " + llvm::toString(std::move(e)) + "\n";
  std::vector<std::array<std::string, 3>> rows;
  int64_t total = 0;
  for (const ResolvedLayer &r : impl->resolved) {
    // Layers after a spatial one have their shapes and counts after build().
    rows.push_back({r.layer.name + " (" + r.type + ")",
                    r.known ? shapeText(r.outShape, true, impl->batch) : "?",
                    r.known ? std::to_string(r.params) : "?"});
    total += r.params;
  }
  size_t w0 = 12, w1 = 12;
  for (auto &row : rows) {
    w0 = std::max(w0, row[0].size());
    w1 = std::max(w1, row[1].size());
  }
  std::ostringstream os;
  auto line = [&](const std::string &a, const std::string &b,
                  const std::string &c) {
    os << a << std::string(w0 + 2 - a.size(), ' ') << b
       << std::string(w1 + 2 - b.size(), ' ') << c << "\n";
  };
  std::string rule(w0 + w1 + 14, '-');
  os << "Model: \"sequential\"\n" << rule << "\n";
  line("Layer (type)", "Output Shape", "Param #");
  os << rule << "\n";
  for (auto &row : rows)
    line(row[0], row[1], row[2]);
  os << rule << "\nTotal params: " << total << "\n";
  return os.str();
}

llvm::Expected<mk::TrainingConfig>
toTrainingConfig(const Loss &loss, const Optimizer &optimizer,
                 const std::vector<std::string> &metrics) {
  mk::TrainingConfig config;
  config.loss = loss.name;
  config.fromLogits = loss.fromLogits;
  config.metrics = metrics;
  config.convention = optimizer.convention;
  config.optimizer.name = optimizer.name;
  config.optimizer.learningRate = optimizer.learningRate;
  for (auto &[key, value] : optimizer.hyperparameters)
    if (llvm::Error e = config.optimizer.set(key, value))
      return std::move(e);
  if (llvm::Error e = config.validate())
    return std::move(e);
  return config;
}

llvm::Error Sequential::compile(const Loss &loss, const Optimizer &optimizer,
                                const std::vector<std::string> &metrics) {
  Impl &m = *impl;
  if (!m.module)
    return error("compile: the model is not built (call build(batchSize) "
                 "first)");
  kiln_session_destroy(m.session);
  m.session = nullptr;
  m.jit.reset();

  llvm::Expected<mk::TrainingConfig> config =
      toTrainingConfig(loss, optimizer, metrics);
  if (!config)
    return error("compile: " + llvm::toString(config.takeError()));
  mk::CompileOptions options;
  options.name = "model";
  options.source = "kiln::Sequential";
  options.seed = m.seed;
  options.training = std::move(*config);
  mlir::OwningOpRef<mlir::ModuleOp> clone = m.module->clone();
  DiagnosticCollector diags(*m.context);
  llvm::Expected<std::unique_ptr<mk::JitModel>> jit =
      mk::compileToJit(*clone, options);
  if (!jit)
    return error("compile: " + llvm::toString(jit.takeError()) + ":" +
                 diags.text);
  m.jit = std::move(*jit);
  char message[512] = "";
  if (kiln_session_create(&m.jit->model, m.seed, &m.session, message,
                          sizeof message) != KILN_OK)
    return error(llvm::Twine("compile: ") + message);
  m.names.clear();
  for (int32_t i = 0; i < kiln_session_metric_count(m.session); ++i)
    m.names.push_back(kiln_session_metric_name(m.session, i));
  // Sparse losses take int32 class indices.
  m.sparseLabels = false;
  for (const mk::EntryPointAbi &e : m.jit->abi)
    for (const mk::AbiTensor &t : e.tensors)
      if (t.kind == KILN_TENSOR_INPUT && t.name == "labels")
        m.sparseLabels = t.dtype == "i32";
  m.learningRate = optimizer.learningRate;
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Running: the session API
//===----------------------------------------------------------------------===//

llvm::Error Sequential::Impl::checkData(const std::vector<float> &x,
                                        size_t labelCount, bool sparse,
                                        size_t &samples) {
  int64_t in = product(resolved.front().outShape);
  if (x.empty() || x.size() % in != 0)
    return error("x has " + llvm::Twine(x.size()) +
                 " values, not a positive multiple of the sample size " +
                 llvm::Twine(in) + " " +
                 shapeText(resolved.front().outShape, false, 0));
  samples = x.size() / in;
  if (sparse != sparseLabels)
    return error(sparseLabels
                     ? "the loss takes sparse int32 labels, got float labels"
                     : "the loss takes float labels of the output shape, got "
                       "int32 class indices");
  size_t perSample = sparse ? 1 : product(resolved.back().outShape);
  if (labelCount != samples * perSample)
    return error("y has " + llvm::Twine(labelCount) + " values but x holds " +
                 llvm::Twine(samples) + " samples (" + llvm::Twine(perSample) +
                 " label value(s) per sample)");
  return llvm::Error::success();
}

/// Sparse labels must be class indices in [0, classes); float labels are
/// not checked. `what` names the calling method in the message.
template <typename Label>
static llvm::Error checkLabels(const char *what, const std::vector<Label> &y,
                               int64_t classes) {
  if constexpr (std::is_same_v<Label, int32_t>)
    for (auto [i, label] : llvm::enumerate(y))
      if (label < 0 || label >= classes)
        return error(llvm::Twine(what) + ": label " + llvm::Twine(label) +
                     " of sample " + llvm::Twine(i) + " is outside [0, " +
                     llvm::Twine(classes) + ")");
  return llvm::Error::success();
}

/// The label array of `y` for the session: [N] int32 class indices or
/// [N, ...output shape] floats.
template <typename Label>
static kiln_array_t labelView(const Sequential::Impl &m,
                              const std::vector<Label> &y, size_t samples) {
  if constexpr (std::is_same_v<Label, int32_t>)
    return view(y, KILN_DTYPE_I32, samples, {});
  else
    return view(y, KILN_DTYPE_F32, samples, m.resolved.back().outShape);
}

template <typename Label>
static llvm::Expected<History>
fitImpl(Sequential::Impl &m, const std::vector<float> &x,
        const std::vector<Label> &y, int epochs, int64_t batchSize,
        bool shuffle, int64_t classes) {
  constexpr bool sparse = std::is_same_v<Label, int32_t>;
  if (!m.compiled())
    return error("fit: the model is not compiled (call compile() first)");
  if (batchSize != 0 && batchSize != m.batch)
    return error("fit: batch size " + llvm::Twine(batchSize) +
                 " differs from the compiled batch size " +
                 llvm::Twine(m.batch) + " (set it in build())");
  if (epochs < 0)
    return error("fit: epochs must be >= 0");
  size_t samples = 0;
  if (llvm::Error e = m.checkData(x, y.size(), sparse, samples))
    return std::move(e);
  if (llvm::Error e = checkLabels("fit", y, classes))
    return std::move(e);
  kiln_array_t xs =
      view(x, KILN_DTYPE_F32, samples, m.resolved.front().outShape);
  kiln_array_t ys = labelView(m, y, samples);
  History history;
  history.names = m.names;
  kiln_fit_options_t options;
  kiln_fit_options_init(&options);
  options.epochs = 1;
  options.learning_rate = m.learningRate;
  options.shuffle = shuffle;
  std::vector<double> values(m.names.size());
  // One epoch per call, to read each epoch's metrics.
  for (int epoch = 0; epoch < epochs; ++epoch) {
    if (kiln_session_fit(m.session, &xs, &ys, &options, nullptr) != KILN_OK ||
        kiln_session_last_epoch_metrics(m.session, values.data()) != KILN_OK)
      return m.sessionError("fit");
    for (auto &[name, value] : m.named(values))
      history.values[name].push_back(value);
  }
  return history;
}

template <typename Label>
static llvm::Expected<Metrics>
evaluateImpl(Sequential::Impl &m, const std::vector<float> &x,
             const std::vector<Label> &y, int64_t classes) {
  constexpr bool sparse = std::is_same_v<Label, int32_t>;
  if (!m.compiled())
    return error("evaluate: the model is not compiled (call compile() "
                 "first)");
  size_t samples = 0;
  if (llvm::Error e = m.checkData(x, y.size(), sparse, samples))
    return std::move(e);
  if (llvm::Error e = checkLabels("evaluate", y, classes))
    return std::move(e);
  kiln_array_t xs =
      view(x, KILN_DTYPE_F32, samples, m.resolved.front().outShape);
  kiln_array_t ys = labelView(m, y, samples);
  std::vector<double> values(m.names.size());
  if (kiln_session_evaluate(m.session, &xs, &ys, values.data()) != KILN_OK)
    return m.sessionError("evaluate");
  return m.named(values);
}

llvm::Error Sequential::setLearningRate(double learningRate) {
  // The rule of the TrainingConfig (compiler/TrainingConfig.cpp).
  if (!(std::isfinite(learningRate) && learningRate >= 0.0))
    return error("setLearningRate: the learning rate " +
                 std::to_string(learningRate) +
                 " is not a finite non-negative number");
  impl->learningRate = learningRate;
  return llvm::Error::success();
}

llvm::Expected<History> Sequential::fit(const std::vector<float> &x,
                                        const std::vector<int32_t> &y,
                                        int epochs, int64_t batchSize,
                                        bool shuffle) {
  return fitImpl(*impl, x, y, epochs, batchSize, shuffle,
                 outputShape().empty() ? 1 : outputShape().back());
}
llvm::Expected<History> Sequential::fit(const std::vector<float> &x,
                                        const std::vector<float> &y, int epochs,
                                        int64_t batchSize, bool shuffle) {
  return fitImpl(*impl, x, y, epochs, batchSize, shuffle, 0);
}
llvm::Expected<Metrics> Sequential::evaluate(const std::vector<float> &x,
                                             const std::vector<int32_t> &y) {
  return evaluateImpl(*impl, x, y,
                      outputShape().empty() ? 1 : outputShape().back());
}
llvm::Expected<Metrics> Sequential::evaluate(const std::vector<float> &x,
                                             const std::vector<float> &y) {
  return evaluateImpl(*impl, x, y, 0);
}

llvm::Expected<std::vector<float>>
Sequential::predict(const std::vector<float> &x) {
  Impl &m = *impl;
  if (!m.compiled())
    return error("predict: the model is not compiled (call compile() "
                 "first)");
  int64_t in = inputSize();
  if (x.empty() || x.size() % in != 0)
    return error("predict: x has " + llvm::Twine(x.size()) +
                 " values, not a positive multiple of the sample size " +
                 llvm::Twine(in));
  size_t samples = x.size() / in;
  kiln_array_t xs =
      view(x, KILN_DTYPE_F32, samples, m.resolved.front().outShape);
  kiln_array_t *out = nullptr;
  if (kiln_session_predict(m.session, &xs, &out) != KILN_OK)
    return m.sessionError("predict");
  const float *data = static_cast<const float *>(out->data);
  std::vector<float> result(data, data + out->nbytes / sizeof(float));
  kiln_array_destroy(out);
  return result;
}

/// The f32 parameter `name` of the session; `what` names the caller.
static llvm::Expected<std::pair<float *, int64_t>>
parameter(const Sequential::Impl &m, const char *what,
          const std::string &name) {
  if (!m.compiled())
    return error(llvm::Twine(what) + ": the model is not compiled");
  void *data = nullptr;
  kiln_dtype_t dtype;
  int64_t count = 0;
  if (kiln_session_parameter(m.session, name.c_str(), &data, &dtype, &count) !=
      KILN_OK)
    return error(llvm::Twine(what) + ": " + kiln_session_error(m.session));
  if (dtype != KILN_DTYPE_F32)
    return error(llvm::Twine(what) + ": '" + name + "' is not f32");
  return std::pair{static_cast<float *>(data), count};
}

llvm::Expected<std::vector<float>>
Sequential::getWeights(const std::string &name) const {
  auto p = parameter(*impl, "getWeights", name);
  if (!p)
    return p.takeError();
  return std::vector<float>(p->first, p->first + p->second);
}

llvm::Error Sequential::setWeights(const std::string &name,
                                   const std::vector<float> &values) {
  auto p = parameter(*impl, "setWeights", name);
  if (!p)
    return p.takeError();
  if (static_cast<int64_t>(values.size()) != p->second)
    return error("setWeights: '" + name + "' holds " + llvm::Twine(p->second) +
                 " values, got " + llvm::Twine(values.size()));
  std::memcpy(p->first, values.data(), values.size() * sizeof(float));
  return llvm::Error::success();
}

} // namespace kiln
