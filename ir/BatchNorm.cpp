//===- BatchNorm.cpp - kiln.batch_norm: verifier, forms, VJP --------------===//
//
// kiln.batch_norm is one op in the graph (so that its inference form and its
// state updates are explicit) and kiln ops below it: convert-kiln-to-linalg
// decomposes the training form into reductions and elementwise ops, the
// inference form normalizes with the moving statistics, and the VJP is the
// closed form of Ioffe & Szegedy (2015), section 3:
//
//   xhat = (x - mean) * rstd,  rstd = 1 / sqrt(var + epsilon)
//   doffset = sum(g),  dscale = sum(g * xhat)
//   dx = scale * rstd / M * (M * g - doffset - xhat * dscale)
//
// with sums over the M elements of each channel.
//
//===----------------------------------------------------------------------===//

#include "ir/KilnOps.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::kiln;

namespace {
RankedTensorType tensorType(Value value) {
  return cast<RankedTensorType>(value.getType());
}

/// Builds the kiln ops of one batch_norm at one location.
struct NormBuilder {
  OpBuilder &b;
  Location loc;
  RankedTensorType inputType;
  int64_t axis;

  RankedTensorType channelType() const {
    return RankedTensorType::get({inputType.getDimSize(axis)},
                                 inputType.getElementType());
  }
  Value splat(RankedTensorType type, double value) {
    return b.create<ConstantOp>(
        loc, DenseElementsAttr::get(
                 type, b.getFloatAttr(type.getElementType(), value)));
  }
  Value scalar(Value like, double value) {
    return splat(tensorType(like), value);
  }
  /// [C] -> the input's shape.
  Value broadcast(Value channel) {
    return b.create<BroadcastInDimOp>(loc, inputType, channel,
                                      ArrayRef<int64_t>{axis});
  }
  /// input-shaped -> [C]: the sum over every axis but the channel axis.
  Value sumPerChannel(Value x, ArrayRef<int64_t> axes) {
    return b.create<ReduceSumOp>(loc, channelType(), x, axes, false);
  }
  Value meanPerChannel(Value x, ArrayRef<int64_t> axes) {
    return b.create<ReduceMeanOp>(loc, channelType(), x, axes, false);
  }
  Value add(Value x, Value y) { return b.create<AddOp>(loc, x, y); }
  Value sub(Value x, Value y) { return b.create<SubOp>(loc, x, y); }
  Value mul(Value x, Value y) { return b.create<MulOp>(loc, x, y); }
  Value div(Value x, Value y) { return b.create<DivOp>(loc, x, y); }
  Value rsqrt(Value x) { return b.create<RsqrtOp>(loc, x); }
  Value maximum(Value x, Value y) { return b.create<MaximumOp>(loc, x, y); }
};

/// Which elements the batch statistics count: all, or (with sample weights)
/// the rows of nonzero weight.
struct Counted {
  /// 1 where an element counts and 0 elsewhere, input-shaped; null: all.
  Value mask;
  /// Elements per channel that count, [C] (at least 1).
  Value count;
};

Counted countedElements(NormBuilder &nb, BatchNormOp op) {
  SmallVector<int64_t> axes = op.getReducedAxes();
  Value weights = op.getSampleWeight();
  if (!weights)
    return {Value(), nb.splat(nb.channelType(),
                              static_cast<double>(op.getCountPerChannel()))};
  RankedTensorType weightType = tensorType(weights);
  Value zeros = nb.splat(weightType, 0.0), ones = nb.splat(weightType, 1.0);
  auto i1 = RankedTensorType::get(weightType.getShape(), nb.b.getI1Type());
  Value nonzero = nb.b.create<CompareOp>(nb.loc, i1, ComparisonDirection::ne,
                                         weights, zeros);
  Value rowMask =
      nb.b.create<SelectOp>(nb.loc, weightType, nonzero, ones, zeros);
  Value mask = nb.b.create<BroadcastInDimOp>(nb.loc, nb.inputType, rowMask,
                                             ArrayRef<int64_t>{0});
  Value count = nb.sumPerChannel(mask, axes);
  return {mask, nb.maximum(count, nb.scalar(count, 1.0))};
}

/// The batch mean and biased variance per channel, [C] each.
std::pair<Value, Value> batchStatistics(NormBuilder &nb, BatchNormOp op,
                                        const Counted &counted) {
  SmallVector<int64_t> axes = op.getReducedAxes();
  auto masked = [&](Value x) {
    return counted.mask ? nb.mul(x, counted.mask) : x;
  };
  Value mean =
      nb.div(nb.sumPerChannel(masked(op.getInput()), axes), counted.count);
  Value centered = nb.sub(op.getInput(), nb.broadcast(mean));
  Value variance =
      nb.div(nb.sumPerChannel(masked(nb.mul(centered, centered)), axes),
             counted.count);
  return {mean, variance};
}

NormBuilder builderFor(OpBuilder &b, BatchNormOp op) {
  return NormBuilder{b, op.getLoc(), op.getInput().getType(),
                     static_cast<int64_t>(op.getAxis())};
}
} // namespace

LogicalResult BatchNormOp::verify() {
  if (Value weights = getSampleWeight()) {
    auto type = cast<RankedTensorType>(weights.getType());
    RankedTensorType input = getInput().getType();
    if (type.getRank() != 1 || type.getDimSize(0) != input.getDimSize(0) ||
        type.getElementType() != input.getElementType() || getAxis() == 0)
      return emitOpError("[batch_norm_c4] the sample weights must be ")
             << RankedTensorType::get({input.getDimSize(0)},
                                      input.getElementType())
             << " (one per sample of axis 0, which is not the channel "
                "axis), got "
             << type << " with channel axis " << getAxis();
  }
  RankedTensorType input = getInput().getType();
  int64_t axis = static_cast<int64_t>(getAxis());
  if (axis < 0 || axis >= input.getRank())
    return emitOpError("[batch_norm_c1] axis ")
           << axis << " is not in [0, " << input.getRank() << ")";
  RankedTensorType param = getScale().getType();
  if (param.getRank() != 1 || param.getDimSize(0) != input.getDimSize(axis) ||
      param.getElementType() != input.getElementType())
    return emitOpError("[batch_norm_c2] scale, offset and the moving "
                       "statistics must be ")
           << RankedTensorType::get({input.getDimSize(axis)},
                                    input.getElementType())
           << " (one value per channel of axis " << axis << "), got " << param;
  double epsilon = getEpsilon().convertToDouble();
  double momentum = getMomentum().convertToDouble();
  if (!(epsilon > 0) || !std::isfinite(epsilon))
    return emitOpError("[batch_norm_c3] epsilon ")
           << epsilon << " must be finite and > 0";
  if (!(momentum >= 0 && momentum <= 1))
    return emitOpError("[batch_norm_c3] momentum ")
           << momentum << " must be in [0, 1]";
  return success();
}

SmallVector<int64_t> BatchNormOp::getReducedAxes() {
  SmallVector<int64_t> axes;
  for (int64_t d = 0, e = getInput().getType().getRank(); d < e; ++d)
    if (d != static_cast<int64_t>(getAxis()))
      axes.push_back(d);
  return axes;
}

int64_t BatchNormOp::getCountPerChannel() {
  RankedTensorType input = getInput().getType();
  return input.getNumElements() / input.getDimSize(getAxis());
}

Value BatchNormOp::buildNormalize(OpBuilder &b, Value mean, Value variance) {
  NormBuilder nb = builderFor(b, *this);
  double epsilon = getEpsilon().convertToDouble();
  // factor = scale / sqrt(var + eps) and shift = offset - mean * factor on
  // [C], so that the input-sized work is one multiply-add per element.
  Value factor = nb.mul(
      getScale(), nb.rsqrt(nb.add(variance, nb.scalar(variance, epsilon))));
  Value shift = nb.sub(getOffset(), nb.mul(mean, factor));
  return nb.add(nb.mul(getInput(), nb.broadcast(factor)), nb.broadcast(shift));
}

void BatchNormOp::decompose(RewriterBase &rewriter) {
  rewriter.setInsertionPoint(*this);
  NormBuilder nb = builderFor(rewriter, *this);
  Counted counted = countedElements(nb, *this);
  auto [mean, variance] = batchStatistics(nb, *this, counted);
  Value result = buildNormalize(rewriter, mean, variance);
  double momentum = getMomentum().convertToDouble();
  Value movingSample = variance;
  if (getUnbiasedMovingVariance()) {
    // Bessel's correction M / (M - 1); 1 for a single element.
    Value ones = nb.scalar(counted.count, 1.0);
    movingSample =
        nb.mul(variance, nb.div(counted.count,
                                nb.maximum(nb.sub(counted.count, ones), ones)));
  }
  auto blend = [&](Value moving, Value sample) {
    return nb.add(nb.mul(moving, nb.scalar(moving, momentum)),
                  nb.mul(sample, nb.scalar(sample, 1.0 - momentum)));
  };
  rewriter.replaceOp(*this, {result, blend(getMovingMean(), mean),
                             blend(getMovingVariance(), movingSample)});
}

void BatchNormOp::buildInferenceForm(OpBuilder &b,
                                     SmallVectorImpl<Value> &replacements) {
  replacements.push_back(
      buildNormalize(b, getMovingMean(), getMovingVariance()));
  replacements.push_back(getMovingMean());
  replacements.push_back(getMovingVariance());
}

/// About 8 operations per input element: the statistics (2 passes), the
/// normalization (a multiply-add) and the masking.
double BatchNormOp::getFlops() {
  return 8.0 * static_cast<double>(getInput().getType().getNumElements());
}

/// dx = scale * rstd * (g - mask / M * (doffset + xhat * dscale)), with
/// doffset = sum(g) and dscale = sum(g * xhat) over each channel (every
/// row: the normalization applies to all of them), and mask / M = 1 / M
/// without sample weights. The rows that do not count still get
/// scale * rstd * g (their g is 0 when their loss weight is 0).
LogicalResult BatchNormOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                    SmallVectorImpl<Value> &operandGrads) {
  NormBuilder nb = builderFor(b, *this);
  SmallVector<int64_t> axes = getReducedAxes();
  Value x = getInput(), g = resultGrads[0];
  Counted counted = countedElements(nb, *this);
  auto [mean, variance] = batchStatistics(nb, *this, counted);
  Value rstd = nb.rsqrt(
      nb.add(variance, nb.scalar(variance, getEpsilon().convertToDouble())));
  Value xhat = nb.mul(nb.sub(x, nb.broadcast(mean)), nb.broadcast(rstd));
  Value dOffset = nb.sumPerChannel(g, axes);
  Value dScale = nb.sumPerChannel(nb.mul(g, xhat), axes);
  Value perCount = nb.div(nb.scalar(counted.count, 1.0), counted.count);
  Value share = nb.broadcast(perCount);
  if (counted.mask)
    share = nb.mul(share, counted.mask);
  Value statTerm = nb.mul(
      share, nb.add(nb.broadcast(dOffset), nb.mul(xhat, nb.broadcast(dScale))));
  Value k = nb.broadcast(nb.mul(getScale(), rstd));
  operandGrads.push_back(nb.mul(k, nb.sub(g, statTerm)));
  operandGrads.push_back(dScale);
  operandGrads.push_back(dOffset);
  operandGrads.push_back(Value()); // moving statistics: state, no gradient
  operandGrads.push_back(Value());
  if (getSampleWeight())
    operandGrads.push_back(Value()); // the weights only select rows
  return success();
}
