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
// `kiln.compile_config`. A `.keras` archive gives its config.json (libzip);
// the weights it stores (model.weights.h5) are not read yet.
//
//===----------------------------------------------------------------------===//

#include "frontend/Import.h"
#include "frontend/keras/KerasArchive.h"
#include "frontend/keras/KerasJson.h"
#include "ir/KilnBuilder.h"
#include "ir/KilnDialect.h"
#include "ir/KilnOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Regex.h"

#include <cmath>
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
  return std::nullopt;
}

/// Numbers equal as JSON values (1 == 1.0).
bool jsonEquals(const json::Value &a, const json::Value &b) {
  if (auto x = a.getAsNumber())
    if (auto y = b.getAsNumber())
      return *x == *y;
  return a == b;
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
  FailureOr<Value> emitLayer(const Layer &layer, ArrayRef<Value> inputs);
  FailureOr<Value> emitInput(const Layer &layer);
  FailureOr<Value> emitDense(const Layer &layer, Value x);
  FailureOr<Value> emitNormalization(const Layer &layer, Value x);
  FailureOr<Value> emitMerge(const Layer &layer, ArrayRef<Value> inputs);
  Value emitActivation(StringRef name, Value x);
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

  StringRef path;
  MLIRContext *context;
  const ImportOptions &options;
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

  // The function being built (params, inputs, the counter, outputs).
  std::unique_ptr<ForwardFunctionBuilder> forward;
  llvm::StringMap<Value> outputsByLayer;
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
          for (const auto &[key, value] : *kwargs)
            if (key != "training" && key != "mask" && !value.getAsNull())
              issue(layer, "unsupported call argument '" + key.str() + "'");
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
    if (!dtype->getAsNull() &&
        (!name || (*name != "float32" && *name != "float64")))
      issue(layer, "unsupported argument 'dtype' = " + describe(*dtype) +
                       " (float32 and float64 are supported)");
  }
  const json::Object &c = *layer.config;
  if (layer.className == "Dense") {
    checkActivation(layer, c.get("activation"));
    if (!c.getInteger("units") || *c.getInteger("units") <= 0)
      issue(layer, "'units' must be a positive integer");
    for (StringRef key : {"kernel_initializer", "bias_initializer"})
      if (const json::Value *value = c.get(key); !isNullOrAbsent(value))
        if (auto init = parseInitializer(*value, builder); !init)
          issue(layer,
                "argument '" + key + "': " + llvm::toString(init.takeError()));
    for (StringRef key : {"kernel_regularizer", "bias_regularizer"})
      if (const json::Value *value = c.get(key); !isNullOrAbsent(value))
        if (auto reg = parseRegularizer(*value); !reg)
          issue(layer,
                "argument '" + key + "': " + llvm::toString(reg.takeError()));
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
  InFlightDiagnostic diag = emitError(fileLoc);
  diag << "cannot import the Keras model: " << issues.size()
       << " unsupported layer(s) or argument(s):";
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
      if (auto n = dim.getAsInteger())
        fixedBatch = *n;
      shape.push_back(0);
      continue;
    }
    auto n = dim.getAsInteger();
    if (!n || *n <= 0) {
      layerError(layer) << "dimension " << i << " of the input shape is "
                        << describe(dim)
                        << "; kiln needs static sizes beyond the batch";
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

  Type elementType = builder.getF32Type();
  if (auto dtype = c.getString("dtype"); dtype && *dtype == "float64")
    elementType = builder.getF64Type();
  if (const json::Object *policy = c.getObject("dtype"))
    if (const json::Object *config = policy->getObject("config"))
      if (config->getString("name") == "float64")
        elementType = builder.getF64Type();
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
  if (operands.size() != 1) {
    layerError(layer) << "takes " << operands.size() << " inputs; it needs 1";
    return failure();
  }
  Value x = operands[0];
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  if (cls == "Dense")
    return emitDense(layer, x);
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
  while (remaining) {
    bool progress = false;
    for (auto [i, layer] : llvm::enumerate(layers)) {
      if (done[i])
        continue;
      SmallVector<Value> operands;
      bool ready = true;
      if (layer.sequentialInput) {
        if (!previous) {
          layerError(layer) << "has no input (the Sequential model starts "
                               "with it but has no input shape)";
          return failure();
        }
        operands.push_back(previous);
      }
      for (const TensorRef &ref : layer.inputs) {
        if (ref.node != 0 || ref.tensor != 0) {
          layerError(layer) << "reads output " << ref.tensor << " of node "
                            << ref.node << " of '" << ref.layer
                            << "'; only single-output, single-call layers "
                               "are supported";
          return failure();
        }
        if (!layerIndex.count(ref.layer)) {
          layerError(layer) << "reads the unknown layer '" << ref.layer << "'";
          return failure();
        }
        Value v = outputsByLayer.lookup(ref.layer);
        if (!v) {
          ready = false;
          break;
        }
        operands.push_back(v);
      }
      if (!ready)
        continue;
      FailureOr<Value> result = emitLayer(layer, operands);
      if (failed(result))
        return failure();
      outputsByLayer[layer.name] = *result;
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

  for (const TensorRef &ref : modelOutputs)
    forward->addOutput(outputsByLayer.lookup(ref.layer), ref.layer);
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
    // Trained weights are not imported yet (HDF5): say so rather than
    // silently starting from the initializers.
    if (hasZipMember(path, "model.weights.h5"))
      emitWarning(fileLoc)
          << "the archive's model.weights.h5 is not imported (stored "
             "weights are not supported yet): parameters start from their "
             "initializers";
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
  for (const Layer &layer : layers)
    checkLayer(layer);
  if (failed(reportIssues()))
    return nullptr;

  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
  if (!modelName.empty())
    setOpAttr<KilnDialect::ModelNameAttrHelper>(
        *module, builder.getStringAttr(modelName));
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
  setOpAttr<KilnDialect::LayersAttrHelper>(*module,
                                           builder.getArrayAttr(layerRecords));
  return module;
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
