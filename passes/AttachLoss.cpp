//===- AttachLoss.cpp - @forward -> @loss with metric partials ------------===//
//
// Implements kiln-attach-loss: the loss function of a training graph, with
// Keras regularization terms and the partial sums that make epoch metrics
// exact (docs/spec.md, "Metrics"), weighting the steps by the Keras mask of
// the predictions if the forward function returns one (a result marked
// `kiln.loss_mask`; docs/spec.md, "Loss reduction"). The forward function's
// state updates
// (results marked `kiln.state_update_of`) stay results of @loss, after the
// partials, so that the training step can write them back.
//
//===----------------------------------------------------------------------===//

#include "compiler/TrainingConfig.h"
#include "ir/KilnOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"

namespace mlir::kiln {
#define GEN_PASS_DEF_KILNATTACHLOSSPASS
#include "passes/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;
using namespace mlir::kiln;

namespace {
/// Builds kiln ops for the loss function at one insertion point.
class LossBuilder {
public:
  LossBuilder(OpBuilder &b, Location loc, Value predictions, Value labels,
              Value weights, bool fromLogits)
      : b(b), loc(loc), p(predictions), y(labels), w(weights),
        fromLogits(fromLogits),
        type(cast<RankedTensorType>(predictions.getType())),
        scalar(RankedTensorType::get({}, type.getElementType())) {}

  Value splat(RankedTensorType t, double value) {
    return b.create<ConstantOp>(
        loc,
        DenseElementsAttr::get(t, b.getFloatAttr(t.getElementType(), value)));
  }

  /// Reduces every axis of `x`.
  Value sumAll(Value x) {
    auto t = cast<RankedTensorType>(x.getType());
    SmallVector<int64_t> axes =
        llvm::to_vector(llvm::seq<int64_t>(0, t.getRank()));
    return b.create<ReduceSumOp>(loc, x, axes, false);
  }

  /// Mean over the non-batch axes: [N, ...] -> [N].
  Value perSampleMean(Value x) {
    auto t = cast<RankedTensorType>(x.getType());
    if (t.getRank() == 1)
      return x;
    SmallVector<int64_t> axes =
        llvm::to_vector(llvm::seq<int64_t>(1, t.getRank()));
    return b.create<ReduceMeanOp>(loc, x, axes, false);
  }

  /// Sum over the non-batch axes: [N, ...] -> [N].
  Value perSampleSum(Value x) {
    auto t = cast<RankedTensorType>(x.getType());
    if (t.getRank() == 1)
      return x;
    SmallVector<int64_t> axes =
        llvm::to_vector(llvm::seq<int64_t>(1, t.getRank()));
    return b.create<ReduceSumOp>(loc, x, axes, false);
  }

  /// sum_n w_n v_n for per-sample values v [N].
  Value weightedSum(Value v) { return sumAll(b.create<MulOp>(loc, v, w)); }

  /// 0/1 floats of the predictions' element type from an i1 mask.
  Value toFloat(Value mask) {
    auto t = cast<RankedTensorType>(mask.getType());
    return b.create<ConvertOp>(loc, t.clone(type.getElementType()), mask);
  }

  /// Binary decisions: p > 0.5 for probabilities, z > 0 for logits (the
  /// same decision, since sigmoid(0) = 0.5).
  Value predictedPositive() {
    return b.create<CompareOp>(loc, ComparisonDirection::gt, p,
                               splat(type, fromLogits ? 0.0 : 0.5));
  }
  Value actualPositive() {
    return b.create<CompareOp>(loc, ComparisonDirection::gt, y,
                               splat(type, 0.5));
  }

  Value argmaxLast(Value x) {
    auto t = cast<RankedTensorType>(x.getType());
    return b.create<ArgmaxOp>(loc, x, t.getRank() - 1, false);
  }

  OpBuilder &b;
  Location loc;
  Value p, y, w;
  bool fromLogits;
  RankedTensorType type;
  RankedTensorType scalar;
};

struct KilnAttachLossPass
    : public kiln::impl::KilnAttachLossPassBase<KilnAttachLossPass> {
  using KilnAttachLossPassBase::KilnAttachLossPassBase;

  void runOnOperation() override {
    if (failed(attach()))
      signalPassFailure();
  }

  LogicalResult attach() {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>(function);
    if (!forward || forward.isExternal())
      return mlir::emitError(module.getLoc(), "kiln-attach-loss: no function @")
             << function << " with a body";
    // Names and metrics: the one check of compiler/TrainingConfig.h.
    SmallVector<std::string> written;
    for (StringRef m : llvm::split(metrics, ','))
      if (!m.trim().empty())
        written.push_back(m.trim().str());
    if (llvm::Error e = validateLossAndMetrics(loss, written))
      return mlir::emitError(module.getLoc(), "kiln-attach-loss: ")
             << llvm::toString(std::move(e));
    LossKind kind = *parseLossName(loss);
    if (module.lookupSymbol("loss"))
      return mlir::emitError(module.getLoc(),
                             "kiln-attach-loss: the module already has a "
                             "symbol @loss");
    // The predictions: the first result that is neither a state update nor
    // the loss mask.
    std::optional<unsigned> predIndex, maskIndex;
    SmallVector<unsigned> stateUpdates;
    for (unsigned r = 0, e = forward.getNumResults(); r < e; ++r) {
      if (hasResultAttr<KilnDialect::StateUpdateOfAttrHelper>(forward, r))
        stateUpdates.push_back(r);
      else if (hasResultAttr<KilnDialect::LossMaskAttrHelper>(forward, r)) {
        if (maskIndex)
          return mlir::emitError(forward.getLoc(), "kiln-attach-loss: @")
                 << function << " has two results marked 'kiln.loss_mask' ("
                 << *maskIndex << " and " << r << ")";
        maskIndex = r;
      } else if (!predIndex)
        predIndex = r;
    }
    auto predType =
        predIndex
            ? dyn_cast<RankedTensorType>(forward.getResultTypes()[*predIndex])
            : RankedTensorType();
    if (!predType || !isa<FloatType>(predType.getElementType()) ||
        predType.getRank() < 1)
      return mlir::emitError(forward.getLoc(),
                             "kiln-attach-loss: the first result of @")
             << function
             << " (other than state updates) must be a floating-point "
                "tensor with a batch axis";
    int64_t classes = predType.getShape().back();
    bool categorical = kind == LossKind::CategoricalCrossentropy ||
                       kind == LossKind::SparseCategoricalCrossentropy;
    if (categorical && (predType.getRank() < 2 || classes < 2))
      return mlir::emitError(forward.getLoc(), "kiln-attach-loss: ")
             << loss << " needs a class axis of at least 2 classes, but @"
             << function << " outputs " << predType
             << " (use binary_crossentropy for one output unit)";
    // The Keras mask of the predictions: [N, T] for predictions [N, T, C].
    if (maskIndex) {
      auto maskType =
          dyn_cast<RankedTensorType>(forward.getResultTypes()[*maskIndex]);
      if (predType.getRank() != 3 || !maskType ||
          !isa<FloatType>(maskType.getElementType()) ||
          maskType.getShape() != predType.getShape().take_front(2))
        return mlir::emitError(forward.getLoc(), "kiln-attach-loss: result ")
               << *maskIndex << " of @" << function
               << " is marked 'kiln.loss_mask' but has type "
               << forward.getResultTypes()[*maskIndex]
               << "; the predictions are " << predType
               << " (a loss mask is [batch, steps] floats of predictions "
                  "[batch, steps, features])";
    }

    // Metrics, with Keras's "accuracy" resolved from the loss.
    SmallVector<std::string> metricNames;
    for (const std::string &m : written) {
      std::string name = resolveMetricName(m, kind);
      if (name == "categorical_accuracy" && predType.getRank() < 2)
        return mlir::emitError(module.getLoc(), "kiln-attach-loss: metric '")
               << m << "' needs a class axis";
      if (!llvm::is_contained(metricNames, name))
        metricNames.push_back(name);
    }

    // @loss: the forward body plus labels and sample weights.
    auto lossFunc = cast<func::FuncOp>(forward->clone());
    lossFunc.setSymName("loss");
    OpBuilder moduleBuilder(forward);
    moduleBuilder.setInsertionPointAfter(forward);
    moduleBuilder.insert(lossFunc);
    MLIRContext *ctx = &getContext();
    Location loc = forward.getLoc();
    Type labelType =
        kind == LossKind::SparseCategoricalCrossentropy
            ? RankedTensorType::get(predType.getShape().drop_back(),
                                    IntegerType::get(ctx, 32))
            : Type(predType);
    auto weightType = RankedTensorType::get({predType.getDimSize(0)},
                                            predType.getElementType());
    Block &body = lossFunc.getBody().front();
    unsigned numForwardArgs = body.getNumArguments();
    Value labels = body.addArgument(labelType, loc);
    Value weights = body.addArgument(weightType, loc);
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    OpBuilder b(ret);
    LossBuilder lb(b, loc, ret.getOperand(*predIndex), labels, weights,
                   fromLogits);

    // With a Keras mask m [N, T], every step is a row of its own: the loss
    // op sees predictions [N*T, C], labels [N*T(, C)] and the step weights
    // w_n m_nt, whose sum replaces sum(w) below, and the count of valid
    // steps of the samples, V = sum_nt real_n m_nt, replaces n (Keras
    // apply_mask, docs/spec.md "Loss reduction").
    Value lossPred = lb.p, lossLabels = labels, lossWeights = weights;
    Value mask, stepWeights;
    auto stepType = RankedTensorType::get(predType.getShape().take_front(2),
                                          predType.getElementType());
    auto perStep = [&](Value v) { // [N] -> [N, T]
      return b.create<BroadcastInDimOp>(loc, stepType, v, ArrayRef<int64_t>{0})
          .getResult();
    };
    if (maskIndex) {
      mask = ret.getOperand(*maskIndex);
      if (mask.getType() != stepType)
        mask = b.create<ConvertOp>(loc, stepType, mask);
      stepWeights = b.create<MulOp>(loc, perStep(weights), mask);
      int64_t rows = predType.getDimSize(0) * predType.getDimSize(1);
      auto flat = [&](Value v, ArrayRef<int64_t> tail) {
        auto t = cast<RankedTensorType>(v.getType());
        SmallVector<int64_t> shape = {rows};
        shape.append(tail.begin(), tail.end());
        return b.create<ReshapeOp>(loc, t.clone(shape), v).getResult();
      };
      lossPred = flat(lb.p, {classes});
      lossLabels = kind == LossKind::SparseCategoricalCrossentropy
                       ? flat(labels, {})
                       : flat(labels, {classes});
      lossWeights = flat(stepWeights, {});
    }

    Value lossValue;
    auto logits = b.getBoolAttr(fromLogits);
    switch (kind) {
    case LossKind::MeanSquaredError:
      lossValue =
          b.create<MeanSquaredErrorOp>(loc, lossPred, lossLabels, lossWeights);
      break;
    case LossKind::MeanAbsoluteError:
      lossValue =
          b.create<MeanAbsoluteErrorOp>(loc, lossPred, lossLabels, lossWeights);
      break;
    case LossKind::BinaryCrossentropy:
      lossValue = b.create<BinaryCrossentropyOp>(loc, lossPred, lossLabels,
                                                 lossWeights, logits);
      break;
    case LossKind::CategoricalCrossentropy:
      lossValue = b.create<CategoricalCrossentropyOp>(loc, lossPred, lossLabels,
                                                      lossWeights, logits);
      break;
    case LossKind::SparseCategoricalCrossentropy:
      lossValue = b.create<SparseCategoricalCrossentropyOp>(
          loc, lossPred, lossLabels, lossWeights, logits);
      break;
    }

    // Keras' default reduction, sum_over_batch_size: sum_n(w_n l_n) / n
    // with n the rows of the batch, not sum(w) (they differ once class or
    // sample weights are given). The loss op gives sum(w l) / sum(w), so the
    // factor sum(w) / n (exactly 1 for 0/1 weights). Padded rows (weight
    // +0) are not counted; a real row of weight 0 is passed as -0 and is
    // (1 / -0 = -inf < 0). With a mask: sum(w m l) / sum(w m) times
    // sum(w m) / V.
    Value weightSum = lb.sumAll(maskIndex ? stepWeights : weights);
    Value sampleCount, validCount;
    {
      Value zero = lb.splat(weightType, 0.0);
      Value nonzero =
          b.create<CompareOp>(loc, ComparisonDirection::ne, weights, zero);
      Value negativeZero = b.create<CompareOp>(
          loc, ComparisonDirection::lt,
          b.create<DivOp>(loc, lb.splat(weightType, 1.0), weights), zero);
      Value real = b.create<MaximumOp>(loc, lb.toFloat(nonzero),
                                       lb.toFloat(negativeZero));
      sampleCount = lb.sumAll(real);
      if (maskIndex)
        validCount = lb.sumAll(b.create<MulOp>(loc, perStep(real), mask));
      Value denominator = b.create<MaximumOp>(
          loc, maskIndex ? validCount : sampleCount, lb.splat(lb.scalar, 1.0));
      lossValue = b.create<MulOp>(loc, lossValue,
                                  b.create<DivOp>(loc, weightSum, denominator));
    }

    // Keras kernel/bias regularizers: l1 * sum|w| + l2 * sum w^2.
    for (unsigned i = 0; i < numForwardArgs; ++i) {
      Value arg = body.getArgument(i);
      auto argType = dyn_cast<RankedTensorType>(arg.getType());
      if (!argType || argType.getElementType() != predType.getElementType())
        continue;
      for (bool isL1 : {true, false}) {
        FloatAttr factor =
            isL1 ? getArgAttr<KilnDialect::L1AttrHelper>(lossFunc, i)
                 : getArgAttr<KilnDialect::L2AttrHelper>(lossFunc, i);
        if (!factor || factor.getValueAsDouble() == 0.0)
          continue;
        Value term = isL1 ? Value(b.create<AbsOp>(loc, arg))
                          : Value(b.create<SquareOp>(loc, arg));
        Value scaled =
            b.create<MulOp>(loc, lb.sumAll(term),
                            lb.splat(lb.scalar, factor.getValueAsDouble()));
        lossValue = b.create<AddOp>(loc, lossValue, scaled);
      }
    }

    // Partial sums of the batch.
    SmallVector<Value> results = {lossValue};
    SmallVector<Attribute> partialNames;
    auto addPartial = [&](StringRef name, Value value) {
      results.push_back(value);
      partialNames.push_back(b.getStringAttr(name));
    };
    // Epoch loss = sum(loss_sum) / sum(sample_count) (Keras weighs each
    // batch's loss by its number of samples); metrics divide by weight_sum
    // (with a mask: the weights of the valid steps, sum(w m)).
    addPartial("loss_sum", b.create<MulOp>(loc, lossValue, sampleCount));
    addPartial("weight_sum", weightSum);
    addPartial("sample_count", sampleCount);
    // The loss's divisor V with a mask: data-parallel training weighs each
    // process's gradient and loss by it.
    if (maskIndex)
      addPartial("valid_count", validCount);
    // Keras' mean metrics take the mask as a sample weight
    // (MeanMetricWrapper): sum(v w m) over the steps, v [N, T]; without a
    // mask, sum_n w_n mean(v_n).
    auto metricSum = [&](Value v) -> Value {
      if (!maskIndex)
        return lb.weightedSum(lb.perSampleMean(v));
      auto t = cast<RankedTensorType>(v.getType());
      if (t.getRank() == 3)
        v = b.create<ReduceMeanOp>(loc, v, ArrayRef<int64_t>{2}, false);
      return lb.sumAll(b.create<MulOp>(loc, v, stepWeights));
    };
    bool countsAdded = false;
    for (const std::string &m : metricNames) {
      if (m == "binary_accuracy") {
        Value match =
            b.create<CompareOp>(loc, ComparisonDirection::eq,
                                lb.predictedPositive(), lb.actualPositive());
        addPartial("binary_accuracy_sum", metricSum(lb.toFloat(match)));
      } else if (m == "categorical_accuracy" ||
                 m == "sparse_categorical_accuracy") {
        Value truth =
            m == "categorical_accuracy"
                ? lb.argmaxLast(labels)
                : Value(b.create<ConvertOp>(
                      loc,
                      cast<RankedTensorType>(labelType).clone(b.getI64Type()),
                      labels));
        Value match = b.create<CompareOp>(loc, ComparisonDirection::eq,
                                          lb.argmaxLast(lb.p), truth);
        addPartial(m + "_sum", metricSum(lb.toFloat(match)));
      } else if (m == "precision" || m == "recall" || m == "f1") {
        if (countsAdded)
          continue;
        countsAdded = true;
        Value predicted = lb.toFloat(lb.predictedPositive());
        Value actual = lb.toFloat(lb.actualPositive());
        Value both = b.create<MulOp>(loc, predicted, actual);
        addPartial("true_positives", lb.weightedSum(lb.perSampleSum(both)));
        addPartial("predicted_positives",
                   lb.weightedSum(lb.perSampleSum(predicted)));
        addPartial("actual_positives", lb.weightedSum(lb.perSampleSum(actual)));
      } else if (m == "mae" || m == "mse") {
        Value diff = b.create<SubOp>(loc, lb.p, labels);
        Value err = m == "mae" ? Value(b.create<AbsOp>(loc, diff))
                               : Value(b.create<SquareOp>(loc, diff));
        addPartial(m + "_sum", metricSum(err));
      }
    }

    // State updates, after the partials, with their argument indices (the
    // same in @loss: labels and sample weights are appended).
    SmallVector<DictionaryAttr> stateAttrs;
    for (unsigned r : stateUpdates) {
      results.push_back(ret.getOperand(r));
      stateAttrs.push_back(forward.getResultAttrDict(r));
    }
    b.create<func::ReturnOp>(ret.getLoc(), results);
    ret.erase();
    SmallVector<Type> resultTypes;
    for (Value v : results)
      resultTypes.push_back(v.getType());
    lossFunc.setFunctionType(
        FunctionType::get(ctx, body.getArgumentTypes(), resultTypes));
    SmallVector<DictionaryAttr> argAttrs;
    for (unsigned i = 0; i < numForwardArgs; ++i)
      argAttrs.push_back(forward.getArgAttrDict(i));
    auto named = [&](StringRef name) {
      return DictionaryAttr::get(
          ctx, {namedAttr<KilnDialect::NameAttrHelper>(b.getStringAttr(name))});
    };
    argAttrs.push_back(named("labels"));
    argAttrs.push_back(named("sample_weight"));
    lossFunc.setAllArgAttrs(argAttrs);
    SmallVector<DictionaryAttr> resultAttrs = {named("loss")};
    for (Attribute name : partialNames)
      resultAttrs.push_back(named(cast<StringAttr>(name).getValue()));
    resultAttrs.append(stateAttrs);
    lossFunc.setAllResultAttrs(resultAttrs);
    setOpAttr<KilnDialect::PartialsAttrHelper>(lossFunc,
                                               b.getArrayAttr(partialNames));
    SmallVector<Attribute> metricAttrs = {b.getStringAttr("loss")};
    for (const std::string &m : metricNames)
      metricAttrs.push_back(b.getStringAttr(m));
    setOpAttr<KilnDialect::MetricsAttrHelper>(lossFunc,
                                              b.getArrayAttr(metricAttrs));
    // A plain string, not a symbol reference: the forward function must not
    // stay alive (symbol-dce) just because @loss names it.
    setOpAttr<KilnDialect::ForwardAttrHelper>(
        lossFunc, b.getStringAttr(forward.getSymName()));
    return forwardSampleWeights(lossFunc, numForwardArgs, weights);
  }

  /// A forward argument marked kiln.sample_weight (read by BatchNorm to
  /// leave the zero-weight rows of a padded batch out of its statistics)
  /// becomes @loss's own sample weights: its uses take `weights` and the
  /// argument goes, shifting the argument indices that results name.
  static LogicalResult forwardSampleWeights(func::FuncOp lossFunc,
                                            unsigned numForwardArgs,
                                            Value weights) {
    for (int i = static_cast<int>(numForwardArgs) - 1; i >= 0; --i) {
      if (!hasArgAttr<KilnDialect::SampleWeightAttrHelper>(lossFunc, i))
        continue;
      Value arg = lossFunc.getArgument(i);
      if (arg.getType() != weights.getType())
        return mlir::emitError(arg.getLoc(), "kiln-attach-loss: argument ")
               << i << " marked 'kiln.sample_weight' has type " << arg.getType()
               << ", but the loss's sample weights are " << weights.getType();
      arg.replaceAllUsesWith(weights);
      for (unsigned r = 0, e = lossFunc.getNumResults(); r < e; ++r)
        if (IntegerAttr index =
                getResultAttr<KilnDialect::StateUpdateOfAttrHelper>(lossFunc,
                                                                    r);
            index && index.getInt() > i)
          setResultAttr<KilnDialect::StateUpdateOfAttrHelper>(
              lossFunc, r,
              IntegerAttr::get(index.getType(), index.getInt() - 1));
      lossFunc.eraseArgument(i);
    }
    return success();
  }
};
} // namespace
