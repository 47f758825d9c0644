//===- KerasImporter.cpp - Keras model-config import ----------------------===//
//
// Reads the JSON that Keras' `model.to_json()` writes (Keras 3, and the
// Keras 2 spellings) with llvm::json and builds `func.func @forward` in the
// forward form (docs/architecture.md, "Keras import"):
//
//   1. the model config is read into a list of layers with their inbound
//      tensors (Sequential: each layer takes the previous one; Functional:
//      `inbound_nodes`, `input_layers`, `output_layers`);
//   2. every layer's class and config arguments are checked; all unknown
//      classes, arguments and values are listed in one report;
//   3. the layers are emitted in dependency order as kiln ops; parameters
//      become arguments with kiln.param / kiln.trainable / kiln.initializer
//      / kiln.l1 / kiln.l2 (values are drawn by the driver at init time).
//
// `compile_config`, when present, is recorded as the module attribute
// `kiln.compile_config`. A `.keras` archive gives its config.json (libzip)
// and its stored weights (model.weights.h5, HDF5); a Keras 2 `.h5` file its
// `model_config` attribute and `model_weights` group. Stored weights become
// `kiln.init` values (loadStoredWeights); every parameter's Keras 3 variable
// path is recorded in `kiln.keras_variables` (kerasVariablePaths).
//
//===----------------------------------------------------------------------===//

#include "frontend/Import.h"
#include "frontend/keras/KerasArchive.h"
#include "frontend/keras/KerasJson.h"
#include "frontend/keras/KerasWeights.h"
#include "ir/KilnBuilder.h"
#include "ir/KilnDialect.h"
#include "ir/KilnOps.h"
#include "ir/ShapeInference.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Regex.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>

using namespace mlir;
using namespace mlir::kiln;
using namespace mlir::kiln::keras;
namespace json = llvm::json;

namespace {

/// The batch size used when neither the options nor the config fix one.
constexpr int64_t kDefaultBatchSize = 32;

/// A tensor produced by a layer: keras_history [layer, node, tensor].
struct TensorRef {
  std::string layer;
  int64_t node = 0;
  int64_t tensor = 0;
};

/// One layer of the model config.
struct Layer {
  std::string name;
  std::string className;
  const json::Object *config = nullptr;
  SmallVector<TensorRef> inputs;
  /// Sequential layers take the previous layer's output.
  bool sequentialInput = false;
  /// MultiHeadAttention's call arguments: use_causal_mask.
  bool causalMask = false;
};

/// One entry of the "unsupported" report.
struct Issue {
  std::string layer, className, what;
};

/// Config keys every layer may carry.
bool isCommonKey(StringRef key) {
  return llvm::StringSwitch<bool>(key)
      .Cases("name", "trainable", "dtype", true)
      // Keras 2: the first layer of a Sequential model carries its input.
      .Cases("batch_input_shape", "batch_shape", true)
      .Default(false);
}

/// The activations kiln has (by Keras name).
bool isKnownActivation(StringRef name) {
  return llvm::StringSwitch<bool>(name)
      .Cases("linear", "relu", "sigmoid", "tanh", "softmax", true)
      .Cases("log_softmax", "softplus", "elu", "gelu", "leaky_relu", true)
      .Cases("selu", "exponential", "silu", "swish", "relu6", true)
      .Case("hard_sigmoid", true)
      .Default(false);
}

/// The largest `units`, head count and head size the importer accepts:
/// beyond, the weights alone would take terabytes and sizes times gate
/// counts could overflow.
constexpr int64_t kMaxLayerWidth = int64_t(1) << 20;

/// The argument keys of each supported layer class, beyond the common
/// ones: `known` are read, `mustBeDefault` are accepted only with their
/// default value (null unless given).
struct ClassInfo {
  SmallVector<StringRef> known;
  SmallVector<std::pair<StringRef, json::Value>> mustBeDefault;
};

std::optional<ClassInfo> getClassInfo(StringRef cls) {
  json::Value null = nullptr;
  if (cls == "InputLayer")
    return ClassInfo{{"shape"},
                     {{"sparse", false},
                      {"ragged", false},
                      {"optional", false},
                      {"input_tensor", null}}};
  if (cls == "Rescaling")
    return ClassInfo{{"scale", "offset"}, {}};
  if (cls == "Dense")
    return ClassInfo{{"units", "activation", "use_bias", "kernel_initializer",
                      "bias_initializer", "kernel_regularizer",
                      "bias_regularizer"},
                     {{"activity_regularizer", null},
                      {"kernel_constraint", null},
                      {"bias_constraint", null},
                      {"lora_rank", null},
                      {"lora_alpha", null},
                      {"quantization_config", null}}};
  if (cls == "Activation")
    return ClassInfo{{"activation"}, {}};
  if (cls == "Embedding")
    return ClassInfo{{"input_dim", "output_dim", "embeddings_initializer",
                      "embeddings_regularizer", "input_length", "mask_zero"},
                     {{"embeddings_constraint", null},
                      {"activity_regularizer", null},
                      {"sparse", false},
                      {"lora_rank", null},
                      {"lora_alpha", null},
                      {"quantization_config", null}}};
  if (cls == "LSTM" || cls == "GRU" || cls == "SimpleRNN") {
    ClassInfo info{{"units", "activation", "use_bias", "kernel_initializer",
                    "recurrent_initializer", "bias_initializer",
                    "kernel_regularizer", "recurrent_regularizer",
                    "bias_regularizer", "return_sequences", "go_backwards",
                    "unroll", "use_cudnn", "implementation", "seed",
                    "zero_output_for_mask", "return_state"},
                   {{"activity_regularizer", null},
                    {"kernel_constraint", null},
                    {"recurrent_constraint", null},
                    {"bias_constraint", null},
                    {"dropout", 0},
                    {"recurrent_dropout", 0},
                    {"stateful", false},
                    {"time_major", false}}};
    if (cls != "SimpleRNN")
      info.known.push_back("recurrent_activation");
    if (cls == "LSTM")
      info.known.push_back("unit_forget_bias");
    if (cls == "GRU")
      info.known.push_back("reset_after");
    return info;
  }
  if (cls == "Bidirectional")
    return ClassInfo{{"layer", "merge_mode", "backward_layer"}, {}};
  if (cls == "MultiHeadAttention")
    return ClassInfo{{"num_heads", "key_dim", "value_dim", "dropout",
                      "use_bias", "kernel_initializer", "bias_initializer",
                      "kernel_regularizer", "bias_regularizer", "seed"},
                     {{"output_shape", null},
                      {"attention_axes", null},
                      {"activity_regularizer", null},
                      {"kernel_constraint", null},
                      {"bias_constraint", null},
                      {"flash_attention", null},
                      {"query_shape", null},
                      {"key_shape", null},
                      {"value_shape", null}}};
  if (cls == "PositionEmbedding")
    return ClassInfo{{"sequence_length", "initializer"}, {}};
  if (cls == "TimeDistributed")
    return ClassInfo{{"layer"}, {}};
  if (cls == "RepeatVector")
    return ClassInfo{{"n"}, {}};
  if (cls == "Masking")
    return ClassInfo{{"mask_value"}, {}};
  if (cls == "Permute")
    return ClassInfo{{"dims"}, {}};
  if (cls == "LayerNormalization")
    return ClassInfo{{"axis", "epsilon", "center", "scale", "beta_initializer",
                      "gamma_initializer", "beta_regularizer",
                      "gamma_regularizer"},
                     {{"beta_constraint", null},
                      {"gamma_constraint", null},
                      {"rms_scaling", false}}};
  if (cls == "ReLU")
    return ClassInfo{{"max_value", "negative_slope"}, {{"threshold", 0.0}}};
  if (cls == "LeakyReLU")
    return ClassInfo{{"negative_slope", "alpha"}, {}};
  if (cls == "Softmax")
    return ClassInfo{{"axis"}, {}};
  if (cls == "Dropout")
    return ClassInfo{{"rate", "seed"}, {{"noise_shape", null}}};
  if (cls == "Flatten")
    return ClassInfo{{"data_format"}, {}};
  if (cls == "Reshape")
    return ClassInfo{{"target_shape"}, {}};
  if (cls == "Normalization")
    return ClassInfo{{"axis", "mean", "variance"}, {{"invert", false}}};
  if (cls == "Add" || cls == "Subtract" || cls == "Multiply")
    return ClassInfo{{}, {}};
  if (cls == "Concatenate")
    return ClassInfo{{"axis"}, {}};
  // Convolution, pooling and the spatial layers (KerasSpatial.cpp).
  SmallVector<std::pair<StringRef, json::Value>> convDefaults = {
      {"activity_regularizer", null},
      {"kernel_constraint", null},
      {"bias_constraint", null},
      {"lora_rank", null},
      {"lora_alpha", null}};
  if (cls == "Conv1D" || cls == "Conv2D" || cls == "Conv3D")
    return ClassInfo{{"filters", "kernel_size", "strides", "padding",
                      "data_format", "dilation_rate", "groups", "activation",
                      "use_bias", "kernel_initializer", "bias_initializer",
                      "kernel_regularizer", "bias_regularizer"},
                     convDefaults};
  if (cls == "Conv1DTranspose" || cls == "Conv2DTranspose" ||
      cls == "Conv3DTranspose")
    return ClassInfo{{"filters", "kernel_size", "strides", "padding",
                      "output_padding", "data_format", "dilation_rate",
                      "activation", "use_bias", "kernel_initializer",
                      "bias_initializer", "kernel_regularizer",
                      "bias_regularizer"},
                     convDefaults};
  if (cls == "DepthwiseConv1D" || cls == "DepthwiseConv2D") {
    ClassInfo info{{"kernel_size", "strides", "padding", "depth_multiplier",
                    "data_format", "dilation_rate", "activation", "use_bias",
                    "depthwise_initializer", "bias_initializer",
                    "depthwise_regularizer", "bias_regularizer"},
                   convDefaults};
    info.mustBeDefault.push_back({"depthwise_constraint", null});
    return info;
  }
  if (cls == "SeparableConv1D" || cls == "SeparableConv2D") {
    ClassInfo info{
        {"filters", "kernel_size", "strides", "padding", "depth_multiplier",
         "data_format", "dilation_rate", "activation", "use_bias",
         "depthwise_initializer", "pointwise_initializer", "bias_initializer",
         "depthwise_regularizer", "pointwise_regularizer", "bias_regularizer"},
        convDefaults};
    info.mustBeDefault.push_back({"depthwise_constraint", null});
    info.mustBeDefault.push_back({"pointwise_constraint", null});
    return info;
  }
  if (cls == "MaxPooling1D" || cls == "MaxPooling2D" || cls == "MaxPooling3D" ||
      cls == "AveragePooling1D" || cls == "AveragePooling2D" ||
      cls == "AveragePooling3D")
    return ClassInfo{{"pool_size", "strides", "padding", "data_format"}, {}};
  if (cls == "GlobalAveragePooling1D" || cls == "GlobalAveragePooling2D" ||
      cls == "GlobalAveragePooling3D" || cls == "GlobalMaxPooling1D" ||
      cls == "GlobalMaxPooling2D" || cls == "GlobalMaxPooling3D")
    return ClassInfo{{"data_format", "keepdims"}, {}};
  if (cls == "BatchNormalization")
    return ClassInfo{{"axis", "momentum", "epsilon", "center", "scale",
                      "beta_initializer", "gamma_initializer",
                      "moving_mean_initializer", "moving_variance_initializer",
                      "beta_regularizer", "gamma_regularizer"},
                     {{"beta_constraint", null},
                      {"gamma_constraint", null},
                      {"synchronized", false},
                      // Keras 2.
                      {"renorm", false},
                      {"renorm_clipping", null},
                      {"renorm_momentum", 0.99},
                      {"fused", null},
                      {"virtual_batch_size", null},
                      {"adjustment", null}}};
  if (cls == "ZeroPadding1D" || cls == "ZeroPadding2D" ||
      cls == "ZeroPadding3D")
    return ClassInfo{{"padding", "data_format"}, {}};
  if (cls == "Cropping1D" || cls == "Cropping2D" || cls == "Cropping3D")
    return ClassInfo{{"cropping", "data_format"}, {}};
  if (cls == "UpSampling1D" || cls == "UpSampling2D" || cls == "UpSampling3D")
    return ClassInfo{{"size", "data_format"}, {{"interpolation", "nearest"}}};
  if (cls == "SpatialDropout1D" || cls == "SpatialDropout2D" ||
      cls == "SpatialDropout3D")
    return ClassInfo{{"rate", "seed", "data_format"}, {{"noise_shape", null}}};
  return std::nullopt;
}

/// Numbers equal as JSON values (1 == 1.0).
bool jsonEquals(const json::Value &a, const json::Value &b) {
  if (auto x = a.getAsNumber())
    if (auto y = b.getAsNumber())
      return *x == *y;
  return a == b;
}

/// The spatial layer families.
enum class Spatial {
  None,
  Conv,
  ConvTranspose,
  Depthwise,
  Separable,
  MaxPool,
  AvgPool,
  GlobalAvgPool,
  GlobalMaxPool,
  ZeroPadding,
  Cropping,
  UpSampling,
  SpatialDropout,
};

/// The family and spatial rank of a layer class ("Conv2D" -> Conv, 2).
std::pair<Spatial, int64_t> spatialClass(StringRef cls) {
  Spatial kind = llvm::StringSwitch<Spatial>(cls)
                     .StartsWith("DepthwiseConv", Spatial::Depthwise)
                     .StartsWith("SeparableConv", Spatial::Separable)
                     .StartsWith("MaxPooling", Spatial::MaxPool)
                     .StartsWith("AveragePooling", Spatial::AvgPool)
                     .StartsWith("GlobalAveragePooling", Spatial::GlobalAvgPool)
                     .StartsWith("GlobalMaxPooling", Spatial::GlobalMaxPool)
                     .StartsWith("ZeroPadding", Spatial::ZeroPadding)
                     .StartsWith("Cropping", Spatial::Cropping)
                     .StartsWith("UpSampling", Spatial::UpSampling)
                     .StartsWith("SpatialDropout", Spatial::SpatialDropout)
                     .StartsWith("Conv", Spatial::Conv)
                     .Default(Spatial::None);
  if (kind == Spatial::None)
    return {kind, 0};
  if (kind == Spatial::Conv && cls.ends_with("Transpose")) {
    kind = Spatial::ConvTranspose;
    cls = cls.drop_back(strlen("Transpose"));
  }
  if (cls.size() < 2 || !cls.ends_with("D"))
    return {Spatial::None, 0};
  char digit = cls[cls.size() - 2];
  if (digit < '1' || digit > '3')
    return {Spatial::None, 0};
  return {kind, digit - '0'};
}

/// A Keras tuple argument: one integer for every axis, or `d` integers;
/// null or absent gives `fallback` on every axis. nullopt if malformed.
std::optional<SmallVector<int64_t>> readTuple(const json::Value *value,
                                              int64_t d,
                                              std::optional<int64_t> fallback) {
  if (isNullOrAbsent(value)) {
    if (!fallback)
      return std::nullopt;
    return SmallVector<int64_t>(d, *fallback);
  }
  if (auto n = value->getAsInteger())
    return SmallVector<int64_t>(d, *n);
  const json::Array *list = value->getAsArray();
  if (!list || static_cast<int64_t>(list->size()) != d)
    return std::nullopt;
  SmallVector<int64_t> out;
  for (const json::Value &v : *list) {
    auto n = v.getAsInteger();
    if (!n)
      return std::nullopt;
    out.push_back(*n);
  }
  return out;
}

/// ZeroPadding / Cropping amounts: an integer (both sides of every axis),
/// `d` integers (both sides of each axis) or `d` pairs (before, after); for
/// d = 1 an integer or one pair (left, right). nullopt if malformed.
std::optional<SmallVector<std::pair<int64_t, int64_t>>>
readPairs(const json::Value *value, int64_t d, int64_t fallback) {
  using Pairs = SmallVector<std::pair<int64_t, int64_t>>;
  if (isNullOrAbsent(value))
    return Pairs(d, {fallback, fallback});
  if (auto n = value->getAsInteger())
    return Pairs(d, {*n, *n});
  const json::Array *list = value->getAsArray();
  if (!list)
    return std::nullopt;
  auto pair =
      [](const json::Value &v) -> std::optional<std::pair<int64_t, int64_t>> {
    if (auto n = v.getAsInteger())
      return std::make_pair(*n, *n);
    const json::Array *p = v.getAsArray();
    if (!p || p->size() != 2 || !(*p)[0].getAsInteger() ||
        !(*p)[1].getAsInteger())
      return std::nullopt;
    return std::make_pair(*(*p)[0].getAsInteger(), *(*p)[1].getAsInteger());
  };
  if (d == 1) {
    if (list->size() == 2 && (*list)[0].getAsInteger() &&
        (*list)[1].getAsInteger())
      return Pairs{{*(*list)[0].getAsInteger(), *(*list)[1].getAsInteger()}};
    if (list->size() == 1)
      if (auto p = pair((*list)[0]))
        return Pairs{*p};
    return std::nullopt;
  }
  if (static_cast<int64_t>(list->size()) != d)
    return std::nullopt;
  Pairs out;
  for (const json::Value &v : *list) {
    auto p = pair(v);
    if (!p)
      return std::nullopt;
    out.push_back(*p);
  }
  return out;
}

std::string tupleText(ArrayRef<int64_t> values) {
  std::string text = "[";
  for (auto [i, v] : llvm::enumerate(values))
    text += (i ? ", " : "") + std::to_string(v);
  return text + "]";
}

/// TF/Keras 'same' padding of one axis: the output has ceil(S / stride)
/// positions; the total padding is max((O - 1) * stride + (K - 1) *
/// dilation + 1 - S, 0), the smaller half before, the extra one after.
std::pair<int64_t, int64_t> samePadding(int64_t size, int64_t kernel,
                                        int64_t stride, int64_t dilation) {
  int64_t out = (size + stride - 1) / stride;
  int64_t window = (kernel - 1) * dilation + 1;
  int64_t total = std::max<int64_t>((out - 1) * stride + window - size, 0);
  return {total / 2, total - total / 2};
}

/// Keras' deconv_output_length for padding 'valid' / 'same'.
int64_t deconvOutputLength(int64_t input, int64_t kernel, bool same,
                           std::optional<int64_t> outputPadding, int64_t stride,
                           int64_t dilation) {
  int64_t window = kernel + (kernel - 1) * (dilation - 1);
  if (!outputPadding)
    return same ? input * stride
                : input * stride + std::max<int64_t>(window - stride, 0);
  int64_t pad = same ? window / 2 : 0;
  return (input - 1) * stride + window - 2 * pad + *outputPadding;
}

/// The arguments of a spatial layer, read from its config after the checks.
/// With `sanitize` (the layer has issues), out-of-range values are replaced
/// by harmless ones so that the layers after it are still shape-checked.
struct SpatialArgs {
  Spatial kind = Spatial::None;
  int64_t d = 0;
  bool channelsFirst = false;
  SmallVector<int64_t> kernel, strides, dilations, outputPadding;
  bool hasOutputPadding = false;
  std::string padding = "valid";
  int64_t filters = 1, groups = 1, depthMultiplier = 1;
};

SpatialArgs readSpatialArgs(const json::Object &c, Spatial kind, int64_t d,
                            bool sanitize) {
  SpatialArgs a;
  a.kind = kind;
  a.d = d;
  a.channelsFirst = c.getString("data_format") == "channels_first";
  auto positive = [&](SmallVector<int64_t> &v) {
    if (sanitize)
      for (int64_t &x : v)
        x = std::max<int64_t>(x, 1);
  };
  auto tuple = [&](StringRef key, std::optional<int64_t> fallback) {
    auto v = readTuple(c.get(key), d, fallback);
    return v ? *v : SmallVector<int64_t>(d, fallback.value_or(1));
  };
  bool pool = kind == Spatial::MaxPool || kind == Spatial::AvgPool;
  a.kernel = tuple(pool ? "pool_size" : "kernel_size", pool ? 2 : 1);
  positive(a.kernel);
  a.strides =
      pool && isNullOrAbsent(c.get("strides")) ? a.kernel : tuple("strides", 1);
  positive(a.strides);
  a.dilations = tuple("dilation_rate", 1);
  positive(a.dilations);
  if (!isNullOrAbsent(c.get("output_padding"))) {
    a.hasOutputPadding = true;
    a.outputPadding = tuple("output_padding", 0);
    if (sanitize)
      for (auto [p, s] : llvm::zip(a.outputPadding, a.strides))
        p = std::clamp<int64_t>(p, 0, s - 1);
  }
  a.padding = c.getString("padding").value_or("valid").lower();
  if (sanitize && a.padding != "valid" && a.padding != "same" &&
      !(a.padding == "causal" && kind == Spatial::Conv && d == 1))
    a.padding = "same"; // never smaller than the input
  a.filters = c.getInteger("filters").value_or(1);
  a.groups = c.getInteger("groups").value_or(1);
  a.depthMultiplier = c.getInteger("depth_multiplier").value_or(1);
  if (sanitize) {
    a.filters = std::max<int64_t>(a.filters, 1);
    a.depthMultiplier = std::max<int64_t>(a.depthMultiplier, 1);
    if (a.groups < 1 || a.filters % a.groups)
      a.groups = 1;
  }
  return a;
}

/// The permutation [N, C, S..] -> [N, S.., C] (or back with `inverse`).
SmallVector<int64_t> channelsLastPermutation(int64_t rank, bool inverse) {
  SmallVector<int64_t> perm{0};
  if (inverse) {
    perm.push_back(rank - 1);
    for (int64_t i = 1; i < rank - 1; ++i)
      perm.push_back(i);
  } else {
    for (int64_t i = 2; i < rank; ++i)
      perm.push_back(i);
    perm.push_back(1);
  }
  return perm;
}

class KerasImporter {
public:
  KerasImporter(StringRef path, MLIRContext *context,
                const ImportOptions &options)
      : path(path), context(context), options(options), builder(context),
        fileLoc(FileLineColLoc::get(context, path, 0, 0)) {}

  OwningOpRef<ModuleOp> run();
  /// Imports a parsed config (run() after reading and parsing the file).
  OwningOpRef<ModuleOp> run(const json::Value &config);

private:
  // Reading the config.
  LogicalResult readModel(const json::Object &root);
  LogicalResult readLayer(const json::Value &entry, bool sequential);
  std::optional<TensorRef> readTensorRef(const json::Value &value);
  void collectKerasTensors(const json::Value &value,
                           SmallVectorImpl<TensorRef> &refs, bool &ok);
  LogicalResult readTensorList(const json::Value *value,
                               SmallVectorImpl<TensorRef> &refs,
                               StringRef what);
  // Checking.
  void checkLayer(const Layer &layer);
  void checkActivation(const Layer &layer, const json::Value *value);
  void issue(const Layer &layer, const Twine &what) {
    issues.push_back({layer.name, layer.className, what.str()});
  }
  LogicalResult reportIssues();
  // Emission.
  LogicalResult emitFunction(ModuleOp module);
  FailureOr<Value> extraOutput(StringRef reader, const TensorRef &ref);
  FailureOr<Value> emitLayer(const Layer &layer, ArrayRef<Value> inputs);
  FailureOr<Value> emitInput(const Layer &layer);
  FailureOr<Value> emitDense(const Layer &layer, Value x);
  FailureOr<Value> emitNormalization(const Layer &layer, Value x);
  FailureOr<Value> emitEmbedding(const Layer &layer, Value x);
  void checkRecurrent(const Layer &layer);
  /// Reports each of `keys` that holds an initializer (regularizer) kiln
  /// cannot read, with the reason.
  void checkInitializers(const Layer &layer, ArrayRef<StringRef> keys);
  void checkRegularizers(const Layer &layer, ArrayRef<StringRef> keys);
  FailureOr<Value> emitRecurrent(const Layer &layer, const json::Object &c,
                                 StringRef cls, StringRef prefix,
                                 bool flipDirection, bool reverseOutput,
                                 Value x, Value mask, bool zeroOutputForMask,
                                 ArrayRef<Value> initialStates = {});
  FailureOr<Value> emitMasking(const Layer &layer, Value x);
  // Keras masks (keras/src/layers/layer.py): a [batch, steps] mask travels
  // with a tensor from the layer that makes it (Embedding with mask_zero,
  // Masking); layers that support masking pass it on, the recurrent layers,
  // GlobalAveragePooling1D and MultiHeadAttention read it, the others drop
  // it. Here a mask is a float tensor of 0 (masked) and 1 (valid).
  /// The mask `layer` gives its output `result`, from operandMasks and
  /// createdMask.
  FailureOr<Value> outputMask(const Layer &layer, ArrayRef<Value> operands,
                              Value result);
  /// `mask` checked to be [N, T] for the sequence `x` [N, T, ...] and
  /// converted to x's element type; an error naming the layer otherwise.
  FailureOr<Value> sequenceMask(const Layer &layer, Value mask, Value x);
  /// 1 where `condition` (i1) holds, else 0, as `element` floats.
  Value maskFromCondition(Value condition, Type element);
  /// mask != 0 as i1.
  Value maskCondition(Value mask);
  FailureOr<Value> emitBidirectional(const Layer &layer, Value x);
  FailureOr<Value> emitAttention(const Layer &layer, ArrayRef<Value> operands);
  FailureOr<Value> emitPositionEmbedding(const Layer &layer, Value x);
  FailureOr<Value> emitLayerNormalization(const Layer &layer, Value x);
  FailureOr<Value> emitMerge(const Layer &layer, ArrayRef<Value> inputs);
  Value emitActivation(StringRef name, Value x);
  // Convolution, pooling and the other spatial layers.
  void checkSpatialLayer(const Layer &layer);
  void checkBatchNorm(const Layer &layer);
  FailureOr<Value> emitSpatialLayer(const Layer &layer, Value x);
  FailureOr<Value> emitConv(const Layer &layer, Value x);
  FailureOr<Value> emitConvTranspose(const Layer &layer, Value x);
  FailureOr<Value> emitPool(const Layer &layer, Value x);
  FailureOr<Value> emitBatchNorm(const Layer &layer, Value x);
  /// Reports each violated shape rule of `error` as an issue of `layer`.
  void shapeIssues(const Layer &layer, llvm::Error error) {
    llvm::handleAllErrors(std::move(error), [&](const llvm::ErrorInfoBase &e) {
      issue(layer, e.message());
    });
  }
  DictionaryAttr initializerOf(const Layer &layer, StringRef key,
                               StringRef fallback);
  Regularizer regularizerOf(const Layer &layer, StringRef key);
  Value addParam(const Layer &layer, StringRef suffix, ArrayRef<int64_t> shape,
                 Type elementType, bool trainable, DictionaryAttr initializer,
                 Regularizer regularizer, DictionaryAttr adapt = {});
  /// The typed builder of the forward function's body.
  KilnBuilder &kb() { return forward->builder(); }
  template <typename OpT>
  Value unary(Value x, ArrayRef<NamedAttribute> attrs = {}) {
    return builder.create<OpT>(fileLoc, TypeRange{x.getType()}, ValueRange{x},
                               attrs);
  }
  template <typename OpT> Value binary(Value a, Value b) {
    return builder.create<OpT>(fileLoc, TypeRange{a.getType()},
                               ValueRange{a, b});
  }
  InFlightDiagnostic layerError(const Layer &layer) {
    return emitError(fileLoc)
           << "layer '" << layer.name << "' (" << layer.className << "): ";
  }
  Attribute compileConfig(const json::Object &config);
  /// Each parameter's Keras 3 variable path ("layers/dense/vars/0"), by
  /// parameter name, under the container `container` ("layers").
  llvm::StringMap<std::string> kerasVariablePaths(func::FuncOp forward,
                                                  StringRef container);
  /// Sets `kiln.init` of every parameter from `weightsFile` (all or
  /// nothing); one error naming the variable path and both shapes.
  LogicalResult loadStoredWeights(func::FuncOp forward);
  /// Keras 3: records `optimizer/vars` of `weightsFile` (when there is one)
  /// as the module's `kiln.keras_optimizer_state` for kiln-attach-optimizer.
  LogicalResult loadOptimizerState(ModuleOp module, func::FuncOp forward);
  /// Keras 2: records `optimizer_weights` (named slots) as the module's
  /// `kiln.keras_optimizer_state` for kiln-attach-optimizer.
  LogicalResult loadKeras2OptimizerState(ModuleOp module, func::FuncOp forward);
  LogicalResult
  loadKeras2Weights(func::FuncOp forward,
                    SmallVectorImpl<std::pair<unsigned, std::string>> &);
  /// Reads `file` into stored values for the parameters `sources` (argument
  /// index, dataset path); sets them only if all succeed.
  LogicalResult
  applyStoredValues(func::FuncOp forward,
                    ArrayRef<std::pair<unsigned, std::string>> sources);
  /// Keras 2 .h5 files: the JSON text of the model_config attribute, with
  /// the training_config attribute turned into a compile_config.
  FailureOr<std::string> readKeras2File();

  /// The stored weights (HDF5), when there are any and !noWeights.
  std::unique_ptr<H5File> weightsFile;
  /// The weights file's name in messages ("m.keras:model.weights.h5").
  std::string weightsName;
  /// Whether weightsFile is a Keras 2 .h5 file (else Keras 3 layout).
  bool legacyWeights = false;
  /// Keras 2: the forward argument of each stored variable, by the
  /// variable's name without ":0" (`d1/kernel`), from weight_names.
  llvm::StringMap<unsigned> keras2Variables;

  StringRef path;
  MLIRContext *context;
  const ImportOptions &options;
  /// Whether an input's null time axis took --sequence-length.
  bool sequenceLengthUsed = false;
  OpBuilder builder;
  Location fileLoc;

  std::string modelName;
  std::vector<Layer> layers;
  llvm::StringMap<size_t> layerIndex;
  SmallVector<TensorRef> modelInputs, modelOutputs;
  /// Sequential models without an InputLayer: the batch shape from
  /// build_input_shape or the first layer's batch_input_shape.
  const json::Value *sequentialBatchShape = nullptr;
  SmallVector<Issue> issues;
  /// Layers with an issue from checkLayer: emitted with sanitized arguments
  /// (spatial layers, so that later shape rules are still checked) or not at
  /// all, and layers that read a layer not emitted are skipped.
  llvm::StringSet<> layersWithIssues;
  /// Some layer has the mixed_bfloat16 dtype policy (kiln.precision).
  bool usesMixedBf16 = false;
  llvm::StringSet<> skipped;

  // The function being built (params, inputs, the counter, outputs).
  std::unique_ptr<ForwardFunctionBuilder> forward;
  llvm::StringMap<Value> outputsByLayer;
  /// Outputs 1, 2, ... of layers with several (a recurrent layer with
  /// return_state: its final states), by layer name.
  llvm::StringMap<SmallVector<Value>> extraOutputsByLayer;
  /// While a layer is emitted: its outputs after the first.
  SmallVector<Value> extraOutputs;
  /// The Keras mask of each layer output that has one, by layer name (not
  /// by value: a layer that returns its input unchanged, such as an
  /// identity Reshape, must not inherit the input's mask).
  llvm::StringMap<Value> maskByLayer;
  /// While a layer is emitted: its operands' masks (null: none), and the
  /// mask it created (Embedding, Masking).
  SmallVector<Value> operandMasks;
  Value createdMask;
  /// kiln.layers: {name, class_name, shape} of every emitted layer.
  SmallVector<Attribute> layerRecords;
  std::optional<int64_t> configBatch;
};

//===----------------------------------------------------------------------===//
// Reading
//===----------------------------------------------------------------------===//

std::optional<TensorRef>
KerasImporter::readTensorRef(const json::Value &value) {
  // Keras 3: {"class_name": "__keras_tensor__", "config": {"keras_history":
  // [layer, node, tensor]}}; Keras 2 and input/output_layers: [layer, node,
  // tensor(, kwargs)].
  const json::Array *history = value.getAsArray();
  if (const json::Object *object = value.getAsObject())
    if (const json::Object *config = object->getObject("config"))
      history = config->getArray("keras_history");
  if (!history || history->size() < 3)
    return std::nullopt;
  auto layer = (*history)[0].getAsString();
  auto node = (*history)[1].getAsInteger();
  auto tensor = (*history)[2].getAsInteger();
  if (!layer || !node || !tensor)
    return std::nullopt;
  return TensorRef{layer->str(), *node, *tensor};
}

void KerasImporter::collectKerasTensors(const json::Value &value,
                                        SmallVectorImpl<TensorRef> &refs,
                                        bool &ok) {
  if (const json::Object *object = value.getAsObject()) {
    if (object->getString("class_name") == "__keras_tensor__") {
      if (auto ref = readTensorRef(value))
        refs.push_back(*ref);
      else
        ok = false;
    }
    return;
  }
  if (const json::Array *array = value.getAsArray())
    for (const json::Value &element : *array)
      collectKerasTensors(element, refs, ok);
}

LogicalResult KerasImporter::readTensorList(const json::Value *value,
                                            SmallVectorImpl<TensorRef> &refs,
                                            StringRef what) {
  // Keras 3 models with named inputs/outputs: {"name": [layer, 0, 0]}, in
  // key order (llvm::json objects are unordered).
  if (const json::Object *named = value ? value->getAsObject() : nullptr) {
    SmallVector<StringRef> keys;
    for (const auto &member : *named)
      keys.push_back(member.first);
    llvm::sort(keys);
    for (StringRef key : keys) {
      auto ref = readTensorRef(*named->get(key));
      if (!ref)
        return emitError(fileLoc)
               << "malformed entry '" << key << "' in '" << what << "'";
      refs.push_back(*ref);
    }
    return success();
  }
  const json::Array *array = value ? value->getAsArray() : nullptr;
  if (!array)
    return emitError(fileLoc)
           << "the model config has no '" << what << "' list";
  // One tensor: ["input_layer", 0, 0] (Keras 3 with a single input).
  if (!array->empty() && (*array)[0].getAsString()) {
    if (auto ref = readTensorRef(*value)) {
      refs.push_back(*ref);
      return success();
    }
    return emitError(fileLoc)
           << "malformed '" << what << "': " << describe(*value);
  }
  for (const json::Value &element : *array) {
    auto ref = readTensorRef(element);
    if (!ref)
      return emitError(fileLoc)
             << "malformed entry in '" << what << "': " << describe(element);
    refs.push_back(*ref);
  }
  return success();
}

LogicalResult KerasImporter::readLayer(const json::Value &entry,
                                       bool sequential) {
  const json::Object *object = entry.getAsObject();
  if (!object)
    return emitError(fileLoc)
           << "a layer entry is not an object: " << describe(entry);
  Layer layer;
  layer.className = object->getString("class_name").value_or("").str();
  layer.config = object->getObject("config");
  if (layer.config)
    if (auto name = layer.config->getString("name"))
      layer.name = name->str();
  if (layer.name.empty())
    if (auto name = object->getString("name"))
      layer.name = name->str();
  if (layer.name.empty())
    layer.name =
        toSnakeCase(layer.className) + "_" + std::to_string(layers.size());
  if (layer.className.empty())
    return emitError(fileLoc)
           << "layer '" << layer.name << "' has no 'class_name'";
  if (!layer.config)
    return emitError(fileLoc) << "layer '" << layer.name << "' ("
                              << layer.className << ") has no 'config' object";
  if (layerIndex.count(layer.name))
    return emitError(fileLoc) << "two layers are named '" << layer.name << "'";

  if (sequential) {
    layer.sequentialInput = layer.className != "InputLayer";
  } else if (const json::Array *nodes = object->getArray("inbound_nodes")) {
    if (nodes->size() > 1) {
      issue(layer, "called " + Twine(nodes->size()) +
                       " times (shared layers are not supported)");
    } else if (nodes->size() == 1) {
      const json::Value &node = (*nodes)[0];
      bool ok = true;
      if (const json::Object *keras3 = node.getAsObject()) {
        if (const json::Value *args = keras3->get("args"))
          collectKerasTensors(*args, layer.inputs, ok);
        if (const json::Object *kwargs = keras3->getObject("kwargs"))
          for (const auto &[key, value] : *kwargs) {
            bool attention = layer.className == "MultiHeadAttention";
            if (attention && key == "key") {
              // query, value, then key: the order emitAttention reads.
              collectKerasTensors(value, layer.inputs, ok);
              continue;
            }
            if (attention && key == "use_causal_mask" && value.getAsBoolean()) {
              layer.causalMask = *value.getAsBoolean();
              continue;
            }
            if (attention && key == "return_attention_scores" &&
                value.getAsBoolean() == false)
              continue;
            // A recurrent layer's initial_state: its tensors follow the
            // sequence (as Keras 2 lists them in the inbound node).
            if (key == "initial_state" &&
                llvm::is_contained({"LSTM", "GRU", "SimpleRNN"},
                                   layer.className) &&
                !value.getAsNull()) {
              size_t before = layer.inputs.size();
              collectKerasTensors(value, layer.inputs, ok);
              if (layer.inputs.size() == before)
                ok = false;
              continue;
            }
            if (key != "training" && key != "mask" && !value.getAsNull())
              issue(layer, "unsupported call argument '" + key.str() + "'");
          }
      } else if (const json::Array *keras2 = node.getAsArray()) {
        for (const json::Value &ref : *keras2) {
          if (auto r = readTensorRef(ref))
            layer.inputs.push_back(*r);
          else
            ok = false;
        }
      } else {
        ok = false;
      }
      if (!ok)
        return emitError(fileLoc)
               << "layer '" << layer.name
               << "': malformed 'inbound_nodes': " << describe(node);
    }
  }
  layerIndex[layer.name] = layers.size();
  layers.push_back(std::move(layer));
  return success();
}

LogicalResult KerasImporter::readModel(const json::Object &root) {
  auto className = root.getString("class_name");
  const json::Value *configValue = root.get("config");
  if (!configValue)
    return emitError(fileLoc)
           << "missing 'config' in the model (expected {\"class_name\": "
              "\"Sequential\" | \"Functional\", \"config\": {...}}, the "
              "output of model.to_json())";
  if (!className)
    return emitError(fileLoc) << "missing 'class_name' in the model";
  bool sequential = *className == "Sequential";
  if (!sequential && *className != "Functional" && *className != "Model")
    return emitError(fileLoc)
           << "unsupported model class '" << *className
           << "' (Sequential and Functional models are supported; subclassed "
              "models have no config to import)";

  // Keras 2 (old) Sequential: "config" is the list of layers itself.
  const json::Array *layerList = configValue->getAsArray();
  const json::Object *config = configValue->getAsObject();
  if (config) {
    modelName = config->getString("name").value_or("").str();
    layerList = config->getArray("layers");
  }
  if (!layerList)
    return emitError(fileLoc) << "the model config has no 'layers' list";
  for (const json::Value &entry : *layerList)
    if (failed(readLayer(entry, sequential)))
      return failure();
  if (layers.empty())
    return emitError(fileLoc) << "the model has no layers";
  // A model of InputLayers alone computes nothing and has nothing to train
  // (such a Sequential config crashed kilnc).
  if (llvm::all_of(layers,
                   [](const Layer &l) { return l.className == "InputLayer"; }))
    return emitError(fileLoc)
           << "the model" << (modelName.empty() ? "" : " '" + modelName + "'")
           << " has no layers besides its InputLayer"
           << (layers.size() > 1 ? "s" : "")
           << ": there is nothing to compute or train";

  if (sequential) {
    if (layers.front().className != "InputLayer") {
      if (config)
        if (const json::Value *shape = config->get("build_input_shape"))
          sequentialBatchShape = shape;
      for (StringRef key : {"batch_input_shape", "batch_shape"})
        if (!sequentialBatchShape)
          sequentialBatchShape = layers.front().config->get(key);
      if (!sequentialBatchShape || !sequentialBatchShape->getAsArray())
        return emitError(fileLoc)
               << "the Sequential model has no input shape (no InputLayer, "
                  "'build_input_shape' or 'batch_input_shape'); build the "
                  "model before saving it";
    }
    modelOutputs.push_back({layers.back().name, 0, 0});
    return success();
  }
  if (failed(readTensorList(config ? config->get("input_layers") : nullptr,
                            modelInputs, "input_layers")) ||
      failed(readTensorList(config ? config->get("output_layers") : nullptr,
                            modelOutputs, "output_layers")))
    return failure();
  for (const auto &refs : {modelInputs, modelOutputs})
    for (const TensorRef &ref : refs)
      if (!layerIndex.count(ref.layer))
        return emitError(fileLoc)
               << "the model refers to an unknown layer '" << ref.layer << "'";
  return success();
}

//===----------------------------------------------------------------------===//
// Checking
//===----------------------------------------------------------------------===//

void KerasImporter::checkActivation(const Layer &layer,
                                    const json::Value *value) {
  if (isNullOrAbsent(value))
    return;
  std::optional<StringRef> name = value->getAsString();
  if (const json::Object *object = value->getAsObject()) {
    // A serialized function: {"class_name": "function", "config": "relu"}.
    if (auto config = object->getString("config"))
      name = config;
  }
  if (!name)
    issue(layer, "unsupported activation " + describe(*value));
  else if (!isKnownActivation(*name))
    issue(layer, "unknown activation '" + *name + "'");
}

void KerasImporter::checkLayer(const Layer &layer) {
  std::optional<ClassInfo> info = getClassInfo(layer.className);
  if (!info) {
    issue(layer, "unknown layer class");
    return;
  }
  // llvm::json objects are hash maps: sort the keys for a stable report.
  SmallVector<StringRef> keys;
  for (const auto &member : *layer.config)
    keys.push_back(member.first);
  llvm::sort(keys);
  for (StringRef key : keys) {
    const json::Value &value = *layer.config->get(key);
    if (isCommonKey(key) || llvm::is_contained(info->known, key))
      continue;
    auto it = llvm::find_if(info->mustBeDefault,
                            [&](const auto &p) { return p.first == key; });
    if (it == info->mustBeDefault.end())
      issue(layer, "unknown argument '" + key + "'");
    else if (!jsonEquals(value, it->second) && !value.getAsNull())
      issue(layer, "unsupported argument '" + key + "' = " + describe(value));
  }
  // Element types: float32 and float64 (a dtype policy or a name).
  if (const json::Value *dtype = layer.config->get("dtype")) {
    std::optional<StringRef> name = dtype->getAsString();
    if (const json::Object *policy = dtype->getAsObject())
      if (const json::Object *config = policy->getObject("config"))
        name = config->getString("name");
    bool integer = name && (*name == "int32" || *name == "int64");
    // Keras' mixed_bfloat16 policy (bf16 compute, f32 variables): the
    // model's matrix products take bf16 operands (kilnc --precision=bf16).
    bool mixedBf16 = name && *name == "mixed_bfloat16";
    if (mixedBf16)
      usesMixedBf16 = true;
    if (integer && layer.className != "InputLayer")
      issue(layer, "unsupported argument 'dtype' = " + describe(*dtype) +
                       " (integer dtypes are supported on inputs)");
    else if (!dtype->getAsNull() && !integer && !mixedBf16 &&
             (!name || (*name != "float32" && *name != "float64")))
      issue(layer, "unsupported argument 'dtype' = " + describe(*dtype) +
                       " (float32, float64 and mixed_bfloat16 are "
                       "supported, and int32 and int64 on inputs)");
  }
  const json::Object &c = *layer.config;
  if (layer.className == "Dense") {
    checkActivation(layer, c.get("activation"));
    if (!c.getInteger("units") || *c.getInteger("units") <= 0)
      issue(layer, "'units' must be a positive integer");
    checkInitializers(layer, {"kernel_initializer", "bias_initializer"});
    checkRegularizers(layer, {"kernel_regularizer", "bias_regularizer"});
  } else if (layer.className == "Embedding") {
    for (StringRef key : {"input_dim", "output_dim"})
      if (!c.getInteger(key) || *c.getInteger(key) <= 0)
        issue(layer, "'" + key + "' must be a positive integer");
    checkInitializers(layer, {"embeddings_initializer"});
    checkRegularizers(layer, {"embeddings_regularizer"});
  } else if (layer.className == "LSTM" || layer.className == "GRU" ||
             layer.className == "SimpleRNN") {
    checkRecurrent(layer);
  } else if (layer.className == "Bidirectional") {
    auto merge = c.getString("merge_mode");
    if (c.get("merge_mode") &&
        (!merge ||
         !llvm::is_contained({"concat", "sum", "mul", "ave"}, merge->str())))
      issue(layer, "unsupported argument 'merge_mode' = " +
                       describe(*c.get("merge_mode")) +
                       " (concat, sum, mul and ave are supported)");
    for (StringRef key : {"layer", "backward_layer"}) {
      const json::Value *value = c.get(key);
      if (key == "backward_layer" && isNullOrAbsent(value))
        continue;
      const json::Object *inner = value ? value->getAsObject() : nullptr;
      const json::Object *config = inner ? inner->getObject("config") : nullptr;
      auto cls = inner ? inner->getString("class_name") : std::nullopt;
      if (!config || !cls ||
          !llvm::is_contained({"LSTM", "GRU", "SimpleRNN"}, cls->str())) {
        issue(layer,
              "'" + key + "' must be an LSTM, GRU or SimpleRNN layer config");
        continue;
      }
      std::string name = config->getString("name").value_or(key).str();
      if (config->getBoolean("return_state").value_or(false))
        issue(layer, "'" + key +
                         "' has return_state = true, which kiln supports on "
                         "LSTM, GRU and SimpleRNN layers, not under "
                         "Bidirectional");
      checkLayer(Layer{layer.name + "/" + name, cls->str(), config, {}, false});
    }
  } else if (layer.className == "MultiHeadAttention") {
    for (StringRef key : {"num_heads", "key_dim"})
      if (!c.getInteger(key) || *c.getInteger(key) <= 0 ||
          *c.getInteger(key) > kMaxLayerWidth)
        issue(layer, "'" + key + "' must be an integer in [1, " +
                         Twine(kMaxLayerWidth) + "]");
    if (const json::Value *v = c.get("value_dim");
        !isNullOrAbsent(v) && (!v->getAsInteger() || *v->getAsInteger() <= 0 ||
                               *v->getAsInteger() > kMaxLayerWidth))
      issue(layer, "'value_dim' must be null or an integer in [1, " +
                       Twine(kMaxLayerWidth) + "]");
    if (const json::Value *rate = c.get("dropout"); !isNullOrAbsent(rate)) {
      auto r = rate->getAsNumber();
      if (!r || *r < 0 || *r >= 1)
        issue(layer, "'dropout' must be a number in [0, 1)");
    }
    if (const json::Value *seed = c.get("seed");
        !isNullOrAbsent(seed) && !seed->getAsInteger())
      issue(layer, "'seed' must be an integer or null");
    checkInitializers(layer, {"kernel_initializer", "bias_initializer"});
    checkRegularizers(layer, {"kernel_regularizer", "bias_regularizer"});
  } else if (layer.className == "TimeDistributed") {
    const json::Object *inner = c.getObject("layer");
    const json::Object *config = inner ? inner->getObject("config") : nullptr;
    auto cls = inner ? inner->getString("class_name") : std::nullopt;
    if (!config || cls != "Dense")
      issue(layer, "'layer' must be a Dense layer config (TimeDistributed "
                   "over other layers is not supported)");
    else
      checkLayer(Layer{layer.name + "/" +
                           config->getString("name").value_or("dense").str(),
                       "Dense",
                       config,
                       {},
                       false});
  } else if (layer.className == "RepeatVector") {
    if (!c.getInteger("n") || *c.getInteger("n") <= 0)
      issue(layer, "'n' must be a positive integer");
  } else if (layer.className == "Masking") {
    if (const json::Value *v = c.get("mask_value"); v && !getNumber(v))
      issue(layer, "'mask_value' must be a number, got " + describe(*v));
  } else if (layer.className == "Permute") {
    const json::Array *dims = c.getArray("dims");
    SmallVector<int64_t> seen;
    bool ok = dims && !dims->empty();
    for (size_t i = 0; ok && i < dims->size(); ++i) {
      auto d = (*dims)[i].getAsInteger();
      ok = d && *d >= 1 && *d <= static_cast<int64_t>(dims->size()) &&
           !llvm::is_contained(seen, *d);
      if (ok)
        seen.push_back(*d);
    }
    if (!ok)
      issue(layer, "'dims' must be a permutation of 1..rank (the batch axis "
                   "stays first)");
  } else if (layer.className == "PositionEmbedding") {
    if (!c.getInteger("sequence_length") ||
        *c.getInteger("sequence_length") <= 0)
      issue(layer, "'sequence_length' must be a positive integer");
    if (const json::Value *value = c.get("initializer"); !isNullOrAbsent(value))
      if (auto init = parseInitializer(*value, builder); !init)
        issue(layer,
              "argument 'initializer': " + llvm::toString(init.takeError()));
  } else if (layer.className == "LayerNormalization") {
    if (const json::Value *axis = c.get("axis"); !isNullOrAbsent(axis)) {
      const json::Array *list = axis->getAsArray();
      bool ok = axis->getAsInteger() ||
                (list && !list->empty() &&
                 llvm::all_of(*list, [](const json::Value &v) {
                   return v.getAsInteger().has_value();
                 }));
      if (!ok)
        issue(layer, "'axis' must be an integer or a list of integers, got " +
                         describe(*axis));
    }
    if (const json::Value *eps = c.get("epsilon"); !isNullOrAbsent(eps)) {
      auto e = eps->getAsNumber();
      if (!e || !(*e > 0) || !std::isfinite(*e))
        issue(layer, "'epsilon' must be a finite number > 0");
    }
    for (StringRef key : {"center", "scale"})
      if (const json::Value *flag = c.get(key);
          !isNullOrAbsent(flag) && !flag->getAsBoolean())
        issue(layer, "'" + key + "' must be true or false");
    checkInitializers(layer, {"beta_initializer", "gamma_initializer"});
    checkRegularizers(layer, {"beta_regularizer", "gamma_regularizer"});
  } else if (layer.className == "Activation") {
    if (isNullOrAbsent(c.get("activation")))
      issue(layer, "missing argument 'activation'");
    checkActivation(layer, c.get("activation"));
  } else if (layer.className == "Dropout") {
    auto rate = getNumber(c.get("rate"));
    if (!rate || *rate < 0 || *rate >= 1)
      issue(layer, "'rate' must be a number in [0, 1)");
  } else if (layer.className == "Rescaling") {
    for (StringRef key : {"scale", "offset"})
      if (const json::Value *value = c.get(key);
          !isNullOrAbsent(value) && !value->getAsNumber())
        issue(layer, "unsupported argument '" + key + "' = " +
                         describe(*value) + " (scalars are supported)");
  } else if (layer.className == "Flatten") {
    if (auto format = c.getString("data_format");
        format && *format != "channels_last")
      issue(layer, "unsupported argument 'data_format' = '" + *format + "'");
  } else if (layer.className == "Softmax" || layer.className == "Concatenate") {
    if (const json::Value *axis = c.get("axis");
        !isNullOrAbsent(axis) && !axis->getAsInteger())
      issue(layer, "unsupported argument 'axis' = " + describe(*axis) +
                       " (one integer axis is supported)");
  } else if (layer.className == "Reshape") {
    if (!c.getArray("target_shape"))
      issue(layer, "missing argument 'target_shape'");
  } else if (layer.className == "BatchNormalization") {
    checkBatchNorm(layer);
  } else if (spatialClass(layer.className).first != Spatial::None) {
    checkSpatialLayer(layer);
  } else if (layer.className == "Normalization") {
    bool hasMean = !isNullOrAbsent(c.get("mean"));
    bool hasVariance = !isNullOrAbsent(c.get("variance"));
    if (hasMean != hasVariance)
      issue(layer, "'mean' and 'variance' must be given together");
  }
}

LogicalResult KerasImporter::reportIssues() {
  if (issues.empty())
    return success();
  // In model order, a layer's problems together (config checks run before
  // the shape rules).
  llvm::stable_sort(issues, [&](const Issue &a, const Issue &b) {
    return layerIndex.lookup(a.layer) < layerIndex.lookup(b.layer);
  });
  InFlightDiagnostic diag = emitError(fileLoc);
  diag << "cannot import the Keras model: " << issues.size()
       << " unsupported or invalid layer(s) or argument(s):";
  for (const Issue &i : issues)
    diag << "\n  " << path << ": layer '" << i.layer << "' (class '"
         << i.className << "'): " << i.what;
  return failure();
}

//===----------------------------------------------------------------------===//
// Emission
//===----------------------------------------------------------------------===//

Value KerasImporter::addParam(const Layer &layer, StringRef suffix,
                              ArrayRef<int64_t> shape, Type elementType,
                              bool trainable, DictionaryAttr initializer,
                              Regularizer regularizer, DictionaryAttr adapt) {
  ParamSpec spec;
  spec.name = layer.name + "/" + suffix.str();
  spec.trainable = trainable;
  spec.initializer = initializer;
  spec.l1 = regularizer.l1;
  spec.l2 = regularizer.l2;
  spec.adapt = adapt;
  return forward->addParam(RankedTensorType::get(shape, elementType), spec);
}

Value KerasImporter::emitActivation(StringRef name, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t last = type.getRank() - 1;
  auto axis = builder.getNamedAttr("axis", builder.getI64IntegerAttr(last));
  auto alpha = [&](double v) {
    return builder.getNamedAttr("alpha", builder.getF64FloatAttr(v));
  };
  if (name == "linear")
    return x;
  if (name == "relu")
    return unary<ReluOp>(x);
  if (name == "relu6")
    return binary<MinimumOp>(unary<ReluOp>(x), kb().splat(type, 6.0));
  if (name == "sigmoid")
    return unary<SigmoidOp>(x);
  if (name == "tanh")
    return unary<TanhOp>(x);
  if (name == "softmax")
    return unary<SoftmaxOp>(x, {axis});
  if (name == "log_softmax")
    return unary<LogSoftmaxOp>(x, {axis});
  if (name == "softplus")
    return unary<SoftplusOp>(x);
  if (name == "elu")
    return unary<EluOp>(x, {alpha(1.0)});
  if (name == "gelu") // keras.activations.gelu: approximate=False.
    return unary<GeluOp>(x);
  if (name == "leaky_relu") // keras.activations.leaky_relu: 0.2.
    return unary<LeakyReluOp>(x, {alpha(0.2)});
  if (name == "selu")
    return binary<MulOp>(
        unary<EluOp>(x, {alpha(1.6732632423543772848170429916717)}),
        kb().splat(type, 1.0507009873554804934193349852946));
  if (name == "exponential")
    return unary<ExpOp>(x);
  if (name == "hard_sigmoid") // Keras 3: relu6(x + 3) / 6, the op's default.
    return unary<HardSigmoidOp>(x);
  if (name == "silu" || name == "swish")
    return binary<MulOp>(x, unary<SigmoidOp>(x));
  llvm_unreachable("activation checked before emission");
}

/// The activation name of a Dense/Activation config value.
StringRef activationName(const json::Value *value) {
  if (isNullOrAbsent(value))
    return "linear";
  if (const json::Object *object = value->getAsObject())
    return *object->getString("config");
  return *value->getAsString();
}

FailureOr<Value> KerasImporter::emitInput(const Layer &layer) {
  const json::Object &c = *layer.config;
  const json::Value *shapeValue = c.get("batch_shape");
  if (!shapeValue)
    shapeValue = c.get("batch_input_shape");
  bool hasBatch = true;
  if (!shapeValue) {
    shapeValue = c.get("shape");
    hasBatch = false;
  }
  if (!shapeValue && sequentialBatchShape) {
    shapeValue = sequentialBatchShape;
    hasBatch = true;
  }
  const json::Array *dims = shapeValue ? shapeValue->getAsArray() : nullptr;
  if (!dims || (hasBatch && dims->empty())) {
    layerError(layer) << "no input shape ('batch_shape')";
    return failure();
  }
  SmallVector<int64_t> shape;
  std::optional<int64_t> fixedBatch;
  for (auto [i, dim] : llvm::enumerate(*dims)) {
    if (hasBatch && i == 0) {
      if (auto n = dim.getAsInteger()) {
        if (*n < 1) {
          layerError(layer) << "batch size " << *n
                            << " in the input shape; it must be >= 1 (or "
                               "null, for kilnc --batch-size or 32)";
          return failure();
        }
        fixedBatch = *n;
      }
      shape.push_back(0);
      continue;
    }
    auto n = dim.getAsInteger();
    // The time axis (the first after the batch) of a variable-length
    // sequence input: kilnc --sequence-length fixes it.
    bool timeAxis = static_cast<int64_t>(i) == (hasBatch ? 1 : 0);
    if (dim.getAsNull() && timeAxis) {
      if (!options.sequenceLength) {
        layerError(layer)
            << "dimension " << i
            << " of the input shape is null (a variable-length sequence); "
               "give its length with kilnc --sequence-length=N";
        return failure();
      }
      n = *options.sequenceLength;
      sequenceLengthUsed = true;
    }
    if (!n || *n <= 0) {
      layerError(layer) << "dimension " << i << " of the input shape is "
                        << describe(dim)
                        << "; kiln needs static sizes beyond the batch"
                        << (timeAxis ? ""
                                     : " (kilnc --sequence-length sets "
                                       "only the time axis, the first "
                                       "after the batch)");
      return failure();
    }
    shape.push_back(*n);
  }
  if (!hasBatch)
    shape.insert(shape.begin(), 0);
  int64_t batch;
  if (options.batchSize) {
    batch = *options.batchSize;
  } else if (fixedBatch) {
    if (configBatch && *configBatch != *fixedBatch) {
      layerError(layer) << "batch size " << *fixedBatch
                        << " differs from another input's " << *configBatch;
      return failure();
    }
    configBatch = batch = *fixedBatch;
  } else {
    batch = kDefaultBatchSize; // Keras writes null; docs/architecture.md
  }
  shape[0] = batch;

  std::optional<StringRef> dtypeName = c.getString("dtype");
  if (const json::Object *policy = c.getObject("dtype"))
    if (const json::Object *config = policy->getObject("config"))
      dtypeName = config->getString("name");
  Type elementType = builder.getF32Type();
  if (dtypeName == "float64")
    elementType = builder.getF64Type();
  else if (dtypeName == "int32")
    elementType = builder.getI32Type();
  else if (dtypeName == "int64")
    elementType = builder.getI64Type();
  // A Sequential model whose first layer is an Embedding and that has no
  // InputLayer takes token ids (Keras casts a float input to int32).
  if (&layer != &layers.front() && layer.className == "InputLayer" &&
      !layers.empty() && layers.front().className == "Embedding")
    elementType = builder.getI32Type();
  return forward->addInput(RankedTensorType::get(shape, elementType),
                           layer.name);
}

FailureOr<Value> KerasImporter::emitDense(const Layer &layer, Value x) {
  const json::Object &c = *layer.config;
  auto type = cast<RankedTensorType>(x.getType());
  if (type.getRank() < 2) {
    layerError(layer) << "input " << type << " has no feature axis";
    return failure();
  }
  Type elementType = type.getElementType();
  int64_t in = type.getShape().back();
  int64_t units = *c.getInteger("units");
  bool trainable = c.getBoolean("trainable").value_or(true);
  bool useBias = c.getBoolean("use_bias").value_or(true);

  auto initializer = [&](StringRef key, StringRef fallback) {
    const json::Value *value = c.get(key);
    json::Value name = fallback;
    auto dict =
        parseInitializer(isNullOrAbsent(value) ? name : *value, builder);
    if (!dict) { // reported by checkLayer
      llvm::consumeError(dict.takeError());
      return DictionaryAttr();
    }
    return *dict;
  };
  auto regularizer = [&](StringRef key) {
    const json::Value *value = c.get(key);
    if (isNullOrAbsent(value))
      return Regularizer{};
    auto reg = parseRegularizer(*value);
    if (!reg) { // reported by checkLayer
      llvm::consumeError(reg.takeError());
      return Regularizer{};
    }
    return *reg;
  };

  Value kernel = addParam(layer, "kernel", {in, units}, elementType, trainable,
                          initializer("kernel_initializer", "glorot_uniform"),
                          regularizer("kernel_regularizer"));
  // Dense acts on the last axis: [..., in] -> [rows, in] x [in, units].
  SmallVector<int64_t> outShape(type.getShape());
  outShape.back() = units;
  int64_t rows = type.getNumElements() / in;
  Value flat = kb().reshape(x, {rows, in});
  Value y = builder.create<MatmulOp>(
      fileLoc, TypeRange{RankedTensorType::get({rows, units}, elementType)},
      ValueRange{flat, kernel});
  y = kb().reshape(y, outShape);
  if (useBias) {
    Value bias = addParam(layer, "bias", {units}, elementType, trainable,
                          initializer("bias_initializer", "zeros"),
                          regularizer("bias_regularizer"));
    y = binary<AddOp>(y, kb().broadcastTo(bias, outShape));
  }
  return emitActivation(activationName(c.get("activation")), y);
}

FailureOr<Value> KerasImporter::emitNormalization(const Layer &layer, Value x) {
  const json::Object &c = *layer.config;
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  // The kept axes (default -1): mean and variance have their sizes.
  SmallVector<int64_t> axes;
  const json::Value *axisValue = c.get("axis");
  if (isNullOrAbsent(axisValue)) {
    axes.push_back(rank - 1);
  } else if (auto axis = axisValue->getAsInteger()) {
    axes.push_back(*axis);
  } else if (const json::Array *list = axisValue->getAsArray()) {
    for (const json::Value &v : *list)
      if (auto axis = v.getAsInteger())
        axes.push_back(*axis);
  }
  for (int64_t &axis : axes) {
    if (axis < 0)
      axis += rank;
    if (axis <= 0 || axis >= rank) {
      layerError(layer) << "axis out of range for input " << type
                        << " (the batch axis cannot be kept)";
      return failure();
    }
  }
  llvm::sort(axes);
  SmallVector<int64_t> statShape;
  int64_t count = 1;
  for (int64_t axis : axes) {
    statShape.push_back(type.getDimSize(axis));
    count *= type.getDimSize(axis);
  }
  auto statType = RankedTensorType::get(statShape, type.getElementType());

  auto statistic = [&](StringRef key) -> FailureOr<Value> {
    const json::Value *value = c.get(key);
    if (isNullOrAbsent(value)) {
      // Not adapted yet: a non-trainable parameter the fit driver fills
      // (Keras' Normalization.adapt) when the layer reads a model input
      // directly; kiln.adapt says which statistic of which input over which
      // kept axes. Before adaptation it holds Keras' initial values (mean 0,
      // variance 1).
      NamedAttrList adapt;
      adapt.set("statistic", builder.getStringAttr(key));
      if (StringAttr input = forward->getInputName(x))
        adapt.set("input", input);
      adapt.set("axes", builder.getI64ArrayAttr(axes));
      NamedAttrList init;
      init.set("name", builder.getStringAttr(key == "mean" ? "zeros" : "ones"));
      return addParam(layer, key, statShape, type.getElementType(),
                      /*trainable=*/false, init.getDictionary(context), {},
                      adapt.getDictionary(context));
    }
    SmallVector<double> values;
    std::function<bool(const json::Value &)> flatten =
        [&](const json::Value &v) {
          if (auto n = v.getAsNumber()) {
            values.push_back(*n);
            return true;
          }
          if (const json::Array *a = v.getAsArray())
            return llvm::all_of(*a, flatten);
          return false;
        };
    if (!flatten(*value) ||
        (values.size() != 1 && static_cast<int64_t>(values.size()) != count)) {
      layerError(layer) << "'" << key << "' must be a number or " << count
                        << " numbers";
      return failure();
    }
    if (values.size() == 1)
      return kb().splat(statType, values[0]);
    SmallVector<Attribute> elements;
    for (double v : values)
      elements.push_back(builder.getFloatAttr(type.getElementType(), v));
    auto attr = DenseElementsAttr::get(statType, elements);
    return builder
        .create<ConstantOp>(fileLoc, TypeRange{statType}, ValueRange{},
                            builder.getNamedAttr("value", attr))
        .getResult();
  };
  FailureOr<Value> mean = statistic("mean");
  if (failed(mean))
    return failure();
  FailureOr<Value> variance = statistic("variance");
  if (failed(variance))
    return failure();
  // Keras: (x - mean) / maximum(sqrt(variance), epsilon()), epsilon 1e-7.
  Value stddev =
      binary<MaximumOp>(unary<SqrtOp>(*variance), kb().splat(statType, 1e-7));
  auto broadcast = [&](Value v) {
    return builder.create<BroadcastInDimOp>(fileLoc, type, v, axes).getResult();
  };
  return binary<DivOp>(binary<SubOp>(x, broadcast(*mean)), broadcast(stddev));
}

/// Keras Embedding: y[..., :] = embeddings[ids[...], :] (kiln.gather on
/// axis 0), embeddings [input_dim, output_dim] initialized as Keras'
/// "uniform" (RandomUniform(-0.05, 0.05)). Float ids are converted to int32
/// first, as Keras casts them. An input read directly gets
/// `kiln.index_range = [0, input_dim)`, so generated programs refuse token
/// ids outside the vocabulary before training.
FailureOr<Value> KerasImporter::emitEmbedding(const Layer &layer, Value x) {
  const json::Object &c = *layer.config;
  auto type = cast<RankedTensorType>(x.getType());
  int64_t vocabulary = *c.getInteger("input_dim");
  int64_t width = *c.getInteger("output_dim");
  Value ids = x;
  if (isa<FloatType>(type.getElementType()))
    ids = builder
              .create<ConvertOp>(fileLoc, type.clone(builder.getI32Type()),
                                 ValueRange{x})
              .getResult();
  // A model input read directly (float or integer) is checked by generated
  // programs: whole numbers in [0, input_dim).
  forward->restrictInputRange(x, 0, vocabulary);
  Type elementType = builder.getF32Type();
  bool trainable = c.getBoolean("trainable").value_or(true);
  DictionaryAttr init;
  if (isNullOrAbsent(c.get("embeddings_initializer"))) {
    NamedAttrList uniform;
    uniform.set("name", builder.getStringAttr("random_uniform"));
    uniform.set("minval", builder.getF64FloatAttr(-0.05));
    uniform.set("maxval", builder.getF64FloatAttr(0.05));
    init = uniform.getDictionary(context);
  } else {
    init = initializerOf(layer, "embeddings_initializer", "uniform");
  }
  Value table =
      addParam(layer, "embeddings", {vocabulary, width}, elementType, trainable,
               init, regularizerOf(layer, "embeddings_regularizer"));
  SmallVector<int64_t> shape(type.getShape());
  shape.push_back(width);
  if (c.getBoolean("mask_zero").value_or(false)) {
    // Keras: mask = ids != 0, shaped like the ids.
    auto idType = cast<RankedTensorType>(ids.getType());
    Value zero = builder.create<ConstantOp>(
        fileLoc, idType,
        DenseElementsAttr::get(
            idType, builder.getIntegerAttr(idType.getElementType(), 0)));
    createdMask = maskFromCondition(
        builder.create<CompareOp>(fileLoc, idType.clone(builder.getI1Type()),
                                  ComparisonDirection::ne, ids, zero),
        elementType);
  }
  return builder
      .create<GatherOp>(fileLoc, RankedTensorType::get(shape, elementType),
                        table, ids, /*axis=*/0)
      .getResult();
}

/// Keras LayerNormalization over `axis` (default -1): mean and biased
/// variance over those axes, y = (x - mean) * rsqrt(variance + epsilon) *
/// gamma + beta (Ba et al. 2016; Keras 3 layer_normalization.py; epsilon
/// 1e-3 by default), gamma and beta of the normalized axes' shape.
FailureOr<Value> KerasImporter::emitLayerNormalization(const Layer &layer,
                                                       Value x) {
  const json::Object &c = *layer.config;
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  SmallVector<int64_t> axes;
  const json::Value *axisValue = c.get("axis");
  if (isNullOrAbsent(axisValue))
    axes.push_back(rank - 1);
  else if (auto axis = axisValue->getAsInteger())
    axes.push_back(*axis);
  else
    for (const json::Value &v : *axisValue->getAsArray())
      axes.push_back(*v.getAsInteger());
  for (int64_t &axis : axes) {
    if (axis < 0)
      axis += rank;
    if (axis <= 0 || axis >= rank) {
      layerError(layer) << "axis out of range for input " << type
                        << " (the batch axis cannot be normalized)";
      return failure();
    }
  }
  llvm::sort(axes);
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) {
    layerError(layer) << "an axis appears twice in 'axis'";
    return failure();
  }
  double epsilon = getNumber(c.get("epsilon")).value_or(1e-3);
  bool center = c.getBoolean("center").value_or(true);
  bool scale = c.getBoolean("scale").value_or(true);
  bool trainable = c.getBoolean("trainable").value_or(true);

  SmallVector<int64_t> kept, paramShape;
  for (int64_t d = 0; d < rank; ++d) {
    if (llvm::is_contained(axes, d))
      paramShape.push_back(type.getDimSize(d));
    else
      kept.push_back(d);
  }
  SmallVector<int64_t> reducedShape;
  for (int64_t d : kept)
    reducedShape.push_back(type.getDimSize(d));
  auto reducedType = RankedTensorType::get(reducedShape, type.getElementType());
  auto mean = [&](Value v) {
    Value m = builder.create<ReduceMeanOp>(fileLoc, reducedType, v,
                                           builder.getDenseI64ArrayAttr(axes),
                                           builder.getBoolAttr(false));
    return builder.create<BroadcastInDimOp>(fileLoc, type, m, kept).getResult();
  };
  Value centered = binary<SubOp>(x, mean(x));
  Value variance = mean(binary<MulOp>(centered, centered));
  Value inv =
      unary<RsqrtOp>(binary<AddOp>(variance, kb().splat(type, epsilon)));
  Value y = binary<MulOp>(centered, inv);
  auto param = [&](StringRef key) {
    return builder
        .create<BroadcastInDimOp>(
            fileLoc, type,
            addParam(layer, key, paramShape, type.getElementType(), trainable,
                     initializerOf(layer, (key + "_initializer").str(),
                                   key == "gamma" ? "ones" : "zeros"),
                     regularizerOf(layer, (key + "_regularizer").str())),
            axes)
        .getResult();
  };
  if (scale)
    y = binary<MulOp>(y, param("gamma"));
  if (center)
    y = binary<AddOp>(y, param("beta"));
  return y;
}

/// The activations the recurrent kernels compute (runtime.h's
/// kiln_rnn_desc_t); Keras' default is tanh (sigmoid for the recurrent one).
static bool isRecurrentActivation(StringRef name) {
  return name == "tanh" || name == "sigmoid" || name == "relu" ||
         name == "linear";
}

void KerasImporter::checkInitializers(const Layer &layer,
                                      ArrayRef<StringRef> keys) {
  for (StringRef key : keys)
    if (const json::Value *value = layer.config->get(key);
        !isNullOrAbsent(value))
      if (auto init = parseInitializer(*value, builder); !init)
        issue(layer,
              "argument '" + key + "': " + llvm::toString(init.takeError()));
}

void KerasImporter::checkRegularizers(const Layer &layer,
                                      ArrayRef<StringRef> keys) {
  for (StringRef key : keys)
    if (const json::Value *value = layer.config->get(key);
        !isNullOrAbsent(value))
      if (auto reg = parseRegularizer(*value); !reg)
        issue(layer,
              "argument '" + key + "': " + llvm::toString(reg.takeError()));
}

void KerasImporter::checkRecurrent(const Layer &layer) {
  const json::Object &c = *layer.config;
  if (!c.getInteger("units") || *c.getInteger("units") <= 0 ||
      *c.getInteger("units") > kMaxLayerWidth)
    issue(layer,
          "'units' must be an integer in [1, " + Twine(kMaxLayerWidth) + "]");
  for (StringRef key : {"activation", "recurrent_activation"}) {
    const json::Value *value = c.get(key);
    if (isNullOrAbsent(value))
      continue;
    StringRef name = activationName(value);
    if (!isRecurrentActivation(name))
      issue(layer, "unsupported " + key + " '" + name +
                       "' (tanh, sigmoid, relu and linear are supported)");
  }
  checkInitializers(layer, {"kernel_initializer", "recurrent_initializer",
                            "bias_initializer"});
  checkRegularizers(layer, {"kernel_regularizer", "recurrent_regularizer",
                            "bias_regularizer"});
  if (layer.className == "LSTM" && c.getBoolean("unit_forget_bias") != false &&
      c.getBoolean("use_bias") != false) {
    const json::Value *init = c.get("bias_initializer");
    if (!isNullOrAbsent(init)) {
      auto dict = parseInitializer(*init, builder);
      if (dict && dict->getAs<StringAttr>("name") &&
          dict->getAs<StringAttr>("name").getValue() != "zeros")
        issue(layer, "unit_forget_bias with a bias_initializer other than "
                     "zeros is not supported");
      if (!dict)
        llvm::consumeError(dict.takeError());
    }
  }
}

/// A Keras SimpleRNN / LSTM / GRU layer (config `c`, class `cls`) over `x`
/// [N, T, I] as one kiln.rnn: parameters `<prefix>/kernel` [I, G*H] (Keras
/// default glorot_uniform), `<prefix>/recurrent_kernel` [H, G*H]
/// (orthogonal), `<prefix>/bias` [G*H] or [2, 3H] (GRU reset_after; zeros,
/// and for an LSTM with unit_forget_bias the forget block ones, stored as
/// the initial value). Returns every step ([N, T, H]) with
/// return_sequences, else the last processed step [N, H]. `goBackwards`
/// flips Keras' go_backwards (the backward half of a Bidirectional);
/// `reverseOutput` stores the states aligned with x. `initialStates` are
/// Keras' initial_state call argument: none, or h (and for an LSTM c), each
/// [N, H]. With return_state the final states h (and c), each [N, H], are
/// the layer's further outputs (`extraOutputs`; Keras returns [output, h]
/// or [output, h, c]).
FailureOr<Value> KerasImporter::emitRecurrent(
    const Layer &layer, const json::Object &c, StringRef cls, StringRef prefix,
    bool flipDirection, bool reverseOutput, Value x, Value mask,
    bool zeroOutputForMask, ArrayRef<Value> initialStates) {
  auto type = cast<RankedTensorType>(x.getType());
  if (type.getRank() != 3 || !isa<FloatType>(type.getElementType())) {
    layerError(layer) << "input " << type
                      << " is not a float sequence [batch, steps, features]";
    return failure();
  }
  int64_t numStates = cls == "LSTM" ? 2 : 1;
  if (!initialStates.empty() &&
      static_cast<int64_t>(initialStates.size()) != numStates) {
    layerError(layer) << "gets " << initialStates.size()
                      << " initial state(s); " << cls << " takes "
                      << (numStates == 2 ? "2 ([h, c])" : "1 ([h])");
    return failure();
  }
  if (mask) {
    FailureOr<Value> checked = sequenceMask(layer, mask, x);
    if (failed(checked))
      return failure();
    mask = *checked;
  }
  Type element = type.getElementType();
  int64_t n = type.getDimSize(0), t = type.getDimSize(1),
          i = type.getDimSize(2);
  int64_t h = *c.getInteger("units");
  StringRef cell = cls == "LSTM" ? "lstm" : cls == "GRU" ? "gru" : "simple";
  int64_t gates = cls == "LSTM" ? 4 : cls == "GRU" ? 3 : 1;
  bool resetAfter = cls == "GRU" && c.getBoolean("reset_after").value_or(true);
  bool useBias = c.getBoolean("use_bias").value_or(true);
  bool trainable = c.getBoolean("trainable").value_or(true);
  bool returnSequences = c.getBoolean("return_sequences").value_or(false);
  bool goBackwards = c.getBoolean("go_backwards").value_or(false);
  if (flipDirection)
    goBackwards = !goBackwards;

  auto param = [&](StringRef name, ArrayRef<int64_t> shape, StringRef initKey,
                   StringRef fallback, StringRef regKey) {
    ParamSpec spec;
    spec.name = (prefix + "/" + name).str();
    spec.trainable = trainable;
    const json::Value *value = c.get(initKey);
    json::Value fallbackName = fallback;
    if (auto init = parseInitializer(
            isNullOrAbsent(value) ? fallbackName : *value, builder))
      spec.initializer = *init;
    else
      llvm::consumeError(init.takeError()); // reported by checkLayer
    if (const json::Value *reg = c.get(regKey); !isNullOrAbsent(reg)) {
      if (auto r = parseRegularizer(*reg)) {
        spec.l1 = r->l1;
        spec.l2 = r->l2;
      } else {
        llvm::consumeError(r.takeError());
      }
    }
    return spec;
  };
  Value kernel =
      forward->addParam(RankedTensorType::get({i, gates * h}, element),
                        param("kernel", {}, "kernel_initializer",
                              "glorot_uniform", "kernel_regularizer"));
  Value recurrent =
      forward->addParam(RankedTensorType::get({h, gates * h}, element),
                        param("recurrent_kernel", {}, "recurrent_initializer",
                              "orthogonal", "recurrent_regularizer"));
  SmallVector<int64_t> biasShape = resetAfter ? SmallVector<int64_t>{2, 3 * h}
                                              : SmallVector<int64_t>{gates * h};
  auto biasType = RankedTensorType::get(biasShape, element);
  Value bias;
  if (useBias) {
    ParamSpec spec =
        param("bias", {}, "bias_initializer", "zeros", "bias_regularizer");
    if (cls == "LSTM" && c.getBoolean("unit_forget_bias").value_or(true)) {
      // Keras: zeros, with ones for the forget gate's block (i, f, c, o).
      SmallVector<double> values(4 * h, 0.0);
      std::fill(values.begin() + h, values.begin() + 2 * h, 1.0);
      spec.initializer = DictionaryAttr();
      if (element.isF32()) {
        SmallVector<float> narrow(values.begin(), values.end());
        spec.initValue = DenseElementsAttr::get(biasType, ArrayRef(narrow));
      } else {
        spec.initValue = DenseElementsAttr::get(biasType, ArrayRef(values));
      }
    }
    bias = forward->addParam(biasType, spec);
  } else {
    bias = kb().splat(biasType, 0.0);
  }
  auto strAttr = [&](StringRef key, StringRef fallback) {
    const json::Value *value = c.get(key);
    return builder.getStringAttr(isNullOrAbsent(value) ? fallback
                                                       : activationName(value));
  };
  // initial_state [S, N, H] from Keras' [h(, c)], each [N, H].
  Value initialState;
  if (!initialStates.empty()) {
    auto stateType = RankedTensorType::get({n, h}, element);
    SmallVector<Value> rows;
    bool bad = false;
    for (auto [k, state] : llvm::enumerate(initialStates)) {
      if (state.getType() != stateType) {
        layerError(layer) << "initial state " << k << " ("
                          << (k == 0 ? "h" : "c") << ") is " << state.getType()
                          << ", expected " << stateType << " (batch, units)";
        bad = true;
        continue;
      }
      rows.push_back(kb().reshape(state, {1, n, h}));
    }
    if (bad)
      return failure();
    initialState =
        rows.size() == 1
            ? rows[0]
            : builder.create<ConcatOp>(
                  fileLoc, RankedTensorType::get({numStates, n, h}, element),
                  rows, builder.getI64IntegerAttr(0));
  }
  auto rnn = builder.create<RnnOp>(
      fileLoc, x, kernel, recurrent, bias, mask, initialState,
      builder.getStringAttr(cell), strAttr("activation", "tanh"),
      strAttr("recurrent_activation", "sigmoid"),
      builder.getBoolAttr(goBackwards), builder.getBoolAttr(reverseOutput),
      // Only GRUs read it; the default elsewhere keeps the IR plain.
      builder.getBoolAttr(cls == "GRU" ? resetAfter : true),
      builder.getBoolAttr(mask && zeroOutputForMask));
  Value y = rnn.getResult();
  if (c.getBoolean("return_state").value_or(false))
    for (int64_t k = 0; k < numStates; ++k) {
      Value state = builder.create<SliceOp>(
          fileLoc, RankedTensorType::get({1, n, h}, element),
          rnn.getFinalState(), builder.getDenseI64ArrayAttr({k, 0, 0}),
          builder.getDenseI64ArrayAttr({k + 1, n, h}),
          builder.getDenseI64ArrayAttr({1, 1, 1}));
      extraOutputs.push_back(kb().reshape(state, {n, h}));
    }
  if (returnSequences)
    return y;
  // The last processed step: y[:, T-1] (or y[:, 0] when stored reversed).
  int64_t last = reverseOutput ? 0 : t - 1;
  Value step = builder.create<SliceOp>(
      fileLoc, RankedTensorType::get({n, 1, h}, element), y,
      builder.getDenseI64ArrayAttr({0, last, 0}),
      builder.getDenseI64ArrayAttr({n, last + 1, h}),
      builder.getDenseI64ArrayAttr({1, 1, 1}));
  return kb().reshape(step, {n, h});
}

/// Keras Bidirectional: the wrapped layer as `<layer>/forward_<inner>` and a
/// copy going the other way as `<layer>/backward_<inner>` (or the given
/// backward_layer config), whose states are stored aligned with x (Keras
/// flips the backward sequence back), merged by merge_mode (concat on the
/// last axis by default, sum, mul or ave).
FailureOr<Value> KerasImporter::emitBidirectional(const Layer &layer, Value x) {
  const json::Object &c = *layer.config;
  const json::Object *inner = c.getObject("layer");
  const json::Object *innerConfig = inner->getObject("config");
  StringRef innerClass = *inner->getString("class_name");
  StringRef innerName = innerConfig->getString("name").value_or("rnn");
  const json::Object *backward = c.getObject("backward_layer");
  const json::Object *backwardConfig =
      backward ? backward->getObject("config") : innerConfig;
  StringRef backwardClass =
      backward ? *backward->getString("class_name") : innerClass;
  bool returnSequences =
      innerConfig->getBoolean("return_sequences").value_or(false);
  if (backwardConfig->getBoolean("return_sequences").value_or(false) !=
      returnSequences) {
    layerError(layer) << "the forward and backward layers differ in "
                         "return_sequences";
    return failure();
  }
  // Keras 3 serializes the wrapped copies, already named forward_<name>
  // and backward_<name>; Keras 2 configs hold the original layer.
  auto prefixed = [&](StringRef name, StringRef direction) {
    std::string local =
        name.starts_with(direction) ? name.str() : (direction + name).str();
    return layer.name + "/" + local;
  };
  // Keras' Bidirectional sets zero_output_for_mask = return_sequences on
  // both halves.
  Value mask = operandMasks[0];
  FailureOr<Value> fwd = emitRecurrent(layer, *innerConfig, innerClass,
                                       prefixed(innerName, "forward_"), false,
                                       false, x, mask, returnSequences);
  if (failed(fwd))
    return failure();
  StringRef backwardName =
      backward ? backwardConfig->getString("name").value_or("rnn") : innerName;
  // The given backward_layer already has go_backwards set (Keras requires
  // it); the copy of `layer` flips the wrapped layer's direction.
  FailureOr<Value> bwd = emitRecurrent(
      layer, *backwardConfig, backwardClass,
      prefixed(backward ? backwardName
                        : StringRef(innerName).drop_front(
                              innerName.starts_with("forward_") ? 8 : 0),
               "backward_"),
      /*flipDirection=*/!backward, /*reverseOutput=*/true, x, mask,
      returnSequences);
  if (failed(bwd))
    return failure();
  StringRef mode = c.getString("merge_mode").value_or("concat");
  auto type = cast<RankedTensorType>(fwd->getType());
  if (type != bwd->getType()) {
    layerError(layer) << "the forward and backward layers give " << type
                      << " and " << bwd->getType();
    return failure();
  }
  if (mode == "concat") {
    SmallVector<int64_t> shape(type.getShape());
    shape.back() *= 2;
    return builder
        .create<ConcatOp>(fileLoc,
                          RankedTensorType::get(shape, type.getElementType()),
                          ValueRange{*fwd, *bwd},
                          builder.getI64IntegerAttr(type.getRank() - 1))
        .getResult();
  }
  if (mode == "sum")
    return binary<AddOp>(*fwd, *bwd);
  if (mode == "mul")
    return binary<MulOp>(*fwd, *bwd);
  return binary<MulOp>(binary<AddOp>(*fwd, *bwd), kb().splat(type, 0.5));
}

Value KerasImporter::maskFromCondition(Value condition, Type element) {
  auto type = cast<RankedTensorType>(condition.getType()).clone(element);
  Value mask = builder.create<SelectOp>(
      fileLoc, type, condition, kb().splat(type, 1.0), kb().splat(type, 0.0));
  // Piecewise constant: no gradient, even when computed from params
  // (Masking after an Embedding).
  return builder.create<StopGradientOp>(fileLoc, type, mask);
}

Value KerasImporter::maskCondition(Value mask) {
  auto type = cast<RankedTensorType>(mask.getType());
  return builder.create<CompareOp>(fileLoc, type.clone(builder.getI1Type()),
                                   ComparisonDirection::ne, mask,
                                   kb().splat(type, 0.0));
}

FailureOr<Value> KerasImporter::sequenceMask(const Layer &layer, Value mask,
                                             Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  auto maskType = cast<RankedTensorType>(mask.getType());
  if (maskType.getRank() != 2) {
    layerError(layer) << "the mask of its input is " << maskType
                      << "; kiln reads [batch, steps] masks only";
    return failure();
  }
  if (type.getRank() < 2 ||
      maskType.getShape() !=
          ArrayRef<int64_t>{type.getDimSize(0), type.getDimSize(1)}) {
    layerError(layer) << "the mask of its input is " << maskType
                      << ", which does not match the input " << type
                      << " (a mask is [batch, steps])";
    return failure();
  }
  if (maskType.getElementType() == type.getElementType())
    return mask;
  return builder
      .create<ConvertOp>(fileLoc, maskType.clone(type.getElementType()),
                         ValueRange{mask})
      .getResult();
}

/// Keras Masking (keras/src/layers/core/masking.py): a step is valid when
/// any feature differs from mask_value; masked steps are set to 0.
FailureOr<Value> KerasImporter::emitMasking(const Layer &layer, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  if (type.getRank() < 2 || !isa<FloatType>(type.getElementType())) {
    layerError(layer) << "input " << type
                      << " is not a float tensor [batch, ..., features]";
    return failure();
  }
  double value = getNumber(layer.config->get("mask_value")).value_or(0.0);
  Value differs = maskFromCondition(
      builder.create<CompareOp>(fileLoc, type.clone(builder.getI1Type()),
                                ComparisonDirection::ne, x,
                                kb().splat(type, value)),
      type.getElementType());
  SmallVector<int64_t> shape(type.getShape().drop_back());
  int64_t last = type.getRank() - 1;
  createdMask =
      builder
          .create<ReduceMaxOp>(
              fileLoc,
              TypeRange{RankedTensorType::get(shape, type.getElementType())},
              ValueRange{differs},
              ArrayRef<NamedAttribute>{builder.getNamedAttr(
                  "axes", builder.getDenseI64ArrayAttr({last}))})
          .getResult();
  SmallVector<int64_t> dims;
  for (int64_t i = 0; i < last; ++i)
    dims.push_back(i);
  Value spread =
      builder.create<BroadcastInDimOp>(fileLoc, type, createdMask, dims);
  // Masks are f32 whatever the data's type (they hold 0 and 1).
  if (!type.getElementType().isF32())
    createdMask =
        builder
            .create<ConvertOp>(fileLoc,
                               cast<RankedTensorType>(createdMask.getType())
                                   .clone(builder.getF32Type()),
                               ValueRange{createdMask})
            .getResult();
  return binary<MulOp>(x, spread);
}

/// Keras 3's mask propagation (layer.py, base_merge.py, concatenate.py,
/// rnn.py, multi_head_attention.py): what a layer's output carries.
FailureOr<Value> KerasImporter::outputMask(const Layer &layer,
                                           ArrayRef<Value> operands,
                                           Value result) {
  if (createdMask)
    return createdMask;
  StringRef cls = layer.className;
  Value first = operandMasks.empty() ? Value() : operandMasks[0];
  bool anyMask = llvm::any_of(operandMasks, [](Value m) { return bool(m); });
  if (!anyMask)
    return Value();
  // Layers whose output lines up with their input step by step.
  if (llvm::is_contained({"Dense", "Activation", "ReLU", "LeakyReLU", "Dropout",
                          "LayerNormalization", "BatchNormalization",
                          "Rescaling", "Normalization", "TimeDistributed",
                          "MultiHeadAttention"},
                         cls))
    return first; // MultiHeadAttention: the query's mask
  if (cls == "LSTM" || cls == "GRU" || cls == "SimpleRNN" ||
      cls == "Bidirectional") {
    const json::Object *c = layer.config;
    if (cls == "Bidirectional")
      c = c->getObject("layer")->getObject("config");
    return c->getBoolean("return_sequences").value_or(false) ? first : Value();
  }
  if (cls == "Add" || cls == "Subtract" || cls == "Multiply") {
    // Any input without a mask: none; else their logical or.
    if (llvm::is_contained(operandMasks, Value()))
      return Value();
    Value m = operandMasks[0];
    for (Value other : ArrayRef<Value>(operandMasks).drop_front()) {
      if (other.getType() != m.getType()) {
        layerError(layer) << "its inputs' masks " << m.getType() << " and "
                          << other.getType() << " differ";
        return failure();
      }
      m = binary<MaximumOp>(m, other);
    }
    return m;
  }
  if (cls == "Concatenate") {
    auto type = cast<RankedTensorType>(result.getType());
    int64_t axis = layer.config->getInteger("axis").value_or(-1);
    if (axis < 0)
      axis += type.getRank();
    // Along the features: the or of the masks, all valid where an input
    // has none (so none). Along the steps: the masks joined, ones for an
    // input without one.
    if (axis == type.getRank() - 1) {
      if (llvm::is_contained(operandMasks, Value()))
        return Value();
      Value m = operandMasks[0];
      for (Value other : ArrayRef<Value>(operandMasks).drop_front())
        m = binary<MaximumOp>(m, other);
      return m;
    }
    if (axis == 1) {
      SmallVector<Value> parts;
      SmallVector<int64_t> shape{type.getDimSize(0), type.getDimSize(1)};
      Type element = builder.getF32Type(); // every mask is f32
      for (auto [v, m] : llvm::zip(operands, operandMasks)) {
        auto vt = cast<RankedTensorType>(v.getType());
        auto mt = RankedTensorType::get({vt.getDimSize(0), vt.getDimSize(1)},
                                        element);
        if (m && m.getType() != mt) {
          layerError(layer)
              << "an input's mask is " << m.getType()
              << "; kiln joins [batch, steps] masks only, here " << mt;
          return failure();
        }
        parts.push_back(m ? m : kb().splat(mt, 1.0));
      }
      return builder
          .create<ConcatOp>(fileLoc, RankedTensorType::get(shape, element),
                            parts, builder.getI64IntegerAttr(1))
          .getResult();
    }
    layerError(layer) << "concatenates masked inputs along axis " << axis
                      << "; kiln carries masks through a concatenation "
                         "along the steps or the features only";
    return failure();
  }
  // Keras' Softmax layer applies a mask broadcast against its input;
  // kiln does not.
  if (cls == "Softmax") {
    layerError(layer) << "its input carries a Keras mask, which kiln does "
                         "not apply in a Softmax layer";
    return failure();
  }
  // GlobalAveragePooling1D reads the mask; the rest drop it, as Keras
  // does for layers that do not support masking (with a warning).
  if (cls != "GlobalAveragePooling1D" && cls != "Embedding")
    emitWarning(fileLoc) << "layer '" << layer.name << "' (" << cls
                         << ") drops the Keras mask of its input, as Keras "
                            "does: the layers after it do not see it";
  return Value();
}

/// Keras MultiHeadAttention (Vaswani et al. 2017; Keras 3
/// multi_head_attention.py) on query [N, Tq, dq], value [N, Tv, dv] and key
/// (default value): per head, Q = query Wq + bq, K, V likewise (kernels
/// `<layer>/query/kernel` [dq, heads, key_dim] ..., as Keras' EinsumDense
/// stores them, reshaped in-graph), scores = (Q / sqrt(key_dim)) K^T, with
/// use_causal_mask -1e9 added above the diagonal (Keras' Softmax mask
/// adder), softmax over the keys, dropout, times V, then
/// `<layer>/attention_output` [heads, value_dim, dq] back to [N, Tq, dq].
FailureOr<Value> KerasImporter::emitAttention(const Layer &layer,
                                              ArrayRef<Value> operands) {
  if (operands.size() < 2 || operands.size() > 3) {
    layerError(layer) << "takes " << operands.size()
                      << " inputs; it needs query and value (and key)";
    return failure();
  }
  const json::Object &c = *layer.config;
  Value query = operands[0], value = operands[1];
  Value key = operands.size() == 3 ? operands[2] : value;
  auto qType = cast<RankedTensorType>(query.getType());
  auto vType = cast<RankedTensorType>(value.getType());
  auto kType = cast<RankedTensorType>(key.getType());
  if (qType.getRank() != 3 || vType.getRank() != 3 || kType.getRank() != 3 ||
      vType.getDimSize(1) != kType.getDimSize(1) ||
      qType.getDimSize(0) != vType.getDimSize(0) ||
      kType.getDimSize(0) != vType.getDimSize(0)) {
    layerError(layer) << "query, value and key must be [batch, steps, "
                         "features] with equal batch and value/key steps; got "
                      << qType << ", " << vType << ", " << kType;
    return failure();
  }
  Type element = qType.getElementType();
  int64_t n = qType.getDimSize(0), tq = qType.getDimSize(1),
          tk = kType.getDimSize(1), dq = qType.getDimSize(2);
  int64_t heads = *c.getInteger("num_heads");
  int64_t keyDim = *c.getInteger("key_dim");
  int64_t valueDim = c.getInteger("value_dim").value_or(keyDim);
  bool useBias = c.getBoolean("use_bias").value_or(true);
  bool trainable = c.getBoolean("trainable").value_or(true);
  DictionaryAttr kernelInit =
      initializerOf(layer, "kernel_initializer", "glorot_uniform");
  DictionaryAttr biasInit = initializerOf(layer, "bias_initializer", "zeros");
  Regularizer kernelReg = regularizerOf(layer, "kernel_regularizer");
  Regularizer biasReg = regularizerOf(layer, "bias_regularizer");
  auto tensor = [&](ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, element);
  };
  // x [N, T, d] -> [N, heads, T, width] through the EinsumDense
  // "abc,cde->abde".
  auto project = [&](StringRef name, Value x, int64_t width) {
    auto type = cast<RankedTensorType>(x.getType());
    int64_t t = type.getDimSize(1), d = type.getDimSize(2);
    Value kernel = addParam(layer, (name + "/kernel").str(), {d, heads, width},
                            element, trainable, kernelInit, kernelReg);
    Value y = builder.create<MatmulOp>(
        fileLoc, TypeRange{tensor({n * t, heads * width})},
        ValueRange{kb().reshape(x, {n * t, d}),
                   kb().reshape(kernel, {d, heads * width})});
    if (useBias) {
      Value bias = addParam(layer, (name + "/bias").str(), {heads, width},
                            element, trainable, biasInit, biasReg);
      y = binary<AddOp>(y, kb().broadcastTo(kb().reshape(bias, {heads * width}),
                                            {n * t, heads * width}));
    }
    y = kb().reshape(y, {n, t, heads, width});
    return builder
        .create<TransposeOp>(fileLoc, y,
                             builder.getDenseI64ArrayAttr({0, 2, 1, 3}))
        .getResult();
  };
  Value q = project("query", query, keyDim);
  Value k = project("key", key, keyDim);
  Value v = project("value", value, valueDim);
  // Keras scales the query before the dot product.
  q = binary<MulOp>(q, kb().splat(tensor({n, heads, tq, keyDim}),
                                  1.0 / std::sqrt(double(keyDim))));
  auto scoresType = tensor({n, heads, tq, tk});
  Value scores =
      builder
          .create<MatmulOp>(
              fileLoc, TypeRange{scoresType}, ValueRange{q, k},
              builder.getNamedAttr("transpose_rhs", builder.getBoolAttr(true)))
          .getResult();
  // The inputs' Keras masks: the query's [N, Tq], the value's [N, Tk] and
  // the key's when the key is a tensor of its own (Keras ignores it when
  // key is value).
  Value queryMask = operandMasks.size() > 0 ? operandMasks[0] : Value();
  Value valueMask = operandMasks.size() > 1 ? operandMasks[1] : Value();
  Value keyMask = operandMasks.size() > 2 && operands[2] != operands[1]
                      ? operandMasks[2]
                      : Value();
  for (auto [mask, steps, what] :
       {std::tuple(queryMask, tq, "query"), std::tuple(valueMask, tk, "value"),
        std::tuple(keyMask, tk, "key")}) {
    if (!mask)
      continue;
    auto type = cast<RankedTensorType>(mask.getType());
    if (type.getShape() != ArrayRef<int64_t>{n, steps}) {
      layerError(layer) << "the " << what << "'s mask is " << type
                        << "; it must be [batch, steps] = [" << n << ", "
                        << steps << "]";
      return failure();
    }
  }
  // Query i sees keys j <= i under use_causal_mask, from two iotas (no
  // Tq x Tk constant in the program).
  Value visible;
  if (layer.causalMask) {
    auto indexType = RankedTensorType::get({tq, tk}, builder.getI64Type());
    Value rows = builder.create<IotaOp>(fileLoc, indexType, uint64_t(0));
    Value cols = builder.create<IotaOp>(fileLoc, indexType, uint64_t(1));
    visible = builder.create<CompareOp>(
        fileLoc, RankedTensorType::get({tq, tk}, builder.getI1Type()),
        ComparisonDirection::le, cols, rows);
  }
  Value keep; // i1 [N, heads, Tq, Tk] when the inputs carry masks
  if (!queryMask && !valueMask && !keyMask) {
    if (visible) {
      // -1e9 (Keras' large negative) added where the query may not look.
      auto maskType = tensor({tq, tk});
      Value mask = builder.create<SelectOp>(fileLoc, maskType, visible,
                                            kb().splat(maskType, 0.0),
                                            kb().splat(maskType, -1e9));
      scores = binary<AddOp>(
          scores, builder.create<BroadcastInDimOp>(fileLoc, scoresType, mask,
                                                   ArrayRef<int64_t>{2, 3}));
    }
  } else {
    // Keras' _compute_attention_mask: query_mask[:, :, None] &
    // value_mask[:, None, :] & key_mask[:, None, :] & causal, as a product
    // of 0/1 floats.
    auto attentionType = tensor({n, tq, tk});
    Value allowed;
    auto combine = [&](Value mask, ArrayRef<int64_t> dims) {
      auto type = cast<RankedTensorType>(mask.getType());
      if (type.getElementType() != element)
        mask = builder
                   .create<ConvertOp>(fileLoc, type.clone(element),
                                      ValueRange{mask})
                   .getResult();
      Value spread =
          builder.create<BroadcastInDimOp>(fileLoc, attentionType, mask, dims);
      allowed = allowed ? binary<MulOp>(allowed, spread) : spread;
    };
    if (queryMask)
      combine(queryMask, {0, 1});
    if (valueMask)
      combine(valueMask, {0, 2});
    if (keyMask)
      combine(keyMask, {0, 2});
    if (visible)
      combine(maskFromCondition(visible, element), {1, 2});
    keep = maskCondition(builder.create<BroadcastInDimOp>(
        fileLoc, scoresType, allowed, ArrayRef<int64_t>{0, 2, 3}));
    // Keras' Softmax with a mask: where(mask, scores, -1e9).
    scores = builder.create<SelectOp>(fileLoc, scoresType, keep, scores,
                                      kb().splat(scoresType, -1e9));
  }
  Value probs = unary<SoftmaxOp>(
      scores, {builder.getNamedAttr("axis", builder.getI64IntegerAttr(3))});
  // ... and where(mask, probs, 0), so that a fully masked row is 0.
  if (keep)
    probs = builder.create<SelectOp>(fileLoc, scoresType, keep, probs,
                                     kb().splat(scoresType, 0.0));
  if (double rate = getNumber(c.get("dropout")).value_or(0.0); rate > 0) {
    int64_t seed = c.getInteger("seed").value_or(
        static_cast<int64_t>(layerIndex.lookup(layer.name)) + 1);
    probs =
        builder
            .create<DropoutOp>(
                fileLoc, TypeRange{scoresType},
                ValueRange{probs, forward->stepCounter()},
                ArrayRef<NamedAttribute>{
                    builder.getNamedAttr("rate", builder.getF64FloatAttr(rate)),
                    builder.getNamedAttr("seed",
                                         builder.getI64IntegerAttr(seed))})
            .getResult();
  }
  Value context = builder
                      .create<MatmulOp>(
                          fileLoc, TypeRange{tensor({n, heads, tq, valueDim})},
                          ValueRange{probs, v})
                      .getResult();
  context = builder
                .create<TransposeOp>(fileLoc, context,
                                     builder.getDenseI64ArrayAttr({0, 2, 1, 3}))
                .getResult();
  Value outKernel =
      addParam(layer, "attention_output/kernel", {heads, valueDim, dq}, element,
               trainable, kernelInit, kernelReg);
  Value out = builder.create<MatmulOp>(
      fileLoc, TypeRange{tensor({n * tq, dq})},
      ValueRange{kb().reshape(context, {n * tq, heads * valueDim}),
                 kb().reshape(outKernel, {heads * valueDim, dq})});
  if (useBias) {
    Value bias = addParam(layer, "attention_output/bias", {dq}, element,
                          trainable, biasInit, biasReg);
    out = binary<AddOp>(out, kb().broadcastTo(bias, {n * tq, dq}));
  }
  return kb().reshape(out, {n, tq, dq});
}

/// keras_hub PositionEmbedding: a trainable [sequence_length, features]
/// table (`<layer>/embeddings`, glorot_uniform by default); the output is
/// its first T rows broadcast over the batch (the layer returns the
/// position embeddings; an Add layer adds them to the tokens').
FailureOr<Value> KerasImporter::emitPositionEmbedding(const Layer &layer,
                                                      Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t length = *layer.config->getInteger("sequence_length");
  if (type.getRank() != 3 || type.getDimSize(1) > length) {
    layerError(layer) << "input " << type
                      << " must be [batch, steps, features] with steps <= "
                         "sequence_length "
                      << length;
    return failure();
  }
  int64_t t = type.getDimSize(1), d = type.getDimSize(2);
  Value table = addParam(
      layer, "embeddings", {length, d}, type.getElementType(),
      layer.config->getBoolean("trainable").value_or(true),
      initializerOf(layer, "initializer", "glorot_uniform"), Regularizer{});
  if (t < length)
    table = builder.create<SliceOp>(
        fileLoc, RankedTensorType::get({t, d}, type.getElementType()), table,
        builder.getDenseI64ArrayAttr({0, 0}),
        builder.getDenseI64ArrayAttr({t, d}),
        builder.getDenseI64ArrayAttr({1, 1}));
  return builder
      .create<BroadcastInDimOp>(fileLoc, type, table, ArrayRef<int64_t>{1, 2})
      .getResult();
}

FailureOr<Value> KerasImporter::emitMerge(const Layer &layer,
                                          ArrayRef<Value> operands) {
  if (operands.size() < 2 ||
      (layer.className == "Subtract" && operands.size() != 2)) {
    layerError(layer) << "takes " << operands.size() << " inputs; it needs "
                      << (layer.className == "Subtract" ? "2" : "2 or more");
    return failure();
  }
  if (layer.className == "Concatenate") {
    auto first = cast<RankedTensorType>(operands[0].getType());
    int64_t rank = first.getRank();
    int64_t axis = layer.config->getInteger("axis").value_or(-1);
    if (axis < 0)
      axis += rank;
    if (axis <= 0 || axis >= rank) {
      layerError(layer) << "axis out of range for inputs of rank " << rank;
      return failure();
    }
    SmallVector<int64_t> shape(first.getShape());
    shape[axis] = 0;
    for (Value v : operands) {
      auto t = cast<RankedTensorType>(v.getType());
      if (t.getRank() != rank) {
        layerError(layer) << "inputs of different ranks";
        return failure();
      }
      shape[axis] += t.getDimSize(axis);
    }
    return builder
        .create<ConcatOp>(
            fileLoc,
            TypeRange{RankedTensorType::get(shape, first.getElementType())},
            ValueRange(operands),
            builder.getNamedAttr("axis", builder.getI64IntegerAttr(axis)))
        .getResult();
  }
  // Add, Subtract, Multiply: NumPy broadcasting of the inputs.
  SmallVector<int64_t> shape;
  for (Value v : operands) {
    ArrayRef<int64_t> s = cast<RankedTensorType>(v.getType()).getShape();
    if (s.size() > shape.size())
      shape.insert(shape.begin(), s.size() - shape.size(), 1);
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t &d = shape[shape.size() - s.size() + i];
      if (d == 1)
        d = s[i];
      else if (s[i] != 1 && s[i] != d) {
        layerError(layer) << "input shapes do not broadcast";
        return failure();
      }
    }
  }
  Value result = kb().broadcastTo(operands[0], shape);
  for (Value v : operands.drop_front()) {
    Value rhs = kb().broadcastTo(v, shape);
    if (layer.className == "Add")
      result = binary<AddOp>(result, rhs);
    else if (layer.className == "Subtract")
      result = binary<SubOp>(result, rhs);
    else
      result = binary<MulOp>(result, rhs);
  }
  return result;
}

//===----------------------------------------------------------------------===//
// Convolution, pooling and the other spatial layers
//===----------------------------------------------------------------------===//

void KerasImporter::checkSpatialLayer(const Layer &layer) {
  auto [kind, rankOfClass] = spatialClass(layer.className);
  int64_t d = rankOfClass;
  const json::Object &c = *layer.config;
  if (auto format = c.getString("data_format");
      format && *format != "channels_last" && *format != "channels_first")
    issue(layer, "unsupported argument 'data_format' = '" + *format +
                     "' (channels_last or channels_first)");
  else if (const json::Value *f = c.get("data_format");
           !isNullOrAbsent(f) && !f->getAsString())
    issue(layer, "unsupported argument 'data_format' = " + describe(*f));
  // A tuple argument: d integers, each >= `min`.
  auto checkTuple = [&](StringRef key, int64_t min, StringRef rule,
                        bool required = false) {
    const json::Value *value = c.get(key);
    if (isNullOrAbsent(value)) {
      if (required)
        issue(layer, "missing argument '" + key + "'");
      return;
    }
    auto v = readTuple(value, d, std::nullopt);
    if (!v) {
      issue(layer, "'" + key + "' must be an integer or " + Twine(d) +
                       " integers, got " + describe(*value));
      return;
    }
    if (llvm::any_of(*v, [&](int64_t x) { return x < min; }))
      issue(layer, rule + " '" + key + "' must be >= " + Twine(min) + ", got " +
                       tupleText(*v));
  };
  auto checkPadding = [&](bool causal) {
    const json::Value *value = c.get("padding");
    if (isNullOrAbsent(value))
      return;
    auto p = value->getAsString();
    std::string lower = p ? p->lower() : "";
    if (lower != "valid" && lower != "same" && !(causal && lower == "causal"))
      issue(layer, "unknown padding " + describe(*value) + " (valid, same" +
                       (causal ? ", causal" : "") + ")");
  };
  auto checkPositive = [&](StringRef key, bool required) {
    const json::Value *value = c.get(key);
    if (isNullOrAbsent(value)) {
      if (required)
        issue(layer, "missing argument '" + key + "'");
      return;
    }
    auto n = value->getAsInteger();
    if (!n || *n < 1)
      issue(layer, "'" + key + "' must be a positive integer, got " +
                       describe(*value));
  };
  auto checkRate = [&] {
    auto rate = getNumber(c.get("rate"));
    if (!rate || *rate < 0 || *rate >= 1)
      issue(layer, "'rate' must be a number in [0, 1)");
  };

  switch (kind) {
  case Spatial::Conv:
  case Spatial::ConvTranspose:
  case Spatial::Depthwise:
  case Spatial::Separable: {
    if (kind != Spatial::Depthwise)
      checkPositive("filters", true);
    if (kind == Spatial::Depthwise || kind == Spatial::Separable)
      checkPositive("depth_multiplier", false);
    checkTuple("kernel_size", 1, "[conv_c5]", true);
    checkTuple("strides", 1, "[conv_c3]");
    checkTuple("dilation_rate", 1, "[conv_c3]");
    checkPadding(kind == Spatial::Conv && d == 1);
    checkActivation(layer, c.get("activation"));
    if (const json::Value *g = c.get("groups"); !isNullOrAbsent(g)) {
      auto groups = g->getAsInteger();
      auto filters = c.getInteger("filters");
      if (!groups || *groups < 1)
        issue(layer, "[conv_c4] 'groups' must be a positive integer, got " +
                         describe(*g));
      else if (filters && *filters >= 1 && *filters % *groups)
        issue(layer, "[conv_c4] 'filters' (" + Twine(*filters) +
                         ") is not divisible by 'groups' (" + Twine(*groups) +
                         ")");
    }
    // Keras: "strides > 1 not supported in conjunction with dilation_rate >
    // 1" (the TF kernels have no such convolution).
    auto strides = readTuple(c.get("strides"), d, 1);
    auto dilations = readTuple(c.get("dilation_rate"), d, 1);
    if (strides && dilations &&
        llvm::any_of(*strides, [](int64_t s) { return s > 1; }) &&
        llvm::any_of(*dilations, [](int64_t r) { return r > 1; }))
      issue(layer, "strides " + tupleText(*strides) +
                       " > 1 together with dilation_rate " +
                       tupleText(*dilations) +
                       " > 1 (Keras does not support both)");
    if (kind == Spatial::ConvTranspose &&
        !isNullOrAbsent(c.get("output_padding"))) {
      checkTuple("output_padding", 0, "");
      auto pads = readTuple(c.get("output_padding"), d, std::nullopt);
      if (pads && strides)
        for (auto [i, p] : llvm::enumerate(*pads))
          if (p >= (*strides)[i])
            issue(layer, "[conv_transpose_c2] output_padding " + Twine(p) +
                             " of spatial axis " + Twine(i) +
                             " must be smaller than the stride " +
                             Twine((*strides)[i]));
    }
    checkInitializers(layer,
                      {"kernel_initializer", "bias_initializer",
                       "depthwise_initializer", "pointwise_initializer"});
    checkRegularizers(layer,
                      {"kernel_regularizer", "bias_regularizer",
                       "depthwise_regularizer", "pointwise_regularizer"});
    break;
  }
  case Spatial::MaxPool:
  case Spatial::AvgPool:
    checkTuple("pool_size", 1, "[pool_c3]");
    checkTuple("strides", 1, "[pool_c3]");
    checkPadding(false);
    break;
  case Spatial::GlobalAvgPool:
  case Spatial::GlobalMaxPool:
    if (const json::Value *k = c.get("keepdims");
        !isNullOrAbsent(k) && !k->getAsBoolean())
      issue(layer, "'keepdims' must be a boolean, got " + describe(*k));
    break;
  case Spatial::ZeroPadding:
  case Spatial::Cropping: {
    StringRef key = kind == Spatial::ZeroPadding ? "padding" : "cropping";
    auto pairs = readPairs(c.get(key), d, 0);
    if (!pairs)
      issue(layer, "'" + key + "' must be an integer, " + Twine(d) +
                       " integers or " + Twine(d) + " pairs, got " +
                       describe(*c.get(key)));
    else if (llvm::any_of(*pairs,
                          [](auto p) { return p.first < 0 || p.second < 0; }))
      issue(layer, "'" + key + "' must be >= 0, got " + describe(*c.get(key)));
    break;
  }
  case Spatial::UpSampling:
    checkTuple("size", 1, "");
    break;
  case Spatial::SpatialDropout:
    checkRate();
    break;
  case Spatial::None:
    break;
  }
}

DictionaryAttr KerasImporter::initializerOf(const Layer &layer, StringRef key,
                                            StringRef fallback) {
  const json::Value *value = layer.config->get(key);
  json::Value name = fallback;
  auto dict = parseInitializer(isNullOrAbsent(value) ? name : *value, builder);
  if (!dict) { // reported by checkLayer
    llvm::consumeError(dict.takeError());
    return DictionaryAttr();
  }
  return *dict;
}

Regularizer KerasImporter::regularizerOf(const Layer &layer, StringRef key) {
  const json::Value *value = layer.config->get(key);
  if (isNullOrAbsent(value))
    return Regularizer{};
  auto reg = parseRegularizer(*value);
  if (!reg) { // reported by checkLayer
    llvm::consumeError(reg.takeError());
    return Regularizer{};
  }
  return *reg;
}

FailureOr<Value> KerasImporter::emitSpatialLayer(const Layer &layer, Value x) {
  auto [kind, rankOfClass] = spatialClass(layer.className);
  int64_t d = rankOfClass;
  const json::Object &c = *layer.config;
  auto type = cast<RankedTensorType>(x.getType());
  if (type.getRank() != d + 2) {
    issue(layer, "expects an input of rank " + Twine(d + 2) + " (batch, " +
                     Twine(d) + " spatial axes, channels), got " +
                     tupleText(type.getShape()));
    return Value();
  }
  bool channelsFirst = c.getString("data_format") == "channels_first";
  int64_t rank = type.getRank();
  // Global pooling reduces the spatial axes wherever they are.
  if (kind == Spatial::GlobalAvgPool || kind == Spatial::GlobalMaxPool) {
    SmallVector<int64_t> axes, shape;
    for (int64_t i = 0; i < d; ++i)
      axes.push_back(channelsFirst ? i + 2 : i + 1);
    bool keep = c.getBoolean("keepdims").value_or(false);
    for (int64_t i = 0; i < rank; ++i)
      if (!llvm::is_contained(axes, i))
        shape.push_back(type.getDimSize(i));
      else if (keep)
        shape.push_back(1);
    SmallVector<NamedAttribute> attrs{
        builder.getNamedAttr("axes", builder.getDenseI64ArrayAttr(axes)),
        builder.getNamedAttr("keep_dims", builder.getBoolAttr(keep))};
    auto resultType = RankedTensorType::get(shape, type.getElementType());
    if (kind == Spatial::GlobalAvgPool && d == 1 && !operandMasks.empty() &&
        operandMasks[0]) {
      // Keras GlobalAveragePooling1D with a mask: the sum of the valid
      // steps over their count, at least 1: a fully masked sample (the zero
      // rows padding a last batch, too) averages to 0 where Keras' 0/0
      // gives NaN.
      Value mask = operandMasks[0];
      int64_t steps = axes[0];
      auto maskType = cast<RankedTensorType>(mask.getType());
      if (maskType.getShape() !=
          ArrayRef<int64_t>{type.getDimSize(0), type.getDimSize(steps)}) {
        layerError(layer) << "the mask of its input is " << maskType
                          << ", which does not match the input " << type
                          << " (a mask is [batch, steps])";
        return failure();
      }
      if (maskType.getElementType() != type.getElementType())
        mask = builder
                   .create<ConvertOp>(fileLoc,
                                      maskType.clone(type.getElementType()),
                                      ValueRange{mask})
                   .getResult();
      Value spread = builder.create<BroadcastInDimOp>(
          fileLoc, type, mask, ArrayRef<int64_t>{0, steps});
      Value sum =
          builder
              .create<ReduceSumOp>(fileLoc, TypeRange{resultType},
                                   ValueRange{binary<MulOp>(x, spread)}, attrs)
              .getResult();
      Value count = builder
                        .create<ReduceSumOp>(
                            fileLoc,
                            TypeRange{RankedTensorType::get(
                                {type.getDimSize(0)}, type.getElementType())},
                            ValueRange{mask},
                            ArrayRef<NamedAttribute>{builder.getNamedAttr(
                                "axes", builder.getDenseI64ArrayAttr({1}))})
                        .getResult();
      count = binary<MaximumOp>(
          count, kb().splat(cast<RankedTensorType>(count.getType()), 1.0));
      return binary<DivOp>(
          sum, builder.create<BroadcastInDimOp>(fileLoc, resultType, count,
                                                ArrayRef<int64_t>{0}));
    }
    if (kind == Spatial::GlobalAvgPool)
      return builder
          .create<ReduceMeanOp>(fileLoc, TypeRange{resultType}, ValueRange{x},
                                attrs)
          .getResult();
    return builder
        .create<ReduceMaxOp>(fileLoc, TypeRange{resultType}, ValueRange{x},
                             attrs)
        .getResult();
  }
  // The others work channels-last: channels_first inputs are transposed in
  // and the result back.
  auto transpose = [&](Value v, bool inverse) {
    auto t = cast<RankedTensorType>(v.getType());
    SmallVector<int64_t> perm = channelsLastPermutation(rank, inverse);
    SmallVector<int64_t> shape;
    for (int64_t p : perm)
      shape.push_back(t.getDimSize(p));
    return builder
        .create<TransposeOp>(
            fileLoc,
            TypeRange{RankedTensorType::get(shape, t.getElementType())},
            ValueRange{v},
            builder.getNamedAttr("permutation",
                                 builder.getDenseI64ArrayAttr(perm)))
        .getResult();
  };
  if (channelsFirst)
    x = transpose(x, false);
  type = cast<RankedTensorType>(x.getType());
  ArrayRef<int64_t> shape = type.getShape();
  FailureOr<Value> result = Value();
  switch (kind) {
  case Spatial::Conv:
  case Spatial::Depthwise:
  case Spatial::Separable:
    result = emitConv(layer, x);
    break;
  case Spatial::ConvTranspose:
    result = emitConvTranspose(layer, x);
    break;
  case Spatial::MaxPool:
  case Spatial::AvgPool:
    result = emitPool(layer, x);
    break;
  case Spatial::ZeroPadding:
  case Spatial::Cropping: {
    bool pad = kind == Spatial::ZeroPadding;
    auto pairs = readPairs(c.get(pad ? "padding" : "cropping"), d, 0);
    if (!pairs) // reported by checkLayer
      return Value();
    SmallVector<int64_t> low(rank, 0), high(rank, 0), out(shape);
    bool ok = true;
    for (auto [i, p] : llvm::enumerate(*pairs)) {
      int64_t lo = std::max<int64_t>(p.first, 0);
      int64_t hi = std::max<int64_t>(p.second, 0);
      low[i + 1] = lo;
      high[i + 1] = hi;
      out[i + 1] += pad ? lo + hi : -(lo + hi);
      if (out[i + 1] < 1) {
        issue(layer, "cropping " + Twine(lo) + " + " + Twine(hi) +
                         " of spatial axis " + Twine(i) +
                         " leaves nothing of " + Twine(shape[i + 1]) +
                         " (output size " + Twine(out[i + 1]) + ")");
        ok = false;
      }
    }
    if (!ok)
      return Value();
    auto resultType = RankedTensorType::get(out, type.getElementType());
    if (pad) {
      result = builder
                   .create<PadOp>(
                       fileLoc, TypeRange{resultType}, ValueRange{x},
                       ArrayRef<NamedAttribute>{
                           builder.getNamedAttr(
                               "low", builder.getDenseI64ArrayAttr(low)),
                           builder.getNamedAttr(
                               "high", builder.getDenseI64ArrayAttr(high))})
                   .getResult();
    } else {
      SmallVector<int64_t> limit(shape);
      for (int64_t i = 1; i <= d; ++i)
        limit[i] -= high[i];
      result =
          builder
              .create<SliceOp>(
                  fileLoc, TypeRange{resultType}, ValueRange{x},
                  ArrayRef<NamedAttribute>{
                      builder.getNamedAttr("start",
                                           builder.getDenseI64ArrayAttr(low)),
                      builder.getNamedAttr("limit",
                                           builder.getDenseI64ArrayAttr(limit)),
                      builder.getNamedAttr("strides",
                                           builder.getDenseI64ArrayAttr(
                                               SmallVector<int64_t>(rank, 1)))})
              .getResult();
    }
    break;
  }
  case Spatial::UpSampling: {
    // Nearest: [N, S_1, .., C] -> broadcast to [N, S_1, f_1, .., C] ->
    // reshape to [N, S_1 * f_1, .., C].
    SmallVector<int64_t> factors =
        readTuple(c.get("size"), d, 2).value_or(SmallVector<int64_t>(d, 2));
    SmallVector<int64_t> wide{shape[0]}, dims{0}, out{shape[0]};
    for (int64_t i = 0; i < d; ++i) {
      int64_t f = std::max<int64_t>(factors[i], 1);
      dims.push_back(wide.size());
      wide.push_back(shape[i + 1]);
      wide.push_back(f);
      out.push_back(shape[i + 1] * f);
    }
    dims.push_back(wide.size());
    wide.push_back(shape.back());
    out.push_back(shape.back());
    Value b = builder.create<BroadcastInDimOp>(
        fileLoc, RankedTensorType::get(wide, type.getElementType()), x, dims);
    result = kb().reshape(b, out);
    break;
  }
  case Spatial::SpatialDropout: {
    // Whole channels: dropout of a [N, 1.., C] tensor of ones, broadcast
    // over the spatial axes and multiplied in.
    double rate = getNumber(c.get("rate")).value_or(0.0);
    int64_t seed = c.getInteger("seed").value_or(
        static_cast<int64_t>(layerIndex.lookup(layer.name)) + 1);
    SmallVector<int64_t> maskShape(rank, 1);
    maskShape.front() = shape.front();
    maskShape.back() = shape.back();
    auto maskType = RankedTensorType::get(maskShape, type.getElementType());
    Value mask =
        builder
            .create<DropoutOp>(
                fileLoc, TypeRange{maskType},
                ValueRange{kb().splat(maskType, 1.0), forward->stepCounter()},
                ArrayRef<NamedAttribute>{
                    builder.getNamedAttr("rate", builder.getF64FloatAttr(rate)),
                    builder.getNamedAttr("seed",
                                         builder.getI64IntegerAttr(seed))})
            .getResult();
    result = binary<MulOp>(x, kb().broadcastTo(mask, shape));
    break;
  }
  default:
    llvm_unreachable("not a channels-last spatial layer");
  }
  if (failed(result) || !*result)
    return result;
  return channelsFirst ? transpose(*result, true) : *result;
}

FailureOr<Value> KerasImporter::emitConv(const Layer &layer, Value x) {
  auto [kind, rankOfClass] = spatialClass(layer.className);
  int64_t d = rankOfClass;
  const json::Object &c = *layer.config;
  SpatialArgs a =
      readSpatialArgs(c, kind, d, layersWithIssues.count(layer.name));
  auto type = cast<RankedTensorType>(x.getType());
  Type elementType = type.getElementType();
  ArrayRef<int64_t> in = type.getShape();
  int64_t channels = in.back();
  bool trainable = c.getBoolean("trainable").value_or(true);
  bool useBias = c.getBoolean("use_bias").value_or(true);
  bool depthwise = kind == Spatial::Depthwise || kind == Spatial::Separable;

  // Pads per spatial axis.
  SmallVector<int64_t> low(d, 0), high(d, 0);
  for (int64_t i = 0; i < d; ++i) {
    if (a.padding == "same")
      std::tie(low[i], high[i]) =
          samePadding(in[i + 1], a.kernel[i], a.strides[i], a.dilations[i]);
    else if (a.padding == "causal")
      low[i] = (a.kernel[i] - 1) * a.dilations[i];
  }
  // The convolution kiln.conv computes: filter [K.., C/groups, F].
  int64_t groups = depthwise ? channels : a.groups;
  int64_t outChannels = depthwise ? channels * a.depthMultiplier : a.filters;
  SmallVector<int64_t> filterShape(a.kernel);
  filterShape.push_back(groups >= 1 ? channels / groups : channels);
  filterShape.push_back(outChannels);
  ConvWindow window{a.strides, a.dilations, low, high, groups};
  llvm::Expected<Shape> outShape = inferConvShape(in, filterShape, window);
  if (!outShape) {
    shapeIssues(layer, outShape.takeError());
    return Value();
  }
  if (llvm::is_contained(*outShape, 0)) {
    issue(layer, "output size 0: " + tupleText(*outShape));
    return Value();
  }

  auto convOp = [&](Value input, Value filter, ArrayRef<int64_t> result,
                    ArrayRef<int64_t> lo, ArrayRef<int64_t> hi,
                    ArrayRef<int64_t> strides, ArrayRef<int64_t> dilations,
                    int64_t g) {
    SmallVector<NamedAttribute> attrs{
        builder.getNamedAttr("strides", builder.getDenseI64ArrayAttr(strides)),
        builder.getNamedAttr("dilations",
                             builder.getDenseI64ArrayAttr(dilations)),
        builder.getNamedAttr("pad_low", builder.getDenseI64ArrayAttr(lo)),
        builder.getNamedAttr("pad_high", builder.getDenseI64ArrayAttr(hi))};
    if (g != 1)
      attrs.push_back(
          builder.getNamedAttr("groups", builder.getI64IntegerAttr(g)));
    return builder
        .create<ConvOp>(fileLoc,
                        TypeRange{RankedTensorType::get(result, elementType)},
                        ValueRange{input, filter}, attrs)
        .getResult();
  };

  Value y;
  if (!depthwise) {
    Value kernel =
        addParam(layer, "kernel", filterShape, elementType, trainable,
                 initializerOf(layer, "kernel_initializer", "glorot_uniform"),
                 regularizerOf(layer, "kernel_regularizer"));
    y = convOp(x, kernel, *outShape, low, high, a.strides, a.dilations, groups);
  } else {
    // Keras' depthwise kernel [K.., C, depth_multiplier] is, row-major, the
    // grouped filter [K.., 1, C * depth_multiplier]: output channel
    // c * depth_multiplier + m reads input channel c.
    SmallVector<int64_t> kerasShape(a.kernel);
    kerasShape.push_back(channels);
    kerasShape.push_back(a.depthMultiplier);
    bool separable = kind == Spatial::Separable;
    Value kernel = addParam(
        layer, separable ? "depthwise_kernel" : "kernel", kerasShape,
        elementType, trainable,
        initializerOf(layer, "depthwise_initializer", "glorot_uniform"),
        regularizerOf(layer, "depthwise_regularizer"));
    y = convOp(x, kb().reshape(kernel, filterShape), *outShape, low, high,
               a.strides, a.dilations, groups);
    if (separable) {
      // Pointwise: a 1x1 convolution [1.., C * dm, filters].
      SmallVector<int64_t> pointShape(d, 1);
      pointShape.push_back(outChannels);
      pointShape.push_back(a.filters);
      Value pointwise = addParam(
          layer, "pointwise_kernel", pointShape, elementType, trainable,
          initializerOf(layer, "pointwise_initializer", "glorot_uniform"),
          regularizerOf(layer, "pointwise_regularizer"));
      SmallVector<int64_t> result(outShape->begin(), outShape->end());
      result.back() = a.filters;
      SmallVector<int64_t> zeros(d, 0), ones(d, 1);
      y = convOp(y, pointwise, result, zeros, zeros, ones, ones, 1);
      outChannels = a.filters;
    }
  }
  ArrayRef<int64_t> yShape = cast<RankedTensorType>(y.getType()).getShape();
  if (useBias) {
    Value bias = addParam(layer, "bias", {outChannels}, elementType, trainable,
                          initializerOf(layer, "bias_initializer", "zeros"),
                          regularizerOf(layer, "bias_regularizer"));
    y = binary<AddOp>(y, kb().broadcastTo(bias, yShape));
  }
  if (layersWithIssues.count(layer.name))
    return y; // the activation may be unknown
  return emitActivation(activationName(c.get("activation")), y);
}

FailureOr<Value> KerasImporter::emitConvTranspose(const Layer &layer, Value x) {
  auto [kind, rankOfClass] = spatialClass(layer.className);
  int64_t d = rankOfClass;
  const json::Object &c = *layer.config;
  SpatialArgs a =
      readSpatialArgs(c, kind, d, layersWithIssues.count(layer.name));
  auto type = cast<RankedTensorType>(x.getType());
  Type elementType = type.getElementType();
  ArrayRef<int64_t> in = type.getShape();
  bool trainable = c.getBoolean("trainable").value_or(true);
  bool useBias = c.getBoolean("use_bias").value_or(true);
  bool same = a.padding == "same";

  // Keras' deconv_output_length, then the pads of the convolution over the
  // result that the transposed convolution is the adjoint of: none for
  // 'valid', TF's SAME padding over the result's size for 'same'.
  SmallVector<int64_t> result{in.front()}, low(d, 0), high(d, 0);
  bool ok = true;
  for (int64_t i = 0; i < d; ++i) {
    std::optional<int64_t> outputPadding;
    if (a.hasOutputPadding)
      outputPadding = a.outputPadding[i];
    int64_t size =
        deconvOutputLength(in[i + 1], a.kernel[i], same, outputPadding,
                           a.strides[i], a.dilations[i]);
    if (size < 1) {
      issue(layer, "output size " + Twine(size) + " on spatial axis " +
                       Twine(i) + " (input " + Twine(in[i + 1]) + ", kernel " +
                       Twine(a.kernel[i]) + ")");
      ok = false;
      size = 1;
    }
    result.push_back(size);
    if (same)
      std::tie(low[i], high[i]) =
          samePadding(size, a.kernel[i], a.strides[i], a.dilations[i]);
  }
  result.push_back(a.filters);
  if (!ok)
    return Value();
  // Keras' kernel [K.., filters, in_channels] is kiln.conv_transpose's filter.
  SmallVector<int64_t> filterShape(a.kernel);
  filterShape.push_back(a.filters);
  filterShape.push_back(in.back());
  ConvWindow window{a.strides, a.dilations, low, high, 1};
  llvm::Expected<Shape> implied = inferConvShape(result, filterShape, window);
  if (!implied) {
    shapeIssues(layer, implied.takeError());
    return Value();
  }
  if (ArrayRef<int64_t>(*implied) != in) {
    issue(layer, "[conv_transpose_c1] the convolution of the output " +
                     tupleText(result) + " gives " + tupleText(*implied) +
                     ", not the input " + tupleText(in) +
                     " (output_padding does not fit the padding)");
    return Value();
  }
  Value kernel =
      addParam(layer, "kernel", filterShape, elementType, trainable,
               initializerOf(layer, "kernel_initializer", "glorot_uniform"),
               regularizerOf(layer, "kernel_regularizer"));
  Value y =
      builder
          .create<ConvTransposeOp>(
              fileLoc, TypeRange{RankedTensorType::get(result, elementType)},
              ValueRange{x, kernel},
              ArrayRef<NamedAttribute>{
                  builder.getNamedAttr("strides",
                                       builder.getDenseI64ArrayAttr(a.strides)),
                  builder.getNamedAttr(
                      "dilations", builder.getDenseI64ArrayAttr(a.dilations)),
                  builder.getNamedAttr("pad_low",
                                       builder.getDenseI64ArrayAttr(low)),
                  builder.getNamedAttr("pad_high",
                                       builder.getDenseI64ArrayAttr(high))})
          .getResult();
  if (useBias) {
    Value bias = addParam(layer, "bias", {a.filters}, elementType, trainable,
                          initializerOf(layer, "bias_initializer", "zeros"),
                          regularizerOf(layer, "bias_regularizer"));
    y = binary<AddOp>(y, kb().broadcastTo(bias, result));
  }
  if (layersWithIssues.count(layer.name))
    return y;
  return emitActivation(activationName(c.get("activation")), y);
}

FailureOr<Value> KerasImporter::emitPool(const Layer &layer, Value x) {
  auto [kind, rankOfClass] = spatialClass(layer.className);
  int64_t d = rankOfClass;
  SpatialArgs a = readSpatialArgs(*layer.config, kind, d,
                                  layersWithIssues.count(layer.name));
  auto type = cast<RankedTensorType>(x.getType());
  ArrayRef<int64_t> in = type.getShape();
  SmallVector<int64_t> low(d, 0), high(d, 0);
  if (a.padding == "same")
    for (int64_t i = 0; i < d; ++i)
      std::tie(low[i], high[i]) =
          samePadding(in[i + 1], a.kernel[i], a.strides[i], 1);
  PoolWindow window{a.kernel, a.strides, low, high, false};
  llvm::Expected<Shape> outShape = inferPoolShape(in, window);
  if (!outShape) {
    shapeIssues(layer, outShape.takeError());
    return Value();
  }
  if (llvm::is_contained(*outShape, 0)) {
    issue(layer, "output size 0: " + tupleText(*outShape));
    return Value();
  }
  SmallVector<NamedAttribute> attrs{
      builder.getNamedAttr("window", builder.getDenseI64ArrayAttr(a.kernel)),
      builder.getNamedAttr("strides", builder.getDenseI64ArrayAttr(a.strides)),
      builder.getNamedAttr("pad_low", builder.getDenseI64ArrayAttr(low)),
      builder.getNamedAttr("pad_high", builder.getDenseI64ArrayAttr(high))};
  auto resultType = RankedTensorType::get(*outShape, type.getElementType());
  if (kind == Spatial::MaxPool)
    return builder
        .create<MaxPoolOp>(fileLoc, TypeRange{resultType}, ValueRange{x}, attrs)
        .getResult();
  // Keras/TF 'same' average pooling divides by the window positions inside
  // the input (count_include_pad = false; 'valid' windows have none).
  attrs.push_back(
      builder.getNamedAttr("count_include_pad", builder.getBoolAttr(false)));
  return builder
      .create<AvgPoolOp>(fileLoc, TypeRange{resultType}, ValueRange{x}, attrs)
      .getResult();
}

void KerasImporter::checkBatchNorm(const Layer &layer) {
  const json::Object &c = *layer.config;
  if (const json::Value *axis = c.get("axis"); !isNullOrAbsent(axis)) {
    const json::Array *list = axis->getAsArray();
    if (!axis->getAsInteger() &&
        !(list && list->size() == 1 && (*list)[0].getAsInteger()))
      issue(layer, "unsupported argument 'axis' = " + describe(*axis) +
                       " (one integer axis is supported)");
  }
  if (const json::Value *m = c.get("momentum"); !isNullOrAbsent(m)) {
    auto v = m->getAsNumber();
    if (!v || *v < 0 || *v > 1)
      issue(layer, "[batch_norm_c3] 'momentum' must be a number in [0, 1], "
                   "got " +
                       describe(*m));
  }
  if (const json::Value *e = c.get("epsilon"); !isNullOrAbsent(e)) {
    auto v = e->getAsNumber();
    if (!v || !(*v > 0))
      issue(layer, "[batch_norm_c3] 'epsilon' must be a number > 0, got " +
                       describe(*e));
  }
  for (StringRef key : {"center", "scale"})
    if (const json::Value *v = c.get(key);
        !isNullOrAbsent(v) && !v->getAsBoolean())
      issue(layer, "'" + key + "' must be a boolean, got " + describe(*v));
  checkInitializers(layer,
                    {"beta_initializer", "gamma_initializer",
                     "moving_mean_initializer", "moving_variance_initializer"});
  checkRegularizers(layer, {"beta_regularizer", "gamma_regularizer"});
}

FailureOr<Value> KerasImporter::emitBatchNorm(const Layer &layer, Value x) {
  const json::Object &c = *layer.config;
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  int64_t axis = -1;
  if (const json::Value *value = c.get("axis"); !isNullOrAbsent(value)) {
    if (auto n = value->getAsInteger())
      axis = *n;
    else if (const json::Array *list = value->getAsArray())
      axis = (*list)[0].getAsInteger().value_or(-1);
  }
  if (axis < 0)
    axis += rank;
  if (axis <= 0 || axis >= rank) {
    issue(layer,
          "[batch_norm_c1] axis " + Twine(c.getInteger("axis").value_or(axis)) +
              " is out of range for the input " + tupleText(type.getShape()) +
              " (the batch axis cannot be the channel axis)");
    return Value();
  }
  Type elementType = type.getElementType();
  int64_t channels = type.getDimSize(axis);
  auto statType = RankedTensorType::get({channels}, elementType);
  bool trainable = c.getBoolean("trainable").value_or(true);
  double epsilon = getNumber(c.get("epsilon")).value_or(1e-3);
  double momentum = getNumber(c.get("momentum")).value_or(0.99);
  if (layersWithIssues.count(layer.name)) {
    epsilon = epsilon > 0 ? epsilon : 1e-3;
    momentum = std::clamp(momentum, 0.0, 1.0);
  }
  // Keras' weights, in its order: gamma, beta, moving_mean,
  // moving_variance; without scale / center, constants 1 / 0.
  Value gamma =
      c.getBoolean("scale").value_or(true)
          ? addParam(layer, "gamma", {channels}, elementType, trainable,
                     initializerOf(layer, "gamma_initializer", "ones"),
                     regularizerOf(layer, "gamma_regularizer"))
          : kb().splat(statType, 1.0);
  Value beta = c.getBoolean("center").value_or(true)
                   ? addParam(layer, "beta", {channels}, elementType, trainable,
                              initializerOf(layer, "beta_initializer", "zeros"),
                              regularizerOf(layer, "beta_regularizer"))
                   : kb().splat(statType, 0.0);
  auto stateParam = [&](StringRef suffix, StringRef initKey,
                        StringRef fallback) {
    ParamSpec spec;
    spec.name = layer.name + "/" + suffix.str();
    spec.state = true;
    spec.initializer = initializerOf(layer, initKey, fallback);
    return forward->addParam(statType, spec);
  };
  Value movingMean =
      stateParam("moving_mean", "moving_mean_initializer", "zeros");
  Value movingVariance =
      stateParam("moving_variance", "moving_variance_initializer", "ones");

  if (!trainable) {
    // Keras: a frozen BatchNormalization runs in inference mode, also in
    // training: (x - moving_mean) * (gamma / sqrt(moving_variance +
    // epsilon)) + beta, and the moving statistics stay as they are.
    auto broadcast = [&](Value v) {
      return builder
          .create<BroadcastInDimOp>(fileLoc, type, v, ArrayRef<int64_t>{axis})
          .getResult();
    };
    Value factor = binary<DivOp>(
        gamma, unary<SqrtOp>(binary<AddOp>(movingVariance,
                                           kb().splat(statType, epsilon))));
    return binary<AddOp>(binary<MulOp>(binary<SubOp>(x, broadcast(movingMean)),
                                       broadcast(factor)),
                         broadcast(beta));
  }
  // The batch's sample weights keep the zero-weight rows of a padded last
  // batch out of the statistics (kiln.batch_norm, docs/spec.md).
  SmallVector<Value> operands{x, gamma, beta, movingMean, movingVariance};
  if (axis != 0)
    operands.push_back(
        forward->sampleWeights(type.getDimSize(0), type.getElementType()));
  auto op = builder.create<BatchNormOp>(
      fileLoc, TypeRange{type, statType, statType}, operands,
      ArrayRef<NamedAttribute>{
          builder.getNamedAttr("axis", builder.getI64IntegerAttr(axis)),
          builder.getNamedAttr("epsilon", builder.getF64FloatAttr(epsilon)),
          builder.getNamedAttr("momentum", builder.getF64FloatAttr(momentum))});
  forward->addStateUpdate(movingMean, op.getNewMovingMean());
  forward->addStateUpdate(movingVariance, op.getNewMovingVariance());
  return op.getResult();
}

FailureOr<Value> KerasImporter::emitLayer(const Layer &layer,
                                          ArrayRef<Value> operands) {
  StringRef cls = layer.className;
  const json::Object &c = *layer.config;
  if (cls == "InputLayer")
    return emitInput(layer);
  bool merge = cls == "Add" || cls == "Subtract" || cls == "Multiply" ||
               cls == "Concatenate";
  if (merge)
    return emitMerge(layer, operands);
  if (cls == "MultiHeadAttention")
    return emitAttention(layer, operands);
  if ((cls == "LSTM" || cls == "GRU" || cls == "SimpleRNN") &&
      !operands.empty())
    return emitRecurrent(layer, c, cls, layer.name, false, false, operands[0],
                         operandMasks[0],
                         c.getBoolean("zero_output_for_mask").value_or(false),
                         operands.drop_front());
  if (operands.size() != 1) {
    layerError(layer) << "takes " << operands.size() << " inputs; it needs 1";
    return failure();
  }
  Value x = operands[0];
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  if (cls == "Dense")
    return emitDense(layer, x);
  if (spatialClass(cls).first != Spatial::None)
    return emitSpatialLayer(layer, x);
  if (cls == "BatchNormalization")
    return emitBatchNorm(layer, x);
  if (cls == "Activation")
    return emitActivation(activationName(c.get("activation")), x);
  if (cls == "ReLU") {
    double slope = getNumber(c.get("negative_slope")).value_or(0.0);
    Value y = slope == 0.0
                  ? unary<ReluOp>(x)
                  : unary<LeakyReluOp>(
                        x, {builder.getNamedAttr(
                               "alpha", builder.getF64FloatAttr(slope))});
    if (auto maxValue = getNumber(c.get("max_value")))
      y = binary<MinimumOp>(y, kb().splat(type, *maxValue));
    return y;
  }
  if (cls == "LeakyReLU") {
    // Keras 3: negative_slope; Keras 2: alpha; both default to 0.3.
    double slope = getNumber(c.get("negative_slope"))
                       .value_or(getNumber(c.get("alpha")).value_or(0.3));
    return unary<LeakyReluOp>(
        x, {builder.getNamedAttr("alpha", builder.getF64FloatAttr(slope))});
  }
  if (cls == "Softmax") {
    int64_t axis = c.getInteger("axis").value_or(-1);
    if (axis < 0)
      axis += rank;
    if (axis < 0 || axis >= rank) {
      layerError(layer) << "axis out of range for input " << type;
      return failure();
    }
    return unary<SoftmaxOp>(
        x, {builder.getNamedAttr("axis", builder.getI64IntegerAttr(axis))});
  }
  if (cls == "Dropout") {
    double rate = *getNumber(c.get("rate"));
    // The config's seed, else a fixed one per layer (its position).
    int64_t seed = c.getInteger("seed").value_or(
        static_cast<int64_t>(layerIndex.lookup(layer.name)) + 1);
    return builder
        .create<DropoutOp>(
            fileLoc, TypeRange{type}, ValueRange{x, forward->stepCounter()},
            ArrayRef<NamedAttribute>{
                builder.getNamedAttr("rate", builder.getF64FloatAttr(rate)),
                builder.getNamedAttr("seed", builder.getI64IntegerAttr(seed))})
        .getResult();
  }
  if (cls == "Flatten")
    return kb().reshape(
        x, {type.getDimSize(0), type.getNumElements() / type.getDimSize(0)});
  if (cls == "Reshape") {
    SmallVector<int64_t> shape{type.getDimSize(0)};
    int64_t known = 1, inferred = -1;
    for (const json::Value &dim : *c.getArray("target_shape")) {
      auto n = dim.getAsInteger();
      if (!n || (*n <= 0 && *n != -1) || (*n == -1 && inferred >= 0)) {
        layerError(layer) << "invalid target_shape entry " << describe(dim);
        return failure();
      }
      if (*n == -1)
        inferred = shape.size();
      else
        known *= *n;
      shape.push_back(*n);
    }
    int64_t total = type.getNumElements() / type.getDimSize(0);
    if (inferred >= 0 && total % known == 0)
      shape[inferred] = total / known;
    if (shape[0] * (inferred >= 0 ? total : known) != type.getNumElements() ||
        (inferred < 0 && known != total)) {
      layerError(layer) << "cannot reshape " << type << " to target_shape "
                        << describe(*c.get("target_shape"));
      return failure();
    }
    return kb().reshape(x, shape);
  }
  if (cls == "Normalization")
    return emitNormalization(layer, x);
  if (cls == "Embedding")
    return emitEmbedding(layer, x);
  if (cls == "Masking")
    return emitMasking(layer, x);
  if (cls == "Bidirectional")
    return emitBidirectional(layer, x);
  if (cls == "PositionEmbedding")
    return emitPositionEmbedding(layer, x);
  if (cls == "TimeDistributed") {
    // Dense acts on the last axis of any rank: the same weights at every
    // step, as Keras' TimeDistributed(Dense) (weights
    // `<layer>/<inner>/kernel`, `.../bias`).
    const json::Object *inner = c.getObject("layer")->getObject("config");
    return emitDense(Layer{layer.name + "/" +
                               inner->getString("name").value_or("dense").str(),
                           "Dense",
                           inner,
                           {},
                           false},
                     x);
  }
  if (cls == "RepeatVector") {
    // [N, F] -> [N, n, F].
    if (rank != 2) {
      layerError(layer) << "input " << type << " must be [batch, features]";
      return failure();
    }
    int64_t n = *c.getInteger("n");
    return builder
        .create<BroadcastInDimOp>(
            fileLoc,
            RankedTensorType::get({type.getDimSize(0), n, type.getDimSize(1)},
                                  type.getElementType()),
            x, ArrayRef<int64_t>{0, 2})
        .getResult();
  }
  if (cls == "Permute") {
    const json::Array *dims = c.getArray("dims");
    if (static_cast<int64_t>(dims->size()) != rank - 1) {
      layerError(layer) << "'dims' has " << dims->size()
                        << " entries for an input of rank " << rank
                        << " (one per axis after the batch)";
      return failure();
    }
    SmallVector<int64_t> permutation{0};
    for (const json::Value &d : *dims)
      permutation.push_back(*d.getAsInteger());
    return builder
        .create<TransposeOp>(fileLoc, x,
                             builder.getDenseI64ArrayAttr(permutation))
        .getResult();
  }
  if (cls == "LayerNormalization")
    return emitLayerNormalization(layer, x);
  if (cls == "Rescaling") {
    double scale = getNumber(c.get("scale")).value_or(1.0);
    double offset = getNumber(c.get("offset")).value_or(0.0);
    Value y = binary<MulOp>(x, kb().splat(type, scale));
    if (offset != 0.0)
      y = binary<AddOp>(y, kb().splat(type, offset));
    return y;
  }
  llvm_unreachable("layer class checked before emission");
}

/// Output `ref.tensor` (>= 1) of the emitted layer `ref.layer`, read by
/// `reader` (a layer name or "output_layers"), or an error naming both.
FailureOr<Value> KerasImporter::extraOutput(StringRef reader,
                                            const TensorRef &ref) {
  auto it = extraOutputsByLayer.find(ref.layer);
  size_t count = it == extraOutputsByLayer.end() ? 1 : 1 + it->second.size();
  if (static_cast<size_t>(ref.tensor) >= count)
    return emitError(fileLoc)
           << "'" << reader << "' reads output " << ref.tensor << " of layer '"
           << ref.layer << "', which has " << count << " output"
           << (count == 1 ? "" : "s")
           << (count == 1 ? " (a recurrent layer has more with return_state)"
                          : "");
  return it->second[ref.tensor - 1];
}

LogicalResult KerasImporter::emitFunction(ModuleOp module) {
  forward = std::make_unique<ForwardFunctionBuilder>(module, fileLoc);
  builder.setInsertionPointToEnd(&forward->getFunction().getBody().front());

  // Sequential models without an InputLayer get one named "input".
  std::optional<Layer> syntheticInput;
  if (sequentialBatchShape) {
    // Its shape and dtype: the first layer's batch_input_shape (Keras 2) or
    // build_input_shape, and the first layer's dtype.
    syntheticInput =
        Layer{"input", "InputLayer", layers.front().config, {}, false};
    FailureOr<Value> arg = emitInput(*syntheticInput);
    if (failed(arg))
      return failure();
    outputsByLayer["input"] = *arg;
  }

  // Dependency order: Keras lists layers topologically, but do not rely on
  // it; each round emits every layer whose inputs exist.
  SmallVector<bool> done(layers.size(), false);
  size_t remaining = layers.size();
  Value previous = syntheticInput ? outputsByLayer["input"] : Value();
  std::string previousName = "input";
  bool previousSkipped = false;
  while (remaining) {
    bool progress = false;
    for (auto [i, layer] : llvm::enumerate(layers)) {
      if (done[i])
        continue;
      SmallVector<Value> operands;
      operandMasks.clear();
      bool ready = true, skip = false;
      if (layer.sequentialInput && previousSkipped) {
        skip = true;
      } else if (layer.sequentialInput) {
        if (!previous) {
          layerError(layer) << "has no input (the Sequential model starts "
                               "with it but has no input shape)";
          return failure();
        }
        operands.push_back(previous);
        operandMasks.push_back(maskByLayer.lookup(previousName));
      }
      for (const TensorRef &ref : layer.inputs) {
        if (ref.node != 0 || ref.tensor < 0) {
          layerError(layer) << "reads output " << ref.tensor << " of node "
                            << ref.node << " of '" << ref.layer
                            << "'; only single-call layers are supported";
          return failure();
        }
        if (!layerIndex.count(ref.layer)) {
          layerError(layer) << "reads the unknown layer '" << ref.layer << "'";
          return failure();
        }
        if (skipped.count(ref.layer)) {
          skip = true;
          continue;
        }
        Value v = outputsByLayer.lookup(ref.layer);
        if (!v) {
          ready = false;
          break;
        }
        if (ref.tensor > 0) {
          FailureOr<Value> extra = extraOutput(layer.name, ref);
          if (failed(extra))
            return failure();
          v = *extra;
        }
        operands.push_back(v);
        // A recurrent layer's states carry no mask (Keras: [mask] + [None]
        // per state).
        operandMasks.push_back(ref.tensor == 0 ? maskByLayer.lookup(ref.layer)
                                               : Value());
      }
      if (!ready)
        continue;
      // A layer with issues that is not emitted anyway, or one that reads
      // such a layer, is skipped: its problems are in the report, and the
      // shapes after it are unknown.
      bool sanitizable = spatialClass(layer.className).first != Spatial::None ||
                         layer.className == "BatchNormalization";
      if (layersWithIssues.count(layer.name) && !sanitizable)
        skip = true;
      FailureOr<Value> result = Value();
      createdMask = Value();
      extraOutputs.clear();
      if (!skip)
        result = emitLayer(layer, operands);
      if (succeeded(result) && *result) {
        FailureOr<Value> mask = outputMask(layer, operands, *result);
        if (failed(mask))
          result = failure();
        else if (*mask)
          maskByLayer[layer.name] = *mask;
      }
      if (failed(result)) {
        (void)reportIssues();
        return failure();
      }
      if (!*result) {
        skipped.insert(layer.name);
        previousSkipped = true;
        done[i] = true;
        --remaining;
        progress = true;
        continue;
      }
      previousSkipped = false;
      outputsByLayer[layer.name] = *result;
      if (!extraOutputs.empty())
        extraOutputsByLayer[layer.name] = extraOutputs;
      // For the Keras-like summary of generated programs: layer name,
      // class and output shape, in emission order.
      layerRecords.push_back(builder.getDictionaryAttr(
          {builder.getNamedAttr("name", builder.getStringAttr(layer.name)),
           builder.getNamedAttr("class_name",
                                builder.getStringAttr(layer.className)),
           builder.getNamedAttr(
               "shape",
               builder.getI64ArrayAttr(
                   cast<RankedTensorType>(result->getType()).getShape()))}));
      previous = *result;
      previousName = layer.name;
      done[i] = true;
      --remaining;
      progress = true;
    }
    if (!progress) {
      for (auto [i, layer] : llvm::enumerate(layers))
        if (!done[i])
          return layerError(layer)
                 << "its inputs are never computed (a cycle, or a layer "
                    "without inbound nodes)";
    }
  }

  if (failed(reportIssues()))
    return failure();

  // Functional models: the model's inputs in input_layers order.
  if (!modelInputs.empty()) {
    SmallVector<Value> ordered;
    for (const TensorRef &ref : modelInputs) {
      Value v = outputsByLayer.lookup(ref.layer);
      if (!forward->getInputName(v))
        return emitError(fileLoc) << "input_layers names '" << ref.layer
                                  << "', which is not an InputLayer";
      ordered.push_back(v);
    }
    if (failed(forward->setInputOrder(ordered)))
      return emitError(fileLoc)
             << "the model has " << forward->getInputs().size()
             << " InputLayers but input_layers lists " << ordered.size();
  }

  for (const TensorRef &ref : modelOutputs) {
    Value output = outputsByLayer.lookup(ref.layer);
    if (ref.tensor != 0) {
      FailureOr<Value> extra = extraOutput("output_layers", ref);
      if (failed(extra))
        return failure();
      forward->addOutput(*extra, (ref.layer + "_" + Twine(ref.tensor)).str());
      continue;
    }
    // Keras weights the loss and the metrics of an output by its mask
    // (keras/src/losses/loss.py Loss.__call__, reduction_metrics.py
    // MeanMetricWrapper): the first output's [N, T] mask of a [N, T, C]
    // output becomes the result kiln-attach-loss reads (kiln.loss_mask).
    if (Value mask = maskByLayer.lookup(ref.layer)) {
      auto outType = cast<RankedTensorType>(output.getType());
      auto maskType = cast<RankedTensorType>(mask.getType());
      bool first = &ref == &modelOutputs.front();
      if (first && outType.getRank() == 3 && maskType.getRank() == 2 &&
          maskType.getShape() == outType.getShape().take_front(2))
        forward->setLossMask(mask);
      else
        emitWarning(fileLoc)
            << "the output of layer '" << ref.layer << "' " << outType
            << " carries a Keras mask " << maskType
            << ", which kiln does not apply to the loss or metrics (only a "
               "[batch, steps] mask of the first output of shape [batch, "
               "steps, features]): masked entries count like the others";
    }
    forward->addOutput(output, ref.layer);
  }
  forward->finish();
  return success();
}

//===----------------------------------------------------------------------===//
// compile_config
//===----------------------------------------------------------------------===//

Attribute KerasImporter::compileConfig(const json::Object &config) {
  NamedAttrList attrs;
  // loss: "name" or {"class_name": "SparseCategoricalCrossentropy",
  // "config": {...}}.
  if (const json::Value *loss = config.get("loss")) {
    if (auto name = loss->getAsString()) {
      attrs.set("loss", builder.getStringAttr(*name));
    } else if (const json::Object *object = loss->getAsObject()) {
      if (auto cls = object->getString("class_name"))
        attrs.set("loss", builder.getStringAttr(toSnakeCase(*cls)));
      if (const json::Object *c = object->getObject("config"))
        attrs.set("loss_config", toDictionary(*c, builder));
    } else if (Attribute attr = toAttribute(*loss, "loss", builder)) {
      attrs.set("loss", attr); // per-output losses: kept as written
    }
  }
  // optimizer: "adam" or {"class_name": "Adam", "config": {...}}.
  if (const json::Value *optimizer = config.get("optimizer")) {
    if (auto name = optimizer->getAsString()) {
      attrs.set("optimizer", builder.getStringAttr(name->lower()));
    } else if (const json::Object *object = optimizer->getAsObject()) {
      if (auto cls = object->getString("class_name"))
        attrs.set("optimizer", builder.getStringAttr(cls->lower()));
      else // kept as written: the Keras adapter says what is wrong
        attrs.set("optimizer", toDictionary(*object, builder));
      if (const json::Object *c = object->getObject("config"))
        attrs.set("optimizer_config", toDictionary(*c, builder));
    } else if (Attribute attr = toAttribute(*optimizer, "optimizer", builder)) {
      attrs.set("optimizer", attr); // not an optimizer: kept as written
    }
  }
  // metrics: names (objects by their name or class), flattened.
  SmallVector<Attribute> metrics;
  std::function<void(const json::Value &)> addMetric =
      [&](const json::Value &m) {
        if (auto name = m.getAsString()) {
          metrics.push_back(builder.getStringAttr(*name));
        } else if (const json::Array *list = m.getAsArray()) {
          for (const json::Value &e : *list)
            addMetric(e);
        } else if (const json::Object *object = m.getAsObject()) {
          std::optional<StringRef> name;
          if (const json::Object *c = object->getObject("config"))
            name = c->getString("name");
          if (name)
            metrics.push_back(builder.getStringAttr(*name));
          else if (auto cls = object->getString("class_name"))
            metrics.push_back(builder.getStringAttr(toSnakeCase(*cls)));
          else
            metrics.push_back(toDictionary(*object, builder));
        } else {
          // Not a metric (a number, true, null): kept as written, so that
          // the Keras adapter rejects it rather than dropping it.
          Attribute attr = toAttribute(m, "metrics", builder);
          metrics.push_back(attr ? attr : builder.getUnitAttr());
        }
      };
  for (StringRef key : {"metrics", "weighted_metrics"})
    if (const json::Value *m = config.get(key); !isNullOrAbsent(m)) {
      metrics.clear();
      addMetric(*m);
      attrs.set(key, builder.getArrayAttr(metrics));
    }
  if (const json::Value *w = config.get("loss_weights"); !isNullOrAbsent(w))
    attrs.set("loss_weights", toAttribute(*w, "loss_weights", builder));
  return attrs.getDictionary(context);
}

OwningOpRef<ModuleOp> KerasImporter::run() {
  context->loadDialect<KilnDialect, func::FuncDialect>();
  // A .keras archive: its config.json is the model.to_json() text.
  std::string text;
  if (path.ends_with(".keras")) {
    llvm::Expected<std::string> config = readZipMember(path, "config.json");
    if (!config) {
      emitError(fileLoc) << "cannot read the .keras archive: "
                         << llvm::toString(config.takeError());
      return nullptr;
    }
    text = std::move(*config);
    if (!options.noWeights && hasZipMember(path, "model.weights.h5")) {
      weightsName = (path + ":model.weights.h5").str();
      llvm::Expected<std::string> bytes =
          readZipMember(path, "model.weights.h5");
      // Keras 3.0 files written by keras-core name the container
      // `_layer_checkpoint_dependencies` (loadStoredWeights).
      llvm::Expected<std::unique_ptr<H5File>> file =
          bytes ? H5File::open(
                      *bytes, weightsName,
                      {"layers", "_layer_checkpoint_dependencies", "optimizer"})
                : bytes.takeError();
      if (!file) {
        emitError(fileLoc) << "cannot read the stored weights: "
                           << llvm::toString(file.takeError())
                           << " (kilnc --no-weights ignores them)";
        return nullptr;
      }
      weightsFile = std::move(*file);
    } else if (!options.noWeights) {
      // Keras 3's load_model refuses such an archive; kiln compiles it from
      // the initializers but says so (a .npz weights member is not read).
      emitWarning(fileLoc)
          << "the .keras archive has no model.weights.h5: the parameters "
             "start from their initializers, not from stored weights "
             "(kilnc --no-weights silences this)";
    }
  } else if (path.ends_with(".h5") || path.ends_with(".hdf5")) {
    FailureOr<std::string> config = readKeras2File();
    if (failed(config))
      return nullptr;
    text = std::move(*config);
  } else {
    auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(path);
    if (!buffer) {
      emitError(fileLoc) << "cannot read the file: "
                         << buffer.getError().message();
      return nullptr;
    }
    text = (*buffer)->getBuffer().str();
  }
  // llvm::json parses recursively: bound the nesting first, so that a
  // hostile file cannot overflow the stack. Model configs nest a few tens of
  // levels.
  {
    constexpr int kMaxDepth = 256;
    int depth = 0;
    bool inString = false, escaped = false;
    for (char c : text) {
      if (inString) {
        if (escaped)
          escaped = false;
        else if (c == '\\')
          escaped = true;
        else if (c == '"')
          inString = false;
      } else if (c == '"') {
        inString = true;
      } else if (c == '[' || c == '{') {
        if (++depth > kMaxDepth) {
          emitError(fileLoc)
              << "invalid JSON: nested deeper than " << kMaxDepth << " levels";
          return nullptr;
        }
      } else if (c == ']' || c == '}') {
        --depth;
      }
    }
  }
  llvm::Expected<json::Value> parsed = json::parse(text);
  if (!parsed) {
    // llvm::json reports "[line:column, byte=offset]: message".
    std::string text = llvm::toString(parsed.takeError());
    SmallVector<StringRef> m;
    llvm::Regex pattern("^\\[([0-9]+):([0-9]+), byte=[0-9]+\\]: (.*)$");
    if (pattern.match(text, &m)) {
      unsigned line = 0, column = 0;
      m[1].getAsInteger(10, line);
      m[2].getAsInteger(10, column);
      emitError(FileLineColLoc::get(context, path, line, column))
          << "invalid JSON: " << m[3];
    } else {
      emitError(fileLoc) << "invalid JSON: " << text;
    }
    return nullptr;
  }
  return run(*parsed);
}

OwningOpRef<ModuleOp> KerasImporter::run(const json::Value &config) {
  context->loadDialect<KilnDialect, func::FuncDialect>();
  const json::Object *root = config.getAsObject();
  if (!root) {
    emitError(fileLoc) << "the model config is not a JSON object";
    return nullptr;
  }
  if (failed(readModel(*root)))
    return nullptr;
  // Every problem goes into one report: the config checks here, the shape
  // rules while the layers are emitted (emitFunction reports them all).
  for (const Layer &layer : layers) {
    size_t before = issues.size();
    checkLayer(layer);
    if (issues.size() != before)
      layersWithIssues.insert(layer.name);
  }

  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
  if (!modelName.empty())
    setOpAttr<KilnDialect::ModelNameAttrHelper>(
        *module, builder.getStringAttr(modelName));
  if (usesMixedBf16)
    setOpAttr<KilnDialect::PrecisionAttrHelper>(*module,
                                                builder.getStringAttr("bf16"));
  if (const json::Object *compile = root->getObject("compile_config")) {
    (*module)->setAttr(KilnDialect::CompileConfigAttrHelper::getNameStr(),
                       compileConfig(*compile));
  } else if (const json::Value *compile = root->get("compile_config");
             !isNullOrAbsent(compile)) {
    // A model that was not compiled has none (or null); anything else is a
    // broken file, not an inference-only model.
    emitError(fileLoc) << "compile_config must be an object (the model's "
                          "compile() arguments), got "
                       << describe(*compile);
    return nullptr;
  }
  if (failed(emitFunction(*module)))
    return nullptr;
  if (auto forward = module->lookupSymbol<func::FuncOp>("forward")) {
    llvm::StringMap<std::string> paths = kerasVariablePaths(forward, "layers");
    if (!paths.empty()) {
      NamedAttrList entries;
      for (const auto &entry : paths)
        entries.append(entry.getKey(), builder.getStringAttr(entry.getValue()));
      setOpAttr<KilnDialect::KerasVariablesAttrHelper>(
          *module, entries.getDictionary(context));
    }
    if (weightsFile && failed(loadStoredWeights(forward)))
      return nullptr;
    if (weightsFile && !options.noOptimizerState &&
        failed(legacyWeights ? loadKeras2OptimizerState(*module, forward)
                             : loadOptimizerState(*module, forward)))
      return nullptr;
  }
  if (options.sequenceLength && !sequenceLengthUsed) {
    emitError(fileLoc) << "--sequence-length=" << *options.sequenceLength
                       << " was given, but no input has a variable-length "
                          "time axis (a null dimension right after the "
                          "batch); the model's shapes are fixed";
    return nullptr;
  }
  setOpAttr<KilnDialect::LayersAttrHelper>(*module,
                                           builder.getArrayAttr(layerRecords));
  return module;
}

//===----------------------------------------------------------------------===//
// Stored weights
//===----------------------------------------------------------------------===//

/// The attribute path under which Keras 3 saves the nested layer holding a
/// kiln parameter of a layer of class `cls` (kiln name `<layer>/<suffix>`):
/// saving_lib._save_state visits a layer's attributes by name (recurrent
/// layers keep their weights in `cell`, Bidirectional in `forward_layer` and
/// `backward_layer`, MultiHeadAttention in its EinsumDense projections,
/// TimeDistributed in `layer`); "" for the layer's own variables.
static std::string kerasSubLayer(StringRef cls, StringRef suffix) {
  if (cls == "LSTM" || cls == "GRU" || cls == "SimpleRNN")
    return "cell";
  if (cls == "Bidirectional")
    return suffix.starts_with("backward_") ? "backward_layer/cell"
                                           : "forward_layer/cell";
  if (cls == "MultiHeadAttention") {
    StringRef head = suffix.split('/').first;
    if (head == "attention_output")
      return "_output_dense";
    return ("_" + head + "_dense").str();
  }
  if (cls == "TimeDistributed")
    return "layer";
  return "";
}

static std::string shapeText(ArrayRef<int64_t> shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

llvm::StringMap<std::string>
KerasImporter::kerasVariablePaths(func::FuncOp forward, StringRef container) {
  // saving_lib._save_container_state: the layers of model.layers (the
  // config's order) under the snake_case name of their class, `_1`, `_2`,
  // ... for repeats; each one's variables (trainable, then non-trainable,
  // in creation order: kiln adds a layer's parameters in Keras' order)
  // under `vars/<i>`.
  llvm::StringMap<std::string> layerPath;
  llvm::StringMap<int> used;
  for (const Layer &layer : layers) {
    std::string name = toSnakeCase(layer.className);
    auto [it, inserted] = used.try_emplace(name, 0);
    if (!inserted)
      name += "_" + std::to_string(++it->second);
    layerPath[layer.name] = (container + "/" + name).str();
  }
  llvm::StringMap<int> nextIndex;
  llvm::StringMap<std::string> paths;
  for (unsigned i = 0, e = forward.getNumArguments(); i < e; ++i) {
    auto name = getArgAttr<KilnDialect::ParamAttrHelper>(forward, i);
    if (!name)
      continue;
    auto [layerName, suffix] = name.getValue().split('/');
    auto found = layerIndex.find(layerName);
    if (found == layerIndex.end())
      continue;
    std::string group = layerPath[layerName];
    std::string sub = kerasSubLayer(layers[found->second].className, suffix);
    if (!sub.empty())
      group += "/" + sub;
    group += "/vars";
    int index = nextIndex[group]++;
    paths[name.getValue()] = group + "/" + std::to_string(index);
  }
  return paths;
}

LogicalResult KerasImporter::applyStoredValues(
    func::FuncOp forward, ArrayRef<std::pair<unsigned, std::string>> sources) {
  auto fail = [&]() {
    return emitError(fileLoc) << "stored weights (" << weightsName << "): ";
  };
  SmallVector<std::pair<unsigned, DenseElementsAttr>> values;
  for (const auto &[arg, dataset] : sources) {
    auto type = cast<RankedTensorType>(forward.getArgumentTypes()[arg]);
    StringRef param =
        getArgAttr<KilnDialect::ParamAttrHelper>(forward, arg).getValue();
    if (!weightsFile->isDataset(dataset))
      return fail() << "no variable '" << dataset << "' for the parameter '"
                    << param << "' " << shapeText(type.getShape())
                    << " (kilnc --no-weights starts from the initializers)";
    auto shape = weightsFile->floatShape(dataset);
    if (!shape)
      return fail() << "the variable '" << dataset << "' for the parameter '"
                    << param << "': " << llvm::toString(shape.takeError());
    if (ArrayRef<int64_t>(*shape) != type.getShape())
      return fail() << "the variable '" << dataset << "' has shape "
                    << shapeText(*shape) << ", the parameter '" << param
                    << "' has shape " << shapeText(type.getShape());
    Type element = type.getElementType();
    if (!element.isF32() && !element.isF64())
      return fail() << "the parameter '" << param << "' is of type " << type
                    << "; stored values are read into f32 and f64 only";
    bool f64 = element.isF64();
    size_t count = static_cast<size_t>(type.getNumElements());
    std::vector<char> buffer(count * (f64 ? 8 : 4));
    if (llvm::Error e =
            weightsFile->readFloats(dataset, f64, buffer.data(), buffer.size()))
      return fail() << llvm::toString(std::move(e));
    for (size_t k = 0; k < count; ++k) {
      double v;
      if (f64) {
        std::memcpy(&v, buffer.data() + 8 * k, 8);
      } else {
        float f;
        std::memcpy(&f, buffer.data() + 4 * k, 4);
        v = f;
      }
      if (!std::isfinite(v))
        return fail() << "the variable '" << dataset << "' (parameter '"
                      << param << "') holds " << v << " at element " << k
                      << "; parameters must be finite";
    }
    DenseElementsAttr value =
        f64 ? DenseElementsAttr::get(
                  type,
                  ArrayRef<double>(
                      reinterpret_cast<const double *>(buffer.data()), count))
            : DenseElementsAttr::get(
                  type,
                  ArrayRef<float>(
                      reinterpret_cast<const float *>(buffer.data()), count));
    values.push_back({arg, value});
  }
  // All read: only now the module changes. A stored Normalization
  // statistic is the adapted value (Keras does not adapt a loaded model
  // again), so its kiln.adapt goes too: fit must not overwrite it.
  for (auto &[arg, value] : values) {
    forward.removeArgAttr(arg,
                          KilnDialect::InitializerAttrHelper::getNameStr());
    forward.removeArgAttr(arg, KilnDialect::AdaptAttrHelper::getNameStr());
    forward.setArgAttr(arg, KilnDialect::InitAttrHelper::getNameStr(), value);
  }
  return success();
}

/// The strings of the attribute `name` of `group`, or of `name0`, `name1`,
/// ... when Keras split it (save_attributes_to_hdf5_group: attributes above
/// 64 KB are split into numbered chunks).
static llvm::Expected<std::vector<std::string>>
splitAttribute(const H5File &file, StringRef group, StringRef name) {
  auto whole = file.stringAttribute(group, name);
  if (!whole)
    return whole.takeError();
  if (*whole)
    return std::move(**whole);
  std::vector<std::string> all;
  for (int chunk = 0;; ++chunk) {
    auto part = file.stringAttribute(group, (name + Twine(chunk)).str());
    if (!part)
      return part.takeError();
    if (!*part)
      break;
    if (all.size() + (*part)->size() > kMaxAttributeStrings)
      return llvm::createStringError("the attribute '" + name + "' of '" +
                                     group + "' has too many strings");
    all.insert(all.end(), (*part)->begin(), (*part)->end());
  }
  return all;
}

LogicalResult KerasImporter::loadKeras2Weights(
    func::FuncOp forward,
    SmallVectorImpl<std::pair<unsigned, std::string>> &sources) {
  // Keras' legacy load_weights_from_hdf5_group: the layers with weights in
  // the order of `layer_names`, each one's weights listed by
  // `weight_names` and matched to layer.weights (trainable, then
  // non-trainable) by position.
  auto fail = [&]() {
    return emitError(fileLoc) << "stored weights (" << weightsName << "): ";
  };
  const char *root = "model_weights";
  auto layerNames = splitAttribute(*weightsFile, root, "layer_names");
  if (!layerNames)
    return fail() << llvm::toString(layerNames.takeError());
  llvm::MapVector<StringRef, SmallVector<unsigned>> byLayer;
  for (unsigned i = 0, e = forward.getNumArguments(); i < e; ++i)
    if (auto name = getArgAttr<KilnDialect::ParamAttrHelper>(forward, i))
      byLayer[name.getValue().split('/').first].push_back(i);
  auto paramList = [&](ArrayRef<unsigned> args) {
    std::string text;
    for (unsigned a : args)
      text += (text.empty() ? "" : ", ") +
              getArgAttr<KilnDialect::ParamAttrHelper>(forward, a).str();
    return text;
  };
  llvm::StringSet<> seen;
  for (const std::string &layerName : *layerNames) {
    std::string group = std::string(root) + "/" + layerName;
    auto weightNames = splitAttribute(*weightsFile, group, "weight_names");
    if (!weightNames)
      return fail() << llvm::toString(weightNames.takeError());
    if (weightNames->empty())
      continue;
    auto it = byLayer.find(layerName);
    size_t have = it == byLayer.end() ? 0 : it->second.size();
    auto found = layerIndex.find(layerName);
    bool normalization = found != layerIndex.end() &&
                         layers[found->second].className == "Normalization";
    std::string stored;
    for (const std::string &w : *weightNames)
      stored += (stored.empty() ? "" : ", ") + w;
    // Keras' Normalization also stores its sample count, which kiln does
    // not keep.
    if (weightNames->size() != have &&
        !(normalization && weightNames->size() == have + 1 && have > 0))
      return fail() << "the layer '" << layerName << "' has "
                    << weightNames->size() << " stored weights (" << stored
                    << "), the model's layer has " << have
                    << (have ? " (" + paramList(it->second) + ")" : "");
    for (size_t k = 0; k < have; ++k) {
      sources.push_back({it->second[k], group + "/" + (*weightNames)[k]});
      // The variable's name without ":0", as the optimizer's slot names
      // spell it (`Adam/d1/kernel/m:0`).
      StringRef variable = (*weightNames)[k];
      variable.consume_back(":0");
      keras2Variables[variable] = it->second[k];
    }
    seen.insert(layerName);
  }
  for (const auto &[layerName, args] : byLayer)
    if (!seen.contains(layerName))
      return fail() << "no stored weights for the layer '" << layerName
                    << "' (parameters " << paramList(args)
                    << ") in model_weights";
  return success();
}

LogicalResult KerasImporter::loadStoredWeights(func::FuncOp forward) {
  SmallVector<std::pair<unsigned, std::string>> sources;
  if (legacyWeights) {
    if (failed(loadKeras2Weights(forward, sources)))
      return failure();
    return applyStoredValues(forward, sources);
  }
  // Keras 3.0 files written by keras-core name the container
  // `_layer_checkpoint_dependencies` (saving_lib.H5IOStore.get).
  StringRef container = "layers";
  if (!weightsFile->exists(container) &&
      weightsFile->exists("_layer_checkpoint_dependencies"))
    container = "_layer_checkpoint_dependencies";
  llvm::StringMap<std::string> paths = kerasVariablePaths(forward, container);
  llvm::StringSet<> consumed;
  for (unsigned i = 0, e = forward.getNumArguments(); i < e; ++i)
    if (auto name = getArgAttr<KilnDialect::ParamAttrHelper>(forward, i)) {
      auto it = paths.find(name.getValue());
      if (it == paths.end()) {
        emitError(fileLoc) << "stored weights (" << weightsName
                           << "): the parameter '" << name.getValue()
                           << "' belongs to no layer of the config";
        return failure();
      }
      sources.push_back({i, it->second});
      consumed.insert(it->second);
    }
  // A float variable the model has no parameter for is a layout kiln does
  // not know (another model, a layer kiln maps differently): an error, not
  // a silently ignored weight. Integer variables (Normalization's count,
  // seed-generator states) are not parameters in kiln.
  auto all = weightsFile->datasets(container);
  if (!all) {
    emitError(fileLoc) << "stored weights (" << weightsName
                       << "): " << llvm::toString(all.takeError());
    return failure();
  }
  for (const std::string &dataset : *all) {
    if (consumed.contains(dataset))
      continue;
    auto shape = weightsFile->floatShape(dataset);
    if (!shape) {
      llvm::consumeError(shape.takeError());
      continue;
    }
    emitError(fileLoc) << "stored weights (" << weightsName
                       << "): the variable '" << dataset << "' "
                       << shapeText(*shape)
                       << " matches no parameter of the model (kilnc "
                          "--no-weights starts from the initializers)";
    return failure();
  }
  return applyStoredValues(forward, sources);
}

/// The float dataset `dataset` of `file`, of shape `shape`, as a dense
/// constant in f32 or f64 (`element`). Errors: more than `maxElements`
/// elements (the largest parameter of the model: every slot has a
/// parameter's shape), checked before anything is allocated, as "'<what>'
/// has shape [...], more elements than the model's largest parameter
/// (<max>)"; the reader's; a NaN or infinite element, as "'<what>' holds
/// <v> at element <k>; optimizer state must be finite".
static llvm::Expected<DenseElementsAttr>
readOptimizerValues(const H5File &file, StringRef dataset,
                    ArrayRef<int64_t> shape, Type element, int64_t maxElements,
                    const Twine &what) {
  // A stored shape is not yet checked against any parameter: a chunked
  // dataset of a few bytes on disk can claim terabytes.
  maxElements = std::max<int64_t>(maxElements, 1);
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d != 0 && count > maxElements / d) {
      count = maxElements + 1;
      break;
    }
    count *= d;
  }
  if (count > maxElements)
    return llvm::createStringError(
        (what + " has shape " + shapeText(shape) +
         ", more elements than the model's largest parameter (" +
         Twine(maxElements) + ")")
            .str());
  bool f64 = element.isF64();
  auto type = RankedTensorType::get(shape, element);
  size_t elements = static_cast<size_t>(type.getNumElements());
  std::vector<char> buffer(elements * (f64 ? 8 : 4));
  if (llvm::Error e =
          file.readFloats(dataset, f64, buffer.data(), buffer.size()))
    return std::move(e);
  for (size_t k = 0; k < elements; ++k) {
    double v;
    if (f64) {
      std::memcpy(&v, buffer.data() + 8 * k, 8);
    } else {
      float f;
      std::memcpy(&f, buffer.data() + 4 * k, 4);
      v = f;
    }
    if (!std::isfinite(v)) {
      std::string text;
      llvm::raw_string_ostream os(text);
      os << what << " holds " << v << " at element " << k
         << "; optimizer state must be finite";
      return llvm::createStringError(os.str());
    }
  }
  if (f64)
    return DenseElementsAttr::get(
        type, ArrayRef<double>(reinterpret_cast<const double *>(buffer.data()),
                               elements));
  return DenseElementsAttr::get(
      type, ArrayRef<float>(reinterpret_cast<const float *>(buffer.data()),
                            elements));
}

/// The element count of the largest parameter (`kiln.param` argument) of
/// `forward`: no optimizer slot is larger.
static int64_t largestParameter(func::FuncOp forward) {
  int64_t largest = 0;
  for (unsigned i = 0, e = forward.getNumArguments(); i < e; ++i)
    if (getArgAttr<KilnDialect::ParamAttrHelper>(forward, i))
      largest = std::max(largest,
                         cast<RankedTensorType>(forward.getArgumentTypes()[i])
                             .getNumElements());
  return largest;
}

LogicalResult KerasImporter::loadOptimizerState(ModuleOp module,
                                                func::FuncOp forward) {
  // saving_lib saves the optimizer's variables (base_optimizer.py,
  // save_own_variables) as `optimizer/vars/<i>` in tracking order: the
  // integer `iteration`, the float `learning_rate` (absent with a
  // schedule), then the slots build() adds. Which slot belongs to which
  // parameter depends on the optimizer kilnc resolves later, so the values
  // are recorded in file order with the trainable parameters in Keras'
  // order (model.trainable_variables: the config's layers in order, each
  // one's variables in creation order) and mapped by kiln-attach-optimizer.
  if (!weightsFile->exists("optimizer/vars"))
    return success();
  auto fail = [&]() {
    return emitError(fileLoc)
           << "stored optimizer state (" << weightsName << "): ";
  };
  auto all = weightsFile->datasets("optimizer");
  if (!all)
    return fail() << llvm::toString(all.takeError());
  size_t count = 0;
  for (const std::string &dataset : *all) {
    StringRef rest = dataset;
    unsigned index;
    if (!rest.consume_front("optimizer/vars/") || rest.getAsInteger(10, index))
      return fail() << "'" << dataset
                    << "' is not a variable of the Keras 3 layout "
                       "(optimizer/vars/<i>) (kilnc --no-optimizer-state "
                       "ignores the optimizer state)";
    ++count;
  }
  for (size_t i = 0; i < count; ++i)
    if (!weightsFile->isDataset("optimizer/vars/" + std::to_string(i)))
      return fail() << "the variables are not numbered 0 to " << count - 1
                    << ": 'optimizer/vars/" << i << "' is missing";
  if (count == 0)
    return success();
  auto iterations = weightsFile->integerScalar("optimizer/vars/0");
  if (!iterations)
    return fail() << "'optimizer/vars/0' must be the optimizer's integer "
                     "iteration counter: "
                  << llvm::toString(iterations.takeError());
  if (*iterations < 0 || *iterations > (int64_t(1) << 53))
    return fail() << "'optimizer/vars/0' (the iteration counter) holds "
                  << *iterations << ", outside [0, 2^53]";
  // f64 values when the model has f64 parameters, else f32 (Keras'
  // optimizer variables take their parameter's dtype).
  bool f64 = false;
  SmallVector<Attribute> params;
  SmallVector<std::pair<size_t, unsigned>> order; // (layer index, argument)
  for (unsigned i = 0, e = forward.getNumArguments(); i < e; ++i) {
    auto name = getArgAttr<KilnDialect::ParamAttrHelper>(forward, i);
    if (!name || !hasArgAttr<KilnDialect::TrainableAttrHelper>(forward, i))
      continue;
    if (cast<RankedTensorType>(forward.getArgumentTypes()[i])
            .getElementType()
            .isF64())
      f64 = true;
    auto found = layerIndex.find(name.getValue().split('/').first);
    order.push_back(
        {found == layerIndex.end() ? layers.size() : found->second, i});
  }
  llvm::stable_sort(order, [](auto a, auto b) { return a.first < b.first; });
  for (auto [layer, arg] : order)
    params.push_back(getArgAttr<KilnDialect::ParamAttrHelper>(forward, arg));
  SmallVector<Attribute> values;
  for (size_t i = 1; i < count; ++i) {
    std::string dataset = "optimizer/vars/" + std::to_string(i);
    auto shape = weightsFile->floatShape(dataset);
    if (!shape)
      return fail() << "the variable '" << dataset
                    << "': " << llvm::toString(shape.takeError());
    auto value = readOptimizerValues(
        *weightsFile, dataset, *shape,
        f64 ? builder.getF64Type() : builder.getF32Type(),
        largestParameter(forward), "the variable '" + dataset + "'");
    if (!value)
      return fail() << llvm::toString(value.takeError());
    values.push_back(*value);
  }
  NamedAttrList entries;
  entries.append("source", builder.getStringAttr(weightsName));
  entries.append("iterations", builder.getI64IntegerAttr(*iterations));
  entries.append("params", builder.getArrayAttr(params));
  entries.append("variables", builder.getArrayAttr(values));
  setOpAttr<KilnDialect::KerasOptimizerStateAttrHelper>(
      module, entries.getDictionary(context));
  return success();
}

LogicalResult KerasImporter::loadKeras2OptimizerState(ModuleOp module,
                                                      func::FuncOp forward) {
  // hdf5_format.save_optimizer_weights_to_hdf5_group: the group
  // `optimizer_weights`, its attribute `weight_names` (split above 64 KB
  // like layer_names) and one dataset per name, the optimizer's variables
  // in creation order. Legacy optimizers (optimizer_v2, TF < 2.11 and
  // tf.keras.optimizers.legacy) name them `<opt>/iter:0` and
  // `<opt>/<variable>/<slot>:0` (add_slot); the TF 2.11+ optimizers
  // `[<opt>/]iteration:0`, `[<opt>/]learning_rate:0` and
  // `[<opt>/]<slot>/<variable>:0` (add_variable_from_reference). kiln maps
  // them by name (Keras' own loader goes by position into an optimizer
  // built the same way): each slot becomes (parameter, Keras slot name),
  // resolved to kiln's slots by kiln-attach-optimizer.
  if (!weightsFile->exists("optimizer_weights"))
    return success();
  auto fail = [&]() {
    return emitError(fileLoc)
           << "stored optimizer state (" << weightsName << "): ";
  };
  auto names =
      splitAttribute(*weightsFile, "optimizer_weights", "weight_names");
  if (!names)
    return fail() << llvm::toString(names.takeError());
  std::optional<int64_t> iterations;
  std::optional<bool> legacy;
  bool f64 = false;
  for (unsigned i = 0, e = forward.getNumArguments(); i < e; ++i)
    if (getArgAttr<KilnDialect::ParamAttrHelper>(forward, i) &&
        cast<RankedTensorType>(forward.getArgumentTypes()[i])
            .getElementType()
            .isF64())
      f64 = true;
  NamedAttrList slots, slotNames;
  llvm::StringSet<> seen;
  for (const std::string &name : *names) {
    std::string dataset = "optimizer_weights/" + name;
    StringRef n = name;
    n.consume_back(":0");
    StringRef last = n.rsplit('/').second.empty() ? n : n.rsplit('/').second;
    if (!weightsFile->isDataset(dataset))
      return fail() << "no dataset '" << dataset
                    << "' for the optimizer weight '" << name << "'";
    if (last == "iter" || last == "iteration") {
      auto value = weightsFile->integerScalar(dataset);
      if (!value)
        return fail() << "'" << dataset
                      << "' must be the optimizer's integer iteration "
                         "counter: "
                      << llvm::toString(value.takeError());
      if (*value < 0 || *value > (int64_t(1) << 53))
        return fail() << "'" << dataset << "' (the iteration counter) holds "
                      << *value << ", outside [0, 2^53]";
      iterations = *value;
      continue;
    }
    // (parameter argument, Keras slot name, legacy form) of a slot name:
    // after any prefix, `<variable>/<slot>` (legacy) or `<slot>/<variable>`.
    std::optional<std::tuple<unsigned, std::string, bool>> match;
    SmallVector<StringRef> rests = {n};
    for (size_t at = n.find('/'); at != StringRef::npos;
         at = n.find('/', at + 1))
      rests.push_back(n.substr(at + 1));
    for (StringRef rest : rests) {
      auto [body, slot] = rest.rsplit('/');
      if (!slot.empty())
        if (auto it = keras2Variables.find(body); it != keras2Variables.end()) {
          match = {it->second, slot.str(), true};
          break;
        }
      auto [head, tail] = rest.split('/');
      if (!tail.empty())
        if (auto it = keras2Variables.find(tail); it != keras2Variables.end()) {
          match = {it->second, head.str(), false};
          break;
        }
    }
    auto shape = weightsFile->floatShape(dataset);
    if (!match) {
      // The TF 2.11+ optimizers' learning_rate variable; no other weight is
      // expected.
      if ((last == "learning_rate" || last == "current_learning_rate") &&
          shape && shape->empty())
        continue;
      return fail() << "the optimizer weight '" << name
                    << "' is neither the iteration counter nor a slot of a "
                       "stored variable (kilnc --no-optimizer-state ignores "
                       "the optimizer state)";
    }
    auto [arg, slot, isLegacy] = *match;
    if (legacy && *legacy != isLegacy)
      return fail() << "the optimizer weight '" << name << "' names its slot "
                    << (isLegacy ? "after" : "before")
                    << " the variable, the ones before it the other way";
    legacy = isLegacy;
    if (!shape)
      return fail() << "the optimizer weight '" << name
                    << "': " << llvm::toString(shape.takeError());
    StringRef param =
        getArgAttr<KilnDialect::ParamAttrHelper>(forward, arg).getValue();
    std::string key = (param + ":" + slot).str();
    if (!seen.insert(key).second)
      return fail() << "the optimizer weight '" << name << "' is a second '"
                    << slot << "' slot of '" << param << "'";
    auto value = readOptimizerValues(
        *weightsFile, dataset, *shape,
        f64 ? builder.getF64Type() : builder.getF32Type(),
        largestParameter(forward), "the optimizer weight '" + name + "'");
    if (!value)
      return fail() << llvm::toString(value.takeError());
    slots.append(key, *value);
    slotNames.append(key, builder.getStringAttr(name));
  }
  if (!iterations) {
    if (slots.empty())
      return success();
    return fail() << "no iteration counter (`<optimizer>/iter:0` or "
                     "`iteration:0`) among the optimizer weights";
  }
  NamedAttrList entries;
  entries.append("source", builder.getStringAttr(weightsName));
  entries.append("iterations", builder.getI64IntegerAttr(*iterations));
  entries.append("slots", slots.getDictionary(context));
  entries.append("slot_names", slotNames.getDictionary(context));
  entries.append("legacy", builder.getBoolAttr(legacy.value_or(false)));
  setOpAttr<KilnDialect::KerasOptimizerStateAttrHelper>(
      module, entries.getDictionary(context));
  return success();
}

FailureOr<std::string> KerasImporter::readKeras2File() {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer) {
    emitError(fileLoc) << "cannot read the file: "
                       << buffer.getError().message();
    return failure();
  }
  // The weights are read (in the HDF5 child) only when they are used.
  std::vector<std::string> dataRoots;
  if (!options.noWeights)
    dataRoots.push_back("model_weights");
  if (!options.noWeights && !options.noOptimizerState)
    dataRoots.push_back("optimizer_weights");
  auto file = H5File::open((*buffer)->getBuffer(), path, dataRoots);
  if (!file) {
    emitError(fileLoc) << llvm::toString(file.takeError());
    return failure();
  }
  auto config = (*file)->stringAttribute("", "model_config");
  if (!config) {
    emitError(fileLoc) << llvm::toString(config.takeError());
    return failure();
  }
  if (!*config || (*config)->size() != 1) {
    emitError(fileLoc) << "no 'model_config' attribute holding one string: "
                          "not a Keras model saved with model.save() (a "
                          "weights-only .h5 file has no model config)";
    return failure();
  }
  std::string text = std::move((**config)[0]);
  // Keras 2 keeps compile()'s arguments in `training_config`: the same
  // fields as a Keras 3 compile_config, with the optimizer under
  // `optimizer_config`.
  auto training = (*file)->stringAttribute("", "training_config");
  if (!training)
    llvm::consumeError(training.takeError());
  else if (*training && (*training)->size() == 1) {
    llvm::Expected<json::Value> model = json::parse(text);
    llvm::Expected<json::Value> compile = json::parse((**training)[0]);
    if (!compile) {
      emitError(fileLoc) << "the 'training_config' attribute is not JSON: "
                         << llvm::toString(compile.takeError());
      if (!model)
        llvm::consumeError(model.takeError());
      return failure();
    }
    if (model && model->getAsObject() && compile->getAsObject() &&
        !model->getAsObject()->get("compile_config")) {
      json::Object converted;
      for (StringRef key :
           {"loss", "metrics", "weighted_metrics", "loss_weights"})
        if (const json::Value *v = compile->getAsObject()->get(key))
          converted[key] = *v;
      if (const json::Value *v =
              compile->getAsObject()->get("optimizer_config"))
        converted["optimizer"] = *v;
      (*model->getAsObject())["compile_config"] = std::move(converted);
      text = llvm::formatv("{0}", *model).str();
    } else if (!model) {
      llvm::consumeError(model.takeError()); // reported by run()
    }
  }
  if (!options.noWeights && (*file)->exists("model_weights")) {
    weightsFile = std::move(*file);
    weightsName = path.str();
    legacyWeights = true;
  }
  return text;
}

} // namespace

OwningOpRef<ModuleOp> kiln::importKerasModel(llvm::StringRef path,
                                             MLIRContext *context,
                                             const ImportOptions &options) {
  return KerasImporter(path, context, options).run();
}

OwningOpRef<ModuleOp> kiln::importKerasConfig(const llvm::json::Value &config,
                                              llvm::StringRef sourceName,
                                              MLIRContext *context,
                                              const ImportOptions &options) {
  return KerasImporter(sourceName, context, options).run(config);
}
