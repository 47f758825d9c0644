//===- Model.cpp - a Keras-like C++ API for kiln ----------------*- C++ -*-===//
//
// Sequential::build emits @forward in the forward form (as the Keras
// importer does); compile runs the training and codegen pipelines on a
// clone, JIT-compiles the entry points and owns one set of regions shared
// by them (params and opt_state have the same layout in every entry point:
// the parameters in argument order; io and scratch are sized for the
// largest).
//
//===----------------------------------------------------------------------===//

#include "builder/Model.h"

#include "codegen/Emit.h"
#include "codegen/Jit.h"
#include "codegen/Pipelines.h"
#include "ir/KilnDialect.h"
#include "ir/KilnOps.h"
#include "kiln/init.h"
#include "kiln/runtime.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/raw_ostream.h"

#include <array>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
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

bool isKnownActivation(llvm::StringRef name) {
  return llvm::is_contained({"linear", "relu", "sigmoid", "tanh", "softmax",
                             "log_softmax", "softplus", "elu", "gelu",
                             "leaky_relu", "selu", "silu", "swish",
                             "exponential"},
                            name);
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
};

struct ParamInfo {
  std::string name; // "dense/kernel"
  std::vector<int64_t> shape;
  bool kernel; // Glorot uniform (else zeros)
};
} // namespace

struct Sequential::Impl {
  std::vector<Layer> layers;
  uint32_t seed = 0;
  int64_t batch = 0;
  std::vector<ResolvedLayer> resolved;
  std::vector<ParamInfo> params;

  std::unique_ptr<mlir::MLIRContext> context;
  mlir::OwningOpRef<mlir::ModuleOp> module;

  // Compiled state.
  bool compiled = false;
  bool sparseLabels = false;
  double learningRate = 0;
  std::vector<std::string> metricNames; // resolved (kiln.metrics[1:])
  std::vector<std::string> reportNames; // as given to compile
  std::unique_ptr<mk::JitModule> jit;
  struct Entry {
    mk::EntryPointAbi abi;
    mk::EntryPoint fn = nullptr;
    const mk::AbiTensor *
    find(llvm::StringRef name,
         std::optional<kiln_tensor_kind_t> kind = std::nullopt) const {
      for (const mk::AbiTensor &t : abi.tensors)
        if (t.name == name && (!kind || t.kind == *kind))
          return &t;
      return nullptr;
    }
  };
  Entry train, eval, pred;
  kiln_regions_t *regions = nullptr;
  std::mt19937 shuffleGen;

  ~Impl() { kiln_regions_destroy(regions); }

  char *addr(const mk::AbiTensor &t) const {
    void *base = t.region == KILN_REGION_PARAMS      ? regions->params
                 : t.region == KILN_REGION_OPT_STATE ? regions->opt_state
                                                     : regions->io;
    return static_cast<char *>(base) + t.offset;
  }

  llvm::Error resolve();
  llvm::Error emitForward();
  llvm::Error runBatches(const Entry &entry, const std::vector<float> &x,
                         const void *labels, bool sparse,
                         const std::vector<size_t> &order, bool update,
                         std::map<std::string, double> &sums);
  llvm::Error checkData(const std::vector<float> &x, size_t labelCount,
                        bool sparse, size_t &samples);
  std::map<std::string, double>
  finish(const std::map<std::string, double> &sums) const;
};

//===----------------------------------------------------------------------===//
// Shapes and IR
//===----------------------------------------------------------------------===//

llvm::Error Sequential::Impl::resolve() {
  resolved.clear();
  params.clear();
  if (layers.empty())
    return error("the model has no layers");
  if (layers.front().kind != Layer::Kind::Input)
    return error("the first layer must be kiln::layers::Input");
  llvm::StringMap<int> counts;
  llvm::StringSet<> names;
  std::vector<int64_t> shape;
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
      if (shape.empty())
        return error("layer " + llvm::Twine(index) +
                     ": Dense needs an input with a feature axis, got a "
                     "scalar sample");
      r.params = shape.back() * layer.units + (layer.useBias ? layer.units : 0);
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
    }
    if ((layer.kind == Layer::Kind::Dense ||
         layer.kind == Layer::Kind::Activation) &&
        !isKnownActivation(layer.activation))
      return error("layer " + llvm::Twine(index) + ": unknown activation '" +
                   layer.activation + "'");
    if (r.layer.name.empty()) {
      int &n = counts[base];
      r.layer.name = n ? std::string(base) + "_" + std::to_string(n) : base;
      ++n;
    }
    if (!names.insert(r.layer.name).second)
      return error("duplicate layer name '" + r.layer.name + "'");
    if (layer.kind == Layer::Kind::Dense) {
      params.push_back(
          {r.layer.name + "/kernel", {shape.back(), layer.units}, true});
      if (layer.useBias)
        params.push_back({r.layer.name + "/bias", {layer.units}, false});
      shape.back() = layer.units;
    }
    r.outShape = shape;
    resolved.push_back(std::move(r));
  }
  return llvm::Error::success();
}

llvm::Error Sequential::Impl::emitForward() {
  using namespace mlir;
  MLIRContext *ctx = context.get();
  OpBuilder b(ctx);
  Location loc = FileLineColLoc::get(ctx, "kiln::Sequential", 0, 0);
  module = ModuleOp::create(loc);
  Type f32 = b.getF32Type();
  auto withBatch = [&](llvm::ArrayRef<int64_t> s) {
    SmallVector<int64_t> full{batch};
    full.append(s.begin(), s.end());
    return RankedTensorType::get(full, f32);
  };

  bool dropout = llvm::any_of(resolved, [](const ResolvedLayer &r) {
    return r.layer.kind == Layer::Kind::Dropout;
  });
  SmallVector<Type> argTypes;
  SmallVector<DictionaryAttr> argAttrs;
  for (const ParamInfo &p : params) {
    argTypes.push_back(RankedTensorType::get(p.shape, f32));
    NamedAttrList attrs;
    attrs.set(mk::KilnDialect::ParamAttrHelper::getNameStr(),
              b.getStringAttr(p.name));
    attrs.set(mk::KilnDialect::TrainableAttrHelper::getNameStr(),
              b.getUnitAttr());
    attrs.set(
        mk::KilnDialect::InitializerAttrHelper::getNameStr(),
        b.getDictionaryAttr(b.getNamedAttr(
            "name", b.getStringAttr(p.kernel ? "glorot_uniform" : "zeros"))));
    argAttrs.push_back(attrs.getDictionary(ctx));
  }
  argTypes.push_back(withBatch(resolved.front().outShape));
  argAttrs.push_back(b.getDictionaryAttr(
      b.getNamedAttr(mk::KilnDialect::NameAttrHelper::getNameStr(),
                     b.getStringAttr(resolved.front().layer.name))));
  if (dropout) {
    argTypes.push_back(RankedTensorType::get({}, b.getI64Type()));
    argAttrs.push_back(b.getDictionaryAttr(b.getNamedAttr(
        mk::KilnDialect::StepAttrHelper::getNameStr(), b.getUnitAttr())));
  }
  Type resultType = withBatch(resolved.back().outShape);
  auto func = func::FuncOp::create(loc, "forward",
                                   b.getFunctionType(argTypes, resultType));
  module->push_back(func);
  Block *body = func.addEntryBlock();
  b.setInsertionPointToStart(body);
  for (auto [i, attrs] : llvm::enumerate(argAttrs))
    func.setArgAttrs(i, attrs);
  func.setResultAttrs(0, b.getDictionaryAttr(b.getNamedAttr(
                             mk::KilnDialect::NameAttrHelper::getNameStr(),
                             b.getStringAttr(resolved.back().layer.name))));

  auto unary = [&](auto tag, Value x, ArrayRef<NamedAttribute> attrs = {}) {
    using OpT = decltype(tag);
    return b.create<OpT>(loc, TypeRange{x.getType()}, ValueRange{x}, attrs)
        ->getResult(0);
  };
  auto binary = [&](auto tag, Value l, Value r) {
    using OpT = decltype(tag);
    return b.create<OpT>(loc, TypeRange{l.getType()}, ValueRange{l, r})
        ->getResult(0);
  };
  auto splat = [&](double v, RankedTensorType type) -> Value {
    auto attr = DenseElementsAttr::get(type, b.getFloatAttr(f32, v));
    return b.create<mk::ConstantOp>(loc, TypeRange{type}, ValueRange{},
                                    b.getNamedAttr("value", attr));
  };
  auto activation = [&](StringRef name, Value x) -> Value {
    auto type = cast<RankedTensorType>(x.getType());
    auto axis = b.getNamedAttr("axis", b.getI64IntegerAttr(type.getRank() - 1));
    auto alpha = [&](double v) {
      return b.getNamedAttr("alpha", b.getF64FloatAttr(v));
    };
    if (name == "relu")
      return unary(mk::ReluOp(), x);
    if (name == "sigmoid")
      return unary(mk::SigmoidOp(), x);
    if (name == "tanh")
      return unary(mk::TanhOp(), x);
    if (name == "softmax")
      return unary(mk::SoftmaxOp(), x, {axis});
    if (name == "log_softmax")
      return unary(mk::LogSoftmaxOp(), x, {axis});
    if (name == "softplus")
      return unary(mk::SoftplusOp(), x);
    if (name == "elu")
      return unary(mk::EluOp(), x, {alpha(1.0)});
    if (name == "gelu")
      return unary(mk::GeluOp(), x);
    if (name == "leaky_relu")
      return unary(mk::LeakyReluOp(), x, {alpha(0.2)});
    if (name == "selu")
      return binary(
          mk::MulOp(),
          unary(mk::EluOp(), x, {alpha(1.6732632423543772848170429916717)}),
          splat(1.0507009873554804934193349852946, type));
    if (name == "exponential")
      return unary(mk::ExpOp(), x);
    if (name == "silu" || name == "swish")
      return binary(mk::MulOp(), x, unary(mk::SigmoidOp(), x));
    return x; // linear
  };
  auto reshape = [&](Value v, ArrayRef<int64_t> shape) -> Value {
    auto type = cast<RankedTensorType>(v.getType());
    if (type.getShape() == shape)
      return v;
    return b.create<mk::ReshapeOp>(
        loc, TypeRange{RankedTensorType::get(shape, f32)}, ValueRange{v});
  };

  Value x = body->getArgument(params.size());
  Value counter = dropout ? body->getArgument(params.size() + 1) : Value();
  size_t nextParam = 0;
  for (auto [index, r] : llvm::enumerate(resolved)) {
    const Layer &layer = r.layer;
    switch (layer.kind) {
    case Layer::Kind::Input:
      break;
    case Layer::Kind::Dense: {
      auto type = cast<RankedTensorType>(x.getType());
      int64_t in = type.getShape().back();
      Value kernel = body->getArgument(nextParam++);
      SmallVector<int64_t> outShape(type.getShape());
      outShape.back() = layer.units;
      int64_t rows = type.getNumElements() / in;
      Value y = b.create<mk::MatmulOp>(
          loc, TypeRange{RankedTensorType::get({rows, layer.units}, f32)},
          ValueRange{reshape(x, {rows, in}), kernel});
      y = reshape(y, outShape);
      if (layer.useBias) {
        Value bias = body->getArgument(nextParam++);
        auto outType = RankedTensorType::get(outShape, f32);
        Value wide = b.create<mk::BroadcastInDimOp>(
            loc, outType, bias,
            llvm::ArrayRef<int64_t>{static_cast<int64_t>(outShape.size()) - 1});
        y = binary(mk::AddOp(), y, wide);
      }
      x = activation(layer.activation, y);
      break;
    }
    case Layer::Kind::Activation:
      x = activation(layer.activation, x);
      break;
    case Layer::Kind::Dropout: {
      int64_t seed = layer.seed ? layer.seed : static_cast<int64_t>(index) + 1;
      x = b.create<mk::DropoutOp>(
               loc, TypeRange{x.getType()}, ValueRange{x, counter},
               ArrayRef<NamedAttribute>{
                   b.getNamedAttr("rate", b.getF64FloatAttr(layer.rate)),
                   b.getNamedAttr("seed", b.getI64IntegerAttr(seed))})
              ->getResult(0);
      break;
    }
    }
  }
  b.create<func::ReturnOp>(loc, ValueRange{x});

  DiagnosticCollector diags(*context);
  PassManager pm(context.get());
  pm.addPass(mk::createKilnVerifyStagePass());
  if (failed(mlir::verify(*module)) || failed(pm.run(*module)))
    return error("the generated forward function is invalid:" + diags.text);
  return llvm::Error::success();
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
  if (impl->module)
    return error("build: the model is already built");
  if (batchSize <= 0)
    return error("build: the batch size must be > 0, got " +
                 llvm::Twine(batchSize));
  if (llvm::Error e = impl->resolve())
    return e;
  impl->batch = batchSize;
  mlir::DialectRegistry registry;
  mk::registerCodegenDialects(registry);
  impl->context = std::make_unique<mlir::MLIRContext>(registry);
  impl->context->loadAllAvailableDialects();
  if (llvm::Error e = impl->emitForward()) {
    impl->module = nullptr;
    return e;
  }
  return llvm::Error::success();
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
    rows.push_back({r.layer.name + " (" + r.type + ")",
                    shapeText(r.outShape, true, impl->batch),
                    std::to_string(r.params)});
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

llvm::Error Sequential::compile(const Loss &loss, const Optimizer &optimizer,
                                const std::vector<std::string> &metrics) {
  Impl &m = *impl;
  if (!m.module)
    return error("compile: the model is not built (call build(batchSize) "
                 "first)");
  m.compiled = false;
  m.jit.reset();
  kiln_regions_destroy(m.regions);
  m.regions = nullptr;

  // The training pipeline's options, as kilnc spells them.
  std::string text = "loss=" + loss.name;
  if (loss.fromLogits)
    text += " from_logits=1";
  std::string metricList;
  for (const std::string &metric : metrics)
    metricList += (metricList.empty() ? "" : ",") + metric;
  if (!metricList.empty())
    text += " metrics=" + metricList;
  text += " optimizer=" + optimizer.name;
  for (auto &[key, value] : optimizer.hyperparameters) {
    std::ostringstream v;
    v.precision(17);
    if (key == "nesterov" || key == "centered")
      v << (value != 0 ? "1" : "0");
    else
      v << value;
    text += " " + key + "=" + v.str();
  }
  text += " convention=" + optimizer.convention;
  auto options = mk::TrainingPipelineOptions::createFromString(text);
  if (!options)
    return error("compile: invalid training options '" + text + "'");

  mlir::OwningOpRef<mlir::ModuleOp> clone = m.module->clone();
  DiagnosticCollector diags(*m.context);
  {
    mlir::PassManager pm(m.context.get());
    mk::buildTrainingPipeline(pm, *options);
    if (failed(pm.run(*clone)))
      return error("compile: deriving the training step failed:" + diags.text);
  }
  // Metric names and optimizer-state initial values, before lowering.
  auto trainFunc = clone->lookupSymbol<mlir::func::FuncOp>("train_step");
  if (!trainFunc)
    return error("compile: the training pipeline produced no @train_step");
  m.metricNames.clear();
  if (auto names = mk::getOpAttr<mk::KilnDialect::MetricsAttrHelper>(trainFunc))
    for (mlir::Attribute a : names.getValue().drop_front())
      m.metricNames.push_back(mlir::cast<mlir::StringAttr>(a).getValue().str());
  m.reportNames =
      m.metricNames.size() == metrics.size() ? metrics : m.metricNames;
  std::map<std::string, double> initialValues;
  for (unsigned i = 0; i < trainFunc.getNumArguments(); ++i) {
    auto name =
        mk::getArgAttr<mk::KilnDialect::OptStateAttrHelper>(trainFunc, i);
    auto value =
        mk::getArgAttr<mk::KilnDialect::InitialValueAttrHelper>(trainFunc, i);
    if (name && value)
      initialValues[name.getValue().str()] = value.getValueAsDouble();
  }
  auto labelsType = mlir::cast<mlir::RankedTensorType>(
      trainFunc.getArgument(trainFunc.getNumArguments() - 3).getType());
  m.sparseLabels = labelsType.getElementType().isInteger(32);

  {
    mlir::PassManager pm(m.context.get());
    mk::buildCodegenPipeline(pm);
    if (failed(pm.run(*clone)))
      return error("compile: code generation failed:" + diags.text);
  }
  auto abis = mk::collectAbi(*clone);
  if (!abis)
    return abis.takeError();
  auto jit = mk::JitModule::create(*clone);
  if (!jit)
    return jit.takeError();
  m.jit = std::move(*jit);
  kiln_region_sizes_t sizes = {};
  for (auto item :
       {std::pair{&m.train, "train_step"}, std::pair{&m.eval, "eval_step"},
        std::pair{&m.pred, "predict"}}) {
    Impl::Entry *entry = item.first;
    llvm::StringRef symbol = item.second;
    auto abi = llvm::find_if(
        *abis, [&](const mk::EntryPointAbi &a) { return a.symbol == symbol; });
    if (abi == abis->end())
      return error("compile: no interface recorded for @" + symbol);
    entry->abi = *abi;
    auto fn = m.jit->lookup(symbol);
    if (!fn)
      return fn.takeError();
    entry->fn = *fn;
    sizes.params_size = std::max<size_t>(sizes.params_size, abi->paramsSize);
    sizes.opt_state_size =
        std::max<size_t>(sizes.opt_state_size, abi->optStateSize);
    sizes.io_size = std::max<size_t>(sizes.io_size, abi->ioSize);
    sizes.scratch_size = std::max<size_t>(sizes.scratch_size, abi->scratchSize);
    sizes.alignment = std::max<size_t>(sizes.alignment, abi->alignment);
  }
  // One params region for all entry points: the layouts must agree.
  for (const ParamInfo &p : m.params) {
    const mk::AbiTensor *t = m.train.find(p.name, KILN_TENSOR_PARAM);
    for (const Impl::Entry *other : {&m.eval, &m.pred}) {
      const mk::AbiTensor *o = other->find(p.name, KILN_TENSOR_PARAM);
      if (!t || !o || o->offset != t->offset)
        return error("compile: parameter '" + p.name +
                     "' has different offsets in the entry points");
    }
  }
  if (kiln_status_t status = kiln_regions_create(&sizes, &m.regions))
    return error(llvm::Twine("compile: ") + kiln_status_message(status));

  // Parameters: Glorot-uniform kernels drawn by the runtime's Keras
  // initializers (kiln/init.h; one seed per parameter), zero biases (the
  // regions start zeroed).
  kiln_initializer_t glorot;
  kiln_initializer_from_name("glorot_uniform", &glorot);
  uint64_t paramIndex = 0;
  for (const ParamInfo &p : m.params) {
    ++paramIndex;
    if (!p.kernel)
      continue;
    const mk::AbiTensor *t = m.train.find(p.name, KILN_TENSOR_PARAM);
    float *data = reinterpret_cast<float *>(m.addr(*t));
    if (kiln_status_t status = kiln_initialize_f32(
            &glorot, m.seed * 1000003ULL + paramIndex,
            static_cast<int32_t>(p.shape.size()), p.shape.data(), data))
      return error(llvm::Twine("compile: ") + kiln_status_message(status));
  }
  for (const mk::AbiTensor &t : m.train.abi.tensors) {
    if (t.kind != KILN_TENSOR_OPT_STATE)
      continue;
    auto it = initialValues.find(t.name);
    double v = it == initialValues.end() ? 0.0 : it->second;
    if (v == 0)
      continue;
    int64_t count = product(t.shape);
    for (int64_t i = 0; i < count; ++i) {
      if (t.dtype == "f64")
        reinterpret_cast<double *>(m.addr(t))[i] = v;
      else
        reinterpret_cast<float *>(m.addr(t))[i] = static_cast<float>(v);
    }
  }
  m.shuffleGen.seed(m.seed + 1);
  m.learningRate = optimizer.learningRate;
  m.compiled = true;
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Running
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

llvm::Error Sequential::Impl::runBatches(const Entry &entry,
                                         const std::vector<float> &x,
                                         const void *labels, bool sparse,
                                         const std::vector<size_t> &order,
                                         bool update,
                                         std::map<std::string, double> &sums) {
  const mk::AbiTensor *xT =
      entry.find(resolved.front().layer.name, KILN_TENSOR_INPUT);
  const mk::AbiTensor *yT = entry.find("labels", KILN_TENSOR_INPUT);
  const mk::AbiTensor *wT = entry.find("sample_weight", KILN_TENSOR_INPUT);
  const mk::AbiTensor *lrT = entry.find("learning_rate", KILN_TENSOR_INPUT);
  if (!xT || !yT || !wT || (update && !lrT))
    return error("internal: the entry point " + entry.abi.symbol +
                 " lacks an expected input");
  int64_t in = product(resolved.front().outShape);
  int64_t per = sparse ? 1 : product(resolved.back().outShape);
  if (update)
    *reinterpret_cast<float *>(addr(*lrT)) = static_cast<float>(learningRate);
  for (size_t start = 0; start < order.size(); start += batch) {
    float *xd = reinterpret_cast<float *>(addr(*xT));
    float *wd = reinterpret_cast<float *>(addr(*wT));
    char *yd = addr(*yT);
    for (int64_t row = 0; row < batch; ++row) {
      size_t i = start + row;
      bool real = i < order.size();
      wd[row] = real ? 1.0f : 0.0f;
      if (real) {
        std::memcpy(xd + row * in, x.data() + order[i] * in,
                    in * sizeof(float));
        if (sparse)
          reinterpret_cast<int32_t *>(yd)[row] =
              static_cast<const int32_t *>(labels)[order[i]];
        else
          std::memcpy(reinterpret_cast<float *>(yd) + row * per,
                      static_cast<const float *>(labels) + order[i] * per,
                      per * sizeof(float));
      } else {
        std::memset(xd + row * in, 0, in * sizeof(float));
        if (sparse)
          reinterpret_cast<int32_t *>(yd)[row] = 0;
        else
          std::memset(reinterpret_cast<float *>(yd) + row * per, 0,
                      per * sizeof(float));
      }
    }
    entry.fn(regions->params, regions->opt_state, regions->io,
             regions->scratch);
    for (const mk::AbiTensor &t : entry.abi.tensors)
      if (t.kind == KILN_TENSOR_OUTPUT && t.name != "loss" && t.shape.empty())
        sums[t.name] += *reinterpret_cast<const float *>(addr(t));
  }
  return llvm::Error::success();
}

std::map<std::string, double>
Sequential::Impl::finish(const std::map<std::string, double> &sums) const {
  auto get = [&](const std::string &name) {
    auto it = sums.find(name);
    return it == sums.end() ? 0.0 : it->second;
  };
  auto ratio = [](double a, double b) { return b != 0 ? a / b : 0.0; };
  std::map<std::string, double> out;
  double weights = get("weight_sum");
  out["loss"] = ratio(get("loss_sum"), weights);
  double tp = get("true_positives"), pp = get("predicted_positives"),
         ap = get("actual_positives");
  for (auto [resolvedName, reported] : llvm::zip(metricNames, reportNames)) {
    double v;
    if (resolvedName == "precision")
      v = ratio(tp, pp);
    else if (resolvedName == "recall")
      v = ratio(tp, ap);
    else if (resolvedName == "f1") {
      double p = ratio(tp, pp), r = ratio(tp, ap);
      v = ratio(2 * p * r, p + r);
    } else
      v = ratio(get(resolvedName + "_sum"), weights);
    out[reported] = v;
  }
  return out;
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

template <typename Label>
static llvm::Expected<History>
fitImpl(Sequential::Impl &m, const std::vector<float> &x,
        const std::vector<Label> &y, int epochs, int64_t batchSize,
        bool shuffle, int64_t classes) {
  constexpr bool sparse = std::is_same_v<Label, int32_t>;
  if (!m.compiled)
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
  History history;
  history.names.push_back("loss");
  for (const std::string &n : m.reportNames)
    history.names.push_back(n);
  std::vector<size_t> order(samples);
  std::iota(order.begin(), order.end(), 0);
  for (int epoch = 0; epoch < epochs; ++epoch) {
    if (shuffle)
      for (size_t i = samples - 1; i > 0; --i)
        std::swap(order[i], order[m.shuffleGen() % (i + 1)]);
    std::map<std::string, double> sums;
    if (llvm::Error e =
            m.runBatches(m.train, x, y.data(), sparse, order, true, sums))
      return std::move(e);
    for (auto &[name, value] : m.finish(sums))
      history.values[name].push_back(value);
  }
  return history;
}

template <typename Label>
static llvm::Expected<Metrics>
evaluateImpl(Sequential::Impl &m, const std::vector<float> &x,
             const std::vector<Label> &y, int64_t classes) {
  constexpr bool sparse = std::is_same_v<Label, int32_t>;
  if (!m.compiled)
    return error("evaluate: the model is not compiled (call compile() "
                 "first)");
  size_t samples = 0;
  if (llvm::Error e = m.checkData(x, y.size(), sparse, samples))
    return std::move(e);
  if (llvm::Error e = checkLabels("evaluate", y, classes))
    return std::move(e);
  std::vector<size_t> order(samples);
  std::iota(order.begin(), order.end(), 0);
  std::map<std::string, double> sums;
  if (llvm::Error e =
          m.runBatches(m.eval, x, y.data(), sparse, order, false, sums))
    return std::move(e);
  return m.finish(sums);
}

void Sequential::setLearningRate(double learningRate) {
  impl->learningRate = learningRate;
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
  if (!m.compiled)
    return error("predict: the model is not compiled (call compile() "
                 "first)");
  int64_t in = inputSize();
  if (x.empty() || x.size() % in != 0)
    return error("predict: x has " + llvm::Twine(x.size()) +
                 " values, not a positive multiple of the sample size " +
                 llvm::Twine(in));
  size_t samples = x.size() / in;
  int64_t per = product(outputShape());
  const mk::AbiTensor *xT =
      m.pred.find(m.resolved.front().layer.name, KILN_TENSOR_INPUT);
  const mk::AbiTensor *yT = nullptr;
  for (const mk::AbiTensor &t : m.pred.abi.tensors)
    if (t.kind == KILN_TENSOR_OUTPUT)
      yT = &t;
  if (!xT || !yT)
    return error("internal: @predict lacks its input or output");
  std::vector<float> out(samples * per);
  float *xd = reinterpret_cast<float *>(m.addr(*xT));
  const float *yd = reinterpret_cast<const float *>(m.addr(*yT));
  for (size_t start = 0; start < samples; start += m.batch) {
    size_t rows = std::min<size_t>(m.batch, samples - start);
    std::memcpy(xd, x.data() + start * in, rows * in * sizeof(float));
    std::memset(xd + rows * in, 0, (m.batch - rows) * in * sizeof(float));
    m.pred.fn(m.regions->params, m.regions->opt_state, m.regions->io,
              m.regions->scratch);
    std::memcpy(out.data() + start * per, yd, rows * per * sizeof(float));
  }
  return out;
}

llvm::Expected<std::vector<float>>
Sequential::getWeights(const std::string &name) const {
  if (!impl->compiled)
    return error("getWeights: the model is not compiled");
  const mk::AbiTensor *t = impl->train.find(name, KILN_TENSOR_PARAM);
  if (!t)
    return error("getWeights: no parameter '" + name + "'");
  const float *data = reinterpret_cast<const float *>(impl->addr(*t));
  return std::vector<float>(data, data + product(t->shape));
}

llvm::Error Sequential::setWeights(const std::string &name,
                                   const std::vector<float> &values) {
  if (!impl->compiled)
    return error("setWeights: the model is not compiled");
  const mk::AbiTensor *t = impl->train.find(name, KILN_TENSOR_PARAM);
  if (!t)
    return error("setWeights: no parameter '" + name + "'");
  if (static_cast<int64_t>(values.size()) != product(t->shape))
    return error("setWeights: '" + name + "' holds " +
                 llvm::Twine(product(t->shape)) + " values, got " +
                 llvm::Twine(values.size()));
  std::memcpy(impl->addr(*t), values.data(), values.size() * sizeof(float));
  return llvm::Error::success();
}

} // namespace kiln
