//===- AttachOptimizer.cpp - @train_step, @eval_step, @predict ------------===//
//
// Implements kiln-attach-optimizer: one optimizer step around @loss_grad,
// with the formulas of Keras 3 (default) or PyTorch, and the inference
// entry points beside it. Formulas and their sources: docs/spec.md,
// "Optimizers" and "Numerics conventions".
//
//===----------------------------------------------------------------------===//

#include "compiler/TrainingConfig.h"
#include "ir/KilnOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <cmath>

namespace mlir::kiln {
#define GEN_PASS_DEF_KILNATTACHOPTIMIZERPASS
#include "passes/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;
using namespace mlir::kiln;

namespace {
// Names, defaults and ranges: compiler/TrainingConfig.h.
using Optimizer = OptimizerKind;
using Hyper = ResolvedOptimizer;

/// The optimizer-state slots of one trainable parameter, by name.
SmallVector<StringRef> getSlots(const Hyper &h) {
  switch (h.kind) {
  case Optimizer::SGD:
    return h.momentum != 0.0 ? SmallVector<StringRef>{"momentum"}
                             : SmallVector<StringRef>{};
  case Optimizer::RMSprop: {
    SmallVector<StringRef> slots = {"mean_square"};
    if (h.momentum != 0.0)
      slots.push_back("momentum");
    if (h.centered)
      slots.push_back("mean_gradient");
    return slots;
  }
  case Optimizer::Adam:
  case Optimizer::AdamW:
    return {"m", "v"};
  case Optimizer::Adagrad:
    return {"accumulator"};
  }
  return {};
}

/// Elementwise arithmetic on tensors of one type, with scalar (rank-0)
/// operands broadcast.
class Math {
public:
  Math(OpBuilder &b, Location loc, RankedTensorType type)
      : b(b), loc(loc), type(type) {}

  Value c(double v) {
    return b.create<ConstantOp>(
        loc,
        DenseElementsAttr::get(type, b.getFloatAttr(type.getElementType(), v)));
  }
  /// Broadcasts a rank-0 tensor to `type`.
  Value spread(Value scalar) {
    return b.create<BroadcastInDimOp>(loc, type, scalar,
                                      b.getDenseI64ArrayAttr({}));
  }
  Value add(Value x, Value y) { return b.create<AddOp>(loc, x, y); }
  Value sub(Value x, Value y) { return b.create<SubOp>(loc, x, y); }
  Value mul(Value x, Value y) { return b.create<MulOp>(loc, x, y); }
  Value div(Value x, Value y) { return b.create<DivOp>(loc, x, y); }
  Value sqrt(Value x) { return b.create<SqrtOp>(loc, x); }
  Value square(Value x) { return b.create<SquareOp>(loc, x); }
  /// decay * s + (1 - decay) * x
  Value ema(Value s, Value x, double decay) {
    return add(mul(c(decay), s), mul(c(1.0 - decay), x));
  }

  OpBuilder &b;
  Location loc;
  RankedTensorType type;
};

/// Builds the update of one parameter: returns w' and fills `newSlots`.
/// `m` works on the parameter's type, `s` on rank-0 tensors of its element
/// type; `lrScalar` and `t` (the 1-based step) are such scalars, `t64` the
/// step in f64, and `lr` is `lrScalar` spread to the parameter's shape.
Value buildUpdate(Math &m, Math &s, const Hyper &h, Value w, Value g,
                  ValueRange slots, Value lrScalar, Value lr, Value t,
                  Value t64, SmallVectorImpl<Value> &newSlots) {
  switch (h.kind) {
  case Optimizer::SGD: {
    if (h.momentum == 0.0)
      return m.sub(w, m.mul(lr, g));
    Value mu = m.c(h.momentum);
    if (!h.pytorch) {
      // Keras: v <- mu v - lr g; w <- w + v (Nesterov: w + mu v - lr g).
      Value v = m.sub(m.mul(mu, slots[0]), m.mul(lr, g));
      newSlots.push_back(v);
      return h.nesterov ? m.sub(m.add(w, m.mul(mu, v)), m.mul(lr, g))
                        : m.add(w, v);
    }
    // PyTorch: b <- mu b + g; w <- w - lr (Nesterov: g + mu b, else b).
    // With b starting at 0, the first step gives b = g, as torch.optim.
    Value buf = m.add(m.mul(mu, slots[0]), g);
    newSlots.push_back(buf);
    Value d = h.nesterov ? m.add(g, m.mul(mu, buf)) : buf;
    return m.sub(w, m.mul(lr, d));
  }
  case Optimizer::RMSprop: {
    unsigned next = 0;
    Value v = m.ema(slots[next++], m.square(g), h.rho);
    newSlots.push_back(v);
    Value mom = h.momentum != 0.0 ? slots[next++] : Value();
    Value denom = v;
    Value meanGrad;
    if (h.centered) {
      meanGrad = m.ema(slots[next++], g, h.rho);
      denom = m.sub(v, m.square(meanGrad));
    }
    Value step;
    if (!h.pytorch) {
      // Keras 3: increment = lr g / sqrt(denom + eps).
      Value increment =
          m.div(m.mul(lr, g), m.sqrt(m.add(denom, m.c(h.epsilon))));
      if (mom) {
        Value newMom = m.add(m.mul(m.c(h.momentum), mom), increment);
        newSlots.push_back(newMom);
        step = newMom;
      } else {
        step = increment;
      }
    } else {
      // PyTorch: avg = sqrt(denom) + eps; buf = mu buf + g / avg;
      // w -= lr buf (or lr g / avg without momentum).
      Value avg = m.add(m.sqrt(denom), m.c(h.epsilon));
      if (mom) {
        Value buf = m.add(m.mul(m.c(h.momentum), mom), m.div(g, avg));
        newSlots.push_back(buf);
        step = m.mul(lr, buf);
      } else {
        step = m.div(m.mul(lr, g), avg);
      }
    }
    if (h.centered)
      newSlots.push_back(meanGrad);
    return m.sub(w, step);
  }
  case Optimizer::Adam:
  case Optimizer::AdamW: {
    if (h.kind == Optimizer::AdamW)
      // Decoupled weight decay before the Adam step (Loshchilov & Hutter;
      // Keras and PyTorch both: w <- w - lr wd w).
      w = m.sub(w, m.mul(m.mul(lr, m.c(h.weightDecay)), w));
    Value mNew = m.ema(slots[0], g, h.beta1);
    Value vNew = m.ema(slots[1], m.square(g), h.beta2);
    newSlots.push_back(mNew);
    newSlots.push_back(vNew);
    // Bias corrections are scalars: computed once at rank 0, then spread.
    // PyTorch computes 1 - beta^t in double (Python floats), Keras in the
    // variable's dtype; in f32, 1 - f32(0.999) is 1.3e-5 off 1e-3, which
    // shifts every PyTorch step by ~6e-6 relative.
    auto biasCorrection = [&](double beta) {
      if (!h.pytorch)
        return s.sub(s.c(1.0), s.b.create<PowOp>(s.loc, s.c(beta), t));
      Math d(s.b, s.loc, cast<RankedTensorType>(t64.getType()));
      Value exact = d.sub(d.c(1.0), s.b.create<PowOp>(s.loc, d.c(beta), t64));
      return exact.getType() == s.type
                 ? exact
                 : s.b.create<ConvertOp>(s.loc, s.type, exact).getResult();
    };
    Value bias1 = biasCorrection(h.beta1);
    Value bias2 = biasCorrection(h.beta2);
    if (!h.pytorch) {
      // Keras ("epsilon hat"): alpha = lr sqrt(1 - b2^t) / (1 - b1^t);
      // w <- w - alpha m / (sqrt(v) + eps).
      Value alpha = m.spread(s.div(s.mul(lrScalar, s.sqrt(bias2)), bias1));
      return m.sub(
          w, m.div(m.mul(alpha, mNew), m.add(m.sqrt(vNew), m.c(h.epsilon))));
    }
    // PyTorch (torch.optim.Adam, = Kingma & Ba): denom = sqrt(v) /
    // sqrt(1 - b2^t) + eps; w <- w - lr / (1 - b1^t) * m / denom.
    Value stepSize = m.spread(s.div(lrScalar, bias1));
    Value invRoot = m.spread(s.div(s.c(1.0), s.sqrt(bias2)));
    Value denom = m.add(m.mul(m.sqrt(vNew), invRoot), m.c(h.epsilon));
    return m.sub(w, m.div(m.mul(stepSize, mNew), denom));
  }
  case Optimizer::Adagrad: {
    Value acc = m.add(slots[0], m.square(g));
    newSlots.push_back(acc);
    Value denom = h.pytorch ? m.add(m.sqrt(acc), m.c(h.epsilon))
                            : m.sqrt(m.add(acc, m.c(h.epsilon)));
    return m.sub(w, m.div(m.mul(lr, g), denom));
  }
  }
  return w;
}

/// Clones the body of `source` into `builder`'s block with the arguments
/// mapped to `arguments`; returns the mapped return operands. When
/// `inference`, ops with InferenceFormOpInterface (dropout) are cloned in
/// their inference form.
SmallVector<Value> inlineBody(OpBuilder &builder, func::FuncOp source,
                              ValueRange arguments, bool inference) {
  IRMapping mapping;
  Block &body = source.getBody().front();
  mapping.map(body.getArguments(), arguments);
  SmallVector<Value> results;
  for (Operation &op : body) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (Value v : ret.getOperands())
        results.push_back(mapping.lookup(v));
      break;
    }
    Operation *clone = builder.clone(op, mapping);
    if (auto form = dyn_cast<InferenceFormOpInterface>(clone);
        form && inference) {
      SmallVector<Value> replacements;
      form.buildInferenceForm(builder, replacements);
      mapping.map(op.getResults(), replacements);
      clone->erase();
    }
  }
  return results;
}

struct KilnAttachOptimizerPass
    : public kiln::impl::KilnAttachOptimizerPassBase<KilnAttachOptimizerPass> {
  using KilnAttachOptimizerPassBase::KilnAttachOptimizerPassBase;

  void runOnOperation() override {
    if (failed(attach()))
      signalPassFailure();
  }

  /// The pass options as an OptimizerConfig, checked and resolved by the
  /// one function of compiler/TrainingConfig.h. An option that differs
  /// from its default counts as given, so that one the optimizer does not
  /// read is an error (the generated pass constructor marks every option
  /// as having a value, so hasValue() cannot tell). A negative epsilon,
  /// weight_decay or initial_accumulator_value is the convention's default.
  FailureOr<Hyper> resolve(ModuleOp module) {
    OptimizerConfig config;
    const OptimizerConfig defaults;
    config.name = optimizer;
    auto give = [&](StringRef key, double value, double unset) {
      if (value != unset)
        llvm::cantFail(config.set(key, value));
    };
    give("momentum", momentum, defaults.momentum);
    give("nesterov", nesterov ? 1.0 : 0.0, defaults.nesterov ? 1.0 : 0.0);
    give("rho", rho, defaults.rho);
    give("centered", centered ? 1.0 : 0.0, defaults.centered ? 1.0 : 0.0);
    give("beta_1", beta1, defaults.beta1);
    give("beta_2", beta2, defaults.beta2);
    if (epsilon >= 0.0)
      give("epsilon", epsilon, -1.0);
    if (weightDecay >= 0.0)
      give("weight_decay", weightDecay, -1.0);
    if (initialAccumulatorValue >= 0.0)
      give("initial_accumulator_value", initialAccumulatorValue, -1.0);
    give("clipvalue", clipValue, defaults.clipValue);
    give("global_clipnorm", globalClipNorm, defaults.globalClipNorm);
    llvm::Expected<Hyper> h = resolveOptimizer(config, convention);
    if (!h)
      return mlir::emitError(module.getLoc(), "kiln-attach-optimizer: ")
             << llvm::toString(h.takeError());
    return *h;
  }

  /// `value` (a stored slot of the parameter's shape) in the element type
  /// of `type`, rounded to nearest.
  static DenseElementsAttr convertTo(DenseElementsAttr value,
                                     RankedTensorType type) {
    if (value.getType().getElementType() == type.getElementType())
      return value;
    const llvm::fltSemantics &to =
        cast<FloatType>(type.getElementType()).getFloatSemantics();
    SmallVector<APFloat> converted;
    for (APFloat v : value.getValues<APFloat>()) {
      bool lost;
      v.convert(to, APFloat::rmNearestTiesToEven, &lost);
      converted.push_back(v);
    }
    return DenseElementsAttr::get(type, converted);
  }

  /// The Keras 2 names of kiln's slot `slot` of optimizer `h`: the legacy
  /// optimizers' add_slot names (`legacy`) or the TF 2.11+ optimizers'
  /// add_variable_from_reference names (tf_keras/optimizers/*.py).
  static StringRef keras2SlotName(const Hyper &h, StringRef slot, bool legacy) {
    if (slot == "mean_square")
      return legacy ? "rms" : "velocity";
    if (slot == "mean_gradient")
      return legacy ? "mg" : "average_gradient";
    if (slot == "momentum" && h.kind == Optimizer::SGD)
      return legacy ? "momentum" : "m";
    return slot; // m, v, momentum (RMSprop), accumulator
  }

  /// Maps a Keras 2 optimizer state (`kiln.keras_optimizer_state` with
  /// `slots`: "<param>:<Keras slot name>" -> values, and `slot_names`: the
  /// same keys -> the HDF5 weight name, from
  /// KerasImporter::loadKeras2OptimizerState) to kiln's slots. Every slot
  /// of every trainable parameter must be there and every stored slot
  /// used. Legacy RMSprop without momentum and legacy Adagrad divide by
  /// sqrt(v) + eps (eps outside the square root, tf.raw_ops
  /// ResourceApplyAdagradV2 and optimizer_v2/rmsprop.py), not Keras 3's
  /// sqrt(v + eps): their state is refused.
  LogicalResult
  mapKeras2State(ModuleOp module, DictionaryAttr state, const Hyper &h,
                 func::FuncOp lossFunc, ArrayRef<unsigned> trainable,
                 ArrayRef<StringRef> slots,
                 SmallVectorImpl<SmallVector<DenseElementsAttr>> &stored,
                 double &initialStep) {
    auto source = state.getAs<StringAttr>("source");
    auto iterations = state.getAs<IntegerAttr>("iterations");
    auto named = state.getAs<DictionaryAttr>("slots");
    auto names = state.getAs<DictionaryAttr>("slot_names");
    auto legacyAttr = state.getAs<BoolAttr>("legacy");
    if (!source || !iterations || !named || !names || !legacyAttr ||
        !llvm::all_of(named, [](NamedAttribute a) {
          return isa<DenseElementsAttr>(a.getValue());
        }))
      return mlir::emitError(module.getLoc(),
                             "kiln-attach-optimizer: kiln.keras_optimizer_"
                             "state with slots must hold source, iterations, "
                             "slots (dense elements), slot_names and legacy");
    bool legacy = legacyAttr.getValue();
    auto fail = [&]() {
      return mlir::emitError(module.getLoc())
             << "stored optimizer state (" << source.getValue() << "): ";
    };
    const char *fresh =
        " (kilnc --no-optimizer-state starts the optimizer fresh)";
    auto nameOf = [&](StringRef key) {
      auto n = names.getAs<StringAttr>(key);
      return n ? n.getValue().str() : key.str();
    };
    if (named.empty() && iterations.getInt() == 0)
      return success();
    if (h.pytorch && !slots.empty())
      return fail() << "it continues Keras' " << optimizer.getValue()
                    << " update; convention=pytorch keeps other slots" << fresh;
    if (legacy && ((h.kind == Optimizer::RMSprop && h.momentum == 0.0) ||
                   h.kind == Optimizer::Adagrad))
      return fail() << "Keras 2's legacy " << optimizer.getValue()
                    << (h.kind == Optimizer::RMSprop ? " without momentum" : "")
                    << " divides by sqrt(v) + eps, kiln's Keras update by "
                       "sqrt(v + eps): the stored state would not continue "
                       "the same training"
                    << fresh;
    llvm::StringSet<> used;
    for (unsigned i : trainable) {
      auto name = getArgAttr<KilnDialect::ParamAttrHelper>(lossFunc, i);
      auto type = cast<RankedTensorType>(lossFunc.getArgumentTypes()[i]);
      SmallVector<DenseElementsAttr> values;
      for (StringRef slot : slots) {
        StringRef kerasSlot = keras2SlotName(h, slot, legacy);
        std::string key = (name.getValue() + ":" + kerasSlot).str();
        auto value = named.getAs<DenseElementsAttr>(key);
        if (!value)
          return fail() << "no '" << kerasSlot << "' slot of '"
                        << name.getValue() << "' among the optimizer weights ("
                        << optimizer.getValue() << " keeps "
                        << llvm::join(
                               llvm::map_range(
                                   slots,
                                   [&](StringRef s) {
                                     return keras2SlotName(h, s, legacy).str();
                                   }),
                               ", ")
                        << " per parameter)" << fresh;
        used.insert(key);
        auto valueType = cast<RankedTensorType>(value.getType());
        if (valueType.getShape() != type.getShape())
          return fail() << "the optimizer weight '" << nameOf(key)
                        << "' has shape " << shapeText(valueType.getShape())
                        << ", the slot '" << name.getValue() << "/" << slot
                        << "' has shape " << shapeText(type.getShape());
        values.push_back(convertTo(value, type));
      }
      stored.push_back(std::move(values));
    }
    for (NamedAttribute entry : named)
      if (!used.contains(entry.getName().getValue()))
        return fail() << "the optimizer weight '"
                      << nameOf(entry.getName().getValue())
                      << "' is not a slot " << optimizer.getValue()
                      << " keeps for a trainable parameter" << fresh;
    initialStep = static_cast<double>(iterations.getInt());
    return success();
  }

  /// Maps a Keras 3 optimizer state (`kiln.keras_optimizer_state`, from
  /// KerasImporter::loadOptimizerState: `variables` = optimizer/vars/1...,
  /// `params` = the trainable parameters in Keras' order) to kiln's slots:
  /// fills `stored[k][s]` (trainable index k, slot s of getSlots) with the
  /// values converted to the parameter's type, and `initialStep` with
  /// Keras' `iterations`. Keras 3 layout (base_optimizer.py, adam.py, ...):
  /// `iteration`, `learning_rate` (absent with a schedule), then the slots:
  /// Adam / AdamW per parameter (m, v; add_optimizer_variables interleaves
  /// them), RMSprop per kind (every velocity, then every momentum, then
  /// every average_gradient), SGD every momentum, Adagrad every
  /// accumulator. Keras' slots hold what kiln's Keras convention holds
  /// (docs/spec.md, Optimizers). Errors name the variable path.
  LogicalResult
  mapKerasState(ModuleOp module, DictionaryAttr state, const Hyper &h,
                func::FuncOp lossFunc, ArrayRef<unsigned> trainable,
                ArrayRef<StringRef> slots,
                SmallVectorImpl<SmallVector<DenseElementsAttr>> &stored,
                double &initialStep) {
    auto source = state.getAs<StringAttr>("source");
    auto iterations = state.getAs<IntegerAttr>("iterations");
    auto params = state.getAs<ArrayAttr>("params");
    auto variables = state.getAs<ArrayAttr>("variables");
    if (!source || !iterations || !params || !variables ||
        !llvm::all_of(params, [](Attribute a) { return isa<StringAttr>(a); }) ||
        !llvm::all_of(variables,
                      [](Attribute a) { return isa<DenseElementsAttr>(a); }))
      return mlir::emitError(module.getLoc(),
                             "kiln-attach-optimizer: kiln.keras_optimizer_"
                             "state must hold source (a string), iterations "
                             "(an integer), params (strings) and variables "
                             "(dense elements)");
    auto fail = [&]() {
      return mlir::emitError(module.getLoc())
             << "stored optimizer state (" << source.getValue() << "): ";
    };
    const char *fresh =
        " (kilnc --no-optimizer-state starts the optimizer fresh)";
    size_t numParams = trainable.size(), numSlots = slots.size();
    size_t expected = numParams * numSlots, count = variables.size();
    // An optimizer Keras never built (compiled, not trained) saved only
    // `iteration` and `learning_rate`: nothing to continue from.
    if (expected > 0 && count <= 1 && iterations.getInt() == 0)
      return success();
    if (h.pytorch && numSlots > 0)
      return fail() << "it continues Keras' " << optimizer.getValue()
                    << " update; convention=pytorch keeps other slots" << fresh;
    if (params.size() != numParams)
      return fail() << "the model has " << numParams
                    << " trainable parameters, the Keras order lists "
                    << params.size();
    std::string slotText;
    for (StringRef slot : slots)
      slotText += (slotText.empty() ? "" : ", ") + slot.str();
    std::string layout =
        "(iteration, learning_rate, then " +
        (numSlots ? slotText + " of each parameter" : std::string("no slots")) +
        ")";
    if (count != expected + 1 && count != expected)
      return fail() << "'optimizer/vars' holds " << count + 1 << " variables; "
                    << optimizer.getValue() << " over the model's " << numParams
                    << " trainable parameters has " << expected + 2 << " "
                    << layout << ", or " << expected + 1
                    << " with a learning-rate schedule" << fresh;
    // One variable short of the layout with a learning_rate looks like the
    // layout of a schedule: a scalar where the first slot (of Keras' first
    // trainable parameter) is not one is a missing variable.
    if (count == expected && count > 0 &&
        cast<DenseElementsAttr>(variables[0]).getType().getRank() == 0)
      for (unsigned i : trainable)
        if (auto name = getArgAttr<KilnDialect::ParamAttrHelper>(lossFunc, i);
            name && name == params[0] &&
            cast<RankedTensorType>(lossFunc.getArgumentTypes()[i]).getRank() !=
                0)
          return fail() << "'optimizer/vars' holds " << count + 1
                        << " variables and 'optimizer/vars/1' is a scalar: "
                           "one short of the "
                        << expected + 2 << " of " << optimizer.getValue()
                        << " over the model's " << numParams
                        << " trainable parameters " << layout << fresh;
    size_t first = count - expected; // 1 with learning_rate, else 0
    if (first == 1 &&
        cast<DenseElementsAttr>(variables[0]).getType().getRank() != 0)
      return fail()
             << "'optimizer/vars/1' (the learning rate) has shape "
             << shapeText(
                    cast<DenseElementsAttr>(variables[0]).getType().getShape())
             << ", expected a scalar";
    llvm::StringMap<size_t> position;
    for (auto [p, name] : llvm::enumerate(params))
      position[cast<StringAttr>(name).getValue()] = p;
    bool interleaved = h.kind == Optimizer::Adam || h.kind == Optimizer::AdamW;
    for (unsigned i : trainable) {
      auto name = getArgAttr<KilnDialect::ParamAttrHelper>(lossFunc, i);
      auto found = name ? position.find(name.getValue()) : position.end();
      if (found == position.end())
        return fail() << "the trainable parameter '"
                      << (name ? name.getValue() : StringRef("?"))
                      << "' has no place in Keras' trainable variables"
                      << fresh;
      size_t p = found->second;
      auto type = cast<RankedTensorType>(lossFunc.getArgumentTypes()[i]);
      SmallVector<DenseElementsAttr> values;
      for (auto [s, slot] : llvm::enumerate(slots)) {
        size_t index =
            first + (interleaved ? p * numSlots + s : s * numParams + p);
        auto value = cast<DenseElementsAttr>(variables[index]);
        auto valueType = cast<RankedTensorType>(value.getType());
        if (valueType.getShape() != type.getShape())
          return fail() << "the variable 'optimizer/vars/" << index + 1
                        << "' has shape " << shapeText(valueType.getShape())
                        << ", the slot '" << name.getValue() << "/" << slot
                        << "' has shape " << shapeText(type.getShape());
        value = convertTo(value, type);
        values.push_back(value);
      }
      stored.push_back(std::move(values));
    }
    initialStep = static_cast<double>(iterations.getInt());
    return success();
  }

  static std::string shapeText(ArrayRef<int64_t> shape) {
    std::string text = "[";
    for (size_t i = 0; i < shape.size(); ++i)
      text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + "]";
  }

  LogicalResult attach() {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    FailureOr<Hyper> hyper = resolve(module);
    if (failed(hyper))
      return failure();
    const Hyper &h = *hyper;
    auto lossFunc = module.lookupSymbol<func::FuncOp>("loss");
    auto gradFunc = module.lookupSymbol<func::FuncOp>("loss_grad");
    // The forward function kiln-attach-loss started from.
    auto forwardName = lossFunc
                           ? getOpAttr<KilnDialect::ForwardAttrHelper>(lossFunc)
                           : StringAttr();
    auto forward = module.lookupSymbol<func::FuncOp>(
        forwardName ? forwardName.getValue() : "forward");
    if (!forward || !lossFunc || !gradFunc)
      return mlir::emitError(module.getLoc(),
                             "kiln-attach-optimizer needs the forward "
                             "function, @loss (kiln-attach-loss) and "
                             "@loss_grad (kiln-derive-gradients with "
                             "function=loss)");
    for (StringRef name : {"train_step", "eval_step", "predict"})
      if (module.lookupSymbol(name))
        return mlir::emitError(module.getLoc(),
                               "kiln-attach-optimizer: the module already "
                               "has a symbol @")
               << name;
    Location loc = lossFunc.getLoc();
    OpBuilder mb(ctx);
    mb.setInsertionPointToEnd(module.getBody());

    // Argument classes of @loss: parameters (kiln.param), the rest (inputs,
    // labels, sample weights) in order.
    unsigned numLossArgs = lossFunc.getNumArguments();
    // @loss returns (loss, partials..., state updates...); each state update
    // names the state argument it replaces (kiln.state_update_of).
    SmallVector<std::pair<unsigned, unsigned>> stateUpdates; // (result, arg)
    for (unsigned r = 0, e = lossFunc.getNumResults(); r < e; ++r)
      if (auto of =
              getResultAttr<KilnDialect::StateUpdateOfAttrHelper>(lossFunc, r))
        stateUpdates.push_back({r, static_cast<unsigned>(of.getInt())});
    unsigned numPartials = lossFunc.getNumResults() - 1 - stateUpdates.size();
    SmallVector<unsigned> paramArgs, dataArgs;
    // The dropout counter (an argument marked kiln.step) is not an input of
    // the entry points: train_step feeds it the step counter, eval_step and
    // predict do not use it.
    for (unsigned i = 0; i < numLossArgs; ++i) {
      if (hasArgAttr<KilnDialect::StepAttrHelper>(lossFunc, i))
        continue;
      (hasArgAttr<KilnDialect::ParamAttrHelper>(lossFunc, i) ? paramArgs
                                                             : dataArgs)
          .push_back(i);
    }
    // Trainable parameters, in the order @loss_grad returns gradients.
    SmallVector<unsigned> trainable;
    for (unsigned r = lossFunc.getNumResults(); r < gradFunc.getNumResults();
         ++r) {
      auto of = getResultAttr<KilnDialect::GradientOfAttrHelper>(gradFunc, r);
      if (!of)
        return gradFunc.emitError("kiln-attach-optimizer: gradient result ")
               << r << " has no kiln.gradient_of attribute";
      trainable.push_back(of.getInt());
    }
    for (unsigned i : trainable)
      if (!isa<FloatType>(cast<RankedTensorType>(lossFunc.getArgumentTypes()[i])
                              .getElementType()))
        return lossFunc.emitError("kiln-attach-optimizer: trainable "
                                  "argument ")
               << i << " is not a floating-point tensor";
    // The optimizer updates parameters in the params region, by name; a
    // trainable input (what kiln-derive-gradients alone allows) is not one.
    for (unsigned i : trainable)
      if (!hasArgAttr<KilnDialect::ParamAttrHelper>(lossFunc, i))
        return lossFunc.emitError("kiln-attach-optimizer: trainable "
                                  "argument ")
               << i
               << " has no 'kiln.param' name: the optimizer updates "
                  "named parameters only";

    // --- @train_step signature.
    SmallVector<Type> argTypes;
    SmallVector<DictionaryAttr> argAttrs;
    auto dict = [&](ArrayRef<NamedAttribute> attrs) {
      return DictionaryAttr::get(ctx, attrs);
    };
    auto str = [&](StringRef s) { return StringAttr::get(ctx, s); };
    for (unsigned i : paramArgs) {
      argTypes.push_back(lossFunc.getArgumentTypes()[i]);
      argAttrs.push_back(lossFunc.getArgAttrDict(i));
    }
    SmallVector<StringRef> slots = getSlots(h);
    // A Keras file's stored optimizer state: each slot's initial values
    // (by trainable index, then slot) and the step counter.
    SmallVector<SmallVector<DenseElementsAttr>> stored;
    double initialStep = 0.0;
    if (auto state =
            getOpAttr<KilnDialect::KerasOptimizerStateAttrHelper>(module))
      if (failed(state.get("slots")
                     ? mapKeras2State(module, state, h, lossFunc, trainable,
                                      slots, stored, initialStep)
                     : mapKerasState(module, state, h, lossFunc, trainable,
                                     slots, stored, initialStep)))
        return failure();
    unsigned firstState = argTypes.size();
    for (auto [k, i] : llvm::enumerate(trainable)) {
      auto name = getArgAttr<KilnDialect::ParamAttrHelper>(lossFunc, i);
      std::string base =
          name ? name.getValue().str() : "arg" + std::to_string(i);
      for (auto [s, slot] : llvm::enumerate(slots)) {
        argTypes.push_back(lossFunc.getArgumentTypes()[i]);
        double init = slot == "accumulator" ? h.initialAccumulator : 0.0;
        SmallVector<NamedAttribute> attrs = {
            namedAttr<KilnDialect::OptStateAttrHelper>(
                str(base + "/" + slot.str())),
            namedAttr<KilnDialect::InitialValueAttrHelper>(
                mb.getF64FloatAttr(init))};
        if (!stored.empty())
          attrs.push_back(namedAttr<KilnDialect::InitAttrHelper>(stored[k][s]));
        argAttrs.push_back(dict(attrs));
      }
    }
    auto f64Scalar = RankedTensorType::get({}, mb.getF64Type());
    unsigned stepArg = argTypes.size();
    argTypes.push_back(f64Scalar);
    argAttrs.push_back(
        dict({namedAttr<KilnDialect::OptStateAttrHelper>(str("step")),
              namedAttr<KilnDialect::InitialValueAttrHelper>(
                  mb.getF64FloatAttr(initialStep))}));
    unsigned firstData = argTypes.size();
    for (unsigned i : dataArgs) {
      argTypes.push_back(lossFunc.getArgumentTypes()[i]);
      argAttrs.push_back(lossFunc.getArgAttrDict(i));
    }
    auto lossType = cast<RankedTensorType>(lossFunc.getResultTypes()[0]);
    unsigned lrArg = argTypes.size();
    argTypes.push_back(lossType);
    argAttrs.push_back(
        dict({namedAttr<KilnDialect::NameAttrHelper>(str("learning_rate"))}));

    auto train = mb.create<func::FuncOp>(loc, "train_step",
                                         FunctionType::get(ctx, argTypes, {}));
    Block *body = train.addEntryBlock();
    OpBuilder b = OpBuilder::atBlockEnd(body);

    // Forward + backward: @loss_grad inlined, its arguments mapped back.
    SmallVector<Value> gradArgs(numLossArgs);
    for (auto [k, i] : llvm::enumerate(paramArgs))
      gradArgs[i] = body->getArgument(k);
    for (auto [k, i] : llvm::enumerate(dataArgs))
      gradArgs[i] = body->getArgument(firstData + k);
    for (unsigned i = 0; i < numLossArgs; ++i)
      if (hasArgAttr<KilnDialect::StepAttrHelper>(lossFunc,
                                                  i)) // the dropout counter
        gradArgs[i] = b.create<ConvertOp>(
            loc, cast<RankedTensorType>(lossFunc.getArgumentTypes()[i]),
            body->getArgument(stepArg));
    SmallVector<Value> outs = inlineBody(b, gradFunc, gradArgs, false);
    SmallVector<Value> grads(outs.begin() + lossFunc.getNumResults(),
                             outs.end());

    auto updateOf = [&](unsigned arg) {
      return dict({namedAttr<KilnDialect::UpdateOfAttrHelper>(
          mb.getI64IntegerAttr(arg))});
    };
    // Clipping and the optimizer update of every trainable parameter from
    // `grads`, in the function whose entry block is `body` (its arguments
    // start with the params, the slots and the step, as @train_step's; the
    // learning rate is argument `lrArg`). Appends the updated parameters
    // and slots to `results`; returns the new step counter.
    auto emitUpdate = [&](OpBuilder &b, Block *body, SmallVector<Value> grads,
                          unsigned lrArg, SmallVectorImpl<Value> &results,
                          SmallVectorImpl<DictionaryAttr> &resultAttrs) {
      // Gradient clipping.
      if (h.clipValue > 0.0)
        for (Value &g : grads) {
          Math m(b, loc, cast<RankedTensorType>(g.getType()));
          g = b.create<MinimumOp>(
              loc, b.create<MaximumOp>(loc, g, m.c(-h.clipValue)),
              m.c(h.clipValue));
        }
      if (h.globalClipNorm > 0.0 && !grads.empty()) {
        // scale = c / max(c, sqrt(sum of squares)), in the loss's type.
        Math s(b, loc, lossType);
        Value sumSquares = s.c(0.0);
        for (Value g : grads) {
          auto t = cast<RankedTensorType>(g.getType());
          SmallVector<int64_t> axes =
              llvm::to_vector(llvm::seq<int64_t>(0, t.getRank()));
          Value sq = b.create<SquareOp>(loc, g);
          Value part = b.create<ReduceSumOp>(loc, sq, axes, false);
          if (part.getType() != lossType)
            part = b.create<ConvertOp>(loc, lossType, part);
          sumSquares = s.add(sumSquares, part);
        }
        Value norm = s.sqrt(sumSquares);
        Value scale =
            s.div(s.c(h.globalClipNorm),
                  b.create<MaximumOp>(loc, norm, s.c(h.globalClipNorm)));
        for (Value &g : grads) {
          auto t = cast<RankedTensorType>(g.getType());
          Value sc = scale;
          if (t.getElementType() != lossType.getElementType())
            sc = b.create<ConvertOp>(loc, lossType.clone(t.getElementType()),
                                     sc);
          g = b.create<MulOp>(loc, g, Math(b, loc, t).spread(sc));
        }
      }

      // The step counter: t = step + 1 (the first update uses t = 1).
      Math stepMath(b, loc, f64Scalar);
      Value newStep = stepMath.add(body->getArgument(stepArg), stepMath.c(1.0));

      unsigned stateArg = firstState;
      for (auto [k, i] : llvm::enumerate(trainable)) {
        unsigned paramIndex = std::find(paramArgs.begin(), paramArgs.end(), i) -
                              paramArgs.begin();
        Value w = body->getArgument(paramIndex);
        auto type = cast<RankedTensorType>(w.getType());
        Math m(b, loc, type);
        auto scalarType = RankedTensorType::get({}, type.getElementType());
        Math sm(b, loc, scalarType);
        auto toScalar = [&](Value scalar) {
          return scalar.getType() == scalarType
                     ? scalar
                     : b.create<ConvertOp>(loc, scalarType, scalar).getResult();
        };
        Value lrScalar = toScalar(body->getArgument(lrArg));
        Value lr = m.spread(lrScalar);
        Value t = toScalar(newStep);
        ValueRange slotValues =
            body->getArguments().slice(stateArg, slots.size());
        SmallVector<Value> newSlots;
        Value newW = buildUpdate(m, sm, h, w, grads[k], slotValues, lrScalar,
                                 lr, t, newStep, newSlots);
        results.push_back(newW);
        resultAttrs.push_back(updateOf(paramIndex));
        for (auto [s, v] : llvm::enumerate(newSlots)) {
          results.push_back(v);
          resultAttrs.push_back(updateOf(stateArg + s));
        }
        stateArg += slots.size();
      }
      return newStep;
    };
    SmallVector<Value> results(outs.begin(), outs.begin() + 1 + numPartials);
    SmallVector<DictionaryAttr> resultAttrs;
    for (unsigned r = 0; r <= numPartials; ++r)
      resultAttrs.push_back(lossFunc.getResultAttrDict(r));
    Value newStep = emitUpdate(b, body, grads, lrArg, results, resultAttrs);
    // Non-trainable state: the forward pass's new value, written in place
    // like the parameters (the optimizer never touches it).
    for (auto [r, arg] : stateUpdates) {
      unsigned paramIndex = std::find(paramArgs.begin(), paramArgs.end(), arg) -
                            paramArgs.begin();
      if (paramIndex == paramArgs.size())
        return lossFunc.emitError("kiln-attach-optimizer: result ")
               << r << " updates argument " << arg
               << ", which is not a parameter";
      results.push_back(outs[r]);
      resultAttrs.push_back(updateOf(paramIndex));
    }
    results.push_back(newStep);
    resultAttrs.push_back(updateOf(stepArg));
    b.create<func::ReturnOp>(loc, results);
    SmallVector<Type> resultTypes;
    for (Value v : results)
      resultTypes.push_back(v.getType());
    train.setFunctionType(FunctionType::get(ctx, argTypes, resultTypes));
    train.setAllArgAttrs(argAttrs);
    train.setAllResultAttrs(resultAttrs);
    setOpAttr<KilnDialect::PartialsAttrHelper>(
        train, getOpAttr<KilnDialect::PartialsAttrHelper>(lossFunc));
    setOpAttr<KilnDialect::MetricsAttrHelper>(
        train, getOpAttr<KilnDialect::MetricsAttrHelper>(lossFunc));
    setOpAttr<KilnDialect::OptimizerAttrHelper>(train, str(optimizer));

    // --- @grad_step and @apply_step (data-parallel=true): @train_step cut
    // between the gradients and the update, so that a driver can sum the
    // gradients of several processes in between (docs/architecture.md,
    // "Data-parallel training"). @grad_step takes the params and the data
    // (and the dropout counter as an input, so that each process draws its
    // own masks) and returns the loss, the partials, one gradient per
    // trainable parameter (named grad/<param>, consecutive in the io
    // region) and writes the state updates in place; @apply_step takes the
    // params, the optimizer state and step of @train_step in the same
    // order (so both regions keep @train_step's layout), the gradients and
    // the learning rate, and clips and applies them.
    if (dataParallel) {
      auto paramName = [&](unsigned i) {
        auto name = getArgAttr<KilnDialect::ParamAttrHelper>(lossFunc, i);
        return name ? name.getValue().str() : "arg" + std::to_string(i);
      };
      auto named = [&](const std::string &name) {
        return dict({namedAttr<KilnDialect::NameAttrHelper>(str(name))});
      };
      SmallVector<Type> gTypes;
      SmallVector<DictionaryAttr> gAttrs;
      for (unsigned i : paramArgs) {
        gTypes.push_back(lossFunc.getArgumentTypes()[i]);
        gAttrs.push_back(lossFunc.getArgAttrDict(i));
      }
      for (unsigned i : dataArgs) {
        gTypes.push_back(lossFunc.getArgumentTypes()[i]);
        gAttrs.push_back(lossFunc.getArgAttrDict(i));
      }
      bool hasCounter = false;
      for (unsigned i = 0; i < numLossArgs; ++i)
        hasCounter |= hasArgAttr<KilnDialect::StepAttrHelper>(lossFunc, i);
      if (hasCounter) {
        gTypes.push_back(f64Scalar);
        gAttrs.push_back(named("dropout_counter"));
      }
      auto gradStep = mb.create<func::FuncOp>(
          loc, "grad_step", FunctionType::get(ctx, gTypes, {}));
      Block *gBody = gradStep.addEntryBlock();
      OpBuilder gb = OpBuilder::atBlockEnd(gBody);
      SmallVector<Value> gArgs(numLossArgs);
      for (auto [k, i] : llvm::enumerate(paramArgs))
        gArgs[i] = gBody->getArgument(k);
      for (auto [k, i] : llvm::enumerate(dataArgs))
        gArgs[i] = gBody->getArgument(paramArgs.size() + k);
      for (unsigned i = 0; i < numLossArgs; ++i)
        if (hasArgAttr<KilnDialect::StepAttrHelper>(lossFunc, i))
          gArgs[i] = gb.create<ConvertOp>(
              loc, cast<RankedTensorType>(lossFunc.getArgumentTypes()[i]),
              gBody->getArguments().back());
      SmallVector<Value> gOuts = inlineBody(gb, gradFunc, gArgs, false);
      SmallVector<Value> gResults(gOuts.begin(),
                                  gOuts.begin() + 1 + numPartials);
      SmallVector<DictionaryAttr> gResultAttrs;
      for (unsigned r = 0; r <= numPartials; ++r)
        gResultAttrs.push_back(lossFunc.getResultAttrDict(r));
      for (auto [k, i] : llvm::enumerate(trainable)) {
        gResults.push_back(gOuts[lossFunc.getNumResults() + k]);
        gResultAttrs.push_back(named("grad/" + paramName(i)));
      }
      for (auto [r, arg] : stateUpdates) {
        unsigned paramIndex =
            std::find(paramArgs.begin(), paramArgs.end(), arg) -
            paramArgs.begin();
        gResults.push_back(gOuts[r]);
        gResultAttrs.push_back(updateOf(paramIndex));
      }
      gb.create<func::ReturnOp>(loc, gResults);
      SmallVector<Type> gResultTypes;
      for (Value v : gResults)
        gResultTypes.push_back(v.getType());
      gradStep.setFunctionType(FunctionType::get(ctx, gTypes, gResultTypes));
      gradStep.setAllArgAttrs(gAttrs);
      gradStep.setAllResultAttrs(gResultAttrs);
      setOpAttr<KilnDialect::PartialsAttrHelper>(
          gradStep, getOpAttr<KilnDialect::PartialsAttrHelper>(lossFunc));
      setOpAttr<KilnDialect::MetricsAttrHelper>(
          gradStep, getOpAttr<KilnDialect::MetricsAttrHelper>(lossFunc));

      SmallVector<Type> aTypes(argTypes.begin(), argTypes.begin() + firstData);
      SmallVector<DictionaryAttr> aAttrs(argAttrs.begin(),
                                         argAttrs.begin() + firstData);
      for (unsigned i : trainable) {
        aTypes.push_back(lossFunc.getArgumentTypes()[i]);
        aAttrs.push_back(named("grad/" + paramName(i)));
      }
      unsigned aLrArg = aTypes.size();
      aTypes.push_back(lossType);
      aAttrs.push_back(named("learning_rate"));
      auto applyStep = mb.create<func::FuncOp>(
          loc, "apply_step", FunctionType::get(ctx, aTypes, {}));
      Block *aBody = applyStep.addEntryBlock();
      OpBuilder ab = OpBuilder::atBlockEnd(aBody);
      SmallVector<Value> aGrads(
          aBody->getArguments().slice(firstData, trainable.size()));
      SmallVector<Value> aResults;
      SmallVector<DictionaryAttr> aResultAttrs;
      Value aStep =
          emitUpdate(ab, aBody, aGrads, aLrArg, aResults, aResultAttrs);
      aResults.push_back(aStep);
      aResultAttrs.push_back(updateOf(stepArg));
      ab.create<func::ReturnOp>(loc, aResults);
      SmallVector<Type> aResultTypes;
      for (Value v : aResults)
        aResultTypes.push_back(v.getType());
      applyStep.setFunctionType(FunctionType::get(ctx, aTypes, aResultTypes));
      applyStep.setAllArgAttrs(aAttrs);
      applyStep.setAllResultAttrs(aResultAttrs);
      setOpAttr<KilnDialect::OptimizerAttrHelper>(applyStep, str(optimizer));
    }

    // --- @eval_step and @predict: the loss and the forward pass with
    // dropout as the identity. They read state and do not update it: the
    // state-update results are dropped, and so is the loss mask (Keras'
    // predict returns the outputs, not their masks).
    auto cloneInference = [&](func::FuncOp source, StringRef name) {
      SmallVector<unsigned> keptResults;
      SmallVector<Type> resultTypes;
      SmallVector<Attribute> resultAttrs;
      for (unsigned r = 0; r < source.getNumResults(); ++r)
        if (!hasResultAttr<KilnDialect::StateUpdateOfAttrHelper>(source, r) &&
            !hasResultAttr<KilnDialect::LossMaskAttrHelper>(source, r)) {
          keptResults.push_back(r);
          resultTypes.push_back(source.getResultTypes()[r]);
          DictionaryAttr attrs = source.getResultAttrDict(r);
          resultAttrs.push_back(attrs ? attrs : DictionaryAttr::get(ctx));
        }
      SmallVector<unsigned> kept;
      SmallVector<Type> types;
      SmallVector<DictionaryAttr> attrs;
      for (unsigned i = 0; i < source.getNumArguments(); ++i)
        if (!hasArgAttr<KilnDialect::StepAttrHelper>(source, i) &&
            !hasArgAttr<KilnDialect::SampleWeightAttrHelper>(source, i)) {
          kept.push_back(i);
          types.push_back(source.getArgumentTypes()[i]);
          attrs.push_back(source.getArgAttrDict(i));
        }
      auto fn = mb.create<func::FuncOp>(
          loc, name, FunctionType::get(ctx, types, resultTypes));
      Block *entry = fn.addEntryBlock();
      OpBuilder eb = OpBuilder::atBlockEnd(entry);
      SmallVector<Value> args(source.getNumArguments());
      for (auto [k, i] : llvm::enumerate(kept))
        args[i] = entry->getArgument(k);
      for (unsigned i = 0; i < args.size(); ++i)
        if (!args[i]) {
          // The dropout counter or BatchNorm's sample weights: unused,
          // since dropout is the identity and BatchNorm uses its moving
          // statistics.
          auto type = cast<RankedTensorType>(source.getArgumentTypes()[i]);
          args[i] = eb.create<ConstantOp>(
              loc, DenseElementsAttr::get(
                       type, eb.getZeroAttr(type.getElementType())));
        }
      SmallVector<Value> outs = inlineBody(eb, source, args, true);
      SmallVector<Value> returned;
      for (unsigned r : keptResults)
        returned.push_back(outs[r]);
      eb.create<func::ReturnOp>(loc, returned);
      fn.setAllArgAttrs(attrs);
      if (source.getAllResultAttrs())
        fn.setAllResultAttrs(resultAttrs);
      for (StringRef key : {KilnDialect::PartialsAttrHelper::getNameStr(),
                            KilnDialect::MetricsAttrHelper::getNameStr()})
        if (Attribute attr = source->getAttr(key))
          fn->setAttr(key, attr);
      return fn;
    };
    cloneInference(lossFunc, "eval_step");
    cloneInference(forward, "predict");

    // The building blocks are no longer entry points.
    forward.setPrivate();
    lossFunc.setPrivate();
    gradFunc.setPrivate();
    return success();
  }
};
} // namespace
