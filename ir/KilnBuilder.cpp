//===- KilnBuilder.cpp - typed IR builders for the frontends --------------===//
//
// See KilnBuilder.h.
//
//===----------------------------------------------------------------------===//

#include "ir/KilnBuilder.h"
#include "ir/KilnOps.h"

using namespace mlir;
using namespace mlir::kiln;

Value KilnBuilder::splat(RankedTensorType type, double value) {
  auto attr =
      DenseElementsAttr::get(type, getFloatAttr(type.getElementType(), value));
  return create<ConstantOp>(type, attr);
}

Value KilnBuilder::broadcastTo(Value value, ArrayRef<int64_t> shape) {
  auto type = cast<RankedTensorType>(value.getType());
  if (type.getShape() == shape)
    return value;
  // NumPy rule: trailing axes line up.
  SmallVector<int64_t> dims;
  for (int64_t i = 0; i < type.getRank(); ++i)
    dims.push_back(static_cast<int64_t>(shape.size()) - type.getRank() + i);
  return create<BroadcastInDimOp>(
      RankedTensorType::get(shape, type.getElementType()), value, dims);
}

Value KilnBuilder::reshape(Value value, ArrayRef<int64_t> shape) {
  auto type = cast<RankedTensorType>(value.getType());
  if (type.getShape() == shape)
    return value;
  return create<ReshapeOp>(
      TypeRange{RankedTensorType::get(shape, type.getElementType())},
      ValueRange{value});
}

ForwardFunctionBuilder::ForwardFunctionBuilder(ModuleOp module, Location loc,
                                               StringRef name)
    : b(loc, module.getContext()) {
  b.setInsertionPointToEnd(module.getBody());
  func = b.create<func::FuncOp>(name, b.getFunctionType({}, {}));
  body = func.addEntryBlock();
  b.setInsertionPointToEnd(body);
}

Value ForwardFunctionBuilder::addParam(RankedTensorType type,
                                       const ParamSpec &spec) {
  using D = KilnDialect;
  NamedAttrList attrs;
  attrs.append(namedAttr<D::ParamAttrHelper>(b.getStringAttr(spec.name)));
  if (spec.trainable)
    attrs.append(namedAttr<D::TrainableAttrHelper>(b.getUnitAttr()));
  if (spec.state)
    attrs.append(namedAttr<D::StateAttrHelper>(b.getUnitAttr()));
  if (spec.initializer)
    attrs.append(namedAttr<D::InitializerAttrHelper>(spec.initializer));
  if (spec.initValue)
    attrs.append(namedAttr<D::InitAttrHelper>(spec.initValue));
  if (spec.l1 != 0)
    attrs.append(namedAttr<D::L1AttrHelper>(b.getF64FloatAttr(spec.l1)));
  if (spec.l2 != 0)
    attrs.append(namedAttr<D::L2AttrHelper>(b.getF64FloatAttr(spec.l2)));
  if (spec.adapt)
    attrs.append(namedAttr<D::AdaptAttrHelper>(spec.adapt));
  Value arg = body->addArgument(type, b.getLoc());
  params.push_back({arg, attrs.getDictionary(b.getContext())});
  return arg;
}

Value ForwardFunctionBuilder::addInput(RankedTensorType type, StringRef name) {
  Value arg = body->addArgument(type, b.getLoc());
  inputs.push_back(arg);
  inputAttrs.push_back(b.getDictionaryAttr(
      namedAttr<KilnDialect::NameAttrHelper>(b.getStringAttr(name))));
  return arg;
}

void ForwardFunctionBuilder::restrictInputRange(Value input, int64_t low,
                                                int64_t high) {
  auto it = llvm::find(inputs, input);
  if (it == inputs.end())
    return;
  DictionaryAttr &attrs = inputAttrs[it - inputs.begin()];
  StringRef key = KilnDialect::IndexRangeAttrHelper::getNameStr();
  if (auto old = attrs.getAs<DenseI64ArrayAttr>(key)) {
    low = std::max(low, old[0]);
    high = std::min(high, old[1]);
  }
  NamedAttrList list(attrs);
  list.set(key, b.getDenseI64ArrayAttr({low, high}));
  attrs = list.getDictionary(b.getContext());
}

Value ForwardFunctionBuilder::stepCounter() {
  if (!counter) {
    Value arg = body->addArgument(RankedTensorType::get({}, b.getI64Type()),
                                  b.getLoc());
    counter =
        Arg{arg, b.getDictionaryAttr(
                     namedAttr<KilnDialect::StepAttrHelper>(b.getUnitAttr()))};
  }
  return counter->value;
}

Value ForwardFunctionBuilder::sampleWeights(int64_t batchSize,
                                            Type elementType) {
  if (!weights) {
    Value arg = body->addArgument(
        RankedTensorType::get({batchSize}, elementType), b.getLoc());
    weights = Arg{
        arg, b.getDictionaryAttr(namedAttr<KilnDialect::SampleWeightAttrHelper>(
                 b.getUnitAttr()))};
  }
  return weights->value;
}

StringAttr ForwardFunctionBuilder::getInputName(Value value) const {
  for (auto [input, attrs] : llvm::zip(inputs, inputAttrs))
    if (input == value)
      return attrs.getAs<StringAttr>(KilnDialect::NameAttrHelper::getNameStr());
  return nullptr;
}

LogicalResult ForwardFunctionBuilder::setInputOrder(ArrayRef<Value> order) {
  if (order.size() != inputs.size())
    return failure();
  SmallVector<Value> newInputs;
  SmallVector<DictionaryAttr> newAttrs;
  for (Value v : order) {
    auto it = llvm::find(inputs, v);
    if (it == inputs.end() || llvm::is_contained(newInputs, v))
      return failure();
    newInputs.push_back(v);
    newAttrs.push_back(inputAttrs[it - inputs.begin()]);
  }
  inputs = std::move(newInputs);
  inputAttrs = std::move(newAttrs);
  return success();
}

void ForwardFunctionBuilder::addOutput(Value value, StringRef name) {
  outputs.push_back(value);
  outputAttrs.push_back(b.getDictionaryAttr(
      namedAttr<KilnDialect::NameAttrHelper>(b.getStringAttr(name))));
}

void ForwardFunctionBuilder::addStateUpdate(Value param, Value newValue) {
  stateUpdates.push_back({param, newValue});
}

func::FuncOp ForwardFunctionBuilder::finish() {
  // Arguments: params, inputs, the counter, the sample weights; block
  // arguments are re-created in that order.
  SmallVector<Value> order;
  SmallVector<DictionaryAttr> argAttrs;
  for (const Arg &p : params) {
    order.push_back(p.value);
    argAttrs.push_back(p.attrs);
  }
  order.append(inputs.begin(), inputs.end());
  argAttrs.append(inputAttrs.begin(), inputAttrs.end());
  for (const std::optional<Arg> &last : {counter, weights})
    if (last) {
      order.push_back(last->value);
      argAttrs.push_back(last->attrs);
    }
  unsigned oldCount = body->getNumArguments();
  SmallVector<Type> argTypes;
  for (Value v : order) {
    argTypes.push_back(v.getType());
    body->addArgument(v.getType(), b.getLoc());
  }
  DenseMap<Value, Value> renamed;
  for (auto [i, v] : llvm::enumerate(order)) {
    Value now = body->getArgument(oldCount + i);
    v.replaceAllUsesWith(now);
    renamed[v] = now;
  }
  body->eraseArguments(0, oldCount);

  // Results: outputs, the loss mask, then state updates (an argument returned
  // as is maps to its new block argument).
  auto current = [&](Value v) {
    Value now = renamed.lookup(v);
    return now ? now : v;
  };
  SmallVector<Value> results;
  for (Value v : outputs)
    results.push_back(current(v));
  SmallVector<DictionaryAttr> resultAttrs(outputAttrs);
  if (lossMask) {
    results.push_back(current(lossMask));
    resultAttrs.push_back(b.getDictionaryAttr(
        namedAttr<KilnDialect::LossMaskAttrHelper>(b.getUnitAttr())));
  }
  for (auto [param, newValue] : stateUpdates) {
    int64_t index = cast<BlockArgument>(current(param)).getArgNumber();
    results.push_back(current(newValue));
    resultAttrs.push_back(
        b.getDictionaryAttr(namedAttr<KilnDialect::StateUpdateOfAttrHelper>(
            b.getI64IntegerAttr(index))));
  }
  b.setInsertionPointToEnd(body);
  b.create<func::ReturnOp>(results);
  func.setType(b.getFunctionType(argTypes, ValueRange(results).getTypes()));
  func.setAllArgAttrs(argAttrs);
  func.setAllResultAttrs(resultAttrs);
  return func;
}
