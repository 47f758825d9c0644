//===- Manifest.cpp - the model manifest of generated programs ------------===//
//
// See Manifest.h and docs/spec.md ("Model manifest").
//
//===----------------------------------------------------------------------===//

#include "codegen/Manifest.h"

#include "ir/KilnOps.h"
#include "kiln/init.h"
#include "kiln/model.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/GlobalAlias.h"
#include "llvm/IR/GlobalVariable.h"

using namespace mlir;
using namespace mlir::kiln;
namespace json = llvm::json;

namespace {
llvm::Error error(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message.str());
}

/// An MLIR attribute as JSON (the scalars and arrays initializer and adapt
/// dictionaries hold).
json::Value toJson(Attribute attr) {
  if (auto s = dyn_cast<StringAttr>(attr))
    return s.str();
  if (auto b = dyn_cast<BoolAttr>(attr))
    return b.getValue();
  if (auto i = dyn_cast<IntegerAttr>(attr))
    return i.getInt();
  if (auto f = dyn_cast<FloatAttr>(attr))
    return f.getValueAsDouble();
  if (auto a = dyn_cast<ArrayAttr>(attr)) {
    json::Array out;
    for (Attribute e : a)
      out.push_back(toJson(e));
    return out;
  }
  if (auto a = dyn_cast<DenseI64ArrayAttr>(attr))
    return json::Array(a.asArrayRef());
  if (auto d = dyn_cast<DictionaryAttr>(attr)) {
    json::Object out;
    for (NamedAttribute n : d)
      out[n.getName().getValue()] = toJson(n.getValue());
    return out;
  }
  return nullptr;
}

/// Appends the little-endian bytes of `values` (splats expanded) to `out`.
void appendElements(DenseElementsAttr values, std::vector<char> &out) {
  Type element = values.getElementType();
  if (element.isInteger(1)) {
    for (bool v : values.getValues<bool>())
      out.push_back(v ? 1 : 0);
    return;
  }
  ArrayRef<char> raw = values.getRawData();
  if (!values.isSplat()) {
    out.insert(out.end(), raw.begin(), raw.end());
    return;
  }
  for (int64_t i = 0, e = values.getNumElements(); i < e; ++i)
    out.insert(out.end(), raw.begin(), raw.end());
}

/// FLOPs of one function at the kiln level: the sum of each kiln op's own
/// count (FlopCountOpInterface, declared with the op in ir/KilnOps.td).
double countFlops(func::FuncOp func) {
  double flops = 0;
  func.walk([&](FlopCountOpInterface op) { flops += op.getFlops(); });
  return flops;
}
} // namespace

/// Checks a `kiln.initializer` dictionary at compile time, as the driver
/// will read it (runtime/driver/Manifest.cpp, kiln_initialize_f32): a
/// `name` the runtime knows, numbers for its parameters, an integer seed,
/// parameters in range. Returns an error naming the parameter otherwise,
/// instead of a program that fails at `fit`.
static llvm::Error checkInitializer(DictionaryAttr init, StringRef param) {
  auto fail = [&](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "param '" + param + "': kiln.initializer " +
                                       message);
  };
  auto name = init.getAs<StringAttr>("name");
  if (!name)
    return fail("needs a string 'name'");
  kiln_initializer_t parsed;
  if (kiln_initializer_from_name(name.str().c_str(), &parsed) != KILN_OK)
    return fail("names '" + name.getValue() +
                "', which is not an initializer kiln knows "
                "(runtime/include/kiln/init.h)");
  for (NamedAttribute entry : init) {
    StringRef key = entry.getName().getValue();
    Attribute value = entry.getValue();
    if (key == "name")
      continue;
    if (key == "seed") {
      if (!isa<IntegerAttr>(value))
        return fail("'seed' must be an integer");
      continue;
    }
    double *slot = llvm::StringSwitch<double *>(key)
                       .Case("value", &parsed.value)
                       .Case("minval", &parsed.minval)
                       .Case("maxval", &parsed.maxval)
                       .Case("mean", &parsed.mean)
                       .Case("stddev", &parsed.stddev)
                       .Case("gain", &parsed.gain)
                       .Default(nullptr);
    if (!slot)
      continue; // other Keras settings (distribution, mode, ...) are implied
                // by the name
    if (auto f = dyn_cast<FloatAttr>(value))
      *slot = f.getValueAsDouble();
    else if (auto i = dyn_cast<IntegerAttr>(value))
      *slot = static_cast<double>(i.getInt());
    else
      return fail("'" + key + "' must be a number");
  }
  // The runtime checks the parameters' ranges when it draws; one element
  // of a vector shape runs the same checks.
  int64_t shape[] = {1};
  float sample;
  if (kiln_initialize_f32(&parsed, 0, 1, shape, &sample) != KILN_OK)
    return fail("'" + name.getValue() +
                "' rejects its parameters (e.g. a negative stddev or "
                "minval > maxval)");
  return llvm::Error::success();
}

llvm::Expected<ModelInfo> kiln::collectForwardInfo(ModuleOp module,
                                                   StringRef source) {
  ModelInfo info;
  info.source = source.str();
  if (auto name = getOpAttr<KilnDialect::ModelNameAttrHelper>(module))
    info.modelName = name.str();
  if (auto variables = getOpAttr<KilnDialect::KerasVariablesAttrHelper>(module))
    for (NamedAttribute v : variables)
      if (auto path = dyn_cast<StringAttr>(v.getValue()))
        info.kerasVariables[v.getName().str()] = path.str();
  if (auto layers = getOpAttr<KilnDialect::LayersAttrHelper>(module))
    for (Attribute layer : layers)
      info.layers.push_back(toJson(layer));
  func::FuncOp forward;
  for (auto func : module.getOps<func::FuncOp>())
    if (func.isPublic() && !func.isExternal()) {
      if (forward)
        return error("a model for a generated program has one public "
                     "function (the forward pass); found @" +
                     forward.getSymName() + " and @" + func.getSymName());
      forward = func;
    }
  if (!forward)
    return error("no public function with a body in the module");

  for (unsigned i = 0, e = forward.getNumArguments(); i < e; ++i) {
    auto name = getArgAttr<KilnDialect::ParamAttrHelper>(forward, i);
    if (!name) {
      auto range = getArgAttr<KilnDialect::IndexRangeAttrHelper>(forward, i);
      auto input = getArgAttr<KilnDialect::NameAttrHelper>(forward, i);
      if (range && input)
        info.inputRanges[input.str()] = {range[0], range[1]};
      continue;
    }
    auto type = cast<RankedTensorType>(forward.getArgumentTypes()[i]);
    ManifestParam p;
    p.name = name.str();
    p.dtype = getDTypeName(type.getElementType());
    p.shape.assign(type.getShape().begin(), type.getShape().end());
    p.trainable = hasArgAttr<KilnDialect::TrainableAttrHelper>(forward, i);
    p.state = hasArgAttr<KilnDialect::StateAttrHelper>(forward, i);
    if (auto init =
            getArgAttr<KilnDialect::InitializerAttrHelper>(forward, i)) {
      if (llvm::Error e = checkInitializer(init, name.getValue()))
        return std::move(e);
      p.init = std::move(*toJson(init).getAsObject());
    } else if (auto values =
                   getArgAttr<KilnDialect::InitAttrHelper>(forward, i)) {
      while (info.initialValues.size() % 8)
        info.initialValues.push_back(0);
      p.init["stored"] = static_cast<int64_t>(info.initialValues.size());
      appendElements(values, info.initialValues);
    } else {
      // No initializer recorded (hand-written IR): Keras' Dense defaults,
      // glorot_uniform for matrices and zeros for vectors and scalars;
      // state starts at zero.
      p.init["name"] =
          type.getRank() >= 2 && !p.state ? "glorot_uniform" : "zeros";
    }
    if (auto adapt = getArgAttr<KilnDialect::AdaptAttrHelper>(forward, i))
      p.adapt = std::move(*toJson(adapt).getAsObject());
    info.params.push_back(std::move(p));
  }
  info.predictFlops = countFlops(forward);
  return info;
}

void kiln::collectTrainingInfo(ModuleOp module, ModelInfo &info) {
  auto train = module.lookupSymbol<func::FuncOp>("train_step");
  if (!train)
    return;
  info.trainStepFlops = countFlops(train);
  for (unsigned i = 0, e = train.getNumArguments(); i < e; ++i) {
    auto name = getArgAttr<KilnDialect::OptStateAttrHelper>(train, i);
    auto value = getArgAttr<KilnDialect::InitialValueAttrHelper>(train, i);
    if (name)
      info.optStateInit[name.str()] = value ? value.getValueAsDouble() : 0.0;
    if (auto values = getArgAttr<KilnDialect::InitAttrHelper>(train, i);
        name && values) {
      while (info.initialValues.size() % 8)
        info.initialValues.push_back(0);
      info.optStateStored[name.str()] =
          static_cast<int64_t>(info.initialValues.size());
      appendElements(values, info.initialValues);
    }
  }
  if (auto metrics = getOpAttr<KilnDialect::MetricsAttrHelper>(train)) {
    info.resolvedMetrics.clear();
    for (Attribute m : llvm::drop_begin(metrics)) // [0] is "loss"
      info.resolvedMetrics.push_back(cast<StringAttr>(m).str());
  }
  if (info.metrics.size() != info.resolvedMetrics.size())
    info.metrics = info.resolvedMetrics;
}

llvm::Expected<std::string> kiln::buildManifest(const ModelInfo &info,
                                                ArrayRef<EntryPointAbi> entries,
                                                StringRef prefix,
                                                uint64_t seed) {
  json::Object root;
  root["format"] = "kiln-model";
  root["version"] = 1;
  root["name"] = info.modelName.empty() ? prefix.str() : info.modelName;
  root["source"] = info.source;
  root["seed"] = static_cast<int64_t>(seed);

  // Entry points by role.
  json::Object entryPoints;
  const EntryPointAbi *layout = nullptr;
  auto role = [&](const EntryPointAbi &e) -> std::string {
    for (StringRef r :
         {"train_step", "eval_step", "predict", "grad_step", "apply_step"})
      if (e.symbol == (prefix + "_" + r).str())
        return r.str();
    return entries.size() == 1 ? "predict" : "";
  };
  for (const EntryPointAbi &e : entries) {
    std::string r = role(e);
    if (r.empty())
      return error("cannot tell the role of entry point '" + e.symbol +
                   "': a generated program takes one forward function, or "
                   "the train_step/eval_step/predict of a --loss build");
    json::Array tensors;
    for (const AbiTensor &t : e.tensors)
      tensors.push_back(json::Object{{"name", t.name},
                                     {"kind", kiln_tensor_kind_name(t.kind)},
                                     {"region", kiln_region_name(t.region)},
                                     {"offset", t.offset},
                                     {"shape", json::Array(t.shape)},
                                     {"dtype", t.dtype},
                                     {"updated", t.updated}});
    entryPoints[r] = json::Object{
        {"symbol", e.symbol},           {"alignment", e.alignment},
        {"params_size", e.paramsSize},  {"opt_state_size", e.optStateSize},
        {"io_size", e.ioSize},          {"scratch_size", e.scratchSize},
        {"tensors", std::move(tensors)}};
    if (!layout || r == "train_step")
      layout = &e;
  }
  // One params region serves every entry point: their layouts must agree.
  std::map<std::string, int64_t> offsets;
  for (const AbiTensor &t : layout->tensors)
    if (t.region == KILN_REGION_PARAMS)
      offsets[t.name] = t.offset;
  for (const EntryPointAbi &e : entries)
    for (const AbiTensor &t : e.tensors)
      if (t.region == KILN_REGION_PARAMS &&
          (!offsets.count(t.name) || offsets[t.name] != t.offset))
        return error("entry points '" + layout->symbol + "' and '" + e.symbol +
                     "' place param '" + t.name + "' differently");
  root["entry_points"] = std::move(entryPoints);

  json::Array params;
  int64_t total = 0, trainable = 0;
  for (const ManifestParam &p : info.params) {
    int64_t count = 1;
    for (int64_t d : p.shape)
      count *= d;
    total += count;
    if (p.trainable)
      trainable += count;
    json::Object o{{"name", p.name},
                   {"dtype", p.dtype},
                   {"shape", json::Array(p.shape)},
                   {"trainable", p.trainable},
                   {"init", json::Object(p.init)}};
    if (p.state)
      o["state"] = true;
    if (p.adapt)
      o["adapt"] = json::Object(*p.adapt);
    params.push_back(std::move(o));
  }
  root["params"] = std::move(params);
  root["param_count"] = total;
  root["trainable_param_count"] = trainable;

  json::Object optState;
  for (const auto &[name, value] : info.optStateInit) {
    auto stored = info.optStateStored.find(name);
    if (stored != info.optStateStored.end())
      optState[name] = json::Object{{"stored", stored->second}};
    else
      optState[name] = value;
  }
  root["opt_state_init"] = std::move(optState);

  if (!info.loss.empty()) {
    json::Array metrics;
    for (auto [shown, resolved] : llvm::zip(info.metrics, info.resolvedMetrics))
      metrics.push_back(json::Object{{"name", shown}, {"kind", resolved}});
    root["training"] = json::Object{
        {"loss", info.loss},
        {"from_logits", info.fromLogits},
        {"optimizer", info.optimizer},
        {"convention", info.convention},
        // Keras' default learning rates: SGD 0.01, the
        // others 0.001.
        {"learning_rate",
         info.learningRate.value_or(info.optimizer == "sgd" ? 0.01 : 0.001)},
        {"metrics", std::move(metrics)}};
    // The schedule's canonical JSON (LearningRateSchedule::json()) is
    // embedded as an object; the driver evaluates it per step.
    if (info.learningRateSchedule) {
      llvm::Expected<json::Value> schedule =
          json::parse(*info.learningRateSchedule);
      if (!schedule)
        return schedule.takeError();
      root.getObject("training")
          ->try_emplace("lr_schedule", std::move(*schedule));
    }
  } else {
    root["training"] = nullptr;
  }
  root["precision"] = info.precision;
  root["flops"] = json::Object{{"train_step", info.trainStepFlops},
                               {"predict", info.predictFlops}};
  root["layers"] = json::Array(info.layers);
  // export.onnx: where the ONNX graph lies in initial_values and which
  // parameters become its initializers, or why the model has none.
  json::Object onnx;
  if (!info.onnxExport) {
    onnx["unavailable"] = json::Array{"the model was compiled without ONNX "
                                      "export"};
  } else if (!info.onnxExport->problems.empty()) {
    onnx["unavailable"] = json::Array(info.onnxExport->problems);
  } else {
    onnx["offset"] = info.onnxExport->offset;
    onnx["size"] = info.onnxExport->size;
    onnx["opset"] = info.onnxExport->opset;
    onnx["initializers"] = json::Array(info.onnxExport->initializers);
  }
  root["export"] = json::Object{{"onnx", std::move(onnx)}};
  if (!info.kerasVariables.empty()) {
    json::Object variables;
    for (const auto &[name, path] : info.kerasVariables)
      variables[name] = path;
    json::Object keras{{"variables", std::move(variables)}};
    if (info.kerasConfig)
      keras["config"] = *info.kerasConfig;
    else
      keras["config"] = nullptr;
    root["keras"] = std::move(keras);
  }
  if (!info.inputRanges.empty()) {
    json::Object ranges;
    for (const auto &[name, range] : info.inputRanges)
      ranges[name] = json::Array{range.first, range.second};
    root["input_ranges"] = std::move(ranges);
  }

  // The fingerprint names the state a checkpoint holds: every param, state
  // and opt_state tensor (name, dtype, shape) and the optimizer. FNV-1a 64.
  std::string canonical;
  for (const AbiTensor &t : layout->tensors)
    if (t.region != KILN_REGION_IO) {
      canonical += std::string(kiln_tensor_kind_name(t.kind)) + ":" + t.name +
                   ":" + t.dtype + "[";
      for (int64_t d : t.shape)
        canonical += std::to_string(d) + ",";
      canonical += "];";
    }
  canonical += "optimizer:" + info.optimizer;
  uint64_t hash = 1469598103934665603ULL;
  for (unsigned char c : canonical) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  root["fingerprint"] = llvm::utohexstr(hash, /*LowerCase=*/true, 16);

  std::string text;
  llvm::raw_string_ostream os(text);
  os << json::Value(std::move(root));
  return text;
}

llvm::Error kiln::addModelDescriptor(llvm::Module &module, StringRef prefix,
                                     StringRef manifest,
                                     ArrayRef<char> initialValues,
                                     bool mainAlias) {
  llvm::LLVMContext &ctx = module.getContext();
  auto *ptrTy = llvm::PointerType::getUnqual(ctx);
  auto *i32 = llvm::Type::getInt32Ty(ctx);
  auto *i64 = llvm::Type::getInt64Ty(ctx);

  auto *manifestInit = llvm::ConstantDataArray::getString(ctx, manifest);
  auto *manifestVar = new llvm::GlobalVariable(
      module, manifestInit->getType(), /*isConstant=*/true,
      llvm::GlobalValue::PrivateLinkage, manifestInit,
      (prefix + "_manifest").str());

  llvm::Constant *valuesPtr = llvm::ConstantPointerNull::get(ptrTy);
  if (!initialValues.empty()) {
    auto *data = llvm::ConstantDataArray::getRaw(
        StringRef(initialValues.data(), initialValues.size()),
        initialValues.size(), llvm::Type::getInt8Ty(ctx));
    auto *var = new llvm::GlobalVariable(
        module, data->getType(), true, llvm::GlobalValue::PrivateLinkage, data,
        (prefix + "_initial_values").str());
    var->setAlignment(llvm::Align(64));
    valuesPtr = var;
  }
  auto entry = [&](StringRef role) -> llvm::Constant * {
    if (llvm::Function *f = module.getFunction((prefix + "_" + role).str()))
      return f;
    return llvm::ConstantPointerNull::get(ptrTy);
  };
  llvm::Constant *predict = entry("predict");
  if (predict->isNullValue()) {
    // Inference-only: the one defined public function.
    for (llvm::Function &f : module)
      if (!f.isDeclaration() && f.hasExternalLinkage() &&
          f.getName().starts_with((prefix + "_").str())) {
        predict = &f;
        break;
      }
  }
  auto *type = llvm::StructType::get(
      ctx, {i32, i32, ptrTy, ptrTy, ptrTy, ptrTy, ptrTy, i64, ptrTy, ptrTy},
      /*isPacked=*/false);
  auto *init = llvm::ConstantStruct::get(
      type, {llvm::ConstantInt::get(i32, KILN_MODEL_ABI_VERSION),
             llvm::ConstantInt::get(i32, 0), manifestVar, entry("train_step"),
             entry("eval_step"), predict, valuesPtr,
             llvm::ConstantInt::get(i64, initialValues.size()),
             entry("grad_step"), entry("apply_step")});
  std::string name = (prefix + "_model").str();
  if (module.getNamedValue(name))
    return error("the symbol '" + name + "' already exists in the module");
  auto *descriptor = new llvm::GlobalVariable(
      module, type, true, llvm::GlobalValue::ExternalLinkage, init, name);
  descriptor->setAlignment(llvm::Align(8));
  if (mainAlias)
    llvm::GlobalAlias::create(type, 0, llvm::GlobalValue::ExternalLinkage,
                              "kiln_main_model", descriptor, &module);
  return llvm::Error::success();
}
