//===- VJPStructured.cpp - VJP rules of the structured kiln ops ----------===//
//
// Vector-Jacobian product rules (DifferentiableOpInterface's buildVJP,
// declared on the op records in KilnOps.td, so a missing rule does not
// link) for the reductions, matmul, the shape ops,
// softmax/log_softmax, dropout and the losses. Each rule builds the operand
// gradients from kiln ops only, at the builder's insertion point (the end of
// the function, after every forward op), so it may use the op's operands and
// results. Notation: g is the gradient of the loss with respect to the
// result y; docs/spec.md (Interfaces) states each formula and convention.
//
// Operands without a gradient get a null Value: integer/i1 operands of the
// shape ops, dropout counters, loss labels and sample weights (data, treated
// as constants; kiln-derive-gradients rejects them when they depend on a
// trainable argument).
//
//===----------------------------------------------------------------------===//

#include "ir/KilnOps.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/STLExtras.h"

#include <numeric>
#include <type_traits>

using namespace mlir;
using namespace mlir::kiln;

namespace {

//===----------------------------------------------------------------------===//
// Builder helpers shared by the rules
//===----------------------------------------------------------------------===//

RankedTensorType tensorType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

bool isFloatTensor(Value v) {
  return isa<FloatType>(tensorType(v).getElementType());
}

/// A kiln.constant splat of `value` with the float tensor type `type`.
Value splat(OpBuilder &b, Location loc, RankedTensorType type, double value) {
  return b.create<ConstantOp>(
      loc, DenseElementsAttr::get(
               type, b.getFloatAttr(type.getElementType(), value)));
}

/// A splat of `value` with the type of `like`.
Value splatLike(OpBuilder &b, Location loc, Value like, double value) {
  return splat(b, loc, tensorType(like), value);
}

template <typename OpTy>
Value binary(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  return b.create<OpTy>(loc, lhs.getType(), lhs, rhs);
}

Value compare(OpBuilder &b, Location loc, ComparisonDirection dir, Value lhs,
              Value rhs) {
  auto type = RankedTensorType::get(tensorType(lhs).getShape(), b.getI1Type());
  return b.create<CompareOp>(loc, type, dir, lhs, rhs);
}

Value select(OpBuilder &b, Location loc, Value pred, Value onTrue,
             Value onFalse) {
  return b.create<SelectOp>(loc, onTrue.getType(), pred, onTrue, onFalse);
}

/// The shape of `type` reduced over `axes` (kept with size 1 or removed).
SmallVector<int64_t> reducedShape(RankedTensorType type, ArrayRef<int64_t> axes,
                                  bool keepDims) {
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < type.getRank(); ++d) {
    bool reduced = llvm::is_contained(axes, d);
    if (!reduced)
      shape.push_back(type.getDimSize(d));
    else if (keepDims)
      shape.push_back(1);
  }
  return shape;
}

/// kiln.reduce_sum of `x` over `axes`.
Value reduceSum(OpBuilder &b, Location loc, Value x, ArrayRef<int64_t> axes,
                bool keepDims) {
  RankedTensorType type = tensorType(x);
  auto resultType = RankedTensorType::get(reducedShape(type, axes, keepDims),
                                          type.getElementType());
  return b.create<ReduceSumOp>(loc, resultType, x, axes, keepDims);
}

/// Broadcasts `reduced`, the result of a reduction over `axes` of a tensor of
/// type `inputType` (with or without kept dims), back to `inputType`'s shape:
/// the transpose of the reduction's sum pattern.
Value broadcastBack(OpBuilder &b, Location loc, Value reduced,
                    RankedTensorType inputType, ArrayRef<int64_t> axes,
                    bool keepDims) {
  auto resultType = RankedTensorType::get(inputType.getShape(),
                                          tensorType(reduced).getElementType());
  if (reduced.getType() == resultType)
    return reduced;
  SmallVector<int64_t> dims;
  for (int64_t d = 0; d < inputType.getRank(); ++d)
    if (keepDims || !llvm::is_contained(axes, d))
      dims.push_back(d);
  return b.create<BroadcastInDimOp>(loc, resultType, reduced, dims);
}

/// sum_axis(x) broadcast back over `axis`: the shape of `x`.
Value sumAlong(OpBuilder &b, Location loc, Value x, int64_t axis) {
  Value s = reduceSum(b, loc, x, {axis}, /*keepDims=*/true);
  return broadcastBack(b, loc, s, tensorType(x), {axis}, /*keepDims=*/true);
}

/// Product of the sizes of `type` over `axes`.
int64_t countOver(RankedTensorType type, ArrayRef<int64_t> axes) {
  int64_t count = 1;
  for (int64_t a : axes)
    count *= type.getDimSize(a);
  return count;
}
} // namespace

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

/// y = sum_axes(x): dx = broadcast(g) (each input element contributes once).
LogicalResult ReduceSumOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                    SmallVectorImpl<Value> &operandGrads) {
  auto reduce = *this;
  operandGrads.push_back(broadcastBack(b, getLoc(), resultGrads[0],
                                       tensorType(reduce.getInput()),
                                       reduce.getAxes(), reduce.getKeepDims()));
  return success();
}

/// y = mean_axes(x): dx = broadcast(g) / count, count = number of elements
/// per reduced group.
LogicalResult ReduceMeanOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                     SmallVectorImpl<Value> &operandGrads) {
  auto reduce = *this;
  Location loc = getLoc();
  RankedTensorType inputType = tensorType(reduce.getInput());
  Value g = broadcastBack(b, loc, resultGrads[0], inputType, reduce.getAxes(),
                          reduce.getKeepDims());
  double count = static_cast<double>(countOver(inputType, reduce.getAxes()));
  operandGrads.push_back(binary<DivOp>(b, loc, g, splatLike(b, loc, g, count)));
  return success();
}

/// y = max_axes(x): the whole of g goes to ONE element per reduced group,
/// the first maximum in row-major order over the reduced axes
/// (docs/spec.md, Numerics conventions: ties). A group holding a NaN (y is
/// NaN) sends g to its first NaN.
///   L   = row-major linear index over the reduced axes (float, exact for
///         groups below 2^24 elements in f32)
///   hit = (x == y) or (x != x)
///   r   = hit ? count - L : 0           (largest r = first hit, r >= 1)
///   dx  = (r == max_axes(r)) ? g : 0
LogicalResult ReduceMaxOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                    SmallVectorImpl<Value> &operandGrads) {
  auto reduce = *this;
  Location loc = getLoc();
  Value x = reduce.getInput();
  RankedTensorType type = tensorType(x);
  SmallVector<int64_t> axes(reduce.getAxes());
  llvm::sort(axes);
  bool keep = reduce.getKeepDims();

  // L = sum_k iota(axis_k) * stride_k, strides row-major over the axes.
  Value linear;
  int64_t stride = 1;
  for (int64_t a : llvm::reverse(axes)) {
    Value term = b.create<IotaOp>(loc, type, static_cast<uint64_t>(a));
    if (stride != 1)
      term = binary<MulOp>(b, loc, term, splat(b, loc, type, double(stride)));
    linear = linear ? binary<AddOp>(b, loc, linear, term) : term;
    stride *= type.getDimSize(a);
  }
  if (!linear) // no reduced axis: one-element groups
    linear = splat(b, loc, type, 0.0);
  double count = static_cast<double>(stride);

  Value y = broadcastBack(b, loc, reduce.getResult(), type, axes, keep);
  Value isMax = compare(b, loc, ComparisonDirection::eq, x, y);
  Value isNaN = compare(b, loc, ComparisonDirection::ne, x, x);
  Value zero = splat(b, loc, type, 0.0);
  Value rank = binary<SubOp>(b, loc, splat(b, loc, type, count), linear);
  Value r = select(b, loc, isMax, rank, zero);
  r = select(b, loc, isNaN, rank, r);
  auto keptType = RankedTensorType::get(reducedShape(type, axes, true),
                                        type.getElementType());
  Value best = b.create<ReduceMaxOp>(loc, keptType, r, axes, true);
  best = broadcastBack(b, loc, best, type, axes, /*keepDims=*/true);
  Value first = compare(b, loc, ComparisonDirection::eq, r, best);
  Value g = broadcastBack(b, loc, resultGrads[0], type, axes, keep);
  operandGrads.push_back(select(b, loc, first, g, zero));
  return success();
}

//===----------------------------------------------------------------------===//
// Contraction
//===----------------------------------------------------------------------===//

/// C = op(A) op(B) with op(X) = X or X^T (last two axes) per flag; batch axes
/// map one to one. dop(A) = g op(B)^T, dop(B) = op(A)^T g, and a stored
/// transposed operand gets the transpose of that. Written with the matmul
/// flags, no kiln.transpose:
///   tA tB | dA                    | dB
///   0  0  | g B^T    (g, B; 0 1)  | A^T g    (A, g; 1 0)
///   0  1  | g B      (g, B; 0 0)  | g^T A    (g, A; 1 0)
///   1  0  | B g^T    (B, g; 0 1)  | A g      (A, g; 0 0)
///   1  1  | B^T g^T  (B, g; 1 1)  | g^T A^T  (g, A; 1 1)
LogicalResult MatmulOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                 SmallVectorImpl<Value> &operandGrads) {
  auto mm = *this;
  Location loc = getLoc();
  Value a = mm.getLhs(), bm = mm.getRhs(), g = resultGrads[0];
  bool tA = mm.getTransposeLhs(), tB = mm.getTransposeRhs();
  Value dA = tA ? b.create<MatmulOp>(loc, a.getType(), bm, g, tB, true)
                : b.create<MatmulOp>(loc, a.getType(), g, bm, false, !tB);
  Value dB = tB ? b.create<MatmulOp>(loc, bm.getType(), g, a, true, tA)
                : b.create<MatmulOp>(loc, bm.getType(), a, g, !tA, false);
  operandGrads.push_back(dA);
  operandGrads.push_back(dB);
  return success();
}

//===----------------------------------------------------------------------===//
// Shape ops (integer and i1 operands get no gradient)
//===----------------------------------------------------------------------===//

/// y = reshape(x): dx = reshape(g) to x's shape.
LogicalResult ReshapeOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                  SmallVectorImpl<Value> &operandGrads) {
  Value x = getInput();
  operandGrads.push_back(
      isFloatTensor(x)
          ? b.create<ReshapeOp>(getLoc(), x.getType(), resultGrads[0])
          : Value());
  return success();
}

/// y = transpose(x, perm), y.shape[i] = x.shape[perm[i]]: dx = transpose(g,
/// inverse(perm)).
LogicalResult TransposeOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                    SmallVectorImpl<Value> &operandGrads) {
  auto transpose = *this;
  Value x = transpose.getInput();
  if (!isFloatTensor(x)) {
    operandGrads.push_back(Value());
    return success();
  }
  ArrayRef<int64_t> perm = transpose.getPermutation();
  SmallVector<int64_t> inverse(perm.size());
  for (auto [i, p] : llvm::enumerate(perm))
    inverse[p] = static_cast<int64_t>(i);
  operandGrads.push_back(
      b.create<TransposeOp>(getLoc(), x.getType(), resultGrads[0], inverse));
  return success();
}

/// y = concat(x_0, ..., x_k; axis): dx_i = slice of g along axis at x_i's
/// offset.
LogicalResult ConcatOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                 SmallVectorImpl<Value> &operandGrads) {
  auto concat = *this;
  int64_t axis = static_cast<int64_t>(concat.getAxis());
  RankedTensorType gType = tensorType(resultGrads[0]);
  int64_t offset = 0;
  for (Value x : concat.getInputs()) {
    RankedTensorType xType = tensorType(x);
    SmallVector<int64_t> start(gType.getRank(), 0);
    SmallVector<int64_t> limit(gType.getShape());
    SmallVector<int64_t> strides(gType.getRank(), 1);
    start[axis] = offset;
    limit[axis] = offset + xType.getDimSize(axis);
    offset = limit[axis];
    operandGrads.push_back(
        isFloatTensor(x) ? b.create<SliceOp>(getLoc(), xType, resultGrads[0],
                                             start, limit, strides)
                         : Value());
  }
  return success();
}

/// y = gather(x, idx, axis): dx = scatter_add(g, idx, axis, size =
/// x.shape[axis]) (repeated indices accumulate); idx gets no gradient.
LogicalResult GatherOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                 SmallVectorImpl<Value> &operandGrads) {
  RankedTensorType xType = tensorType(getInput());
  operandGrads.push_back(b.create<ScatterAddOp>(getLoc(), xType, resultGrads[0],
                                                getIndices(), getAxis(),
                                                xType.getDimSize(getAxis())));
  operandGrads.push_back(Value());
  return success();
}

/// y = scatter_add(u, idx, axis, size) is linear in u: du = gather(g, idx,
/// axis); idx gets no gradient.
LogicalResult ScatterAddOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                     SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(b.create<GatherOp>(getLoc(), getUpdates().getType(),
                                            resultGrads[0], getIndices(),
                                            getAxis()));
  operandGrads.push_back(Value());
  return success();
}

/// y = x[start : limit : stride] (n = y's size per axis): dx = pad(g) with
/// zeros, low = start, interior = stride - 1, high = size - (start +
/// (n - 1) * stride + 1) (size - start when n = 0). As StableHLO.
LogicalResult SliceOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                SmallVectorImpl<Value> &operandGrads) {
  auto slice = *this;
  Value x = slice.getInput();
  if (!isFloatTensor(x)) {
    operandGrads.push_back(Value());
    return success();
  }
  RankedTensorType xType = tensorType(x), gType = tensorType(resultGrads[0]);
  SmallVector<int64_t> low, high, interior;
  for (int64_t d = 0; d < xType.getRank(); ++d) {
    int64_t start = slice.getStart()[d], stride = slice.getStrides()[d];
    int64_t n = gType.getDimSize(d);
    int64_t end = n > 0 ? start + (n - 1) * stride + 1 : start;
    low.push_back(start);
    interior.push_back(stride - 1);
    high.push_back(xType.getDimSize(d) - end);
  }
  operandGrads.push_back(b.create<PadOp>(getLoc(), xType, resultGrads[0], low,
                                         high, interior, APFloat(0.0)));
  return success();
}

/// y = pad(x; low, high, interior, value): dx = g[low : low + (n - 1) *
/// (interior + 1) + 1 : interior + 1] (n = x's size per axis). The padding
/// value is an attribute: no gradient.
LogicalResult PadOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                              SmallVectorImpl<Value> &operandGrads) {
  auto pad = *this;
  RankedTensorType xType = tensorType(pad.getInput());
  ArrayRef<int64_t> interior = pad.getInterior();
  SmallVector<int64_t> start, limit, strides;
  for (int64_t d = 0; d < xType.getRank(); ++d) {
    int64_t low = pad.getLow()[d];
    int64_t stride = (interior.empty() ? 0 : interior[d]) + 1;
    int64_t n = xType.getDimSize(d);
    start.push_back(low);
    limit.push_back(n > 0 ? low + (n - 1) * stride + 1 : low);
    strides.push_back(stride);
  }
  operandGrads.push_back(b.create<SliceOp>(getLoc(), xType, resultGrads[0],
                                           start, limit, strides));
  return success();
}

/// y = broadcast_in_dim(x, dims): dx = sum of g over the new axes and over
/// the operand axes of size 1 that were expanded (reduce_sum with kept
/// dims, then reshape to x's shape). A dense bias of [units] broadcast to
/// [2, 3, units] gets the sum over the 6 rows.
LogicalResult BroadcastInDimOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                         SmallVectorImpl<Value> &operandGrads) {
  auto broadcast = *this;
  Value x = broadcast.getOperand();
  if (!isFloatTensor(x)) {
    operandGrads.push_back(Value());
    return success();
  }
  Location loc = getLoc();
  RankedTensorType xType = tensorType(x), gType = tensorType(resultGrads[0]);
  ArrayRef<int64_t> dims = broadcast.getBroadcastDimensions();
  SmallVector<int64_t> axes;
  for (int64_t d = 0; d < gType.getRank(); ++d) {
    const int64_t *it = llvm::find(dims, d);
    if (it == dims.end()) {
      axes.push_back(d); // a new axis
      continue;
    }
    int64_t i = it - dims.begin();
    if (xType.getDimSize(i) == 1 && gType.getDimSize(d) != 1)
      axes.push_back(d); // an expanded size-1 axis
  }
  Value g = resultGrads[0];
  if (!axes.empty())
    g = reduceSum(b, loc, g, axes, /*keepDims=*/true);
  if (g.getType() != xType)
    g = b.create<ReshapeOp>(loc, xType, g);
  operandGrads.push_back(g);
  return success();
}

//===----------------------------------------------------------------------===//
// Normalized exponentials
//===----------------------------------------------------------------------===//

/// y = softmax(x) along axis: dx = y * (g - sum_axis(g * y)).
LogicalResult SoftmaxOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                  SmallVectorImpl<Value> &operandGrads) {
  auto softmax = *this;
  Location loc = getLoc();
  Value y = softmax.getResult(), g = resultGrads[0];
  int64_t axis = static_cast<int64_t>(softmax.getAxis());
  Value dot = sumAlong(b, loc, binary<MulOp>(b, loc, g, y), axis);
  operandGrads.push_back(
      binary<MulOp>(b, loc, y, binary<SubOp>(b, loc, g, dot)));
  return success();
}

/// y = log_softmax(x) along axis: dx = g - exp(y) * sum_axis(g).
LogicalResult LogSoftmaxOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                     SmallVectorImpl<Value> &operandGrads) {
  auto logSoftmax = *this;
  Location loc = getLoc();
  Value y = logSoftmax.getResult(), g = resultGrads[0];
  int64_t axis = static_cast<int64_t>(logSoftmax.getAxis());
  Value p = b.create<ExpOp>(loc, y.getType(), y);
  Value sum = sumAlong(b, loc, g, axis);
  operandGrads.push_back(
      binary<SubOp>(b, loc, g, binary<MulOp>(b, loc, p, sum)));
  return success();
}

//===----------------------------------------------------------------------===//
// Dropout
//===----------------------------------------------------------------------===//

/// y = keep(seed, counter, i) ? x / (1 - rate) : 0: dx = dropout(g) with the
/// same seed, rate and counter (the mask is a pure function of (seed,
/// counter, index), never of x). The counter gets no gradient.
LogicalResult DropoutOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                  SmallVectorImpl<Value> &operandGrads) {
  auto dropout = *this;
  operandGrads.push_back(b.create<DropoutOp>(
      getLoc(), dropout.getType(), resultGrads[0], dropout.getCounter(),
      dropout.getRateAttr(), dropout.getSeedAttr()));
  operandGrads.push_back(Value());
  return success();
}

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

namespace {
/// Keras' probability clipping epsilon, as in the loss lowering
/// (codegen/LowerLosses.cpp, kProbEpsilon).
constexpr double kProbEpsilon = 1e-7;

/// The batch-reduction factor of L = sum_n(w_n l_n) / sum_n(w_n) (0 when
/// sum(w) == 0), divided by J (the per-sample mean count), broadcast to
/// `shape`: c[n, ...] = g * w_n / (sum(w) * J), or 0 when sum(w) == 0.
Value sampleFactor(OpBuilder &b, Location loc, Value g, Value w,
                   RankedTensorType shape, int64_t count) {
  Value sumW = reduceSum(b, loc, w, {0}, /*keepDims=*/false); // rank 0
  Value zero = splatLike(b, loc, sumW, 0.0);
  Value isZero = compare(b, loc, ComparisonDirection::eq, sumW, zero);
  Value safe = select(b, loc, isZero, splatLike(b, loc, sumW, 1.0), sumW);
  if (count != 1)
    safe = binary<MulOp>(b, loc, safe,
                         splatLike(b, loc, sumW, static_cast<double>(count)));
  Value scale = binary<DivOp>(b, loc, g, safe);
  scale = select(b, loc, isZero, zero, scale);
  Value perSample = binary<MulOp>(
      b, loc, w, broadcastBack(b, loc, scale, tensorType(w), {0}, false));
  return b.create<BroadcastInDimOp>(loc, shape, perSample,
                                    ArrayRef<int64_t>{0});
}

/// 1 where lo <= x <= hi (clip passes the gradient), else 0, as a mask.
Value insideClip(OpBuilder &b, Location loc, Value x) {
  Value lo = splatLike(b, loc, x, kProbEpsilon);
  Value hi = splatLike(b, loc, x, 1.0 - kProbEpsilon);
  Value zero = splatLike(b, loc, x, 0.0), one = splatLike(b, loc, x, 1.0);
  Value geLo = select(b, loc, compare(b, loc, ComparisonDirection::ge, x, lo),
                      one, zero);
  return select(b, loc, compare(b, loc, ComparisonDirection::le, x, hi), geLo,
                zero);
}

/// clip(x, eps, 1 - eps) with kiln.maximum/minimum.
Value clipProb(OpBuilder &b, Location loc, Value x) {
  Value lo = binary<MaximumOp>(b, loc, x, splatLike(b, loc, x, kProbEpsilon));
  return binary<MinimumOp>(b, loc, lo,
                           splatLike(b, loc, x, 1.0 - kProbEpsilon));
}

/// d/dq of -sum_c y_c log(clip(q_c)): -y_c / clip(q_c) inside the clip
/// range, 0 outside.
Value crossEntropyProbGrad(OpBuilder &b, Location loc, Value q, Value y) {
  Value d = binary<DivOp>(b, loc, y, clipProb(b, loc, q));
  d = b.create<NegOp>(loc, d.getType(), d);
  return binary<MulOp>(b, loc, d, insideClip(b, loc, q));
}

/// Per-sample derivative dl/dp (before the batch factor and 1/J) of the
/// categorical cross-entropy over the last axis, dense labels y.
///   logits: l = logsumexp(z) sum_c y_c - sum_c y_c z_c
///           dl/dz = softmax(z) * sum_c(y_c) - y
///   probs:  q = p / S, S = sum_c p_c; l = -sum_c y_c log(clip(q_c))
///           dl/dq_c = -y_c / q_c inside the clip range (0 outside)
///           dl/dp_k = (dl/dq_k - sum_c dl/dq_c q_c) / S
Value categoricalGrad(OpBuilder &b, Location loc, Value p, Value y,
                      bool fromLogits) {
  int64_t last = tensorType(p).getRank() - 1;
  if (fromLogits) {
    Value s =
        b.create<SoftmaxOp>(loc, p.getType(), p, static_cast<uint64_t>(last));
    return binary<SubOp>(
        b, loc, binary<MulOp>(b, loc, s, sumAlong(b, loc, y, last)), y);
  }
  Value sum = sumAlong(b, loc, p, last);
  Value q = binary<DivOp>(b, loc, p, sum);
  Value dq = crossEntropyProbGrad(b, loc, q, y);
  Value dot = sumAlong(b, loc, binary<MulOp>(b, loc, dq, q), last);
  return binary<DivOp>(b, loc, binary<SubOp>(b, loc, dq, dot), sum);
}

/// one_hot(labels) over the last axis of `pType` (iota of the label type +
/// compare eq + select); out-of-range labels give a zero row.
Value oneHot(OpBuilder &b, Location loc, Value labels, RankedTensorType pType) {
  int64_t last = pType.getRank() - 1;
  auto intType = RankedTensorType::get(pType.getShape(),
                                       tensorType(labels).getElementType());
  Value iota = b.create<IotaOp>(loc, intType, static_cast<uint64_t>(last));
  SmallVector<int64_t> dims(last);
  std::iota(dims.begin(), dims.end(), 0);
  Value lb = b.create<BroadcastInDimOp>(loc, intType, labels, dims);
  Value hit = compare(b, loc, ComparisonDirection::eq, iota, lb);
  return select(b, loc, hit, splat(b, loc, pType, 1.0),
                splat(b, loc, pType, 0.0));
}

/// L = sum_n(w_n l_n) / sum_n(w_n), l_n = mean over J positions of the
/// per-element loss t (forms of codegen/LowerLosses.cpp):
///   dL/dp = g * w_n / (sum(w) J) * dt/dp   (0 when sum(w) == 0)
/// with J the non-batch size (MSE, MAE, BCE) or the size of the axes
/// between batch and class (categorical, sparse). Per-element dt/dp:
///   MSE          2 (p - y)
///   MAE          sign(p - y)                         (0 at p == y)
///   BCE logits   sigmoid(z) - y
///   BCE probs    (pc - y) / (pc (1 - pc)), pc = clip(p), 0 outside the clip
///   categorical  categoricalGrad
///   sparse       logits: softmax(z) - one_hot(label); probs: -1/pc at the
///                label inside the clip range, no renormalization.
/// Labels and sample weights are data: null gradients.
template <typename OpTy>
LogicalResult buildLossVJP(OpTy loss, OpBuilder &b, ValueRange resultGrads,
                           SmallVectorImpl<Value> &operandGrads) {
  Operation *op = loss.getOperation();
  Location loc = op->getLoc();
  Value p = loss.getPredictions(), y = loss.getLabels();
  RankedTensorType pType = tensorType(p);
  int64_t rank = pType.getRank();
  SmallVector<int64_t> meanAxes;
  Value d;
  if constexpr (std::is_same_v<OpTy, MeanSquaredErrorOp>) {
    d = binary<MulOp>(b, loc, splatLike(b, loc, p, 2.0),
                      binary<SubOp>(b, loc, p, y));
  } else if constexpr (std::is_same_v<OpTy, MeanAbsoluteErrorOp>) {
    Value one = splatLike(b, loc, p, 1.0), zero = splatLike(b, loc, p, 0.0);
    Value neg = select(b, loc, compare(b, loc, ComparisonDirection::lt, p, y),
                       splatLike(b, loc, p, -1.0), zero);
    d = select(b, loc, compare(b, loc, ComparisonDirection::gt, p, y), one,
               neg);
  } else if constexpr (std::is_same_v<OpTy, BinaryCrossentropyOp>) {
    if (loss.getFromLogits()) {
      d = binary<SubOp>(b, loc, b.create<SigmoidOp>(loc, p.getType(), p), y);
    } else {
      Value pc = clipProb(b, loc, p);
      Value one = splatLike(b, loc, p, 1.0);
      Value den = binary<MulOp>(b, loc, pc, binary<SubOp>(b, loc, one, pc));
      d = binary<DivOp>(b, loc, binary<SubOp>(b, loc, pc, y), den);
      d = binary<MulOp>(b, loc, d, insideClip(b, loc, p));
    }
  } else if constexpr (std::is_same_v<OpTy, CategoricalCrossentropyOp>) {
    if (rank < 2)
      return op->emitError("kiln-derive-gradients: categorical_crossentropy "
                           "needs a class axis after the batch axis");
    d = categoricalGrad(b, loc, p, y, loss.getFromLogits());
  } else {
    static_assert(std::is_same_v<OpTy, SparseCategoricalCrossentropyOp>);
    Value hot = oneHot(b, loc, y, pType);
    if (loss.getFromLogits()) {
      // softmax(z) - one_hot (the one-hot row sums to 1).
      Value s = b.create<SoftmaxOp>(loc, p.getType(), p,
                                    static_cast<uint64_t>(rank - 1));
      d = binary<SubOp>(b, loc, s, hot);
    } else {
      d = crossEntropyProbGrad(b, loc, p, hot);
    }
  }
  constexpr bool classAxis =
      std::is_same_v<OpTy, CategoricalCrossentropyOp> ||
      std::is_same_v<OpTy, SparseCategoricalCrossentropyOp>;
  for (int64_t a = 1; a < (classAxis ? rank - 1 : rank); ++a)
    meanAxes.push_back(a);
  Value factor = sampleFactor(b, loc, resultGrads[0], loss.getSampleWeight(),
                              pType, countOver(pType, meanAxes));
  operandGrads.push_back(binary<MulOp>(b, loc, factor, d));
  operandGrads.push_back(Value()); // labels: data
  operandGrads.push_back(Value()); // sample weights: data
  return success();
}

} // namespace

LogicalResult
MeanSquaredErrorOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                             SmallVectorImpl<Value> &operandGrads) {
  return buildLossVJP(*this, b, resultGrads, operandGrads);
}
LogicalResult
MeanAbsoluteErrorOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                              SmallVectorImpl<Value> &operandGrads) {
  return buildLossVJP(*this, b, resultGrads, operandGrads);
}
LogicalResult
BinaryCrossentropyOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                               SmallVectorImpl<Value> &operandGrads) {
  return buildLossVJP(*this, b, resultGrads, operandGrads);
}
LogicalResult
CategoricalCrossentropyOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                    SmallVectorImpl<Value> &operandGrads) {
  return buildLossVJP(*this, b, resultGrads, operandGrads);
}
LogicalResult SparseCategoricalCrossentropyOp::buildVJP(
    OpBuilder &b, ValueRange resultGrads,
    SmallVectorImpl<Value> &operandGrads) {
  return buildLossVJP(*this, b, resultGrads, operandGrads);
}

//===----------------------------------------------------------------------===//
// Convolution and pooling
//
// The three convolution ops are closed under VJPs: each operand gradient is
// one of kiln.conv (C), kiln.conv_transpose (T) and kiln.conv_filter_grad (F)
// with the same window attributes. Pooling gradients are the *_grad ops.
//===----------------------------------------------------------------------===//

namespace {
/// Creates an op of type OpTy with `op`'s attributes (the window attributes
/// are shared by each family) on `operands`, returning `type`.
template <typename OpTy>
Value createLike(OpBuilder &b, Operation *op, Type type, ValueRange operands) {
  return b.create<OpTy>(op->getLoc(), TypeRange{type}, operands,
                        op->getAttrs());
}
} // namespace

/// y = C(x, w): dx = T(g, w), dw = F(x, g).
LogicalResult ConvOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                               SmallVectorImpl<Value> &operandGrads) {
  Value x = getInput(), w = getFilter(), g = resultGrads[0];
  operandGrads.push_back(
      createLike<ConvTransposeOp>(b, *this, x.getType(), {g, w}));
  operandGrads.push_back(
      createLike<ConvFilterGradOp>(b, *this, w.getType(), {x, g}));
  return success();
}

/// z = T(y, w): dy = C(g, w), dw = F(g, y).
LogicalResult ConvTransposeOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                        SmallVectorImpl<Value> &operandGrads) {
  Value y = getInput(), w = getFilter(), g = resultGrads[0];
  operandGrads.push_back(createLike<ConvOp>(b, *this, y.getType(), {g, w}));
  operandGrads.push_back(
      createLike<ConvFilterGradOp>(b, *this, w.getType(), {g, y}));
  return success();
}

/// dw = F(x, dy): dx = T(dy, g), d(dy) = C(x, g).
LogicalResult ConvFilterGradOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                         SmallVectorImpl<Value> &operandGrads) {
  Value x = getInput(), dy = getOutputGrad(), g = resultGrads[0];
  operandGrads.push_back(
      createLike<ConvTransposeOp>(b, *this, x.getType(), {dy, g}));
  operandGrads.push_back(createLike<ConvOp>(b, *this, dy.getType(), {x, g}));
  return success();
}

/// y = max_pool(x): dx = max_pool_grad(x, g), which routes each window's
/// gradient to its first maximum.
LogicalResult MaxPoolOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                  SmallVectorImpl<Value> &operandGrads) {
  Value x = getInput();
  operandGrads.push_back(
      createLike<MaxPoolGradOp>(b, *this, x.getType(), {x, resultGrads[0]}));
  return success();
}

/// Second derivatives of max pooling are not supported.
LogicalResult MaxPoolGradOp::buildVJP(OpBuilder &, ValueRange,
                                      SmallVectorImpl<Value> &) {
  return emitOpError("has no VJP rule: second derivatives of max pooling are "
                     "not supported");
}

/// y = avg_pool(x) is linear: dx = avg_pool_grad(g), its adjoint.
LogicalResult AvgPoolOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                  SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(createLike<AvgPoolGradOp>(
      b, *this, getInput().getType(), {resultGrads[0]}));
  return success();
}

/// dx = avg_pool_grad(dy) is the adjoint of avg_pool: d(dy) = avg_pool(g).
LogicalResult AvgPoolGradOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                      SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(createLike<AvgPoolOp>(
      b, *this, getOutputGrad().getType(), {resultGrads[0]}));
  return success();
}
