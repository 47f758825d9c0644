//===- KilnDialect.cpp - kiln dialect registration ------------------------===//
//
// Registers the kiln ops and interfaces, materializes folded constants as
// kiln.constant, and verifies the stage-protocol attributes (the
// `discardableAttrs` of KilnBase.td) wherever they appear: on function
// arguments and results, on functions and on modules.
//
//===----------------------------------------------------------------------===//

#include "ir/KilnDialect.h"

#include "ir/KilnOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/Transforms/InliningUtils.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::kiln;

#include "ir/KilnDialect.cpp.inc"
#include "ir/KilnEnums.cpp.inc"
#include "ir/KilnInterfaces.cpp.inc"

namespace {
/// Every kiln op is pure and region-free, so calls between kiln functions
/// can always be inlined (kilnc inlines them before lowering).
struct KilnInlinerInterface : public DialectInlinerInterface {
  using DialectInlinerInterface::DialectInlinerInterface;
  bool isLegalToInline(Operation *, Region *, bool, IRMapping &) const final {
    return true;
  }
};
} // namespace

void KilnDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "ir/KilnOps.cpp.inc"
      >();
  addInterfaces<KilnInlinerInterface>();
}

void kiln::registerKilnDialect(DialectRegistry &registry) {
  registry.insert<KilnDialect>();
}

Operation *KilnDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                            Type type, Location loc) {
  auto elements = dyn_cast<ElementsAttr>(value);
  if (!elements || elements.getType() != type)
    return nullptr;
  return builder.create<ConstantOp>(loc, type, elements);
}

//===----------------------------------------------------------------------===//
// Stage-protocol attributes
//===----------------------------------------------------------------------===//

namespace {
/// Where an attribute may appear.
enum class Place { Arg, Result, ArgOrResult, Function, Module };

/// One declared attribute: its generated name, place, and type check.
struct AttrRule {
  StringRef name;
  Place place;
  bool (*hasType)(Attribute);
  const char *typeName;
};

template <typename A> const char *describe();
template <> const char *describe<StringAttr>() { return "a string"; }
template <> const char *describe<UnitAttr>() { return "a unit attribute"; }
template <> const char *describe<FloatAttr>() { return "a float"; }
template <> const char *describe<IntegerAttr>() { return "an integer"; }
template <> const char *describe<ArrayAttr>() { return "an array"; }
template <> const char *describe<DictionaryAttr>() { return "a dictionary"; }
template <> const char *describe<DenseI64ArrayAttr>() {
  return "an array<i64>";
}
template <> const char *describe<DenseElementsAttr>() {
  return "dense elements";
}

template <typename Helper> AttrRule rule(Place place) {
  return {Helper::getNameStr(), place,
          [](Attribute attr) { return isa<AttrOf<Helper>>(attr); },
          describe<AttrOf<Helper>>()};
}

/// Every attribute of the stage protocol and where it belongs
/// (docs/architecture.md, "Stage attributes").
ArrayRef<AttrRule> getRules() {
  using D = KilnDialect;
  static const AttrRule rules[] = {
      rule<D::ParamAttrHelper>(Place::Arg),
      rule<D::TrainableAttrHelper>(Place::Arg),
      rule<D::StateAttrHelper>(Place::Arg),
      rule<D::InitializerAttrHelper>(Place::Arg),
      rule<D::InitAttrHelper>(Place::Arg),
      rule<D::L1AttrHelper>(Place::Arg),
      rule<D::L2AttrHelper>(Place::Arg),
      rule<D::AdaptAttrHelper>(Place::Arg),
      rule<D::IndexRangeAttrHelper>(Place::Arg),
      rule<D::StepAttrHelper>(Place::Arg),
      rule<D::SampleWeightAttrHelper>(Place::Arg),
      rule<D::OptStateAttrHelper>(Place::Arg),
      rule<D::InitialValueAttrHelper>(Place::Arg),
      rule<D::UpdatedAttrHelper>(Place::Arg),
      rule<D::NameAttrHelper>(Place::ArgOrResult),
      rule<D::UpdateOfAttrHelper>(Place::Result),
      rule<D::GradientOfAttrHelper>(Place::Result),
      rule<D::StateUpdateOfAttrHelper>(Place::Result),
      rule<D::LossMaskAttrHelper>(Place::Result),
      rule<D::ForwardAttrHelper>(Place::Function),
      rule<D::PartialsAttrHelper>(Place::Function),
      rule<D::MetricsAttrHelper>(Place::Function),
      rule<D::OptimizerAttrHelper>(Place::Function),
      rule<D::NumInputsAttrHelper>(Place::Function),
      rule<D::OutputNamesAttrHelper>(Place::Function),
      rule<D::AbiAttrHelper>(Place::Function),
      rule<D::ModelNameAttrHelper>(Place::Module),
      rule<D::CompileConfigAttrHelper>(Place::Module),
      rule<D::LayersAttrHelper>(Place::Module),
      rule<D::KerasVariablesAttrHelper>(Place::Module),
      rule<D::KerasOptimizerStateAttrHelper>(Place::Module),
      rule<D::PrecisionAttrHelper>(Place::Module),
  };
  return rules;
}

const AttrRule *findRule(StringRef name) {
  for (const AttrRule &r : getRules())
    if (r.name == name)
      return &r;
  return nullptr;
}

const char *describePlace(Place place) {
  switch (place) {
  case Place::Arg:
    return "a function argument attribute";
  case Place::Result:
    return "a function result attribute";
  case Place::ArgOrResult:
    return "a function argument or result attribute";
  case Place::Function:
    return "a function attribute";
  case Place::Module:
    return "a module attribute";
  }
  return "";
}

/// Finds the rule of `attr` and checks its place and type; errors are
/// reported at `loc`.
FailureOr<const AttrRule *> checkRule(Location loc, NamedAttribute attr,
                                      Place place, const Twine &where) {
  auto emitError = [&] { return mlir::emitError(loc); };
  StringRef name = attr.getName().getValue();
  const AttrRule *r = findRule(name);
  if (!r)
    return emitError() << where << "unknown attribute '" << name
                       << "' (the kiln stage attributes are declared "
                          "in ir/KilnBase.td)";
  bool placed =
      r->place == place || (r->place == Place::ArgOrResult &&
                            (place == Place::Arg || place == Place::Result));
  if (!placed)
    return emitError() << where << "'" << name << "' is "
                       << describePlace(r->place) << ", not "
                       << describePlace(place);
  if (!r->hasType(attr.getValue()))
    return emitError() << where << "'" << name << "' must be " << r->typeName
                       << ", got " << attr.getValue();
  return r;
}

/// Shape and element type of a tensor or memref type (the protocol
/// attributes survive bufferization until kiln-plan-memory).
bool sameShapedType(Type a, Type b) {
  auto x = dyn_cast<ShapedType>(a), y = dyn_cast<ShapedType>(b);
  return x && y && x.hasRank() && y.hasRank() && x.getShape() == y.getShape() &&
         x.getElementType() == y.getElementType();
}

bool isStringArray(Attribute attr) {
  auto array = cast<ArrayAttr>(attr);
  return llvm::all_of(array, [](Attribute e) { return isa<StringAttr>(e); });
}
} // namespace

/// The checks of one argument attribute of a function.
static LogicalResult checkArgAttribute(Operation *op, unsigned argIndex,
                                       NamedAttribute attr) {
  std::string where = "argument " + std::to_string(argIndex) + ": ";
  auto func = dyn_cast<FunctionOpInterface>(op);
  // Errors point at the argument itself where the function has a body.
  Location argLoc = func && !func.isExternal()
                        ? func.getArgument(argIndex).getLoc()
                        : op->getLoc();
  auto emitArgError = [&] { return mlir::emitError(argLoc); };
  FailureOr<const AttrRule *> r = checkRule(argLoc, attr, Place::Arg, where);
  if (failed(r))
    return failure();
  if (!func)
    return emitArgError() << where << "'" << attr.getName().getValue()
                          << "' belongs on the arguments of functions";
  StringRef name = attr.getName().getValue();
  Type argType = func.getArgumentTypes()[argIndex];
  if (name == KilnDialect::InitAttrHelper::getNameStr()) {
    auto init = cast<DenseElementsAttr>(attr.getValue());
    if (!sameShapedType(init.getType(), argType))
      return emitArgError()
             << where << "'" << name << "' holds a value of type "
             << init.getType() << ", but the argument has type " << argType;
  }
  if (name == KilnDialect::IndexRangeAttrHelper::getNameStr()) {
    ArrayRef<int64_t> range = cast<DenseI64ArrayAttr>(attr.getValue());
    auto shaped = dyn_cast<ShapedType>(argType);
    Type element = shaped ? shaped.getElementType() : Type();
    if (!shaped || element.isInteger(1) ||
        (!element.isSignlessInteger() && !isa<FloatType>(element)))
      return emitArgError() << where << "'" << name
                            << "' belongs on an integer or float input, not "
                               "on "
                            << argType;
    if (range.size() != 2 || range[0] >= range[1])
      return emitArgError()
             << where << "'" << name << "' must be [low, high) with low < high";
  }
  if (name == KilnDialect::L1AttrHelper::getNameStr() ||
      name == KilnDialect::L2AttrHelper::getNameStr()) {
    double factor = cast<FloatAttr>(attr.getValue()).getValueAsDouble();
    if (!(factor >= 0.0))
      return emitArgError() << where << "'" << name
                            << "' must be a factor >= 0, got " << factor;
  }
  if (name == KilnDialect::ParamAttrHelper::getNameStr()) {
    StringRef param = cast<StringAttr>(attr.getValue()).getValue();
    if (param.empty())
      return emitArgError()
             << where << "'" << name << "' must name the parameter, got \"\"";
    // The name keys checkpoints and header macros: one argument each.
    for (unsigned other = 0; other < argIndex; ++other)
      if (auto same = getArgAttr<KilnDialect::ParamAttrHelper>(func, other);
          same && same.getValue() == param)
        return emitArgError() << where << "'" << name << "' = \"" << param
                              << "\" is also the name of argument " << other;
  }
  if (name == KilnDialect::StepAttrHelper::getNameStr()) {
    auto shaped = dyn_cast<ShapedType>(argType);
    if (!shaped || !shaped.hasRank() || shaped.getRank() != 0 ||
        !shaped.getElementType().isSignlessInteger())
      return emitArgError()
             << where << "'" << name
             << "' marks the rank-0 integer step counter, but the argument "
                "has type "
             << argType;
    if (hasArgAttr<KilnDialect::ParamAttrHelper>(func, argIndex))
      return emitArgError() << where << "'" << name
                            << "' marks the step counter, which is an "
                               "input, not a parameter: remove 'kiln.param'";
  }
  if (name == KilnDialect::SampleWeightAttrHelper::getNameStr()) {
    auto shaped = dyn_cast<ShapedType>(argType);
    if (!shaped || !shaped.hasRank() || shaped.getRank() != 1 ||
        !isa<FloatType>(shaped.getElementType()))
      return emitArgError()
             << where << "'" << name
             << "' marks the per-sample weights [N] of the batch, but the "
                "argument has type "
             << argType;
    if (hasArgAttr<KilnDialect::ParamAttrHelper>(func, argIndex))
      return emitArgError() << where << "'" << name
                            << "' marks the sample weights, which are an "
                               "input, not a parameter: remove 'kiln.param'";
  }
  if (name == KilnDialect::StateAttrHelper::getNameStr()) {
    if (!hasArgAttr<KilnDialect::ParamAttrHelper>(func, argIndex))
      return emitArgError()
             << where << "'" << name
             << "' marks a parameter: the argument needs a 'kiln.param' name";
    if (func.getArgAttr(argIndex,
                        KilnDialect::TrainableAttrHelper::getNameStr()))
      return emitArgError()
             << where << "'" << name
             << "' is not trainable (the optimizer never touches state): "
                "remove 'kiln.trainable'";
  }
  return success();
}

/// The checks of one result attribute of a function.
static LogicalResult checkResultAttribute(Operation *op, unsigned resultIndex,
                                          NamedAttribute attr) {
  std::string where = "result " + std::to_string(resultIndex) + ": ";
  FailureOr<const AttrRule *> r =
      checkRule(op->getLoc(), attr, Place::Result, where);
  if (failed(r))
    return failure();
  auto func = dyn_cast<FunctionOpInterface>(op);
  if (!func)
    return op->emitError() << where << "'" << attr.getName().getValue()
                           << "' belongs on the results of functions";
  StringRef name = attr.getName().getValue();
  bool isIndex = name == KilnDialect::UpdateOfAttrHelper::getNameStr() ||
                 name == KilnDialect::GradientOfAttrHelper::getNameStr() ||
                 name == KilnDialect::StateUpdateOfAttrHelper::getNameStr();
  if (!isIndex)
    return success();
  const APInt &wide = cast<IntegerAttr>(attr.getValue()).getValue();
  unsigned numArgs = func.getNumArguments();
  if (wide.getSignificantBits() > 63)
    return op->emitError() << where << "'" << name << "' = "
                           << llvm::toString(wide, 10, /*Signed=*/true)
                           << " names no argument (the function has " << numArgs
                           << ")";
  int64_t index = wide.getSExtValue();
  if (index < 0 || index >= static_cast<int64_t>(numArgs))
    return op->emitError() << where << "'" << name << "' = " << index
                           << " names no argument (the function has " << numArgs
                           << ")";
  Type argType = func.getArgumentTypes()[index];
  Type resultType = func.getResultTypes()[resultIndex];
  if (!sameShapedType(argType, resultType))
    return op->emitError() << where << "'" << name << "' = " << index
                           << ": the result has type " << resultType
                           << ", but argument " << index << " has type "
                           << argType;
  // One new value per argument: two would race for the same memory.
  for (unsigned other = 0; other < resultIndex; ++other)
    if (auto same = func.getResultAttrOfType<IntegerAttr>(other, name);
        same && same.getValue() == wide)
      return op->emitError() << where << "'" << name << "' = " << index
                             << " repeats result " << other;
  if (name == KilnDialect::StateUpdateOfAttrHelper::getNameStr() &&
      !func.getArgAttr(index, KilnDialect::StateAttrHelper::getNameStr()))
    return op->emitError() << where << "'" << name << "' = " << index
                           << ": argument " << index
                           << " is not marked 'kiln.state'";
  return success();
}

/// After the first failing stage attribute of a function, reports every
/// other failing one too (MLIR's verifier stops at the first failure), so
/// that a user sees all offenders at once.
static void reportOtherStageAttributeErrors(Operation *op, bool isResult,
                                            unsigned index, StringAttr name) {
  auto func = dyn_cast<FunctionOpInterface>(op);
  if (!func)
    return;
  StringRef prefix = KilnDialect::getDialectNamespace();
  auto isKiln = [&](NamedAttribute a) {
    return a.getName().getValue().starts_with(prefix) &&
           a.getName().getValue().drop_front(prefix.size()).starts_with(".");
  };
  for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i)
    for (NamedAttribute a : func.getArgAttrs(i))
      if (isKiln(a) && (isResult || i != index || a.getName() != name))
        (void)checkArgAttribute(op, i, a);
  for (unsigned i = 0, e = func.getNumResults(); i < e; ++i)
    for (NamedAttribute a : func.getResultAttrs(i))
      if (isKiln(a) && (!isResult || i != index || a.getName() != name))
        (void)checkResultAttribute(op, i, a);
}

LogicalResult KilnDialect::verifyRegionArgAttribute(Operation *op,
                                                    unsigned regionIndex,
                                                    unsigned argIndex,
                                                    NamedAttribute attr) {
  if (succeeded(checkArgAttribute(op, argIndex, attr)))
    return success();
  reportOtherStageAttributeErrors(op, /*isResult=*/false, argIndex,
                                  attr.getName());
  return failure();
}

LogicalResult KilnDialect::verifyRegionResultAttribute(Operation *op,
                                                       unsigned regionIndex,
                                                       unsigned resultIndex,
                                                       NamedAttribute attr) {
  if (succeeded(checkResultAttribute(op, resultIndex, attr)))
    return success();
  reportOtherStageAttributeErrors(op, /*isResult=*/true, resultIndex,
                                  attr.getName());
  return failure();
}

LogicalResult KilnDialect::verifyOperationAttribute(Operation *op,
                                                    NamedAttribute attr) {
  bool isModule = isa<ModuleOp>(op);
  if (!isModule && !isa<FunctionOpInterface>(op)) {
    const AttrRule *r = findRule(attr.getName().getValue());
    return op->emitError() << "'" << attr.getName().getValue() << "' "
                           << (r ? "belongs on functions or modules"
                                 : "is an unknown attribute")
                           << " (the kiln stage attributes are declared in "
                              "ir/KilnBase.td)";
  }
  FailureOr<const AttrRule *> r = checkRule(
      op->getLoc(), attr, isModule ? Place::Module : Place::Function, "");
  if (failed(r))
    return failure();
  StringRef name = attr.getName().getValue();
  if ((name == PartialsAttrHelper::getNameStr() ||
       name == MetricsAttrHelper::getNameStr() ||
       name == OutputNamesAttrHelper::getNameStr()) &&
      !isStringArray(attr.getValue()))
    return op->emitError() << "'" << name
                           << "' must be an array of strings, got "
                           << attr.getValue();
  if (name == NumInputsAttrHelper::getNameStr() &&
      cast<IntegerAttr>(attr.getValue()).getInt() < 0)
    return op->emitError() << "'" << name << "' must be >= 0";
  return success();
}
